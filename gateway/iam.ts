// SPDX-License-Identifier: Apache-2.0
/**
 * A stand-in for IBM Cloud IAM's `POST /identity/token` (API key grant).
 *
 * Tokens are self-contained and signed, so nothing is stored per token: any gateway started with
 * the same API keys verifies a token another one issued (several gateways behind a load balancer),
 * no caller can fill or evict a token table, and a restart keeps tokens valid until they expire.
 *
 *   ES1.<kid>.<expiry ms, base36>.<nonce>.<HMAC-SHA256 of everything before it>
 *
 * The HMAC key is derived with HKDF-SHA256 from the configured API keys (all of them, sorted), so
 * it exists nowhere but in the gateways' memory and changes when the key set changes (which ends
 * every outstanding token: rotate keys on every gateway together). `kid` names the API key the
 * token was issued for, as an HMAC of it (the key itself is never in the token); the key's role
 * is looked up when the token is used, so a key removed or demoted takes its tokens with it.
 * Clients must treat IAM tokens as opaque anyway; these are not JWTs and cannot be mistaken for a
 * real IBM credential.
 *
 * With a signing key (`--iam-signing-key`), tokens are RS256 JWTs as IBM IAM's are, and the
 * public key is published at `GET /identity/keys` (JWKS, as IBM's), so that a real Kafka broker
 * validates them for SASL/OAUTHBEARER (`sasl.oauthbearer.jwks.endpoint.url`). Gateways started
 * with the same signing key and API keys accept each other's tokens.
 */
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
  sign,
  timingSafeEqual,
  verify as verifySignature,
} from 'node:crypto';

/** The grant type IBM IAM requires for API key exchanges. */
export const APIKEY_GRANT_TYPE = 'urn:ibm:params:oauth:grant-type:apikey';

const VERSION = 'ES1';
const HKDF_SALT = 'event-streams-local/iam-token-signing';
const HKDF_INFO = 'v1';
/** Tokens longer than this are not ours; checked before any hashing. */
const MAX_TOKEN_LENGTH = 160;
const MAX_JWT_LENGTH = 2048;
/** The issuer claim, as IBM IAM's tokens carry it. */
export const LOCAL_IAM_ISSUER = 'https://iam.cloud.ibm.com/identity';

/** RS256 JWT issuing: the private key and what the JWKS publishes. */
export interface JwtSigning {
  /** PEM of an RSA private key (PKCS#1 or PKCS#8). */
  privateKeyPem: string;
  /** `iss` claim. Default {@link LOCAL_IAM_ISSUER}. */
  issuer?: string;
}

export interface Jwks {
  keys: Array<Record<string, unknown>>;
}

/** The digest a key is looked up under, so no lookup compares raw secrets. */
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

/** The signing key for a set of API keys: the same set gives the same key on every gateway. */
export function deriveSigningKey(apiKeys: readonly string[]): Buffer {
  const unique = [...new Set(apiKeys)].sort();
  // Length-prefixed, so ["ab","c"] and ["a","bc"] differ.
  const ikm = Buffer.concat(
    unique.flatMap((k) => {
      const b = Buffer.from(k, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      return [len, b];
    }),
  );
  return Buffer.from(hkdfSync('sha256', ikm, HKDF_SALT, HKDF_INFO, 32));
}

/**
 * Issues and verifies signed IAM tokens. Holds only the derived key and the key ids of the
 * configured API keys; the name is kept from when tokens were stored (nothing is now).
 */
export class TokenStore {
  private readonly key: Buffer;
  private readonly kidToPrincipal = new Map<string, string>();
  private readonly principalToKid = new Map<string, string>();
  private readonly jwt:
    | {
        privateKey: KeyObject;
        publicKey: KeyObject;
        kid: string;
        issuer: string;
        jwk: Record<string, unknown>;
      }
    | undefined;

  constructor(
    private readonly lifetimeSec: number,
    apiKeys: readonly string[],
    signing?: JwtSigning,
  ) {
    this.key = deriveSigningKey(apiKeys);
    if (signing !== undefined) {
      const privateKey = createPrivateKey(signing.privateKeyPem);
      if (privateKey.asymmetricKeyType !== 'rsa') throw new Error('the IAM signing key must be an RSA key');
      const publicKey = createPublicKey(privateKey);
      const jwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
      // RFC 7638 thumbprint as the key id: the same key gives the same kid on every gateway.
      const kid = createHash('sha256')
        .update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n }))
        .digest('base64url');
      this.jwt = {
        privateKey,
        publicKey,
        kid,
        issuer: signing.issuer ?? LOCAL_IAM_ISSUER,
        jwk: { kty: jwk.kty, n: jwk.n, e: jwk.e, alg: 'RS256', use: 'sig', kid },
      };
    }
    for (const k of apiKeys) {
      const kid = createHmac('sha256', this.key).update('kid\0').update(k, 'utf8').digest().subarray(0, 12);
      const id = kid.toString('base64url');
      this.kidToPrincipal.set(id, k);
      this.principalToKid.set(k, id);
    }
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }

  /** A token for a configured API key (the principal id of an `apikey` principal). */
  issue(principal: string, now = Date.now()): IssuedToken {
    const kid = this.principalToKid.get(principal);
    if (kid === undefined) throw new Error('tokens are issued for configured API keys only');
    const expiresAt = now + this.lifetimeSec * 1000;
    if (this.jwt !== undefined) {
      const iat = Math.floor(now / 1000);
      const claims = {
        iam_id: `iam-ServiceId-${kid}`,
        id: `iam-ServiceId-${kid}`,
        sub: `ServiceId-${kid}`,
        sub_type: 'ServiceId',
        iss: this.jwt.issuer,
        grant_type: APIKEY_GRANT_TYPE,
        scope: 'ibm openid',
        client_id: 'default',
        jti: randomBytes(12).toString('base64url'),
        iat,
        exp: Math.floor(expiresAt / 1000),
      };
      const head = b64json({ kid: this.jwt.kid, alg: 'RS256', typ: 'JWT' });
      const input = `${head}.${b64json(claims)}`;
      const sig = sign('sha256', Buffer.from(input), this.jwt.privateKey).toString('base64url');
      return {
        access_token: `${input}.${sig}`,
        refresh_token: 'not_supported',
        token_type: 'Bearer',
        expires_in: this.lifetimeSec,
        expiration: claims.exp,
        scope: 'ibm openid',
      };
    }
    const body = `${VERSION}.${kid}.${expiresAt.toString(36)}.${randomBytes(12).toString('base64url')}`;
    return {
      access_token: `${body}.${this.sign(body)}`,
      refresh_token: 'not_supported',
      token_type: 'Bearer',
      expires_in: this.lifetimeSec,
      expiration: Math.floor(expiresAt / 1000),
      scope: 'ibm openid',
    };
  }

  /** The API key a valid, unexpired token was issued for, or undefined. Constant work per call. */
  verify(token: string, now = Date.now()): string | undefined {
    if (this.jwt !== undefined && token.startsWith('eyJ')) return this.verifyJwt(token, now);
    if (token.length > MAX_TOKEN_LENGTH || !token.startsWith(`${VERSION}.`)) return undefined;
    const dot = token.lastIndexOf('.');
    const body = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(body), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const parts = body.split('.');
    if (parts.length !== 4) return undefined;
    const expiresAt = parseInt(parts[2]!, 36);
    if (!(expiresAt > now)) return undefined;
    return this.kidToPrincipal.get(parts[1]!);
  }

  /** The JWKS to publish (`GET /identity/keys`); empty without a signing key. */
  jwks(): Jwks {
    return { keys: this.jwt ? [this.jwt.jwk] : [] };
  }

  private verifyJwt(token: string, now: number): string | undefined {
    const jwt = this.jwt!;
    if (token.length > MAX_JWT_LENGTH) return undefined;
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    if (header.alg !== 'RS256' || header.kid !== jwt.kid) return undefined;
    const ok = verifySignature(
      'sha256',
      Buffer.from(`${parts[0]}.${parts[1]}`),
      jwt.publicKey,
      Buffer.from(parts[2]!, 'base64url'),
    );
    if (!ok || claims.iss !== jwt.issuer) return undefined;
    if (!(typeof claims.exp === 'number' && claims.exp * 1000 > now)) return undefined;
    const sub = typeof claims.sub === 'string' ? claims.sub : '';
    return sub.startsWith('ServiceId-') ? this.kidToPrincipal.get(sub.slice('ServiceId-'.length)) : undefined;
  }
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}
