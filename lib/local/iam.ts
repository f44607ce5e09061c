// SPDX-License-Identifier: Apache-2.0
/**
 * A stand-in for IBM Cloud IAM's `POST /identity/token` (API key grant). Tokens are random opaque
 * strings, not JWTs: clients must treat IAM tokens as opaque anyway, and an opaque token cannot
 * be mistaken for a real IBM credential.
 */
import { createHash, randomBytes } from 'node:crypto';

/** The grant type IBM IAM requires for API key exchanges. */
export const APIKEY_GRANT_TYPE = 'urn:ibm:params:oauth:grant-type:apikey';

/** Upper bound on live tokens; past it the oldest are dropped (a local endpoint needs few). */
export const MAX_TOKENS = 10_000;

/** The digest a token or key is stored and looked up under, so no lookup compares raw secrets. */
export function secretDigest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export interface IssuedToken {
  access_token: string;
  refresh_token: 'not_supported';
  token_type: 'Bearer';
  expires_in: number;
  /** Seconds since the epoch, as IAM reports it. */
  expiration: number;
  scope: string;
}

interface TokenEntry {
  expiresAt: number;
  /** The API key the token was issued for, for per-key produce permissions. */
  principal: string;
}

/** Issued tokens by digest, bounded and purged of expired entries on every issue. */
export class TokenStore {
  private readonly tokens = new Map<string, TokenEntry>();

  constructor(
    private readonly lifetimeSec: number,
    private readonly maxTokens = MAX_TOKENS,
  ) {}

  issue(principal: string, now = Date.now()): IssuedToken {
    this.purge(now);
    while (this.tokens.size >= this.maxTokens) {
      // Map iteration follows insertion order, so the first key is the oldest token.
      const oldest = this.tokens.keys().next().value;
      if (oldest === undefined) break;
      this.tokens.delete(oldest);
    }
    const token = randomBytes(32).toString('base64url');
    const expiresAt = now + this.lifetimeSec * 1000;
    this.tokens.set(secretDigest(token).toString('base64'), { expiresAt, principal });
    return {
      access_token: token,
      refresh_token: 'not_supported',
      token_type: 'Bearer',
      expires_in: this.lifetimeSec,
      expiration: Math.floor(expiresAt / 1000),
      scope: 'ibm openid',
    };
  }

  /** The principal of a live token, or undefined (unknown or expired; expired ones are removed). */
  verify(digest: Buffer, now = Date.now()): string | undefined {
    const key = digest.toString('base64');
    const entry = this.tokens.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.tokens.delete(key);
      return undefined;
    }
    return entry.principal;
  }

  get size(): number {
    return this.tokens.size;
  }

  purge(now = Date.now()): void {
    for (const [key, entry] of this.tokens) {
      if (entry.expiresAt <= now) this.tokens.delete(key);
    }
  }

  clear(): void {
    this.tokens.clear();
  }
}
