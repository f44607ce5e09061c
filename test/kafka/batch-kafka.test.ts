// SPDX-License-Identifier: Apache-2.0
/**
 * The gateway's batch route on real Kafka: the records of one request reach Kafka in a few large
 * produce requests (not one per record), at the offsets the answer reports, in the array's order.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Admin } from 'kafkajs';
import { Agent } from 'undici';
import { startLocalEndpoint, type LocalEndpoint } from '../../gateway/server';
import type { KafkaBackend } from '../../gateway/kafka-backend';
import {
  ENDPOINT_KEY as KEY,
  kafkaClient,
  kafkaOrSkip,
  post,
  readAll,
  uniqueTopic,
  type KafkaHandle,
} from '../support/kafka';

describe('gateway batch route on the Kafka backend (real Kafka)', function () {
  let kafka: KafkaHandle;
  let view: Admin;
  let endpoint: LocalEndpoint;
  let agent: Agent;
  let stateDir: string;
  let topic: string;

  before(async function () {
    kafka = await kafkaOrSkip(this);
    view = kafkaClient(kafka.brokers).admin();
    await view.connect();
    topic = uniqueTopic('batch');
    await view.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'esnodes-batch-kafka-'));
    endpoint = await startLocalEndpoint({
      port: 0,
      stateDir,
      apiKeys: [KEY],
      kafka: { brokers: kafka.brokers, clientId: 'batch-test' },
    });
    agent = new Agent({ connect: { ca: endpoint.caPem! } });
  });

  after(async function () {
    await agent?.close();
    await endpoint?.stop();
    await view?.disconnect();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('500 records in one request: a few Kafka produce requests, reported offsets, per-key order', async function () {
    this.timeout(60_000);
    const stats = (endpoint.backend as KafkaBackend).stats;
    const sendsBefore = stats.sends;
    const envelopes = Array.from({ length: 500 }, (_, i) => ({
      key: { type: 'text', data: `device-${i % 7}` },
      value: { type: 'json', data: JSON.stringify({ i }) },
    }));
    const r = await post(
      agent,
      `${endpoint.url}/v2/topics/${topic}/batch`,
      JSON.stringify(envelopes),
      'application/json',
    );
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const results = r.json.results as Array<{ status: number; partition: number; offset: number }>;
    assert.equal(results.length, 500);
    // The backend's batch limit is 500 records; the whole request fits in one or two sends.
    assert.ok(stats.sends - sendsBefore <= 2, `Kafka produce requests: ${stats.sends - sendsBefore}`);
    const records = await readAll(kafka.brokers, topic, 500);
    const at = new Map(records.map((m) => [`${m.partition}:${m.offset}`, m]));
    results.forEach((res, i) => {
      assert.equal(res.status, 200);
      const m = at.get(`${res.partition}:${res.offset}`);
      assert.ok(m, `record ${i} at ${res.partition}:${res.offset}`);
      assert.equal(JSON.parse(m.value!.toString()).i, i);
    });
    for (let k = 0; k < 7; k++) {
      const mine = results.filter((_, i) => i % 7 === k);
      assert.equal(new Set(mine.map((x) => x.partition)).size, 1, 'one key, one partition');
      const offsets = mine.map((x) => x.offset);
      assert.deepEqual(
        offsets,
        [...offsets].sort((a, b) => a - b),
      );
    }
  });
});
