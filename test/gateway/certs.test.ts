// SPDX-License-Identifier: Apache-2.0
/**
 * The local CA: certificates OpenSSL can always load, and stored ones that cannot be used
 * (damaged, or written by an earlier version) replaced instead of keeping the endpoint down.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createSecureContext } from 'node:tls';

import forge from 'node-forge';

import { ensureLocalCertificates, generateCa, issueCertificate, serialNumber } from '../../gateway/certs';
import { startLocalEndpoint } from '../../gateway/server';
import { Client, removeDir, tempDir } from './util';

/** A self-signed certificate with the serial given as hex, as node-forge writes it. */
function forgeCertificate(serialHex: string): string {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const key = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serialHex;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: 'serial-test' }]);
  cert.setIssuer([{ name: 'commonName', value: 'serial-test' }]);
  cert.sign(key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** The serial's content octets as written in the certificate's DER. */
function derSerial(pem: string): string {
  const tbs = forge.asn1.fromDer(forge.pem.decode(pem)[0]!.body).value[0] as forge.asn1.Asn1;
  const serial = (tbs.value as forge.asn1.Asn1[])[1]!;
  return forge.util.bytesToHex(serial.value as string);
}

const loads = (pem: string): boolean => {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
};

describe('local CA: certificates', function () {
  this.timeout(60_000);

  it('serial numbers are positive and minimally encoded whatever the random bytes', function () {
    // 00 00 11 … is the case node-forge encodes badly (it strips one leading zero byte only):
    // OpenSSL then refuses the certificate with "illegal padding". About 1 serial in 65,536 did.
    const worst = [
      Buffer.alloc(16),
      Buffer.alloc(16, 0xff),
      Buffer.from('0000110000000000000000000000000f', 'hex'),
    ];
    const oldScheme = (b: Buffer): string => Buffer.from([b[0]! & 0x7f, ...b.subarray(1)]).toString('hex');
    assert.equal(
      loads(forgeCertificate(oldScheme(worst[2]!))),
      false,
      'the old serial scheme is refused by OpenSSL',
    );
    for (const random of worst) {
      const hex = serialNumber(random);
      assert.match(hex, /^[4-7][0-9a-f]{31}$/);
      const pem = forgeCertificate(hex);
      assert.equal(derSerial(pem), hex, 'written in full, no byte stripped or added');
      assert.equal(loads(pem), true);
    }
  });

  it('issues a CA, a server and a client certificate that OpenSSL loads, with their keys', function () {
    const ca = generateCa('certs-test CA');
    const server = issueCertificate(ca, { commonName: 'localhost', hostnames: ['localhost', '127.0.0.1'] });
    const client = issueCertificate(ca, { commonName: 'certs-test-client', client: true });
    const caX509 = new X509Certificate(ca.cert);
    assert.equal(caX509.ca, true);
    for (const pair of [server, client]) {
      const x509 = new X509Certificate(pair.cert);
      assert.equal(x509.verify(caX509.publicKey), true);
      assert.equal(x509.checkPrivateKey(createPrivateKey(pair.key)), true);
      createSecureContext({ ca: ca.cert, cert: pair.cert, key: pair.key });
    }
  });
});

describe('local CA: stored certificates that cannot be used', function () {
  this.timeout(60_000);

  const files = (dir: string): Record<string, string> =>
    Object.fromEntries(
      ['ca.pem', 'ca-key.pem', 'server.pem', 'server-key.pem'].map((f) => [
        f,
        fs.readFileSync(path.join(dir, f), 'utf8'),
      ]),
    );

  it('keeps a usable state directory as it is, without a log line', async function () {
    const dir = tempDir();
    try {
      await ensureLocalCertificates(dir);
      const before = files(dir);
      const lines: string[] = [];
      await ensureLocalCertificates(dir, [], (line) => lines.push(line));
      assert.deepEqual(files(dir), before);
      assert.deepEqual(lines, []);
    } finally {
      removeDir(dir);
    }
  });

  it('sets aside a CA an earlier version wrote with a bad serial, makes a new one, and the endpoint serves with it', async function () {
    const dir = tempDir();
    try {
      await ensureLocalCertificates(dir);
      const old = files(dir);
      // What the old serial scheme wrote 1 time in 65,536: a CA OpenSSL cannot load.
      const unloadable = forgeCertificate('00001100000000000000000000000000');
      fs.writeFileSync(path.join(dir, 'ca.pem'), unloadable);
      const lines: string[] = [];
      const ep = await startLocalEndpoint({ port: 0, stateDir: dir, log: (l) => lines.push(l) });
      try {
        const now = files(dir);
        assert.notEqual(now['ca.pem'], unloadable);
        assert.notEqual(now['ca-key.pem'], old['ca-key.pem']);
        assert.notEqual(now['server.pem'], old['server.pem']);
        assert.equal(fs.readFileSync(path.join(dir, 'ca.pem.unusable'), 'utf8'), unloadable);
        assert.equal(fs.readFileSync(path.join(dir, 'ca-key.pem.unusable'), 'utf8'), old['ca-key.pem']);
        const line = lines.find((l) => l.includes('ca.pem'));
        assert.match(line ?? '', /the CA in .*ca\.pem cannot be used \(.*illegal padding\).*made a new one/);
        assert.equal(ep.caPem, now['ca.pem']);
        // Verified TLS against the new CA.
        const c = new Client(ep);
        assert.equal((await c.req('GET', '/alive', { auth: false })).status, 200);
        await c.close();
      } finally {
        await ep.stop();
      }
    } finally {
      removeDir(dir);
    }
  });

  it('replaces a truncated CA key (a disk that filled mid-write)', async function () {
    const dir = tempDir();
    try {
      await ensureLocalCertificates(dir);
      const old = files(dir);
      const keyFile = path.join(dir, 'ca-key.pem');
      fs.writeFileSync(keyFile, old['ca-key.pem']!.slice(0, 300));
      const lines: string[] = [];
      const certs = await ensureLocalCertificates(dir, [], (l) => lines.push(l));
      assert.notEqual(certs.ca.cert, old['ca.pem']);
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /the CA in .* cannot be used/);
      assert.doesNotMatch(lines[0]!, /PRIVATE KEY|MII/, 'no key material in the log');
      createSecureContext({ ca: certs.ca.cert, cert: certs.server.cert, key: certs.server.key });
      assert.equal(
        new X509Certificate(certs.server.cert).verify(new X509Certificate(certs.ca.cert).publicKey),
        true,
      );
    } finally {
      removeDir(dir);
    }
  });

  it('re-issues a server certificate whose key does not match, keeping the CA', async function () {
    const dir = tempDir();
    try {
      await ensureLocalCertificates(dir);
      const old = files(dir);
      const other = issueCertificate(generateCa('another CA'), { commonName: 'localhost' });
      fs.writeFileSync(path.join(dir, 'server-key.pem'), other.key);
      const lines: string[] = [];
      const certs = await ensureLocalCertificates(dir, [], (l) => lines.push(l));
      assert.equal(certs.ca.cert, old['ca.pem'], 'clients keep trusting the same CA');
      assert.notEqual(certs.server.cert, old['server.pem']);
      assert.equal(lines.length, 1);
      assert.match(
        lines[0]!,
        /the server certificate in .*server\.pem cannot be used \(its key does not match it\)/,
      );
      assert.equal(fs.readFileSync(path.join(dir, 'server-key.pem.unusable'), 'utf8'), other.key);
      createSecureContext({ ca: certs.ca.cert, cert: certs.server.cert, key: certs.server.key });
    } finally {
      removeDir(dir);
    }
  });
});
