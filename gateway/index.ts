// SPDX-License-Identifier: Apache-2.0
/**
 * The gateway's public entry (package.json `exports` "./gateway"; the package entry re-exports
 * `startLocalEndpoint` lazily): the local and self-hosted Event Streams-compatible endpoint, as
 * `event-streams-local` starts it. Everything else in gateway/ is private; tests and scripts import
 * its modules by path.
 */
export type { LocalEndpointOptions } from './types';
export { startLocalEndpoint, type LocalEndpoint } from './server';
