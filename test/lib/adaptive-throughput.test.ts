// SPDX-License-Identifier: Apache-2.0
/**
 * The adaptive in-flight limit against the real local endpoint (HTTPS, verification on) with
 * injected latency: with a deep queue the client grows past its starting connections, so
 * throughput beats connections ÷ RTT, never exceeds Maximum connections, and keeps each key's
 * records in order.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { EventStreamsClient } from '../../lib/client';
import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import type { ClientOptions, ProduceResult } from '../../lib/types';
import { waitFor } from '../support/wait';

const KEY = 'adaptive-throughput-key-0123456789';
/**
 * Long enough that a busy 2-core machine's lag (it can add 100 ms and more to a round trip) stays
 * inside the controller's tolerance of twice the fastest round trip.
 */
const LATENCY_MS = 250;
const START = 8;

describe('adaptive in-flight limit against the local endpoint', function () {
  this.timeout(120_000);
  let dir: string;
  let ep: LocalEndpoint;
  const clients: EventStreamsClient[] = [];
  let n = 0;

  const make = (extra: Partial<ClientOptions>): EventStreamsClient => {
    const c = new EventStreamsClient({
      url: ep.url,
      adminUrl: ep.adminUrl,
      auth: { mode: 'bearer', apiKey: KEY },
      tls: { ca: ep.caPem! },
      connections: START,
      queue: { maxMessages: 5000 },
      ...extra,
    });
    clients.push(c);
    return c;
  };

  /** Sends `total` records over `keys` keys with everything queued at once; samples the limit. */
  async function burst(
    client: EventStreamsClient,
    topic: string,
    total: number,
    keys: number,
  ): Promise<{ perSec: number; maxInFlight: number; maxLimit: number; results: ProduceResult[] }> {
    let maxInFlight = 0;
    let maxLimit = 0;
    const sample = (): void => {
      const s = client.stats();
      maxInFlight = Math.max(maxInFlight, s.inFlight);
      maxLimit = Math.max(maxLimit, s.maxInFlight ?? 0);
    };
    const timer = setInterval(sample, 5);
    const t0 = Date.now();
    try {
      const results = await Promise.all(
        Array.from({ length: total }, (_, i) => client.produce(topic, { key: `k${i % keys}`, value: { i } })),
      );
      const perSec = (total * 1000) / (Date.now() - t0);
      sample();
      return { perSec, maxInFlight, maxLimit, results };
    } finally {
      clearInterval(timer);
    }
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'es-adaptive-'));
    ep = await startLocalEndpoint({ port: 0, stateDir: dir, apiKeys: [KEY] });
  });
  after(async () => {
    await ep.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    ep.clearFaults();
    await Promise.all(clients.splice(0).map((c) => c.close({ deadlineMs: 0 })));
  });

  it(`grows past ${START} connections ÷ RTT with a deep queue, never above the maximum, order per key exact`, async () => {
    const topic = `adaptive-${process.pid}-${++n}`;
    await ep.backend.createTopic(topic, 4, []);
    ep.setFaults([{ latencyMs: LATENCY_MS, route: 'produce' }]);
    const max = 24;
    const client = make({ maxConnections: max });
    const keys = 48;
    const r = await burst(client, topic, 480, keys);
    const bound = (START * 1000) / LATENCY_MS;
    assert.ok(r.maxLimit > START, `the limit grew (${r.maxLimit})`);
    console.log(
      `      ${r.perSec.toFixed(0)} msgs/s, limit up to ${r.maxLimit}, ${r.maxInFlight} in flight at most`,
    );
    assert.ok(
      r.maxLimit <= max && r.maxInFlight <= max,
      `bounded by ${max}: ${r.maxLimit}, ${r.maxInFlight}`,
    );
    assert.ok(
      r.perSec > 1.25 * bound,
      `${r.perSec.toFixed(0)} msgs/s beats ${START} connections ÷ ${LATENCY_MS} ms = ${bound}/s`,
    );
    // Order per key: each key's records have increasing offsets in input order (one partition per key).
    const last = new Map<string, ProduceResult>();
    r.results.forEach((res, i) => {
      const k = `k${i % keys}`;
      const prev = last.get(k);
      if (prev !== undefined) {
        assert.equal(res.partition, prev.partition, `key ${k} stays on its partition`);
        assert.ok(res.offset! > prev.offset!, `key ${k}: record ${i} after its predecessor`);
      }
      last.set(k, res);
    });
    assert.equal((await ep.readRecords(topic)).length, 480);
    await waitFor(() => client.stats().inFlight === 0, 'all settled', { timeoutMs: 10_000 });
  });

  it('stays at Connections when the maximum equals it (connections ÷ RTT)', async () => {
    const topic = `adaptive-${process.pid}-${++n}`;
    await ep.backend.createTopic(topic, 1, []);
    ep.setFaults([{ latencyMs: LATENCY_MS, route: 'produce' }]);
    const client = make({ connections: 4, maxConnections: 4, orderByKey: false });
    const r = await burst(client, topic, 60, 1);
    assert.equal(r.maxLimit, 4);
    assert.ok(r.maxInFlight <= 4, `in flight ${r.maxInFlight}`);
    assert.ok(
      r.perSec < (1.2 * 4 * 1000) / LATENCY_MS,
      `${r.perSec.toFixed(0)} msgs/s at 4 ÷ ${LATENCY_MS} ms`,
    );
  });

  it('never grows past what the rate limit can use', async () => {
    const topic = `adaptive-${process.pid}-${++n}`;
    await ep.backend.createTopic(topic, 1, []);
    ep.setFaults([{ latencyMs: LATENCY_MS, route: 'produce' }]);
    // 20/s at 250 ms needs 5 in flight: the cap is rate × twice the fastest round trip plus one
    // (11), well under the maximum of 32.
    const client = make({ connections: 2, maxConnections: 32, rateLimit: 20, orderByKey: false });
    const r = await burst(client, topic, 60, 1);
    assert.ok(r.maxLimit > 2, `grew from 2 (${r.maxLimit}): 2 ÷ 250 ms is below the rate`);
    assert.ok(r.maxLimit <= 11, `limit ${r.maxLimit} stays at rate × RTT`);
    assert.ok(r.perSec <= 20 * 1.3, `${r.perSec.toFixed(1)} msgs/s within the rate limit`);
  });
});
