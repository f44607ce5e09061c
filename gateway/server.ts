// SPDX-License-Identifier: Apache-2.0
/**
 * The local IBM Event Streams-compatible endpoint: REST Producer v1 (and v2 for the `cloud`
 * deployment), the Admin REST topic API, an IAM token exchange, health routes, record inspection and
 * fault injection, over node:https (or node:http with `tls: false`).
 *
 * This file makes the server, listens and stops, and routes each request by method and path to a
 * route module in ./routes (produce, admin, iam, dev). The routes share ./http.ts (request context,
 * answers, body readers) and get the server's state through one ServerDeps object.
 *
 * The server is written against node:http directly (no framework) because it is also the far end
 * of the benchmarks: the v1 produce path on the memory backend avoids promises, regexes compiled
 * per request and JSON.stringify of whole objects.
 * Over 500 lines because it is the one place for connection hygiene, dispatch by API family,
 * faults, metrics and start/stop; each family's handlers are in routes/.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';

import { gatewayRequest, type GatewayRequestMessage, isEventStreamsError } from '../lib/server-kit';
import { Authenticator } from './auth';
import { ensureLocalCertificates } from './certs';
import { FaultInjector } from './faults';
import { RateWindow } from './rate-limit';
import {
  adminError,
  authenticate,
  BadEncodingError,
  closeAfter,
  decodePathSegment,
  internalError,
  LINGER_MS,
  notAllowed,
  type RequestContext,
  type ServerDeps,
  statusMessage,
  v1Body,
  v1Error,
} from './http';
import { TokenStore } from './iam';
import {
  ADMIN_MAX_BODY,
  MAX_BATCH_BODY,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_HOST,
  DEFAULT_MAX_KEY_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_URI_BYTES,
  DEFAULT_PORT,
  DEFAULT_TOKEN_LIFETIME_SEC,
  MAX_CONNECTION_BUFFERED_BYTES,
  MAX_PIPELINED,
  TLS_CIPHERS,
} from './limits';
import { MemoryBackend } from './memory-backend';
import { createGatewayMetrics, type GatewayMetrics, type MetricsRoute } from './metrics';
import { routeAdmin } from './routes/admin';
import { routeLocal, withFault } from './routes/dev';
import { iamKeys, iamToken } from './routes/iam';
import { produceBatch } from './routes/batch';
import { produceV1, produceV2 } from './routes/produce';
import { isRegistryPath, routeRegistry } from './routes/registry';
import { type RegistryLog, SchemaRegistry } from './registry';
import { FileRegistryLog, KafkaRegistryLog } from './registry-store';
import type { Backend, FaultSpec, LocalEndpointInfo, LocalEndpointOptions, StoredRecord } from './types';

// The public constants moved to ./limits.ts; the CLI and tests import them from here.
export {
  DEFAULT_HOST,
  DEFAULT_MAX_KEY_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_URI_BYTES,
  DEFAULT_PER_PAGE,
  DEFAULT_PORT,
  DEFAULT_TOKEN_LIFETIME_SEC,
  MAX_PARTITIONS,
  MAX_PER_PAGE,
  MAX_TOPIC_NAME,
} from './limits';

/** Per-connection state the router keeps on the socket. */
type PipelinedSocket = IncomingMessage['socket'] & { esSpoke?: true; esWaiting?: number };

/** A running local endpoint. */
export interface LocalEndpoint extends LocalEndpointInfo {
  port: number;
  /** PEM of the local CA (absent with `tls: false`). */
  caPem?: string;
  backend: Backend;
  /** Replaces the active faults. */
  setFaults(faults: FaultSpec[]): void;
  clearFaults(): void;
  /** Records as stored (memory backend; the Kafka backend rejects with UNSUPPORTED). */
  readRecords(
    topic: string,
    options?: { partition?: number; from?: number; limit?: number },
  ): Promise<StoredRecord[]>;
  /** Count of requests served per route kind, for tests ("no retry storm"). `all` excludes /local routes. */
  requestCount(route?: 'produce' | 'admin' | 'iam' | 'all'): number;
  /** Closes the server, destroys keep-alive sockets, closes the backend. */
  stop(): Promise<void>;
}

/** The default state directory: CA, server certificate and the generated API key. */
/** `deployment`, or its deprecated name `flavour`; `cloud` when neither is set. */
export function deploymentOf(options: LocalEndpointOptions): 'cloud' | 'onprem' {
  return options.deployment ?? options.flavour ?? 'cloud';
}

export function defaultStateDir(): string {
  return path.join(os.homedir(), '.event-streams-local');
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

class LocalServer {
  readonly server: http.Server;
  readonly deps: ServerDeps;

  constructor(
    options: LocalEndpointOptions,
    backend: Backend,
    auth: Authenticator,
    tokens: TokenStore,
    faults: FaultInjector,
    tls: { key: string; cert: string; ca: string } | undefined,
    log: (line: string) => void,
    registry?: Promise<SchemaRegistry>,
  ) {
    // Created before the server so the open-connections gauge can ask it; prom-client is loaded
    // only here, when metrics are on.
    const metrics = options.metrics
      ? createGatewayMetrics(() => this.server, typeof options.metrics === 'object' ? options.metrics : {})
      : undefined;
    // A backend that sends batches (Kafka) reports each one (records per Kafka produce request).
    if (metrics) backend.onBatch = (n) => metrics.kafkaBatch(n);
    const adminHeaders: OutgoingHttpHeaders = { 'cache-control': 'no-cache, no-store', pragma: 'no-cache' };
    if (tls) adminHeaders['strict-transport-security'] = 'max-age=31536000; includeSubDomains';
    this.deps = {
      backend,
      ...(metrics ? { metrics } : {}),
      auth,
      tokens,
      faults,
      ...(options.rateLimit !== undefined && options.rateLimit > 0
        ? { rateLimit: new RateWindow(options.rateLimit) }
        : {}),
      maxKeyBytes: options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      maxUriBytes: options.maxUriBytes ?? DEFAULT_MAX_URI_BYTES,
      cloud: deploymentOf(options) === 'cloud',
      autoCreate: options.autoCreateTopics === true,
      defaultPartitions: options.defaultPartitions ?? 1,
      adminHeaders,
      counts: { produce: 0, admin: 0, iam: 0, other: 0 },
      timers: new Set<NodeJS.Timeout>(),
      log,
      dev: options.dev === true,
      registry,
      baseUrl: '',
    };

    const handler = (req: IncomingMessage, res: ServerResponse): void => this.handle(req, res);
    const conn = options.connections ?? {};
    const limit = (v: number | undefined, fallback: number): number =>
      typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback;
    const handshakeTimeout = limit(conn.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS);
    const idleTimeout = limit(conn.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS);
    const headersTimeout = limit(conn.headersTimeoutMs, DEFAULT_HEADERS_TIMEOUT_MS);
    const requestTimeout = Math.max(headersTimeout, limit(conn.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS));
    // A URI up to maxUriBytes must reach us so that we can answer 414 ourselves, instead of the
    // parser's 431, so the header limit is raised above Node's 16 KiB default when needed.
    const common = {
      maxHeaderSize: Math.max(32 * 1024, this.deps.maxUriBytes + 16 * 1024),
      noDelay: true,
      keepAlive: true,
      // headersTimeout and requestTimeout are enforced by this periodic check (Node's default
      // 30 s would let a slow sender hold a socket that much longer than the timeout says).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, headersTimeout / 4)),
    };
    this.server = tls
      ? https.createServer(
          {
            ...common,
            key: tls.key,
            cert: tls.cert,
            minVersion: 'TLSv1.2',
            // TLS 1.2: forward-secret AEAD suites only (no RSA key exchange, no CBC).
            ciphers: TLS_CIPHERS,
            honorCipherOrder: true,
            // A socket that never completes the handshake (or never starts it) is dropped.
            handshakeTimeout,
            ...(options.clientCertAuth
              ? // Certificates are requested, not required: callers without one still use keys or passwords.
                { requestCert: true, rejectUnauthorized: false, ca: [tls.ca] }
              : {}),
          },
          handler,
        )
      : http.createServer(common, handler);
    this.server.keepAliveTimeout = limit(conn.keepAliveTimeoutMs, DEFAULT_KEEP_ALIVE_TIMEOUT_MS);
    this.server.headersTimeout = headersTimeout;
    this.server.requestTimeout = requestTimeout;
    // Past the cap Node closes new sockets at once, so a flood of idle sockets cannot use up the
    // process's file descriptors for the callers that do send requests.
    this.server.maxConnections = Math.floor(limit(conn.maxConnections, DEFAULT_MAX_CONNECTIONS));
    // Node times out headers only once a request has begun: a socket that connects (after the TLS
    // handshake) and sends nothing would stay open forever. Until its first request it gets an
    // inactivity timeout; after that Node's keep-alive and request timeouts take over.
    this.server.on(
      tls ? 'secureConnection' : 'connection',
      (socket: Duplex & { setTimeout(ms: number): void }) => {
        socket.setTimeout(idleTimeout);
      },
    );
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) =>
      this.clientError(err, socket),
    );
    // With `Expect: 100-continue` a body we would refuse for its declared size is not invited:
    // the client gets the 400 without sending it. Everything else gets the usual 100 Continue.
    const continueLimit = Math.max(this.deps.maxMessageBytes, ADMIN_MAX_BODY);
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      const limit = req.url?.split('?')[0]?.endsWith('/batch') ? MAX_BATCH_BODY : continueLimit;
      if (!(Number(req.headers['content-length']) > limit)) res.writeContinue();
      this.handle(req, res);
    });
    this.server.on('tlsClientError', () => {
      // Handshake failures (untrusted CA on the client side, plain HTTP to the TLS port) are the
      // client's problem; Node destroys the socket. The listener keeps them out of the logs.
    });
  }

  requestCount(route: 'produce' | 'admin' | 'iam' | 'all' = 'all'): number {
    const counts = this.deps.counts;
    if (route === 'all') return counts.produce + counts.admin + counts.iam + counts.other;
    return counts[route];
  }

  clearTimers(): void {
    for (const t of this.deps.timers) clearTimeout(t);
    this.deps.timers.clear();
  }

  /** Requests the HTTP parser refused (malformed, headers too large, too slow): a v1 body, then close. */
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

  /**
   * The router. Each route family is matched on its path, counted, and run through withFault
   * (except /alive and /local) before its module authenticates and answers. A new family goes here:
   * match its path, count it, pick its fault kind and error shape, call its module.
   */
  private handle(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket as PipelinedSocket;
    if (socket.esSpoke === undefined) {
      // The socket's first request: the before-first-request timeout is done (see the constructor).
      socket.esSpoke = true;
      socket.setTimeout(0);
    }
    // Before any waiting below: a request aborted while it waits must not be an unhandled error.
    req.on('error', () => req.socket.destroy());
    res.on('error', () => res.destroy());
    if (gatewayRequest.hasSubscribers) publishRequest(req, res);
    // A pipelined request (an earlier answer on this connection is still being written) has no
    // socket yet. Its answer would be built now and held in memory until the client reads the
    // earlier ones, so it waits, and past MAX_PIPELINED waiting requests the connection is not
    // read: a client that pipelines and never reads holds about one answer, not hundreds.
    if (res.socket === null || socket.writableLength > MAX_CONNECTION_BUFFERED_BYTES) {
      socket.esWaiting = (socket.esWaiting ?? 0) + 1;
      if (socket.esWaiting > MAX_PIPELINED && !socket.isPaused()) socket.pause();
      const go = (): void => {
        socket.esWaiting!--;
        if (socket.esWaiting! <= MAX_PIPELINED && socket.isPaused() && !socket.destroyed) socket.resume();
        this.route(req, res);
      };
      const whenDrained = (): void => {
        if (socket.destroyed) return;
        if (socket.writableLength > MAX_CONNECTION_BUFFERED_BYTES) socket.once('drain', whenDrained);
        else go();
      };
      if (res.socket === null) res.once('socket', whenDrained);
      else whenDrained();
      return;
    }
    this.route(req, res);
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let pathname = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    if (pathname.length > 1 && pathname.charCodeAt(pathname.length - 1) === 47 /* / */) {
      pathname = pathname.slice(0, -1);
    }
    const seg = pathname.split('/');
    const method = req.method ?? 'GET';
    const deps = this.deps;
    // `auth` starts undefined so every context has one shape (authenticate fills it in).
    const ctx: RequestContext = { req, res, deps, method, url, pathname, seg, query, auth: undefined };
    if (deps.metrics) observe(ctx, deps.metrics);
    try {
      // Hot path first: POST /topics/{topic}/records.
      if (seg.length === 4 && seg[1] === 'topics' && seg[3] === 'records' && seg[0] === '') {
        if (method !== 'POST') return notAllowed(ctx, 'POST', false);
        deps.counts.produce++;
        if (url.length > deps.maxUriBytes) {
          closeAfter(res, req);
          return v1Error(res, 414, 'Request-URI Too Long');
        }
        const topic = decodePathSegment(seg[2]!);
        return withFault(ctx, 'produce', 'v1', () => produceV1(ctx, topic));
      }
      if (seg.length === 5 && seg[1] === 'v2' && seg[2] === 'topics' && seg[4] === 'records' && deps.cloud) {
        if (method !== 'POST') return notAllowed(ctx, 'POST', false);
        deps.counts.produce++;
        const topic = decodePathSegment(seg[3]!);
        return withFault(ctx, 'produce', 'v2', () => produceV2(ctx, topic), true);
      }
      // Gateway extension (routes/batch.ts): many v2 envelopes in one request.
      if (seg.length === 5 && seg[1] === 'v2' && seg[2] === 'topics' && seg[4] === 'batch' && deps.cloud) {
        if (method !== 'POST') return notAllowed(ctx, 'POST', false);
        deps.counts.produce++;
        const topic = decodePathSegment(seg[3]!);
        return withFault(ctx, 'produce', 'v2', () => produceBatch(ctx, topic), true);
      }
      if (seg[1] === 'admin' || pathname === '/alive') return routeAdmin(ctx);
      if (pathname === '/identity/token') {
        if (method !== 'POST') return notAllowed(ctx, 'POST', false);
        deps.counts.iam++;
        return iamToken(ctx);
      }
      if (pathname === '/identity/keys') {
        if (method !== 'GET') return notAllowed(ctx, 'GET', false);
        deps.counts.iam++;
        return iamKeys(ctx);
      }
      if (seg[1] === 'local') return routeLocal(ctx);
      if (isRegistryPath(pathname)) return routeRegistry(ctx);
      if (pathname === '/metrics' && deps.metrics) return serveMetrics(ctx, deps.metrics);
      deps.counts.other++;
      v1Error(res, 404, 'Not Found');
    } catch (err) {
      if (err instanceof BadEncodingError) {
        closeAfter(res, req);
        if (pathname.startsWith('/admin'))
          return adminError(ctx, 400, 0, 'Invalid percent-encoding in the URL');
        return v1Error(res, 400, 'Invalid percent-encoding in the URL');
      }
      internalError(deps, res, err);
    }
  }
}

/** The API family of a request path, for the `gateway:request` channel (never the raw path). */
function routeKind(pathname: string): string {
  const seg = pathname.split('/');
  if (seg[seg.length - 1] === 'records' && (seg[1] === 'topics' || seg[2] === 'topics')) return 'produce';
  if (seg[1] === 'admin' || pathname === '/alive') return 'admin';
  if (pathname === '/identity/token') return 'iam';
  if (seg[1] === 'local') return 'local';
  if (isRegistryPath(pathname)) return 'registry';
  return 'other';
}

/** Publishes one `gateway:request` message when the answer is sent (only while subscribed). */
function publishRequest(req: IncomingMessage, res: ServerResponse): void {
  const t0 = performance.now();
  res.once('finish', () => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    gatewayRequest.publish({
      method: req.method ?? 'GET',
      route: routeKind(q < 0 ? url : url.slice(0, q)),
      statusCode: res.statusCode,
      durationMs: performance.now() - t0,
    } satisfies GatewayRequestMessage);
  });
}

/** Which route a request is counted under; the same tests as the router, in the same order. */
function metricsRoute(ctx: RequestContext): MetricsRoute {
  const { seg, pathname } = ctx;
  if (seg.length === 4 && seg[1] === 'topics' && seg[3] === 'records') return 'produce_v1';
  if (seg.length === 5 && seg[1] === 'v2' && seg[2] === 'topics' && seg[4] === 'records') return 'produce_v2';
  if (pathname === '/alive') return 'alive';
  if (seg[1] === 'admin') return 'admin';
  if (pathname === '/identity/token') return 'iam';
  if (seg[1] === 'local') return 'local';
  if (isRegistryPath(pathname)) return 'registry';
  if (pathname === '/metrics') return 'metrics';
  return 'other';
}

/** Counts the request once its answer is complete (a request whose socket died is not counted). */
function observe(ctx: RequestContext, metrics: GatewayMetrics): void {
  const start = performance.now();
  const route = metricsRoute(ctx);
  ctx.res.once('finish', () => {
    const verdict = ctx.auth?.result;
    metrics.request(
      route,
      ctx.method,
      ctx.res.statusCode,
      (performance.now() - start) / 1000,
      typeof verdict === 'string' ? verdict : undefined,
    );
  });
}

/**
 * GET /metrics: the scrape key when one is set, otherwise a Manager key, the same credentials as
 * the Admin API (Prometheus sends either as `authorization` in its scrape config).
 */
function serveMetrics(ctx: RequestContext, metrics: GatewayMetrics): void {
  const { req, res } = ctx;
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return notAllowed(ctx, 'GET', false);
  if (metrics.hasKey) {
    if (!metrics.keyMatches(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer realm="metrics"');
      return v1Error(res, 401, 'A valid scrape key is required (Authorization: Bearer <key>)');
    }
  } else {
    const who = authenticate(ctx);
    if (typeof who === 'string') return v1Error(res, 401, 'Authentication required');
    if (who.role !== 'manager') return v1Error(res, 403, 'Metrics need a Manager key');
  }
  metrics.text().then(
    (text) => {
      res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
      res.end(ctx.method === 'HEAD' ? undefined : text);
    },
    (err: unknown) => internalError(ctx.deps, res, err),
  );
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
  const certs = useTls ? await ensureLocalCertificates(stateDir, options.hostnames ?? [], log) : undefined;

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

  const writerKeys = (options.writerKeys ?? []).filter((k) => typeof k === 'string' && k.length > 0);
  const tokens = new TokenStore(
    options.tokenLifetimeSec ?? DEFAULT_TOKEN_LIFETIME_SEC,
    [...apiKeys, ...writerKeys],
    options.iamSigningKey !== undefined ? { privateKeyPem: options.iamSigningKey } : undefined,
  );
  const auth = new Authenticator({
    apiKeys,
    writerKeys,
    ...(options.users ? { users: options.users } : {}),
    tokens,
    ...(options.clientCertAuth ? { clientCertAuth: true } : {}),
    ...(options.producePermissions ? { producePermissions: options.producePermissions } : {}),
    ...(options.forbiddenTopics ? { forbiddenTopics: options.forbiddenTopics } : {}),
  });
  const faults = new FaultInjector();
  if (options.faults) faults.set(options.faults);

  // Schema registry state: a log in the state directory (memory backend) or the compacted Kafka
  // topic every gateway on the cluster shares.
  const kafkaOptions = options.kafka;
  const registryStore: Promise<RegistryLog> | undefined =
    options.schemaRegistry === false
      ? undefined
      : kafkaOptions
        ? KafkaRegistryLog.open(kafkaOptions, log)
        : Promise.resolve(new FileRegistryLog(stateDir));
  const registry = registryStore?.then((store) => SchemaRegistry.open(store, options.registryLimits));
  registry?.catch((err: unknown) =>
    log(`local endpoint: schema registry unavailable: ${err instanceof Error ? err.message : String(err)}`),
  );

  const local = new LocalServer(
    options,
    backend,
    auth,
    tokens,
    faults,
    certs ? { key: certs.server.key, cert: certs.server.cert, ca: certs.ca.cert } : undefined,
    log,
    registry,
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
    // Nothing this start opened may outlive it: the registry's log file (or Kafka consumer) too.
    local.server.close();
    await registryStore?.then((store) => store.close()).catch(() => undefined);
    await backend.close().catch(() => undefined);
    throw err;
  }
  local.server.on('error', (err) => log(`local endpoint: server error: ${err.message}`));

  const address = local.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const url = `${useTls ? 'https' : 'http'}://${hostForUrl(host)}:${boundPort}`;
  local.deps.baseUrl = url;
  backend.advertise({ host: new URL(url).hostname, port: boundPort });
  log(
    `event-streams-local listening on ${url} (${backend.kind} backend, ${deploymentOf(options)} deployment)`,
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
    readRecords: (topic, readOptions = {}) => backend.readRecords(topic, readOptions),
    requestCount: (route) => local.requestCount(route),
    stop: () => {
      stopping ??= (async () => {
        local.clearTimers();
        const closed = new Promise<void>((resolve) => local.server.close(() => resolve()));
        local.server.closeAllConnections();
        await closed;
        // Closing the store also ends a load still reading the Kafka topic.
        await registryStore?.then((store) => store.close()).catch(() => undefined);
        await backend.close();
        log('event-streams-local stopped');
      })();
      return stopping;
    },
  };
  return endpoint;
}
