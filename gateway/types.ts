// SPDX-License-Identifier: Apache-2.0
/**
 * Contracts of the local Event Streams-compatible endpoint: its options, its storage backends
 * (memory, Kafka) and the records it keeps for inspection.
 */
import type { ClusterAdmin, KafkaSaslConfig, TopicDetail } from '../lib/server-kit';

export interface KafkaConnectionOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  clientId?: string;
  ssl?: boolean | { ca?: string | string[]; cert?: string; key?: string; rejectUnauthorized?: boolean };
  /** PLAIN, SCRAM or OAUTHBEARER (an IAM token from an API key); see lib/types.ts. */
  sasl?: KafkaSaslConfig;
  /** Replication factor for topics the endpoint creates. Default: the broker's default (-1). */
  replicationFactor?: number;
}

export interface FaultSpec {
  /** Add this many milliseconds before answering. */
  latencyMs?: number;
  /** Answer 429 with this Retry-After (seconds). */
  status429RetryAfterSec?: number;
  /** Answer this status (e.g. 503, 500, 408) with its documented error body. */
  status?: number;
  /** Destroy the socket without answering. */
  dropConnection?: boolean;
  /** Apply to the next N matching requests (then the fault clears itself). */
  count?: number;
  /** Apply to this fraction (0..1) of matching requests instead of a count. */
  fraction?: number;
  /** Which routes: `produce` (v1 and v2), `admin`, `iam`, or `all` (default `produce`). */
  route?: 'produce' | 'admin' | 'iam' | 'all';
}

export interface LocalEndpointOptions {
  /** Default 127.0.0.1: the endpoint binds loopback unless told otherwise. */
  host?: string;
  /** Default 9443; 0 picks a free port. */
  port?: number;
  /** Default true: HTTPS with a local CA generated into `stateDir` on first start. */
  tls?: boolean;
  /** Where the CA, server certificate and generated API key live. Default `~/.event-streams-local`. */
  stateDir?: string;
  /** Extra DNS names / IPs for the server certificate (127.0.0.1, ::1 and localhost are always in). */
  hostnames?: string[];
  /** API keys accepted as Bearer, Basic `token:<key>` and X-Auth-Token. Default: one generated key. */
  apiKeys?: string[];
  /**
   * Keys of the writer role (IBM IAM "Writer"): they may produce, exchange for IAM tokens and read
   * topic metadata, but admin writes (create, update, delete) and /local answer 403. `apiKeys`
   * are the manager keys.
   */
  writerKeys?: string[];
  /**
   * Development routes: /local/topics/{topic}/records and /local/faults (manager keys only).
   * Off by default, so a gateway in front of a real Kafka answers 404 there.
   */
  dev?: boolean;
  /**
   * Prometheus metrics at `GET /metrics` (off by default). `true`: a Manager key may scrape;
   * `{ key }`: only `Authorization: Bearer <key>` may (a key for the scraper alone).
   */
  metrics?: boolean | { key?: string };
  /** Username/password pairs accepted as Basic (on-prem SCRAM style); they have the manager role. */
  users?: Array<{ username: string; password: string }>;
  /** Ask for client certificates and accept those signed by the local CA (mutual TLS). */
  clientCertAuth?: boolean;
  /** Topics to create at start. */
  topics?: Array<{ name: string; partitions?: number }>;
  /** Create unknown topics on first produce (off by default, as on IBM Cloud). */
  autoCreateTopics?: boolean;
  /** Partitions of auto-created topics. Default 1. */
  defaultPartitions?: number;
  /** IAM token lifetime in seconds. Default 3600. */
  tokenLifetimeSec?: number;
  /**
   * PEM of an RSA private key: IAM tokens become RS256 JWTs, published at `GET /identity/keys`
   * for Kafka brokers validating SASL/OAUTHBEARER (gateway/iam.ts).
   */
  iamSigningKey?: string;
  /** Per-topic produce permission: key → allowed topic globs. Absent means every key may produce everywhere. */
  producePermissions?: Record<string, string[]>;
  /** Topics every caller is forbidden to produce to (403). */
  forbiddenTopics?: string[];
  /** Server-side limits (documented defaults 4096 / 65536 / 10240). */
  maxKeyBytes?: number;
  maxMessageBytes?: number;
  maxUriBytes?: number;
  /** `cloud` (IBM Cloud: v1 + v2, empty body → 400) or `onprem` (v1 only, empty body → 411). Default `cloud`. */
  deployment?: 'cloud' | 'onprem';
  /**
   * @deprecated The old name of `deployment` (still accepted; `deployment` wins when both are set).
   * "Flavour" now only means the REST Producer API version, v1 or v2.
   */
  flavour?: 'cloud' | 'onprem';
  /**
   * Memory backend bounds: records and bytes per topic (oldest records are evicted past them), and
   * topics, partitions and record bytes of all topics together (refused with 400 past them).
   */
  memory?: {
    maxRecordsPerTopic?: number;
    maxBytesPerTopic?: number;
    maxTopics?: number;
    maxPartitions?: number;
    maxTotalBytes?: number;
  };
  /**
   * Connection hygiene (defaults in gateway/limits.ts): every socket that sends nothing is closed
   * within `handshakeTimeoutMs` (TLS) or `idleTimeoutMs` (before its first request); headers must
   * arrive within `headersTimeoutMs`, a whole request within `requestTimeoutMs`; an idle
   * keep-alive socket closes after `keepAliveTimeoutMs`. Past `maxConnections` new sockets are
   * refused.
   */
  connections?: {
    maxConnections?: number;
    handshakeTimeoutMs?: number;
    idleTimeoutMs?: number;
    headersTimeoutMs?: number;
    requestTimeoutMs?: number;
    keepAliveTimeoutMs?: number;
  };
  /**
   * Serve a Schema Registry (`/artifacts`, `/confluent`) and schema-conforming produce. Default
   * true; its state lives in `stateDir` (memory backend) or the `_esnodes_schemas` topic (Kafka).
   */
  schemaRegistry?: boolean;
  /**
   * The registry's per-principal limits (defaults in limits.ts), checked by the gateway that takes
   * the request.
   */
  registryLimits?: Partial<RegistryLimits>;
  /** Use a Kafka cluster instead of memory. */
  kafka?: KafkaConnectionOptions;
  /** Faults active from the start (tests, CLI flags). */
  faults?: FaultSpec[];
  /**
   * Produce requests per second, like an Event Streams plan's quota: requests past it are
   * answered 429 with Retry-After. Default: no limit.
   */
  rateLimit?: number;
  /** Where log lines go. Default: nowhere (the CLI passes stderr). */
  log?: (line: string) => void;
}

/** Printed by the CLI as one JSON line, and returned by `startLocalEndpoint`. */
export interface LocalEndpointInfo {
  url: string;
  adminUrl: string;
  iamUrl: string;
  /** The first accepted API key (generated when none was given). */
  apiKey: string;
  /** Path of the CA certificate PEM (absent without TLS). */
  caFile?: string;
}

/** Where a produced record was stored: what the produce routes answer with. */
export interface StoredAt {
  partition: number;
  offset: number;
  timestamp: number;
}

export interface StoredRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer;
  headers: Array<[string, Buffer]>;
}

export interface RecordToStore {
  key: Buffer | null;
  value: Buffer;
  headers: Array<[string, Buffer]>;
}

export interface TopicUpdate {
  partitions?: number;
  configs?: Array<{ name: string; value?: string; reset_to_default?: boolean }>;
}

/**
 * The cluster operations a backend serves for the admin routes (routes/admin-groups.ts and
 * admin-cluster.ts): the Kafka backend through Kafka itself, the memory backend for what it has
 * (records and a one-broker cluster; it has no consumer groups). Quotas and mirroring are kept by
 * the routes, not the backend.
 */
export type BackendAdmin = Pick<
  ClusterAdmin,
  | 'listGroups'
  | 'describeGroup'
  | 'resetGroupOffsets'
  | 'deleteGroup'
  | 'deleteRecords'
  | 'getCluster'
  | 'getBroker'
  | 'getBrokerConfigs'
>;

/**
 * Storage behind the endpoint: the memory backend (memory-backend.ts) and the Kafka backend
 * (kafka-backend.ts) implement all of it, so the routes and the server never ask which one they
 * have; what differs (a synchronous store, a one-broker cluster at this endpoint's address, record
 * inspection, batches) is behind these members. Errors are thrown as lib/errors.ts classes
 * (TopicNotFoundError, TopicExistsError, UnavailableError, UnsupportedError, ValidationError) and
 * the server maps them to HTTP answers (http.ts `errorStatus`).
 */
export interface Backend {
  /** For log lines only ("… (memory backend, …)"); behaviour never branches on it. */
  readonly kind: 'memory' | 'kafka';
  /** Whether topics and records outlive this process (the CLI warns when they do not). */
  readonly durable: boolean;
  /**
   * Stores one record and calls `done` once: synchronously when the backend can (memory: the
   * produce route's hot path allocates no promise), later otherwise. With `autoCreatePartitions`,
   * a topic that does not exist is first created with that many partitions (the caller has
   * checked the name and that auto-creation is on).
   */
  store(
    topic: string,
    record: RecordToStore,
    autoCreatePartitions: number | undefined,
    done: (err: unknown, stored?: StoredAt) => void,
  ): void;
  /** {@link store} as a promise, without auto-creation. */
  produce(topic: string, record: RecordToStore): Promise<StoredAt>;
  createTopic(
    name: string,
    partitions: number,
    configs: Array<{ name: string; value: string }>,
  ): Promise<void>;
  listTopics(): Promise<TopicDetail[]>;
  getTopic(name: string): Promise<TopicDetail | undefined>;
  updateTopic(name: string, update: TopicUpdate): Promise<void>;
  deleteTopic(name: string): Promise<boolean>;
  /** Consumer groups, records, cluster and brokers (see {@link BackendAdmin}). */
  readonly admin: BackendAdmin;
  /**
   * Records as stored, for the development routes. A backend that cannot (Kafka: read the topic
   * with a consumer) rejects with UnsupportedError (501).
   */
  readRecords(
    topic: string,
    options: { partition?: number; from?: number; limit?: number },
  ): Promise<StoredRecord[]>;
  /**
   * The address clients reach this endpoint at, told once it listens. A backend that is its own
   * cluster (memory) reports it as its one broker; Kafka reports its brokers and ignores it.
   */
  advertise(address: { host: string; port: number }): void;
  /**
   * Told the record count of each batch the backend sends to its cluster (the gateway's metrics,
   * when on); a backend that stores record by record (memory) never calls it.
   */
  onBatch: ((records: number) => void) | undefined;
  close(): Promise<void>;
}

/** Schema registry fair-use limits (see REGISTRY_* in limits.ts). */
export interface RegistryLimits {
  /** New versions a Writer may propose per second, and the burst. */
  writerPerSec: number;
  writerBurst: number;
  /** Artifacts one Writer may create (through produce). */
  writerMaxArtifacts: number;
  /** Artifacts Writers together may never take from the registry's total. */
  managerReserved: number;
  /** Event-loop milliseconds per second one Writer's registrations may use, and the burst. */
  writerCpuMsPerSec: number;
  writerCpuBurstMs: number;
}
