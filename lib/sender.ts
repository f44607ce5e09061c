// SPDX-License-Identifier: Apache-2.0
/**
 * The delivery seam: what a producer needs from whatever carries its records. One implementation
 * per way of carrying them (REST v1/v2 through undici, the Kafka protocol through kafkajs) and a
 * decorator for the durable outbox, so that nodes and tests talk to one interface whatever the
 * endpoint is configured for. No Node-RED imports; no transport details leak through it.
 */
import type { EventStreamsError } from './errors';
import type { ClientStats, CloseOptions, ConnectionCheck, ProduceRecord, ProduceResult } from './types';

/**
 * Where a sender reports one record's outcome without a promise: one receipt object per caller,
 * and the record's own context handed back, so that a record on the hot path costs no promise,
 * no closure and no microtask per layer (the node, the metrics decorator, the transport). At
 * 50,000 records a second those were a measurable share of the producer node's CPU and garbage.
 *
 * A receipt may be called before `submit` returns (a record refused at once).
 */
export interface Receipt<C> {
  delivered(ctx: C, result: ProduceResult): void;
  failed(ctx: C, err: EventStreamsError): void;
  /** Only a durable decorator (the outbox) calls it: see {@link SendOptions.onStored}. */
  stored?(ctx: C): void;
}

export interface SendOptions {
  /** Aborting takes the record back if it is not on the wire yet (see {@link Sender.withdraw}). */
  signal?: AbortSignal;
  /**
   * One attempt, no retries of the sender's own: the caller is the retry loop (the outbox, which
   * holds and probes instead). A transport that cannot turn its retries off must say so.
   */
  once?: boolean;
  /**
   * Called once, when a decorator that stores records before sending them (the outbox) has the
   * record durably. The caller may complete its input then; the promise still settles later with
   * the broker's report or the failure that made the outbox drop the record. Direct senders
   * never call it.
   */
  onStored?: () => void;
}

/** A durable decorator's backlog, for status displays. */
export interface Backlog {
  /** Records stored and not yet delivered. */
  depth: number;
  /** The last send failure, cleared by the next success. */
  lastError?: Error;
}

/**
 * Carries records to a topic. Every `send()` settles exactly once: with the broker's report, or
 * with an {@link EventStreamsError} whose code and disposition come from the one error model.
 */
export interface Sender {
  /** `rest` (REST Producer API v1/v2) or `kafka` (the Kafka protocol). */
  readonly transport: 'rest' | 'kafka';
  send(topic: string, record: ProduceRecord, options?: SendOptions): Promise<ProduceResult>;
  /**
   * `send` without the promise: the outcome goes to `receipt` with `ctx`, exactly once
   * (`stored` first, for a durable decorator). `options.onStored` is not used; `receipt.stored` is.
   */
  submit<C>(
    topic: string,
    record: ProduceRecord,
    options: SendOptions | undefined,
    receipt: Receipt<C>,
    ctx: C,
  ): void;
  /**
   * Rejects with code CLOSED every record sent with `signal` that is not on the wire yet, so that
   * a redeploy can hand it to the next instance; returns how many were taken back.
   */
  withdraw(signal: AbortSignal): number;
  /** Counters and state for the node status; cheap, called about once a second. */
  stats(): ClientStats;
  /** What the editor's Test connection button shows: reach, trust, credentials, and produce. */
  testConnection(): Promise<ConnectionCheck>;
  /** Lets in-flight and queued records finish within the deadline, then rejects the rest. */
  close(options?: CloseOptions): Promise<void>;
  readonly closed: boolean;
  /** Only a durable decorator (the outbox) has one: its backlog once open, else undefined. */
  backlog?(): Backlog | undefined;
  /** Only with `backlog`: calls `listener` (coalesced) when the backlog changes; returns the unsubscribe. */
  watchBacklog?(listener: () => void): () => void;
}

/** The failure a {@link Sender} rejects with. */
export type SendError = EventStreamsError;

interface Pending {
  resolve: (r: ProduceResult) => void;
  reject: (e: EventStreamsError) => void;
  onStored: (() => void) | undefined;
}

const TO_PROMISE: Receipt<Pending> = {
  delivered: (p, result) => p.resolve(result),
  failed: (p, err) => p.reject(err),
  stored: (p) => p.onStored?.(),
};

/** `send` for a sender whose primitive is `submit`: the one place a receipt becomes a promise. */
export function sendBySubmit(
  sender: Pick<Sender, 'submit'>,
  topic: string,
  record: ProduceRecord,
  options: SendOptions | undefined,
): Promise<ProduceResult> {
  return new Promise<ProduceResult>((resolve, reject) => {
    sender.submit(topic, record, options, TO_PROMISE, { resolve, reject, onStored: options?.onStored });
  });
}

/** `submit` for a sender whose primitive is `send` (the outbox): the promise's outcome to the receipt. */
export function submitBySend<C>(
  sender: Pick<Sender, 'send'>,
  topic: string,
  record: ProduceRecord,
  options: SendOptions | undefined,
  receipt: Receipt<C>,
  ctx: C,
): void {
  const stored = receipt.stored;
  sender
    .send(topic, record, stored ? { ...options, onStored: () => stored.call(receipt, ctx) } : options)
    .then(
      (result) => notify(receipt, ctx, undefined, result),
      (err: EventStreamsError) => notify(receipt, ctx, err, undefined),
    );
}

/**
 * Calls a receipt from inside a sender. A receipt that throws is its caller's bug; it is thrown
 * again on its own tick (an uncaught exception, as from any callback) instead of breaking the
 * sender's loop halfway through a batch.
 */
export function notify<C>(
  receipt: Receipt<C>,
  ctx: C,
  err: EventStreamsError | undefined,
  result: ProduceResult | undefined,
): void {
  try {
    if (err !== undefined) receipt.failed(ctx, err);
    else receipt.delivered(ctx, result!);
  } catch (thrown) {
    queueMicrotask(() => {
      throw thrown;
    });
  }
}
