// SPDX-License-Identifier: Apache-2.0
/**
 * TLS options for undici's connector and the mapping of TLS failures to {@link TlsError} with a
 * reason a user can act on.
 */
import { createSecureContext, type ConnectionOptions } from 'node:tls';

import { redact, TlsError, type TlsFailureReason, ValidationError } from './errors';
import type { TlsOptions } from './types';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Splits PEM text holding one or several certificates (a full chain, a bundle) into one string
 * per certificate. Node accepts a bundle in one string too, but an array makes every certificate
 * a trust anchor independently, which is what users mean when they paste a chain.
 */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(PEM_CERT) ?? [];
}

/**
 * Turns {@link TlsOptions} into the `connect` options of an undici Pool. Verification is on
 * unless `rejectUnauthorized === false`. Without `ca`, Node's bundled root CAs are used.
 * Certificates and keys are loaded once here, so a wrong passphrase, a key that does not match
 * its certificate or a malformed PEM fail at construction (`INVALID_CONFIG`), not on first send.
 */
export function buildTlsConnectOptions(tls: TlsOptions | undefined): ConnectionOptions {
  const out: ConnectionOptions = { rejectUnauthorized: tls?.rejectUnauthorized !== false };
  if (tls === undefined) return out;
  if (tls.ca !== undefined) {
    const list = Array.isArray(tls.ca) ? tls.ca : [tls.ca];
    const certs: string[] = [];
    for (const item of list) {
      if (typeof item !== 'string')
        throw new ValidationError('The CA certificate must be PEM text.', 'INVALID_CONFIG');
      if (item.trim().length === 0) continue;
      const found = splitPemCertificates(item);
      if (found.length === 0) {
        throw new ValidationError(
          'The CA certificate does not contain a PEM certificate (expected "-----BEGIN CERTIFICATE-----").',
          'INVALID_CONFIG',
        );
      }
      certs.push(...found);
    }
    if (certs.length > 0) out.ca = certs;
  }
  if (tls.pfx !== undefined) {
    if (!Buffer.isBuffer(tls.pfx))
      throw new ValidationError('The PKCS#12 file must be binary (a Buffer).', 'INVALID_CONFIG');
    out.pfx = tls.pfx;
  }
  if (tls.cert !== undefined || tls.key !== undefined) {
    if (typeof tls.cert !== 'string' || typeof tls.key !== 'string') {
      throw new ValidationError(
        'A client certificate needs both the certificate and its key, as PEM text.',
        'INVALID_CONFIG',
      );
    }
    out.cert = tls.cert;
    out.key = tls.key;
  }
  if (tls.passphrase !== undefined) out.passphrase = tls.passphrase;
  if (tls.servername !== undefined) out.servername = tls.servername;
  if (out.ca !== undefined || out.pfx !== undefined || out.cert !== undefined) {
    try {
      createSecureContext({
        ca: out.ca,
        cert: out.cert,
        key: out.key,
        pfx: out.pfx,
        passphrase: out.passphrase,
      });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      const secrets = tls.passphrase ? [tls.passphrase] : [];
      throw new ValidationError(
        `The TLS certificate settings could not be loaded (${redact(reason, secrets)}). Check the CA PEM, the client certificate and key, or the PKCS#12 file and its passphrase.`,
        'INVALID_CONFIG',
      );
    }
  }
  return out;
}

const UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/**
 * Alerts the server sends when it rejects (or wants) our client certificate. With TLS 1.3 they
 * arrive after our side of the handshake has finished, so they surface on the first read.
 */
const CLIENT_CERT_ALERTS = new Set([
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE',
]);

function reasonFor(code: string): TlsFailureReason | undefined {
  if (UNKNOWN_CA.has(code)) return 'UNKNOWN_CA';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') return 'HOSTNAME_MISMATCH';
  if (code === 'CERT_HAS_EXPIRED') return 'EXPIRED';
  if (code === 'CERT_NOT_YET_VALID') return 'NOT_YET_VALID';
  if (CLIENT_CERT_ALERTS.has(code)) return 'CLIENT_CERT';
  if (
    code.startsWith('ERR_SSL_') ||
    code.startsWith('ERR_TLS_') ||
    code.startsWith('CERT_') ||
    code === 'UNABLE_TO_DECRYPT_CERT_SIGNATURE' ||
    code === 'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY' ||
    code === 'CERT_SIGNATURE_FAILURE' ||
    code === 'INVALID_CA' ||
    code === 'PATH_LENGTH_EXCEEDED' ||
    code === 'INVALID_PURPOSE' ||
    code === 'CERT_UNTRUSTED' ||
    code === 'CERT_REJECTED' ||
    code === 'EPROTO'
  ) {
    return 'OTHER';
  }
  return undefined;
}

const MESSAGES: Record<TlsFailureReason, string> = {
  UNKNOWN_CA:
    "The server's certificate is not trusted: it is signed by an unknown CA. Add the endpoint's CA certificate (for on-prem Event Streams, es-cert.pem; for the local endpoint, its ca.pem).",
  HOSTNAME_MISMATCH:
    "The server's certificate is for a different host name than the one in the URL. Use the host name the certificate was issued for.",
  EXPIRED: "The server's certificate has expired. Renew it on the server (or check this machine's clock).",
  NOT_YET_VALID:
    "The server's certificate is not valid yet. Check this machine's clock, or wait until the certificate's start date.",
  CLIENT_CERT:
    'The server rejected the TLS client certificate (or requires one and none was sent). Check the client certificate, key and the CA that signed them.',
  OTHER: 'The TLS handshake with the server failed.',
};

/** Codes found along an error's `cause` chain (undici wraps socket and TLS errors). */
export function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 6 && typeof e === 'object' && e !== null; depth++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') codes.push(c);
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

/** A {@link TlsError} when `err` (or anything it wraps) is a TLS failure, else undefined. */
export function tlsErrorFrom(err: unknown, host?: string): TlsError | undefined {
  for (const code of errorCodes(err)) {
    const reason = reasonFor(code);
    if (reason === undefined) continue;
    let message = MESSAGES[reason];
    if (host !== undefined) message = `${message} (${host})`;
    if (reason === 'OTHER') message = `${message} [${code}]`;
    return new TlsError(message, reason, { tlsCode: code, cause: stripCause(err) });
  }
  return undefined;
}

/**
 * A secret-free copy of a low-level error for `cause`: name, message and code only, so that a
 * socket object or request options carried by the original never reach `inspect(err)`.
 */
export function stripCause(err: unknown): Error | undefined {
  if (!(err instanceof Error)) return undefined;
  const inner = err.cause instanceof Error ? stripCause(err.cause) : undefined;
  const copy = new Error(redact(err.message), inner === undefined ? undefined : { cause: inner });
  copy.name = err.name;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') (copy as Error & { code?: string }).code = code;
  copy.stack = `${copy.name}: ${copy.message}`;
  return copy;
}
