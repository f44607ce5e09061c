// SPDX-License-Identifier: Apache-2.0
/** The signed IAM tokens (self-contained, verifiable by any instance) and the permission globs. */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';

import { permissionGlob } from '../../gateway/auth';
import { TokenStore } from '../../gateway/iam';

describe('local endpoint: signed IAM tokens', function () {
  it('with a signing key: RS256 JWTs as IBM IAM issues them, verified with the published JWKS, by every instance with the same keys', function () {
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    const a = new TokenStore(60, ['k1', 'k2'], { privateKeyPem: pem });
    const b = new TokenStore(60, ['k2', 'k1'], { privateKeyPem: pem });
    const t0 = Date.now();
    const token = a.issue('k2', t0).access_token;
    const [h, c, sig] = token.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(header.alg, 'RS256');
    assert.equal(claims.iss, 'https://iam.cloud.ibm.com/identity');
    assert.equal(claims.exp, Math.floor((t0 + 60_000) / 1000));
    assert.equal(typeof claims.iat, 'number');
    assert.equal(typeof claims.sub, 'string');
    assert.ok(!token.includes('k2.'), 'the key is not in the token');
    // What a broker does: the key from the JWKS by kid, then the signature.
    const jwk = a.jwks().keys.find((k) => k.kid === header.kid)!;
    assert.deepEqual(b.jwks(), a.jwks());
    const pub = createPublicKey({ key: jwk as never, format: 'jwk' });
    assert.ok(verify('sha256', Buffer.from(`${h}.${c}`), pub, Buffer.from(sig, 'base64url')));
    assert.equal(b.verify(token, t0 + 1000), 'k2');
    assert.equal(b.verify(token, t0 + 60_000), undefined, 'expired');
    assert.equal(b.verify(`${h}.${c}.${sig.slice(0, -4)}AAAA`, t0), undefined, 'bad signature');
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'ServiceId-other' })).toString('base64url');
    assert.equal(b.verify(`${h}.${forged}.${sig}`, t0), undefined, 'changed claims');
    assert.deepEqual(new TokenStore(60, ['k1']).jwks(), { keys: [] });
  });

  it('verifies live tokens, names the key they were issued for and expires them', function () {
    const store = new TokenStore(10, ['key-a', 'key-b']);
    const t0 = 1_000_000;
    const issued = store.issue('key-b', t0);
    assert.equal(issued.expires_in, 10);
    assert.equal(issued.expiration, Math.floor((t0 + 10_000) / 1000));
    assert.equal(store.verify(issued.access_token, t0 + 9_999), 'key-b');
    assert.equal(store.verify(issued.access_token, t0 + 10_000), undefined);
    assert.equal(store.verify('never-issued', t0), undefined);
    assert.ok(!issued.access_token.includes('key-b'), 'the key is not in the token');
  });

  it('is verified by another instance with the same keys (in any order), and by no other', function () {
    const a = new TokenStore(60, ['k1', 'k2']);
    const b = new TokenStore(60, ['k2', 'k1']);
    const other = new TokenStore(60, ['k1', 'k2', 'k3']);
    const token = a.issue('k1').access_token;
    assert.equal(b.verify(token), 'k1');
    assert.equal(other.verify(token), undefined);
  });

  it('refuses tampered tokens: another expiry, another key id, a cut signature', function () {
    const store = new TokenStore(60, ['k1', 'k2']);
    const t0 = 5_000_000;
    const token = store.issue('k1', t0).access_token;
    const [v, kid, exp, nonce, sig] = token.split('.');
    const later = (parseInt(exp!, 36) + 1_000_000).toString(36);
    const kid2 = store.issue('k2', t0).access_token.split('.')[1];
    for (const bad of [
      [v, kid, later, nonce, sig].join('.'),
      [v, kid2, exp, nonce, sig].join('.'),
      [v, kid, exp, nonce, sig!.slice(0, -2)].join('.'),
      [v, kid, exp, nonce].join('.'),
      `${token}x`,
    ]) {
      assert.equal(store.verify(bad, t0), undefined, bad);
    }
  });

  it('issues distinct opaque tokens, and nothing is stored however many are issued', function () {
    const store = new TokenStore(60, ['k']);
    const a = store.issue('k').access_token;
    const b = store.issue('k').access_token;
    assert.notEqual(a, b);
    assert.match(a, /^ES1\.[A-Za-z0-9_-]+\.[0-9a-z]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    for (let i = 0; i < 20_000; i++) store.issue('k');
    // The first token still works: there is no table to evict it from.
    assert.equal(store.verify(a), 'k');
  });
});

describe('local endpoint: topic globs', function () {
  const cases: Array<[string, string, boolean]> = [
    ['orders-*', 'orders-eu', true],
    ['orders-*', 'orders-', true],
    ['orders-*', 'xorders-eu', false],
    ['*', 'anything', true],
    ['a.b', 'a.b', true],
    ['a.b', 'axb', false],
    ['t?x', 't1x', true],
    ['t?x', 'tx', false],
    ['*-dlq', 'orders-dlq', true],
  ];
  for (const [glob, name, expected] of cases) {
    it(`'${glob}' ${expected ? 'matches' : 'does not match'} '${name}'`, function () {
      assert.equal(permissionGlob(glob)(name), expected);
    });
  }
});

describe('local endpoint: permission globs are checked at start', function () {
  it('refuses a permission that is not a glob of topic-name characters', function () {
    assert.throws(() => permissionGlob('t(1)'), /Invalid topic permission/);
    assert.throws(() => permissionGlob('/^a.*$/'), /Invalid topic permission/);
  });
});
