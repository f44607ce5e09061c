// SPDX-License-Identifier: Apache-2.0
/** The IAM token store (bounded, expiring) and the permission globs of the authenticator. */
import assert from 'node:assert/strict';

import { permissionGlob } from '../../lib/local/auth';
import { secretDigest, TokenStore } from '../../lib/local/iam';

describe('local endpoint: IAM token store', function () {
  it('verifies live tokens, expires them after the lifetime and removes them', function () {
    const store = new TokenStore(10);
    const t0 = 1_000_000;
    const issued = store.issue('key-a', t0);
    assert.equal(issued.expires_in, 10);
    assert.equal(issued.expiration, Math.floor((t0 + 10_000) / 1000));
    const digest = secretDigest(issued.access_token);
    assert.equal(store.verify(digest, t0 + 9_999), 'key-a');
    assert.equal(store.verify(digest, t0 + 10_000), undefined);
    assert.equal(store.size, 0);
    assert.equal(store.verify(secretDigest('never-issued'), t0), undefined);
  });

  it('is bounded: past the cap the oldest tokens are dropped, and expired ones are purged on issue', function () {
    const store = new TokenStore(10, 3);
    const tokens = [0, 1, 2, 3].map((i) => store.issue(`k${i}`, 1000 + i).access_token);
    assert.equal(store.size, 3);
    assert.equal(store.verify(secretDigest(tokens[0]!), 1005), undefined);
    assert.equal(store.verify(secretDigest(tokens[3]!), 1005), 'k3');
    store.issue('late', 60_000);
    assert.equal(store.size, 1);
  });

  it('issues distinct opaque tokens', function () {
    const store = new TokenStore(60);
    const a = store.issue('k').access_token;
    const b = store.issue('k').access_token;
    assert.notEqual(a, b);
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
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
