// SPDX-License-Identifier: Apache-2.0
/**
 * The package's public API (package.json `exports` "."): the client, the topic admin, the durable
 * outbox, the error classes and codes, the option and result types, the Sender seam, and the local
 * endpoint's start function. Nothing else is reachable from outside the package; the README's
 * "Using the core from code" lists exactly this. The nodes and tests import modules by path.
 */
export * from './errors';
export * from './types';
export { EventStreamsClient, createTopicAdmin } from './client';
export { AdminRestClient, type AdminRestClientInit } from './admin';
export { Outbox, type OutboxOptions, type OutboxListener, type OutboxStats } from './outbox';
export type { Backlog, Sender, SendError, SendOptions } from './sender';
// The package entry, not the core: the one place outside lib/local/ allowed to name the gateway
// (scripts/check-imports.ts), and only through the gateway's own public entry.
// Loaded on first call: the gateway (and its certificate code, node-forge) stays out of a
// process that only produces.
export type { LocalEndpoint, LocalEndpointOptions } from './local';
export function startLocalEndpoint(
  options?: import('./local').LocalEndpointOptions,
): Promise<import('./local').LocalEndpoint> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./local') as typeof import('./local')).startLocalEndpoint(options);
}
