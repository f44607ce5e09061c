// SPDX-License-Identifier: Apache-2.0
/**
 * The core client as the benchmark sees it. It is loaded from dist at run time (not imported), so a
 * missing or broken client skips its scenarios instead of breaking the harness's own build.
 */
import { loadDist, type EndpointInfo, type LoadSettings } from './common';

export interface ClientLike {
  produce(topic: string, record: { value: unknown; key?: string }): Promise<unknown>;
  stats(): { queued: number; inFlight: number; queuedBytes?: number; delivered?: number; failed?: number };
  close(options?: { deadlineMs?: number }): Promise<void>;
}
export type ClientCtor = new (options: Record<string, unknown>) => ClientLike;

/** EventStreamsClient from dist/lib/client.js; throws `skipped: …` when it is not there. */
export function loadClient(): ClientCtor {
  const loaded = loadDist<{ EventStreamsClient?: ClientCtor }>('lib/client.js');
  if (!loaded.mod?.EventStreamsClient)
    throw new Error(`skipped: ${loaded.missing ?? 'EventStreamsClient missing'}`);
  return loaded.mod.EventStreamsClient;
}

/** Client options matching the ceiling's connection settings: maxInFlight = connections, no retries. */
export function clientOptions(
  endpoint: EndpointInfo,
  load: LoadSettings,
  queue: { maxMessages: number; maxBytes: number },
): Record<string, unknown> {
  return {
    url: endpoint.url,
    flavour: 'v1',
    auth: { mode: 'bearer', apiKey: endpoint.apiKey },
    ...(endpoint.caPem ? { tls: { ca: endpoint.caPem } } : {}),
    connections: load.connections,
    maxInFlight: load.connections,
    orderByKey: load.orderByKey === true,
    queue,
    // A benchmark must not hide failures behind retries.
    retry: { retries: 0 },
  };
}
