// SPDX-License-Identifier: Apache-2.0
/**
 * The package entry (package.json `main` and `exports` "."): the core's public API (lib/index.ts)
 * and the gateway's start function. It sits above both folders so that neither imports the other
 * for it: the core never names the gateway, and the gateway reaches the core only through
 * lib/index.ts and lib/server-kit.ts (scripts/check-imports.ts).
 *
 * The gateway is loaded on the first call: a process that only produces never loads it (nor its
 * certificate code, node-forge). `exports` "./gateway" gives the gateway's own entry directly.
 */
export * from './lib';
export type { LocalEndpoint, LocalEndpointOptions } from './gateway';

export function startLocalEndpoint(
  options?: import('./gateway').LocalEndpointOptions,
): Promise<import('./gateway').LocalEndpoint> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./gateway') as typeof import('./gateway')).startLocalEndpoint(options);
}
