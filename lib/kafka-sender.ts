// SPDX-License-Identifier: Apache-2.0
/**
 * The Kafka-protocol {@link Sender}: the same records, results and errors as the REST client, but
 * written straight to the brokers. For IBM Event Streams Enterprise Gen 2 and Event Endpoint
 * Management gateways (Kafka only), `iam_token_only` instances (OAUTHBEARER), and any Kafka.
 *
 * - **One small client interface** ({@link KafkaProducerPort}): kafkajs 2.2.4 today
 *   ({@link kafkajsProducerPort}); another client replaces it by implementing four methods.
 * - **Batching without linger**: every record that arrives while a batch is on the wire joins the
 *   next batch (bounded by `maxBatchBytes`), so one record alone goes at once and a burst goes in
 *   few large requests.
 * - **Order per key**: the producer is idempotent (acks=all, sequence numbers), and with
 *   `orderByKey` (the default) one batch is in flight at a time, retried as a whole before the
 *   next one starts. kafkajs serialises an idempotent producer's requests per broker anyway, and
 *   rolls a failed request's sequence numbers back so that a later batch could overtake it: one
 *   batch at a time is what keeps the order. Without `orderByKey` up to `maxInFlight` batches go.
 * - **Errors** come from the one error model ({@link fromKafka}); retries follow lib/retry.ts, so
 *   `attempts`, dispositions and RETRIES_EXHAUSTED mean what they mean over REST.
 *
 * Records are turned into Kafka records by {@link toKafkaRecord}, the one place to swap for the
 * shared record codec.
 * Over 500 lines because record mapping, batching and settlement share the sender's queue and
 * state; the kafkajs port at the top is the seam tests replace.
 */
import type * as KafkaJs from 'kafkajs';
import { CORE_DEFAULTS, ENDPOINT_FIELD_DEFAULTS, ms } from './defaults';
import { dispositionOf, fromKafka, isRecordRejection } from './error-model';
import {
  ClosedError,
  type EventStreamsError,
  QueueFullError,
  ValidationError,
  WithdrawnError,
} from './errors';
import { secretsOf, toKafkaConfig } from './kafka-admin';
import { kafkajs } from './kafkajs';
import { finalError, nextRetryDelay, resolveRetryPolicy, type RetryPolicy } from './retry';
import { type AvroFormat, normaliseFormat, parseSchema, schemaText, subjectFor, toAvroValue } from './schema';
import { notify, type Receipt, type Sender, type SendOptions, sendBySubmit } from './sender';
import type {
  ClientStats,
  CloseOptions,
  ConnectionCheck,
  KafkaClientConfig,
  LimitOptions,
  ProduceRecord,
  ProduceResult,
  QueueOptions,
  RecordHeaders,
  RetryOptions,
} from './types';
import { describeType, isWellFormedString, validateTopicName } from './validate';

// ---------------------------------------------------------------------------------------------
// The client seam

/** A record as the Kafka protocol carries it. */
export interface KafkaWireRecord {
  key: Buffer | null;
  /**
   * Bytes, or well-formed text that kafkajs writes as UTF-8 straight into its request: a JSON or
   * text value then costs no Buffer of its own and no copy.
   */
  value: Buffer | string | null;
  /** Key, value and header bytes (what the metrics count), measured once. */
  bytes: number;
  /** Names may repeat (an array value); order within a name is kept. */
  headers?: Record<string, Buffer | Buffer[]>;
  /** CreateTime, ms since the epoch. */
  timestamp: number;
}

/** Where one record landed. */
export interface KafkaWriteResult {
  partition: number;
  offset: number;
  /** LogAppendTime when the topic uses it, else undefined (the record's CreateTime applies). */
  logAppendTime?: number;
}

export interface KafkaBatch {
  topic: string;
  records: KafkaWireRecord[];
}

/**
 * What the sender needs from a Kafka client. `send` writes the batches with acks=all in order
 * and resolves with one result per record in the order given, or rejects with the client's error
 * (mapped through {@link fromKafka}; a replacement client maps its own errors to ours or to
 * kafkajs-shaped ones).
 */
export interface KafkaProducerPort {
  connect(): Promise<void>;
  send(batches: KafkaBatch[], options: { compression: 'none' | 'gzip' }): Promise<KafkaWriteResult[][]>;
  /** Bootstrap metadata for one topic (Test connection): resolves when the cluster answered. */
  check(topic?: string): Promise<void>;
  disconnect(): Promise<void>;
}

/** The message handed to kafkajs; `chosen` is where its partitioner put it. */
interface PortMessage {
  key: Buffer | null;
  value: Buffer | string | null;
  headers?: Record<string, Buffer | Buffer[]>;
  timestamp: string;
  chosen: number;
}

/**
 * The kafkajs implementation. kafkajs's partitioner is wrapped so that the partition each record
 * went to is known, which, with the per-partition base offsets of the answer, gives every record
 * its offset.
 */
export function kafkajsProducerPort(
  config: KafkaClientConfig,
  options: { idempotent: boolean; log?: (line: string) => void },
): KafkaProducerPort {
  const k = kafkajs();
  const inner = k.Partitioners.DefaultPartitioner();
  // The partition each record went to is written on the message kafkajs was given (our own copy),
  // not kept in a WeakMap: a weak entry per record is costly for the garbage collector. A keyed
  // record's partition depends only on its key bytes and the partition count, so a run of records
  // with the same key Buffer (see keyBytes) skips the murmur2 hash.
  let lastKey: Buffer | null = null;
  let lastCount = -1;
  let lastPartition = 0;
  const partitioner: KafkaJs.ICustomPartitioner = () => (args) => {
    const message = args.message as PortMessage;
    const key = message.key;
    let p: number;
    if (key !== null && key === lastKey && args.partitionMetadata.length === lastCount) p = lastPartition;
    else {
      p = inner(args);
      if (Buffer.isBuffer(key)) {
        lastKey = key;
        lastCount = args.partitionMetadata.length;
        lastPartition = p;
      }
    }
    message.chosen = p;
    return p;
  };
  // Few, quick kafkajs retries inside one attempt; the sender's own policy does the rest.
  const kafka = new k.Kafka(
    toKafkaConfig(config, options.log, { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 }),
  );
  const producer = kafka.producer({
    idempotent: options.idempotent,
    maxInFlightRequests: options.idempotent ? 5 : undefined,
    allowAutoTopicCreation: false,
    createPartitioner: partitioner,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  let admin: KafkaJs.Admin | undefined;
  return {
    connect: () => producer.connect(),
    async send(batches, { compression }) {
      let stamp = NaN;
      let stampText = '';
      const messages = batches.map((b) =>
        b.records.map((r): PortMessage => {
          // Records accepted in the same millisecond share one timestamp string.
          if (r.timestamp !== stamp) {
            stamp = r.timestamp;
            stampText = String(stamp);
          }
          // No `headers` property without headers: kafkajs copies every property of each message.
          return r.headers
            ? { key: r.key, value: r.value, headers: r.headers, timestamp: stampText, chosen: 0 }
            : { key: r.key, value: r.value, timestamp: stampText, chosen: 0 };
        }),
      );
      const meta = await producer.sendBatch({
        acks: -1,
        compression: compression === 'gzip' ? k.CompressionTypes.GZIP : k.CompressionTypes.None,
        topicMessages: batches.map((b, i) => ({ topic: b.topic, messages: messages[i]! })),
      });
      return batches.map((b, i) => {
        // Per partition of this topic: the base offset, then the next record's offset.
        const at = new Map<number, { offset: number; appendTime: number }>();
        for (const m of meta) {
          if (m.topicName !== b.topic) continue;
          at.set(m.partition, {
            offset: Number(m.baseOffset ?? m.offset),
            appendTime: Number(m.logAppendTime ?? -1),
          });
        }
        return messages[i]!.map((msg) => {
          const partition = msg.chosen;
          const base = at.get(partition);
          if (base === undefined) return { partition, offset: -1 };
          const out: KafkaWriteResult = { partition, offset: base.offset++ };
          if (base.appendTime >= 0) out.logAppendTime = base.appendTime;
          return out;
        });
      });
    },
    async check(topic) {
      admin ??= kafka.admin();
      await admin.connect();
      await admin.fetchTopicMetadata(topic === undefined ? { topics: [] } : { topics: [topic] });
    },
    async disconnect() {
      await Promise.all([producer.disconnect(), admin?.disconnect()]);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Records

/** Resolves the registry id of a schema under a subject (registering it when allowed). */
export type SchemaIdResolver = (subject: string, schema: string) => Promise<number>;

export interface RecordLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
}

function bytesOf(v: unknown, what: 'key' | 'value' | 'header'): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === 'string') {
    if (!isWellFormedString(v)) {
      throw new ValidationError(
        `The record ${what} is not valid Unicode text (it contains an unpaired surrogate half).`,
        what === 'key' ? 'INVALID_KEY' : what === 'value' ? 'INVALID_VALUE' : 'INVALID_HEADERS',
      );
    }
    return Buffer.from(v, 'utf8');
  }
  throw new ValidationError(
    `The record ${what} must be a string, Buffer or Uint8Array, not ${describeType(v)}.`,
    what === 'key' ? 'INVALID_KEY' : what === 'value' ? 'INVALID_VALUE' : 'INVALID_HEADERS',
  );
}

/** The value as kafkajs takes it: bytes as they are, text (checked) and JSON as strings. */
function valueData(value: unknown): Buffer | string {
  if (value === undefined) throw new ValidationError('The record has no value.', 'INVALID_VALUE');
  if (value === null) {
    throw new ValidationError('The record value is null; tombstones are not supported.', 'INVALID_VALUE');
  }
  if (typeof value === 'string') {
    if (!isWellFormedString(value)) return bytesOf(value, 'value'); // throws, with the reason
    return value;
  }
  if (value instanceof Uint8Array) return bytesOf(value, 'value');
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  let text: string | undefined;
  try {
    // JSON.stringify escapes unpaired surrogates, so its text is always well-formed.
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) {
    throw new ValidationError(
      'The record value cannot be serialised as JSON (circular references and BigInt values are not supported).',
      'INVALID_VALUE',
    );
  }
  return text;
}

function headersOf(headers: RecordHeaders | undefined): Record<string, Buffer | Buffer[]> | undefined {
  if (headers === undefined || headers === null) return undefined;
  if (typeof headers !== 'object' || headers instanceof Uint8Array) {
    throw new ValidationError(
      `Record headers must be an object or an array of {name, value}, not ${describeType(headers)}.`,
      'INVALID_HEADERS',
    );
  }
  const out: Record<string, Buffer | Buffer[]> = Object.create(null) as Record<string, Buffer | Buffer[]>;
  const add = (name: unknown, value: unknown): void => {
    if (typeof name !== 'string' || name.length === 0 || !isWellFormedString(name)) {
      throw new ValidationError('Every record header needs a non-empty string name.', 'INVALID_HEADERS');
    }
    const b = bytesOf(value, 'header');
    const had = out[name];
    if (had === undefined) out[name] = b;
    else if (Array.isArray(had)) had.push(b);
    else out[name] = [had, b];
  };
  if (Array.isArray(headers)) {
    for (const item of headers as unknown[]) {
      if (typeof item !== 'object' || item === null) {
        throw new ValidationError('Each item of a header array must be {name, value}.', 'INVALID_HEADERS');
      }
      add((item as { name?: unknown }).name, (item as { value?: unknown }).value);
    }
  } else {
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) add(name, value);
  }
  return Object.keys(out).length > 0 ? { ...out } : undefined;
}

/** Header names and values as they go to the broker (what the metrics count). */
function headerBytes(headers: Record<string, Buffer | Buffer[]>): number {
  let n = 0;
  for (const name in headers) {
    const v = headers[name]!;
    if (Array.isArray(v)) for (const b of v) n += name.length + b.length;
    else n += name.length + v.length;
  }
  return n;
}

/** Confluent wire format: magic byte 0, the schema id (4 bytes, big-endian), the Avro binary. */
export function confluentFrame(id: number, avro: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + avro.length);
  out[0] = 0;
  out.writeUInt32BE(id, 1);
  avro.copy(out, 5);
  return out;
}

async function avroBytes(
  topic: string,
  format: AvroFormat,
  data: unknown,
  what: 'value' | 'key',
  resolveId: SchemaIdResolver | undefined,
): Promise<Buffer> {
  const f = normaliseFormat(format, what);
  if (f === undefined || f.schema === undefined) {
    throw new ValidationError(
      `Avro over Kafka needs the ${what} schema inline (the registry gives its id).`,
      'INVALID_SCHEMA',
    );
  }
  if (resolveId === undefined) {
    throw new ValidationError(
      'Avro over Kafka needs a schema registry for the schema id; none is configured.',
      'INVALID_CONFIG',
    );
  }
  const type = parseSchema(f.schema);
  const avro = type.toBuffer(toAvroValue(type, data, what));
  const subject = subjectFor(f.strategy ?? 'topic', topic, type, what === 'key');
  return confluentFrame(await resolveId(subject, schemaText(type)), avro);
}

/**
 * A {@link ProduceRecord} as a Kafka record: the value as bytes (Buffer as is, text as UTF-8,
 * numbers and booleans as text, anything else as JSON), the key as bytes, headers as bytes, Avro
 * in the Confluent wire format. Throws (or rejects, for Avro) with the error model's record codes.
 * The one function to replace with the shared record codec.
 */
export function toKafkaRecord(
  topic: string,
  record: ProduceRecord,
  limits: RecordLimits,
  resolveId?: SchemaIdResolver,
): KafkaWireRecord | Promise<KafkaWireRecord> {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new ValidationError(
      `A record must be an object with a "value" property, not ${describeType(record)}.`,
      'INVALID_VALUE',
    );
  }
  const headers = headersOf(record.headers);
  const timestamp = Date.now();
  if (record.valueSchema === undefined && record.keySchema === undefined) {
    const key = record.key === undefined || record.key === null ? null : keyBytes(record.key);
    return checked(limits, key, valueData(record.value), timestamp, headers);
  }
  return (async () => {
    const key =
      record.keySchema !== undefined
        ? await avroBytes(topic, record.keySchema, record.key, 'key', resolveId)
        : record.key === undefined || record.key === null
          ? null
          : keyBytes(record.key);
    const value =
      record.valueSchema !== undefined
        ? await avroBytes(topic, record.valueSchema, record.value, 'value', resolveId)
        : valueData(record.value);
    return checked(limits, key, value, timestamp, headers);
  })();
}

function checked(
  limits: RecordLimits,
  key: Buffer | null,
  value: Buffer | string,
  timestamp: number,
  headers: Record<string, Buffer | Buffer[]> | undefined,
): KafkaWireRecord {
  const valueLength = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
  if (key !== null && key.length > limits.maxKeyBytes) {
    throw new ValidationError(
      `The record key is ${key.length} bytes; the limit is ${limits.maxKeyBytes}.`,
      'KEY_TOO_LARGE',
    );
  }
  if (valueLength > limits.maxValueBytes) {
    throw new ValidationError(
      `The record value is ${valueLength} bytes; the limit is ${limits.maxValueBytes}.`,
      'VALUE_TOO_LARGE',
    );
  }
  const bytes = (key?.length ?? 0) + valueLength;
  return headers
    ? { key, value, timestamp, headers, bytes: bytes + headerBytes(headers) }
    : { key, value, timestamp, bytes };
}

/**
 * The last text key's bytes. Records of one key usually come in runs; sharing one Buffer saves
 * an allocation per record and lets the partitioner skip hashing it again. Nothing writes to a
 * key Buffer after encoding (kafkajs copies it into the request).
 */
let lastKeyText: string | undefined;
let lastKeyBytes: Buffer | undefined;
function keyBytes(key: unknown): Buffer {
  if (typeof key === 'string' && key === lastKeyText) return lastKeyBytes!;
  const b = bytesOf(key, 'key');
  if (typeof key === 'string') {
    lastKeyText = key;
    lastKeyBytes = b;
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// The sender

export interface KafkaSenderOptions extends KafkaClientConfig {
  retry?: RetryOptions;
  queue?: QueueOptions;
  limits?: Pick<LimitOptions, 'maxKeyBytes' | 'maxValueBytes'>;
  /** Keep records of one key in order (one batch in flight). Default true. */
  orderByKey?: boolean;
  /** Batches in flight without `orderByKey`. Default 5 (Kafka's limit for an idempotent producer). */
  maxInFlight?: number;
  /** Bytes of keys and values per batch. Default 1 MiB (Kafka's default `max.request.size`). */
  maxBatchBytes?: number;
  compression?: 'none' | 'gzip';
  /** Schema ids for Avro (Confluent wire format). */
  schemaIds?: SchemaIdResolver;
  /** kafkajs's error lines (secrets redacted); absent: silent. */
  log?: (line: string) => void;
  /** Another Kafka client behind the same seam (tests, a future client). */
  port?: KafkaProducerPort;
}

interface Job {
  topic: string;
  wire: KafkaWireRecord | undefined;
  bytes: number;
  attempts: number;
  signal: AbortSignal | undefined;
  /** SendOptions.once: the caller (the outbox) retries; only kafkajs's own quick retries apply. */
  once: boolean;
  receipt: Receipt<unknown>;
  ctx: unknown;
  failed: EventStreamsError | undefined;
  settled: boolean;
}

const DEFAULT_BATCH_BYTES = 1024 * 1024;

/** A batch's jobs by topic, in first-seen order; one topic (the usual case) needs no map. */
function byTopic(jobs: Job[]): Array<{ topic: string; jobs: Job[] }> {
  const first = jobs[0]!.topic;
  let i = 1;
  while (i < jobs.length && jobs[i]!.topic === first) i++;
  if (i === jobs.length) return [{ topic: first, jobs }];
  const map = new Map<string, Job[]>();
  for (const j of jobs) {
    const list = map.get(j.topic);
    if (list) list.push(j);
    else map.set(j.topic, [j]);
  }
  return [...map].map(([topic, list]) => ({ topic, jobs: list }));
}

export class KafkaSender implements Sender {
  readonly transport = 'kafka' as const;
  private readonly port: KafkaProducerPort;
  private readonly retry: RetryPolicy;
  private readonly limits: RecordLimits;
  private readonly maxQueued: number;
  private readonly maxQueuedBytes: number;
  private readonly maxBatchBytes: number;
  private readonly maxInFlight: number;
  private readonly compression: 'none' | 'gzip';
  private readonly schemaIds: SchemaIdResolver | undefined;
  private readonly secrets: string[];
  private readonly insecure: boolean;
  /** FIFO of records not yet on the wire; a head index keeps shift O(1). */
  private queue: Job[] = [];
  private head = 0;
  private queuedBytes = 0;
  private inFlightBatches = 0;
  private inFlightRecords = 0;
  private connecting: Promise<void> | undefined;
  private connected = false;
  private scheduled = false;
  /** The last topic name that passed validation (records of one topic come in runs). */
  private lastTopic: string | undefined;
  /** Ends a retry wait early (close). */
  private readonly wakers = new Set<() => void>();
  private readonly idle: Array<() => void> = [];
  private counters = { delivered: 0, failed: 0, retries: 0 };
  private lastError: EventStreamsError | undefined;
  private retrying = 0;
  closed = false;

  constructor(options: KafkaSenderOptions) {
    if (!Array.isArray(options.brokers) || options.brokers.length === 0) {
      throw new ValidationError(
        'The Kafka transport needs at least one broker (host:port).',
        'INVALID_CONFIG',
      );
    }
    this.retry = resolveRetryPolicy(options.retry);
    this.limits = {
      maxKeyBytes: options.limits?.maxKeyBytes ?? ENDPOINT_FIELD_DEFAULTS.maxKeyBytes.value,
      maxValueBytes: options.limits?.maxValueBytes ?? ENDPOINT_FIELD_DEFAULTS.maxValueBytes.value,
    };
    this.maxQueued = options.queue?.maxMessages ?? ENDPOINT_FIELD_DEFAULTS.queueMessages.value;
    this.maxQueuedBytes = options.queue?.maxBytes ?? ENDPOINT_FIELD_DEFAULTS.queueBytes.value;
    this.maxBatchBytes = Math.max(1, options.maxBatchBytes ?? DEFAULT_BATCH_BYTES);
    const orderByKey = options.orderByKey ?? true;
    this.maxInFlight = orderByKey ? 1 : Math.max(1, options.maxInFlight ?? 5);
    this.compression = options.compression === 'gzip' ? 'gzip' : 'none';
    this.schemaIds = options.schemaIds;
    this.secrets = secretsOf(options);
    this.insecure = typeof options.ssl === 'object' && options.ssl.rejectUnauthorized === false;
    this.port =
      options.port ??
      kafkajsProducerPort(
        {
          ...options,
          connectionTimeoutMs: options.connectionTimeoutMs ?? ms(CORE_DEFAULTS.kafkaMaxConnectTimeout),
        },
        { idempotent: true, ...(options.log ? { log: options.log } : {}) },
      );
  }

  send(topic: string, record: ProduceRecord, options?: SendOptions): Promise<ProduceResult> {
    return sendBySubmit(this, topic, record, options);
  }

  submit<C>(
    topic: string,
    record: ProduceRecord,
    options: SendOptions | undefined,
    receipt: Receipt<C>,
    ctx: C,
  ): void {
    const job: Job = {
      topic,
      wire: undefined,
      bytes: 0,
      attempts: 0,
      signal: options?.signal,
      once: options?.once === true,
      receipt: receipt as Receipt<unknown>,
      ctx,
      failed: undefined,
      settled: false,
    };
    if (this.closed) {
      job.settled = true;
      notify(receipt, ctx, new ClosedError('The Kafka sender is closed.', { topic }), undefined);
      return;
    }
    try {
      if (topic !== this.lastTopic) {
        validateTopicName(topic);
        this.lastTopic = topic;
      }
      if (this.queue.length - this.head >= this.maxQueued) {
        throw new QueueFullError(`The send queue is full (${this.maxQueued} records).`, { topic });
      }
      const wire = toKafkaRecord(topic, record, this.limits, this.schemaIds);
      if (wire instanceof Promise) {
        // Holds its place in the queue while the schema id is looked up, so order is kept.
        this.enqueue(job, 0);
        wire.then(
          (w) => {
            if (job.settled) return;
            job.wire = w;
            this.account(job, w);
            this.schedule();
          },
          (err: unknown) => {
            job.failed = fromKafka(err, { topic, secrets: this.secrets });
            this.schedule();
          },
        );
        return;
      }
      this.enqueue(job, 0);
      job.wire = wire;
      this.account(job, wire);
      if (this.queuedBytes > this.maxQueuedBytes && this.queue.length - this.head > 1) {
        this.queue.pop();
        this.queuedBytes -= job.bytes;
        throw new QueueFullError(`The send queue is full (${this.maxQueuedBytes} bytes).`, { topic });
      }
      this.schedule();
    } catch (err) {
      // Refused before it was queued: not an attempt, so no `attempts` on the error.
      job.settled = true;
      this.counters.failed++;
      notify(receipt, ctx, fromKafka(err, { topic, secrets: this.secrets }), undefined);
    }
  }

  private enqueue(job: Job, bytes: number): void {
    job.bytes = bytes;
    this.queue.push(job);
  }

  private account(job: Job, wire: KafkaWireRecord): void {
    job.bytes = wire.bytes + 64;
    this.queuedBytes += job.bytes;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Records produced in the same tick (a burst, a msg.records array) go in one batch.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** Starts batches while there is room in flight and records at the head are ready. */
  private pump(): void {
    while (this.inFlightBatches < this.maxInFlight) {
      const batch: Job[] = [];
      let bytes = 0;
      while (this.head < this.queue.length) {
        const job = this.queue[this.head]!;
        if (job.settled) {
          this.head++;
          continue;
        }
        if (job.failed !== undefined) {
          this.head++;
          this.settle(job, job.failed);
          continue;
        }
        if (job.wire === undefined) break; // still encoding: later records wait behind it
        if (batch.length > 0 && bytes + job.bytes > this.maxBatchBytes) break;
        this.head++;
        this.queuedBytes -= job.bytes;
        bytes += job.bytes;
        batch.push(job);
      }
      this.compact();
      if (batch.length === 0) break;
      this.inFlightBatches++;
      this.inFlightRecords += batch.length;
      void this.run(batch, Date.now());
    }
    this.checkIdle();
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    } else if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
  }

  private async connect(): Promise<void> {
    if (this.connected) return;
    this.connecting ??= this.port.connect().then(
      () => {
        this.connected = true;
        this.connecting = undefined;
      },
      (err: unknown) => {
        this.connecting = undefined;
        throw err;
      },
    );
    await this.connecting;
  }

  /** One batch in flight: delivered, then the slot goes to the next. */
  private async run(batch: Job[], startedAt: number): Promise<void> {
    try {
      await this.deliver(batch, startedAt);
    } finally {
      this.inFlightBatches--;
      this.inFlightRecords -= batch.length;
      this.pump();
    }
  }

  /** Sends one batch until it is written, rejected, or out of retries; keeps its slot throughout. */
  private async deliver(batch: Job[], startedAt: number): Promise<void> {
    let live = batch;
    for (;;) {
      live = live.filter((j) => !j.settled);
      if (live.length === 0) break;
      for (const j of live) j.attempts++;
      try {
        await this.connect();
        const groups = byTopic(live);
        const results = await this.port.send(
          groups.map(({ topic, jobs }) => ({ topic, records: jobs.map((j) => j.wire!) })),
          { compression: this.compression },
        );
        for (let gi = 0; gi < groups.length; gi++) {
          const { topic, jobs } = groups[gi]!;
          const rs = results[gi];
          for (let ri = 0; ri < jobs.length; ri++) {
            const j = jobs[ri]!;
            const r = rs?.[ri];
            const w = j.wire!;
            // One literal with every field in the usual case: one object shape for all results.
            const out: ProduceResult =
              r !== undefined && r.offset >= 0
                ? {
                    topic,
                    partition: r.partition,
                    offset: r.offset,
                    timestamp: r.logAppendTime ?? w.timestamp,
                    attempts: j.attempts,
                    bytes: w.bytes,
                  }
                : { topic, attempts: j.attempts, bytes: w.bytes };
            if (r !== undefined && r.offset < 0) {
              out.partition = r.partition;
              out.timestamp = r.logAppendTime ?? w.timestamp;
            }
            this.counters.delivered++;
            this.settle(j, undefined, out);
          }
        }
        this.lastError = undefined;
        break;
      } catch (raw) {
        const err = fromKafka(raw, {
          ...(live.length === 1 || new Set(live.map((j) => j.topic)).size === 1
            ? { topic: live[0]!.topic }
            : {}),
          secrets: this.secrets,
        });
        this.lastError = err;
        if (live.length > 1 && isRecordRejection(err)) {
          // One record spoiled the batch (too large for the broker, invalid): find it by sending
          // each record alone, so the others are still written, in order.
          for (const j of live) {
            j.attempts--;
            await this.deliver([j], Date.now());
          }
          break;
        }
        const attempts = Math.max(...live.map((j) => j.attempts));
        const delay =
          this.closed || live.every((j) => j.once)
            ? undefined
            : nextRetryDelay(this.retry, err, attempts, startedAt);
        if (delay === undefined) {
          for (const j of live) this.settle(j, finalError(err, j.attempts));
          break;
        }
        this.counters.retries++;
        this.retrying++;
        try {
          await new Promise<void>((resolve) => {
            const wake = (): void => {
              clearTimeout(t);
              this.wakers.delete(wake);
              resolve();
            };
            const t = setTimeout(wake, delay);
            this.wakers.add(wake);
          });
        } finally {
          this.retrying--;
        }
        if (this.closed) {
          for (const j of live) this.settle(j, finalError(err, j.attempts));
          break;
        }
      }
    }
  }

  private settle(job: Job, err: EventStreamsError | undefined, result?: ProduceResult): void {
    if (job.settled) return;
    job.settled = true;
    if (err !== undefined) {
      if (err.attempts === undefined) err.attempts = job.attempts;
      if (err.code !== 'WITHDRAWN' && err.code !== 'CLOSED') this.counters.failed++;
    }
    notify(job.receipt, job.ctx, err, result);
  }

  withdraw(signal: AbortSignal): number {
    let taken = 0;
    for (let i = this.head; i < this.queue.length; i++) {
      const job = this.queue[i]!;
      if (job.settled || job.signal !== signal) continue;
      if (job.wire !== undefined) this.queuedBytes -= job.bytes;
      const err = new WithdrawnError('The record was taken back before it was sent.', { topic: job.topic });
      this.settle(job, err);
      taken++;
    }
    this.checkIdle();
    return taken;
  }

  stats(): ClientStats {
    let queued = 0;
    for (let i = this.head; i < this.queue.length; i++) if (!this.queue[i]!.settled) queued++;
    const code = this.lastError?.code;
    const state: ClientStats['state'] = this.closed
      ? 'closed'
      : code === 'AUTHENTICATION_FAILED'
        ? 'auth-failed'
        : this.retrying > 0 && dispositionOf(this.lastError) === 'hold'
          ? 'throttled'
          : this.retrying > 0
            ? 'retrying'
            : this.inFlightRecords > 0 || queued > 0
              ? 'busy'
              : 'idle';
    return {
      state,
      inFlight: this.inFlightRecords,
      queued,
      queuedBytes: this.queuedBytes,
      delivered: this.counters.delivered,
      failed: this.counters.failed,
      retries: this.counters.retries,
      insecure: this.insecure,
    };
  }

  async testConnection(): Promise<ConnectionCheck> {
    try {
      await this.port.check();
      return { reachable: true, tlsTrusted: true, authenticated: true };
    } catch (raw) {
      const error = fromKafka(raw, { secrets: this.secrets });
      switch (error.code) {
        case 'TLS_FAILED':
          return { reachable: true, tlsTrusted: false, authenticated: null, error };
        case 'AUTHENTICATION_FAILED':
          return { reachable: true, tlsTrusted: null, authenticated: false, error };
        case 'AUTHORIZATION_FAILED':
          return { reachable: true, tlsTrusted: null, authenticated: true, error };
        default:
          return { reachable: false, tlsTrusted: null, authenticated: null, error };
      }
    }
  }

  private checkIdle(): void {
    if (this.inFlightBatches > 0) return;
    for (let i = this.head; i < this.queue.length; i++) if (!this.queue[i]!.settled) return;
    for (const f of this.idle.splice(0)) f();
  }

  async close(options: CloseOptions = {}): Promise<void> {
    if (this.closed) return;
    const deadline = options.deadlineMs ?? ms(ENDPOINT_FIELD_DEFAULTS.closeTimeout);
    const drained = new Promise<void>((resolve) => {
      this.idle.push(resolve);
      this.checkIdle();
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise<void>((r) => (timer = setTimeout(r, deadline)))]);
    clearTimeout(timer);
    this.closed = true;
    // Retry waits end now and their batches fail; queued records are rejected.
    for (const wake of [...this.wakers]) wake();
    for (let i = this.head; i < this.queue.length; i++) {
      const job = this.queue[i]!;
      this.settle(
        job,
        new ClosedError('The Kafka sender closed before the record was sent.', { topic: job.topic }),
      );
    }
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    await this.port.disconnect().catch(() => undefined);
  }
}
