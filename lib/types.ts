// SPDX-License-Identifier: Apache-2.0
/**
 * Public types of the core client. Plain data only: no Node-RED, no undici types leak out, so the
 * nodes, the benchmarks and user code all speak the same shapes.
 */

/** `v1`: raw body to `POST /topics/{t}/records`; `v2`: JSON envelope to `POST /v2/topics/{t}/records`. */
export type ApiFlavour = 'v1' | 'v2';

/**
 * How requests are authenticated. Each mode is a small provider in lib/auth.ts.
 * - `bearer`: `Authorization: Bearer <apiKey>` (IBM Cloud v1/admin, on-prem 2019.x).
 * - `basic-token`: `Authorization: Basic base64("token:<apiKey>")` (IBM Cloud v1, deprecated for admin).
 * - `iam`: exchange the API key for an IAM access token at `iamUrl`, cache and refresh it (required for v2).
 * - `basic`: `Authorization: Basic base64("<username>:<password>")` (on-prem 10.x/11.x SCRAM credentials).
 * - `client-cert`: mutual TLS only; the certificate is given in {@link TlsOptions}.
 * - `none`: no credentials (a plain local endpoint or a gateway that authenticates elsewhere).
 */
export type AuthOptions =
  | { mode: 'none' }
  | { mode: 'bearer'; apiKey: string }
  | { mode: 'basic-token'; apiKey: string }
  | { mode: 'iam'; apiKey: string; iamUrl?: string }
  | { mode: 'basic'; username: string; password: string }
  | { mode: 'client-cert' };

export const DEFAULT_IAM_URL = 'https://iam.cloud.ibm.com/identity/token';

export interface TlsOptions {
  /** PEM text of one or more CA certificates (a full chain is fine). Absent: the system CAs. */
  ca?: string | string[];
  /** Client certificate PEM for mutual TLS. */
  cert?: string;
  /** Client private key PEM for mutual TLS. */
  key?: string;
  /** PKCS#12 bundle (e.g. `user.p12`) instead of cert+key. */
  pfx?: Buffer;
  passphrase?: string;
  /**
   * Verification is on unless this is explicitly `false`. Callers that allow turning it off must
   * surface a loud warning to the user; the client itself also reports it via `insecure`.
   */
  rejectUnauthorized?: boolean;
  /** SNI / hostname to verify against when it differs from the URL's host. */
  servername?: string;
}

export interface RetryOptions {
  /** Retries after the first attempt. Default 5. */
  retries?: number;
  /** First backoff delay. Default 200 ms. */
  initialDelayMs?: number;
  /** Cap on one backoff delay (and on an honoured Retry-After). Default 10 s. */
  maxDelayMs?: number;
  /** Cap on the total time spent on one record including retries. Default 60 s. */
  maxRetryTimeMs?: number;
}

export interface QueueOptions {
  /** Records waiting to be sent (not counting in-flight ones). Default 1000. */
  maxMessages?: number;
  /** Bytes of record values and keys waiting to be sent. Default 16 MiB. */
  maxBytes?: number;
}

export interface LimitOptions {
  /** Default 4096 (IBM Cloud's fixed limit; on-prem MAX_KEY_SIZE). */
  maxKeyBytes?: number;
  /** Default 65536 (IBM Cloud's fixed limit; on-prem MAX_MESSAGE_SIZE). */
  maxValueBytes?: number;
  /** v1 request-URI limit. Default 10240. */
  maxUriBytes?: number;
}

/** How requests reach their origins through an HTTP(S) proxy (lib/proxy.ts). */
export interface ProxyOptions {
  /** Proxy for every origin (`http://host:port`), overriding the environment. */
  url?: string;
  /** With `url`: hosts reached directly, in no_proxy syntax. */
  noProxy?: string[];
  /** With `url`: proxy credentials (sent as Proxy-Authorization: Basic, only to the proxy). */
  username?: string;
  password?: string;
  /**
   * Where http_proxy/https_proxy/no_proxy are read when `url` is absent. Default `process.env`
   * (as Node-RED's core nodes); `false` ignores the environment.
   */
  env?: Record<string, string | undefined> | false;
}

export interface ClientOptions {
  /** REST producer base URL (`kafka_http_url`, or the on-prem `restproducer` endpoint). */
  url: string;
  /** Admin REST base URL (`kafka_admin_url`). Defaults to `url`. */
  adminUrl?: string;
  /** Schema Registry base URL (its `/artifacts` API; Confluent clients use `/confluent`). Defaults to `url`. */
  registryUrl?: string;
  /**
   * Base URL of a Confluent-compatible registry API: IBM Cloud `{kafka_http_url}/confluent` (the
   * default: `{registryUrl ?? url}/confluent`), on-prem Apicurio `…/apis/ccompat/v7`, Confluent or
   * Redpanda. Used by `client.confluent` (lib/confluent-registry.ts).
   */
  confluentUrl?: string;
  flavour?: ApiFlavour;
  auth?: AuthOptions;
  tls?: TlsOptions;
  /**
   * Requests in flight (one keep-alive connection each) to start with, and the floor the
   * adaptive limit returns to. Default 8. POSTs are never pipelined.
   */
  connections?: number;
  /**
   * The most requests in flight (and connections) the adaptive limit grows to while records
   * queue behind the limit and the round trip stays flat. Default 32; at least `connections`;
   * equal to `connections` turns adaptation off.
   */
  maxConnections?: number;
  /** A fixed cap on requests in flight (no adaptation). Default: adaptive, see `maxConnections`. */
  maxInFlight?: number;
  /** TCP+TLS connect timeout. Default 10 s. */
  connectTimeoutMs?: number;
  /** Time to wait for response headers and then for the body. Default 30 s. */
  requestTimeoutMs?: number;
  retry?: RetryOptions;
  queue?: QueueOptions;
  /** Messages per second across this client; 0 or absent means unlimited. */
  rateLimit?: number;
  /**
   * Keep records of the same topic and key in input order through retries, 429s and outages
   * (like Kafka's idempotent producer): a keyed record is not sent while an earlier record with
   * the same key is unsettled. Default true; unkeyed records are never held back.
   */
  orderByKey?: boolean;
  limits?: LimitOptions;
  userAgent?: string;
  /** HTTP(S) proxy for the producer, admin and IAM requests; absent: http_proxy/https_proxy/no_proxy. */
  proxy?: ProxyOptions;
}

export type HeaderValue = string | Buffer | Uint8Array;

/** A record header list as Kafka has it: names may repeat, order is kept. */
export type RecordHeaders = Record<string, HeaderValue> | Array<{ name: string; value: HeaderValue }>;

export type RecordValue = Buffer | Uint8Array | string | number | boolean | object;

export interface ProduceRecord {
  value: RecordValue;
  /** A string or bytes; with an Avro `keySchema`, any value of that schema. */
  key?: string | Buffer | Uint8Array | RecordValue;
  headers?: RecordHeaders;
  /**
   * v1: overrides the Content-Type derived from the value (Buffer → application/octet-stream,
   * string/number/boolean → text/plain, object/array → application/json).
   * v2: `text`, `binary` or `json` may be forced with `valueType` instead.
   */
  contentType?: string;
  /** v2 only: force the envelope's value type. */
  valueType?: 'text' | 'binary' | 'json';
  /** Send the value as Avro (lib/schema.ts): checked against the schema before anything is sent. */
  valueSchema?: import('./schema').AvroFormat;
  /** v2 only: send the key as Avro. */
  keySchema?: import('./schema').AvroFormat;
}

export interface ProduceOptions {
  signal?: AbortSignal;
  /** One attempt, no retries: the caller is the retry loop (the outbox). */
  once?: boolean;
}

/** What the server said it wrote. Fields the server did not report are absent. */
export interface ProduceResult {
  topic: string;
  partition?: number;
  offset?: number;
  /** Milliseconds since the epoch. */
  timestamp?: number;
  /** Requests made for this record, 1 when the first attempt succeeded. */
  attempts: number;
  /**
   * Value bytes as encoded plus key and header bytes, from the one encoding made for the size
   * check (the endpoint metrics count these). Absent where the transport did not say.
   */
  bytes?: number;
}

export interface TopicConfigEntry {
  name: string;
  value?: string;
  /** Admin update only: reset this config to the cluster default. */
  reset_to_default?: boolean;
}

export interface TopicDetail {
  name: string;
  partitions: number;
  replicationFactor?: number;
  retentionMs?: number;
  cleanupPolicy?: string;
  configs?: Record<string, string>;
  replicaAssignments?: Array<{ id: number; brokers: { replicas: number[] } }>;
}

export interface ListTopicsOptions {
  /** Glob with `*` (e.g. `orders-*`) or a regex wrapped in slashes (`/orders-.*\/`). */
  filter?: string;
  /** 1-based page. When absent, every page is fetched and concatenated. */
  page?: number;
  perPage?: number;
}

export interface ListTopicsResult {
  topics: TopicDetail[];
  /** X-Total-Count when the server sent it. */
  total?: number;
}

export interface CreateTopicOptions {
  name: string;
  partitions?: number;
  /** Array of name/value pairs, or a map of name → value. */
  configs?: TopicConfigEntry[] | Record<string, string | number>;
}

export interface UpdateTopicOptions {
  /** New total partition count; must be larger than the current one. */
  partitions?: number;
  configs?: TopicConfigEntry[] | Record<string, string | number>;
}

export interface EnsureTopicResult {
  topic: string;
  /** true when this call created it, false when it already existed. */
  created: boolean;
}

export interface DeleteTopicResult {
  topic: string;
  /** false when the topic did not exist (idempotent delete). */
  deleted: boolean;
}

/** Topic administration, implemented over Admin REST (lib/admin.ts) or Kafka (lib/kafka-admin.ts). */
export interface TopicAdmin {
  listTopics(options?: ListTopicsOptions): Promise<ListTopicsResult>;
  getTopic(name: string): Promise<TopicDetail>;
  createTopic(options: CreateTopicOptions): Promise<{ topic: string }>;
  ensureTopic(options: CreateTopicOptions): Promise<EnsureTopicResult>;
  updateTopic(name: string, options: UpdateTopicOptions): Promise<{ topic: string }>;
  deleteTopic(name: string): Promise<DeleteTopicResult>;
  close(): Promise<void>;
}

/**
 * The client's state for status displays. `state` is the worst thing currently going on:
 * `auth-failed` beats `throttled` beats `retrying` beats `busy` beats `idle`.
 */
export interface ClientStats {
  state: 'idle' | 'busy' | 'retrying' | 'throttled' | 'auth-failed' | 'closed';
  inFlight: number;
  queued: number;
  queuedBytes: number;
  /** Totals since the client was created. */
  delivered: number;
  failed: number;
  retries: number;
  /** Requests answered 429/503 whose record waited out Retry-After (REST), since creation. */
  holds?: number;
  /** TLS verification is off for this client. */
  insecure: boolean;
  /**
   * Of `queued`, the records waiting behind an unsettled record with the same key (order per key):
   * over REST a key's records go one request at a time, so one key tops out at about 1/RTT msgs/s.
   */
  chained?: number;
  /** Requests this client keeps in flight at most right now (REST: the adaptive limit). */
  maxInFlight?: number;
  /** The ceiling of `maxInFlight` (REST: `maxConnections`); all busy with `queued`: the cap's hint. */
  maxConnections?: number;
}

export interface CloseOptions {
  /** How long in-flight and queued records may take to finish before they are rejected. Default 10 s. */
  deadlineMs?: number;
}

/** Outcome of `EventStreamsClient.testConnection()`, phrased for the editor's "Test connection" button. */
export interface ConnectionCheck {
  /** A TCP connection (and TLS handshake, if any) could be made. */
  reachable: boolean;
  /** The server certificate was trusted; null for plain HTTP or when not reached. */
  tlsTrusted: boolean | null;
  /** The credentials were accepted; null when the check could not get that far. */
  authenticated: boolean | null;
  /** Why a step failed. */
  error?: import('./errors').EventStreamsError;
}

/**
 * How to reach and authenticate to Kafka brokers: what every Kafka-protocol client of the package
 * needs (the topic admin today; a consumer would take the same). Built from an endpoint config by
 * nodes/shared/kafka-config.ts.
 */
export interface KafkaClientConfig {
  brokers: string[];
  clientId?: string;
  /** TLS to the brokers; `true` means TLS with the system CAs. */
  ssl?: boolean | TlsOptions;
  /**
   * IBM Cloud: `plain` with username `token` and the API key as password.
   * On-prem 10.x/11.x: `scram-sha-512` with a KafkaUser's credentials.
   */
  sasl?: KafkaSaslConfig;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/**
 * SASL for a Kafka-protocol client. `oauthbearer` exchanges the API key for an IAM access token
 * (the apikey grant, as lib/auth.ts does for REST) and presents it to the brokers, refreshed
 * before it expires: what Enterprise instances with `iam_token_only` require.
 */
export type KafkaSaslConfig =
  | { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string }
  | {
      mechanism: 'oauthbearer';
      apiKey: string;
      /** Default {@link DEFAULT_IAM_URL}. */
      iamUrl?: string;
      /** TLS for the IAM exchange (custom CA of a private IAM). Default: the system CAs. */
      iamTls?: TlsOptions;
    };

/** Options of the Kafka-protocol topic admin (lib/kafka-admin.ts), for on-prem clusters without Admin REST. */
export interface KafkaAdminOptions extends KafkaClientConfig {
  /** Replication factor for created topics. Default: the broker default (-1); IBM Cloud needs 3. */
  replicationFactor?: number;
}

// ---------------------------------------------------------------------------------------------
// Cluster administration beyond topics (IBM Admin REST `adminrest.yaml` v1.4.0; the field names
// are the spec's, so a msg looks the same whichever transport answered it).

export interface ListGroupsOptions {
  /** A glob (`*`, `?`) or a `/regex/` (RE2, whole id), as IBM documents `group_filter`. */
  filter?: string;
  /** One page only (1-based); without it every page is read. */
  page?: number;
  perPage?: number;
}

export interface ListGroupsResult {
  groups: string[];
  /** The number of groups that match the filter (X-Total-Count). */
  total?: number;
}

export interface GroupMember {
  consumer_id: string;
  client_id: string;
  host: string;
  assignments: Array<{ topic: string; partition: number }>;
}

/** One partition's committed offset, end offset and lag (`end_offset - current_offset`). */
export interface GroupOffset {
  topic: string;
  partition: number;
  /** The committed offset; -1 when the group has none for this partition. */
  current_offset: number;
  end_offset: number;
  /** `end_offset - current_offset` (the whole partition from its start when nothing is committed). */
  lag: number;
}

export interface GroupDetail {
  group_id: string;
  /** Kafka's group state: Stable, Empty, PreparingRebalance, CompletingRebalance, Dead. */
  state: string;
  members: GroupMember[];
  offsets: GroupOffset[];
  /** Sum of the partitions' lag. */
  lag: number;
}

/** IBM's `group_reset_request`, plus `offset` (a given offset; Kafka transport and local endpoint). */
export interface ResetOffsetsOptions {
  /** One topic; absent: every topic the group has offsets for. */
  topic?: string;
  mode: 'earliest' | 'latest' | 'datetime' | 'offset';
  /** `datetime`: ISO 8601 time or epoch milliseconds; `offset`: the offset. */
  value?: string | number;
  /** false (default): a dry run that reports the offsets it would set. */
  execute?: boolean;
}

export type ResetOffsetsResult = Array<{ topic: string; partition: number; offset: number }>;

export interface RecordsToDelete {
  partition: number;
  before_offset: number;
}

export interface BrokerSummary {
  id: number;
  host: string;
  port: number;
  rack?: string;
}

export interface BrokerConfig {
  name: string;
  value: string | null;
  is_sensitive: boolean;
  /** With `verbose`: where the value comes from, and whether it can change at run time. */
  source?: string;
  is_read_only?: boolean;
}

export interface BrokerDetail extends BrokerSummary {
  configs?: BrokerConfig[];
}

export interface ClusterInfo {
  id: string;
  controller?: BrokerSummary;
  brokers: BrokerSummary[];
}

export interface Quota {
  producer_byte_rate?: number;
  consumer_byte_rate?: number;
}

export interface EntityQuota extends Quota {
  entity_name: string;
}

export type InstanceStatus = 'available' | 'degraded' | 'offline' | 'unknown';

/**
 * Consumer groups, records, cluster, brokers, quotas, status and mirroring. Both transports
 * implement it; what one cannot do (quotas and mirroring over kafkajs) rejects with UNSUPPORTED.
 */
export interface ClusterAdmin {
  getStatus(): Promise<{ status: InstanceStatus }>;
  listGroups(options?: ListGroupsOptions): Promise<ListGroupsResult>;
  describeGroup(groupId: string): Promise<GroupDetail>;
  resetGroupOffsets(groupId: string, options: ResetOffsetsOptions): Promise<ResetOffsetsResult>;
  deleteGroup(groupId: string): Promise<{ group_id: string; deleted: boolean }>;
  deleteRecords(topic: string, records: RecordsToDelete[]): Promise<{ topic: string }>;
  getCluster(): Promise<ClusterInfo>;
  listBrokers(): Promise<BrokerSummary[]>;
  getBroker(id: number): Promise<BrokerDetail>;
  getBrokerConfigs(id: number, options?: { filter?: string; verbose?: boolean }): Promise<BrokerDetail>;
  listQuotas(): Promise<EntityQuota[]>;
  getQuota(entity: string): Promise<EntityQuota>;
  createQuota(entity: string, quota: Quota): Promise<{ entity_name: string }>;
  updateQuota(entity: string, quota: Quota): Promise<{ entity_name: string }>;
  deleteQuota(entity: string): Promise<{ entity_name: string }>;
  getMirroringTopicSelection(): Promise<{ includes: string[] }>;
  setMirroringTopicSelection(includes: string[]): Promise<{ includes: string[] }>;
  getMirroringActiveTopics(): Promise<{ active_topics: string[] }>;
}
