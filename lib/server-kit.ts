// SPDX-License-Identifier: Apache-2.0
/**
 * What a server that speaks the Event Streams APIs shares with the client (package.json `exports`
 * "./server-kit"): the bundled gateway (gateway/) reaches the core only through this file and the
 * core's public API (lib/index.ts), and scripts/check-imports.ts fails any other arrow into lib/.
 *
 * The error classes and the types are the public API's own, repeated here so that the gateway
 * loads this lean module alone (lib/index.ts loads the client, undici and the outbox). Each other
 * export is here because the gateway must not own a second copy of it:
 *   - the request checks (names, filters, globs, group and quota fields): the gateway rejects
 *     exactly what the client's own validation rejects, with the same messages;
 *   - the Avro schema rules: the gateway's schema registry and the client's encoder agree on what
 *     a schema, a subject and a compatible change are;
 *   - the Kafka admin and its error mapping (`kafkaKit()`, loaded on demand): the Kafka backend is
 *     the client's admin, not a copy;
 *   - the defaults (lib/defaults.ts is the one place for each default);
 *   - the `gateway:request` diagnostics channel, documented with the others in the README.
 * Not semver-stable for other users: the README's "Using the core from code" says so.
 */
export * from './errors';
export type * from './types';
export { checkFilter, checkGlob, compileFilter, compileGlob } from './glob';
export {
  checkBrokerId,
  checkEntityName,
  checkGroupId,
  checkMirroringIncludes,
  checkQuota,
  checkRecordsToDelete,
  checkResetOptions,
} from './cluster-admin';
export {
  type CompatibilityRule,
  fromAvroJson,
  incompatibility,
  MAX_SCHEMA_CHARS,
  parseCompatibility,
  parseSchema,
  parseStrategy,
  schemaSource,
  schemaText,
  subjectFor,
} from './schema';
export type { KafkaTopicAdmin } from './kafka-admin';

/** What {@link kafkaKit} gives. */
export type KafkaKit = Pick<
  typeof import('./kafka-admin'),
  'KafkaTopicAdmin' | 'createTopicsReady' | 'mapKafkaError' | 'secretsOf' | 'toKafkaConfig' | 'toUnavailable'
>;

/**
 * The Kafka admin and its error mapping, loaded on the first call: a memory-only gateway never
 * loads them, nor undici, which their IAM token provider brings.
 */
export function kafkaKit(): KafkaKit {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./kafka-admin') as KafkaKit;
}
export { CORE_DEFAULTS, ENDPOINT_FIELD_DEFAULTS } from './defaults';
/** kafkajs as the core loads it (see lib/kafkajs.ts), for the Kafka backend. */
export { kafkajs } from './kafkajs';
export { gatewayRequest, type GatewayRequestMessage } from './diagnostics';
