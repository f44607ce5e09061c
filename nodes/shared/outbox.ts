// SPDX-License-Identifier: Apache-2.0
/**
 * The durable outbox of an endpoint config node: records are validated, written to a crash-safe
 * spool (lib/spool.ts) and only then confirmed to the producer node; a sender drains the spool
 * through the core client, surviving outages of any length and Node-RED restarts.
 *
 * Semantics (also in the endpoint's help):
 * - `enqueue` resolves once the record is durably on disk; the producer calls `done()` then.
 * - Records are sent in spool order with at most one record of a key in flight, so per-key order
 *   holds even across retries and restarts. Keyless records may go out concurrently.
 * - Transient failures (network, TLS, 5xx, 429, authentication, authorization, missing topic) keep
 *   the record in the spool; the sender backs off (up to 30 s) and tries again, forever. Only a
 *   record the server rejects as malformed (400/413/415/too large) is removed and reported as an
 *   error, because resending it can never succeed and would block its key.
 * - When the spool is at `maxBytes` a new record is refused with QUEUE_FULL (nothing is evicted).
 * - At-least-once: a record acknowledged shortly before a crash may be sent again after restart.
 * Not Node-RED specific, so the tests drive it directly too.
 */
import { EventEmitter } from 'node:events';

import type { EventStreamsClient } from '../../lib/client';
import { type EncodeLimits, encodeRecord } from '../../lib/encode';
import { ClosedError, ValidationError } from '../../lib/errors';
import { Spool } from '../../lib/spool';
import type { ApiFlavour, ProduceRecord, ProduceResult } from '../../lib/types';
import { validateTopicName } from '../../lib/validate';
import { isRecordRejection } from '../../lib/error-model';
import { rootCode } from './status';

export const DEFAULT_OUTBOX_MAX_BYTES = 64 * 1024 * 1024;
const MAX_BACKOFF_MS = 30_000;

export interface OutboxOptions {
  dir: string;
  maxBytes: number;
  flavour: ApiFlavour;
  limits: EncodeLimits;
  /** Records in flight at once (keep at or below the client's in-flight cap). */
  concurrency: number;
  /** First wait after a failed send; doubles up to 30 s. */
  retryDelayMs: number;
  segmentBytes?: number;
}

/** Told about a record's fate after it was spooled (only while its producer node is running). */
export interface OutboxListener {
  delivered(result: ProduceResult): void;
  dropped(err: Error): void;
}

type Tagged = { s: string } | { b: string } | { j: unknown };
interface Stored {
  t: string;
  k?: { s: string } | { b: string };
  v: Tagged;
  h?: Array<{ n: string } & ({ s: string } | { b: string })>;
}

function bytesOrText(v: unknown): { s: string } | { b: string } {
  if (typeof v === 'string') return { s: v };
  if (Buffer.isBuffer(v)) return { b: v.toString('base64') };
  if (v instanceof Uint8Array)
    return { b: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  return { s: String(v) };
}

function untag(t: { s: string } | { b: string }): string | Buffer {
  return 's' in t ? t.s : Buffer.from(t.b, 'base64');
}

/** Serialises a (validated) record for the spool, keeping the value's type so it is encoded as before. */
export function serializeRecord(topic: string, record: ProduceRecord): Buffer {
  const v = record.value;
  let value: Tagged;
  if (typeof v === 'string') value = { s: v };
  else if (Buffer.isBuffer(v) || v instanceof Uint8Array) value = bytesOrText(v);
  else value = { j: v };
  const out: Stored = { t: topic, v: value };
  if (record.key !== undefined) out.k = bytesOrText(record.key);
  if (record.headers !== undefined) {
    const list = Array.isArray(record.headers)
      ? record.headers
      : Object.entries(record.headers).map(([name, value]) => ({ name, value }));
    out.h = list.map((h) => ({ n: h.name, ...bytesOrText(h.value) }));
  }
  try {
    return Buffer.from(JSON.stringify(out));
  } catch {
    throw new ValidationError(
      'The message cannot be stored in the outbox (not serialisable)',
      'INVALID_VALUE',
    );
  }
}

/** The inverse of {@link serializeRecord}. */
export function deserializeRecord(data: Buffer): {
  topic: string;
  record: ProduceRecord;
  key: string | null;
} {
  const s = JSON.parse(data.toString('utf8')) as Stored;
  const record: ProduceRecord = {
    value: 'j' in s.v ? (s.v.j as ProduceRecord['value']) : untag(s.v),
  };
  let key: string | null = null;
  if (s.k) {
    record.key = untag(s.k);
    key = 's' in s.k ? `s:${s.k.s}` : `b:${s.k.b}`;
  }
  if (s.h) record.headers = s.h.map((h) => ({ name: h.n, value: untag(h) }));
  return { topic: s.t, record, key };
}

/**
 * The outbox: a spool plus the sender that drains it. Emits `change` when its depth or error
 * state changes, and `dropped` (seq, err) for a record removed as undeliverable.
 */
export class Outbox extends EventEmitter {
  /** The last send failure, cleared by the next success. */
  lastError: Error | undefined;

  private readonly waiters = new Map<number, OutboxListener>();
  private readonly keys = new Map<number, string | null>();
  private readonly inFlight = new Set<number>();
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private idle: (() => void) | undefined;

  private constructor(
    private readonly spool: Spool,
    private readonly options: OutboxOptions,
    private readonly getClient: () => EventStreamsClient,
  ) {
    super();
    for (const e of spool.pending()) {
      try {
        this.keys.set(e.seq, deserializeRecord(e.data).key);
      } catch {
        // Unreadable (CRC-valid but not ours): drop it rather than block the spool.
        spool.ack(e.seq);
      }
    }
  }

  /** Opens the spool in `options.dir` (recovering it) and starts sending what it holds. */
  static async open(options: OutboxOptions, getClient: () => EventStreamsClient): Promise<Outbox> {
    const spool = await Spool.open({
      dir: options.dir,
      maxBytes: options.maxBytes,
      ...(options.segmentBytes ? { segmentBytes: options.segmentBytes } : {}),
    });
    const outbox = new Outbox(spool, options, getClient);
    setImmediate(() => outbox.pump());
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

  /**
   * Validates the record (the same checks as a direct send), stores it durably, and resolves
   * with its sequence number. Rejects with the validation error, QUEUE_FULL, or an I/O error.
   */
  async enqueue(topic: string, record: ProduceRecord, listener?: OutboxListener): Promise<number> {
    if (this.closed) throw new ClosedError('The outbox is closed; the message was not stored', { topic });
    validateTopicName(topic);
    encodeRecord(this.options.flavour, '', topic, record, this.options.limits);
    const data = serializeRecord(topic, record);
    const seq = await this.spool.append(data);
    this.keys.set(seq, deserializeRecord(data).key);
    if (listener) this.waiters.set(seq, listener);
    this.emit('change');
    this.pump();
    return seq;
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

  private pump(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const max = this.options.concurrency;
    if (this.inFlight.size >= max) return;
    // Keys with an earlier record still in the spool (in flight or waiting) are blocked.
    const blocked = new Set<string>();
    for (const { seq, data } of this.spool.pending()) {
      if (this.inFlight.size >= max) break;
      const key = this.keys.get(seq) ?? null;
      if (this.inFlight.has(seq)) {
        if (key !== null) blocked.add(key);
        continue;
      }
      if (key !== null) {
        if (blocked.has(key)) continue;
        blocked.add(key);
      }
      this.send(seq, data);
    }
  }

  private send(seq: number, data: Buffer): void {
    let client: EventStreamsClient;
    let topic: string;
    let record: ProduceRecord;
    try {
      ({ topic, record } = deserializeRecord(data));
      client = this.getClient();
    } catch (err) {
      this.onFailure(seq, err);
      return;
    }
    this.inFlight.add(seq);
    client.produce(topic, record).then(
      (result) => {
        this.inFlight.delete(seq);
        this.failures = 0;
        this.lastError = undefined;
        this.spool.ack(seq);
        this.keys.delete(seq);
        const l = this.waiters.get(seq);
        this.waiters.delete(seq);
        this.emit('change');
        l?.delivered(result);
        this.afterSend();
      },
      (err: unknown) => {
        this.inFlight.delete(seq);
        this.onFailure(seq, err);
        this.afterSend();
      },
    );
  }

  private afterSend(): void {
    if (this.closed) {
      if (this.inFlight.size === 0) this.idle?.();
      return;
    }
    this.pump();
  }

  private onFailure(seq: number, raw: unknown): void {
    const err = raw instanceof Error ? raw : new Error(String(raw));
    const code = rootCode(err) ?? '';
    // The error model decides which rejections are about the record itself (never resent).
    if (isRecordRejection(err)) {
      this.spool.ack(seq);
      this.keys.delete(seq);
      const l = this.waiters.get(seq);
      this.waiters.delete(seq);
      this.emit('change');
      if (l) l.dropped(err);
      else this.emit('dropped', seq, err);
      return;
    }
    // A closing client is not a failure of the record: it stays for the next start.
    if (this.closed || code === 'CLOSED') return;
    this.lastError = err;
    this.failures++;
    if (this.retryTimer === undefined) {
      const delay = Math.min(
        MAX_BACKOFF_MS,
        Math.max(10, this.options.retryDelayMs) * 2 ** Math.min(this.failures - 1, 16),
      );
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.pump();
      }, delay);
    }
    this.emit('change');
  }
}
