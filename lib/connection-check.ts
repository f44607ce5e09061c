// SPDX-License-Identifier: Apache-2.0
/**
 * The connection check behind the editor's "Test connection" button: reachability, TLS trust and
 * credentials, without writing anything. Its own module because it is a different job from
 * producing: a few probing requests whose answers are read as facts, not as failures.
 */
import type { AdminRestClient } from './admin';
import type { AuthProvider } from './auth';
import { AuthenticationError, ClosedError, type EventStreamsError, TlsError } from './errors';
import { fromHttp } from './error-model';
import { type HttpResponse, mapTransportError, type Transport } from './transport';
import type { ApiFlavour, ConnectionCheck } from './types';

/**
 * Topic name used by the connection check's produce-path probe: '!' is illegal in Kafka topic
 * names, so no such topic can exist or be auto-created, and the body is empty as well; the
 * probe can never write a record.
 */
export const PROBE_TOPIC = 'esnodes-connection-probe!';

/** What the check needs of the session. */
export interface CheckContext {
  closed: boolean;
  origin: string;
  basePath: string;
  adminUrl: string;
  flavour: ApiFlavour;
  transport: Transport;
  auth: AuthProvider;
  userAgent: string;
  admin: AdminRestClient;
}

/**
 * Checks reachability, TLS trust and credentials without writing anything.
 *
 * 1. Get credentials (an IAM exchange when IAM is used; its failure means authenticated:false).
 * 2. `GET {adminUrl}/admin/topics?per_page=1`: a connection error → reachable:false; a TLS
 *    error → tlsTrusted:false (a rejected client certificate → authenticated:false);
 *    401/403 → authenticated:false; 2xx → all true.
 * 3. When the Admin REST API is missing (404/405/501, e.g. on-prem), probe the produce path:
 *    `POST {url}[/v2]/topics/esnodes-connection-probe!/records` with an empty body. The name is
 *    illegal in Kafka and the body empty, so nothing can be written. 401 → authenticated:false;
 *    400/403/404/411/415/422 → the server looked past the credentials, authenticated:true
 *    (403 there means the credentials were recognised but lack rights on that name).
 */
export async function checkConnection(ctx: CheckContext): Promise<ConnectionCheck> {
  if (ctx.closed) {
    return {
      reachable: false,
      tlsTrusted: null,
      authenticated: null,
      error: new ClosedError('The client is closed.'),
    };
  }
  const https = ctx.adminUrl.startsWith('https:');
  const trusted = https ? true : null;
  let authError: EventStreamsError | undefined;
  try {
    await ctx.auth.authorization();
  } catch (err) {
    authError = mapTransportError(err, ctx.origin);
  }
  // Without credentials, still find out whether the endpoint is reachable and trusted.
  if (authError !== undefined) return probeWithoutAuth(ctx, authError, https);
  let res: HttpResponse;
  try {
    // IBM's instance status; an Admin REST API without it is probed at its topic list.
    res = await ctx.admin.probe('/admin/status');
    if (res.statusCode === 404 || res.statusCode === 405 || res.statusCode === 501) {
      res = await ctx.admin.probe('/admin/topics?per_page=1');
    }
  } catch (raw) {
    return classifyTransportError(mapTransportError(raw, ctx.origin));
  }
  const s = res.statusCode;
  if (s >= 200 && s < 300) return { reachable: true, tlsTrusted: trusted, authenticated: true };
  const err = fromHttp(s, res.headers, res.text, {
    operation: 'Connection check',
    secrets: ctx.auth.secrets(),
    notFoundIsTopic: false,
  });
  if (s === 401 || s === 403)
    return { reachable: true, tlsTrusted: trusted, authenticated: false, error: err };
  if (s === 404 || s === 405 || s === 501) return produceProbe(ctx, trusted);
  return { reachable: true, tlsTrusted: trusted, authenticated: null, error: err };
}

function classifyTransportError(err: EventStreamsError): ConnectionCheck {
  if (err instanceof TlsError) {
    // With TLS 1.3 a client-certificate alert arrives after we verified the server.
    return err.reason === 'CLIENT_CERT'
      ? { reachable: true, tlsTrusted: true, authenticated: false, error: err }
      : { reachable: true, tlsTrusted: false, authenticated: null, error: err };
  }
  return { reachable: false, tlsTrusted: null, authenticated: null, error: err };
}

async function probeWithoutAuth(
  ctx: CheckContext,
  authError: EventStreamsError,
  https: boolean,
): Promise<ConnectionCheck> {
  const admin = new URL(ctx.adminUrl);
  try {
    await ctx.transport.request(admin.origin, {
      method: 'GET',
      path: `${admin.pathname.replace(/\/+$/, '')}/admin/topics?per_page=1`,
      headers: { accept: 'application/json', 'user-agent': ctx.userAgent },
    });
  } catch (raw) {
    const check = classifyTransportError(mapTransportError(raw, admin.origin));
    if (!check.reachable || check.tlsTrusted === false) return check;
  }
  return {
    reachable: true,
    tlsTrusted: https ? true : null,
    authenticated: authError instanceof AuthenticationError ? false : null,
    error: authError,
  };
}

async function produceProbe(ctx: CheckContext, trusted: boolean | null): Promise<ConnectionCheck> {
  let res: HttpResponse;
  try {
    const authorization = await ctx.auth.authorization();
    const headers: Record<string, string> = {
      'content-type': ctx.flavour === 'v2' ? 'application/json' : 'text/plain',
      accept: 'application/json',
      'user-agent': ctx.userAgent,
    };
    if (authorization !== undefined) headers.authorization = authorization;
    res = await ctx.transport.request(ctx.origin, {
      method: 'POST',
      path: `${ctx.basePath}${ctx.flavour === 'v2' ? '/v2' : ''}/topics/${PROBE_TOPIC}/records`,
      headers,
      body: '',
    });
  } catch (raw) {
    return classifyTransportError(mapTransportError(raw, ctx.origin));
  }
  const s = res.statusCode;
  if (s === 401) {
    return {
      reachable: true,
      tlsTrusted: trusted,
      authenticated: false,
      error: fromHttp(s, res.headers, res.text, {
        operation: 'Connection check',
        secrets: ctx.auth.secrets(),
      }),
    };
  }
  if ((s >= 200 && s < 300) || [400, 403, 404, 411, 413, 415, 422].includes(s)) {
    return { reachable: true, tlsTrusted: trusted, authenticated: true };
  }
  return {
    reachable: true,
    tlsTrusted: trusted,
    authenticated: null,
    error: fromHttp(s, res.headers, res.text, {
      operation: 'Connection check',
      secrets: ctx.auth.secrets(),
      notFoundIsTopic: false,
    }),
  };
}
