// SPDX-License-Identifier: Apache-2.0
/**
 * In-memory storage for the local endpoint: topics with partitions, per-partition offsets and a
 * bounded record log per topic (the oldest records are evicted first), so that a long benchmark
 * run cannot grow the heap without limit.
 */
import { TopicExistsError, TopicNotFoundError, ValidationError } from '../errors';
import type { TopicDetail } from '../types';
import { partitionForKey } from './partitioner';
import type { Backend, RecordToStore, StoredRecord, TopicUpdate } from './types';

/** Defaults for `memory` options. */
export const DEFAULT_MAX_RECORDS_PER_TOPIC = 100_000;
export const DEFAULT_MAX_BYTES_PER_TOPIC = 64 * 1024 * 1024;

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

/** The default backend: everything lives in this process and is lost on stop. */
export class MemoryBackend implements Backend {
  readonly kind = 'memory' as const;
  private readonly topics = new Map<string, TopicState>();
  private readonly maxRecords: number;
  private readonly maxBytes: number;

  constructor(options: { maxRecordsPerTopic?: number; maxBytesPerTopic?: number } = {}) {
    this.maxRecords = Math.max(1, options.maxRecordsPerTopic ?? DEFAULT_MAX_RECORDS_PER_TOPIC);
    this.maxBytes = Math.max(1, options.maxBytesPerTopic ?? DEFAULT_MAX_BYTES_PER_TOPIC);
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
    log.records.push(stored);
    state.all.push(stored);
    state.bytes += recordBytes(stored);
    while (state.all.length > this.maxRecords || (state.bytes > this.maxBytes && state.all.length > 1)) {
      const oldest = state.all.shift()!;
      state.partitions[oldest.partition]!.records.shift();
      state.bytes -= recordBytes(oldest);
    }
    return stored;
  }

  async produce(
    topic: string,
    record: RecordToStore,
  ): Promise<{ partition: number; offset: number; timestamp: number }> {
    return this.produceSync(topic, record);
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
      while (state.partitions.length < update.partitions) state.partitions.push(newPartition());
    }
    for (const c of update.configs ?? []) {
      if (c.reset_to_default) state.configs.delete(c.name);
      else if (c.value !== undefined) state.configs.set(c.name, c.value);
    }
  }

  async deleteTopic(name: string): Promise<boolean> {
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

  async close(): Promise<void> {
    this.topics.clear();
  }
}
