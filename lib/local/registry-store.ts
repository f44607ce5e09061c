// SPDX-License-Identifier: Apache-2.0
/**
 * Where the local Schema Registry keeps its state (see registry.ts):
 * - {@link MemoryRegistryStore}: nothing persisted (unit tests).
 * - {@link FileRegistryStore}: one JSON file in the state directory, replaced atomically
 *   (temporary file, fsync, rename), for the memory backend.
 * - {@link KafkaRegistryStore}: a compacted Kafka topic (`_esnodes_schemas`), one record per
 *   artifact keyed `artifact:<id>` plus `meta`, tombstones for deletions, read back from the
 *   beginning at start. Compaction keeps the newest record per key, so the topic stays as small
 *   as the registry itself. Several endpoints on one cluster share it (last writer wins).
 */
import fs from 'node:fs/promises';
import path from 'node:path';

import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';

import type { Artifact, RegistryMeta, RegistryStore } from './registry';
import type { KafkaConnectionOptions } from './types';

export const SCHEMAS_TOPIC = '_esnodes_schemas';

export class MemoryRegistryStore implements RegistryStore {
  private readonly artifacts = new Map<string, Artifact>();
  private meta: RegistryMeta | undefined;
  load(): Promise<{ meta?: RegistryMeta; artifacts: Artifact[] }> {
    return Promise.resolve({
      ...(this.meta ? { meta: this.meta } : {}),
      artifacts: [...this.artifacts.values()],
    });
  }
  putArtifact(id: string, artifact: Artifact | undefined): Promise<void> {
    if (artifact === undefined) this.artifacts.delete(id);
    else this.artifacts.set(id, artifact);
    return Promise.resolve();
  }
  putMeta(meta: RegistryMeta): Promise<void> {
    this.meta = meta;
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface FileShape {
  format: 1;
  meta?: RegistryMeta;
  artifacts: Record<string, Artifact>;
}

function isArtifact(a: unknown): a is Artifact {
  const x = a as Artifact | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.id === 'string' &&
    Array.isArray(x.versions) &&
    x.versions.every(
      (v) => typeof v?.schema === 'string' && Number.isInteger(v.version) && Number.isInteger(v.globalId),
    )
  );
}

function isMeta(m: unknown): m is RegistryMeta {
  const x = m as RegistryMeta | null;
  return (
    typeof x === 'object' && x !== null && typeof x.rule === 'string' && Number.isInteger(x.nextGlobalId)
  );
}

export class FileRegistryStore implements RegistryStore {
  readonly file: string;
  private state: FileShape = { format: 1, artifacts: {} };

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'schema-registry.json');
  }

  async load(): Promise<{ meta?: RegistryMeta; artifacts: Artifact[] }> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { artifacts: [] };
      throw err;
    }
    const parsed = JSON.parse(text) as Partial<FileShape>;
    const artifacts: Record<string, Artifact> = {};
    for (const [id, a] of Object.entries(parsed.artifacts ?? {})) if (isArtifact(a)) artifacts[id] = a;
    this.state = { format: 1, artifacts, ...(isMeta(parsed.meta) ? { meta: parsed.meta } : {}) };
    return { ...(this.state.meta ? { meta: this.state.meta } : {}), artifacts: Object.values(artifacts) };
  }

  async putArtifact(id: string, artifact: Artifact | undefined): Promise<void> {
    const artifacts = { ...this.state.artifacts };
    if (artifact === undefined) delete artifacts[id];
    else artifacts[id] = artifact;
    await this.write({ ...this.state, artifacts });
  }

  async putMeta(meta: RegistryMeta): Promise<void> {
    await this.write({ ...this.state, meta });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private async write(next: FileShape): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fh = await fs.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(next));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, this.file);
    this.state = next;
  }
}

const ARTIFACT_PREFIX = 'artifact:';
const META_KEY = 'meta';

export class KafkaRegistryStore implements RegistryStore {
  private readonly kafka: Kafka;
  private producer?: Producer;
  private closed = false;
  /** Ends a load still reading the topic (the endpoint is stopping). */
  private abortLoad?: (err: Error) => void;

  private constructor(kafka: Kafka) {
    this.kafka = kafka;
  }

  /** Connects, creating the compacted topic when it is missing. */
  static async open(
    options: KafkaConnectionOptions,
    log?: (line: string) => void,
  ): Promise<KafkaRegistryStore> {
    const { Kafka: KafkaClient } = await import('kafkajs');
    const { toKafkaConfig } = await import('../kafka-admin');
    const store = new KafkaRegistryStore(
      new KafkaClient(
        toKafkaConfig({ ...options, clientId: options.clientId ?? 'esnodes-schema-registry' }, log, {
          retries: 3,
          initialRetryTime: 100,
          maxRetryTime: 1000,
        }),
      ),
    );
    const admin: Admin = store.kafka.admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      if (!topics.includes(SCHEMAS_TOPIC)) {
        await admin
          .createTopics({
            waitForLeaders: true,
            topics: [
              {
                topic: SCHEMAS_TOPIC,
                numPartitions: 1,
                replicationFactor: options.replicationFactor ?? -1,
                configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
              },
            ],
          })
          .catch((err: unknown) => {
            if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
          });
      }
    } finally {
      await admin.disconnect();
    }
    store.producer = store.kafka.producer({ allowAutoTopicCreation: false, idempotent: false });
    await store.producer.connect();
    return store;
  }

  async load(): Promise<{ meta?: RegistryMeta; artifacts: Artifact[] }> {
    const admin = this.kafka.admin();
    await admin.connect();
    let high: number;
    try {
      const offsets = await admin.fetchTopicOffsets(SCHEMAS_TOPIC);
      high = Number(offsets[0]?.high ?? '0');
      const low = Number(offsets[0]?.low ?? '0');
      if (high <= low) return { artifacts: [] };
    } finally {
      await admin.disconnect();
    }
    const entries = new Map<string, Buffer | null>();
    const groupId = `esnodes-schemas-load-${process.pid}-${Date.now()}`;
    if (this.closed) throw new Error('The schema registry store is closed');
    const consumer: Consumer = this.kafka.consumer({ groupId, allowAutoTopicCreation: false });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [SCHEMAS_TOPIC], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('Timed out reading the schema registry topic')),
          60_000,
        );
        timer.unref();
        this.abortLoad = (err) => {
          clearTimeout(timer);
          reject(err);
        };
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ message }) => {
              const key = message.key?.toString('utf8');
              if (key !== undefined) entries.set(key, message.value);
              if (Number(message.offset) >= high - 1) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch((err: unknown) => {
            clearTimeout(timer);
            reject(err as Error);
          });
      });
    } finally {
      this.abortLoad = undefined;
      await consumer.disconnect().catch(() => undefined);
      const admin2 = this.kafka.admin();
      await admin2
        .connect()
        .then(() => admin2.deleteGroups([groupId]))
        .catch(() => undefined)
        .finally(() => void admin2.disconnect().catch(() => undefined));
    }
    let meta: RegistryMeta | undefined;
    const artifacts: Artifact[] = [];
    for (const [key, value] of entries) {
      if (value === null) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(value.toString('utf8'));
      } catch {
        continue;
      }
      if (key === META_KEY && isMeta(parsed)) meta = parsed;
      else if (key.startsWith(ARTIFACT_PREFIX) && isArtifact(parsed)) artifacts.push(parsed);
    }
    return { ...(meta ? { meta } : {}), artifacts };
  }

  async putArtifact(id: string, artifact: Artifact | undefined): Promise<void> {
    await this.send(`${ARTIFACT_PREFIX}${id}`, artifact === undefined ? null : JSON.stringify(artifact));
  }

  async putMeta(meta: RegistryMeta): Promise<void> {
    await this.send(META_KEY, JSON.stringify(meta));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abortLoad?.(new Error('The schema registry store was closed while loading'));
    await this.producer?.disconnect().catch(() => undefined);
  }

  private async send(key: string, value: string | null): Promise<void> {
    if (!this.producer) throw new Error('The schema registry store is not connected');
    await this.producer.send({ topic: SCHEMAS_TOPIC, acks: -1, messages: [{ key, value }] });
  }
}
