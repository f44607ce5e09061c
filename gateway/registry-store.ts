// SPDX-License-Identifier: Apache-2.0
/**
 * Where the local Schema Registry's log lives (see registry.ts: the state is the log applied in
 * order):
 * - {@link MemoryRegistryLog}: nothing persisted (unit tests).
 * - {@link FileRegistryLog}: an append-only file of JSON lines in the state directory, one line
 *   (and one fdatasync) per change, rewritten as a snapshot every REGISTRY_FILE_COMPACT_ENTRIES
 *   lines (memory backend). No registration rewrites the whole registry.
 * - {@link KafkaRegistryLog}: the compacted Kafka topic `_esnodes_schemas`, the single source of
 *   truth for every gateway on the cluster, after Confluent Schema Registry's `_schemas` and
 *   Apicurio's KafkaSQL storage. Each gateway appends its proposals and applies the topic in
 *   offset order with a consumer that runs for the gateway's lifetime, so all of them compute the
 *   same ids. A write is answered once the writing gateway has applied its own record; every
 *   registry request first catches up to the topic's high watermark (one ListOffsets), so a read
 *   on any gateway after an answered write sees it.
 *
 * Kafka record keys: `op:<uuid>` for a change (unique, so compaction never drops one), and the
 * earlier format's `artifact:<id>` / `meta` records (absolute state, tombstones for deletions),
 * which are still applied in order so an existing topic keeps its ids.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';

import { kafkaKit, kafkajs } from '../lib/server-kit';
import { REGISTRY_FILE_COMPACT_ENTRIES } from './limits';
import type { Artifact, RegistryLog, RegistryMeta, RegistryOp } from './registry';
import type { KafkaConnectionOptions } from './types';

export const SCHEMAS_TOPIC = '_esnodes_schemas';

export class MemoryRegistryLog implements RegistryLog {
  private apply: (op: RegistryOp) => void = () => undefined;
  start(apply: (op: RegistryOp) => void): Promise<void> {
    this.apply = apply;
    return Promise.resolve();
  }
  append(op: RegistryOp): Promise<void> {
    // Asynchronous like the real logs, so callers never rely on a synchronous apply.
    return new Promise((resolve) =>
      setImmediate(() => {
        this.apply(op);
        resolve();
      }),
    );
  }
  sync(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function isArtifact(a: unknown): a is Artifact {
  if (!isObject(a) || typeof a.id !== 'string' || !Array.isArray(a.versions)) return false;
  return (a.versions as unknown[]).every(
    (v) =>
      isObject(v) &&
      typeof v.schema === 'string' &&
      Number.isInteger(v.version) &&
      Number.isInteger(v.globalId),
  );
}

export function isMeta(m: unknown): m is RegistryMeta {
  return isObject(m) && typeof m.rule === 'string' && Number.isInteger(m.nextGlobalId);
}

const OP_TYPES = new Set([
  'register',
  'deleteArtifact',
  'deleteVersion',
  'globalRule',
  'artifactRule',
  'put',
  'drop',
  'meta',
]);

/** A log entry read back, or undefined when it is not one (skipped, like an unknown record). */
export function parseOp(text: string): RegistryOp | undefined {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(x) || typeof x.t !== 'string' || !OP_TYPES.has(x.t)) return undefined;
  if (x.t === 'put' && !isArtifact(x.artifact)) return undefined;
  if (x.t === 'meta' && !isMeta(x.meta)) return undefined;
  if (x.t !== 'put' && x.t !== 'meta' && x.t !== 'globalRule' && typeof x.id !== 'string') return undefined;
  return x as RegistryOp;
}

interface SnapshotShape {
  format: 2;
  /** The log generation that continues this snapshot (`schema-registry.<gen>.log`). */
  gen: number;
  meta: RegistryMeta;
  /** An array, not an object keyed by id: ids such as `__proto__` are data, not property names. */
  artifacts: Artifact[];
}

/**
 * The memory backend's registry: `schema-registry.json` (a snapshot) plus
 * `schema-registry.<gen>.log` (the changes since, one JSON line each). Compaction writes a new
 * snapshot naming the next generation, then removes the old log, so a crash at any point replays
 * each change exactly once. A format-1 `schema-registry.json` (the earlier whole-file store) is
 * read as the first snapshot.
 */
export class FileRegistryLog implements RegistryLog {
  readonly file: string;
  private gen = 0;
  private entries = 0;
  private fh?: fs.FileHandle;
  private chain: Promise<unknown> = Promise.resolve();
  private apply: (op: RegistryOp) => void = () => undefined;
  private snapshot: () => RegistryOp[] = () => [];
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly stateDir: string,
    /** Lines after which the log is folded into the snapshot (a parameter for tests). */
    private readonly compactEvery = REGISTRY_FILE_COMPACT_ENTRIES,
  ) {
    this.file = path.join(stateDir, 'schema-registry.json');
  }

  logFile(gen = this.gen): string {
    return path.join(this.stateDir, `schema-registry.${gen}.log`);
  }

  start(apply: (op: RegistryOp) => void, snapshot: () => RegistryOp[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The schema registry log is closed'));
    this.starting = this.open(apply, snapshot);
    return this.starting;
  }

  private async open(apply: (op: RegistryOp) => void, snapshot: () => RegistryOp[]): Promise<void> {
    this.apply = apply;
    this.snapshot = snapshot;
    let text: string | undefined;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      if (isMeta(parsed.meta)) apply({ t: 'meta', meta: parsed.meta });
      // Format 1 kept artifacts in an object keyed by id; JSON.parse makes every key (even
      // `__proto__`) an own property, so Object.values sees them all.
      const list: unknown[] = Array.isArray(parsed.artifacts)
        ? (parsed.artifacts as unknown[])
        : isObject(parsed.artifacts)
          ? Object.values(parsed.artifacts)
          : [];
      for (const a of list) if (isArtifact(a)) apply({ t: 'put', artifact: a });
      if (parsed.format === 2 && Number.isInteger(parsed.gen)) this.gen = parsed.gen as number;
    }
    let log = '';
    try {
      log = await fs.readFile(this.logFile(), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    let good = 0;
    for (let start = 0; start < log.length;) {
      const nl = log.indexOf('\n', start);
      // A line without its newline is a write cut short by a crash: never acknowledged, dropped.
      if (nl < 0) break;
      const op = parseOp(log.slice(start, nl));
      if (op !== undefined) apply(op);
      this.entries++;
      start = nl + 1;
      good = start;
    }
    await fs.mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    this.fh = await fs.open(this.logFile(), 'a', 0o600);
    if (good < Buffer.byteLength(log)) await this.fh.truncate(Buffer.byteLength(log.slice(0, good)));
    // A log of an older generation left by a crash during compaction is already in the snapshot.
    await fs.rm(this.logFile(this.gen - 1), { force: true });
  }

  append(op: RegistryOp): Promise<void> {
    const run = this.chain.then(async () => {
      if (this.fh === undefined) throw new Error('The schema registry log is closed');
      await this.fh.write(`${JSON.stringify(op)}\n`);
      await this.fh.datasync();
      this.apply(op);
      if (++this.entries >= this.compactEvery) await this.compact();
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Closes the log once a `start` in progress has opened it (a gateway stopped, or failing to
   * listen, right after it started): no file is opened or written after `close` resolves.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.starting?.catch(() => undefined);
    await this.chain;
    await this.fh?.close();
    this.fh = undefined;
  }

  /** Replaces snapshot + log by a new snapshot and an empty log of the next generation. */
  private async compact(): Promise<void> {
    const next = this.gen + 1;
    const ops = this.snapshot();
    const meta = ops.find((o): o is Extract<RegistryOp, { t: 'meta' }> => o.t === 'meta')!.meta;
    const shape: SnapshotShape = {
      format: 2,
      gen: next,
      meta,
      artifacts: ops.flatMap((o) => (o.t === 'put' ? [o.artifact] : [])),
    };
    const fresh = await fs.open(this.logFile(next), 'w', 0o600);
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fh = await fs.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(shape));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, this.file);
    const old = this.fh;
    this.fh = fresh;
    this.gen = next;
    this.entries = 0;
    await old?.close();
    await fs.rm(this.logFile(next - 1), { force: true });
  }
}

const ARTIFACT_PREFIX = 'artifact:';
const META_KEY = 'meta';
const OP_PREFIX = 'op:';
/** How long a write or a catch-up may wait for the gateway's own reader. */
const APPLY_TIMEOUT_MS = 30_000;

/** The log entry of one record of the topic, in any of its formats. */
function opOfRecord(key: string | undefined, value: Buffer | null): RegistryOp | undefined {
  if (key === undefined) return undefined;
  if (key.startsWith(OP_PREFIX)) return value === null ? undefined : parseOp(value.toString('utf8'));
  if (key.startsWith(ARTIFACT_PREFIX)) {
    const id = key.slice(ARTIFACT_PREFIX.length);
    if (value === null) return { t: 'drop', id };
    const op = parseOp(JSON.stringify({ t: 'put', artifact: safeJson(value) }));
    return op;
  }
  if (key === META_KEY && value !== null) {
    const meta = safeJson(value);
    return isMeta(meta) ? { t: 'meta', meta } : undefined;
  }
  return undefined;
}

function safeJson(value: Buffer): unknown {
  try {
    return JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
}

export class KafkaRegistryLog implements RegistryLog {
  private readonly kafka: Kafka;
  private producer?: Producer;
  private admin?: Admin;
  private consumer?: Consumer;
  private readonly groupId = `esnodes-schemas-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  private closed = false;
  /** The next offset to apply: everything below it has been applied. */
  private applied = 0;
  private readonly waiters = new Set<{ offset: number; resolve(): void; reject(err: Error): void }>();
  /** One high-watermark request at a time, plus at most one queued behind it. */
  private syncing?: Promise<void>;
  private syncNext?: Promise<void>;

  private constructor(
    kafka: Kafka,
    private readonly log: (line: string) => void,
  ) {
    this.kafka = kafka;
  }

  /** Connects, creating the compacted topic when it is missing. */
  static async open(
    options: KafkaConnectionOptions,
    log: (line: string) => void = () => undefined,
  ): Promise<KafkaRegistryLog> {
    const { Kafka: KafkaClient } = kafkajs();
    const { toKafkaConfig, createTopicsReady } = kafkaKit();
    const store = new KafkaRegistryLog(
      new KafkaClient(
        toKafkaConfig({ ...options, clientId: options.clientId ?? 'esnodes-schema-registry' }, log, {
          retries: 5,
          initialRetryTime: 100,
          maxRetryTime: 1000,
        }),
      ),
      log,
    );
    const admin = store.kafka.admin();
    store.admin = admin;
    await admin.connect();
    const topics = await admin.listTopics();
    if (!topics.includes(SCHEMAS_TOPIC)) {
      await createTopicsReady(admin, {
        topics: [
          {
            topic: SCHEMAS_TOPIC,
            numPartitions: 1,
            replicationFactor: options.replicationFactor ?? -1,
            configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
          },
        ],
      }).catch((err: unknown) => {
        if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
      });
    }
    store.producer = store.kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await store.producer.connect();
    return store;
  }

  /** Starts the reader (for the gateway's lifetime) and resolves once it has caught up. */
  async start(apply: (op: RegistryOp) => void): Promise<void> {
    if (this.closed) throw new Error('The schema registry store is closed');
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      allowAutoTopicCreation: false,
      // Registry records are small; a short wait keeps read-after-write quick.
      maxWaitTimeInMs: 100,
    });
    this.consumer = consumer;
    // kafkajs restarts the consumer after retriable failures by itself; a crash it does not
    // restart from leaves this gateway's registry behind, so its writes time out (503): say why.
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) {
        this.log(`local endpoint: schema registry reader stopped: ${e.payload.error.message}`);
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [SCHEMAS_TOPIC], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat }) => {
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          // A rejoin restarts from the beginning (no committed offsets): applied entries are skipped.
          if (offset < this.applied) continue;
          const op = opOfRecord(message.key?.toString('utf8'), message.value);
          if (op !== undefined) {
            try {
              apply(op);
            } catch (err) {
              this.log(
                `local endpoint: schema registry entry ${offset} not applied: ${(err as Error).message}`,
              );
            }
          }
          this.applied = offset + 1;
        }
        this.wake();
        await heartbeat();
      },
    });
    await this.sync();
  }

  async append(op: RegistryOp): Promise<void> {
    if (!this.producer || this.closed) throw new Error('The schema registry store is not connected');
    const key = `${OP_PREFIX}${'req' in op ? op.req : `${Date.now()}`}`;
    const [meta] = await this.producer.send({
      topic: SCHEMAS_TOPIC,
      acks: -1,
      messages: [{ key, value: JSON.stringify(op) }],
    });
    const offset = Number(meta?.baseOffset ?? meta?.offset);
    if (!Number.isFinite(offset)) throw new Error('Kafka did not return the offset of the change');
    await this.until(offset + 1);
  }

  sync(): Promise<void> {
    if (this.syncing === undefined) {
      this.syncing = this.catchUp().finally(() => {
        this.syncing = this.syncNext;
        this.syncNext = undefined;
      });
      return this.syncing;
    }
    // A request in flight may have asked before our caller's write: queue one more behind it.
    this.syncNext ??= this.syncing.then(
      () => this.catchUp(),
      () => this.catchUp(),
    );
    return this.syncNext;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters) w.reject(new Error('The schema registry store was closed'));
    this.waiters.clear();
    await this.consumer?.disconnect().catch(() => undefined);
    await this.admin
      ?.deleteGroups([this.groupId])
      .catch(() => undefined)
      .finally(() => this.admin?.disconnect().catch(() => undefined));
    await this.producer?.disconnect().catch(() => undefined);
  }

  private async catchUp(): Promise<void> {
    if (!this.admin || this.closed) throw new Error('The schema registry store is not connected');
    const offsets = await this.admin.fetchTopicOffsets(SCHEMAS_TOPIC);
    const high = Number(offsets[0]?.high ?? '0');
    await this.until(high);
  }

  /** Resolves once every offset below `offset` has been applied. */
  private until(offset: number): Promise<void> {
    if (this.applied >= offset) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w = {
        offset,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error('Timed out reading the schema registry topic'));
      }, APPLY_TIMEOUT_MS);
      timer.unref();
      this.waiters.add(w);
    });
  }

  private wake(): void {
    for (const w of this.waiters) {
      if (this.applied >= w.offset) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }
}
