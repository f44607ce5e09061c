// SPDX-License-Identifier: Apache-2.0
/**
 * Authentication providers, one small class per mode. A provider yields the `Authorization`
 * header value: synchronously for static credentials and for a cached IAM token (the hot path
 * allocates nothing), as a promise only while an IAM exchange is under way.
 */
import { AuthenticationError, EventStreamsError, UnexpectedResponseError, ValidationError } from './errors';
import { fromHttp } from './error-model';
import { type RetryPolicy, withRetry } from './retry';
import type { HttpRequest, HttpResponse } from './transport';
import { type AuthOptions, DEFAULT_IAM_URL } from './types';

export interface AuthProvider {
  readonly mode: AuthOptions['mode'];
  /** The Authorization header value (undefined: send none). */
  authorization(): string | undefined | Promise<string | undefined>;
  /**
   * Called after a 401 for a request sent with `used`. Returns true when sending the request
   * again with fresh credentials is worthwhile (IAM: the token may have been revoked or expired
   * early); static credentials return false.
   */
  invalidate(used: string | undefined): boolean;
  /** Strings that must never appear in error text (keys, passwords, tokens, encoded forms). */
  secrets(): readonly string[];
}

/** Sends one HTTP request to an origin (the client's transport). */
export type RequestFn = (origin: string, req: HttpRequest) => Promise<HttpResponse>;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function secretString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new ValidationError(`auth.${field} is required for this authentication mode.`, 'INVALID_CONFIG');
  }
  const v = value.trim();
  if (CONTROL.test(v)) {
    throw new ValidationError(`auth.${field} contains control characters.`, 'INVALID_CONFIG');
  }
  return v;
}

class NoAuth implements AuthProvider {
  constructor(readonly mode: 'none' | 'client-cert') {}
  authorization(): undefined {
    return undefined;
  }
  invalidate(): boolean {
    return false;
  }
  secrets(): readonly string[] {
    return [];
  }
}

/** Bearer API key, Basic `token:<apikey>`, or Basic `<username>:<password>`. */
class StaticAuth implements AuthProvider {
  private readonly header: string;
  private readonly hidden: string[];
  constructor(
    readonly mode: 'bearer' | 'basic-token' | 'basic',
    secret: string,
    username?: string,
  ) {
    if (mode === 'bearer') {
      this.header = `Bearer ${secret}`;
    } else {
      const user = mode === 'basic-token' ? 'token' : (username ?? '');
      this.header = `Basic ${Buffer.from(`${user}:${secret}`, 'utf8').toString('base64')}`;
    }
    this.hidden = [secret, this.header, this.header.slice(this.header.indexOf(' ') + 1)];
  }
  authorization(): string {
    return this.header;
  }
  invalidate(): boolean {
    return false;
  }
  secrets(): readonly string[] {
    return this.hidden;
  }
}

/** The form body IBM IAM expects for an API key grant. */
export function iamTokenRequestBody(apiKey: string): string {
  return `grant_type=${encodeURIComponent('urn:ibm:params:oauth:grant-type:apikey')}&apikey=${encodeURIComponent(apiKey)}`;
}

export interface IamAuthOptions {
  apiKey: string;
  iamUrl: string;
  request: RequestFn;
  retry: RetryPolicy;
  now?: () => number;
}

/**
 * IAM API key → access token exchange (`POST {iamUrl}` with the apikey grant).
 *
 * - The token is cached until shortly before expiry (`expires_in`, else `expiration`): the
 *   refresh starts when 80% of the lifetime has passed (at most 60 s early) and runs in the
 *   background while the current token is still good, so produces do not wait for it.
 * - Exchanges are single-flight: concurrent callers share one pending request.
 * - 400/401/403 (and other 4xx) from IAM → AuthenticationError, not retried. 5xx, 429 and
 *   network errors keep their retriable classes (UnavailableError, ConnectionError, …) and are
 *   retried with the client's policy, because a failing IAM is an outage, not a wrong key.
 */
export class IamAuth implements AuthProvider {
  readonly mode = 'iam' as const;
  private header: string | undefined;
  private refreshAt = 0;
  private usableUntil = 0;
  private pending: Promise<string> | undefined;
  private backgroundPausedUntil = 0;
  private readonly apiKey: string;
  private readonly origin: string;
  private readonly path: string;
  private readonly hidden: string[];
  private readonly now: () => number;
  /** IAM exchanges made (for tests and diagnostics). */
  exchanges = 0;

  constructor(private readonly options: IamAuthOptions) {
    this.apiKey = options.apiKey;
    let url: URL;
    try {
      url = new URL(options.iamUrl);
    } catch {
      throw new ValidationError('auth.iamUrl is not a valid URL.', 'INVALID_CONFIG');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new ValidationError('auth.iamUrl must be an http(s) URL.', 'INVALID_CONFIG');
    }
    if (url.username || url.password) {
      throw new ValidationError('auth.iamUrl must not contain credentials.', 'INVALID_CONFIG');
    }
    this.origin = url.origin;
    this.path = `${url.pathname}${url.search}`;
    this.hidden = [this.apiKey, encodeURIComponent(this.apiKey)];
    this.now = options.now ?? Date.now;
  }

  authorization(): string | Promise<string> {
    const header = this.header;
    if (header !== undefined) {
      const now = this.now();
      if (now < this.refreshAt) return header;
      if (now < this.usableUntil) {
        if (this.pending === undefined && now >= this.backgroundPausedUntil) {
          this.refresh().catch(() => {
            // The current token still works; try again a little later, and let the
            // foreground path report the error if the token runs out.
            this.backgroundPausedUntil = this.now() + 1000;
          });
        }
        return header;
      }
    }
    return this.pending ?? this.refresh();
  }

  invalidate(used: string | undefined): boolean {
    if (used !== undefined && used === this.header) {
      this.header = undefined;
      this.refreshAt = 0;
      this.usableUntil = 0;
    }
    return true;
  }

  secrets(): readonly string[] {
    return this.hidden;
  }

  private refresh(): Promise<string> {
    const p = withRetry(this.options.retry, () => this.exchange()).finally(() => {
      if (this.pending === p) this.pending = undefined;
    });
    this.pending = p;
    return p;
  }

  private async exchange(): Promise<string> {
    this.exchanges++;
    const started = this.now();
    const res = await this.options.request(this.origin, {
      method: 'POST',
      path: this.path,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: iamTokenRequestBody(this.apiKey),
    });
    if (res.statusCode < 200 || res.statusCode >= 300) throw this.iamError(res);
    let token: string | undefined;
    let expiresIn: number | undefined;
    let expiration: number | undefined;
    try {
      const body = JSON.parse(res.text) as Record<string, unknown>;
      if (typeof body.access_token === 'string' && body.access_token.length > 0) token = body.access_token;
      if (typeof body.expires_in === 'number') expiresIn = body.expires_in;
      if (typeof body.expiration === 'number') expiration = body.expiration;
    } catch {
      // Reported below as a missing token.
    }
    if (token === undefined || CONTROL.test(token)) {
      throw new UnexpectedResponseError(
        `The IAM token service at ${this.origin} answered HTTP ${res.statusCode} without an access_token.`,
        { statusCode: res.statusCode },
      );
    }
    // expires_in is relative and immune to clock skew; expiration (epoch seconds) is the fallback.
    let lifetimeMs =
      expiresIn !== undefined && expiresIn > 0
        ? expiresIn * 1000
        : expiration !== undefined
          ? expiration * 1000 - Date.now()
          : 20 * 60 * 1000;
    if (!(lifetimeMs > 0)) lifetimeMs = 1000;
    const expiresAt = started + lifetimeMs;
    this.refreshAt = expiresAt - Math.min(60_000, lifetimeMs * 0.2);
    this.usableUntil = expiresAt - Math.min(10_000, lifetimeMs * 0.1);
    const header = `Bearer ${token}`;
    this.header = header;
    // Remember the last few tokens so that errors echoing an old one are scrubbed too.
    this.hidden.push(token);
    if (this.hidden.length > 6) this.hidden.splice(2, 1);
    return header;
  }

  private iamError(res: HttpResponse): EventStreamsError {
    const mapped = fromHttp(res.statusCode, res.headers, res.text, {
      operation: `IAM token exchange at ${this.origin}`,
      secrets: this.hidden,
      notFoundIsTopic: false,
    });
    if (mapped.retriable) return mapped;
    return new AuthenticationError(
      `IBM Cloud IAM did not accept the API key (HTTP ${res.statusCode})${
        mapped.serverMessage ? `: ${mapped.serverMessage}` : ''
      }. Check the API key and the IAM URL.`,
      {
        statusCode: res.statusCode,
        ...(mapped.serverMessage !== undefined ? { serverMessage: mapped.serverMessage } : {}),
        ...(mapped.serverCode !== undefined ? { serverCode: mapped.serverCode } : {}),
        ...(mapped.incidentId !== undefined ? { incidentId: mapped.incidentId } : {}),
      },
    );
  }
}

export interface AuthDeps {
  request: RequestFn;
  retry: RetryPolicy;
  /** Whether the TLS options carry a client certificate (required for `client-cert`). */
  hasClientCert: boolean;
}

/** Builds and checks the provider for `options` (`INVALID_CONFIG` on missing or bad fields). */
export function createAuthProvider(options: AuthOptions | undefined, deps: AuthDeps): AuthProvider {
  if (options === undefined) return new NoAuth('none');
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError('auth must be an object with a mode.', 'INVALID_CONFIG');
  }
  switch (options.mode) {
    case 'none':
      return new NoAuth('none');
    case 'client-cert':
      if (!deps.hasClientCert) {
        throw new ValidationError(
          'auth mode client-cert needs tls.cert and tls.key, or tls.pfx.',
          'INVALID_CONFIG',
        );
      }
      return new NoAuth('client-cert');
    case 'bearer':
    case 'basic-token':
      return new StaticAuth(options.mode, secretString(options.apiKey, 'apiKey'));
    case 'basic': {
      const username = secretString(options.username, 'username');
      if (username.includes(':')) {
        throw new ValidationError('auth.username must not contain ":".', 'INVALID_CONFIG');
      }
      if (typeof options.password !== 'string' || options.password.length === 0) {
        throw new ValidationError('auth.password is required for basic authentication.', 'INVALID_CONFIG');
      }
      if (CONTROL.test(options.password)) {
        throw new ValidationError('auth.password contains control characters.', 'INVALID_CONFIG');
      }
      return new StaticAuth('basic', options.password, username);
    }
    case 'iam':
      return new IamAuth({
        apiKey: secretString(options.apiKey, 'apiKey'),
        iamUrl: options.iamUrl ?? DEFAULT_IAM_URL,
        request: deps.request,
        retry: { ...deps.retry, retries: Math.min(deps.retry.retries, 3) },
      });
    default:
      throw new ValidationError(
        `Unknown auth mode "${String((options as { mode?: unknown }).mode)}".`,
        'INVALID_CONFIG',
      );
  }
}
