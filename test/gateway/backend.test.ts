// SPDX-License-Identifier: Apache-2.0
/**
 * The Backend interface (gateway/types.ts): what differs between the memory and the Kafka backend
 * sits behind its members, so the routes and the server never ask which one they have.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { MemoryBackend } from '../../gateway/memory-backend';
import type { StoredAt } from '../../gateway/types';

const GATEWAY = path.resolve(__dirname, '..', '..', '..', 'gateway');
const record = { key: Buffer.from('k'), value: Buffer.from('v'), headers: [] as Array<[string, Buffer]> };

describe('gateway: the Backend interface', function () {
  it('memory: store answers synchronously and creates a missing topic only when asked', async function () {
    const backend = new MemoryBackend();
    try {
      let missing: unknown;
      backend.store('absent', record, undefined, (err) => (missing = err));
      assert.equal((missing as { code?: string } | undefined)?.code, 'TOPIC_NOT_FOUND');

      let stored: StoredAt | undefined;
      backend.store('created', record, 3, (err, r) => {
        assert.equal(err, null);
        stored = r;
      });
      assert.equal(stored?.offset, 0, 'done ran before store returned');
      assert.equal((await backend.getTopic('created'))?.partitions, 3);
    } finally {
      await backend.close();
    }
  });

  it('memory: its one broker is the address the server advertises', async function () {
    const backend = new MemoryBackend();
    try {
      backend.advertise({ host: '127.0.0.1', port: 9443 });
      const cluster = await backend.admin.getCluster();
      assert.deepEqual(cluster.brokers, [{ id: 0, host: '127.0.0.1', port: 9443 }]);
      assert.deepEqual(cluster.controller, { id: 0, host: '127.0.0.1', port: 9443 });
      const configs = await backend.admin.getBrokerConfigs(0);
      assert.equal(configs.host, '127.0.0.1');
      assert.equal(configs.port, 9443);
      assert.equal(backend.durable, false);
    } finally {
      await backend.close();
    }
  });

  it('routes, http.ts and the server never branch on the backend they have', function () {
    const files = [
      'server.ts',
      'http.ts',
      ...readdirSync(path.join(GATEWAY, 'routes')).map((f) => `routes/${f}`),
    ].filter((f) => f.endsWith('.ts'));
    const offenders: string[] = [];
    for (const file of files) {
      const text = readFileSync(path.join(GATEWAY, file), 'utf8');
      text.split('\n').forEach((line, i) => {
        // server.ts constructs the backend it was asked for; nothing else may name one.
        const constructs =
          file === 'server.ts' && /new MemoryBackend\(|import\('\.\/kafka-backend'\)/.test(line);
        if (constructs) return;
        if (
          /\.kind\s*[!=]==|instanceof (Memory|Kafka)Backend|deps\.memory|'onBatch' in|\.readRecords\s*\)/.test(
            line,
          )
        ) {
          offenders.push(`${file}:${i + 1}: ${line.trim()}`);
        }
      });
    }
    assert.deepEqual(offenders, []);
  });
});
