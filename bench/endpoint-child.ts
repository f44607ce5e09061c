// SPDX-License-Identifier: Apache-2.0
/**
 * The package's local endpoint (gateway/server.ts) in its own process, so its CPU is measured
 * apart from the client's. argv: `<tls|http> <stateDir> [kafkaBrokersCsv]`.
 *
 * Control over IPC: `{cmd:'faults', faults}` replaces the active faults (the stall run);
 * `{cmd:'stats'}` returns the backend's counters (Kafka sends and records, for records per batch).
 */
import { readFileSync } from 'node:fs';

import { BENCH_API_KEY, BENCH_TOPIC, loadDist, serveIpc } from './common';

interface LocalEndpointLike {
  url: string;
  apiKey?: string;
  caPem?: string;
  caFile?: string;
  stop(): Promise<void>;
  setFaults?(faults: unknown[]): void;
  backend?: { stats?: Record<string, number> };
}
type StartFn = (options: Record<string, unknown>) => Promise<LocalEndpointLike>;

async function main(): Promise<void> {
  const [mode, stateDir, brokers] = process.argv.slice(2);
  const loaded = loadDist<{ startLocalEndpoint?: StartFn }>('gateway/server.js');
  if (!loaded.mod?.startLocalEndpoint) {
    process.send?.({ ready: false, error: loaded.missing ?? 'startLocalEndpoint is not exported' });
    return;
  }
  const endpoint = await loaded.mod.startLocalEndpoint({
    host: '127.0.0.1',
    port: 0,
    tls: mode === 'tls',
    stateDir,
    topics: [{ name: BENCH_TOPIC, partitions: 3 }],
    apiKeys: [BENCH_API_KEY],
    // A long benchmark writes millions of records; keep the memory backend's footprint flat.
    memory: { maxRecordsPerTopic: 10_000 },
    ...(brokers ? { kafka: { brokers: brokers.split(','), clientId: 'esnodes-bench-endpoint' } } : {}),
  });
  const caPem = endpoint.caPem ?? (endpoint.caFile ? readFileSync(endpoint.caFile, 'utf8') : undefined);

  serveIpc(async (body) => {
    const m = body as { cmd: string; faults?: unknown[] };
    if (m.cmd === 'faults') {
      if (!endpoint.setFaults) throw new Error('this local endpoint has no setFaults()');
      endpoint.setFaults(m.faults ?? []);
      return {};
    }
    if (m.cmd === 'stats') {
      // The Kafka backend's counters (sends, records, maxBatch): records per Kafka batch.
      return { ...(endpoint.backend?.stats ?? {}) };
    }
    if (m.cmd === 'stop') {
      await endpoint.stop();
      setImmediate(() => process.exit(0));
      return {};
    }
    throw new Error(`unknown endpoint command ${m.cmd}`);
  });
  process.send?.({
    ready: true,
    url: endpoint.url,
    apiKey: endpoint.apiKey ?? BENCH_API_KEY,
    caPem,
    pid: process.pid,
  });
  process.on('disconnect', () => {
    void endpoint.stop().finally(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.send?.({ ready: false, error: err instanceof Error ? err.message : String(err) });
  setTimeout(() => process.exit(1), 100);
});
