// SPDX-License-Identifier: Apache-2.0
/**
 * Topic administration over the Kafka protocol (kafkajs), for clusters that have no Admin REST API
 * (on-prem Event Streams 10.x/11.x, plain Kafka) and for the local endpoint's Kafka backend.
 *
 * The shapes are those of the Admin REST API ({@link TopicDetail} etc.) so that the topic-admin node
 * does not care which transport is behind it. Differences that cannot be hidden are documented on
 * the methods (notably the non-incremental config update).
 * Over 500 lines because it is the topic admin and the ClusterAdmin contract over kafkajs behind
 * one lazily loaded module; groups, records and brokers are already in kafka-cluster.ts.
 */
import type * as tls from 'node:tls';
import type { Admin, DescribeConfigResponse, Kafka, KafkaConfig, LogEntry, SASLOptions } from 'kafkajs';
import {
  ClosedError,
  EventStreamsError,
  TopicExistsError,
  TopicNotFoundError,
  UnavailableError,
  ValidationError,
  redact,
} from './errors';
import { fromKafka } from './error-model';
import { kafkajs } from './kafkajs';
import { compileFilter } from './glob';
import { iamTokenProvider } from './kafka-auth';
import { checkBrokerId, checkGroupId, checkRecordsToDelete, checkResetOptions } from './cluster-admin';
import * as cluster from './kafka-cluster';
import type {
  BrokerDetail,
  BrokerSummary,
  ClusterAdmin,
  ClusterInfo,
  EntityQuota,
  GroupDetail,
  InstanceStatus,
  ListGroupsOptions,
  ListGroupsResult,
  Quota,
  RecordsToDelete,
  ResetOffsetsOptions,
  ResetOffsetsResult,
  CreateTopicOptions,
  DeleteTopicResult,
  EnsureTopicResult,
  KafkaAdminOptions,
  KafkaSaslConfig,
  ListTopicsOptions,
  ListTopicsResult,
  TlsOptions,
  TopicAdmin,
  TopicConfigEntry,
  TopicDetail,
  UpdateTopicOptions,
} from './types';

// ---------------------------------------------------------------------------------------------
// Shared with gateway/kafka-backend.ts

export { createTopicsReady } from './kafka-cluster';

/** Connection settings common to {@link KafkaAdminOptions} and the local endpoint's Kafka options. */
export interface KafkaClientSettings {
  brokers: string[];
  clientId?: string;
  ssl?: boolean | TlsOptions;
  sasl?: KafkaSaslConfig;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** Defaults kept modest so that an unreachable cluster fails a call in seconds, not minutes. */
export const KAFKA_DEFAULTS = {
  connectionTimeoutMs: 3000,
  requestTimeoutMs: 10_000,
  retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
} as const;

function toTlsOptions(ssl: boolean | TlsOptions | undefined): boolean | tls.ConnectionOptions | undefined {
  if (ssl === undefined || typeof ssl === 'boolean') return ssl;
  const out: tls.ConnectionOptions = {};
  if (ssl.ca !== undefined) out.ca = ssl.ca;
  if (ssl.cert !== undefined) out.cert = ssl.cert;
  if (ssl.key !== undefined) out.key = ssl.key;
  if (ssl.pfx !== undefined) out.pfx = ssl.pfx;
  if (ssl.passphrase !== undefined) out.passphrase = ssl.passphrase;
  if (ssl.servername !== undefined) out.servername = ssl.servername;
  // Verification stays on unless explicitly disabled.
  out.rejectUnauthorized = ssl.rejectUnauthorized !== false;
  return out;
}

/**
 * Builds a kafkajs configuration. kafkajs's own logging is routed to `log` at ERROR level only
 * (its WARN/INFO lines are noisy during normal reconnects); secrets are redacted from every line.
 */
export function toKafkaConfig(
  settings: KafkaClientSettings,
  log?: (line: string) => void,
  retry: KafkaConfig['retry'] = { ...KAFKA_DEFAULTS.retry },
): KafkaConfig {
  const secrets = secretsOf(settings);
  const config: KafkaConfig = {
    clientId: settings.clientId ?? 'esnodes-event-streams',
    brokers: settings.brokers,
    connectionTimeout: settings.connectionTimeoutMs ?? KAFKA_DEFAULTS.connectionTimeoutMs,
    requestTimeout: settings.requestTimeoutMs ?? KAFKA_DEFAULTS.requestTimeoutMs,
    retry,
    logLevel: log ? kafkajs().logLevel.ERROR : kafkajs().logLevel.NOTHING,
    logCreator: () => (entry: LogEntry) => {
      if (!log) return;
      const { message, error } = entry.log as { message?: string; error?: string };
      log(redact(`kafkajs ${entry.namespace}: ${message ?? ''}${error ? ` (${error})` : ''}`, secrets));
    },
  };
  const ssl = toTlsOptions(settings.ssl);
  if (ssl !== undefined) config.ssl = ssl;
  if (settings.sasl?.mechanism === 'oauthbearer') {
    config.sasl = { mechanism: 'oauthbearer', oauthBearerProvider: iamTokenProvider(settings.sasl) };
  } else if (settings.sasl) {
    config.sasl = {
      mechanism: settings.sasl.mechanism,
      username: settings.sasl.username,
      password: settings.sasl.password,
    } as SASLOptions;
  }
  return config;
}

/** Strings that must never appear in errors or logs built from this configuration. */
export function secretsOf(settings: KafkaClientSettings): string[] {
  const out: string[] = [];
  if (settings.sasl?.mechanism === 'oauthbearer') out.push(settings.sasl.apiKey);
  else if (settings.sasl?.password) out.push(settings.sasl.password);
  if (typeof settings.ssl === 'object' && settings.ssl.passphrase) out.push(settings.ssl.passphrase);
  return out;
}

/** Kafka's rule for topic names (1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`). */
export function checkTopicName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ValidationError('Topic name must be a non-empty string', 'INVALID_TOPIC');
  }
  if (name.length > 249) {
    throw new ValidationError('Topic name is longer than 249 characters', 'INVALID_TOPIC', { topic: name });
  }
  if (name === '.' || name === '..' || !/^[a-zA-Z0-9._-]+$/.test(name)) {
    throw new ValidationError(
      `Topic name '${name}' is invalid: use only letters, digits, '.', '_' and '-'`,
      'INVALID_TOPIC',
      { topic: name },
    );
  }
  return name;
}

function checkPartitions(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 100_000) {
    throw new ValidationError(`${what} must be a positive integer`, 'VALIDATION');
  }
  return value;
}

/** Normalised config update: a value to set, or `undefined` to reset to the default. */
type ConfigChange = { name: string; value: string | undefined };

function normalizeConfigs(
  configs: TopicConfigEntry[] | Record<string, string | number> | undefined,
  allowReset: boolean,
): ConfigChange[] {
  if (configs === undefined) return [];
  const out: ConfigChange[] = [];
  const push = (name: unknown, value: unknown, reset: unknown): void => {
    if (typeof name !== 'string' || !/^[a-z0-9._-]+$/i.test(name)) {
      throw new ValidationError(`Invalid config name ${JSON.stringify(name)}`, 'INVALID_CONFIG');
    }
    if (reset === true) {
      if (!allowReset)
        throw new ValidationError(`reset_to_default is only valid on update`, 'INVALID_CONFIG');
      out.push({ name, value: undefined });
      return;
    }
    if (typeof value === 'number' && Number.isFinite(value)) value = String(value);
    if (typeof value !== 'string') {
      throw new ValidationError(`Config '${name}' needs a string or number value`, 'INVALID_CONFIG');
    }
    out.push({ name, value });
  };
  if (Array.isArray(configs)) {
    for (const entry of configs as unknown[]) {
      if (typeof entry !== 'object' || entry === null) {
        throw new ValidationError('Each config must be an object {name, value}', 'INVALID_CONFIG');
      }
      const e = entry as { name?: unknown; value?: unknown; reset_to_default?: unknown };
      push(e.name, e.value, e.reset_to_default);
    }
  } else if (typeof configs === 'object' && configs !== null) {
    for (const [name, value] of Object.entries(configs)) push(name, value, false);
  } else {
    throw new ValidationError('configs must be an array of {name, value} or an object', 'INVALID_CONFIG');
  }
  return out;
}

/** Maps a kafkajs failure to this package's errors; the decision lives in lib/error-model.ts. */
export function mapKafkaError(
  err: unknown,
  context: { topic?: string; secrets?: string[] } = {},
): EventStreamsError {
  return fromKafka(err, context);
}

/**
 * Turns "the cluster can't serve this now" (connection refused, timeouts, leader elections,
 * exhausted retries) into {@link UnavailableError}, which the local endpoint answers with 503.
 */
export function toUnavailable(err: EventStreamsError): EventStreamsError {
  if (err instanceof UnavailableError) return err;
  if (
    err.code === 'CONNECTION_FAILED' ||
    err.code === 'TIMEOUT' ||
    (err.code === 'KAFKA_ERROR' && err.retriable)
  ) {
    return new UnavailableError(`Kafka is unavailable: ${err.message}`, {
      ...(err.topic !== undefined ? { topic: err.topic } : {}),
      ...(err.kafkaErrorCode !== undefined ? { kafkaErrorCode: err.kafkaErrorCode } : {}),
      cause: err,
    });
  }
  return err;
}

/** Configs always reported in {@link TopicDetail.configs}, as Admin REST does; others only when set. */
const REPORTED_CONFIGS = new Set([
  'cleanup.policy',
  'min.insync.replicas',
  'retention.bytes',
  'retention.ms',
  'segment.bytes',
  'segment.index.bytes',
  'segment.ms',
]);

// kafkajs's ConfigSource.DYNAMIC_TOPIC_CONFIG: a value set on the topic itself.
const DYNAMIC_TOPIC_CONFIG = 1;

/** A topic filter as Admin REST has it: a glob (`*`, `?`) or a `/regex/` in linear time (lib/glob.ts). */
export function compileTopicFilter(filter: string | undefined): ((name: string) => boolean) | undefined {
  if (filter !== undefined && typeof filter !== 'string')
    throw new ValidationError('filter must be a string');
  return compileFilter(filter, 'topic_filter');
}

/**
 * Waits (up to 3 s) until `done` reports true. KRaft brokers learn about topic changes from the
 * metadata log a moment after the controller accepted them, so a read straight after a write can
 * still see the old state. Gives up silently: the write itself succeeded.
 */
async function settle(done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------------------------

/** Partition layout of one topic, as the producer path needs it. */
export interface PartitionInfo {
  partitionId: number;
  leader: number;
  replicas: number[];
}

/**
 * {@link TopicAdmin} over the Kafka protocol.
 *
 * Connects lazily on the first call; after a connection failure the kafkajs admin is dropped and
 * the next call connects afresh. Every input is validated before anything goes on the wire.
 * Internal topics (names starting with `__`) are left out of listings.
 */
export class KafkaTopicAdmin implements TopicAdmin, ClusterAdmin {
  private readonly kafka: Kafka;
  private readonly secrets: string[];
  private readonly replicationFactor: number;
  private readonly timeoutMs: number;
  private admin?: Admin;
  private connecting?: Promise<Admin>;
  private closed = false;

  constructor(options: KafkaAdminOptions, log?: (line: string) => void) {
    if (!options || !Array.isArray(options.brokers) || options.brokers.length === 0) {
      throw new ValidationError('brokers must be a non-empty array of host:port');
    }
    for (const b of options.brokers) {
      if (typeof b !== 'string' || !/^[^\s:]+:\d+$|^\[[^\]]+\]:\d+$/.test(b)) {
        throw new ValidationError(`Invalid broker address ${JSON.stringify(b)}; expected host:port`);
      }
    }
    if (options.replicationFactor !== undefined) {
      const rf = options.replicationFactor;
      if (!Number.isInteger(rf) || (rf < 1 && rf !== -1)) {
        throw new ValidationError('replicationFactor must be a positive integer or -1');
      }
    }
    this.secrets = secretsOf(options);
    this.kafka = new (kafkajs().Kafka)(toKafkaConfig(options, log));
    this.replicationFactor = options.replicationFactor ?? -1;
    this.timeoutMs = options.requestTimeoutMs ?? KAFKA_DEFAULTS.requestTimeoutMs;
  }

  private async getAdmin(): Promise<Admin> {
    if (this.closed) throw new ClosedError('Kafka topic admin is closed');
    if (this.admin) return this.admin;
    if (!this.connecting) {
      const admin = this.kafka.admin();
      this.connecting = admin.connect().then(
        () => {
          this.connecting = undefined;
          if (this.closed) {
            void admin.disconnect().catch(() => {});
            throw new ClosedError('Kafka topic admin is closed');
          }
          this.admin = admin;
          return admin;
        },
        (err: unknown) => {
          this.connecting = undefined;
          void admin.disconnect().catch(() => {});
          throw err;
        },
      );
    }
    return this.connecting;
  }

  /** Runs `fn` with a connected admin, mapping failures; a connection-level failure drops the admin. */
  private async call<T>(topic: string | undefined, fn: (admin: Admin) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.getAdmin());
    } catch (err) {
      const mapped = mapKafkaError(err, { ...(topic !== undefined ? { topic } : {}), secrets: this.secrets });
      if (
        mapped.code === 'CONNECTION_FAILED' ||
        mapped.code === 'TIMEOUT' ||
        mapped.code === 'TLS_FAILED' ||
        mapped.code === 'AUTHENTICATION_FAILED'
      ) {
        const stale = this.admin;
        this.admin = undefined;
        if (stale) void stale.disconnect().catch(() => {});
      }
      throw mapped;
    }
  }

  /** Names of the non-internal topics, sorted. */
  private async topicNames(admin: Admin): Promise<string[]> {
    return (await admin.listTopics()).filter((n) => !n.startsWith('__')).sort();
  }

  private async describe(admin: Admin, names: string[]): Promise<TopicDetail[]> {
    if (names.length === 0) return [];
    const [metadata, configs] = await Promise.all([
      admin.fetchTopicMetadata({ topics: names }),
      admin.describeConfigs({
        resources: names.map((name) => ({ type: kafkajs().ConfigResourceTypes.TOPIC, name })),
        includeSynonyms: false,
      }),
    ]);
    const configsByTopic = new Map<string, DescribeConfigResponse['resources'][number]>();
    for (const r of configs.resources) configsByTopic.set(r.resourceName, r);
    const byName = new Map(metadata.topics.map((t) => [t.name, t]));
    return names.map((name) => {
      const t = byName.get(name);
      if (!t) throw new TopicNotFoundError(`Topic '${name}' does not exist`, { topic: name });
      const parts = [...t.partitions].sort((a, b) => a.partitionId - b.partitionId);
      const map: Record<string, string> = {};
      for (const c of configsByTopic.get(name)?.configEntries ?? []) {
        if (c.configValue === null || c.isSensitive) continue;
        if (REPORTED_CONFIGS.has(c.configName) || !c.isDefault) map[c.configName] = c.configValue;
      }
      const detail: TopicDetail = { name, partitions: parts.length };
      if (parts[0]) detail.replicationFactor = parts[0].replicas.length;
      const retention = Number(map['retention.ms']);
      if (map['retention.ms'] !== undefined && Number.isFinite(retention)) detail.retentionMs = retention;
      if (map['cleanup.policy'] !== undefined) detail.cleanupPolicy = map['cleanup.policy'];
      detail.configs = map;
      detail.replicaAssignments = parts.map((p) => ({
        id: p.partitionId,
        brokers: { replicas: [...p.replicas] },
      }));
      return detail;
    });
  }

  /**
   * Lists topics. The filter and paging are applied here, after fetching all names (Kafka has no
   * server-side paging); `total` counts the topics that match the filter.
   */
  async listTopics(options: ListTopicsOptions = {}): Promise<ListTopicsResult> {
    const match = compileTopicFilter(options.filter);
    if (options.page !== undefined) checkPartitions(options.page, 'page');
    if (options.perPage !== undefined) checkPartitions(options.perPage, 'perPage');
    return this.call(undefined, async (admin) => {
      const names = (await this.topicNames(admin)).filter((n) => !match || match(n));
      let selected = names;
      if (options.page !== undefined) {
        const perPage = options.perPage ?? 100;
        selected = names.slice((options.page - 1) * perPage, options.page * perPage);
      }
      let topics: TopicDetail[];
      try {
        topics = await this.describe(admin, selected);
      } catch (err) {
        // A topic deleted between the listing and the describe: list again once.
        if (mapKafkaError(err).code !== 'TOPIC_NOT_FOUND') throw err;
        const now = new Set(await this.topicNames(admin));
        topics = await this.describe(
          admin,
          selected.filter((n) => now.has(n)),
        );
      }
      return { topics, total: names.length };
    });
  }

  /** One topic's detail; {@link TopicNotFoundError} when it does not exist. */
  async getTopic(name: string): Promise<TopicDetail> {
    checkTopicName(name);
    return this.call(name, async (admin) => (await this.describe(admin, [name]))[0]!);
  }

  /** The partitions of a topic with their leaders (leader -1 while none is elected). */
  async describePartitions(name: string): Promise<PartitionInfo[]> {
    checkTopicName(name);
    return this.call(name, async (admin) => {
      const md = await admin.fetchTopicMetadata({ topics: [name] });
      const t = md.topics.find((x) => x.name === name);
      if (!t) throw new TopicNotFoundError(`Topic '${name}' does not exist`, { topic: name });
      return t.partitions
        .map((p) => ({ partitionId: p.partitionId, leader: p.leader, replicas: [...p.replicas] }))
        .sort((a, b) => a.partitionId - b.partitionId);
    });
  }

  private async create(options: CreateTopicOptions): Promise<boolean> {
    if (typeof options !== 'object' || options === null)
      throw new ValidationError('options must be an object');
    const name = checkTopicName(options.name);
    const partitions =
      options.partitions === undefined ? 1 : checkPartitions(options.partitions, 'partitions');
    const configEntries = normalizeConfigs(options.configs, false).map((c) => ({
      name: c.name,
      value: c.value!,
    }));
    return this.call(name, (admin) =>
      cluster.createTopicsReady(admin, {
        topics: [
          {
            topic: name,
            numPartitions: partitions,
            replicationFactor: this.replicationFactor,
            configEntries,
          },
        ],
        timeout: this.timeoutMs,
      }),
    );
  }

  /**
   * Creates a topic (default 1 partition, replication factor from the options or the broker's
   * default). {@link TopicExistsError} when it exists.
   */
  async createTopic(options: CreateTopicOptions): Promise<{ topic: string }> {
    if (!(await this.create(options))) {
      throw new TopicExistsError(`Topic '${options.name}' already exists`, {
        topic: options.name,
        kafkaErrorCode: 36,
      });
    }
    return { topic: options.name };
  }

  /** Creates the topic unless it exists (Kafka error 36 means `created: false`); an existing topic is not changed. */
  async ensureTopic(options: CreateTopicOptions): Promise<EnsureTopicResult> {
    const created = await this.create(options);
    return { topic: options.name, created };
  }

  /**
   * Increases the partition count and/or changes configs. A partition count that is not larger than
   * the current one is a {@link ValidationError}.
   *
   * Configs: kafkajs only offers the non-incremental AlterConfigs, which replaces the topic's whole
   * set of dynamic configs. So the current dynamic configs are read first and merged with the
   * change (`reset_to_default` removes an entry). A concurrent update by someone else between the
   * read and the write can be lost, and sensitive topic configs (none exist by default) cannot be
   * carried over because brokers never return their values.
   */
  async updateTopic(name: string, options: UpdateTopicOptions): Promise<{ topic: string }> {
    checkTopicName(name);
    if (typeof options !== 'object' || options === null)
      throw new ValidationError('options must be an object');
    const partitions =
      options.partitions === undefined ? undefined : checkPartitions(options.partitions, 'partitions');
    const changes = normalizeConfigs(options.configs, true);
    if (partitions === undefined && changes.length === 0) {
      throw new ValidationError('Nothing to update: give partitions and/or configs');
    }
    return this.call(name, async (admin) => {
      const md = await admin.fetchTopicMetadata({ topics: [name] });
      const current = md.topics.find((t) => t.name === name);
      if (!current) throw new TopicNotFoundError(`Topic '${name}' does not exist`, { topic: name });
      if (partitions !== undefined && partitions <= current.partitions.length) {
        throw new ValidationError(
          `Partitions can only be increased: '${name}' has ${current.partitions.length}, asked for ${partitions}`,
          'VALIDATION',
          { topic: name },
        );
      }
      if (changes.length > 0) {
        const described = await admin.describeConfigs({
          resources: [{ type: kafkajs().ConfigResourceTypes.TOPIC, name }],
          includeSynonyms: false,
        });
        const merged = new Map<string, string>();
        for (const c of described.resources[0]?.configEntries ?? []) {
          if (c.configSource === DYNAMIC_TOPIC_CONFIG && c.configValue !== null)
            merged.set(c.configName, c.configValue);
        }
        for (const change of changes) {
          if (change.value === undefined) merged.delete(change.name);
          else merged.set(change.name, change.value);
        }
        await admin.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: kafkajs().ConfigResourceTypes.TOPIC,
              name,
              configEntries: [...merged].map(([n, v]) => ({ name: n, value: v })),
            },
          ],
        });
        // Read-your-writes: a second update right after this one must merge with this one's
        // result, not with a stale DescribeConfigs answer.
        await settle(async () => {
          const now = await admin.describeConfigs({
            resources: [{ type: kafkajs().ConfigResourceTypes.TOPIC, name }],
            includeSynonyms: false,
          });
          const entries = new Map((now.resources[0]?.configEntries ?? []).map((c) => [c.configName, c]));
          return changes.every((change) => {
            const e = entries.get(change.name);
            return change.value === undefined
              ? e?.configSource !== DYNAMIC_TOPIC_CONFIG
              : e?.configSource === DYNAMIC_TOPIC_CONFIG && e.configValue === change.value;
          });
        });
      }
      if (partitions !== undefined) {
        await admin.createPartitions({
          topicPartitions: [{ topic: name, count: partitions }],
          timeout: this.timeoutMs,
        });
        await settle(async () => {
          const after = await admin.fetchTopicMetadata({ topics: [name] });
          return (after.topics[0]?.partitions.length ?? 0) >= partitions;
        });
      }
      return { topic: name };
    });
  }

  /** Deletes a topic; `deleted: false` when it did not exist. */
  async deleteTopic(name: string): Promise<DeleteTopicResult> {
    checkTopicName(name);
    return this.call(name, async (admin) => {
      // Checked first because kafkajs retries UNKNOWN_TOPIC_OR_PARTITION on delete for seconds.
      if (!(await admin.listTopics()).includes(name)) return { topic: name, deleted: false };
      try {
        await admin.deleteTopics({ topics: [name], timeout: this.timeoutMs });
      } catch (err) {
        if (mapKafkaError(err).code === 'TOPIC_NOT_FOUND') return { topic: name, deleted: false };
        throw err;
      }
      return { topic: name, deleted: true };
    });
  }

  // ---------------------------------------------------------------- cluster administration
  // (lib/kafka-cluster.ts; the shapes are Admin REST's, see ClusterAdmin in lib/types.ts)

  /** `available` when the cluster answers a metadata request; a failure rejects. */
  async getStatus(): Promise<{ status: InstanceStatus }> {
    return this.call(undefined, async (admin) => {
      await admin.describeCluster();
      return { status: 'available' as const };
    });
  }

  async listGroups(options: ListGroupsOptions = {}): Promise<ListGroupsResult> {
    if (options.page !== undefined) checkPartitions(options.page, 'page');
    if (options.perPage !== undefined) checkPartitions(options.perPage, 'perPage');
    if (options.filter !== undefined && typeof options.filter !== 'string') {
      throw new ValidationError('filter must be a string');
    }
    compileFilter(options.filter, 'group_filter', 'any');
    return this.call(undefined, (admin) => cluster.listGroups(admin, options));
  }

  async describeGroup(groupId: string): Promise<GroupDetail> {
    checkGroupId(groupId);
    return this.call(undefined, (admin) => cluster.describeGroup(kafkajs(), admin, groupId));
  }

  async resetGroupOffsets(groupId: string, options: ResetOffsetsOptions): Promise<ResetOffsetsResult> {
    checkGroupId(groupId);
    // Checked here too so that bad input never waits for a connection.
    checkResetOptions(options, checkTopicName);
    return this.call(options?.topic, (admin) =>
      cluster.resetGroupOffsets(kafkajs(), admin, groupId, options, checkTopicName),
    );
  }

  async deleteGroup(groupId: string): Promise<{ group_id: string; deleted: boolean }> {
    checkGroupId(groupId);
    return this.call(undefined, (admin) => cluster.deleteGroup(kafkajs(), admin, groupId));
  }

  async deleteRecords(topic: string, records: RecordsToDelete[]): Promise<{ topic: string }> {
    checkTopicName(topic);
    const checked = checkRecordsToDelete(records);
    return this.call(topic, async (admin) => {
      await cluster.deleteRecords(admin, topic, checked);
      return { topic };
    });
  }

  async getCluster(): Promise<ClusterInfo> {
    return this.call(undefined, (admin) => cluster.getCluster(kafkajs(), admin));
  }

  async listBrokers(): Promise<BrokerSummary[]> {
    return (await this.getCluster()).brokers;
  }

  async getBroker(id: number): Promise<BrokerDetail> {
    const broker = checkBrokerId(id);
    return this.call(undefined, (admin) => cluster.getBroker(kafkajs(), admin, broker));
  }

  async getBrokerConfigs(
    id: number,
    options: { filter?: string; verbose?: boolean } = {},
  ): Promise<BrokerDetail> {
    const broker = checkBrokerId(id);
    compileFilter(options.filter, 'config_filter', 'any');
    return this.call(undefined, (admin) => cluster.getBrokerConfigs(kafkajs(), admin, broker, options));
  }

  /** kafkajs has no client-quota API: every quota operation rejects with UNSUPPORTED. */
  async listQuotas(): Promise<EntityQuota[]> {
    return cluster.quotasUnsupported();
  }
  async getQuota(_entity: string): Promise<EntityQuota> {
    return cluster.quotasUnsupported();
  }
  async createQuota(_entity: string, _quota: Quota): Promise<{ entity_name: string }> {
    return cluster.quotasUnsupported();
  }
  async updateQuota(_entity: string, _quota: Quota): Promise<{ entity_name: string }> {
    return cluster.quotasUnsupported();
  }
  async deleteQuota(_entity: string): Promise<{ entity_name: string }> {
    return cluster.quotasUnsupported();
  }

  /** Mirroring is an Admin REST feature of Event Streams Enterprise: UNSUPPORTED here. */
  async getMirroringTopicSelection(): Promise<{ includes: string[] }> {
    return cluster.mirroringUnsupported();
  }
  async setMirroringTopicSelection(_includes: string[]): Promise<{ includes: string[] }> {
    return cluster.mirroringUnsupported();
  }
  async getMirroringActiveTopics(): Promise<{ active_topics: string[] }> {
    return cluster.mirroringUnsupported();
  }

  /** Disconnects; later calls reject with {@link ClosedError}. */
  async close(): Promise<void> {
    this.closed = true;
    const admin = this.admin;
    this.admin = undefined;
    const pending = this.connecting;
    if (admin) await admin.disconnect().catch(() => {});
    // getAdmin() disconnects an admin whose connect finishes after close().
    if (pending) await pending.catch(() => {});
  }
}
