// SPDX-License-Identifier: Apache-2.0
/**
 * The REST Producer client: validates and encodes a record, queues it behind the in-flight cap
 * and rate limit, sends it with the configured authentication, retries retriable failures, and
 * settles the caller's promise exactly once. Nothing is dropped without its caller being told.
 *
 * Delivery is at-least-once: see lib/retry.ts for why a retried POST may duplicate a record.
 */
import { AdminRestClient } from './admin';
import { CORE_DEFAULTS, ENDPOINT_FIELD_DEFAULTS, ms } from './defaults';
import { type AuthProvider, createAuthProvider } from './auth';
import {
  AbortedError,
  AuthenticationError,
  ClosedError,
  type EventStreamsError,
  QueueFullError,
  TlsError,
  ValidationError,
  WithdrawnError,
} from './errors';
import { dispositionOf } from './error-model';
import {
  DEFAULT_LIMITS,
  type EncodedRequest,
  type EncodeLimits,
  encodeRecord,
  errorFromResponse,
  parseProduceSuccess,
} from './encode';
import { FlowControl, type FlowJob } from './flow';
import { needsSchemaText } from './schema';
import { SchemaRegistryClient } from './schema-registry';
import { finalError, nextRetryDelay, resolveRetryPolicy, type RetryPolicy } from './retry';
import { buildTlsConnectOptions } from './tls';
import { type HttpResponse, mapTransportError, Transport } from './transport';
import type {
  ApiFlavour,
  ClientOptions,
  ClientStats,
  CloseOptions,
  ConnectionCheck,
  ProduceOptions,
  ProduceRecord,
  ProduceResult,
  TopicAdmin,
} from './types';
import { positiveInt, validateTopicName } from './validate';
import { RestSender } from './rest-sender';
import type { Sender } from './sender';

export const DEFAULT_USER_AGENT = 'node-red-event-streams';
// The values and their reasons are in lib/defaults.ts.
const DEFAULT_CONNECTIONS = ENDPOINT_FIELD_DEFAULTS.connections.value;
const DEFAULT_CONNECT_TIMEOUT_MS = ms(CORE_DEFAULTS.connectTimeout);
const DEFAULT_REQUEST_TIMEOUT_MS = ms(ENDPOINT_FIELD_DEFAULTS.requestTimeout);
const DEFAULT_QUEUE_MESSAGES = ENDPOINT_FIELD_DEFAULTS.queueMessages.value;
const DEFAULT_QUEUE_BYTES = ENDPOINT_FIELD_DEFAULTS.queueBytes.value;
const DEFAULT_CLOSE_DEADLINE_MS = ms(ENDPOINT_FIELD_DEFAULTS.closeTimeout);
/** Topic names already validated (a bounded cache: most flows produce to a handful of topics). */
const TOPIC_CACHE_SIZE = 256;
/**
 * Topic name used by the connection check's produce-path probe: '!' is illegal in Kafka topic
 * names, so no such topic can exist or be auto-created, and the body is empty as well; the
 * probe can never write a record.
 */
export const PROBE_TOPIC = 'esnodes-connection-probe!';

/**
 * `chained`: behind an unsettled record with the same topic and key (per-key order);
 * `queued`: in the flow queue; `sending`; `waiting` for a retry or a hold; `done`.
 */
type Phase = 'chained' | 'queued' | 'sending' | 'waiting' | 'done';

/** The records of one topic+key that are unsettled, oldest first (a singly linked list). */
interface Chain {
  /** The record that was let go (queued, on the wire or waiting for a retry). */
  head: Job;
  tail: Job;
}

/** One record on its way: kept as a class so every job has the same shape (fast property access). */
class Job implements FlowJob {
  queued = false;
  phase: Phase = 'queued';
  attempts = 0;
  startedAt = 0;
  /** Holds an in-flight slot (a held record gives it back while it waits). */
  slot = false;
  withdrawn = false;
  /** Counted in `held` (waiting for Retry-After without a slot). */
  holding = false;
  /** Per-key order: the chain this record belongs to and the next record in it. */
  chainKey: string | undefined = undefined;
  next: Job | undefined = undefined;
  authRetried = false;
  /** One attempt only (the outbox's sends: the outbox is their retry loop). */
  once = false;
  throttled = false;
  authorization: string | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  readonly bytes: number;
  constructor(
    readonly topic: string,
    readonly req: EncodedRequest,
    readonly resolve: (r: ProduceResult) => void,
    readonly reject: (e: EventStreamsError) => void,
    readonly signal: AbortSignal | undefined,
  ) {
    this.bytes = req.bytes;
  }
}

/** The per-key order identity of a record, or undefined for unkeyed records. */
function chainKeyOf(topic: string, key: ProduceRecord['key']): string | undefined {
  if (key === undefined || key === null) return undefined;
  if (typeof key === 'string') return `${topic}\0s${key}`;
  if (key instanceof Uint8Array) {
    return `${topic}\0b${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')}`;
  }
  // A typed key (an Avro key's data): its JSON form identifies it.
  return `${topic}\0j${JSON.stringify(key)}`;
}

function parseBaseUrl(value: unknown, field: string): URL {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ValidationError(`${field} is required (the REST endpoint's https:// URL).`, 'INVALID_CONFIG');
  }
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ValidationError(`${field} is not a valid URL.`, 'INVALID_CONFIG');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ValidationError(
      `${field} must start with https:// (or http:// for a plain local endpoint).`,
      'INVALID_CONFIG',
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new ValidationError(
      `${field} must not contain credentials; use the auth options.`,
      'INVALID_CONFIG',
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw new ValidationError(`${field} must not contain a query string or fragment.`, 'INVALID_CONFIG');
  }
  return url;
}

/**
 * Producer client for IBM Event Streams' REST Producer API (v1 raw body or v2 JSON envelope),
 * with topic administration over the Admin REST API as `admin`.
 *
 * Defaults: flavour `v1` (served by both IBM Cloud and on-prem; choose `v2` with IAM on IBM
 * Cloud), in-flight cap = connections; every number (connections, queue, retries, timeouts,
 * limits) is in lib/defaults.ts with its reason.
 */
export class EventStreamsClient {
  /** Topic administration over the Admin REST API at `adminUrl ?? url`. */
  readonly admin: TopicAdmin;
  /** The Schema Registry's own API at `registryUrl ?? url` (schemas, versions, compatibility rules). */
  readonly schemas: SchemaRegistryClient;
  /** TLS verification is off (`tls.rejectUnauthorized === false`). */
  readonly insecure: boolean;
  readonly flavour: ApiFlavour;
  /** The produce pipeline as the delivery seam's {@link Sender} (transport `rest`). */
  readonly sender: Sender;

  private readonly origin: string;
  private readonly basePath: string;
  private readonly adminUrl: string;
  private readonly transport: Transport;
  private readonly auth: AuthProvider;
  private readonly retry: RetryPolicy;
  private readonly limits: EncodeLimits;
  private readonly flow: FlowControl<Job>;
  private readonly active = new Set<Job>();
  private readonly topics = new Set<string>();
  private readonly signalJobs = new WeakMap<AbortSignal, Set<Job>>();
  private readonly userAgent: string;
  private readonly retryFire = (job: Job): void => this.onRetryTimer(job);
  private readonly orderByKey: boolean;
  private readonly chains = new Map<string, Chain>();
  private chained = 0;
  private chainedBytes = 0;
  /** Records held for a server's Retry-After without a slot: still counted against the queue bound. */
  private held = 0;
  private heldBytes = 0;
  private readonly maxQueued: number;
  private readonly maxQueuedBytes: number;

  private closing = false;
  private hardClosed = false;
  private closePromise: Promise<void> | undefined;
  private drained: (() => void) | undefined;
  private authFailed = false;
  private waitingRetry = 0;
  private waitingThrottled = 0;
  private delivered = 0;
  private failed = 0;
  private retries = 0;

  constructor(options: ClientOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new ValidationError('EventStreamsClient needs an options object with a url.', 'INVALID_CONFIG');
    }
    const url = parseBaseUrl(options.url, 'url');
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
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
    const maxInFlight = positiveInt(options.maxInFlight, 'maxInFlight', connections);
    this.retry = resolveRetryPolicy(options.retry);
    this.limits = {
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
      connections,
      connectTimeoutMs: positiveInt(options.connectTimeoutMs, 'connectTimeoutMs', DEFAULT_CONNECT_TIMEOUT_MS),
      requestTimeoutMs: positiveInt(options.requestTimeoutMs, 'requestTimeoutMs', DEFAULT_REQUEST_TIMEOUT_MS),
      userAgent: this.userAgent,
      ...(options.proxy ? { proxy: options.proxy } : {}),
    });
    this.auth = createAuthProvider(options.auth, {
      request: (origin, req) => this.transport.request(origin, req),
      retry: this.retry,
      hasClientCert: tls.pfx !== undefined || tls.cert !== undefined,
    });
    if (options.orderByKey !== undefined && typeof options.orderByKey !== 'boolean') {
      throw new ValidationError('orderByKey must be true or false.', 'INVALID_CONFIG');
    }
    this.orderByKey = options.orderByKey ?? true;
    this.maxQueued = positiveInt(
      options.queue?.maxMessages,
      'queue.maxMessages',
      DEFAULT_QUEUE_MESSAGES,
      true,
    );
    this.maxQueuedBytes = positiveInt(options.queue?.maxBytes, 'queue.maxBytes', DEFAULT_QUEUE_BYTES, true);
    this.flow = new FlowControl<Job>(
      { maxInFlight, maxQueuedMessages: this.maxQueued, maxQueuedBytes: this.maxQueuedBytes, rateLimit },
      (job) => this.start(job),
    );
    this.admin = new AdminRestClient({
      adminUrl: this.adminUrl,
      transport: this.transport,
      auth: this.auth,
      retry: this.retry,
    });
    this.sender = new RestSender(this);
    this.schemas = new SchemaRegistryClient({
      url: options.registryUrl ? parseBaseUrl(options.registryUrl, 'registryUrl').href : url.href,
      transport: this.transport,
      auth: this.auth,
      retry: this.retry,
    });
  }

  /** True once close() has been called: no new records are accepted. */
  get closed(): boolean {
    return this.closing;
  }

  /**
   * Sends one record. Resolves with where the server wrote it (topic, partition, offset,
   * timestamp as reported) and how many requests it took. Rejects with a ValidationError
   * before any network call for bad input, QueueFullError when the queue is full (only this
   * record is refused), ClosedError after close(), AbortedError when `options.signal` fires, or
   * the final error of the request (with `attempts`; RetriesExhaustedError when retries ran out).
   */
  produce(topic: string, record: ProduceRecord, options?: ProduceOptions): Promise<ProduceResult> {
    if (this.closing) {
      return Promise.reject(
        new ClosedError('The client is closed; the record was not sent.', { topic: String(topic) }),
      );
    }
    // v2 sends Avro schemas inline: a schema named by registry id is fetched (cached) first.
    if (
      this.flavour === 'v2' &&
      (needsSchemaText(record?.valueSchema) || needsSchemaText(record?.keySchema))
    ) {
      return this.schemas.withSchemaText(record).then((r) => this.produce(topic, r, options));
    }
    let req: EncodedRequest;
    try {
      if (!this.topics.has(topic)) {
        validateTopicName(topic);
        if (this.topics.size >= TOPIC_CACHE_SIZE) this.topics.clear();
        this.topics.add(topic);
      }
      req = encodeRecord(this.flavour, this.basePath, topic, record, this.limits);
    } catch (err) {
      return Promise.reject(err);
    }
    const signal = options?.signal;
    if (signal?.aborted) {
      return Promise.reject(
        new AbortedError('The record was aborted before it was sent.', { topic, attempts: 0 }),
      );
    }
    return new Promise<ProduceResult>((resolve, reject) => {
      const job = new Job(topic, req, resolve, reject, signal);
      if (options?.once === true) job.once = true;
      try {
        const key = this.orderByKey ? chainKeyOf(topic, record.key) : undefined;
        if (key !== undefined && this.chains.has(key)) {
          this.chainBehind(key, job);
        } else {
          this.checkChainedBound(job);
          this.flow.submit(job);
          if (key !== undefined && job.phase !== 'done') {
            job.chainKey = key;
            this.chains.set(key, { head: job, tail: job });
          }
        }
      } catch (err) {
        reject(err as EventStreamsError);
        return;
      }
      if (signal !== undefined && job.phase !== 'done') this.watchSignal(signal, job);
    });
  }

  /**
   * Takes back every record given with `signal` that is not being sent right now (queued, held
   * behind its key, or waiting for a retry) and rejects each with a {@link WithdrawnError}, so
   * that its caller can send it elsewhere (the producer node hands such records to its next
   * instance on a redeploy). Records on the wire are left to finish. Returns how many were taken.
   */
  withdraw(signal: AbortSignal): number {
    const jobs = this.signalJobs.get(signal);
    if (jobs === undefined) return 0;
    const taken: Job[] = [];
    // Mark first, settle after: settling a chain's head must not start the next one we take.
    for (const job of jobs) {
      if (job.phase === 'queued' || job.phase === 'chained' || job.phase === 'waiting') {
        job.withdrawn = true;
        taken.push(job);
      }
    }
    for (const job of taken) {
      const err = new WithdrawnError('The record was taken back before it was sent.', { topic: job.topic });
      err.attempts = job.attempts;
      if (job.phase === 'queued') {
        this.flow.remove(job);
        this.settle(job, err);
      } else if (job.phase === 'chained') {
        this.unchain(job);
        this.settle(job, err);
      } else {
        this.finish(job, err);
      }
    }
    this.checkDrained();
    return taken.length;
  }

  /**
   * Counters and the current state, for status displays. `delivered` and `failed` count records
   * that were accepted (passed validation and the queue bound); a record refused up front only
   * rejects its own promise.
   */
  stats(): ClientStats {
    const inFlight = this.flow.inFlight;
    const queued = this.flow.queued + this.chained;
    let state: ClientStats['state'];
    if (this.closing) state = 'closed';
    else if (this.authFailed) state = 'auth-failed';
    else if (this.waitingThrottled > 0) state = 'throttled';
    else if (this.waitingRetry > 0) state = 'retrying';
    else if (inFlight > 0 || queued > 0) state = 'busy';
    else state = 'idle';
    return {
      state,
      inFlight,
      queued,
      queuedBytes: this.flow.queuedBytes + this.chainedBytes,
      delivered: this.delivered,
      failed: this.failed,
      retries: this.retries,
      insecure: this.insecure,
      chained: this.chained,
      maxInFlight: this.flow.options.maxInFlight,
    };
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
  async testConnection(): Promise<ConnectionCheck> {
    if (this.closing) {
      return {
        reachable: false,
        tlsTrusted: null,
        authenticated: null,
        error: new ClosedError('The client is closed.'),
      };
    }
    const https = this.adminUrl.startsWith('https:');
    const trusted = https ? true : null;
    let authError: EventStreamsError | undefined;
    try {
      await this.auth.authorization();
    } catch (err) {
      authError = mapTransportError(err, this.origin);
    }
    // Without credentials, still find out whether the endpoint is reachable and trusted.
    if (authError !== undefined) return this.probeWithoutAuth(authError, https);
    let res: HttpResponse;
    try {
      res = await (this.admin as AdminRestClient).probe('/admin/topics?per_page=1');
    } catch (raw) {
      return this.classifyTransportError(mapTransportError(raw, this.origin));
    }
    const s = res.statusCode;
    if (s >= 200 && s < 300) return { reachable: true, tlsTrusted: trusted, authenticated: true };
    const err = errorFromResponse(s, res.headers, res.text, {
      operation: 'Connection check',
      secrets: this.auth.secrets(),
      notFoundIsTopic: false,
    });
    if (s === 401 || s === 403)
      return { reachable: true, tlsTrusted: trusted, authenticated: false, error: err };
    if (s === 404 || s === 405 || s === 501) return this.produceProbe(trusted);
    return { reachable: true, tlsTrusted: trusted, authenticated: null, error: err };
  }

  /**
   * Stops accepting records (produce → ClosedError), lets in-flight and queued records finish
   * until `deadlineMs` (default 10 s), then rejects whatever is left with ClosedError and closes
   * the connection pools. Idempotent: later calls return the same promise.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this.closePromise === undefined) {
      this.closing = true;
      const deadline = positiveInt(options.deadlineMs, 'deadlineMs', DEFAULT_CLOSE_DEADLINE_MS, true);
      this.closePromise = this.shutdown(deadline);
    }
    return this.closePromise;
  }

  // ---------------------------------------------------------------------------------------------
  // Produce path

  private start(job: Job): void {
    job.slot = true;
    if (job.startedAt === 0) {
      job.startedAt = Date.now();
      this.active.add(job);
    }
    this.send(job);
  }

  /** Queue bound for records held behind their key (the flow queue checks its own part). */
  private checkChainedBound(job: Job): void {
    if (this.chained + this.held === 0) return;
    this.checkBound(job);
  }

  /** The queue bound over everything waiting: queued, held behind a key, held for Retry-After. */
  private checkBound(job: Job): void {
    const waiting = this.flow.queued + this.chained + this.held;
    if (waiting >= this.maxQueued) {
      throw new QueueFullError(
        `The send queue is full (${waiting} records waiting, limit ${this.maxQueued}); this record was not queued.`,
      );
    }
    const bytes = this.flow.queuedBytes + this.chainedBytes + this.heldBytes;
    if (bytes + job.bytes > this.maxQueuedBytes && waiting > 0) {
      throw new QueueFullError(
        `The send queue is full (${bytes} bytes waiting, limit ${this.maxQueuedBytes}); this record was not queued.`,
      );
    }
  }

  private chainBehind(key: string, job: Job): void {
    this.checkBound(job);
    const chain = this.chains.get(key) as Chain;
    chain.tail.next = job;
    chain.tail = job;
    job.chainKey = key;
    job.phase = 'chained';
    this.chained++;
    this.chainedBytes += job.bytes;
  }

  /** A chained record leaves the chain's waiting count (it stays linked; done links are skipped). */
  private unchain(job: Job): void {
    this.chained--;
    this.chainedBytes -= job.bytes;
  }

  /**
   * The settled record `job` was its key's head: let the next one go. Links settled early
   * (aborted) or being withdrawn are skipped; withdraw() settles those itself.
   */
  private advanceChain(job: Job): void {
    const key = job.chainKey as string;
    const chain = this.chains.get(key);
    if (chain === undefined || chain.head !== job) return;
    let next = job.next;
    job.next = undefined;
    while (next !== undefined && (next.phase === 'done' || next.withdrawn)) {
      const after: Job | undefined = next.next;
      next.next = undefined;
      next = after;
    }
    if (next === undefined) {
      this.chains.delete(key);
      return;
    }
    chain.head = next;
    this.unchain(next);
    next.phase = 'queued';
    this.flow.requeue(next);
  }

  /** Every record held behind its key, taken out of the chains (for shutdown). */
  private takeChained(): Job[] {
    const out: Job[] = [];
    for (const chain of this.chains.values()) {
      for (let j = chain.head.next; j !== undefined; j = j.next) {
        if (j.phase === 'chained') {
          this.unchain(j);
          out.push(j);
        }
      }
    }
    this.chains.clear();
    return out;
  }

  private send(job: Job): void {
    job.attempts++;
    job.phase = 'sending';
    let authorization: string | undefined | Promise<string | undefined>;
    try {
      authorization = this.auth.authorization();
    } catch (err) {
      this.onAttemptError(job, err);
      return;
    }
    if (typeof authorization === 'object') {
      authorization.then(
        (h) => this.dispatch(job, h),
        (err: unknown) => this.onAttemptError(job, err),
      );
    } else {
      this.dispatch(job, authorization);
    }
  }

  private dispatch(job: Job, authorization: string | undefined): void {
    if (job.phase === 'done') return;
    job.authorization = authorization;
    this.transport.post(
      this.origin,
      job.req.path,
      job.req.contentType,
      authorization,
      job.req.body,
      job.signal,
      this.posted,
      job,
    );
  }

  /** One callback for every post (the job travels as its context): no closures per attempt. */
  private readonly posted = (job: Job, err: unknown, res: HttpResponse | undefined): void => {
    if (res !== undefined) this.onResponse(job, res);
    else this.onAttemptError(job, err);
  };

  private onResponse(job: Job, res: HttpResponse): void {
    if (job.phase === 'done') return;
    const s = res.statusCode;
    if (s >= 200 && s < 300) {
      let result: ProduceResult;
      try {
        const ok = parseProduceSuccess(this.flavour, job.topic, s, res.text);
        result = ok as ProduceResult;
        result.attempts = job.attempts;
      } catch (err) {
        this.finish(job, finalError(err as EventStreamsError, job.attempts));
        return;
      }
      this.authFailed = false;
      this.finish(job, undefined, result);
      return;
    }
    if (s === 401 && !job.authRetried && this.auth.invalidate(job.authorization)) {
      // An IAM token can be revoked or expire early: fetch a new one and resend once.
      job.authRetried = true;
      this.retries++;
      this.send(job);
      return;
    }
    if (s === 401 || s === 403) this.authFailed = true;
    this.onAttemptError(
      job,
      errorFromResponse(s, res.headers, res.text, {
        operation: `Produce to topic "${job.topic}"`,
        topic: job.topic,
        secrets: this.auth.secrets(),
      }),
    );
  }

  private onAttemptError(job: Job, raw: unknown): void {
    if (job.phase === 'done') return;
    const err = mapTransportError(raw, this.origin, job.signal);
    if (err instanceof AuthenticationError) this.authFailed = true;
    const hold = dispositionOf(err) === 'hold';
    const delay =
      this.hardClosed || job.once ? undefined : nextRetryDelay(this.retry, err, job.attempts, job.startedAt);
    if (delay === undefined) {
      this.finish(job, finalError(err, job.attempts));
      return;
    }
    this.retries++;
    this.waitingRetry++;
    if (err.code === 'RATE_LIMITED') {
      job.throttled = true;
      this.waitingThrottled++;
    }
    job.phase = 'waiting';
    if (hold) {
      // Only this request waits for the server's delay; its slot goes to the next record.
      job.slot = false;
      job.holding = true;
      this.held++;
      this.heldBytes += job.bytes;
      this.flow.release();
    }
    job.timer = setTimeout(this.retryFire, delay, job);
  }

  private onRetryTimer(job: Job): void {
    job.timer = undefined;
    this.clearWaiting(job);
    if (job.phase === 'done') return;
    if (!job.slot) {
      // A held record queues for a slot again, ahead of records that came after it.
      this.unhold(job);
      job.phase = 'queued';
      this.flow.requeue(job);
      return;
    }
    // A retry is a request like any other, so it waits for a rate token too.
    const wait = this.flow.takeToken();
    if (wait > 0) {
      this.waitingRetry++;
      job.timer = setTimeout(this.retryFire, wait, job);
      return;
    }
    this.send(job);
  }

  private unhold(job: Job): void {
    if (!job.holding) return;
    job.holding = false;
    this.held--;
    this.heldBytes -= job.bytes;
  }

  private clearWaiting(job: Job): void {
    if (job.phase !== 'waiting') return;
    this.unhold(job);
    this.waitingRetry--;
    if (job.throttled) {
      job.throttled = false;
      this.waitingThrottled--;
    }
  }

  /**
   * One 'abort' listener per signal, not per record: callers such as the producer node pass one
   * long-lived signal with every record, and EventTarget scans its whole listener list on each
   * add and remove, which cost microseconds per record with a full queue.
   */
  private watchSignal(signal: AbortSignal, job: Job): void {
    let jobs = this.signalJobs.get(signal);
    if (jobs === undefined) {
      const watched = new Set<Job>();
      jobs = watched;
      this.signalJobs.set(signal, watched);
      signal.addEventListener(
        'abort',
        () => {
          this.signalJobs.delete(signal);
          for (const j of [...watched]) this.onAbort(j);
        },
        { once: true },
      );
    }
    jobs.add(job);
  }

  private unwatchSignal(signal: AbortSignal, job: Job): void {
    // The listener stays while the signal is in use; the WeakMap lets both go with the caller.
    this.signalJobs.get(signal)?.delete(job);
  }

  private onAbort(job: Job): void {
    if (job.phase === 'done') return;
    const err = new AbortedError('The record was aborted by its caller.', { topic: job.topic });
    if (job.phase === 'queued' || job.phase === 'chained') {
      if (job.phase === 'queued') this.flow.remove(job);
      else this.unchain(job);
      err.attempts = job.attempts;
      this.settle(job, err);
      this.checkDrained();
      return;
    }
    if (job.phase === 'waiting') {
      this.finish(job, finalError(err, job.attempts));
    }
    // 'sending': the transport aborts the post through the same signal and onAttemptError settles.
  }

  /** Settles a started job and frees its in-flight slot. */
  private finish(job: Job, err?: EventStreamsError, result?: ProduceResult): void {
    if (job.phase === 'done') return;
    if (job.timer !== undefined) {
      clearTimeout(job.timer);
      job.timer = undefined;
    }
    this.clearWaiting(job);
    this.active.delete(job);
    const hadSlot = job.slot;
    job.slot = false;
    this.settle(job, err, result);
    if (hadSlot) this.flow.release();
    this.checkDrained();
  }

  private checkDrained(): void {
    if (
      this.drained !== undefined &&
      this.active.size === 0 &&
      this.flow.queued === 0 &&
      this.chained === 0
    ) {
      this.drained();
    }
  }

  private settle(job: Job, err?: EventStreamsError, result?: ProduceResult): void {
    const wasChained = job.phase === 'chained';
    job.phase = 'done';
    this.active.delete(job);
    if (job.signal !== undefined) this.unwatchSignal(job.signal, job);
    if (job.chainKey !== undefined && !wasChained) this.advanceChain(job);
    if (err !== undefined) {
      if (err.code !== 'WITHDRAWN') this.failed++;
      job.reject(err);
    } else {
      this.delivered++;
      job.resolve(result as ProduceResult);
    }
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    if (this.active.size > 0 || this.flow.queued > 0 || this.chained > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        timer = setTimeout(resolve, deadlineMs);
      });
      clearTimeout(timer);
      this.drained = undefined;
    }
    this.hardClosed = true;
    // Chains first: settling a queued head must not let the next record of its key go.
    const chained = this.takeChained();
    const leftovers = this.flow.drain();
    leftovers.push(...chained);
    for (const job of leftovers) {
      const err = new ClosedError('The client was closed before this record could be sent.', {
        topic: job.topic,
      });
      err.attempts = job.attempts;
      this.settle(job, err);
    }
    const unfinished = [...this.active];
    for (const job of unfinished) {
      this.finish(
        job,
        new ClosedError(
          'The client was closed before the server confirmed this record; it may or may not have been written.',
          { topic: job.topic, attempts: job.attempts },
        ),
      );
    }
    await (unfinished.length > 0 ? this.transport.destroy() : this.transport.close());
  }

  // ---------------------------------------------------------------------------------------------
  // Connection check helpers

  private classifyTransportError(err: EventStreamsError): ConnectionCheck {
    if (err instanceof TlsError) {
      // With TLS 1.3 a client-certificate alert arrives after we verified the server.
      return err.reason === 'CLIENT_CERT'
        ? { reachable: true, tlsTrusted: true, authenticated: false, error: err }
        : { reachable: true, tlsTrusted: false, authenticated: null, error: err };
    }
    return { reachable: false, tlsTrusted: null, authenticated: null, error: err };
  }

  private async probeWithoutAuth(authError: EventStreamsError, https: boolean): Promise<ConnectionCheck> {
    const admin = new URL(this.adminUrl);
    try {
      await this.transport.request(admin.origin, {
        method: 'GET',
        path: `${admin.pathname.replace(/\/+$/, '')}/admin/topics?per_page=1`,
        headers: { accept: 'application/json', 'user-agent': this.userAgent },
      });
    } catch (raw) {
      const check = this.classifyTransportError(mapTransportError(raw, admin.origin));
      if (!check.reachable || check.tlsTrusted === false) return check;
    }
    return {
      reachable: true,
      tlsTrusted: https ? true : null,
      authenticated: authError instanceof AuthenticationError ? false : null,
      error: authError,
    };
  }

  private async produceProbe(trusted: boolean | null): Promise<ConnectionCheck> {
    let res: HttpResponse;
    try {
      const authorization = await this.auth.authorization();
      const headers: Record<string, string> = {
        'content-type': this.flavour === 'v2' ? 'application/json' : 'text/plain',
        accept: 'application/json',
        'user-agent': this.userAgent,
      };
      if (authorization !== undefined) headers.authorization = authorization;
      res = await this.transport.request(this.origin, {
        method: 'POST',
        path: `${this.basePath}${this.flavour === 'v2' ? '/v2' : ''}/topics/${PROBE_TOPIC}/records`,
        headers,
        body: '',
      });
    } catch (raw) {
      return this.classifyTransportError(mapTransportError(raw, this.origin));
    }
    const s = res.statusCode;
    if (s === 401) {
      return {
        reachable: true,
        tlsTrusted: trusted,
        authenticated: false,
        error: errorFromResponse(s, res.headers, res.text, {
          operation: 'Connection check',
          secrets: this.auth.secrets(),
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
      error: errorFromResponse(s, res.headers, res.text, {
        operation: 'Connection check',
        secrets: this.auth.secrets(),
        notFoundIsTopic: false,
      }),
    };
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
