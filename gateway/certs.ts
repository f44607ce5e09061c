// SPDX-License-Identifier: Apache-2.0
/**
 * A local certificate authority for the local endpoint and the tests.
 *
 * Node can verify certificates but cannot build them, so X.509 structures come from node-forge
 * (pure JavaScript, no transitive dependencies). RSA keys are generated with Node's native
 * crypto because forge's own key generation takes seconds.
 */
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';

import forge from 'node-forge';

export interface KeyPairPem {
  cert: string;
  key: string;
}

export interface IssueOptions {
  commonName: string;
  /** DNS names and IP addresses for subjectAltName. */
  hostnames?: string[];
  /** A client certificate (extendedKeyUsage clientAuth) instead of a server one. */
  client?: boolean;
  /** Default: one hour ago (tolerates small clock skew). */
  validFrom?: Date;
  /** Default 825 days (the longest lifetime Apple and browsers accept for server certificates). */
  validDays?: number;
}

export interface LocalCertificates {
  ca: KeyPairPem;
  server: KeyPairPem;
  caFile: string;
  certFile: string;
  keyFile: string;
}

const DEFAULT_HOSTNAMES = ['localhost', '127.0.0.1', '::1'];

function newRsaKey(): forge.pki.rsa.PrivateKey {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
}

function serial(): string {
  // Positive, 16 bytes: the high bit is cleared so DER does not read it as negative.
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, from: Date | undefined, days: number): void {
  const notBefore = from ?? new Date(Date.now() - 60 * 60 * 1000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + days * 24 * 60 * 60 * 1000);
}

/** A new self-signed CA. */
export function generateCa(
  commonName = 'event-streams-local CA',
  validDays = 3650,
  validFrom?: Date,
): KeyPairPem {
  const key = newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serial();
  validity(cert, validFrom, validDays);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(key) };
}

/** A server (default) or client certificate signed by `ca`. */
export function issueCertificate(ca: KeyPairPem, options: IssueOptions): KeyPairPem {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const key = newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serial();
  validity(cert, options.validFrom, options.validDays ?? 825);
  cert.setSubject([{ name: 'commonName', value: options.commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = (options.hostnames ?? []).map((h) =>
    isIP(h) ? { type: 7, ip: h } : { type: 2, value: h },
  );
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: !options.client, clientAuth: Boolean(options.client) },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  cert.setExtensions(extensions);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(key) };
}

/** A PKCS#12 bundle of a certificate and key (for `pfx` + `passphrase` tests and users). */
export function toPkcs12(pair: KeyPairPem, passphrase: string, caCert?: string): Buffer {
  const chain = [forge.pki.certificateFromPem(pair.cert)];
  if (caCert) chain.push(forge.pki.certificateFromPem(caCert));
  const p12 = forge.pkcs12.toPkcs12Asn1(forge.pki.privateKeyFromPem(pair.key), chain, passphrase, {
    algorithm: '3des',
  });
  return Buffer.from(forge.asn1.toDer(p12).getBytes(), 'binary');
}

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function coversHostnames(certPem: string, hostnames: string[]): boolean {
  const x509 = new X509Certificate(certPem);
  if (new Date(x509.validTo).getTime() < Date.now() + 24 * 60 * 60 * 1000) return false;
  return hostnames.every((h) => (isIP(h) ? x509.checkIP(h) !== undefined : x509.checkHost(h) !== undefined));
}

/**
 * The CA and server certificate in `stateDir`, created on first use and reused afterwards so
 * that users trust the CA once. The server certificate is re-issued (by the same CA) when it is
 * close to expiry or does not cover a requested hostname.
 */
export async function ensureLocalCertificates(
  stateDir: string,
  hostnames: string[] = [],
): Promise<LocalCertificates> {
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const caFile = path.join(stateDir, 'ca.pem');
  const caKeyFile = path.join(stateDir, 'ca-key.pem');
  const certFile = path.join(stateDir, 'server.pem');
  const keyFile = path.join(stateDir, 'server-key.pem');
  const names = [...new Set([...DEFAULT_HOSTNAMES, ...hostnames])];

  let caCert = await readIfPresent(caFile);
  let caKey = await readIfPresent(caKeyFile);
  let renewServer = false;
  if (!caCert || !caKey) {
    const ca = generateCa();
    caCert = ca.cert;
    caKey = ca.key;
    await fs.writeFile(caKeyFile, caKey, { mode: 0o600 });
    await fs.writeFile(caFile, caCert, { mode: 0o644 });
    renewServer = true;
  }
  const ca = { cert: caCert, key: caKey };

  let serverCert = await readIfPresent(certFile);
  let serverKey = await readIfPresent(keyFile);
  if (renewServer || !serverCert || !serverKey || !coversHostnames(serverCert, names)) {
    const server = issueCertificate(ca, { commonName: names[0] ?? 'localhost', hostnames: names });
    serverCert = server.cert;
    serverKey = server.key;
    await fs.writeFile(keyFile, serverKey, { mode: 0o600 });
    await fs.writeFile(certFile, serverCert, { mode: 0o644 });
  }
  return { ca, server: { cert: serverCert, key: serverKey }, caFile, certFile, keyFile };
}
