// SPDX-License-Identifier: Apache-2.0
/**
 * The gateway's Prometheus metrics (`GET /metrics`, only with `metrics` enabled).
 *
 * prom-client is the library Prometheus users already know (its text format, histograms, process
 * metrics); it is loaded only when metrics are on, so a gateway without them pays nothing. Each
 * gateway has its own Registry instead of prom-client's global one, so that several gateways in
 * one process (tests, the demo) never mix their counts.
 *
 * Label values come from a closed set (route, method, status class, auth reason) except `topic`,
 * whose cardinality a caller controls: past {@link MAX_TOPIC_LABELS} distinct topics the rest are
 * counted under `_other`, so a writer inventing topic names cannot grow the scrape without bound.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';

import type * as PromClient from 'prom-client';

/** Distinct topic label values kept; further topics are summed under `_other`. */
export const MAX_TOPIC_LABELS = 1000;

/** The routes a request is counted under (the router decides; see server.ts). */
export type MetricsRoute =
  'produce_v1' | 'produce_v2' | 'admin' | 'iam' | 'registry' | 'local' | 'alive' | 'metrics' | 'other';

export interface MetricsOptions {
  /**
   * A dedicated scrape key: `/metrics` then answers only `Authorization: Bearer <key>`. Without it
   * a Manager API key (the same credentials as the Admin API) is required.
   */
  key?: string;
}

type Prom = typeof PromClient;

export class GatewayMetrics {
  readonly registry: PromClient.Registry;
  private readonly requests: PromClient.Counter<'route' | 'method' | 'status'>;
  private readonly latency: PromClient.Histogram<'route'>;
  private readonly records: PromClient.Counter<'topic'>;
  private readonly bytes: PromClient.Counter<'topic'>;
  private readonly batch: PromClient.Histogram;
  private readonly authFailures: PromClient.Counter<'reason'>;
  private readonly rateLimited: PromClient.Counter;
  private readonly registryOps: PromClient.Counter<'operation' | 'status'>;
  private readonly topics = new Set<string>();
  private readonly key: Buffer | undefined;

  constructor(prom: Prom, server: () => Server | undefined, options: MetricsOptions = {}) {
    this.key = options.key ? Buffer.from(options.key) : undefined;
    const registry = new prom.Registry();
    this.registry = registry;
    const registers = [registry];
    // Process CPU, memory, event-loop lag, handles: what an operator checks first on a slow gateway.
    prom.collectDefaultMetrics({ register: registry, prefix: 'esgw_' });
    this.requests = new prom.Counter({
      name: 'esgw_http_requests_total',
      help: 'HTTP requests answered, by route, method and status code.',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.latency = new prom.Histogram({
      name: 'esgw_http_request_duration_seconds',
      help: 'Time from the request to the end of the answer, by route.',
      labelNames: ['route'],
      // From a memory-backend produce (~0.1 ms) to a slow Kafka write or a registry check.
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.records = new prom.Counter({
      name: 'esgw_records_produced_total',
      help: 'Records written to the backend, by topic.',
      labelNames: ['topic'],
      registers,
    });
    this.bytes = new prom.Counter({
      name: 'esgw_record_bytes_produced_total',
      help: 'Key, value and header bytes written to the backend, by topic.',
      labelNames: ['topic'],
      registers,
    });
    this.batch = new prom.Histogram({
      name: 'esgw_kafka_batch_records',
      help: 'Records per Kafka produce request sent by the Kafka backend.',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers,
    });
    this.authFailures = new prom.Counter({
      name: 'esgw_auth_failures_total',
      help: 'Requests refused for their credentials: missing, invalid, scheme (wrong kind), forbidden (role or topic).',
      labelNames: ['reason'],
      registers,
    });
    this.rateLimited = new prom.Counter({
      name: 'esgw_rate_limited_total',
      help: 'Produce requests answered 429 by --rate-limit.',
      registers,
    });
    this.registryOps = new prom.Counter({
      name: 'esgw_registry_operations_total',
      help: 'Schema registry requests, by operation (read, write, delete) and status code.',
      labelNames: ['operation', 'status'],
      registers,
    });
    new prom.Gauge({
      name: 'esgw_open_connections',
      help: 'Sockets open on the gateway right now.',
      registers,
      async collect() {
        const s = server();
        if (!s) return;
        const n = await new Promise<number>((resolve) =>
          s.getConnections((err, count) => resolve(err ? 0 : count)),
        );
        this.set(n);
      },
    });
  }

  /** One answered request. `authFailure` is the authenticator's verdict when the caller was refused. */
  request(route: MetricsRoute, method: string, status: number, seconds: number, authFailure?: string): void {
    const statusText = String(status);
    this.requests.inc({ route, method: knownMethod(method), status: statusText });
    this.latency.observe({ route }, seconds);
    if (status === 401) this.authFailures.inc({ reason: authFailure ?? 'invalid' });
    else if (status === 403) this.authFailures.inc({ reason: 'forbidden' });
    if (route === 'registry') {
      const operation =
        method === 'GET' || method === 'HEAD' ? 'read' : method === 'DELETE' ? 'delete' : 'write';
      this.registryOps.inc({ operation, status: statusText });
    }
  }

  /** One record written to the backend. */
  produced(topic: string, bytes: number): void {
    const label = this.topicLabel(topic);
    this.records.inc({ topic: label });
    this.bytes.inc({ topic: label }, bytes);
  }

  kafkaBatch(records: number): void {
    this.batch.observe(records);
  }

  rateLimitHit(): void {
    this.rateLimited.inc();
  }

  /**
   * Whether the scrape key is the configured one (constant time). Without a dedicated key the
   * router checks for a Manager principal instead.
   */
  get hasKey(): boolean {
    return this.key !== undefined;
  }

  keyMatches(authorization: string | undefined): boolean {
    if (!this.key || !authorization || !authorization.startsWith('Bearer ')) return false;
    const given = Buffer.from(authorization.slice(7).trim());
    return given.length === this.key.length && timingSafeEqual(given, this.key);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private topicLabel(topic: string): string {
    if (this.topics.has(topic)) return topic;
    if (this.topics.size >= MAX_TOPIC_LABELS) return '_other';
    this.topics.add(topic);
    return topic;
  }
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** A caller can send any method token; only the standard ones become label values. */
function knownMethod(method: string): string {
  return METHODS.has(method) ? method : 'other';
}

/** Loads prom-client (only when metrics are on) and makes the gateway's metrics. */
export function createGatewayMetrics(
  server: () => Server | undefined,
  options: MetricsOptions = {},
): GatewayMetrics {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const prom = require('prom-client') as Prom;
  return new GatewayMetrics(prom, server, options);
}
