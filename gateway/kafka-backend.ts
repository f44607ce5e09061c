// SPDX-License-Identifier: Apache-2.0
/**
 * The local endpoint's Kafka backend: every HTTP produce becomes a real Kafka record, and the admin
 * routes become Kafka admin requests (through {@link KafkaTopicAdmin}).
 *
 * Throughput: one HTTP request carries one record, so sending one Kafka produce request per HTTP
 * request would cap the endpoint at one broker round trip per record, and kafkajs spends tens of
 * microseconds of CPU per send whatever its size. Instead, records parsed in the same event-loop
 * turn are gathered (`setImmediate`; or for `lingerMs` when set) and sent with one
 * `producer.sendBatch`. While `maxInFlightBatches` sends are outstanding, new records wait and go
 * out together in the next send, so the batch grows with the load (records per batch ≈ records
 * arriving during one broker round trip) without adding latency when idle. `stats` counts sends
 * and records, so records per batch is `records / sends`.
 *
 * Partitions are chosen here, with kafkajs's `DefaultPartitioner` (Java's murmur2 for keyed
 * records, round-robin otherwise), and set explicitly on each message. Kafka answers with one base
 * offset per partition; a record's offset is that base plus its index among the batch's records
 * for the same partition, which is exact because kafkajs keeps the order of explicitly partitioned
 * messages.
 *
 * Delivery: acks=-1 (all in-sync replicas) with the idempotent producer OFF. kafkajs's idempotent
 * mode serialises sends per broker and is known to trip over sequence numbers with concurrent
 * sends; without it a kafkajs-internal retry after a lost acknowledgement may write a record twice.
 * That is the same at-least-once contract the REST producer has, so nothing is promised that
 * Event Streams itself would not promise.
 * Over 500 lines because produce batching (queue, flush, requeue, deadlines) and the admin calls
 * share one producer, one admin connection and their close.
 */
import type {
  ICustomPartitioner,
  Kafka,
  PartitionMetadata,
  Producer,
  RecordMetadata,
  TopicMessages,
} from 'kafkajs';
import {
  ClosedError,
  EventStreamsError,
  isEventStreamsError,
  kafkaKit,
  kafkajs,
  type KafkaTopicAdmin,
  type TopicDetail,
  TopicNotFoundError,
  UnavailableError,
  UnsupportedError,
} from '../lib/server-kit';
import type {
  Backend,
  BackendAdmin,
  KafkaConnectionOptions,
  RecordToStore,
  StoredAt,
  StoredRecord,
  TopicUpdate,
} from './types';

// This module is itself loaded only for a Kafka backend, so the Kafka kit may load here.
const kit = kafkaKit();

/** Batching and timeout knobs; the defaults suit a local endpoint in front of a nearby cluster. */
export interface KafkaBackendTuning {
  /**
   * How long a record may wait for companions before its batch is sent. Default 0: only the
   * records of the current event-loop turn, plus whatever arrives while sends are in flight.
   */
  lingerMs?: number;
  /** Records per Kafka produce request. Default 500. */
  maxBatchRecords?: number;
  /**
   * Key+value+header bytes per produce request. Default 768 KiB, below the broker's default
   * `message.max.bytes` (1 MiB), which limits each partition's record batch.
   */
  maxBatchBytes?: number;
  /**
   * Produce requests outstanding at once. Default 1: records that arrive during a send form the
   * next batch. (Measured with 8 HTTP connections: more concurrent sends split the same records
   * into more, smaller Kafka requests, each with kafkajs's fixed CPU cost, for no more throughput.)
   */
  maxInFlightBatches?: number;
  /** A record that is not acknowledged within this time fails with UnavailableError. Default 15 s. */
  produceTimeoutMs?: number;
  /** How long partition counts are cached. Default 5 s (kafkajs's own metadata uses the same age). */
  metadataMaxAgeMs?: number;
}

interface Pending {
  topic: string;
  partition: number;
  record: RecordToStore;
  bytes: number;
  timestamp: number;
  deadline: number;
  /** Times this record was put back in the queue because its batch could not be placed. */
  requeues: number;
  /** Send alone: its batch was rejected as too large, and only the offender should fail. */
  solo?: boolean;
  resolve: (r: { partition: number; offset: number; timestamp: number }) => void;
  reject: (err: unknown) => void;
}

interface TopicPartitions {
  partitions: PartitionMetadata[];
  fetchedAt: number;
}

type Partitioner = ReturnType<ICustomPartitioner>;

const MAX_REQUEUES = 3;

/** Kafka-backed {@link Backend}. */
export class KafkaBackend implements Backend {
  readonly kind = 'kafka' as const;
  readonly durable = true;
  /** Counters for tests and diagnostics: `sends` Kafka produce calls carried `records` records. */
  readonly stats = { sends: 0, records: 0, producerResets: 0, maxBatch: 0 };
  /** Told the size of each batch sent (the gateway's metrics, when on). */
  onBatch: ((records: number) => void) | undefined;

  private readonly kafka: Kafka;
  private readonly kafkaAdmin: KafkaTopicAdmin;
  /**
   * Consumer groups, records, cluster and brokers: the Kafka admin's own operations, with
   * connection-level failures turned into UnavailableError (503) like the topic routes.
   */
  readonly admin: BackendAdmin = {
    listGroups: (o) => this.wrap(this.kafkaAdmin.listGroups(o)),
    describeGroup: (g) => this.wrap(this.kafkaAdmin.describeGroup(g)),
    resetGroupOffsets: (g, o) => this.wrap(this.kafkaAdmin.resetGroupOffsets(g, o)),
    deleteGroup: (g) => this.wrap(this.kafkaAdmin.deleteGroup(g)),
    deleteRecords: (t, r) => this.wrap(this.kafkaAdmin.deleteRecords(t, r)),
    getCluster: () => this.wrap(this.kafkaAdmin.getCluster()),
    getBroker: (id) => this.wrap(this.kafkaAdmin.getBroker(id)),
    getBrokerConfigs: (id, o) => this.wrap(this.kafkaAdmin.getBrokerConfigs(id, o)),
  };
  private readonly log: (line: string) => void;
  private readonly secrets: string[];
  private readonly tuning: Required<KafkaBackendTuning>;
  private readonly partitioner: Partitioner = kafkajs().Partitioners.DefaultPartitioner();
  private readonly metadata = new Map<string, TopicPartitions>();
  private readonly metadataFetches = new Map<string, Promise<PartitionMetadata[]>>();
  private producer?: Producer;
  private producerReady?: Promise<Producer>;
  private pending: Pending[] = [];
  private pendingBytes = 0;
  private inFlight = 0;
  private timer?: NodeJS.Timeout;
  private immediate?: NodeJS.Immediate;
  private readonly flushNow = (): void => {
    this.immediate = undefined;
    this.flush();
  };
  private closed = false;
  private readonly idle = new Set<() => void>();
  /** Sends running per producer, so that a replaced producer is disconnected only once idle. */
  private readonly sendsOn = new Map<Producer, number>();
  private readonly retiring = new Set<Producer>();

  constructor(
    readonly options: KafkaConnectionOptions,
    log?: (line: string) => void,
    tuning: KafkaBackendTuning = {},
  ) {
    this.log = log ?? (() => {});
    this.secrets = kit.secretsOf(options);
    this.tuning = {
      lingerMs: tuning.lingerMs ?? 0,
      maxBatchRecords: tuning.maxBatchRecords ?? 500,
      maxBatchBytes: tuning.maxBatchBytes ?? 768 * 1024,
      maxInFlightBatches: tuning.maxInFlightBatches ?? 1,
      produceTimeoutMs: tuning.produceTimeoutMs ?? 15_000,
      metadataMaxAgeMs: tuning.metadataMaxAgeMs ?? 5_000,
    };
    // Few, quick kafkajs retries: when Kafka is down the HTTP caller should hear 503 within seconds
    // and retry on its own schedule, rather than hang while kafkajs backs off for a minute.
    this.kafka = new (kafkajs().Kafka)(
      kit.toKafkaConfig(options, log, { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 }),
    );
    this.kafkaAdmin = new kit.KafkaTopicAdmin(
      {
        brokers: options.brokers,
        ...(options.clientId !== undefined ? { clientId: options.clientId } : {}),
        ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
        ...(options.sasl !== undefined ? { sasl: options.sasl } : {}),
        ...(options.replicationFactor !== undefined ? { replicationFactor: options.replicationFactor } : {}),
      },
      log,
    );
  }

  /** Connects the producer; rejects with UnavailableError (or an auth/TLS error) when Kafka cannot be reached. */
  async connect(): Promise<void> {
    await this.getProducer();
  }

  private getProducer(): Promise<Producer> {
    if (this.closed) return Promise.reject(new ClosedError('Kafka backend is closed'));
    if (this.producer) return Promise.resolve(this.producer);
    if (!this.producerReady) {
      const producer = this.kafka.producer({
        allowAutoTopicCreation: false,
        idempotent: false,
        metadataMaxAge: this.tuning.metadataMaxAgeMs,
        retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      this.producerReady = producer.connect().then(
        () => {
          this.producerReady = undefined;
          if (this.closed) {
            void producer.disconnect().catch(() => {});
            throw new ClosedError('Kafka backend is closed');
          }
          this.producer = producer;
          return producer;
        },
        (err: unknown) => {
          this.producerReady = undefined;
          void producer.disconnect().catch(() => {});
          throw this.fail(err);
        },
      );
    }
    return this.producerReady;
  }

  /**
   * Replaces the producer. Needed because kafkajs keeps every topic it ever produced to in its
   * metadata requests: once one of them is deleted, every later metadata refresh fails with
   * UNKNOWN_TOPIC_OR_PARTITION and the producer is stuck. A fresh producer starts with no topics.
   */
  private resetProducer(reason: string): void {
    const old = this.producer;
    this.producer = undefined;
    if (!old) return;
    this.stats.producerResets++;
    this.log(`kafka backend: recreating the Kafka producer (${reason})`);
    // Sends still running on the old producer finish first; disconnecting now would fail them.
    if (!this.sendsOn.get(old)) void old.disconnect().catch(() => {});
    else this.retiring.add(old);
  }

  private async sendOn(producer: Producer, topicMessages: TopicMessages[]): Promise<RecordMetadata[]> {
    this.sendsOn.set(producer, (this.sendsOn.get(producer) ?? 0) + 1);
    try {
      return await producer.sendBatch({ topicMessages, acks: -1 });
    } finally {
      const left = (this.sendsOn.get(producer) ?? 1) - 1;
      if (left > 0) this.sendsOn.set(producer, left);
      else {
        this.sendsOn.delete(producer);
        if (this.retiring.delete(producer)) void producer.disconnect().catch(() => {});
      }
    }
  }

  private fail(err: unknown, topic?: string): EventStreamsError {
    return kit.toUnavailable(
      kit.mapKafkaError(err, { ...(topic !== undefined ? { topic } : {}), secrets: this.secrets }),
    );
  }

  /** Partition metadata of a topic, cached for `metadataMaxAgeMs`, concurrent lookups shared. */
  private async partitionsFor(topic: string): Promise<PartitionMetadata[]> {
    const cached = this.metadata.get(topic);
    if (cached && Date.now() - cached.fetchedAt < this.tuning.metadataMaxAgeMs) return cached.partitions;
    let fetch = this.metadataFetches.get(topic);
    if (!fetch) {
      fetch = this.kafkaAdmin
        .describePartitions(topic)
        .then((parts) => {
          const partitions: PartitionMetadata[] = parts.map((p) => ({
            partitionErrorCode: 0,
            partitionId: p.partitionId,
            leader: p.leader,
            replicas: p.replicas,
            isr: [],
          }));
          this.metadata.set(topic, { partitions, fetchedAt: Date.now() });
          return partitions;
        })
        .catch((err: unknown) => {
          if (isEventStreamsError(err) && err.code === 'TOPIC_NOT_FOUND') this.metadata.delete(topic);
          throw this.fail(err, topic);
        })
        .finally(() => this.metadataFetches.delete(topic));
      this.metadataFetches.set(topic, fetch);
    }
    return fetch;
  }

  /** Produces; a missing topic is created (when asked) on Kafka's TOPIC_NOT_FOUND, then tried once more. */
  store(
    topic: string,
    record: RecordToStore,
    autoCreatePartitions: number | undefined,
    done: (err: unknown, stored?: StoredAt) => void,
  ): void {
    const attempt = (retry: boolean): void => {
      this.produce(topic, record).then(
        (r) => done(null, r),
        (err: unknown) => {
          if (
            retry &&
            autoCreatePartitions !== undefined &&
            isEventStreamsError(err) &&
            err.code === 'TOPIC_NOT_FOUND'
          ) {
            this.createTopic(topic, autoCreatePartitions, [])
              .catch((e: unknown) => {
                if (!isEventStreamsError(e) || e.code !== 'TOPIC_EXISTS') throw e;
              })
              .then(
                () => attempt(false),
                (e: unknown) => done(e),
              );
            return;
          }
          done(err);
        },
      );
    };
    attempt(true);
  }

  /** Kafka's records are read with a Kafka consumer (kcat, the consumer node), not through here. */
  async readRecords(): Promise<StoredRecord[]> {
    throw new UnsupportedError('Record inspection needs the memory backend; read the Kafka topic instead');
  }

  /** Kafka's brokers advertise their own addresses; this endpoint's is not one of them. */
  advertise(): void {}

  async produce(topic: string, record: RecordToStore): Promise<StoredAt> {
    if (this.closed) throw new ClosedError('Kafka backend is closed');
    const partitions = await this.partitionsFor(topic);
    const partition = this.partitioner({
      topic,
      partitionMetadata: partitions,
      message: { key: record.key, value: record.value },
    });
    let bytes = record.value.length + (record.key?.length ?? 0);
    for (const [name, value] of record.headers) bytes += name.length + value.length;
    const now = Date.now();
    return new Promise((resolve, reject) => {
      this.enqueue({
        topic,
        partition,
        record,
        bytes,
        timestamp: now,
        deadline: now + this.tuning.produceTimeoutMs,
        requeues: 0,
        resolve,
        reject,
      });
    });
  }

  private enqueue(item: Pending): void {
    if (this.closed) {
      item.reject(new ClosedError('Kafka backend is closed'));
      return;
    }
    this.pending.push(item);
    this.pendingBytes += item.bytes;
    if (
      this.pending.length >= this.tuning.maxBatchRecords ||
      this.pendingBytes >= this.tuning.maxBatchBytes
    ) {
      this.flush();
    } else if (this.inFlight >= this.tuning.maxInFlightBatches) {
      // A send is out: this record joins the next batch, sent when one completes.
    } else if (this.tuning.lingerMs <= 0) {
      this.immediate ??= setImmediate(this.flushNow);
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.tuning.lingerMs);
    }
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.immediate) {
      clearImmediate(this.immediate);
      this.immediate = undefined;
    }
    while (this.pending.length > 0 && this.inFlight < this.tuning.maxInFlightBatches) {
      const now = Date.now();
      const batch: Pending[] = [];
      let bytes = 0;
      let i = 0;
      for (; i < this.pending.length && batch.length < this.tuning.maxBatchRecords; i++) {
        const item = this.pending[i]!;
        if (batch.length > 0 && (item.solo || bytes + item.bytes > this.tuning.maxBatchBytes)) break;
        bytes += item.bytes;
        if (item.deadline <= now) {
          item.reject(new UnavailableError('Kafka did not accept the record in time', { topic: item.topic }));
        } else {
          batch.push(item);
          if (item.solo) {
            i++;
            break;
          }
        }
      }
      this.pending = this.pending.slice(i);
      this.pendingBytes -= bytes;
      if (batch.length === 0) continue;
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        if (this.pending.length > 0) this.flush();
        else if (this.inFlight === 0) for (const done of this.idle) done();
      });
    }
    if (this.pending.length === 0) this.pendingBytes = 0;
  }

  private async send(batch: Pending[]): Promise<void> {
    // topic → partition → records, in arrival order.
    const byTopic = new Map<string, Map<number, Pending[]>>();
    for (const item of batch) {
      let parts = byTopic.get(item.topic);
      if (!parts) byTopic.set(item.topic, (parts = new Map()));
      const list = parts.get(item.partition);
      if (list) list.push(item);
      else parts.set(item.partition, [item]);
    }
    const topicMessages = [...byTopic].map(([topic, parts]) => ({
      topic,
      messages: [...parts].flatMap(([partition, items]) =>
        items.map((it) => {
          if (it.record.headers.length === 0) {
            return { key: it.record.key, value: it.record.value, partition, timestamp: String(it.timestamp) };
          }
          const headers: Record<string, Buffer | Buffer[]> = Object.create(null) as Record<
            string,
            Buffer | Buffer[]
          >;
          for (const [name, value] of it.record.headers) {
            const prev = headers[name];
            // kafkajs takes repeated header names as an array; they are written consecutively.
            headers[name] =
              prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
          }
          return {
            key: it.record.key,
            value: it.record.value,
            headers,
            partition,
            timestamp: String(it.timestamp),
          };
        }),
      ),
    }));
    const earliestDeadline = Math.min(...batch.map((b) => b.deadline));

    let result: RecordMetadata[];
    let timer: NodeJS.Timeout | undefined;
    let producer: Producer;
    try {
      producer = await this.getProducer();
      this.stats.sends++;
      this.stats.records += batch.length;
      if (batch.length > this.stats.maxBatch) this.stats.maxBatch = batch.length;
      this.onBatch?.(batch.length);
      result = await Promise.race([
        this.sendOn(producer, topicMessages),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new UnavailableError('Kafka did not acknowledge the records in time')),
            Math.max(1, earliestDeadline - Date.now()),
          );
        }),
      ]);
    } catch (err) {
      await this.handleSendFailure(batch, byTopic, err);
      return;
    } finally {
      if (timer) clearTimeout(timer);
    }

    const answered = new Set<Pending>();
    for (const r of result) {
      const items = byTopic.get(r.topicName)?.get(r.partition);
      if (!items) continue;
      const base = BigInt(r.baseOffset ?? '-1');
      const appendTime =
        r.logAppendTime !== undefined && r.logAppendTime !== '-1' ? Number(r.logAppendTime) : undefined;
      items.forEach((it, index) => {
        answered.add(it);
        it.resolve({
          partition: r.partition,
          offset: Number(base + BigInt(index)),
          timestamp: appendTime ?? it.timestamp,
        });
      });
    }
    // kafkajs silently drops messages for partitions missing from its (older) metadata, e.g. just
    // after the partition count grew. Those were never sent, so sending them again is safe.
    // A fresh producer loads fresh metadata (kafkajs offers no way to refresh it on demand).
    const unanswered = batch.filter((b) => !answered.has(b));
    if (unanswered.length > 0) {
      if (this.producer === producer) this.resetProducer('its metadata lacks a new partition');
      this.requeue(unanswered, 'partition not yet in the producer metadata');
    }
  }

  private requeue(items: Pending[], reason: string): void {
    for (const it of items) {
      if (it.requeues >= MAX_REQUEUES || Date.now() >= it.deadline) {
        it.reject(new UnavailableError(`Kafka could not take the record: ${reason}`, { topic: it.topic }));
        continue;
      }
      it.requeues++;
      setTimeout(() => this.enqueue(it), 100 * it.requeues).unref();
    }
  }

  private async handleSendFailure(
    batch: Pending[],
    byTopic: Map<string, Map<number, Pending[]>>,
    err: unknown,
  ): Promise<void> {
    const topics = [...byTopic.keys()];
    const mapped = this.fail(err, topics.length === 1 ? topics[0] : undefined);
    if (mapped.code === 'TOPIC_NOT_FOUND') {
      // One of the producer's known topics is gone (maybe not one in this batch). Start afresh and
      // tell apart the records whose topic really is missing from those that can be sent again.
      this.resetProducer('a topic it produced to no longer exists');
      for (const topic of topics) this.metadata.delete(topic);
      for (const [topic, parts] of byTopic) {
        const items = [...parts.values()].flat();
        let exists = true;
        try {
          await this.partitionsFor(topic);
        } catch (e) {
          if (isEventStreamsError(e) && e.code === 'TOPIC_NOT_FOUND') exists = false;
        }
        if (exists) this.requeue(items, mapped.message);
        else {
          for (const it of items) {
            it.reject(
              new TopicNotFoundError(`Topic '${topic}' does not exist`, { topic, kafkaErrorCode: 3 }),
            );
          }
        }
      }
      return;
    }
    if (mapped.code === 'PAYLOAD_TOO_LARGE' && batch.length > 1) {
      // Kafka rejects a partition's whole record batch for one oversized record (topic
      // max.message.bytes); retry each record alone so that only the offender fails.
      for (const it of batch) it.solo = true;
      this.requeue(batch, mapped.message);
      return;
    }
    if (mapped.code === 'UNAVAILABLE' && !this.closed) {
      // kafkajs reconnects by itself on the next send; a partition count that changed is picked up
      // through fresh metadata.
      for (const topic of topics) this.metadata.delete(topic);
    }
    for (const it of batch) it.reject(mapped);
  }

  async createTopic(
    name: string,
    partitions: number,
    configs: Array<{ name: string; value: string }>,
  ): Promise<void> {
    await this.wrap(this.kafkaAdmin.createTopic({ name, partitions, configs }));
  }

  async listTopics(): Promise<TopicDetail[]> {
    return (await this.wrap(this.kafkaAdmin.listTopics())).topics;
  }

  async getTopic(name: string): Promise<TopicDetail | undefined> {
    try {
      return await this.wrap(this.kafkaAdmin.getTopic(name));
    } catch (err) {
      if (isEventStreamsError(err) && err.code === 'TOPIC_NOT_FOUND') return undefined;
      throw err;
    }
  }

  async updateTopic(name: string, update: TopicUpdate): Promise<void> {
    await this.wrap(
      this.kafkaAdmin.updateTopic(name, {
        ...(update.partitions !== undefined ? { partitions: update.partitions } : {}),
        ...(update.configs !== undefined ? { configs: update.configs } : {}),
      }),
    );
    this.metadata.delete(name);
    if (update.partitions !== undefined) this.resetProducer(`topic '${name}' has new partitions`);
  }

  async deleteTopic(name: string): Promise<boolean> {
    const { deleted } = await this.wrap(this.kafkaAdmin.deleteTopic(name));
    this.metadata.delete(name);
    if (deleted) this.resetProducer(`topic '${name}' was deleted`);
    return deleted;
  }

  private async wrap<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** Waits (up to 5 s) for queued records to be answered, then disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.pending.length > 0 || this.inFlight > 0) {
      this.flush();
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.idle.delete(done);
          resolve();
        };
        const timer = setTimeout(done, 5000);
        this.idle.add(done);
      });
    }
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    for (const it of this.pending)
      it.reject(new ClosedError('Kafka backend closed before the record was sent'));
    this.pending = [];
    const producer = this.producer ?? (await this.producerReady?.catch(() => undefined));
    this.producer = undefined;
    await Promise.all([producer?.disconnect().catch(() => {}), this.kafkaAdmin.close()]);
  }
}
