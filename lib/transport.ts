// SPDX-License-Identifier: Apache-2.0
/**
 * HTTP transport on undici: one keep-alive Pool per origin (producer, admin and IAM URLs may
 * differ), no pipelining (a pipelined POST that fails mid-stream cannot be told apart from one
 * that was never sent), bounded timeouts and response sizes, and undici errors mapped onto the
 * package's error hierarchy so nothing undici-specific leaks to callers.
 */
import type { ConnectionOptions } from 'node:tls';

import { buildConnector, type Dispatcher, errors as undiciErrors, Pool, util as undiciUtil } from 'undici';

import { ClosedError, EventStreamsError } from './errors';
import type { ResponseHeaders } from './error-body';
import { fromTransport } from './error-model';
import { proxyDispatcher, type ProxyOptions } from './proxy';

export interface TransportOptions {
  /** From {@link buildTlsConnectOptions}. */
  tls: ConnectionOptions;
  /** Keep-alive connections per origin. */
  connections: number;
  connectTimeoutMs: number;
  /** Used for both the headers timeout and the body (inactivity) timeout. */
  requestTimeoutMs: number;
  userAgent: string;
  /** Bodies larger than this fail the request instead of filling memory. Default 1 MiB. */
  maxResponseBytes?: number;
  /** HTTP(S) proxy choice; absent: the environment's http_proxy/https_proxy/no_proxy. */
  proxy?: ProxyOptions;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method: HttpMethod;
  /** Request target (path and query). */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
}

export interface HttpResponse {
  statusCode: number;
  headers: ResponseHeaders;
  /** The whole body as text (always read, so the connection goes back to the pool). */
  text: string;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Called once per {@link Transport.post}: with the response (any HTTP status) or with the raw
 * transport error (map it with {@link mapTransportError}; the TLS alert behind a closed socket is
 * already substituted). `ctx` is the caller's own object, so the hot path needs no closure.
 */
export type PostCallback<C> = (ctx: C, err: unknown, res: HttpResponse | undefined) => void;

const EMPTY: Buffer = Buffer.alloc(0);
const NO_HEADERS: Buffer[] = [];

/** A produce response: the headers are parsed only when read (a 2xx answer never needs them). */
class PostResponse implements HttpResponse {
  private parsed: ResponseHeaders | undefined;
  constructor(
    readonly statusCode: number,
    private readonly raw: Buffer[],
    readonly text: string,
  ) {}
  get headers(): ResponseHeaders {
    if (this.parsed === undefined) this.parsed = undiciUtil.parseHeaders(this.raw) as ResponseHeaders;
    return this.parsed;
  }
}

/**
 * The dispatch handler of one produce request. It uses undici 7's native handler methods
 * (onConnect/onHeaders/onData/onComplete/onError): handlers with the newer onRequestStart API are
 * wrapped per request in undici 7 and have every response's headers parsed into an object. The
 * body is collected as Buffers bounded by maxResponseBytes (the Pool's maxResponseSize enforces
 * the same bound at the parser; this one holds even if the server lies about content-length).
 */
/** What the transport's signal bookkeeping sees of a post. */
interface Abortable {
  readonly signal: AbortSignal | undefined;
  abort(reason: Error): void;
}

class PostHandler<C> implements Dispatcher.DispatchHandler, Abortable {
  private abortFn: ((err?: Error) => void) | undefined;
  private reason: Error | undefined;
  private statusCode = 0;
  private rawHeaders: Buffer[] = NO_HEADERS;
  private first: Buffer = EMPTY;
  private more: Buffer[] | undefined;
  private bytes = 0;
  private settled = false;

  constructor(
    private readonly transport: Transport,
    readonly signal: AbortSignal | undefined,
    private readonly maxBytes: number,
    private readonly callback: PostCallback<C>,
    private readonly ctx: C,
  ) {}

  /** Cancels the request (from the transport's one listener on the caller's signal). */
  abort(reason: Error): void {
    if (this.settled || this.reason !== undefined) return;
    this.reason = reason;
    this.abortFn?.(reason);
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.reason !== undefined) abort(this.reason);
    else this.abortFn = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.statusCode = statusCode;
    this.rawHeaders = rawHeaders;
    this.first = EMPTY;
    this.more = undefined;
    this.bytes = 0;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      this.abortFn?.(new undiciErrors.ResponseExceededMaxSizeError());
      return false;
    }
    if (this.first.length === 0) this.first = chunk;
    else (this.more ??= [this.first]).push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.settled) return;
    this.settled = true;
    this.transport.released(this);
    const buf = this.more === undefined ? this.first : Buffer.concat(this.more, this.bytes);
    // Like undici's body.text(): UTF-8, a byte-order mark dropped.
    const start = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
    const text = buf.length === 0 ? '' : buf.toString('utf8', start);
    this.callback(this.ctx, undefined, new PostResponse(this.statusCode, this.rawHeaders, text));
  }

  onError(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.transport.released(this);
    this.callback(this.ctx, this.transport.withTlsAlert(err), undefined);
  }
}

/**
 * Maps an undici or socket error to the package's errors. The decision lives in the error model
 * (lib/error-model.ts); this name stays for the transport's callers.
 */
export function mapTransportError(err: unknown, origin: string, signal?: AbortSignal): EventStreamsError {
  return fromTransport(err, origin, signal);
}

/** A small map of undici Pools (or proxy tunnels), one per origin, sharing one set of options. */
export class Transport {
  private readonly pools = new Map<string, Dispatcher>();
  private closing = false;
  readonly userAgent: string;
  private readonly connector: buildConnector.connector;
  /**
   * TLS alerts seen on sockets, by local port. With TLS 1.3 a server that refuses our client
   * certificate sends its alert after the handshake; undici then reports only "other side
   * closed" (UND_ERR_SOCKET) and drops the alert. The socket's own 'error' event still carries
   * it, so the connector records it here and the error mapping looks it up by local port.
   */
  private readonly tlsAlerts = new Map<number, Error>();
  /**
   * In-flight posts by the caller's AbortSignal, with one 'abort' listener per signal (not per
   * request): callers such as the producer node pass one long-lived signal with every record,
   * and EventTarget scans its whole listener list on every add and remove.
   */
  private readonly bySignal = new WeakMap<AbortSignal, Set<Abortable>>();
  /** The last header list per content type: rebuilt only when the Authorization value changes. */
  private readonly headerLists = new Map<string, { authorization: string | undefined; list: string[] }>();

  constructor(private readonly options: TransportOptions) {
    this.userAgent = options.userAgent;
    const base = buildConnector({ ...options.tls, timeout: options.connectTimeoutMs });
    this.connector = (opts, callback) =>
      base(opts, (err, socket) => {
        if (err == null && socket && 'encrypted' in socket) {
          const port = socket.localPort;
          if (port !== undefined) {
            socket.on('error', (e: Error & { code?: unknown }) => {
              if (typeof e.code === 'string' && e.code.startsWith('ERR_SSL_')) this.tlsAlerts.set(port, e);
            });
            socket.once('close', () => {
              if (this.tlsAlerts.has(port)) setTimeout(() => this.tlsAlerts.delete(port), 1000).unref();
            });
          }
        }
        if (err != null || !socket) callback(err ?? new Error('The connection could not be made.'), null);
        else callback(null, socket);
      });
  }

  /** The TLS alert behind an "other side closed" socket error, when one was seen. */
  withTlsAlert(err: unknown): unknown {
    if (this.tlsAlerts.size === 0 || typeof err !== 'object' || err === null) return err;
    const socket = (err as { socket?: { localPort?: unknown } }).socket;
    const port = socket?.localPort;
    if (typeof port !== 'number') return err;
    const alert = this.tlsAlerts.get(port);
    return alert ?? err;
  }

  get closed(): boolean {
    return this.closing;
  }

  /** The dispatcher for `origin` (`https://host:port`), created on first use. */
  pool(origin: string): Dispatcher {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      if (this.closing) throw new ClosedError('The client is closed.');
      const o = this.options;
      const settings = {
        connections: o.connections,
        headersTimeout: o.requestTimeoutMs,
        bodyTimeout: o.requestTimeoutMs,
        maxResponseSize: o.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      };
      // The one proxy hook: a proxied origin gets a CONNECT-tunnel dispatcher instead of a Pool.
      pool =
        proxyDispatcher(origin, o.proxy, o.tls, { ...settings, connectTimeoutMs: o.connectTimeoutMs }) ??
        new Pool(origin, { ...settings, pipelining: 1, connect: this.connector });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /**
   * Sends one request and reads the whole (size-capped) response body. Resolves for every HTTP
   * status; rejects only with a mapped transport error.
   */
  async request(origin: string, req: HttpRequest): Promise<HttpResponse> {
    if (this.closing) throw new ClosedError('The client is closed.');
    let statusCode: number;
    let headers: ResponseHeaders;
    let text: string;
    try {
      const res = await this.pool(origin).request({
        method: req.method,
        path: req.path,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
      });
      statusCode = res.statusCode;
      headers = res.headers;
      text = await res.body.text();
    } catch (err) {
      throw mapTransportError(this.withTlsAlert(err), origin, req.signal);
    }
    return { statusCode, headers, text };
  }

  /**
   * The produce path: one POST through undici's `dispatch()` with a flat, reused header list, the
   * body sent as it is (no stream), the response collected by a handler object, and cancellation
   * through one listener per AbortSignal. Same timeouts, size bound, TLS-alert lookup and error
   * mapping (by the caller, via {@link mapTransportError}) as {@link request}. `callback` runs
   * exactly once, never synchronously.
   */
  post<C>(
    origin: string,
    path: string,
    contentType: string,
    authorization: string | undefined,
    body: string | Buffer,
    signal: AbortSignal | undefined,
    callback: PostCallback<C>,
    ctx: C,
  ): void {
    if (this.closing) {
      process.nextTick(callback, ctx, new ClosedError('The client is closed.'), undefined);
      return;
    }
    if (signal?.aborted === true) {
      const reason: unknown = signal.reason;
      process.nextTick(
        callback,
        ctx,
        reason instanceof Error ? reason : new undiciErrors.RequestAbortedError(),
        undefined,
      );
      return;
    }
    let pool: Dispatcher;
    try {
      pool = this.pool(origin);
    } catch (err) {
      process.nextTick(callback, ctx, err, undefined);
      return;
    }
    const handler = new PostHandler<C>(
      this,
      signal,
      this.options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      callback,
      ctx,
    );
    if (signal !== undefined) this.watch(signal, handler);
    // dispatch() reports synchronous failures through handler.onError, so this never throws.
    pool.dispatch(
      { origin, method: 'POST', path, headers: this.headerList(contentType, authorization), body },
      handler,
    );
  }

  private headerList(contentType: string, authorization: string | undefined): string[] {
    const cached = this.headerLists.get(contentType);
    if (cached !== undefined && cached.authorization === authorization) return cached.list;
    // undici reads the list when the request is created and keeps no reference to it.
    const list = ['content-type', contentType, 'accept', 'application/json', 'user-agent', this.userAgent];
    if (authorization !== undefined) list.push('authorization', authorization);
    if (this.headerLists.size > 8) this.headerLists.clear();
    this.headerLists.set(contentType, { authorization, list });
    return list;
  }

  private watch(signal: AbortSignal, handler: Abortable): void {
    let set = this.bySignal.get(signal);
    if (set === undefined) {
      const handlers = new Set<Abortable>();
      set = handlers;
      this.bySignal.set(signal, handlers);
      signal.addEventListener(
        'abort',
        () => {
          this.bySignal.delete(signal);
          const reason: unknown = signal.reason;
          const err = reason instanceof Error ? reason : new undiciErrors.RequestAbortedError();
          for (const h of [...handlers]) h.abort(err);
        },
        { once: true },
      );
    }
    set.add(handler);
  }

  /** @internal A post has settled: forget it (the signal's listener stays while the signal lives). */
  released(handler: Abortable): void {
    const signal = handler.signal;
    if (signal !== undefined) this.bySignal.get(signal)?.delete(handler);
  }

  /** Waits for in-flight requests, then closes every pool. Idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    const pools = [...this.pools.values()];
    await Promise.all(pools.map((p) => (isDone(p) ? undefined : p.close().catch(() => undefined))));
  }

  /** Aborts in-flight requests and closes every pool at once. */
  async destroy(): Promise<void> {
    this.closing = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(
      pools.map((p) =>
        (p as { destroyed?: boolean }).destroyed ? undefined : p.destroy().catch(() => undefined),
      ),
    );
  }
}

function isDone(d: Dispatcher): boolean {
  const state = d as { closed?: boolean; destroyed?: boolean };
  return state.closed === true || state.destroyed === true;
}
