// SPDX-License-Identifier: Apache-2.0
/** The local IBM Event Streams-compatible endpoint: server, backends and certificate helpers. */
export * from './types';
export * from './certs';
export {
  startLocalEndpoint,
  defaultStateDir,
  type LocalEndpoint,
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_MAX_KEY_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_URI_BYTES,
  DEFAULT_TOKEN_LIFETIME_SEC,
  MAX_PARTITIONS,
} from './server';
export { MemoryBackend } from './memory-backend';
export { murmur2, toPositive, partitionForKey } from './partitioner';
export { validateFaults } from './faults';
