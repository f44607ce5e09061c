// SPDX-License-Identifier: Apache-2.0
/**
 * The REST session: one set of credentials and connection pools for an endpoint, and what runs on
 * them — the produce pipeline (`sender`, lib/rest-sender.ts), topic administration (`admin`,
 * lib/admin.ts), the schema registry (`schemas`, lib/schema-registry.ts) and the connection check
 * (lib/connection-check.ts). Options are checked here, once; base URLs are parsed by
 * lib/validate.ts `parseBaseUrl`.
 *
 * Delivery is at-least-once: see lib/retry.ts for why a retried POST may duplicate a record.
 */
import { AdminRestClient } from './admin';
import { CORE_DEFAULTS, ENDPOINT_FIELD_DEFAULTS, ms } from './defaults';
import { type AuthProvider, createAuthProvider } from './auth';
import { checkConnection } from './connection-check';
import { ConfluentRegistryClient } from './confluent-registry';
import { ValidationError } from './errors';
import { DEFAULT_LIMITS } from './encode';
import { RestSender } from './rest-sender';
import { resolveRetryPolicy } from './retry';
import { SchemaRegistryClient } from './schema-registry';
import { buildTlsConnectOptions } from './tls';
import { Transport } from './transport';
import type {
  ApiFlavour,
  ClusterAdmin,
  ClientOptions,
  ClientStats,
  CloseOptions,
  ConnectionCheck,
  ProduceOptions,
  ProduceRecord,
  ProduceResult,
  TopicAdmin,
} from './types';
import { basePathOf, parseBaseUrl, positiveInt } from './validate';

export { PROBE_TOPIC } from './connection-check';

export const DEFAULT_USER_AGENT = 'node-red-event-streams';
// The values and their reasons are in lib/defaults.ts.
const DEFAULT_CONNECTIONS = ENDPOINT_FIELD_DEFAULTS.connections.value;
const DEFAULT_MAX_CONNECTIONS = ENDPOINT_FIELD_DEFAULTS.maxConnections.value;
const DEFAULT_CONNECT_TIMEOUT_MS = ms(CORE_DEFAULTS.connectTimeout);
const DEFAULT_REQUEST_TIMEOUT_MS = ms(ENDPOINT_FIELD_DEFAULTS.requestTimeout);
const DEFAULT_QUEUE_MESSAGES = ENDPOINT_FIELD_DEFAULTS.queueMessages.value;
const DEFAULT_QUEUE_BYTES = ENDPOINT_FIELD_DEFAULTS.queueBytes.value;

/**
 * Client for IBM Event Streams' REST APIs: the REST Producer (v1 raw body or v2 JSON envelope)
 * through `sender` / `produce`, topic administration over the Admin REST API as `admin`, and the
 * schema registry as `schemas`.
 *
 * Defaults: flavour `v1` (served by both IBM Cloud and on-prem; choose `v2` with IAM on IBM
 * Cloud), in-flight cap = connections; every number (connections, queue, retries, timeouts,
 * limits) is in lib/defaults.ts with its reason.
 */
export class EventStreamsClient {
  /** Topic administration over the Admin REST API at `adminUrl ?? url`. */
  readonly admin: TopicAdmin & ClusterAdmin;
  /** The Schema Registry's own API at `registryUrl ?? url` (schemas, versions, compatibility rules). */
  readonly schemas: SchemaRegistryClient;
  /** A Confluent-compatible registry API at `confluentUrl ?? {registryUrl ?? url}/confluent`. */
  readonly confluent: ConfluentRegistryClient;
  /** TLS verification is off (`tls.rejectUnauthorized === false`). */
  readonly insecure: boolean;
  readonly flavour: ApiFlavour;
  /** The produce pipeline: the delivery seam's {@link Sender} for transport `rest`. */
  readonly sender: RestSender;

  private readonly origin: string;
  private readonly basePath: string;
  private readonly adminUrl: string;
  private readonly transport: Transport;
  private readonly auth: AuthProvider;
  private readonly userAgent: string;
  private closePromise: Promise<void> | undefined;

  constructor(options: ClientOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new ValidationError('EventStreamsClient needs an options object with a url.', 'INVALID_CONFIG');
    }
    const url = parseBaseUrl(options.url, 'url');
    this.origin = url.origin;
    this.basePath = basePathOf(url);
    const admin =
      options.adminUrl === undefined || options.adminUrl === ''
        ? url
        : parseBaseUrl(options.adminUrl, 'adminUrl');
    this.adminUrl = admin.href;
    const flavour = options.flavour ?? 'v1';
    if (flavour !== 'v1' && flavour !== 'v2') {
      throw new ValidationError('flavour must be "v1" or "v2".', 'INVALID_CONFIG');
    }
    this.flavour = flavour;

    const tls = buildTlsConnectOptions(options.tls);
    this.insecure = tls.rejectUnauthorized === false;
    const connections = positiveInt(options.connections, 'connections', DEFAULT_CONNECTIONS);
    // An explicit maxInFlight is a fixed cap (no adaptation); otherwise the limit starts at
    // `connections` and adapts up to `maxConnections` (lib/adaptive-limit.ts).
    const maxInFlight = positiveInt(options.maxInFlight, 'maxInFlight', connections);
    const maxConnections =
      options.maxInFlight !== undefined
        ? maxInFlight
        : Math.max(
            connections,
            positiveInt(
              options.maxConnections,
              'maxConnections',
              Math.max(DEFAULT_MAX_CONNECTIONS, connections),
            ),
          );
    const retry = resolveRetryPolicy(options.retry);
    const limits = {
      maxKeyBytes: positiveInt(options.limits?.maxKeyBytes, 'limits.maxKeyBytes', DEFAULT_LIMITS.maxKeyBytes),
      maxValueBytes: positiveInt(
        options.limits?.maxValueBytes,
        'limits.maxValueBytes',
        DEFAULT_LIMITS.maxValueBytes,
      ),
      maxUriBytes: positiveInt(options.limits?.maxUriBytes, 'limits.maxUriBytes', DEFAULT_LIMITS.maxUriBytes),
    };
    const rateLimit = options.rateLimit ?? 0;
    if (typeof rateLimit !== 'number' || !Number.isFinite(rateLimit) || rateLimit < 0) {
      throw new ValidationError(
        'rateLimit must be a number of messages per second (0 for none).',
        'INVALID_CONFIG',
      );
    }
    if (
      options.userAgent !== undefined &&
      (typeof options.userAgent !== 'string' || /[\r\n]/.test(options.userAgent))
    ) {
      throw new ValidationError('userAgent must be a single-line string.', 'INVALID_CONFIG');
    }
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.transport = new Transport({
      tls,
      connections: Math.max(connections, maxConnections),
      connectTimeoutMs: positiveInt(options.connectTimeoutMs, 'connectTimeoutMs', DEFAULT_CONNECT_TIMEOUT_MS),
      requestTimeoutMs: positiveInt(options.requestTimeoutMs, 'requestTimeoutMs', DEFAULT_REQUEST_TIMEOUT_MS),
      userAgent: this.userAgent,
      ...(options.proxy ? { proxy: options.proxy } : {}),
    });
    this.auth = createAuthProvider(options.auth, {
      request: (origin, req) => this.transport.request(origin, req),
      retry,
      hasClientCert: tls.pfx !== undefined || tls.cert !== undefined,
    });
    if (options.orderByKey !== undefined && typeof options.orderByKey !== 'boolean') {
      throw new ValidationError('orderByKey must be true or false.', 'INVALID_CONFIG');
    }
    const orderByKey = options.orderByKey ?? true;
    const maxQueued = positiveInt(
      options.queue?.maxMessages,
      'queue.maxMessages',
      DEFAULT_QUEUE_MESSAGES,
      true,
    );
    const maxQueuedBytes = positiveInt(options.queue?.maxBytes, 'queue.maxBytes', DEFAULT_QUEUE_BYTES, true);
    this.admin = new AdminRestClient({
      adminUrl: this.adminUrl,
      transport: this.transport,
      auth: this.auth,
      retry,
    });
    const registryBase = options.registryUrl
      ? parseBaseUrl(options.registryUrl, 'registryUrl').href
      : url.href;
    this.schemas = new SchemaRegistryClient({
      url: registryBase,
      transport: this.transport,
      auth: this.auth,
      retry,
    });
    this.confluent = new ConfluentRegistryClient({
      url: options.confluentUrl
        ? parseBaseUrl(options.confluentUrl, 'confluentUrl').href
        : `${registryBase.replace(/\/+$/, '')}/confluent`,
      transport: this.transport,
      auth: this.auth,
      retry,
    });
    this.sender = new RestSender({
      origin: this.origin,
      basePath: this.basePath,
      flavour,
      http: this.transport,
      auth: this.auth,
      retry,
      limits,
      maxInFlight,
      maxConnections,
      rateLimit,
      maxQueued,
      maxQueuedBytes,
      orderByKey,
      insecure: this.insecure,
      schemas: this.schemas,
      check: () => this.testConnection(),
    });
  }

  /** True once close() has been called: no new records are accepted. */
  get closed(): boolean {
    return this.sender.closed;
  }

  /**
   * Sends one record (see {@link RestSender.send}). Resolves with where the server wrote it and
   * how many requests it took; rejects with one error of the error model.
   */
  produce(topic: string, record: ProduceRecord, options?: ProduceOptions): Promise<ProduceResult> {
    return this.sender.send(topic, record, options);
  }

  /** Takes back what `signal` sent and is not on the wire yet (see {@link RestSender.withdraw}). */
  withdraw(signal: AbortSignal): number {
    return this.sender.withdraw(signal);
  }

  /** Counters and the current state of the produce pipeline, for status displays. */
  stats(): ClientStats {
    return this.sender.stats();
  }

  /** Reachability, TLS trust and credentials, without writing anything (lib/connection-check.ts). */
  testConnection(): Promise<ConnectionCheck> {
    return checkConnection({
      closed: this.sender.closed,
      origin: this.origin,
      basePath: this.basePath,
      adminUrl: this.adminUrl,
      flavour: this.flavour,
      transport: this.transport,
      auth: this.auth,
      userAgent: this.userAgent,
      admin: this.admin as AdminRestClient,
    });
  }

  /**
   * Stops accepting records, lets in-flight and queued records finish until `deadlineMs`
   * (default 10 s), rejects whatever is left with ClosedError, then closes the connection pools
   * (destroys them when records were still on the wire). Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.closePromise ??= this.sender
      .close(options)
      .then(() => (this.sender.abandoned ? this.transport.destroy() : this.transport.close()));
    return this.closePromise;
  }
}

/**
 * A standalone Admin REST topic admin (its own client and connection pools); `close()` closes
 * them. Inside a producer, use `client.admin` instead to share connections and credentials.
 */
export function createTopicAdmin(options: ClientOptions): TopicAdmin {
  const client = new EventStreamsClient(options);
  const admin = client.admin;
  return {
    listTopics: (o) => admin.listTopics(o),
    getTopic: (n) => admin.getTopic(n),
    createTopic: (o) => admin.createTopic(o),
    ensureTopic: (o) => admin.ensureTopic(o),
    updateTopic: (n, o) => admin.updateTopic(n, o),
    deleteTopic: (n) => admin.deleteTopic(n),
    close: () => client.close({ deadlineMs: 0 }),
  };
}
