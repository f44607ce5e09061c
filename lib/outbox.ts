// SPDX-License-Identifier: Apache-2.0
/**
 * The durable outbox: records are validated, written to a crash-safe spool (lib/spool.ts) and
 * only then confirmed to the caller; a sender drains the spool through the endpoint's transport ({@link Sender}),
 * surviving outages of any length and process restarts. The endpoint config node uses it when
 * its outbox option is on; nothing here is Node-RED specific.
 *
 * Semantics (also in the endpoint's help and the README's "Durable outbox"):
 * - `enqueue` resolves once the record is durably on disk; the producer calls `done()` then.
 * - Records are sent in spool order with at most one record of a key in flight, so per-key order
 *   holds even across retries and restarts. Keyless records may go out concurrently.
 * - Failures other than a rejection of the record itself (network, TLS, 5xx, 429,
 *   authentication, authorization, missing topic) keep the record in the spool and put the
 *   sender on hold: it waits (the shared backoff of lib/retry.ts with jitter, capped at
 *   `maxHoldMs`, 1.5 s by default, so the first record goes out within about that long of the
 *   server answering again) and then sends ONE record as a probe, the others held, forever; the
 *   first success resumes full speed. Only a record the server rejects as malformed
 *   (400/413/415/too large) is removed and reported, because resending it can never succeed
 *   and would block its key.
 * - When the spool is at `maxBytes` a new record is refused with QUEUE_FULL (nothing is evicted).
 * - At-least-once: a record acknowledged shortly before a crash may be sent again after restart,
 *   at most {@link OUTBOX_ACK_BACKLOG} + 2 × `concurrency` of them: new sends wait while that many
 *   acknowledgements wait for the spool's checkpoint (see lib/spool.ts).
 * - A full or failing disk rejects the new record with OUTBOX_FULL / OUTBOX_IO and keeps nothing
 *   of it; records lost to damage found at open are counted once (`lastError` OUTBOX_DAMAGED,
 *   {@link Outbox.recovery}) and every intact record is sent.
 *
 * Work per record is O(1): the sender keeps its own index of the spool (a FIFO of sendable
 * records, a FIFO per key of records behind one in flight, the set in flight), so neither
 * enqueue nor completion scans the backlog. Records recovered at open are indexed in slices so
 * that a large backlog does not block the event loop.
 * Over 500 lines because enqueue, drain, hold and close share one queue and its accounting; the
 * on-disk part is in spool.ts.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';

import { type EncodeLimits, encodeRecord } from './encode';
import { ClosedError, type EventStreamsError, OutboxStorageError } from './errors';
import { isRecordRejection } from './error-model';
import { outboxDrop, type OutboxDropMessage } from './diagnostics';
import { loadRecord, orderKeyOf, storeRecord } from './record-codec';
import { backoffDelay, type RetryPolicy } from './retry';
import { needsSchemaText } from './schema';
import type { Sender, SendOptions } from './sender';
import { CHECKPOINT_ACKS, Spool, type SpoolRecovery } from './spool';
import type { ApiFlavour, ProduceRecord, ProduceResult } from './types';
import { validateTopicName } from './validate';

/** Longest wait between probes while the server fails (see the module comment). */
export const DEFAULT_OUTBOX_MAX_HOLD_MS = 1500;
/**
 * New sends wait while this many acknowledgements wait for a checkpoint: it bounds the records
 * sent again after a crash (a checkpoint is started at {@link CHECKPOINT_ACKS}).
 */
export const OUTBOX_ACK_BACKLOG = 2 * CHECKPOINT_ACKS;
/** Time one slice of indexing recovered records may take before yielding to the event loop. */
const INDEX_SLICE_MS = 4;

/**
 * The outbox's one classification of a failed send: `drop` (remove and report) or `hold` (keep,
 * back off, probe). It differs from the client's `retriable` on purpose: authentication,
 * authorization, TLS and missing-topic failures are final for a direct send but are held here,
 * since the outbox outlives a fix of the credentials or topic. A retriable error is always held;
 * otherwise the error model (lib/error-model.ts) decides whether the record itself was rejected.
 */
export function outboxDisposition(err: unknown): 'drop' | 'hold' {
  if ((err as { retriable?: unknown } | null)?.retriable === true) return 'hold';
  return isRecordRejection(err) ? 'drop' : 'hold';
}

/**
 * One attempt per send: the outbox is the retry loop (a sender retrying inside a probe would
 * sleep through the server's return).
 */
const ONCE: SendOptions = { once: true };

export interface OutboxOptions {
  dir: string;
  maxBytes: number;
  flavour: ApiFlavour;
  limits: EncodeLimits;
  /** Records in flight at once (keep at or below the client's in-flight cap). */
  concurrency: number;
  /** First wait after a failed send; grows (with jitter) up to `maxHoldMs`. */
  retryDelayMs: number;
  /** Longest wait between probes while failing. Default {@link DEFAULT_OUTBOX_MAX_HOLD_MS}. */
  maxHoldMs?: number;
  segmentBytes?: number;
  /** fdatasync each group commit (default true); see lib/spool.ts. */
  fsync?: boolean;
  /** How long an acknowledgement may wait for the checkpoint (default 200 ms); see lib/spool.ts. */
  checkpointDelayMs?: number;
}

/** Told about a record's fate after it was spooled (only while its producer node is running). */
export interface OutboxListener {
  delivered(result: ProduceResult): void;
  dropped(err: Error): void;
}

/** Counters and state for status displays, logs and the bench. */
export interface OutboxStats {
  depth: number;
  bytes: number;
  inFlight: number;
  /** Waiting before the next probe, or sending one record at a time to find the server back. */
  holding: boolean;
  /** Failed probes in a row (0 while healthy). */
  failures: number;
  delivered: number;
  dropped: number;
}

/** A FIFO with O(1) push and shift; the consumed head is compacted away lazily. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/**
 * The outbox: a spool plus the sender that drains it. Emits `change` (at most once per turn of
 * the event loop) when its depth or error state changes, and `dropped` (seq, err) for a record
 * removed as undeliverable that had no listener.
 */
export class Outbox extends EventEmitter {
  /** The last send failure, cleared by the next success. */
  private sendError: Error | undefined;
  /** Records lost to damage found at open (OUTBOX_DAMAGED): shown until the outbox is reopened. */
  private readonly lossError: OutboxStorageError | undefined;
  private awaitingCheckpoint = false;
  /** The checkpoint failed: sends go on (the resend bound no longer holds) until it is retried. */
  private checkpointStalled = false;

  private readonly waiters = new Map<number, OutboxListener>();
  /** Order key of every indexed, unacknowledged record. */
  private readonly keys = new Map<number, string | null>();
  /** Records that may be sent now (keyless, or the first of their key). */
  private readonly ready = new Fifo<number>();
  /** Records sent and failed, to go out again before `ready` (ascending, at most `concurrency`). */
  private readonly again: number[] = [];
  /** Keys with a record in flight or ready, and that key's later records (null: none yet). */
  private readonly busyKeys = new Map<string, Fifo<number> | null>();
  private readonly inFlight = new Set<number>();
  private readonly policy: RetryPolicy;
  /** Seqs appended while recovered records are still being indexed (they come after them). */
  private lateSeqs: number[] | undefined = [];
  private failures = 0;
  private holding = false;
  private delivered = 0;
  private droppedCount = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private changeScheduled = false;
  private closed = false;
  private idle: (() => void) | undefined;

  private constructor(
    private readonly spool: Spool,
    private readonly options: OutboxOptions,
    private readonly getSender: () => Sender,
  ) {
    super();
    // One `change` listener per producer node that shows the depth: as many as the flows have.
    this.setMaxListeners(0);
    const r = spool.recovery;
    if (r.lost > 0) {
      const where = r.damage
        .filter((d) => d.lost > 0)
        .slice(0, 5)
        .map((d) => `${d.segment} bytes ${d.start}-${d.end}: ${d.lost}`)
        .join('; ');
      const more = r.damage.filter((d) => d.lost > 0).length > 5 ? '; …' : '';
      this.lossError = new OutboxStorageError(
        `${r.lost} stored message(s) were lost to damage in the outbox files (${where}${more})`,
        'OUTBOX_DAMAGED',
      );
    }
    const initialDelayMs = Math.max(1, options.retryDelayMs);
    this.policy = {
      retries: Number.POSITIVE_INFINITY,
      initialDelayMs,
      maxDelayMs: Math.max(initialDelayMs, options.maxHoldMs ?? DEFAULT_OUTBOX_MAX_HOLD_MS),
      maxRetryTimeMs: Number.POSITIVE_INFINITY,
    };
  }

  /** Opens the spool in `options.dir` (recovering it) and starts sending what it holds. */
  static async open(options: OutboxOptions, getSender: () => Sender): Promise<Outbox> {
    const spool = await Spool.open({
      dir: options.dir,
      maxBytes: options.maxBytes,
      ...(options.segmentBytes ? { segmentBytes: options.segmentBytes } : {}),
      ...(options.fsync === false ? { fsync: false } : {}),
      ...(options.checkpointDelayMs !== undefined ? { checkpointDelayMs: options.checkpointDelayMs } : {}),
    });
    const outbox = new Outbox(spool, options, getSender);
    outbox.indexRecovered(spool.seqs(), 0);
    return outbox;
  }

  /** Records stored and not yet delivered. */
  get depth(): number {
    return this.spool.depth;
  }

  get bytes(): number {
    return this.spool.bytes;
  }

  /** What recovery found when the outbox was opened. */
  get recovered(): number {
    return this.spool.recovery.records;
  }

  /** Recovery's full report: records handed back, lost (count, where), torn bytes. */
  get recovery(): SpoolRecovery {
    return this.spool.recovery;
  }

  /**
   * What the status shows: the last send failure (cleared by the next success), else the
   * records lost to damage found at open (OUTBOX_DAMAGED), else nothing.
   */
  get lastError(): Error | undefined {
    return this.sendError ?? this.lossError;
  }

  stats(): OutboxStats {
    return {
      depth: this.spool.depth,
      bytes: this.spool.bytes,
      inFlight: this.inFlight.size,
      holding: this.holding,
      failures: this.failures,
      delivered: this.delivered,
      dropped: this.droppedCount,
    };
  }

  /**
   * Validates the record (the same checks as a direct send), stores it durably, and resolves
   * with its sequence number. Rejects with the validation error, QUEUE_FULL, or an I/O error.
   */
  async enqueue(topic: string, record: ProduceRecord, listener?: OutboxListener): Promise<number> {
    if (this.closed) throw new ClosedError('The outbox is closed; the message was not stored', { topic });
    validateTopicName(topic);
    const data = this.encode(topic, record);
    const key = orderKeyOf(topic, record.key) ?? null;
    const seq = await this.spool.append(data);
    if (listener) this.waiters.set(seq, listener);
    if (this.lateSeqs) {
      this.keys.set(seq, key);
      this.lateSeqs.push(seq);
    } else {
      this.index(seq, key);
    }
    this.changed();
    this.pump();
    return seq;
  }

  /**
   * Validates the record with the same checks as a direct send and returns its stored form
   * (lib/record-codec.ts). The value is stored as that check encoded it (a v1 body, a v2 value
   * part), so it is serialised once; Avro data is stored as data, every schema field with it.
   */
  private encode(topic: string, record: ProduceRecord): Buffer {
    const flavour = this.options.flavour;
    // v2 with a schema named by registry id: the sender fetches its text (and checks the data)
    // when it sends; without the text there is nothing to check against here.
    if (flavour === 'v2' && (needsSchemaText(record.valueSchema) || needsSchemaText(record.keySchema))) {
      return storeRecord(topic, record);
    }
    const req = encodeRecord(flavour, '', topic, record, this.options.limits);
    if (record.valueSchema !== undefined) return storeRecord(topic, record);
    if (req.v2Value !== undefined) return storeRecord(topic, record, { v2: req.v2Value });
    return flavour === 'v1'
      ? storeRecord(topic, record, { body: req.body, contentType: req.contentType })
      : storeRecord(topic, record);
  }

  /** Stops sending, waits up to `deadlineMs` for sends in flight, and closes the spool. */
  async close(deadlineMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        timer = setTimeout(resolve, deadlineMs);
      });
      clearTimeout(timer);
    }
    this.waiters.clear();
    await this.spool.close();
  }

  // ---------------------------------------------------------------------------------------------

  /** Indexes recovered records a slice per turn, sending as it goes; then the late appends. */
  private indexRecovered(seqs: number[], from: number): void {
    if (this.closed) return;
    const until = performance.now() + INDEX_SLICE_MS;
    let end = from;
    for (let i = from; i < seqs.length; i++) {
      // The clock is read every 64 records: a record's parse is microseconds.
      if ((i & 63) === 0 && i > from && performance.now() > until) break;
      end = i + 1;
      const seq = seqs[i]!;
      const data = this.spool.get(seq);
      if (data === undefined) continue;
      let key: string | null;
      try {
        key = loadRecord(data).orderKey ?? null;
      } catch (err) {
        // Unreadable (CRC-valid but not ours): dropped and reported rather than block the spool.
        this.drop(seq, err);
        continue;
      }
      this.index(seq, key);
    }
    if (end < seqs.length) {
      setImmediate(() => this.indexRecovered(seqs, end));
    } else {
      const late = this.lateSeqs ?? [];
      this.lateSeqs = undefined;
      for (const seq of late) this.index(seq, this.keys.get(seq) ?? null);
    }
    if (end > from) this.changed();
    this.pump();
  }

  /** Adds a record to the sender's index: ready now, or behind the earlier record of its key. */
  private index(seq: number, key: string | null): void {
    this.keys.set(seq, key);
    if (key === null) {
      this.ready.push(seq);
      return;
    }
    if (!this.busyKeys.has(key)) {
      this.busyKeys.set(key, null);
      this.ready.push(seq);
      return;
    }
    let later = this.busyKeys.get(key);
    if (!later) {
      later = new Fifo<number>();
      this.busyKeys.set(key, later);
    }
    later.push(seq);
  }

  /** A record is gone from the spool (delivered or dropped): the next one of its key may go. */
  private release(seq: number): void {
    const key = this.keys.get(seq);
    this.keys.delete(seq);
    if (key === null || key === undefined) return;
    const next = this.busyKeys.get(key)?.shift();
    if (next === undefined) this.busyKeys.delete(key);
    else this.ready.push(next);
  }

  private pump(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    if (this.spool.uncheckpointedAcks >= OUTBOX_ACK_BACKLOG && !this.checkpointStalled) {
      // Bound what a crash now would send again: wait for the checkpoint before sending more.
      if (!this.awaitingCheckpoint) {
        this.awaitingCheckpoint = true;
        void this.spool.flushCheckpoint().then((ok) => {
          this.awaitingCheckpoint = false;
          if (!ok) {
            this.checkpointStalled = true;
            const t = setTimeout(() => {
              this.checkpointStalled = false;
              this.pump();
            }, this.policy.maxDelayMs);
            t.unref?.();
          }
          this.pump();
        });
      }
      return;
    }
    // On hold, one record at a time finds out whether the server is back.
    const max = this.holding ? 1 : this.options.concurrency;
    while (this.inFlight.size < max) {
      const seq = this.again.length > 0 ? this.again.shift() : this.ready.shift();
      if (seq === undefined) return;
      const data = this.spool.get(seq);
      if (data !== undefined) this.send(seq, data);
    }
  }

  private send(seq: number, data: Buffer): void {
    let topic: string;
    let record: ProduceRecord;
    try {
      ({ topic, record } = loadRecord(data));
    } catch (err) {
      this.drop(seq, err);
      return;
    }
    let sender: Sender;
    try {
      sender = this.getSender();
    } catch (err) {
      this.inFlight.add(seq);
      queueMicrotask(() => this.onFailure(seq, err));
      return;
    }
    this.inFlight.add(seq);
    sender.send(topic, record, ONCE).then(
      (result) => this.onSuccess(seq, result),
      (err: unknown) => this.onFailure(seq, err),
    );
  }

  private onSuccess(seq: number, result: ProduceResult): void {
    this.inFlight.delete(seq);
    this.failures = 0;
    this.holding = false;
    this.sendError = undefined;
    this.delivered++;
    this.spool.ack(seq);
    this.release(seq);
    const l = this.waiters.get(seq);
    if (l) {
      this.waiters.delete(seq);
      l.delivered(result);
    }
    this.changed();
    this.afterSend();
  }

  private onFailure(seq: number, raw: unknown): void {
    this.inFlight.delete(seq);
    const err = raw instanceof Error ? raw : new Error(String(raw));
    if (outboxDisposition(err) === 'drop') {
      this.drop(seq, err);
      this.afterSend();
      return;
    }
    // Held: it goes out again before anything else, and its key stays blocked meanwhile.
    let i = this.again.length;
    while (i > 0 && this.again[i - 1]! > seq) i--;
    this.again.splice(i, 0, seq);
    if (this.closed) {
      this.afterSend();
      return;
    }
    this.sendError = err;
    this.holding = true;
    // Records that were in flight together fail together: one outage is one step of backoff.
    if (this.retryTimer === undefined) {
      this.failures++;
      const delay = backoffDelay(this.policy, this.failures, err as EventStreamsError);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.pump();
      }, delay);
    }
    this.changed();
  }

  private drop(seq: number, err: unknown, topic?: string): void {
    const e = err instanceof Error ? err : new Error(String(err));
    if (outboxDrop.hasSubscribers) {
      const es = e as Partial<EventStreamsError>;
      outboxDrop.publish({
        topic: topic ?? es.topic ?? '',
        seq,
        errorCode: typeof es.code === 'string' ? es.code : 'ERROR',
        ...(typeof es.statusCode === 'number' ? { statusCode: es.statusCode } : {}),
      } satisfies OutboxDropMessage);
    }
    this.droppedCount++;
    this.spool.ack(seq);
    this.release(seq);
    const l = this.waiters.get(seq);
    this.waiters.delete(seq);
    this.changed();
    if (l) l.dropped(e);
    else this.emit('dropped', seq, e);
  }

  private afterSend(): void {
    if (this.closed) {
      if (this.inFlight.size === 0) this.idle?.();
      return;
    }
    this.pump();
  }

  /** Coalesces `change` to one per turn: listeners read the depth, not each step. */
  private changed(): void {
    if (this.changeScheduled) return;
    this.changeScheduled = true;
    setImmediate(() => {
      this.changeScheduled = false;
      this.emit('change');
    });
  }
}
