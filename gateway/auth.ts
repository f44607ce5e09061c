// SPDX-License-Identifier: Apache-2.0
/**
 * Credential checks of the local endpoint: API keys (Bearer, Basic `token:<key>`, X-Auth-Token),
 * Basic username/password, IAM tokens issued by {@link TokenStore}, and client certificates signed
 * by the local CA. Every principal has a role, after IBM's IAM service roles: `manager` (the
 * `--api-key` keys, users and client certificates: everything) or `writer` (`--writer-key`:
 * produce, list and read topics; no admin writes, no /local routes). Secrets are compared as SHA-256 digests with `timingSafeEqual`, so neither their
 * content nor their length shows in response timing.
 */
import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

import { checkGlob, compileGlob, ValidationError } from '../lib/server-kit';
import { secretDigest, type TokenStore } from './iam';

/** IBM IAM-style service roles: Writer may produce (and read), Manager may do everything. */
export type Role = 'manager' | 'writer';

/** Who made a request. `id` is the API key, username or certificate CN (never logged). */
export interface Principal {
  kind: 'apikey' | 'token' | 'user' | 'cert';
  id: string;
  role: Role;
}

/** Why authentication failed, for the v2 error `target` and for tests. */
export type AuthFailure = 'missing' | 'invalid' | 'scheme';

export interface AuthenticatorOptions {
  /** Manager keys. */
  apiKeys: string[];
  /** Keys that may only produce (and list/read topics). */
  writerKeys?: string[];
  users?: Array<{ username: string; password: string }>;
  tokens: TokenStore;
  clientCertAuth?: boolean;
  producePermissions?: Record<string, string[]>;
  forbiddenTopics?: string[];
}

/**
 * A permission glob (`*`, `?`, see lib/glob.ts) as a predicate. Invalid globs are refused when the
 * endpoint starts, so a typo cannot silently grant or deny everything.
 */
export function permissionGlob(glob: string): (topic: string) => boolean {
  const problem = checkGlob(glob);
  if (problem) throw new ValidationError(`Invalid topic permission ${JSON.stringify(glob)}: ${problem}`);
  return compileGlob(glob) ?? (() => true);
}

/**
 * What an Admin REST write changes. Every one needs IBM's Manager role: a Writer key may produce
 * and read (topics, groups, cluster, brokers), but never creates, changes or deletes topics,
 * consumer groups (offset resets included), records, quotas or the mirroring selection.
 */
export type AdminArea = 'topics' | 'groups' | 'records' | 'quotas' | 'mirroring';

/** Whether `principal` may change `area`: managers only (see {@link AdminArea}). */
export function mayChangeAdmin(principal: Principal, _area: AdminArea): boolean {
  return principal.role === 'manager';
}

interface Secret {
  digest: Buffer;
  principal: Principal;
}

function findSecret(secrets: readonly Secret[], digest: Buffer): Principal | undefined {
  let found: Principal | undefined;
  for (const s of secrets) {
    // No early exit: every candidate is compared so the time does not depend on which one matched.
    if (timingSafeEqual(s.digest, digest) && !found) found = s.principal;
  }
  return found;
}

/** Checks credentials and produce permissions for the server. */
export class Authenticator {
  private readonly keys: Secret[];
  private readonly users: Secret[];
  private readonly tokens: TokenStore;
  private readonly clientCertAuth: boolean;
  private readonly roles = new Map<string, Role>();
  private readonly permissions?: Map<string, Array<(topic: string) => boolean>>;
  private readonly forbidden: Array<(topic: string) => boolean>;

  constructor(options: AuthenticatorOptions) {
    const writers = new Set(options.writerKeys ?? []);
    // A key given both ways is a manager key: --api-key is the stronger statement.
    for (const k of options.apiKeys) writers.delete(k);
    this.keys = [
      ...options.apiKeys.map((key) => ({
        digest: secretDigest(key),
        principal: { kind: 'apikey', id: key, role: 'manager' } as Principal,
      })),
      ...[...writers].map((key) => ({
        digest: secretDigest(key),
        principal: { kind: 'apikey', id: key, role: 'writer' } as Principal,
      })),
    ];
    for (const k of this.keys) this.roles.set(k.principal.id, k.principal.role);
    this.users = (options.users ?? []).map((u) => ({
      digest: secretDigest(`${u.username}:${u.password}`),
      principal: { kind: 'user', id: u.username, role: 'manager' },
    }));
    this.tokens = options.tokens;
    this.clientCertAuth = options.clientCertAuth === true;
    if (options.producePermissions) {
      this.permissions = new Map(
        Object.entries(options.producePermissions).map(([k, globs]) => [k, globs.map(permissionGlob)]),
      );
    }
    this.forbidden = (options.forbiddenTopics ?? []).map(permissionGlob);
  }

  /** The principal of an API key, or undefined (used by the IAM token exchange). */
  apiKey(candidate: string): Principal | undefined {
    return findSecret(this.keys, secretDigest(candidate));
  }

  /**
   * Authenticates a request. `bearerOnly` (REST Producer v2) accepts nothing but
   * `Authorization: Bearer <API key or IAM token>`.
   */
  authenticate(req: IncomingMessage, bearerOnly = false): Principal | AuthFailure {
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const space = authorization.indexOf(' ');
      const scheme = space < 0 ? authorization : authorization.slice(0, space);
      const credentials = space < 0 ? '' : authorization.slice(space + 1).trim();
      if (scheme.length === 6 && scheme.toLowerCase() === 'bearer') {
        if (!credentials) return 'invalid';
        const key = findSecret(this.keys, secretDigest(credentials));
        if (key) return key;
        const tokenKey = this.tokens.verify(credentials);
        const role = tokenKey === undefined ? undefined : this.roles.get(tokenKey);
        return tokenKey !== undefined && role !== undefined
          ? { kind: 'token', id: tokenKey, role }
          : 'invalid';
      }
      if (bearerOnly) return 'scheme';
      if (scheme.length === 5 && scheme.toLowerCase() === 'basic') {
        return this.basic(credentials) ?? 'invalid';
      }
      return 'scheme';
    }
    if (bearerOnly) return 'missing';
    const xAuth = req.headers['x-auth-token'];
    if (typeof xAuth === 'string') return findSecret(this.keys, secretDigest(xAuth.trim())) ?? 'invalid';
    if (this.clientCertAuth) {
      const socket = req.socket as TLSSocket;
      // `authorized` alone is not enough: on a resumed TLS 1.3 session Node reports it as true
      // even when no certificate was presented, so a certificate must actually be there.
      const cert = socket.encrypted && socket.authorized ? socket.getPeerCertificate() : undefined;
      if (cert && cert.raw) {
        const cn = typeof cert.subject?.CN === 'string' ? cert.subject.CN : 'client';
        return { kind: 'cert', id: cn, role: 'manager' };
      }
    }
    return 'missing';
  }

  private basic(encoded: string): Principal | undefined {
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    if (decoded.slice(0, colon) === 'token') {
      const key = findSecret(this.keys, secretDigest(decoded.slice(colon + 1)));
      if (key) return key;
    }
    return findSecret(this.users, secretDigest(decoded));
  }

  /** Forbidden topics, then the per-key globs (a key without an entry may produce everywhere). */
  mayProduce(principal: Principal, topic: string): boolean {
    for (const match of this.forbidden) if (match(topic)) return false;
    const globs = this.permissions?.get(principal.id);
    if (!globs) return true;
    for (const match of globs) if (match(topic)) return true;
    return false;
  }
}
