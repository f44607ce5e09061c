// SPDX-License-Identifier: Apache-2.0
/** Public entry point of the core: plain TypeScript on undici, no Node-RED imports. */
export * from './errors';
export * from './types';
export { EventStreamsClient, createTopicAdmin, PROBE_TOPIC } from './client';
export type { Backlog, Sender, SendError, SendOptions } from './sender';
export { RestSender } from './rest-sender';
export { OutboxSender } from './outbox-sender';
export {
  AdminRestClient,
  type AdminRestClientInit,
  toConfigEntries,
  toTopicDetail,
  topicFilter,
} from './admin';
export { validateTopicName, isWellFormedString, MAX_TOPIC_NAME_LENGTH } from './validate';
export {
  encodeV1,
  encodeV2,
  encodeRecord,
  parseProduceSuccess,
  DEFAULT_LIMITS,
  type EncodedRequest,
  type EncodeLimits,
  type ProduceSuccess,
} from './encode';
export { parseErrorBody, parseRetryAfter, type ParsedErrorBody, type ResponseHeaders } from './error-body';
export { fromHttp, fromTransport, fromKafka, dispositionOf, RULES, type Disposition } from './error-model';
export { buildTlsConnectOptions, splitPemCertificates, tlsErrorFrom } from './tls';
export { mapTransportError, Transport, type TransportOptions } from './transport';
export { proxyForUrl, shouldProxy } from './proxy';
export { backoffDelay, nextRetryDelay, resolveRetryPolicy, DEFAULT_RETRY, type RetryPolicy } from './retry';
export { CORE_DEFAULTS, ENDPOINT_CHOICE_DEFAULTS, ENDPOINT_FIELD_DEFAULTS, type Setting } from './defaults';
export { createAuthProvider, iamTokenRequestBody, type AuthProvider } from './auth';
export * from './schema';
export {
  SchemaRegistryClient,
  type SchemaRegistryClientInit,
  type SchemaText,
  type SchemaVersionMeta,
} from './schema-registry';
export {
  Outbox,
  outboxDisposition,
  DEFAULT_OUTBOX_MAX_HOLD_MS,
  type OutboxOptions,
  type OutboxListener,
  type OutboxStats,
} from './outbox';
export {
  CHANNEL_NAMES,
  type GatewayRequestMessage,
  type OutboxDropMessage,
  type ProduceEndMessage,
  type ProduceRetryMessage,
  type ProduceStartMessage,
} from './diagnostics';
export { RECORD_FIELDS, loadRecord, orderKeyOf, storeRecord } from './record-codec';
