// SPDX-License-Identifier: Apache-2.0
/**
 * The REST transport as a {@link Sender}: the produce pipeline. It validates and encodes a
 * record, queues it behind the in-flight cap and rate limit, keeps per-key order (one rule,
 * lib/record-codec.ts `orderKeyOf`), sends it with the session's authentication, retries
 * retriable failures (the error model decides), and settles the caller's promise exactly once.
 * Nothing is dropped without its caller being told.
 *
 * The session (credentials, connection pools, admin, registry) is lib/client.ts, which builds
 * one of these and closes the pools after it. Delivery is at-least-once: see lib/retry.ts for
 * why a retried POST may duplicate a record.
 *
 * Over 500 lines because the pipeline's state (queue, chains, holds, withdraw, shutdown) is one
 * machine: splitting it would spread each record's life over files.
 */
import { AdaptiveLimit } from './adaptive-limit';
import type { AuthProvider } from './auth';
import { ENDPOINT_FIELD_DEFAULTS, ms } from './defaults';
import {
  AbortedError,
  AuthenticationError,
  ClosedError,
  type EventStreamsError,
  QueueFullError,
  WithdrawnError,
} from './errors';
import { performance } from 'node:perf_hooks';

import {
  nextProduceId,
  produceEnd,
  type ProduceEndMessage,
  produceRetry,
  type ProduceRetryMessage,
  produceStart,
  type ProduceStartMessage,
} from './diagnostics';
import { dispositionOf, fromHttp } from './error-model';
import { type EncodedRequest, type EncodeLimits, encodeRecord, parseProduceSuccess } from './encode';
import { FlowControl, type FlowJob } from './flow';
import { orderKeyOf } from './record-codec';
import { finalError, nextRetryDelay, type RetryPolicy } from './retry';
import { needsSchemaText } from './schema';
import type { SchemaRegistryClient } from './schema-registry';
import { notify, type Receipt, type SendOptions, type Sender, sendBySubmit, submitBySend } from './sender';
import { type HttpResponse, mapTransportError, type Transport } from './transport';
import type {
  ApiFlavour,
  ClientStats,
  CloseOptions,
  ConnectionCheck,
  ProduceRecord,
  ProduceResult,
} from './types';
import { positiveInt, validateTopicName } from './validate';

const DEFAULT_CLOSE_DEADLINE_MS = ms(ENDPOINT_FIELD_DEFAULTS.closeTimeout);
/** Topic names already validated (a bounded cache: most flows produce to a handful of topics). */
const TOPIC_CACHE_SIZE = 256;

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
  /** Diagnostics span id and start (performance.now()); 0 while nobody subscribes. */
  id = 0;
  t0 = 0;
  /** When the current attempt went on the wire (performance.now()), for the round trip. */
  sentAt = 0;
  readonly bytes: number;
  constructor(
    readonly topic: string,
    readonly req: EncodedRequest,
    readonly receipt: Receipt<unknown>,
    readonly ctx: unknown,
    readonly signal: AbortSignal | undefined,
  ) {
    this.bytes = req.bytes;
  }
}

/** What the session gives its produce pipeline (lib/client.ts builds it from the client options). */
export interface RestSenderInit {
  origin: string;
  /** The producer URL's path without a trailing slash (usually empty). */
  basePath: string;
  flavour: ApiFlavour;
  http: Transport;
  auth: AuthProvider;
  retry: RetryPolicy;
  limits: EncodeLimits;
  /** Requests in flight to start with (the `connections` option). */
  maxInFlight: number;
  /** The most requests in flight the adaptive limit may grow to (lib/adaptive-limit.ts). */
  maxConnections: number;
  rateLimit: number;
  maxQueued: number;
  maxQueuedBytes: number;
  orderByKey: boolean;
  insecure: boolean;
  /** v2 sends Avro schemas inline: a schema named by registry id is fetched from here first. */
  schemas: SchemaRegistryClient;
  /** The session's connection check (lib/connection-check.ts). */
  check: () => Promise<ConnectionCheck>;
}

export class RestSender implements Sender {
  readonly transport = 'rest' as const;
  readonly flavour: ApiFlavour;

  private readonly origin: string;
  private readonly basePath: string;
  private readonly http: Transport;
  private readonly auth: AuthProvider;
  private readonly retry: RetryPolicy;
  private readonly limits: EncodeLimits;
  private readonly schemas: SchemaRegistryClient;
  private readonly check: () => Promise<ConnectionCheck>;
  private readonly insecure: boolean;
  private readonly flow: FlowControl<Job>;
  private readonly limiter: AdaptiveLimit;
  private readonly active = new Set<Job>();
  private readonly topics = new Set<string>();
  private readonly signalJobs = new WeakMap<AbortSignal, Set<Job>>();
  /** Records waiting for their schema's text (v2), by the signal they came with. */
  private readonly fetching = new WeakMap<AbortSignal, Set<() => void>>();
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
  /** Requests answered 429/503 that waited out Retry-After, since the client was created. */
  private holds = 0;
  /** Set by close(): records were still on the wire, so the session destroys its pools. */
  abandoned = false;

  constructor(init: RestSenderInit) {
    this.origin = init.origin;
    this.basePath = init.basePath;
    this.flavour = init.flavour;
    this.http = init.http;
    this.auth = init.auth;
    this.retry = init.retry;
    this.limits = init.limits;
    this.schemas = init.schemas;
    this.check = init.check;
    this.insecure = init.insecure;
    this.orderByKey = init.orderByKey;
    this.maxQueued = init.maxQueued;
    this.maxQueuedBytes = init.maxQueuedBytes;
    this.limiter = new AdaptiveLimit({
      initial: init.maxInFlight,
      max: init.maxConnections,
      rateLimit: init.rateLimit,
    });
    this.flow = new FlowControl<Job>(
      {
        maxInFlight: init.maxInFlight,
        maxQueuedMessages: init.maxQueued,
        maxQueuedBytes: init.maxQueuedBytes,
        rateLimit: init.rateLimit,
      },
      (job) => this.start(job),
    );
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
  send(topic: string, record: ProduceRecord, options?: SendOptions): Promise<ProduceResult> {
    return sendBySubmit(this, topic, record, options);
  }

  /** {@link send} without a promise: see {@link Receipt}. */
  submit<C>(
    topic: string,
    record: ProduceRecord,
    options: SendOptions | undefined,
    receipt: Receipt<C>,
    ctx: C,
  ): void {
    if (this.closing) {
      const err = new ClosedError('The client is closed; the record was not sent.', { topic: String(topic) });
      notify(receipt, ctx, err, undefined);
      return;
    }
    // v2 sends Avro schemas inline: a schema named by registry id is fetched (cached) first.
    if (
      this.flavour === 'v2' &&
      (needsSchemaText(record?.valueSchema) || needsSchemaText(record?.keySchema))
    ) {
      submitBySend(
        { send: () => this.produceAfterSchemaFetch(topic, record, options) },
        topic,
        record,
        options,
        receipt,
        ctx,
      );
      return;
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
      notify(receipt, ctx, err as EventStreamsError, undefined);
      return;
    }
    const signal = options?.signal;
    if (signal?.aborted) {
      const err = new AbortedError('The record was aborted before it was sent.', { topic, attempts: 0 });
      notify(receipt, ctx, err, undefined);
      return;
    }
    const job = new Job(topic, req, receipt as Receipt<unknown>, ctx, signal);
    if (options?.once === true) job.once = true;
    if (produceStart.hasSubscribers || produceEnd.hasSubscribers) this.publishStart(job);
    try {
      const key = this.orderByKey ? orderKeyOf(topic, record.key) : undefined;
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
      if (job.id !== 0) this.publishEnd(job, err as EventStreamsError);
      notify(receipt, ctx, err as EventStreamsError, undefined);
      return;
    }
    if (signal !== undefined && job.phase !== 'done') this.watchSignal(signal, job);
  }

  /**
   * v2 with a schema named by registry id: its text is fetched (cached) first. A record waiting
   * for the fetch is not on the wire, so `withdraw` takes it back like a queued one.
   */
  private produceAfterSchemaFetch(
    topic: string,
    record: ProduceRecord,
    options: SendOptions | undefined,
  ): Promise<ProduceResult> {
    const signal = options?.signal;
    if (signal === undefined) {
      return this.schemas.withSchemaText(record).then((r) => this.send(topic, r, options));
    }
    return new Promise<ProduceResult>((resolve, reject) => {
      let taken = false;
      const take = (): void => {
        taken = true;
        const err = new WithdrawnError('The record was taken back before it was sent.', { topic });
        err.attempts = 0;
        reject(err);
      };
      let waiting = this.fetching.get(signal);
      if (waiting === undefined) {
        waiting = new Set();
        this.fetching.set(signal, waiting);
      }
      const set = waiting;
      set.add(take);
      this.schemas.withSchemaText(record).then(
        (r) => {
          set.delete(take);
          if (!taken) this.send(topic, r, options).then(resolve, reject);
        },
        (err: unknown) => {
          set.delete(take);
          if (!taken) reject(err as EventStreamsError);
        },
      );
    });
  }

  /**
   * Takes back every record given with `signal` that is not being sent right now (queued, held
   * behind its key, or waiting for a retry) and rejects each with a {@link WithdrawnError}, so
   * that its caller can send it elsewhere (the producer node hands such records to its next
   * instance on a redeploy). Records on the wire are left to finish. Returns how many were taken.
   */
  withdraw(signal: AbortSignal): number {
    const fetching = this.fetching.get(signal);
    let fetched = 0;
    if (fetching !== undefined) {
      const takes = [...fetching];
      fetching.clear();
      for (const take of takes) take();
      fetched = takes.length;
    }
    const jobs = this.signalJobs.get(signal);
    if (jobs === undefined) return fetched;
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
    return fetched + taken.length;
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
      holds: this.holds,
      insecure: this.insecure,
      chained: this.chained,
      maxInFlight: this.flow.limit,
      maxConnections: this.limiter.max,
    };
  }

  /** The session's connection check: reach, trust, credentials, and the produce path. */
  testConnection(): Promise<ConnectionCheck> {
    return this.check();
  }

  /**
   * Stops accepting records (produce → ClosedError), lets in-flight and queued records finish
   * until `deadlineMs` (default 10 s), then rejects whatever is left with ClosedError. The
   * connection pools are the session's (lib/client.ts), which closes them after this. Idempotent:
   * later calls return the same promise.
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
    this.attempt(job);
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

  private attempt(job: Job): void {
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
    job.sentAt = performance.now();
    this.http.post(
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
        result.bytes = job.req.recordBytes;
      } catch (err) {
        this.finish(job, finalError(err as EventStreamsError, job.attempts));
        return;
      }
      this.authFailed = false;
      const limit = this.limiter.onSuccess(
        performance.now() - job.sentAt,
        this.flow.queued,
        this.flow.inFlight,
      );
      if (limit !== this.flow.limit) this.flow.setLimit(limit);
      this.finish(job, undefined, result);
      return;
    }
    if (s === 401 && !job.authRetried && this.auth.invalidate(job.authorization)) {
      // An IAM token can be revoked or expire early: fetch a new one and resend once.
      job.authRetried = true;
      this.retries++;
      this.attempt(job);
      return;
    }
    if (s === 401 || s === 403) this.authFailed = true;
    this.onAttemptError(
      job,
      fromHttp(s, res.headers, res.text, {
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
      this.holds++;
      this.heldBytes += job.bytes;
      const limit = this.limiter.onHold();
      if (limit !== this.flow.limit) this.flow.setLimit(limit);
      this.flow.release();
    }
    if (produceRetry.hasSubscribers) {
      produceRetry.publish({
        id: job.id,
        transport: 'rest',
        topic: job.topic,
        attempt: job.attempts,
        delayMs: delay,
        disposition: hold ? 'hold' : 'retry',
        errorCode: err.code,
        ...(err.statusCode !== undefined ? { statusCode: err.statusCode } : {}),
      } satisfies ProduceRetryMessage);
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
    this.attempt(job);
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
    if (job.id !== 0) this.publishEnd(job, err, result);
    if (err !== undefined) {
      if (err.code !== 'WITHDRAWN') this.failed++;
    } else {
      this.delivered++;
    }
    notify(job.receipt, job.ctx, err, result);
  }

  private publishStart(job: Job): void {
    job.id = nextProduceId();
    job.t0 = performance.now();
    if (!produceStart.hasSubscribers) return;
    produceStart.publish({
      id: job.id,
      transport: 'rest',
      topic: job.topic,
      bytes: job.bytes,
      once: job.once,
    } satisfies ProduceStartMessage);
  }

  private publishEnd(job: Job, err?: EventStreamsError, result?: ProduceResult): void {
    if (!produceEnd.hasSubscribers) return;
    const m: ProduceEndMessage = {
      id: job.id,
      transport: 'rest',
      topic: job.topic,
      bytes: job.bytes,
      attempts: job.attempts,
      durationMs: performance.now() - job.t0,
    };
    if (result?.partition !== undefined) m.partition = result.partition;
    if (result?.offset !== undefined) m.offset = result.offset;
    if (err !== undefined) {
      m.errorCode = err.code;
      if (err.statusCode !== undefined) m.statusCode = err.statusCode;
    }
    produceEnd.publish(m);
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
    this.abandoned = unfinished.length > 0;
  }
}
