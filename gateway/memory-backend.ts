// SPDX-License-Identifier: Apache-2.0
/**
 * In-memory storage for the local endpoint: topics with partitions, per-partition offsets and a
 * bounded record log per topic (the oldest records are evicted first), so that a long benchmark
 * run cannot grow the heap without limit.
 */
import {
  type BrokerSummary,
  compileFilter,
  NotFoundError,
  type RecordsToDelete,
  type TopicDetail,
  TopicExistsError,
  TopicNotFoundError,
  ValidationError,
} from '../lib/server-kit';
import { partitionForKey } from './partitioner';
import type { Backend, BackendAdmin, RecordToStore, StoredAt, StoredRecord, TopicUpdate } from './types';

/** Defaults for `memory` options. */
export const DEFAULT_MAX_RECORDS_PER_TOPIC = 100_000;
export const DEFAULT_MAX_BYTES_PER_TOPIC = 64 * 1024 * 1024;
/** Topics, partitions (all topics together) and record bytes (all topics together) it holds at most. */
export const DEFAULT_MAX_TOPICS = 1000;
export const DEFAULT_MAX_PARTITIONS = 10_000;
export const DEFAULT_MAX_TOTAL_BYTES = 256 * 1024 * 1024;

export interface MemoryBackendOptions {
  maxRecordsPerTopic?: number;
  maxBytesPerTopic?: number;
  maxTopics?: number;
  maxPartitions?: number;
  maxTotalBytes?: number;
}

/** Rough per-record bookkeeping cost counted against the byte bound (object, offsets, arrays). */
const RECORD_OVERHEAD_BYTES = 64;

/**
 * Defaults reported for every topic, as IBM Cloud's Admin REST shows them (§5.3 of the API notes),
 * except replication: the memory backend is one "broker", so replication is 1 and min ISR 1.
 */
const DEFAULT_CONFIGS: Readonly<Record<string, string>> = {
  'cleanup.policy': 'delete',
  'min.insync.replicas': '1',
  'retention.bytes': '1073741824',
  'retention.ms': '86400000',
  'segment.bytes': '536870912',
  'segment.index.bytes': '10485760',
  'segment.ms': '604800000',
};

/** A growable ring buffer: O(1) push and shift without Array#shift's copying. */
class Deque<T> {
  private items: Array<T | undefined>;
  private head = 0;
  length = 0;

  constructor(capacity = 16) {
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    if (this.length === this.items.length) this.grow();
    this.items[(this.head + this.length) % this.items.length] = item;
    this.length++;
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.length--;
    return item;
  }

  at(index: number): T | undefined {
    if (index < 0 || index >= this.length) return undefined;
    return this.items[(this.head + index) % this.items.length];
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.items.length * 2);
    for (let i = 0; i < this.length; i++) next[i] = this.items[(this.head + i) % this.items.length];
    this.items = next;
    this.head = 0;
  }
}

interface PartitionLog {
  records: Deque<StoredRecord>;
  nextOffset: number;
}

interface TopicState {
  name: string;
  partitions: PartitionLog[];
  /** Every record of the topic in arrival order, for eviction and for unfiltered reads. */
  all: Deque<StoredRecord>;
  bytes: number;
  roundRobin: number;
  /** Only the configs set explicitly; defaults are merged in when described. */
  configs: Map<string, string>;
}

function recordBytes(record: StoredRecord): number {
  let bytes = RECORD_OVERHEAD_BYTES + record.value.length + (record.key ? record.key.length : 0);
  for (const [name, value] of record.headers) bytes += name.length + value.length;
  return bytes;
}

function newPartition(): PartitionLog {
  return { records: new Deque<StoredRecord>(), nextOffset: 0 };
}

/** The memory backend's cluster: one "broker", this process (its address is the endpoint's own). */
const MEMORY_CLUSTER_ID = 'esnodes-local-memory';

function noGroup(id: string): never {
  throw new NotFoundError(`Consumer group '${id}' does not exist (the memory backend has no consumers)`);
}

/** The default backend: everything lives in this process and is lost on stop. */
export class MemoryBackend implements Backend {
  readonly kind = 'memory' as const;
  readonly durable = false;
  /** Never called: the memory backend stores record by record, it sends no batches. */
  onBatch: ((records: number) => void) | undefined;
  /** Broker 0: this endpoint, at the address it listens on once {@link advertise} says so. */
  private self: BrokerSummary = { id: 0, host: 'localhost', port: 0 };
  private readonly topics = new Map<string, TopicState>();
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly maxTopics: number;
  private readonly maxPartitions: number;
  private readonly maxTotalBytes: number;
  private partitionCount = 0;
  private totalBytes = 0;

  constructor(options: MemoryBackendOptions = {}) {
    this.maxRecords = Math.max(1, options.maxRecordsPerTopic ?? DEFAULT_MAX_RECORDS_PER_TOPIC);
    this.maxBytes = Math.max(1, options.maxBytesPerTopic ?? DEFAULT_MAX_BYTES_PER_TOPIC);
    this.maxTopics = Math.max(1, options.maxTopics ?? DEFAULT_MAX_TOPICS);
    this.maxPartitions = Math.max(1, options.maxPartitions ?? DEFAULT_MAX_PARTITIONS);
    this.maxTotalBytes = Math.max(1, options.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES);
  }

  advertise(address: { host: string; port: number }): void {
    this.self = { id: 0, host: address.host, port: address.port };
  }

  private broker(id: number): BrokerSummary {
    if (id !== 0)
      throw new NotFoundError(`Broker ${id} is not in the cluster (the memory backend is broker 0)`);
    return { ...this.self };
  }

  private checkPartitions(adding: number, topic: string): void {
    if (this.partitionCount + adding > this.maxPartitions) {
      throw new ValidationError(
        `The memory backend holds at most ${this.maxPartitions} partitions in all (${this.partitionCount} in use)`,
        'VALIDATION',
        { topic },
      );
    }
  }

  /** Synchronous existence check, used by the server to skip a promise on the hot path. */
  hasTopic(name: string): boolean {
    return this.topics.has(name);
  }

  /** Synchronous produce; `produce` wraps it. Throws TopicNotFoundError. */
  produceSync(topic: string, record: RecordToStore): StoredRecord {
    const state = this.topics.get(topic);
    if (!state) throw new TopicNotFoundError(`Topic '${topic}' does not exist`, { topic, kafkaErrorCode: 3 });
    const count = state.partitions.length;
    let partition: number;
    if (record.key !== null) {
      partition = partitionForKey(record.key, count);
    } else {
      partition = state.roundRobin;
      state.roundRobin = (state.roundRobin + 1) % count;
    }
    const log = state.partitions[partition]!;
    const stored: StoredRecord = {
      topic,
      partition,
      offset: log.nextOffset++,
      timestamp: Date.now(),
      key: record.key,
      value: record.value,
      headers: record.headers,
    };
    const size = recordBytes(stored);
    // Past the bound of all topics together, this topic's oldest records make room (as past its
    // own bound); if that cannot make enough, the record is refused rather than growing the heap.
    while (this.totalBytes + size > this.maxTotalBytes && state.all.length > 0) this.evictOldest(state);
    if (this.totalBytes + size > this.maxTotalBytes) {
      log.nextOffset--;
      throw new ValidationError(
        `The memory backend is full (${this.maxTotalBytes} bytes across all topics): delete topics to make room`,
        'VALIDATION',
        { topic },
      );
    }
    log.records.push(stored);
    state.all.push(stored);
    state.bytes += size;
    this.totalBytes += size;
    while (state.all.length > this.maxRecords || (state.bytes > this.maxBytes && state.all.length > 1)) {
      this.evictOldest(state);
    }
    return stored;
  }

  private evictOldest(state: TopicState): void {
    const oldest = state.all.shift()!;
    state.partitions[oldest.partition]!.records.shift();
    const size = recordBytes(oldest);
    state.bytes -= size;
    this.totalBytes -= size;
  }

  async produce(topic: string, record: RecordToStore): Promise<StoredAt> {
    return this.produceSync(topic, record);
  }

  /** Synchronous: the produce route's hot path allocates no promise on this backend. */
  store(
    topic: string,
    record: RecordToStore,
    autoCreatePartitions: number | undefined,
    done: (err: unknown, stored?: StoredAt) => void,
  ): void {
    if (autoCreatePartitions !== undefined && !this.topics.has(topic)) {
      // Synchronous up to its first await, so the topic exists for produceSync below; a refusal
      // (too many topics) shows as the TOPIC_NOT_FOUND that follows.
      this.createTopic(topic, autoCreatePartitions, []).catch(() => undefined);
    }
    let stored: StoredRecord;
    try {
      stored = this.produceSync(topic, record);
    } catch (err) {
      return done(err);
    }
    done(null, stored);
  }

  async createTopic(
    name: string,
    partitions: number,
    configs: Array<{ name: string; value: string }>,
  ): Promise<void> {
    if (this.topics.has(name)) throw new TopicExistsError(`Topic '${name}' already exists.`, { topic: name });
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new ValidationError(`Invalid partition count ${partitions}`, 'VALIDATION', { topic: name });
    }
    if (this.topics.size >= this.maxTopics) {
      throw new ValidationError(`The memory backend holds at most ${this.maxTopics} topics`, 'VALIDATION', {
        topic: name,
      });
    }
    this.checkPartitions(partitions, name);
    const state: TopicState = {
      name,
      partitions: Array.from({ length: partitions }, newPartition),
      all: new Deque<StoredRecord>(),
      bytes: 0,
      roundRobin: 0,
      configs: new Map(),
    };
    for (const c of configs) state.configs.set(c.name, c.value);
    this.topics.set(name, state);
    this.partitionCount += partitions;
  }

  private describe(state: TopicState): TopicDetail {
    const configs: Record<string, string> = { ...DEFAULT_CONFIGS };
    for (const [k, v] of state.configs) configs[k] = v;
    const retentionMs = Number(configs['retention.ms']);
    return {
      name: state.name,
      partitions: state.partitions.length,
      replicationFactor: 1,
      retentionMs: Number.isFinite(retentionMs) ? retentionMs : 86400000,
      cleanupPolicy: configs['cleanup.policy'] ?? 'delete',
      configs,
      replicaAssignments: state.partitions.map((_, id) => ({ id, brokers: { replicas: [0] } })),
    };
  }

  async listTopics(): Promise<TopicDetail[]> {
    return [...this.topics.keys()].sort().map((name) => this.describe(this.topics.get(name)!));
  }

  async getTopic(name: string): Promise<TopicDetail | undefined> {
    const state = this.topics.get(name);
    return state ? this.describe(state) : undefined;
  }

  async updateTopic(name: string, update: TopicUpdate): Promise<void> {
    const state = this.topics.get(name);
    if (!state) throw new TopicNotFoundError(`topic '${name}' does not exist`, { topic: name });
    if (update.partitions !== undefined) {
      if (!Number.isInteger(update.partitions) || update.partitions <= state.partitions.length) {
        throw new ValidationError(
          `The new partition count ${update.partitions} must be larger than the current ${state.partitions.length}`,
          'VALIDATION',
          { topic: name },
        );
      }
      this.checkPartitions(update.partitions - state.partitions.length, name);
      this.partitionCount += update.partitions - state.partitions.length;
      while (state.partitions.length < update.partitions) state.partitions.push(newPartition());
    }
    for (const c of update.configs ?? []) {
      if (c.reset_to_default) state.configs.delete(c.name);
      else if (c.value !== undefined) state.configs.set(c.name, c.value);
    }
  }

  async deleteTopic(name: string): Promise<boolean> {
    const state = this.topics.get(name);
    if (!state) return false;
    this.partitionCount -= state.partitions.length;
    this.totalBytes -= state.bytes;
    return this.topics.delete(name);
  }

  /** Synchronous read; `readRecords` wraps it. Throws TopicNotFoundError. */
  readRecordsSync(
    topic: string,
    options: { partition?: number; from?: number; limit?: number } = {},
  ): StoredRecord[] {
    const state = this.topics.get(topic);
    if (!state) throw new TopicNotFoundError(`Topic '${topic}' does not exist`, { topic, kafkaErrorCode: 3 });
    const from = options.from ?? 0;
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
    const out: StoredRecord[] = [];
    if (options.partition !== undefined) {
      const log = state.partitions[options.partition];
      if (!log || log.records.length === 0) return out;
      // Offsets within a partition are contiguous, so the start index is computed, not searched.
      const first = log.records.at(0)!.offset;
      for (let i = Math.max(0, from - first); i < log.records.length && out.length < limit; i++) {
        out.push(log.records.at(i)!);
      }
      return out;
    }
    for (let i = 0; i < state.all.length && out.length < limit; i++) {
      const r = state.all.at(i)!;
      if (r.offset >= from) out.push(r);
    }
    return out;
  }

  async readRecords(
    topic: string,
    options: { partition?: number; from?: number; limit?: number } = {},
  ): Promise<StoredRecord[]> {
    return this.readRecordsSync(topic, options);
  }

  /**
   * Low and high watermark of each partition: the first offset still held (the next offset when
   * the partition is empty) and the next offset to be written.
   */
  partitionOffsets(topic: string): Array<{ partition: number; low: number; high: number }> {
    const state = this.topics.get(topic);
    if (!state) throw new TopicNotFoundError(`Topic '${topic}' does not exist`, { topic, kafkaErrorCode: 3 });
    return state.partitions.map((log, partition) => ({
      partition,
      low: log.records.length > 0 ? log.records.at(0)!.offset : log.nextOffset,
      high: log.nextOffset,
    }));
  }

  /**
   * Deletes the records before `before_offset` in each partition, as Kafka's DeleteRecords moves
   * the log start. Checked first (all or nothing); the topic's arrival-order list is rebuilt once,
   * which is O(records of the topic), bounded by the per-topic limit.
   */
  deleteRecordsSync(topic: string, records: RecordsToDelete[]): void {
    const state = this.topics.get(topic);
    if (!state) throw new TopicNotFoundError(`Topic '${topic}' does not exist`, { topic, kafkaErrorCode: 3 });
    for (const r of records) {
      const log = state.partitions[r.partition];
      if (!log) throw new NotFoundError(`Topic '${topic}' has no partition ${r.partition}`, { topic });
      if (r.before_offset > log.nextOffset) {
        throw new ValidationError(
          `before_offset ${r.before_offset} is past the end of partition ${r.partition} (${log.nextOffset})`,
          'VALIDATION',
          { topic },
        );
      }
    }
    let removed = 0;
    for (const r of records) {
      const log = state.partitions[r.partition]!;
      while (log.records.length > 0 && log.records.at(0)!.offset < r.before_offset) {
        const gone = log.records.shift()!;
        const size = recordBytes(gone);
        state.bytes -= size;
        this.totalBytes -= size;
        removed++;
      }
    }
    if (removed === 0) return;
    const cut = new Map(records.map((r) => [r.partition, r.before_offset]));
    const kept = new Deque<StoredRecord>();
    for (let i = 0; i < state.all.length; i++) {
      const rec = state.all.at(i)!;
      if (rec.offset >= (cut.get(rec.partition) ?? 0)) kept.push(rec);
    }
    state.all = kept;
  }

  /**
   * The admin routes' view: records can be deleted, the cluster is this one process (broker 0);
   * there are no consumers, so there are no consumer groups.
   */
  readonly admin: BackendAdmin = {
    listGroups: async (o) => {
      compileFilter(o?.filter, 'group_filter', 'any');
      return { groups: [], total: 0 };
    },
    describeGroup: async (g) => noGroup(g),
    resetGroupOffsets: async (g) => noGroup(g),
    deleteGroup: async (g) => ({ group_id: g, deleted: false }),
    deleteRecords: async (topic, records) => {
      this.deleteRecordsSync(topic, records);
      return { topic };
    },
    getCluster: async () => ({
      id: MEMORY_CLUSTER_ID,
      controller: this.broker(0),
      brokers: [this.broker(0)],
    }),
    getBroker: async (id) => this.broker(id),
    getBrokerConfigs: async (id, o) => {
      const match = compileFilter(o?.filter, 'config_filter', 'any');
      const configs = Object.entries({
        'broker.id': '0',
        'log.retention.ms': DEFAULT_CONFIGS['retention.ms'] ?? '86400000',
        'max.records.per.topic': String(this.maxRecords),
        'max.bytes.per.topic': String(this.maxBytes),
        'max.topics': String(this.maxTopics),
        'max.partitions': String(this.maxPartitions),
        'max.total.bytes': String(this.maxTotalBytes),
      })
        .filter(([name]) => !match || match(name))
        .map(([name, value]) => ({
          name,
          value,
          is_sensitive: false,
          ...(o?.verbose ? { source: 'STATIC_BROKER_CONFIG', is_read_only: true } : {}),
        }));
      return { ...this.broker(id), configs };
    },
  };

  async close(): Promise<void> {
    this.topics.clear();
    this.partitionCount = 0;
    this.totalBytes = 0;
  }
}
