// SPDX-License-Identifier: Apache-2.0
/**
 * The local IBM Event Streams-compatible endpoint: REST Producer v1 (and v2 for the `cloud`
 * flavour), the Admin REST topic API, an IAM token exchange, health routes, record inspection and
 * fault injection, over node:https (or node:http with `tls: false`).
 *
 * The server is written against node:http directly (no framework) because it is also the far end
 * of the benchmarks: the v1 produce path on the memory backend avoids promises, regexes compiled
 * per request and JSON.stringify of whole objects.
 */
import { isUtf8 } from 'node:buffer';
import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';

import { type EventStreamsError, isEventStreamsError, UnavailableError, ValidationError } from '../errors';
import type { TopicDetail } from '../types';
import { Authenticator, type Principal } from './auth';
import { checkGlob, compileGlob } from '../glob';
import { ensureLocalCertificates } from './certs';
import { FaultInjector, type FaultAction, type RouteKind, validateFaults } from './faults';
import { APIKEY_GRANT_TYPE, TokenStore } from './iam';
import { MemoryBackend } from './memory-backend';
import type {
  Backend,
  FaultSpec,
  LocalEndpointInfo,
  LocalEndpointOptions,
  RecordToStore,
  StoredRecord,
} from './types';

/** A running local endpoint. */
export interface LocalEndpoint extends LocalEndpointInfo {
  port: number;
  /** PEM of the local CA (absent with `tls: false`). */
  caPem?: string;
  backend: Backend;
  /** Replaces the active faults. */
  setFaults(faults: FaultSpec[]): void;
  clearFaults(): void;
  /** Records as stored (memory backend). */
  readRecords(
    topic: string,
    options?: { partition?: number; from?: number; limit?: number },
  ): Promise<StoredRecord[]>;
  /** Count of requests served per route kind, for tests ("no retry storm"). `all` excludes /local routes. */
  requestCount(route?: 'produce' | 'admin' | 'iam' | 'all'): number;
  /** Closes the server, destroys keep-alive sockets, closes the backend. */
  stop(): Promise<void>;
}

/** Defaults of the documented limits (IBM Cloud fixed values; on-prem MAX_KEY_SIZE/MAX_MESSAGE_SIZE). */
export const DEFAULT_MAX_KEY_BYTES = 4096;
export const DEFAULT_MAX_MESSAGE_BYTES = 65536;
export const DEFAULT_MAX_URI_BYTES = 10240;
export const DEFAULT_PORT = 9443;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_TOKEN_LIFETIME_SEC = 3600;
/** OpenAPI `partition_count` maximum; IBM Cloud plans cap lower or higher, 422 past the cap. */
export const MAX_PARTITIONS = 1000;
/** Admin list page size when `per_page` is absent (undocumented by IBM; our choice). */
export const DEFAULT_PER_PAGE = 100;
export const MAX_PER_PAGE = 1000;
/** IBM Cloud allows topic names up to 200 characters (Kafka itself allows 249). */
export const MAX_TOPIC_NAME = 200;

/** The default state directory: CA, server certificate and the generated API key. */
export function defaultStateDir(): string {
  return path.join(os.homedir(), '.event-streams-local');
}

const ADMIN_MAX_BODY = 64 * 1024;
const IAM_MAX_BODY = 16 * 1024;
const LOCAL_READ_DEFAULT_LIMIT = 1000;
const LOCAL_READ_MAX_LIMIT = 100_000;
/** How long a connection we refused a body on may linger so the client can read our answer. */
const LINGER_MS = 500;
/** Unread bodies up to this size are drained (keeping the connection); larger ones close it. */
const SMALL_BODY_BYTES = 64 * 1024;
const V2_MORE_INFO = 'https://cloud.ibm.com/apidocs/event-streams/restproducer_v2';
const TOO_LARGE_MESSAGE = 'Error parsing JSON message: http: request body too large';
const UPDATABLE_CONFIGS = new Set([
  'cleanup.policy',
  'retention.ms',
  'retention.bytes',
  'segment.bytes',
  'segment.ms',
  'segment.index.bytes',
]);
const NUMERIC_CONFIGS = new Set([
  'retention.ms',
  'retention.bytes',
  'segment.bytes',
  'segment.ms',
  'segment.index.bytes',
]);
const CLEANUP_POLICIES = new Set(['delete', 'compact', 'delete,compact', 'compact,delete']);
const TOPIC_NAME_RE = /^[a-zA-Z0-9._-]+$/;
const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;
const INTEGER_RE = /^-?\d+$/;
const TX_ID_RE = /^[\x21-\x7e]{1,128}$/;
const PLUS_RE = /\+/g;
const EMPTY = Buffer.alloc(0);

type BodyKind = 'json' | 'binary' | 'text' | 'xml';
/** v1 content types, bare and with `application/` for the vendor types (both forms are seen in the wild). */
const CONTENT_TYPES = new Map<string, BodyKind>([
  ['text/plain', 'text'],
  ['application/json', 'json'],
  ['application/octet-stream', 'binary'],
  ['text/xml', 'xml'],
  ['application/xml', 'xml'],
  ['vnd.ibm-event-streams.json.v1', 'json'],
  ['vnd.ibm-event-streams.binary.v1', 'binary'],
  ['vnd.ibm-event-streams.text.v1', 'text'],
  ['application/vnd.ibm-event-streams.json.v1', 'json'],
  ['application/vnd.ibm-event-streams.binary.v1', 'binary'],
  ['application/vnd.ibm-event-streams.text.v1', 'text'],
]);

function mediaType(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const semi = header.indexOf(';');
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
}

function bodyKind(header: string | undefined): BodyKind | undefined {
  if (header === undefined) return undefined;
  return CONTENT_TYPES.get(header) ?? CONTENT_TYPES.get(mediaType(header)!);
}

/** Thrown by the query parser for a malformed percent-escape (decodeURIComponent's URIError). */
class BadEncodingError extends Error {}

function decode(text: string): string {
  if (text.indexOf('%') < 0 && text.indexOf('+') < 0) return text;
  try {
    return decodeURIComponent(text.indexOf('+') < 0 ? text : text.replace(PLUS_RE, ' '));
  } catch {
    throw new BadEncodingError('Invalid percent-encoding');
  }
}

function decodePathSegment(text: string): string {
  if (text.indexOf('%') < 0) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    throw new BadEncodingError('Invalid percent-encoding');
  }
}

/** Query or form parameters; the first occurrence of a name wins. Throws BadEncodingError. */
function parseQuery(query: string): Map<string, string> {
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

function jsonHeaders(length: number): http.OutgoingHttpHeaders {
  return { 'content-type': 'application/json', 'content-length': length };
}

function send(res: ServerResponse, status: number, body: string, headers?: http.OutgoingHttpHeaders): void {
  if (res.headersSent || res.destroyed) return;
  const all = jsonHeaders(Buffer.byteLength(body));
  if (headers) Object.assign(all, headers);
  res.writeHead(status, all);
  res.end(body);
}

/** The v1 REST Producer error body. */
function v1Body(
  status: number,
  message: string,
  extra?: { topic?: string; kafka_error_code?: number },
): string {
  return JSON.stringify({ error: { error_code: status, message, ...extra } });
}

function v1Error(
  res: ServerResponse,
  status: number,
  message: string,
  extra?: { topic?: string; kafka_error_code?: number },
  headers?: http.OutgoingHttpHeaders,
): void {
  send(res, status, v1Body(status, message, extra), headers);
}

/** The v2 (IBM API standards) error body. Codes other than `invalid_type` are our choice (GAP). */
function v2Error(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  target: { type: 'field' | 'header' | 'parameter'; name: string },
  headers?: http.OutgoingHttpHeaders,
): void {
  const body = JSON.stringify({
    trace: randomUUID(),
    error: { code, message, more_info: V2_MORE_INFO, target },
  });
  send(res, status, body, headers);
}

/**
 * Admin REST error codes are HHHKK: HTTP status then two digits meant to be a Kafka error code.
 * Only 40403, 42236 (Inferred) and 50301 appear in IBM's material; the others follow the pattern.
 */
function adminCode(status: number, kafka = 0): number {
  return status * 100 + kafka;
}

function statusMessage(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/** Messages of the documented statuses a fault can answer with. */
function faultMessage(status: number): string {
  switch (status) {
    case 408:
      return 'Request timed out producing to Kafka';
    case 429:
      return 'Too many requests';
    case 500:
      return 'Internal server error';
    case 503:
      return 'Service unavailable: Kafka brokers are not available';
    default:
      return statusMessage(status);
  }
}

function v2CodeFor(status: number): string {
  return statusMessage(status)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_');
}

function errorStatus(err: unknown): number {
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
    // A Kafka topic whose max.message.bytes is below the record: the documented oversize answer.
    case 'PAYLOAD_TOO_LARGE':
      return 400;
    default:
      return err instanceof ValidationError || err.code.startsWith('INVALID') ? 400 : 500;
  }
}

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
 * After answering without reading the whole body. Node drains a small unread body by itself and
 * keeps the connection alive; a large or unknown-length one would have to be read to the end, so
 * the connection is closed instead and destroyed shortly after the answer is written: a client
 * still sending a huge body cannot keep us reading it.
 */
function closeAfter(res: ServerResponse, req: IncomingMessage): void {
  if (req.complete) return;
  const declared = req.headers['content-length'];
  if (
    req.headers['transfer-encoding'] === undefined &&
    (declared === undefined || Number(declared) <= SMALL_BODY_BYTES)
  ) {
    return;
  }
  res.setHeader('connection', 'close');
  res.once('finish', () => {
    const socket = req.socket;
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}

function recordJson(r: StoredRecord): Record<string, unknown> {
  const enc = (b: Buffer): [string, 'utf8' | 'base64'] =>
    isUtf8(b) ? [b.toString('utf8'), 'utf8'] : [b.toString('base64'), 'base64'];
  const [value, valueEncoding] = enc(r.value);
  const key = r.key ? enc(r.key) : null;
  return {
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: key ? key[0] : null,
    keyEncoding: key ? key[1] : null,
    value,
    valueEncoding,
    headers: r.headers.map(([name, v]) => {
      const [hv, encoding] = enc(v);
      return { name, value: hv, encoding };
    }),
  };
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return isIP(host) === 6 ? `[${host}]` : host;
}

async function resolveApiKeys(options: LocalEndpointOptions, stateDir: string): Promise<string[]> {
  const given = (options.apiKeys ?? []).filter((k) => typeof k === 'string' && k.length > 0);
  if (given.length > 0) return given;
  const file = path.join(stateDir, 'api-key');
  try {
    const existing = (await fs.readFile(file, 'utf8')).trim();
    if (existing) return [existing];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  // 44 URL-safe characters, the shape of an IBM Cloud API key.
  const key = randomBytes(33).toString('base64url');
  try {
    await fs.writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
    return [key];
  } catch (err) {
    // Another process started at the same moment and wrote its key first: use that one.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return [(await fs.readFile(file, 'utf8')).trim()];
  }
}

interface ConfigEntry {
  name: string;
  value?: string;
  reset_to_default?: boolean;
}

/** `retentionMs` (legacy Admin REST object form) → `retention.ms`. */
function legacyConfigName(name: string): string {
  return name.includes('.') ? name : name.replace(/[A-Z]/g, (c) => `.${c.toLowerCase()}`);
}

/** Parses create/update `configs` (array of {name, value} or legacy object). Returns an error text on failure. */
function parseConfigs(raw: unknown, allowReset: boolean): ConfigEntry[] | { error: string; status: number } {
  if (raw === undefined || raw === null) return [];
  const out: ConfigEntry[] = [];
  const scalar = (v: unknown): v is string | number | boolean =>
    typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  if (Array.isArray(raw)) {
    for (const item of raw) {
      if (typeof item !== 'object' || item === null || typeof (item as ConfigEntry).name !== 'string') {
        return { error: 'Each config must be an object with a string name', status: 400 };
      }
      const { name, value, reset_to_default: reset } = item as Record<string, unknown>;
      if (allowReset && reset === true) out.push({ name: name as string, reset_to_default: true });
      else if (scalar(value)) out.push({ name: name as string, value: String(value) });
      else return { error: `Config '${String(name)}' needs a value`, status: 400 };
    }
  } else if (typeof raw === 'object') {
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      if (!scalar(value)) return { error: `Config '${name}' needs a value`, status: 400 };
      out.push({ name: legacyConfigName(name), value: String(value) });
    }
  } else {
    return { error: 'configs must be an array of {name, value}', status: 400 };
  }
  for (const c of out) {
    if (!UPDATABLE_CONFIGS.has(c.name)) return { error: `Config '${c.name}' cannot be set`, status: 422 };
    if (c.value === undefined) continue;
    if (NUMERIC_CONFIGS.has(c.name) && !INTEGER_RE.test(c.value)) {
      return { error: `Config '${c.name}' must be an integer`, status: 422 };
    }
    if (c.name === 'cleanup.policy' && !CLEANUP_POLICIES.has(c.value.replace(/\s+/g, ''))) {
      return { error: `Invalid cleanup.policy '${c.value}'`, status: 422 };
    }
  }
  return out;
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 ? value : undefined;
}

/** Parses a non-negative integer query parameter; undefined when absent, NaN when invalid. */
function intParam(params: Map<string, string>, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === undefined || raw === '') return undefined;
  return /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
}

class LocalServer {
  readonly server: http.Server;
  private readonly counts = { produce: 0, admin: 0, iam: 0, other: 0 };
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly memory?: MemoryBackend;
  private readonly maxKeyBytes: number;
  private readonly maxMessageBytes: number;
  private readonly maxUriBytes: number;
  private readonly cloud: boolean;
  private readonly autoCreate: boolean;
  private readonly defaultPartitions: number;
  private readonly adminHeaders: http.OutgoingHttpHeaders;
  baseUrl = '';

  constructor(
    options: LocalEndpointOptions,
    readonly backend: Backend,
    private readonly auth: Authenticator,
    private readonly tokens: TokenStore,
    readonly faults: FaultInjector,
    tls: { key: string; cert: string; ca: string } | undefined,
    private readonly log: (line: string) => void,
  ) {
    this.memory = backend instanceof MemoryBackend ? backend : undefined;
    this.maxKeyBytes = options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxUriBytes = options.maxUriBytes ?? DEFAULT_MAX_URI_BYTES;
    this.cloud = (options.flavour ?? 'cloud') === 'cloud';
    this.autoCreate = options.autoCreateTopics === true;
    this.defaultPartitions = options.defaultPartitions ?? 1;
    this.adminHeaders = { 'cache-control': 'no-cache, no-store', pragma: 'no-cache' };
    if (tls) this.adminHeaders['strict-transport-security'] = 'max-age=31536000; includeSubDomains';

    const handler = (req: IncomingMessage, res: ServerResponse): void => this.handle(req, res);
    // A URI up to maxUriBytes must reach us so that we can answer 414 ourselves, instead of the
    // parser's 431, so the header limit is raised above Node's 16 KiB default when needed.
    const common = {
      maxHeaderSize: Math.max(32 * 1024, this.maxUriBytes + 16 * 1024),
      noDelay: true,
      keepAlive: true,
    };
    this.server = tls
      ? https.createServer(
          {
            ...common,
            key: tls.key,
            cert: tls.cert,
            minVersion: 'TLSv1.2',
            ...(options.clientCertAuth
              ? // Certificates are requested, not required: callers without one still use keys or passwords.
                { requestCert: true, rejectUnauthorized: false, ca: [tls.ca] }
              : {}),
          },
          handler,
        )
      : http.createServer(common, handler);
    // Benchmarks keep connections idle between bursts; Node's 5 s default would churn them.
    this.server.keepAliveTimeout = 30_000;
    this.server.headersTimeout = 40_000;
    this.server.requestTimeout = 60_000;
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) =>
      this.clientError(err, socket),
    );
    // With `Expect: 100-continue` a body we would refuse for its declared size is not invited:
    // the client gets the 400 without sending it. Everything else gets the usual 100 Continue.
    const continueLimit = Math.max(this.maxMessageBytes, ADMIN_MAX_BODY);
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      if (!(Number(req.headers['content-length']) > continueLimit)) res.writeContinue();
      this.handle(req, res);
    });
    this.server.on('tlsClientError', () => {
      // Handshake failures (untrusted CA on the client side, plain HTTP to the TLS port) are the
      // client's problem; Node destroys the socket. The listener keeps them out of the logs.
    });
  }

  requestCount(route: 'produce' | 'admin' | 'iam' | 'all' = 'all'): number {
    if (route === 'all') return this.counts.produce + this.counts.admin + this.counts.iam + this.counts.other;
    return this.counts[route];
  }

  clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const current = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || current?.headersSent) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? 431
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT'
          ? 408
          : 400;
    const body = v1Body(status, status === 400 ? 'Malformed HTTP request' : statusMessage(status));
    socket.end(
      `HTTP/1.1 ${status} ${statusMessage(status)}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    req.on('error', () => req.socket.destroy());
    res.on('error', () => res.destroy());
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let pathname = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    if (pathname.length > 1 && pathname.charCodeAt(pathname.length - 1) === 47 /* / */) {
      pathname = pathname.slice(0, -1);
    }
    const seg = pathname.split('/');
    const method = req.method ?? 'GET';
    try {
      // Hot path first: POST /topics/{topic}/records.
      if (seg.length === 4 && seg[1] === 'topics' && seg[3] === 'records' && seg[0] === '') {
        if (method !== 'POST') return this.notAllowed(req, res, 'POST', false);
        this.counts.produce++;
        if (url.length > this.maxUriBytes) {
          closeAfter(res, req);
          return v1Error(res, 414, 'Request-URI Too Long');
        }
        const topic = decodePathSegment(seg[2]!);
        return this.withFault('produce', req, res, 'v1', () => this.produceV1(req, res, topic, query));
      }
      if (seg.length === 5 && seg[1] === 'v2' && seg[2] === 'topics' && seg[4] === 'records' && this.cloud) {
        if (method !== 'POST') return this.notAllowed(req, res, 'POST', false);
        this.counts.produce++;
        const topic = decodePathSegment(seg[3]!);
        return this.withFault('produce', req, res, 'v2', () => this.produceV2(req, res, topic, query));
      }
      if (seg[1] === 'admin' || pathname === '/alive') return this.routeAdmin(req, res, seg, method, query);
      if (pathname === '/identity/token') {
        if (method !== 'POST') return this.notAllowed(req, res, 'POST', false);
        this.counts.iam++;
        return this.withFault('iam', req, res, 'iam', () => this.iamToken(req, res));
      }
      if (seg[1] === 'local') return this.routeLocal(req, res, seg, method, query);
      this.counts.other++;
      v1Error(res, 404, 'Not Found');
    } catch (err) {
      if (err instanceof BadEncodingError) {
        closeAfter(res, req);
        if (pathname.startsWith('/admin'))
          return this.adminError(req, res, 400, 0, 'Invalid percent-encoding in the URL');
        return v1Error(res, 400, 'Invalid percent-encoding in the URL');
      }
      this.internalError(res, err);
    }
  }

  private internalError(res: ServerResponse, err: unknown): void {
    this.log(`local endpoint: internal error: ${err instanceof Error ? err.message : String(err)}`);
    if (res.headersSent) res.destroy();
    else v1Error(res, 500, 'Internal server error');
  }

  private notAllowed(req: IncomingMessage, res: ServerResponse, allow: string, admin: boolean): void {
    this.counts.other++;
    if (admin) return this.adminError(req, res, 405, 0, 'Method Not Allowed', { allow });
    v1Error(res, 405, 'Method Not Allowed', undefined, { allow });
  }

  /** Applies any matching fault, then runs `next` (unless the fault answered or dropped). */
  private withFault(
    kind: RouteKind,
    req: IncomingMessage,
    res: ServerResponse,
    shape: 'v1' | 'v2' | 'admin' | 'iam',
    next: () => void,
  ): void {
    const fault = this.faults.take(kind);
    if (!fault) return next();
    const apply = (): void => {
      if (res.destroyed) return;
      if (fault.drop) {
        req.socket.destroy();
        return;
      }
      if (fault.status === undefined) return next();
      this.faultAnswer(req, res, shape, fault);
    };
    if (fault.latencyMs > 0) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        try {
          apply();
        } catch (err) {
          this.internalError(res, err);
        }
      }, fault.latencyMs);
      this.timers.add(timer);
    } else {
      apply();
    }
  }

  private faultAnswer(
    req: IncomingMessage,
    res: ServerResponse,
    shape: 'v1' | 'v2' | 'admin' | 'iam',
    fault: FaultAction,
  ): void {
    const status = fault.status!;
    const headers: http.OutgoingHttpHeaders = {};
    if (fault.retryAfterSec !== undefined) headers['retry-after'] = String(fault.retryAfterSec);
    const message = faultMessage(status);
    switch (shape) {
      case 'v1':
        return v1Error(res, status, message, undefined, headers);
      case 'v2':
        return v2Error(
          res,
          status,
          v2CodeFor(status),
          message,
          { type: 'parameter', name: 'topic_name' },
          headers,
        );
      case 'admin':
        // 50301 "Unknown Kafka Error" is the documented Admin REST 503 body.
        return this.adminError(
          req,
          res,
          status,
          status === 503 ? 1 : 0,
          status === 503 ? 'Unknown Kafka Error' : message,
          headers,
        );
      case 'iam':
        return send(
          res,
          status,
          JSON.stringify({
            errorCode: 'BXNIM0001E',
            errorMessage: message,
            context: { requestId: randomUUID() },
          }),
          headers,
        );
    }
  }

  // ---------------------------------------------------------------- REST Producer v1

  private produceV1(req: IncomingMessage, res: ServerResponse, topic: string, query: string): void {
    const principal = this.auth.authenticate(req);
    if (typeof principal === 'string') {
      closeAfter(res, req);
      return v1Error(res, 401, 'Unauthorized');
    }
    if (!this.auth.mayProduce(principal, topic)) {
      closeAfter(res, req);
      return v1Error(res, 403, `Not authorized to produce to topic '${topic}'`, { topic });
    }
    const kind = bodyKind(req.headers['content-type']);
    if (kind === undefined) {
      closeAfter(res, req);
      return v1Error(res, 415, 'Unsupported content type');
    }
    let key: Buffer | null = null;
    let headers: Array<[string, Buffer]> = [];
    if (query) {
      const params = parseQuery(query);
      const keyText = params.get('key');
      const keyType = params.get('keyType') ?? 'text';
      if (keyType !== 'text' && keyType !== 'binary') {
        closeAfter(res, req);
        return v1Error(res, 400, `Invalid keyType '${keyType}': must be text or binary`);
      }
      if (keyText) {
        if (keyType === 'binary') {
          if (!HEX_RE.test(keyText)) {
            closeAfter(res, req);
            return v1Error(res, 400, 'A binary key must be base16 (hex) encoded');
          }
          key = Buffer.from(keyText, 'hex');
        } else {
          key = Buffer.from(keyText, 'utf8');
        }
        if (key.length > this.maxKeyBytes) {
          closeAfter(res, req);
          return v1Error(res, 400, TOO_LARGE_MESSAGE);
        }
      }
      const headerText = params.get('headers');
      if (headerText) {
        const parsed = this.parseV1Headers(headerText);
        if (typeof parsed === 'string') {
          closeAfter(res, req);
          return v1Error(res, 400, parsed);
        }
        headers = parsed;
      }
    }
    readBody(
      req,
      this.maxMessageBytes,
      (result) => {
        if (result.aborted) return;
        if (result.tooLarge) {
          closeAfter(res, req);
          return v1Error(res, 400, TOO_LARGE_MESSAGE);
        }
        const body = result.body!;
        if (body.length === 0) {
          return this.cloud
            ? v1Error(res, 400, 'The request body is empty')
            : v1Error(res, 411, 'The request did not contain any data');
        }
        if (kind === 'json') {
          try {
            JSON.parse(body.toString('utf8'));
          } catch {
            return v1Error(res, 400, 'Error parsing JSON message: invalid JSON');
          }
        }
        this.store(res, topic, { key, value: body, headers }, (err, r) => {
          if (err) return this.produceError(res, 'v1', topic, err);
          const json =
            '{"metadata":{"topic":' +
            JSON.stringify(topic) +
            ',"timestamp":"' +
            r!.timestamp +
            '","partition":' +
            r!.partition +
            ',"offset":' +
            r!.offset +
            '}}';
          send(res, 200, json);
        });
      },
      (err) => this.internalError(res, err),
    );
  }

  /** `name:hexvalue,...`; returns an error message on failure. */
  private parseV1Headers(text: string): Array<[string, Buffer]> | string {
    const out: Array<[string, Buffer]> = [];
    for (const item of text.split(',')) {
      if (!item) continue;
      const colon = item.indexOf(':');
      if (colon <= 0) return `Invalid header '${item}': expected name:hexvalue`;
      const value = item.slice(colon + 1);
      if (!HEX_RE.test(value))
        return `Invalid header '${item.slice(0, colon)}': the value must be base16 (hex) encoded`;
      out.push([item.slice(0, colon), Buffer.from(value, 'hex')]);
    }
    return out;
  }

  /** Stores a record; synchronous on the memory backend, with auto-creation when enabled. */
  private store(
    res: ServerResponse,
    topic: string,
    record: RecordToStore,
    done: (err: unknown, result?: { partition: number; offset: number; timestamp: number }) => void,
  ): void {
    const finish = (
      err: unknown,
      result?: { partition: number; offset: number; timestamp: number },
    ): void => {
      try {
        done(err, result);
      } catch (e) {
        this.internalError(res, e);
      }
    };
    if (this.memory) {
      if (this.autoCreate && !this.memory.hasTopic(topic) && this.validTopicName(topic)) {
        this.memory.createTopic(topic, this.defaultPartitions, []).catch(() => undefined);
      }
      let stored: StoredRecord;
      try {
        stored = this.memory.produceSync(topic, record);
      } catch (err) {
        return finish(err);
      }
      return finish(null, stored);
    }
    const attempt = (retry: boolean): void => {
      this.backend.produce(topic, record).then(
        (r) => finish(null, r),
        (err: unknown) => {
          if (
            retry &&
            this.autoCreate &&
            isEventStreamsError(err) &&
            err.code === 'TOPIC_NOT_FOUND' &&
            this.validTopicName(topic)
          ) {
            this.backend
              .createTopic(topic, this.defaultPartitions, [])
              .catch((e: unknown) => {
                if (!isEventStreamsError(e) || e.code !== 'TOPIC_EXISTS') throw e;
              })
              .then(
                () => attempt(false),
                (e: unknown) => finish(e),
              );
            return;
          }
          finish(err);
        },
      );
    };
    attempt(true);
  }

  private produceError(res: ServerResponse, shape: 'v1' | 'v2', topic: string, err: unknown): void {
    const status = errorStatus(err);
    if (status === 500)
      this.log(`local endpoint: produce failed: ${err instanceof Error ? err.message : String(err)}`);
    if (shape === 'v1') {
      if (status === 404) {
        return v1Error(res, 404, `Topic '${topic}' does not exist`, { topic, kafka_error_code: 3 });
      }
      return v1Error(
        res,
        status,
        status === 500 ? 'Internal server error' : (err as EventStreamsError).message,
      );
    }
    if (status === 404) {
      return v2Error(res, 404, 'topic_not_found', `Topic '${topic}' does not exist`, {
        type: 'parameter',
        name: 'topic_name',
      });
    }
    const message = status === 500 ? 'Internal server error' : (err as EventStreamsError).message;
    v2Error(res, status, v2CodeFor(status), message, { type: 'field', name: 'value' });
  }

  // ---------------------------------------------------------------- REST Producer v2

  private produceV2(req: IncomingMessage, res: ServerResponse, topic: string, query: string): void {
    const principal = this.auth.authenticate(req, true);
    if (typeof principal === 'string') {
      closeAfter(res, req);
      const message =
        principal === 'scheme'
          ? 'Only Bearer authentication (an IAM access token) is accepted'
          : principal === 'missing'
            ? 'Missing Authorization header'
            : 'Invalid or expired token';
      return v2Error(res, 401, 'unauthorized', message, { type: 'header', name: 'Authorization' });
    }
    if (!this.auth.mayProduce(principal, topic)) {
      closeAfter(res, req);
      return v2Error(res, 403, 'forbidden', `Not authorized to produce to topic '${topic}'`, {
        type: 'parameter',
        name: 'topic_name',
      });
    }
    if (mediaType(req.headers['content-type']) !== 'application/json') {
      closeAfter(res, req);
      return v2Error(res, 415, 'unsupported_media_type', 'Content-Type must be application/json', {
        type: 'header',
        name: 'Content-Type',
      });
    }
    const params = parseQuery(query);
    const confluent = params.get('serializer') === 'confluent';
    readBody(
      req,
      this.maxMessageBytes,
      (result) => {
        if (result.aborted) return;
        if (result.tooLarge) {
          closeAfter(res, req);
          return v2Error(res, 400, 'request_body_too_large', 'The request body is larger than 64 KB', {
            type: 'field',
            name: 'value',
          });
        }
        let envelope: unknown;
        try {
          envelope = JSON.parse(result.body!.toString('utf8'));
        } catch {
          return v2Error(res, 400, 'invalid_json', 'The request body is not valid JSON', {
            type: 'field',
            name: 'body',
          });
        }
        const record = this.parseEnvelope(envelope, confluent);
        if ('error' in record) {
          return v2Error(res, 400, record.code, record.error, { type: 'field', name: record.field });
        }
        this.store(res, topic, record, (err, r) => {
          if (err) return this.produceError(res, 'v2', topic, err);
          // The real v2 success body is undocumented (GAP); this shape is our choice.
          send(
            res,
            200,
            '{"topic":' +
              JSON.stringify(topic) +
              ',"partition":' +
              r!.partition +
              ',"offset":' +
              r!.offset +
              ',"timestamp":' +
              r!.timestamp +
              '}',
          );
        });
      },
      (err) => this.internalError(res, err),
    );
  }

  private parseEnvelope(
    envelope: unknown,
    confluent: boolean,
  ): RecordToStore | { error: string; code: string; field: string } {
    if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) {
      return { error: 'The request body must be a JSON object', code: 'invalid_type', field: 'body' };
    }
    const env = envelope as Record<string, unknown>;
    if (env.value === undefined || env.value === null) {
      return { error: "'value' field is required", code: 'invalid_type', field: 'value' };
    }
    const value = this.parseTypedData(env.value, 'value', confluent);
    if ('error' in value) return value;
    let key: Buffer | null = null;
    if (env.key !== undefined && env.key !== null) {
      const k = this.parseTypedData(env.key, 'key', confluent);
      if ('error' in k) return k;
      if (k.data.length > this.maxKeyBytes) {
        return {
          error: `The key is larger than ${this.maxKeyBytes} bytes`,
          code: 'invalid_value',
          field: 'key',
        };
      }
      key = k.data;
    }
    const headers: Array<[string, Buffer]> = [];
    if (env.headers !== undefined && env.headers !== null) {
      if (!Array.isArray(env.headers)) {
        return {
          error: "'headers' must be an array of {name, value}",
          code: 'invalid_type',
          field: 'headers',
        };
      }
      for (const h of env.headers as unknown[]) {
        const item = h as { name?: unknown; value?: unknown } | null;
        if (typeof item !== 'object' || item === null || typeof item.name !== 'string' || !item.name) {
          return { error: "Each header needs a string 'name'", code: 'invalid_type', field: 'name' };
        }
        const v = item.value ?? '';
        if (typeof v !== 'string' || !BASE64_RE.test(v)) {
          return {
            error: `Header '${item.name}' value must be base64`,
            code: 'invalid_value',
            field: 'value',
          };
        }
        headers.push([item.name, Buffer.from(v, 'base64')]);
      }
    }
    return { key, value: value.data, headers };
  }

  /** One `{type, data}` object of the v2 envelope. */
  private parseTypedData(
    raw: unknown,
    field: 'key' | 'value',
    confluent: boolean,
  ): { data: Buffer } | { error: string; code: string; field: string } {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      return { error: `'${field}' must be an object with 'type' and 'data'`, code: 'invalid_type', field };
    }
    const { type, data } = raw as { type?: unknown; data?: unknown };
    if (type === undefined || type === null) {
      return { error: `'type' field in '${field}' object is required`, code: 'invalid_type', field: 'type' };
    }
    const t = typeof type === 'string' ? type.toLowerCase() : '';
    if (data === undefined || data === null) {
      return { error: `'data' field in '${field}' object is required`, code: 'invalid_type', field: 'data' };
    }
    switch (t) {
      case 'text':
        if (typeof data !== 'string')
          return { error: `'data' of a text ${field} must be a string`, code: 'invalid_type', field: 'data' };
        return { data: Buffer.from(data, 'utf8') };
      case 'binary':
        if (typeof data !== 'string' || !BASE64_RE.test(data)) {
          return {
            error: `'data' of a binary ${field} must be base64`,
            code: 'invalid_value',
            field: 'data',
          };
        }
        return { data: Buffer.from(data, 'base64') };
      case 'json':
        // Documented as a string holding JSON; a JSON value given directly is accepted too (lenient).
        if (typeof data === 'string') {
          try {
            JSON.parse(data);
          } catch {
            return {
              error: `'data' of a json ${field} is not valid JSON`,
              code: 'invalid_value',
              field: 'data',
            };
          }
          return { data: Buffer.from(data, 'utf8') };
        }
        return { data: Buffer.from(JSON.stringify(data), 'utf8') };
      case 'avro':
        if (!confluent) {
          return {
            error: "Avro data needs the query parameter 'serializer=confluent'",
            code: 'invalid_value',
            field: 'type',
          };
        }
        // There is no schema registry here: the Avro JSON encoding is stored as given (our choice).
        return { data: Buffer.from(typeof data === 'string' ? data : JSON.stringify(data), 'utf8') };
      default:
        return {
          error: `'type' of '${field}' must be one of text, binary, json, avro`,
          code: 'invalid_type',
          field: 'type',
        };
    }
  }

  // ---------------------------------------------------------------- Admin REST

  private transactionId(req: IncomingMessage): string {
    const given = req.headers['x-global-transaction-id'];
    return typeof given === 'string' && TX_ID_RE.test(given) ? given : randomUUID();
  }

  private adminSend(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body: string,
    extra?: http.OutgoingHttpHeaders,
  ): void {
    const headers: http.OutgoingHttpHeaders = {
      ...this.adminHeaders,
      'x-global-transaction-id': this.transactionId(req),
    };
    if (extra) Object.assign(headers, extra);
    send(res, status, body, headers);
  }

  /** The documented admin 404 (`error_code` 40403) for a missing topic. */
  private topicNotFound(req: IncomingMessage, res: ServerResponse, topic: string): void {
    this.adminError(req, res, 404, 3, `topic '${topic}' does not exist`);
  }

  private adminError(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    kafka: number,
    message: string,
    extra?: http.OutgoingHttpHeaders,
  ): void {
    const tx = this.transactionId(req);
    const headers: http.OutgoingHttpHeaders = { ...this.adminHeaders, 'x-global-transaction-id': tx };
    if (extra) Object.assign(headers, extra);
    send(
      res,
      status,
      JSON.stringify({ error_code: adminCode(status, kafka), message, incident_id: tx }),
      headers,
    );
  }

  private routeAdmin(
    req: IncomingMessage,
    res: ServerResponse,
    seg: string[],
    method: string,
    query: string,
  ): void {
    const isGet = method === 'GET' || method === 'HEAD';
    if (seg.length === 2 && seg[1] === 'alive') {
      // Health needs no credentials (load balancers probe it) and ignores faults, so a health
      // check never consumes a fault meant for the API; it is not counted as admin traffic.
      if (!isGet) return this.notAllowed(req, res, 'GET, HEAD', true);
      this.counts.other++;
      return this.adminSend(req, res, 200, '{}');
    }
    let handler: ((p: Principal) => void) | undefined;
    let allow = '';
    if (seg.length === 3 && seg[2] === 'status') {
      allow = 'GET';
      if (isGet) handler = () => this.adminSend(req, res, 200, '{"status":"available"}');
    } else if (seg.length === 3 && seg[2] === 'topics') {
      allow = 'GET, POST';
      if (isGet) handler = () => this.listTopics(req, res, query);
      else if (method === 'POST') handler = () => this.createTopic(req, res);
    } else if (seg.length === 4 && seg[2] === 'topics') {
      allow = 'GET, PATCH, DELETE';
      const topic = decodePathSegment(seg[3]!);
      if (isGet) handler = () => this.getTopic(req, res, topic);
      else if (method === 'PATCH') handler = () => this.updateTopic(req, res, topic);
      else if (method === 'DELETE') handler = () => this.deleteTopic(req, res, topic);
    } else {
      this.counts.other++;
      return this.adminError(req, res, 404, 0, 'Not Found');
    }
    if (!handler) return this.notAllowed(req, res, allow, true);
    this.counts.admin++;
    const run = handler;
    this.withFault('admin', req, res, 'admin', () => {
      const principal = this.auth.authenticate(req);
      if (typeof principal === 'string') {
        closeAfter(res, req);
        return this.adminError(req, res, 401, 0, 'Unauthorized');
      }
      run(principal);
    });
  }

  private adminFailure(req: IncomingMessage, res: ServerResponse, topic: string, err: unknown): void {
    const status = errorStatus(err);
    if (status === 404) return this.topicNotFound(req, res, topic);
    if (status === 422) return this.adminError(req, res, 422, 36, `Topic '${topic}' already exists.`);
    if (status === 500) {
      this.log(`local endpoint: admin operation failed: ${err instanceof Error ? err.message : String(err)}`);
      return this.adminError(req, res, 500, 0, 'Internal server error');
    }
    if (status === 503) return this.adminError(req, res, 503, 1, 'Unknown Kafka Error');
    this.adminError(req, res, status, 0, (err as EventStreamsError).message);
  }

  private readJson(req: IncomingMessage, res: ServerResponse, next: (body: unknown) => void): void {
    readBody(
      req,
      ADMIN_MAX_BODY,
      (result) => {
        if (result.aborted) return;
        if (result.tooLarge) {
          closeAfter(res, req);
          return this.adminError(req, res, 400, 0, 'The request body is too large');
        }
        let body: unknown;
        try {
          body = JSON.parse(result.body!.toString('utf8'));
        } catch {
          return this.adminError(req, res, 400, 0, 'The request body is not valid JSON');
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          return this.adminError(req, res, 400, 0, 'The request body must be a JSON object');
        }
        try {
          next(body);
        } catch (err) {
          this.adminFailure(req, res, '', err);
        }
      },
      (err) => this.internalError(res, err),
    );
  }

  private validTopicName(name: string): boolean {
    return (
      name.length > 0 &&
      name.length <= MAX_TOPIC_NAME &&
      name !== '.' &&
      name !== '..' &&
      TOPIC_NAME_RE.test(name)
    );
  }

  private createTopic(req: IncomingMessage, res: ServerResponse): void {
    this.readJson(req, res, (raw) => {
      const body = raw as Record<string, unknown>;
      if (typeof body.name !== 'string' || body.name === '') {
        return this.adminError(req, res, 400, 0, "The 'name' field is required");
      }
      const name = body.name;
      if (!this.validTopicName(name)) {
        return this.adminError(
          req,
          res,
          422,
          17,
          `Invalid topic name '${name}': up to ${MAX_TOPIC_NAME} characters of a-z, A-Z, 0-9, '.', '_' and '-'`,
        );
      }
      // partition_count takes precedence over the legacy partitions field.
      const rawCount = body.partition_count ?? body.partitions ?? 1;
      const partitions = positiveInt(rawCount);
      if (partitions === undefined) {
        return this.adminError(req, res, 400, 37, 'The partition count must be a positive integer');
      }
      if (partitions > MAX_PARTITIONS) {
        return this.adminError(
          req,
          res,
          422,
          44,
          `The partition count ${partitions} exceeds the maximum of ${MAX_PARTITIONS} partitions`,
        );
      }
      const configs = parseConfigs(body.configs, false);
      if (!Array.isArray(configs))
        return this.adminError(req, res, configs.status, configs.status === 422 ? 40 : 0, configs.error);
      this.backend
        .createTopic(
          name,
          partitions,
          configs.map((c) => ({ name: c.name, value: c.value ?? '' })),
        )
        .then(
          () => this.adminSend(req, res, 202, '{}'),
          (err: unknown) => this.adminFailure(req, res, name, err),
        )
        .catch((err: unknown) => this.internalError(res, err));
    });
  }

  private listTopics(req: IncomingMessage, res: ServerResponse, query: string): void {
    const params = parseQuery(query);
    const page = intParam(params, 'page') ?? 1;
    const perPage = intParam(params, 'per_page') ?? DEFAULT_PER_PAGE;
    if (!(page >= 1) || !(perPage >= 1) || perPage > MAX_PER_PAGE) {
      return this.adminError(
        req,
        res,
        400,
        0,
        `page must be >= 1 and per_page between 1 and ${MAX_PER_PAGE}`,
      );
    }
    const filter = params.get('topic_filter');
    let matcher: ((name: string) => boolean) | undefined;
    if (filter) {
      const problem = checkGlob(filter);
      if (problem) return this.adminError(req, res, 400, 0, `topic_filter: ${problem}`);
      matcher = compileGlob(filter);
    }
    this.backend
      .listTopics()
      .then(
        (all) => {
          const topics = matcher ? all.filter((t) => matcher(t.name)) : all;
          const total = topics.length;
          const last = Math.max(1, Math.ceil(total / perPage));
          const items: TopicDetail[] = topics.slice((page - 1) * perPage, page * perPage);
          const link = (p: number, rel: string): string => {
            const qs = new URLSearchParams();
            if (filter) qs.set('topic_filter', filter);
            qs.set('per_page', String(perPage));
            qs.set('page', String(p));
            return `<${this.baseUrl}/admin/topics?${qs.toString()}>; rel="${rel}"`;
          };
          const links = [link(1, 'first'), link(last, 'last')];
          if (page < last) links.push(link(page + 1, 'next'));
          if (page > 1) links.push(link(Math.min(page - 1, last), 'prev'));
          this.adminSend(req, res, 200, JSON.stringify(items), {
            'x-total-count': String(total),
            link: links.join(', '),
          });
        },
        (err: unknown) => this.adminFailure(req, res, '', err),
      )
      .catch((err: unknown) => this.internalError(res, err));
  }

  private getTopic(req: IncomingMessage, res: ServerResponse, topic: string): void {
    this.backend
      .getTopic(topic)
      .then(
        (detail) => {
          if (!detail) return this.topicNotFound(req, res, topic);
          this.adminSend(req, res, 200, JSON.stringify(detail));
        },
        (err: unknown) => this.adminFailure(req, res, topic, err),
      )
      .catch((err: unknown) => this.internalError(res, err));
  }

  private updateTopic(req: IncomingMessage, res: ServerResponse, topic: string): void {
    this.readJson(req, res, (raw) => {
      const body = raw as Record<string, unknown>;
      this.backend
        .getTopic(topic)
        .then((detail) => {
          if (!detail) return this.topicNotFound(req, res, topic);
          let partitions: number | undefined;
          if (body.new_total_partition_count !== undefined) {
            partitions = positiveInt(body.new_total_partition_count);
            if (partitions === undefined || partitions <= detail.partitions) {
              return this.adminError(
                req,
                res,
                400,
                37,
                `The new total partition count must be an integer larger than the current ${detail.partitions}`,
              );
            }
            if (partitions > MAX_PARTITIONS) {
              return this.adminError(
                req,
                res,
                422,
                44,
                `The partition count exceeds the maximum of ${MAX_PARTITIONS}`,
              );
            }
          }
          const configs = parseConfigs(body.configs, true);
          if (!Array.isArray(configs)) {
            return this.adminError(req, res, configs.status, configs.status === 422 ? 40 : 0, configs.error);
          }
          return this.backend
            .updateTopic(topic, {
              ...(partitions !== undefined ? { partitions } : {}),
              ...(configs.length > 0 ? { configs } : {}),
            })
            .then(() => this.adminSend(req, res, 202, '{}'));
        })
        .catch((err: unknown) => this.adminFailure(req, res, topic, err))
        .catch((err: unknown) => this.internalError(res, err));
    });
  }

  private deleteTopic(req: IncomingMessage, res: ServerResponse, topic: string): void {
    this.backend
      .deleteTopic(topic)
      .then(
        (deleted) => {
          if (!deleted) return this.topicNotFound(req, res, topic);
          this.adminSend(req, res, 202, '{}');
        },
        (err: unknown) => this.adminFailure(req, res, topic, err),
      )
      .catch((err: unknown) => this.internalError(res, err));
  }

  // ---------------------------------------------------------------- IAM

  private iamError(res: ServerResponse, status: number, code: string, message: string): void {
    send(
      res,
      status,
      JSON.stringify({ errorCode: code, errorMessage: message, context: { requestId: randomUUID() } }),
      {
        'cache-control': 'no-store',
      },
    );
  }

  private iamToken(req: IncomingMessage, res: ServerResponse): void {
    readBody(
      req,
      IAM_MAX_BODY,
      (result) => {
        if (result.aborted) return;
        if (result.tooLarge) {
          closeAfter(res, req);
          return this.iamError(res, 413, 'BXNIM0413E', 'Request body too large');
        }
        const text = result.body!.toString('utf8');
        let params: Map<string, string>;
        try {
          if (mediaType(req.headers['content-type']) === 'application/json') {
            // IAM wants a form body; JSON is accepted too because it costs nothing (lenient).
            const json = JSON.parse(text) as Record<string, unknown>;
            params = new Map(
              Object.entries(json ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'),
            );
          } else {
            params = parseQuery(text);
          }
        } catch {
          return this.iamError(res, 400, 'BXNIM0109E', 'Property missing or empty.');
        }
        const grant = params.get('grant_type');
        if (grant !== APIKEY_GRANT_TYPE) {
          // The exact IAM code for an unsupported grant is a GAP; this one is plausible.
          return this.iamError(res, 400, 'BXNIM0103E', 'Unsupported grant type.');
        }
        const apikey = params.get('apikey');
        if (!apikey) return this.iamError(res, 400, 'BXNIM0109E', 'Property missing or empty: apikey.');
        const principal = this.auth.apiKey(apikey);
        if (!principal) return this.iamError(res, 400, 'BXNIM0415E', 'Provided API key could not be found');
        send(res, 200, JSON.stringify(this.tokens.issue(principal.id)), {
          'cache-control': 'no-store',
          pragma: 'no-cache',
        });
      },
      (err) => this.internalError(res, err),
    );
  }

  // ---------------------------------------------------------------- /local

  private routeLocal(
    req: IncomingMessage,
    res: ServerResponse,
    seg: string[],
    method: string,
    query: string,
  ): void {
    let allow = '';
    let handler: (() => void) | undefined;
    if (seg.length === 5 && seg[2] === 'topics' && seg[4] === 'records') {
      allow = 'GET';
      const topic = decodePathSegment(seg[3]!);
      if (method === 'GET') handler = () => this.localRecords(res, topic, query);
    } else if (seg.length === 3 && seg[2] === 'faults') {
      allow = 'GET, POST, DELETE';
      if (method === 'GET') handler = () => send(res, 200, JSON.stringify(this.faults.list()));
      else if (method === 'POST') handler = () => this.postFaults(req, res);
      else if (method === 'DELETE') {
        handler = () => {
          this.faults.clear();
          send(res, 200, '[]');
        };
      }
    } else {
      return v1Error(res, 404, 'Not Found');
    }
    if (!handler) return v1Error(res, 405, 'Method Not Allowed', undefined, { allow });
    if (typeof this.auth.authenticate(req) === 'string') {
      closeAfter(res, req);
      return v1Error(res, 401, 'Unauthorized');
    }
    handler();
  }

  private localRecords(res: ServerResponse, topic: string, query: string): void {
    const params = parseQuery(query);
    const partition = intParam(params, 'partition');
    const from = intParam(params, 'from');
    const limit = intParam(params, 'limit') ?? LOCAL_READ_DEFAULT_LIMIT;
    if (Number.isNaN(partition) || Number.isNaN(from) || !(limit >= 0) || limit > LOCAL_READ_MAX_LIMIT) {
      return v1Error(
        res,
        400,
        `partition, from and limit must be non-negative integers (limit <= ${LOCAL_READ_MAX_LIMIT})`,
      );
    }
    if (!this.backend.readRecords) {
      return v1Error(res, 501, 'Record inspection needs the memory backend; read the Kafka topic instead');
    }
    this.backend
      .readRecords(topic, {
        ...(partition !== undefined ? { partition } : {}),
        ...(from !== undefined ? { from } : {}),
        limit,
      })
      .then(
        (records) => send(res, 200, JSON.stringify(records.map(recordJson))),
        (err: unknown) => {
          if (errorStatus(err) === 404) {
            return v1Error(res, 404, `Topic '${topic}' does not exist`, { topic, kafka_error_code: 3 });
          }
          this.internalError(res, err);
        },
      )
      .catch((err: unknown) => this.internalError(res, err));
  }

  private postFaults(req: IncomingMessage, res: ServerResponse): void {
    readBody(
      req,
      ADMIN_MAX_BODY,
      (result) => {
        if (result.aborted) return;
        if (result.tooLarge) {
          closeAfter(res, req);
          return v1Error(res, 400, TOO_LARGE_MESSAGE);
        }
        try {
          const faults = validateFaults(JSON.parse(result.body!.toString('utf8')));
          this.faults.set(faults);
        } catch (err) {
          return v1Error(
            res,
            400,
            err instanceof SyntaxError ? 'The body is not valid JSON' : (err as Error).message,
          );
        }
        send(res, 200, JSON.stringify(this.faults.list()));
      },
      (err) => this.internalError(res, err),
    );
  }
}

/**
 * Starts the local endpoint and resolves once it listens. With TLS (the default) the CA and server
 * certificate come from (and are kept in) `stateDir`; without `apiKeys` a generated key is kept
 * there too (`api-key`, mode 0600), so restarts keep both.
 */
export async function startLocalEndpoint(options: LocalEndpointOptions = {}): Promise<LocalEndpoint> {
  const log = options.log ?? ((): void => undefined);
  const stateDir = options.stateDir ?? defaultStateDir();
  const useTls = options.tls !== false;
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;

  const apiKeys = await resolveApiKeys(options, stateDir);
  const certs = useTls ? await ensureLocalCertificates(stateDir, options.hostnames ?? []) : undefined;

  let backend: Backend;
  if (options.kafka) {
    // Loaded on demand so that memory-only use (tests, the CLI's default) never loads kafkajs.
    const { KafkaBackend } = await import('./kafka-backend');
    const kafka = new KafkaBackend(options.kafka, log);
    await kafka.connect();
    backend = kafka;
  } else {
    backend = new MemoryBackend(options.memory);
  }

  const tokens = new TokenStore(options.tokenLifetimeSec ?? DEFAULT_TOKEN_LIFETIME_SEC);
  const auth = new Authenticator({
    apiKeys,
    ...(options.users ? { users: options.users } : {}),
    tokens,
    ...(options.clientCertAuth ? { clientCertAuth: true } : {}),
    ...(options.producePermissions ? { producePermissions: options.producePermissions } : {}),
    ...(options.forbiddenTopics ? { forbiddenTopics: options.forbiddenTopics } : {}),
  });
  const faults = new FaultInjector();
  if (options.faults) faults.set(options.faults);

  const local = new LocalServer(
    options,
    backend,
    auth,
    tokens,
    faults,
    certs ? { key: certs.server.key, cert: certs.server.cert, ca: certs.ca.cert } : undefined,
    log,
  );

  try {
    for (const t of options.topics ?? []) {
      try {
        await backend.createTopic(t.name, t.partitions ?? 1, []);
      } catch (err) {
        if (!isEventStreamsError(err) || err.code !== 'TOPIC_EXISTS') throw err;
      }
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      local.server.once('error', onError);
      local.server.listen(port, host, () => {
        local.server.removeListener('error', onError);
        resolve();
      });
    });
  } catch (err) {
    local.server.close();
    await backend.close().catch(() => undefined);
    throw err;
  }
  local.server.on('error', (err) => log(`local endpoint: server error: ${err.message}`));

  const address = local.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const url = `${useTls ? 'https' : 'http'}://${hostForUrl(host)}:${boundPort}`;
  local.baseUrl = url;
  log(
    `event-streams-local listening on ${url} (${backend.kind} backend, ${options.flavour ?? 'cloud'} flavour)`,
  );

  let stopping: Promise<void> | undefined;
  const endpoint: LocalEndpoint = {
    url,
    adminUrl: url,
    iamUrl: `${url}/identity/token`,
    apiKey: apiKeys[0]!,
    ...(certs ? { caFile: certs.caFile, caPem: certs.ca.cert } : {}),
    port: boundPort,
    backend,
    setFaults: (list) => faults.set(list),
    clearFaults: () => faults.clear(),
    readRecords: async (topic, readOptions = {}) => {
      if (!backend.readRecords) throw new UnavailableError('Record inspection needs the memory backend');
      return backend.readRecords(topic, readOptions);
    },
    requestCount: (route) => local.requestCount(route),
    stop: () => {
      stopping ??= (async () => {
        local.clearTimers();
        const closed = new Promise<void>((resolve) => local.server.close(() => resolve()));
        local.server.closeAllConnections();
        await closed;
        tokens.clear();
        await backend.close();
        log('event-streams-local stopped');
      })();
      return stopping;
    },
  };
  return endpoint;
}
