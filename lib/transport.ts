// SPDX-License-Identifier: Apache-2.0
/**
 * HTTP transport on undici: one keep-alive Pool per origin (producer, admin and IAM URLs may
 * differ), no pipelining (a pipelined POST that fails mid-stream cannot be told apart from one
 * that was never sent), bounded timeouts and response sizes, and undici errors mapped onto the
 * package's error hierarchy so nothing undici-specific leaks to callers.
 */
import type { ConnectionOptions } from 'node:tls';

import { buildConnector, Pool } from 'undici';

import { ClosedError, EventStreamsError } from './errors';
import type { ResponseHeaders } from './encode';
import { fromTransport } from './error-model';

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
}

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

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
 * Maps an undici or socket error to the package's errors. The decision lives in the error model
 * (lib/error-model.ts); this name stays for the transport's callers.
 */
export function mapTransportError(err: unknown, origin: string, signal?: AbortSignal): EventStreamsError {
  return fromTransport(err, origin, signal);
}

/** A small map of undici Pools, one per origin, sharing one set of options. */
export class Transport {
  private readonly pools = new Map<string, Pool>();
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
  private withTlsAlert(err: unknown): unknown {
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

  /** The pool for `origin` (`https://host:port`), created on first use. */
  pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      if (this.closing) throw new ClosedError('The client is closed.');
      const o = this.options;
      pool = new Pool(origin, {
        connections: o.connections,
        pipelining: 1,
        headersTimeout: o.requestTimeoutMs,
        bodyTimeout: o.requestTimeoutMs,
        maxResponseSize: o.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
        connect: this.connector,
      });
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

  /** Waits for in-flight requests, then closes every pool. Idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    const pools = [...this.pools.values()];
    await Promise.all(
      pools.map((p) => (p.closed || p.destroyed ? undefined : p.close().catch(() => undefined))),
    );
  }

  /** Aborts in-flight requests and closes every pool at once. */
  async destroy(): Promise<void> {
    this.closing = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => (p.destroyed ? undefined : p.destroy().catch(() => undefined))));
  }
}
