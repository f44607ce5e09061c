// SPDX-License-Identifier: Apache-2.0
/**
 * The consumer core: one kafkajs consumer group member that hands records to a caller one at a
 * time and commits an offset only once the caller has acknowledged that record and every record
 * before it on the same partition (at least once). No Node-RED imports; the node adapter
 * (nodes/event-streams-consumer.ts) decides what "acknowledged" means for a flow.
 *
 * Flow control: at most `maxInFlight` records are delivered and not yet acknowledged. When a
 * batch reaches the bound, its handler waits (heartbeating) until acknowledgements bring the count
 * down to half the bound; kafkajs fetches for a broker again only once the batches of its last
 * fetch are processed, so the partitions are in effect paused and memory holds at most the bound
 * plus one fetch. (kafkajs's own pause() was tried first: with every partition paused its fetch
 * loop idles for the full fetch wait, 5 s, after each resume.)
 *
 * Commits: kafkajs's own auto-commit is off (it would commit what was fetched, not what was
 * handled). Each partition keeps the offsets delivered in order with an acknowledged flag; the
 * committable offset is one past the longest acknowledged prefix. It is committed on a timer, on a
 * `commit()` and at `close()`, unless commits are manual (then only on `commit()`).
 * Over 500 lines because the group member's state (in-flight bound, per-partition acknowledged
 * prefix, seeks, commits) is one object; the decoders are at the top.
 */
import { EventEmitter } from 'node:events';
import type { Admin, Consumer, EachBatchPayload, IHeaders, Kafka } from 'kafkajs';

import { ClosedError, EventStreamsError, ValidationError } from './errors';
import { fromKafka } from './error-model';
import { checkTopicName, secretsOf, toKafkaConfig } from './kafka-admin';
import { kafkajs } from './kafkajs';
import { compileTopicPattern, type TopicPattern } from './consumer-pattern';
import type { KafkaClientConfig } from './types';

export type ValueFormat = 'auto' | 'string' | 'buffer' | 'json' | 'avro';
export const VALUE_FORMATS: readonly ValueFormat[] = ['auto', 'string', 'buffer', 'json', 'avro'];

/** A header value as a flow sees it: text when it is valid UTF-8, the bytes otherwise. */
export type HeaderValue = string | Buffer;

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | Buffer | null;
  headers: Record<string, HeaderValue | HeaderValue[]>;
  /** Decoded per the value format; the raw bytes when decoding failed (see `decodeError`). */
  value: unknown;
  decodeError?: EventStreamsError;
}

export type ConsumerState = 'connecting' | 'connected' | 'rebalancing' | 'paused' | 'stopped' | 'error';

export interface ConsumerOptions {
  kafka: KafkaClientConfig;
  groupId: string;
  /** Topic names, comma separated, or one `/pattern/` (see lib/consumer-pattern.ts). */
  topics: string;
  /** Where a group with no committed offset starts. */
  fromBeginning: boolean;
  valueFormat: ValueFormat;
  /** Records delivered and not yet acknowledged, at most. */
  maxInFlight: number;
  /** Automatic commit period; ignored when `manualCommit`. */
  commitIntervalMs: number;
  manualCommit: boolean;
  /** Lag refresh period; 0 turns it off. */
  lagIntervalMs: number;
  /** Avro: the schema text for a Confluent schema id (wire format 0x00 + 4-byte id). */
  schemaById?: (id: number) => Promise<string>;
  log?: (line: string) => void;
  /** Consumer tuning passed through to kafkajs (tests shorten the session timeout). */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
}

/**
 * Receives each record; `settle` may be called once, at any time, from anywhere: with `true` (or
 * nothing) when the record was handled, `false` when it was not (it is read again later).
 */
export type Deliver = (record: ConsumedRecord, settle: (handled?: boolean) => void) => void;

interface Entry {
  offset: number;
  acked: boolean;
}

/** Delivered offsets of one partition in order; committable = one past the acknowledged prefix. */
class PartitionTrack {
  private entries: Entry[] = [];
  private head = 0;
  /** Next offset to read per what was acknowledged; undefined until something is. */
  committable: number | undefined;
  committed: number | undefined;
  lastDelivered = -1;

  push(offset: number): Entry {
    const e = { offset, acked: false };
    this.entries.push(e);
    this.lastDelivered = offset;
    return e;
  }

  ack(e: Entry): void {
    e.acked = true;
    const list = this.entries;
    while (this.head < list.length && list[this.head]!.acked) {
      this.committable = list[this.head]!.offset + 1;
      this.head++;
    }
    // Drop the acknowledged prefix now and then, so each record costs O(1) amortised.
    if (this.head > 1024 && this.head * 2 > list.length) {
      this.entries = list.slice(this.head);
      this.head = 0;
    }
  }
}

/** Decodes text only when it is valid UTF-8; `undefined` otherwise. */
const utf8 = new TextDecoder('utf-8', { fatal: true });
function strictUtf8(buf: Buffer): string | undefined {
  try {
    return utf8.decode(buf);
  } catch {
    return undefined;
  }
}

/**
 * avsc decodes records as instances of a generated class per record type; a flow gets plain
 * objects (what the producer takes, what JSON and Node-RED's debug show), bytes staying Buffers.
 */
function plainAvro(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return v;
  if (Array.isArray(v)) return v.map(plainAvro);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = plainAvro(x);
  return out;
}

/** `auto`: an object or array when the value is JSON of one, text when UTF-8, else the bytes. */
export function decodeValue(buf: Buffer | null, format: Exclude<ValueFormat, 'avro'>): unknown {
  if (buf === null) return null;
  switch (format) {
    case 'buffer':
      return buf;
    case 'string':
      return buf.toString('utf8');
    case 'json': {
      try {
        return JSON.parse(buf.toString('utf8')) as unknown;
      } catch {
        throw new ValidationError('The record value is not valid JSON', 'INVALID_VALUE');
      }
    }
    default: {
      const text = strictUtf8(buf);
      if (text === undefined) return buf;
      const first = text.trimStart()[0];
      if (first === '{' || first === '[') {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          return text;
        }
      }
      return text;
    }
  }
}

function headerValue(v: Buffer | string): HeaderValue {
  if (typeof v === 'string') return v;
  return strictUtf8(v) ?? v;
}

export function decodeHeaders(headers: IHeaders | undefined): Record<string, HeaderValue | HeaderValue[]> {
  const out: Record<string, HeaderValue | HeaderValue[]> = {};
  if (!headers) return out;
  for (const [name, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[name] = Array.isArray(v) ? v.map(headerValue) : headerValue(v);
  }
  return out;
}

/** The topics a selection names: a validated list, or a pattern to match the cluster's topics with. */
export type TopicSelection = { topics: string[] } | { pattern: TopicPattern };

export function parseTopicSelection(text: string): TopicSelection {
  const trimmed = (text ?? '').trim();
  if (trimmed.startsWith('/')) return { pattern: compileTopicPattern(trimmed) };
  const topics = [
    ...new Set(
      trimmed
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  ];
  if (topics.length === 0) throw new ValidationError('No topic to consume is set', 'INVALID_TOPIC');
  for (const t of topics) checkTopicName(t);
  return { topics };
}

export function checkGroupId(groupId: unknown): string {
  if (typeof groupId !== 'string' || groupId.trim() === '')
    throw new ValidationError('The consumer group id is empty', 'INVALID_CONFIG');
  if (groupId.length > 255)
    throw new ValidationError('The consumer group id is longer than 255 characters', 'INVALID_CONFIG');
  return groupId.trim();
}

export interface SeekRequest {
  topic: string;
  partition: number;
  /** An offset, or `earliest` / `latest`. */
  offset: number | string;
}

export interface LagReport {
  total: number;
  partitions: Array<{ topic: string; partition: number; lag: number }>;
}

export class EventStreamsConsumer extends EventEmitter {
  private readonly kafka: Kafka;
  private consumer: Consumer | undefined;
  private admin: Admin | undefined;
  private readonly secrets: string[];
  private topics: string[] = [];
  private readonly tracks = new Map<string, PartitionTrack>();
  private assigned = new Set<string>();
  private inFlight = 0;
  /** eachBatch calls waiting for the in-flight count to come down. */
  private roomWaiters: Array<() => void> = [];
  private userPaused = false;
  private closing = false;
  private closed = false;
  private commitTimer: NodeJS.Timeout | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;
  private drainWaiters: Array<() => void> = [];
  private readonly schemas = new Map<number, Promise<(buf: Buffer) => unknown>>();
  state: ConsumerState = 'connecting';
  /** Counters for tests and the bench. */
  readonly stats = { delivered: 0, acked: 0, commits: 0, pauses: 0 };

  constructor(
    private readonly options: ConsumerOptions,
    private readonly deliver: Deliver,
  ) {
    super();
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1)
      throw new ValidationError('The in-flight bound must be a positive integer', 'INVALID_CONFIG');
    checkGroupId(options.groupId);
    this.secrets = secretsOf(options.kafka);
    const kafkaConfig = toKafkaConfig(options.kafka, options.log);
    // Reconnect for ever on retriable failures: a consumer is a long-running subscription.
    kafkaConfig.retry = { retries: 5, initialRetryTime: 300, maxRetryTime: 5000 };
    this.kafka = new (kafkajs().Kafka)(kafkaConfig);
  }

  private setState(state: ConsumerState, detail?: unknown): void {
    this.state = state;
    this.emit('state', state, detail);
  }

  /** Connects, resolves the topics, joins the group and starts delivering. */
  async start(): Promise<void> {
    const selection = parseTopicSelection(this.options.topics);
    this.admin = this.kafka.admin();
    await this.admin.connect();
    if ('pattern' in selection) {
      const all = await this.admin.listTopics();
      this.topics = all.filter((t) => !t.startsWith('__') && selection.pattern.test(t)).sort();
      if (this.topics.length === 0)
        throw new ValidationError('No topic of the cluster matches the topic pattern', 'INVALID_TOPIC');
    } else {
      this.topics = selection.topics;
    }
    if (this.closing) throw new ClosedError('The consumer is being stopped');
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId.trim(),
      ...(this.options.sessionTimeoutMs ? { sessionTimeout: this.options.sessionTimeoutMs } : {}),
      ...(this.options.heartbeatIntervalMs ? { heartbeatInterval: this.options.heartbeatIntervalMs } : {}),
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 },
    });
    this.consumer = consumer;
    const ev = consumer.events;
    consumer.on(ev.GROUP_JOIN, (e) => {
      this.onAssignment(e.payload.memberAssignment);
      this.setState(this.userPaused ? 'paused' : 'connected', {
        partitions: this.assigned.size,
      });
    });
    consumer.on(ev.REBALANCING, () => {
      // Commit what was handled before the partitions move; what is not in time is read again.
      void this.commit().catch(() => undefined);
      this.setState('rebalancing');
    });
    consumer.on(ev.CRASH, (e) => {
      const err = fromKafka(e.payload.error, { secrets: this.secrets });
      this.setState('error', err);
      this.emit('error', err);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.topics, fromBeginning: this.options.fromBeginning });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.onBatch(payload),
    });
    if (!this.options.manualCommit && this.options.commitIntervalMs > 0) {
      this.commitTimer = setInterval(
        () => void this.commit().catch(() => undefined),
        this.options.commitIntervalMs,
      );
      this.commitTimer.unref();
    }
    if (this.options.lagIntervalMs > 0) {
      this.lagTimer = setInterval(() => {
        this.lag().then(
          (r) => this.emit('lag', r),
          () => undefined,
        );
      }, this.options.lagIntervalMs);
      this.lagTimer.unref();
    }
  }

  /** The topics subscribed to (after pattern matching). */
  get subscribedTopics(): readonly string[] {
    return this.topics;
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  get paused(): boolean {
    return this.userPaused;
  }

  private onAssignment(assignment: Record<string, number[]>): void {
    const next = new Set<string>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const p of partitions) next.add(`${topic}\0${p}`);
    }
    // A new generation starts reading at the committed offsets: forget what was delivered,
    // so that acknowledgements of the old generation cannot commit for a partition now read by
    // another member (they still count against the in-flight bound).
    this.tracks.clear();
    this.assigned = next;
    if (this.userPaused) this.consumer?.pause(this.topics.map((topic) => ({ topic })));
  }

  private track(topic: string, partition: number): PartitionTrack {
    const id = `${topic}\0${partition}`;
    let t = this.tracks.get(id);
    if (!t) this.tracks.set(id, (t = new PartitionTrack()));
    return t;
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    let t = this.track(topic, partition);
    for (const m of batch.messages) {
      // Paused by a msg: the rest of the batch is not resolved, so it is fetched after resume.
      if (this.closing || this.userPaused || !isRunning() || isStale()) return;
      if (this.inFlight >= this.options.maxInFlight) {
        // The flow is behind: this partition's fetching waits here (kafkajs fetches again only
        // once its batches are processed) until acknowledgements bring the count down to half.
        this.stats.pauses++;
        if (!(await this.waitForRoom(payload))) return;
      }
      const offset = Number(m.offset);
      if (offset <= t.lastDelivered) {
        // kafkajs went back (an error reset it to the committed offset): a fresh track.
        const committable = t.committable;
        this.tracks.delete(`${topic}\0${partition}`);
        t = this.track(topic, partition);
        t.committable = committable;
      }
      const record: ConsumedRecord = {
        topic,
        partition,
        offset,
        timestamp: Number(m.timestamp),
        key: m.key === null || m.key === undefined ? null : (strictUtf8(m.key) ?? m.key),
        headers: decodeHeaders(m.headers),
        value: null,
      };
      try {
        record.value = await this.decode(m.value ?? null);
      } catch (err) {
        record.value = m.value ?? null;
        record.decodeError = err instanceof EventStreamsError ? err : fromKafka(err, { topic });
      }
      if (this.closing || !isRunning() || isStale()) return;
      const entry = t.push(offset);
      const track = t;
      this.inFlight++;
      this.stats.delivered++;
      let acked = false;
      resolveOffset(m.offset);
      this.deliver(record, (handled = true) => {
        if (acked) return;
        acked = true;
        this.inFlight--;
        // Not handled: the offset stays uncommitted (and so does every later one of the
        // partition), so the next reader of the partition gets the record again.
        if (handled) {
          this.stats.acked++;
          track.ack(entry);
        }
        this.afterAck();
      });
    }
    await payload.heartbeat().catch(() => undefined);
  }

  /**
   * Waits until the in-flight count is at most half the bound, heartbeating so the group keeps
   * this member. False when delivery should stop instead (closing, stale after a seek).
   */
  private async waitForRoom(payload: EachBatchPayload): Promise<boolean> {
    while (this.inFlight > Math.floor(this.options.maxInFlight / 2)) {
      if (this.closing || !payload.isRunning() || payload.isStale()) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 1000);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.roomWaiters.push(done);
      });
      // A rebalance shows here as an error, which kafkajs handles by rejoining.
      await payload.heartbeat();
    }
    return !(this.closing || !payload.isRunning() || payload.isStale());
  }

  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  private afterAck(): void {
    if (this.roomWaiters.length > 0 && this.inFlight <= Math.floor(this.options.maxInFlight / 2)) {
      this.wakeRoomWaiters();
    }
    if (this.inFlight === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async decode(buf: Buffer | null): Promise<unknown> {
    const format = this.options.valueFormat;
    if (format !== 'avro') return decodeValue(buf, format);
    if (buf === null) return null;
    if (buf.length < 5 || buf[0] !== 0)
      throw new ValidationError(
        'The record value is not in the Confluent Avro wire format',
        'SCHEMA_MISMATCH',
      );
    const id = buf.readUInt32BE(1);
    let decoder = this.schemas.get(id);
    if (!decoder) {
      const lookup = this.options.schemaById;
      if (!lookup) throw new ValidationError('No schema registry is configured for Avro', 'INVALID_CONFIG');
      decoder = lookup(id).then((text) => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const avro = require('avsc') as typeof import('avsc');
        const type = avro.Type.forSchema(JSON.parse(text) as never);
        return (b: Buffer) => plainAvro(type.fromBuffer(b));
      });
      // A failed lookup is not cached: the next record asks again.
      decoder.catch(() => this.schemas.delete(id));
      this.schemas.set(id, decoder);
      if (this.schemas.size > 1000) this.schemas.delete(this.schemas.keys().next().value!);
    }
    const fn = await decoder;
    try {
      return fn(buf.subarray(5));
    } catch {
      throw new ValidationError(`The record value does not match schema id ${id}`, 'SCHEMA_MISMATCH');
    }
  }

  /** Commits the acknowledged prefix of every assigned partition (only what moved). */
  commit(): Promise<void> {
    if (this.committing) return this.committing.then(() => this.commit());
    const consumer = this.consumer;
    if (!consumer || this.closed) return Promise.resolve();
    const offsets: Array<{ topic: string; partition: number; offset: string }> = [];
    const done: Array<[PartitionTrack, number]> = [];
    for (const [id, t] of this.tracks) {
      if (!this.assigned.has(id)) continue;
      if (t.committable === undefined || t.committable === t.committed) continue;
      const [topic, p] = id.split('\0');
      offsets.push({ topic: topic!, partition: Number(p), offset: String(t.committable) });
      done.push([t, t.committable]);
    }
    if (offsets.length === 0) return Promise.resolve();
    this.committing = consumer
      .commitOffsets(offsets)
      .then(
        () => {
          for (const [t, o] of done) t.committed = o;
          this.stats.commits++;
        },
        (err: unknown) => {
          throw fromKafka(err, { secrets: this.secrets });
        },
      )
      .finally(() => {
        this.committing = undefined;
      });
    return this.committing;
  }

  pause(): void {
    if (this.closing || !this.consumer) return;
    this.userPaused = true;
    this.consumer.pause(this.topics.map((topic) => ({ topic })));
    this.setState('paused');
  }

  resume(): void {
    if (this.closing || !this.consumer) return;
    this.userPaused = false;
    this.consumer.resume(this.topics.map((topic) => ({ topic })));
    this.setState('connected', { partitions: this.assigned.size });
  }

  /**
   * Moves a partition's read position. The new position is also what the next commit stores,
   * so a seek backwards is kept across a restart once committed.
   */
  async seek(req: SeekRequest): Promise<void> {
    if (!this.consumer || this.closing) throw new ClosedError('The consumer is not running');
    const topic = checkTopicName(req.topic);
    const partition = req.partition;
    if (!Number.isInteger(partition) || partition < 0)
      throw new ValidationError('Seek needs a partition number', 'VALIDATION');
    if (!this.assigned.has(`${topic}\0${partition}`))
      throw new ValidationError(
        `Partition ${partition} of ${topic} is not assigned to this consumer`,
        'VALIDATION',
      );
    let offset: number;
    if (req.offset === 'earliest' || req.offset === 'latest') {
      const offsets = await this.admin!.fetchTopicOffsets(topic);
      const o = offsets.find((x) => x.partition === partition);
      if (!o) throw new ValidationError(`Topic ${topic} has no partition ${partition}`, 'VALIDATION');
      offset = Number(req.offset === 'earliest' ? o.low : o.high);
    } else {
      offset = typeof req.offset === 'number' ? req.offset : Number(req.offset);
      if (
        !Number.isSafeInteger(offset) ||
        offset < 0 ||
        (typeof req.offset === 'string' && !/^\d+$/.test(req.offset))
      )
        throw new ValidationError('Seek needs an offset: a number, "earliest" or "latest"', 'VALIDATION');
    }
    this.consumer.seek({ topic, partition, offset: String(offset) });
    const t = new PartitionTrack();
    t.committable = offset;
    this.tracks.set(`${topic}\0${partition}`, t);
  }

  /** Lag per assigned-or-not partition of the subscribed topics: end offset − committed offset. */
  async lag(): Promise<LagReport> {
    const admin = this.admin;
    if (!admin || this.closing) throw new ClosedError('The consumer is not running');
    const [committed, ...ends] = await Promise.all([
      admin.fetchOffsets({ groupId: this.options.groupId.trim(), topics: this.topics }),
      ...this.topics.map((topic) => admin.fetchTopicOffsets(topic)),
    ]);
    const report: LagReport = { total: 0, partitions: [] };
    this.topics.forEach((topic, i) => {
      const c = committed.find((x) => x.topic === topic);
      for (const end of ends[i]!) {
        const co = c?.partitions.find((p) => p.partition === end.partition);
        const from = co && Number(co.offset) >= 0 ? Number(co.offset) : Number(end.low);
        const lag = Math.max(0, Number(end.high) - from);
        report.total += lag;
        report.partitions.push({ topic, partition: end.partition, lag });
      }
    });
    return report;
  }

  /**
   * Stops delivering, waits (within the deadline) for what is in flight to be acknowledged,
   * commits it (unless commits are manual) and leaves the group.
   */
  async close(deadlineMs: number): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    this.wakeRoomWaiters();
    clearInterval(this.commitTimer);
    clearInterval(this.lagTimer);
    const end = Date.now() + deadlineMs;
    const remaining = (): number => Math.max(0, end - Date.now());
    const bounded = <T>(p: Promise<T>, share: number): Promise<T | undefined> =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve(undefined), Math.max(0, Math.floor(remaining() * share)));
        p.then(
          (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          () => {
            clearTimeout(timer);
            resolve(undefined);
          },
        );
      });
    if (this.inFlight > 0) {
      await bounded(new Promise<void>((resolve) => this.drainWaiters.push(resolve)), 0.5);
    }
    if (!this.options.manualCommit) await bounded(this.commit(), 0.5);
    this.closed = true;
    const consumer = this.consumer;
    const admin = this.admin;
    this.consumer = undefined;
    this.admin = undefined;
    await bounded(Promise.allSettled([consumer?.disconnect(), admin?.disconnect()]), 1);
    this.setState('stopped');
  }
}
