// SPDX-License-Identifier: Apache-2.0
/**
 * Option interfaces shared by the runtime side of the three nodes (and mirrored by the editor's
 * `defaults`/`credentials` in the .html files). One interface per node, so the editor, the runtime
 * and the tests cannot drift apart on a property name.
 */
import type { SchemaNodeOptions } from './schema-options';
import type { Node, NodeDef } from 'node-red';

import type { EventStreamsClient } from '../../lib/client';
import type { ConfluentRegistryClient } from '../../lib/confluent-registry';
import type { ClusterAdmin, KafkaClientConfig, TopicAdmin } from '../../lib/types';
import type { Outbox } from '../../lib/outbox';
import type { Sender } from '../../lib/sender';

export type AuthMode = 'bearer' | 'basic-token' | 'iam' | 'basic' | 'client-cert' | 'none';
/** `none`: no SASL at all (PLAINTEXT or TLS-only listeners); the credentials are not sent to the brokers. */
export type SaslMechanism = 'plain' | 'scram-sha-512' | 'scram-sha-256' | 'oauthbearer' | 'none';

/**
 * `event-streams-endpoint` properties (exported with the flow). Numeric fields arrive as strings
 * when typed into the editor, so every consumer goes through `normalizeEndpointOptions`.
 */
export interface EndpointOptions {
  name: string;
  /** `rest` (REST Producer API, the default) or `kafka` (the Kafka protocol to `brokers`). */
  transport: 'rest' | 'kafka';
  /** REST producer base URL (`kafka_http_url`). */
  url: string;
  /** Admin REST base URL (`kafka_admin_url`); blank means `url`. */
  adminUrl: string;
  /**
   * Confluent-compatible schema registry API for Avro over the Kafka transport and the consumer:
   * IBM `{kafka_http_url}/confluent`, Apicurio `…/apis/ccompat/v7`, Confluent, Redpanda, the local
   * endpoint's `/confluent`. Blank means `{url}/confluent` when `url` is set. Optional: flows
   * saved before it load unchanged.
   */
  registryUrl?: string;
  flavour: 'v1' | 'v2';
  authMode: AuthMode;
  /** IAM token URL for `iam`; blank means IBM Cloud's. */
  iamUrl: string;
  /** Verify the server certificate (default true). Off only with a loud warning. */
  verifyTls: boolean;
  /** Kafka bootstrap brokers, comma or whitespace separated (Kafka transport, topic-admin Kafka backend). */
  brokers: string;
  saslMechanism: SaslMechanism;
  /** TLS to the brokers (default true; IBM Cloud and on-prem external listeners are always TLS). */
  brokersTls: boolean;
  connections: number | string;
  /** Ceiling of the adaptive in-flight limit (REST). */
  maxConnections: number | string;
  /** Seconds. */
  requestTimeout: number | string;
  retries: number | string;
  /** First backoff delay in milliseconds. */
  retryDelay: number | string;
  /** Seconds spent on one record including retries. */
  maxRetryTime: number | string;
  queueMessages: number | string;
  queueBytes: number | string;
  /** Messages per second, 0 = unlimited. */
  rateLimit: number | string;
  orderByKey: boolean;
  maxKeyBytes: number | string;
  maxValueBytes: number | string;
  /** Seconds that in-flight records may take to finish on redeploy/stop (capped below Node-RED's 15 s). */
  closeTimeout: number | string;
  /** Durable outbox: spool accepted records on disk and send them from there (default off). */
  outbox?: boolean | string;
  /** Outbox subdirectory name under settings.js `eventStreamsEndpointOutboxDir`; blank: the config node id. */
  outboxDir?: string;
  /** Bound of the outbox in bytes (default 64 MiB); past it new messages fail with QUEUE_FULL. */
  outboxMaxBytes?: number | string;
  /** Id of a Node-RED core `http proxy` config node; blank: http_proxy/https_proxy/no_proxy. */
  proxy?: string;
}

/** Credentials of `event-streams-endpoint`. Secrets are `password` credentials; PEM certificates `text`. */
export interface EndpointCredentials {
  apiKey?: string;
  username?: string;
  password?: string;
  /** CA certificate(s), PEM. */
  ca?: string;
  /** Client certificate, PEM. */
  clientCert?: string;
  /** Client private key, PEM. */
  clientKey?: string;
  /** PKCS#12 bundle, base64. */
  pfx?: string;
  passphrase?: string;
}

export interface EndpointNodeDef extends NodeDef, EndpointOptions {}

/** The runtime config node as the other two nodes see it. */
export interface EndpointNode extends Node<EndpointCredentials> {
  /** The shared REST session (admin, registry), created on first use. Throws a ValidationError for an unusable config. */
  getClient(): EventStreamsClient;
  /** What producers send through (the outbox when it is on, else the transport). Throws like getClient. */
  getSender(): Sender;
  /** The shared Kafka-protocol topic admin, created on first use. */
  getKafkaAdmin(): TopicAdmin & ClusterAdmin;
  /**
   * The Confluent-compatible schema registry (Avro over Kafka, the consumer's `avro` format), or
   * undefined when the endpoint has neither a registry URL nor a REST URL. Throws like getClient.
   */
  getRegistry?(): ConfluentRegistryClient | undefined;
  /** The Kafka-protocol connection (brokers, TLS, SASL) for a node's own Kafka client (the consumer). */
  getKafkaConfig?(): KafkaClientConfig;
  /** Milliseconds user nodes may wait for in-flight work on close. */
  readonly closeTimeoutMs: number;
  /** The durable outbox once open, when the endpoint has it enabled; undefined when it is off. */
  getOutbox?(): Promise<Outbox> | undefined;
  /** The endpoint's producer metrics now (lib/metrics.ts): the topic-admin `stats` operation. */
  getMetrics?(): import('../../lib/metrics').MetricsSnapshot;
}

/** `event-streams-producer` properties. */
export interface ProducerOptions {
  name: string;
  /** id of the `event-streams-endpoint` config node. */
  endpoint: string;
  /** Fixed topic; blank means `msg.topic`. */
  topic: string;
  /** TypedInput for the record key (default `msg.key`). */
  key: string;
  keyType: string;
  /** TypedInput for the record headers (default `msg.headers`). */
  headers: string;
  headersType: string;
  /** 1: send the message on with `msg.eventstreams`; 0: no output. */
  outputs: number | string;
  /** The record's Content-Type (one of `CONTENT_TYPES`); blank: from the payload's type. */
  contentType?: string;
}

export interface ProducerNodeDef extends NodeDef, ProducerOptions, SchemaNodeOptions {}

export type TopicOperation = 'list' | 'get' | 'create' | 'ensure' | 'update' | 'delete';

/** `event-streams-topic-admin` properties. */
export interface TopicAdminOptions {
  name: string;
  endpoint: string;
  /** `rest`: Admin REST API; `kafka`: Kafka protocol via the endpoint's brokers. */
  backend: 'rest' | 'kafka';
  /** Fixed operation; blank means `msg.operation`. */
  operation: TopicOperation | '';
  /** Fixed topic; blank means `msg.topic`. */
  topic: string;
  /** Partitions for create/ensure/update; blank means `msg.payload.partitions`. */
  partitions: number | string;
  /** JSON object of topic configs; blank means `msg.payload.configs`. */
  configs: string;
  /** Glob or /regex/ for list; blank means `msg.payload.filter`. */
  filter: string;
}

export interface TopicAdminNodeDef extends NodeDef, TopicAdminOptions {}

/** Result of the "Test connection" route, phrased for the editor. Never contains a secret. */
export interface TestConnectionResponse {
  ok: boolean;
  host?: string;
  reachable: boolean;
  tlsTrusted: boolean | null;
  authenticated: boolean | null;
  insecure: boolean;
  /** One sentence per check, in the user's words. */
  messages: string[];
  code?: string;
  tlsReason?: string;
}

/** `event-streams-consumer` properties (the editor's `defaults` mirror these). */
export interface ConsumerNodeOptions {
  endpoint: string;
  /** Comma-separated topic names, or one `/pattern/`. */
  topics: string;
  groupId: string;
  /** Where a group without committed offsets starts. */
  start: 'earliest' | 'latest';
  valueFormat: 'auto' | 'string' | 'buffer' | 'json' | 'avro';
  /** `delivered`: handled once the wired nodes received the msg; `complete`: once they called done(). */
  ack: 'delivered' | 'complete';
  /** `auto`: commit on a timer and at stop; `manual`: only when a msg asks. */
  commit: 'auto' | 'manual';
  maxInFlight: number | string;
}

export interface ConsumerNodeDef extends NodeDef, ConsumerNodeOptions {
  wires?: string[][];
}
