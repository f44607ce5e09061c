// SPDX-License-Identifier: Apache-2.0
/**
 * What every route module of the local endpoint shares: the request context, the dependencies
 * object (state owned by the server, handed to routes instead of globals), the response and error
 * bodies of each API family, query/path decoding and the bounded body readers.
 *
 * Everything is plain functions over node:http (no framework) because the v1 produce path is the
 * far end of the benchmarks: no promises, no per-request regexes, no JSON.stringify of objects there.
 */
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse, STATUS_CODES } from 'node:http';

import { isEventStreamsError, ValidationError } from '../lib/server-kit';
import type { AuthFailure, Authenticator, Principal } from './auth';
import type { GatewayMetrics } from './metrics';
import type { SchemaRegistry } from './registry';
import type { FaultInjector } from './faults';
import type { TokenStore } from './iam';
import { ADMIN_MAX_BODY, DISCARD_BODY_MAX_BYTES, DISCARD_BODY_MAX_MS, DISCARD_IDLE_MS } from './limits';
import type { Backend } from './types';
import type { RateWindow } from './rate-limit';

/** How long a connection we refused a body on may linger so the client can read our answer. */
export const LINGER_MS = 500;
/** Unread bodies up to this size are drained (keeping the connection); larger ones close it. */
const SMALL_BODY_BYTES = 64 * 1024;
const V2_MORE_INFO = 'https://cloud.ibm.com/apidocs/event-streams/restproducer_v2';
export const TOO_LARGE_MESSAGE = 'Error parsing JSON message: http: request body too large';
const TX_ID_RE = /^[\x21-\x7e]{1,128}$/;
const PLUS_RE = /\+/g;
const EMPTY = Buffer.alloc(0);

/** Requests served per route family; `other` is 404s, 405s and health. */
export interface RequestCounts {
  produce: number;
  admin: number;
  iam: number;
  other: number;
}

/** The error-body shape a route answers in (and so the shape a fault answers in). */
export type Shape = 'v1' | 'v2' | 'admin' | 'iam';

/**
 * The server's state that routes need, built once by LocalServer. Only `baseUrl` changes (set once
 * the server listens, for admin Link headers).
 */
export interface ServerDeps {
  readonly backend: Backend;
  readonly auth: Authenticator;
  readonly tokens: TokenStore;
  readonly faults: FaultInjector;
  /** `--rate-limit`: produce requests per second, past which requests get 429 (none when undefined). */
  readonly rateLimit?: RateWindow;
  /** Prometheus metrics, when the gateway serves /metrics (./metrics.ts). */
  readonly metrics?: GatewayMetrics;
  readonly maxKeyBytes: number;
  readonly maxMessageBytes: number;
  readonly maxUriBytes: number;
  /** The `cloud` deployment: v2 produce exists, and an empty v1 body is 400 instead of on-prem's 411. */
  readonly cloud: boolean;
  readonly autoCreate: boolean;
  readonly defaultPartitions: number;
  /** Cache and HSTS headers of every admin answer. */
  readonly adminHeaders: OutgoingHttpHeaders;
  readonly counts: RequestCounts;
  /** Fault-latency timers, cleared on stop. */
  readonly timers: Set<NodeJS.Timeout>;
  readonly log: (line: string) => void;
  /** `--dev`: the /local inspection and fault routes exist (404 otherwise). */
  readonly dev: boolean;
  /**
   * The Schema Registry (routes/registry.ts, schema-conforming produce). A promise: on the Kafka
   * backend its state is read from Kafka in the background, so the endpoint starts as fast as before.
   */
  readonly registry: Promise<SchemaRegistry> | undefined;
  baseUrl: string;
}

/** One request as the router parsed it. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly deps: ServerDeps;
  readonly method: string;
  /** The raw request target, path and query. */
  readonly url: string;
  /** The path without the query and without one trailing slash. */
  readonly pathname: string;
  /** `pathname` split on '/': seg[0] is '' and the segments are still percent-encoded. */
  readonly seg: string[];
  /** The raw query string, without '?'. */
  readonly query: string;
  /** Set by {@link authenticate}: checked once per request even when the fault check needed it first. */
  auth?: { bearerOnly: boolean; result: Principal | AuthFailure };
}

/** The request's principal (or why there is none), computed once per request and mode. */
export function authenticate(ctx: RequestContext, bearerOnly = false): Principal | AuthFailure {
  const cached = ctx.auth;
  if (cached !== undefined && cached.bearerOnly === bearerOnly) return cached.result;
  const result = ctx.deps.auth.authenticate(ctx.req, bearerOnly);
  ctx.auth = { bearerOnly, result };
  return result;
}

// ---------------------------------------------------------------- decoding

/** Thrown by the query parser for a malformed percent-escape (decodeURIComponent's URIError). */
export class BadEncodingError extends Error {}

function decode(text: string): string {
  if (text.indexOf('%') < 0 && text.indexOf('+') < 0) return text;
  try {
    return decodeURIComponent(text.indexOf('+') < 0 ? text : text.replace(PLUS_RE, ' '));
  } catch {
    throw new BadEncodingError('Invalid percent-encoding');
  }
}

export function decodePathSegment(text: string): string {
  if (text.indexOf('%') < 0) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    throw new BadEncodingError('Invalid percent-encoding');
  }
}

/** Query or form parameters; the first occurrence of a name wins. Throws BadEncodingError. */
export function parseQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!query) return out;
  for (const part of query.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    if (!out.has(name)) out.set(name, eq < 0 ? '' : decode(part.slice(eq + 1)));
  }
  return out;
}

/** Parses a non-negative integer query parameter; undefined when absent, NaN when invalid. */
export function intParam(params: Map<string, string>, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === undefined || raw === '') return undefined;
  return /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
}

export function mediaType(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const semi = header.indexOf(';');
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
}

// ---------------------------------------------------------------- answers

export function jsonHeaders(length: number): OutgoingHttpHeaders {
  return { 'content-type': 'application/json', 'content-length': length };
}

export function send(res: ServerResponse, status: number, body: string, headers?: OutgoingHttpHeaders): void {
  if (res.headersSent || res.destroyed) return;
  const all = jsonHeaders(Buffer.byteLength(body));
  if (headers) Object.assign(all, headers);
  res.writeHead(status, all);
  res.end(body);
}

export function statusMessage(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/** The v1 REST Producer error body. */
export function v1Body(
  status: number,
  message: string,
  extra?: { topic?: string; kafka_error_code?: number },
): string {
  return JSON.stringify({ error: { error_code: status, message, ...extra } });
}

export function v1Error(
  res: ServerResponse,
  status: number,
  message: string,
  extra?: { topic?: string; kafka_error_code?: number },
  headers?: OutgoingHttpHeaders,
): void {
  send(res, status, v1Body(status, message, extra), headers);
}

/** The v2 (IBM API standards) error body. Codes other than `invalid_type` are our choice (GAP). */
export function v2Error(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  target: { type: 'field' | 'header' | 'parameter'; name: string },
  headers?: OutgoingHttpHeaders,
): void {
  const body = JSON.stringify({
    trace: randomUUID(),
    error: { code, message, more_info: V2_MORE_INFO, target },
  });
  send(res, status, body, headers);
}

export function v2CodeFor(status: number): string {
  return statusMessage(status)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_');
}

/** The IAM error body (also the shape of an IAM fault). */
export function iamError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: OutgoingHttpHeaders,
): void {
  send(
    res,
    status,
    JSON.stringify({ errorCode: code, errorMessage: message, context: { requestId: randomUUID() } }),
    headers,
  );
}

/** The caller's transaction id when it is a sane one, else a new one (echoed on admin answers). */
function transactionId(req: IncomingMessage): string {
  const given = req.headers['x-global-transaction-id'];
  return typeof given === 'string' && TX_ID_RE.test(given) ? given : randomUUID();
}

export function adminSend(
  ctx: RequestContext,
  status: number,
  body: string,
  extra?: OutgoingHttpHeaders,
): void {
  const headers: OutgoingHttpHeaders = {
    ...ctx.deps.adminHeaders,
    'x-global-transaction-id': transactionId(ctx.req),
  };
  if (extra) Object.assign(headers, extra);
  send(ctx.res, status, body, headers);
}

/**
 * The Admin REST error body. Its `error_code` is HHHKK: HTTP status then two digits meant to be a
 * Kafka error code (`kafka`). Only 40403, 42236 (Inferred) and 50301 appear in IBM's material; the
 * others follow the pattern.
 */
export function adminError(
  ctx: RequestContext,
  status: number,
  kafka: number,
  message: string,
  extra?: OutgoingHttpHeaders,
): void {
  const tx = transactionId(ctx.req);
  const headers: OutgoingHttpHeaders = { ...ctx.deps.adminHeaders, 'x-global-transaction-id': tx };
  if (extra) Object.assign(headers, extra);
  send(
    ctx.res,
    status,
    JSON.stringify({ error_code: status * 100 + kafka, message, incident_id: tx }),
    headers,
  );
}

/** A 405 in the family's shape; counted as `other` traffic. */
export function notAllowed(ctx: RequestContext, allow: string, admin: boolean): void {
  ctx.deps.counts.other++;
  if (admin) return adminError(ctx, 405, 0, 'Method Not Allowed', { allow });
  v1Error(ctx.res, 405, 'Method Not Allowed', undefined, { allow });
}

/** A bug or an unexpected backend failure: logged (message only), answered 500 or cut off. */
export function internalError(deps: ServerDeps, res: ServerResponse, err: unknown): void {
  deps.log(`local endpoint: internal error: ${err instanceof Error ? err.message : String(err)}`);
  if (res.headersSent) res.destroy();
  else v1Error(res, 500, 'Internal server error');
}

/** The HTTP status of a backend failure, from the one error model in lib/errors.ts. */
export function errorStatus(err: unknown): number {
  if (!isEventStreamsError(err)) return 500;
  switch (err.code) {
    case 'TOPIC_NOT_FOUND':
      return 404;
    case 'TOPIC_EXISTS':
      return 422;
    case 'AUTHORIZATION_FAILED':
      return 403;
    case 'UNAVAILABLE':
    case 'CONNECTION_FAILED':
      return 503;
    case 'TIMEOUT':
      return 408;
    case 'RATE_LIMITED':
      return 429;
    case 'UNSUPPORTED':
      return 501;
    // A Kafka topic whose max.message.bytes is below the record: the documented oversize answer.
    case 'PAYLOAD_TOO_LARGE':
      return 400;
    default:
      return err instanceof ValidationError || err.code.startsWith('INVALID') ? 400 : 500;
  }
}

// ---------------------------------------------------------------- bodies

interface BodyResult {
  body?: Buffer;
  tooLarge?: boolean;
  aborted?: boolean;
}

/**
 * Reads a request body up to `limit` bytes. A declared Content-Length over the limit is refused
 * before reading anything; a streamed body is counted and reading stops as soon as it passes the
 * limit, so an oversize body is never held in memory.
 */
function readBody(
  req: IncomingMessage,
  limit: number,
  done: (result: BodyResult) => void,
  crashed: (err: unknown) => void,
): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    done({ tooLarge: true });
    return;
  }
  let first: Buffer | undefined;
  let chunks: Buffer[] | undefined;
  let size = 0;
  let finished = false;
  const finish = (result: BodyResult): void => {
    if (finished) return;
    finished = true;
    req.removeListener('data', onData);
    req.removeListener('end', onEnd);
    req.removeListener('close', onClose);
    try {
      done(result);
    } catch (err) {
      crashed(err);
    }
  };
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size > limit) {
      first = undefined;
      chunks = undefined;
      finish({ tooLarge: true });
      return;
    }
    if (first === undefined) first = chunk;
    else if (chunks === undefined) chunks = [first, chunk];
    else chunks.push(chunk);
  };
  const onEnd = (): void => finish({ body: chunks ? Buffer.concat(chunks, size) : (first ?? EMPTY) });
  const onClose = (): void => finish({ aborted: true });
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('close', onClose);
}

/**
 * Reads the body up to `limit` and hands it to `next`. An aborted request gets no answer; an
 * oversize one gets `tooLarge()` on a connection marked to close (closeAfter); a throw from either
 * callback is an internal error.
 */
export function readRequestBody(
  ctx: RequestContext,
  limit: number,
  tooLarge: () => void,
  next: (body: Buffer) => void,
): void {
  const { req, res } = ctx;
  readBody(
    req,
    limit,
    (result) => {
      if (result.aborted) return;
      if (result.tooLarge) {
        closeAfter(res, req);
        return tooLarge();
      }
      next(result.body!);
    },
    (err) => internalError(ctx.deps, res, err),
  );
}

/**
 * Reads an admin JSON object body (at most ADMIN_MAX_BODY), answering the admin 400s itself. A
 * throw from `next` goes to `failed` (the caller's admin failure mapping).
 */
export function readJson(
  ctx: RequestContext,
  next: (body: Record<string, unknown>) => void,
  failed: (err: unknown) => void,
): void {
  readRequestBody(
    ctx,
    ADMIN_MAX_BODY,
    () => adminError(ctx, 400, 0, 'The request body is too large'),
    (raw) => {
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return adminError(ctx, 400, 0, 'The request body is not valid JSON');
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        return adminError(ctx, 400, 0, 'The request body must be a JSON object');
      }
      try {
        next(body as Record<string, unknown>);
      } catch (err) {
        failed(err);
      }
    },
  );
}

/**
 * After answering without reading the whole body (413, 400 for its size, 414). A body of at most
 * DISCARD_BODY_MAX_BYTES (declared, or chunked) is read and discarded after the answer and the
 * connection stays usable: a client still sending reads our answer instead of a reset. Reading
 * stops (the connection is destroyed) once the body passes that bound, takes longer than
 * DISCARD_BODY_MAX_MS or stops arriving for DISCARD_IDLE_MS. A body declared larger than the bound is not read: the connection is closed
 * shortly after the answer.
 */
export function closeAfter(res: ServerResponse, req: IncomingMessage): void {
  if (req.complete) return;
  const declared = req.headers['content-length'];
  if (
    req.headers['transfer-encoding'] === undefined &&
    (declared === undefined || Number(declared) <= SMALL_BODY_BYTES)
  ) {
    return;
  }
  const socket = req.socket;
  if (declared === undefined || Number(declared) <= DISCARD_BODY_MAX_BYTES) {
    const startBytes = socket.bytesRead;
    const stop = (): void => {
      clearInterval(check);
      clearTimeout(timer);
    };
    const cut = (): void => {
      stop();
      if (!req.complete) socket.destroy();
    };
    let seen = startBytes;
    let idleSince = Date.now();
    const check = setInterval(() => {
      const now = Date.now();
      if (socket.bytesRead !== seen) {
        seen = socket.bytesRead;
        idleSince = now;
      }
      // Too much, or a body that stopped arriving: nothing more to wait for.
      if (seen - startBytes > DISCARD_BODY_MAX_BYTES || now - idleSince > DISCARD_IDLE_MS) cut();
    }, 50);
    check.unref();
    const timer = setTimeout(cut, DISCARD_BODY_MAX_MS);
    timer.unref();
    req.once('end', stop);
    socket.once('close', stop);
    // Flowing without 'data' listeners: the rest of the body is read and dropped.
    req.resume();
    return;
  }
  res.setHeader('connection', 'close');
  res.once('finish', () => {
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}
