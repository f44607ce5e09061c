// SPDX-License-Identifier: Apache-2.0
/**
 * The one authenticated REST call: credentials from the auth provider, one fresh token and a
 * resend when a 401 says the token went stale, retries by the shared policy, and every refusal
 * turned into one error by the error model (`fromApiResponse`, per API). The Admin REST client
 * and the registry client call through it; the produce pipeline (lib/rest-sender.ts) uses the
 * same session's `auth` on its own allocation-free path, with the same 401 rule.
 */
import type { AuthProvider } from './auth';
import { type ApiErrorContext, fromApiResponse } from './error-model';
import { type RetryPolicy, withRetry } from './retry';
import type { HttpMethod, HttpResponse, Transport } from './transport';

export interface RestCallInit {
  transport: Transport;
  auth: AuthProvider;
  retry: RetryPolicy;
}

export interface RestRequest {
  method: HttpMethod;
  /** Path with the API's base path, and query. */
  path: string;
  /** JSON text. */
  body?: string;
  /** Added to, or replacing, the defaults (`accept` and, with a body, `content-type`: JSON). */
  headers?: Record<string, string>;
  /** What the request is, for the error a refusal becomes. */
  error: Omit<ApiErrorContext, 'secrets'>;
}

export class RestCall {
  constructor(private readonly init: RestCallInit) {}

  get auth(): AuthProvider {
    return this.init.auth;
  }

  get transport(): Transport {
    return this.init.transport;
  }

  /** Resolves with a 2xx response; rejects with the error model's error for anything else. */
  call(origin: string, req: RestRequest): Promise<HttpResponse> {
    const { transport, auth, retry } = this.init;
    let authRetried = false;
    return withRetry(retry, async () => {
      for (;;) {
        const authorization = await auth.authorization();
        const headers: Record<string, string> = {
          accept: 'application/json',
          'user-agent': transport.userAgent,
          ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...req.headers,
        };
        if (authorization !== undefined) headers.authorization = authorization;
        const res = await transport.request(origin, {
          method: req.method,
          path: req.path,
          headers,
          ...(req.body !== undefined ? { body: req.body } : {}),
        });
        if (res.statusCode >= 200 && res.statusCode < 300) return res;
        // An IAM token can be revoked or expire early: fetch a new one and resend once.
        if (res.statusCode === 401 && !authRetried && auth.invalidate(authorization)) {
          authRetried = true;
          continue;
        }
        throw fromApiResponse(res.statusCode, res.headers, res.text, {
          ...req.error,
          secrets: auth.secrets(),
        });
      }
    });
  }
}
