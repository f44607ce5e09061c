// SPDX-License-Identifier: Apache-2.0
/**
 * The gateway's metrics on the Kafka backend: every record written to Kafka is counted once, and
 * the batch histogram accounts for each Kafka produce request the backend sent.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Admin } from 'kafkajs';
import { Agent, request } from 'undici';
import { startLocalEndpoint, type LocalEndpoint } from '../../gateway/server';
import { parseMetrics } from '../support/metrics';
import {
  ENDPOINT_KEY as KEY,
  kafkaClient,
  kafkaOrSkip,
  post,
  uniqueTopic,
  type KafkaHandle,
} from '../support/kafka';

describe('local endpoint metrics on the Kafka backend (real Kafka)', function () {
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
    topic = uniqueTopic('metrics');
    await view.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'esnodes-metrics-kafka-'));
    endpoint = await startLocalEndpoint({
      port: 0,
      stateDir,
      apiKeys: [KEY],
      metrics: true,
      kafka: { brokers: kafka.brokers, clientId: 'metrics-test' },
    });
    agent = new Agent({ connections: 16, connect: { ca: endpoint.caPem! } });
  });

  after(async function () {
    await agent?.close();
    await endpoint?.stop();
    await view?.disconnect();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('records produced and Kafka batch sizes add up to what was sent and what Kafka holds', async function () {
    this.timeout(60_000);
    const total = 300;
    await Promise.all(
      Array.from({ length: total }, (_, i) =>
        post(agent, `${endpoint.url}/topics/${topic}/records`, `r-${i}`, 'text/plain').then((r) =>
          assert.equal(r.status, 200, JSON.stringify(r.json)),
        ),
      ),
    );
    const res = await request(`${endpoint.url}/metrics`, {
      headers: { authorization: `Bearer ${KEY}` },
      dispatcher: agent,
    });
    assert.equal(res.statusCode, 200);
    const m = parseMetrics(await res.body.text());
    assert.equal(m.get(`esgw_records_produced_total{topic="${topic}"}`), total);
    // Every record went out in some batch; the batches are as many as the backend's sends.
    assert.equal(m.get('esgw_kafka_batch_records_sum'), total);
    const stats = (endpoint.backend as unknown as { stats: { sends: number } }).stats;
    assert.equal(m.get('esgw_kafka_batch_records_count'), stats.sends);
    const offsets = await view.fetchTopicOffsets(topic);
    assert.equal(
      offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0),
      total,
    );
  });
});
