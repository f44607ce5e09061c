// SPDX-License-Identifier: Apache-2.0
/**
 * A local certificate authority for the local endpoint and the tests.
 *
 * Node can verify certificates but cannot build them, so X.509 structures come from node-forge
 * (pure JavaScript, no transitive dependencies). RSA keys are generated with Node's native
 * crypto because forge's own key generation takes seconds.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
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
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

function newRsaKey(): forge.pki.rsa.PrivateKey {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
}

/**
 * A certificate serial number (hex) from 16 random bytes: positive, and minimally encoded as DER
 * whatever the bytes. The first byte is kept in 0x40-0x7f (126 random bits remain): a clear high
 * bit keeps DER from reading it as negative, a set 0x40 bit keeps it from starting with zero
 * bytes. node-forge strips only one leading zero byte from an INTEGER, so a serial that began
 * `00 00 <0x80` (1 in 65,536) came out non-minimal, and OpenSSL 3 refuses such a certificate
 * ("asn1 encoding routines::illegal padding") wherever it loads it.
 */
export function serialNumber(random: Buffer = randomBytes(16)): string {
  const bytes = Buffer.from(random.subarray(0, 16));
  bytes[0] = 0x40 | (bytes[0]! & 0x3f);
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, from: Date | undefined, days: number): void {
  const notBefore = from ?? new Date(Date.now() - HOUR_MS);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + days * DAY_MS);
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
  cert.serialNumber = serialNumber();
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
  cert.serialNumber = serialNumber();
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

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A stored certificate with its key, or why the two cannot be used together. */
function loadPair(certPem: string, keyPem: string): X509Certificate | string {
  try {
    const x509 = new X509Certificate(certPem);
    return x509.checkPrivateKey(createPrivateKey(keyPem)) ? x509 : 'its key does not match it';
  } catch (err) {
    return reason(err);
  }
}

const expiresWithinADay = (x509: X509Certificate): boolean =>
  new Date(x509.validTo).getTime() < Date.now() + DAY_MS;

/** A stored CA that can sign for the endpoint, or why it cannot. */
function loadCa(certPem: string, keyPem: string): X509Certificate | string {
  const ca = loadPair(certPem, keyPem);
  if (typeof ca === 'string') return ca;
  if (!ca.ca) return 'it is not a CA certificate';
  return expiresWithinADay(ca) ? 'it expires within a day' : ca;
}

/**
 * Why a stored server certificate must be re-issued, or undefined when it serves. `damaged` tells
 * a file that cannot serve at all (unreadable, key or CA mismatch) from one that is merely due.
 */
function serverProblem(
  certPem: string,
  keyPem: string,
  ca: X509Certificate,
  hostnames: string[],
): { damaged: boolean; why: string } | undefined {
  const x509 = loadPair(certPem, keyPem);
  if (typeof x509 === 'string') return { damaged: true, why: x509 };
  if (!x509.verify(ca.publicKey)) return { damaged: true, why: 'the CA did not sign it' };
  if (expiresWithinADay(x509)) return { damaged: false, why: 'it expires within a day' };
  const missing = hostnames.find((h) => (isIP(h) ? x509.checkIP(h) : x509.checkHost(h)) === undefined);
  return missing === undefined ? undefined : { damaged: false, why: `it does not cover ${missing}` };
}

/** The suffix an unusable stored certificate and key are renamed to, so nothing a user put there is lost. */
const SET_ASIDE = '.unusable';

async function setAside(...files: string[]): Promise<void> {
  for (const file of files) await fs.rename(file, `${file}${SET_ASIDE}`);
}

/**
 * The CA and server certificate in `stateDir`, created on first use and reused afterwards so
 * that users trust the CA once. The server certificate is re-issued (by the same CA) when it is
 * close to expiry, does not cover a requested hostname, or cannot be used. A stored CA that
 * cannot be used (a damaged file, a flipped bit on an SD card, a key that does not match, an
 * expired CA) is renamed aside and replaced, with a log line: no TLS client can verify the
 * endpoint with it any more, and refusing to start would leave the endpoint down for good.
 */
export async function ensureLocalCertificates(
  stateDir: string,
  hostnames: string[] = [],
  log: (line: string) => void = () => undefined,
): Promise<LocalCertificates> {
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const caFile = path.join(stateDir, 'ca.pem');
  const caKeyFile = path.join(stateDir, 'ca-key.pem');
  const certFile = path.join(stateDir, 'server.pem');
  const keyFile = path.join(stateDir, 'server-key.pem');
  const names = [...new Set([...DEFAULT_HOSTNAMES, ...hostnames])];

  const caCert = await readIfPresent(caFile);
  const caKey = await readIfPresent(caKeyFile);
  const stored = caCert && caKey ? loadCa(caCert, caKey) : undefined;
  if (typeof stored === 'string') {
    await setAside(caFile, caKeyFile);
    log(
      `local endpoint: the CA in ${caFile} cannot be used (${stored}); kept it as ${caFile}${SET_ASIDE} and made a new one, which clients must now trust`,
    );
  }
  const keptCa = stored instanceof X509Certificate ? stored : undefined;
  let ca: KeyPairPem;
  if (keptCa && caCert && caKey) {
    ca = { cert: caCert, key: caKey };
  } else {
    ca = generateCa();
    await fs.writeFile(caKeyFile, ca.key, { mode: 0o600 });
    await fs.writeFile(caFile, ca.cert, { mode: 0o644 });
  }

  let serverCert = await readIfPresent(certFile);
  let serverKey = await readIfPresent(keyFile);
  const serverWrong =
    keptCa && serverCert && serverKey ? serverProblem(serverCert, serverKey, keptCa, names) : undefined;
  if (serverWrong?.damaged) {
    await setAside(certFile, keyFile);
    log(
      `local endpoint: the server certificate in ${certFile} cannot be used (${serverWrong.why}); kept it as ${certFile}${SET_ASIDE} and issued a new one`,
    );
  }
  if (!keptCa || !serverCert || !serverKey || serverWrong) {
    const server = issueCertificate(ca, { commonName: names[0] ?? 'localhost', hostnames: names });
    serverCert = server.cert;
    serverKey = server.key;
    await fs.writeFile(keyFile, serverKey, { mode: 0o600 });
    await fs.writeFile(certFile, serverCert, { mode: 0o644 });
  }
  return { ca, server: { cert: serverCert, key: serverKey }, caFile, certFile, keyFile };
}
