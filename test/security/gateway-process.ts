// SPDX-License-Identifier: Apache-2.0
/**
 * A gateway in its own process, for measurements that must not count the test's own clients:
 * CPU share (producer throughput under a registration loop) and memory (RSS under slow readers).
 * Started with child_process.fork; options come as JSON in argv[2] (or `@file`); it reports
 * `{url, caPem, port}` over IPC and stops when the parent disconnects or sends 'stop'.
 */
import fs from 'node:fs';

import { startLocalEndpoint } from '../../gateway/server';
import type { LocalEndpointOptions } from '../../gateway/types';

// `@<file>`: options too large for the command line (a thousand topics).
const arg = process.argv[2] ?? '{}';
const options = JSON.parse(
  arg.startsWith('@') ? fs.readFileSync(arg.slice(1), 'utf8') : arg,
) as LocalEndpointOptions;
void startLocalEndpoint({ port: 0, ...options }).then(
  (ep) => {
    const stop = (): void => {
      void ep.stop().finally(() => process.exit(0));
    };
    process.on('message', (m) => {
      if (m === 'stop') stop();
    });
    process.on('disconnect', stop);
    process.send?.({ url: ep.url, caPem: ep.caPem, port: ep.port, apiKey: ep.apiKey });
  },
  (err: unknown) => {
    process.send?.({ error: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  },
);
