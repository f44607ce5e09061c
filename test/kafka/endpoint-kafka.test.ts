// SPDX-License-Identifier: Apache-2.0
/**
 * The local endpoint backed by real Kafka: records produced over HTTPS (v1 raw body, v2 envelope)
 * must land in Kafka with key, headers and value intact, read back by kafkajs and, when installed,
 * by kcat (librdkafka) as a fully independent reader.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { ENDPOINT_KEY as KEY, post, readAll, uniqueTopic } from '../support/kafka';
import { useKafkaGateway } from '../support/kafka-gateway';
import { createTopicsReady } from '../../lib/kafka-cluster';

/** kcat (Debian package `kcat`) if installed. */
async function kcatPath(): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const name of ['kcat', 'kafkacat']) {
      const p = path.join(dir, name);
      if (fs.existsSync(p)) return p;
    }
  }
  return undefined;
}

describe('local endpoint with the Kafka backend (real Kafka)', function () {
  const gw = useKafkaGateway({ name: 'ep', partitions: 3 });

  it('v1 and v2 produce land in Kafka with key, headers and value intact at the reported offsets', async function () {
    const { kafka, endpoint, agent, topic } = gw;
    this.timeout(30_000);
    const binary = Buffer.from([0, 1, 2, 127, 128, 254, 255]);
    const v1 = await post(
      agent,
      `${endpoint.url}/topics/${topic}/records?key=order-1&headers=colour:${Buffer.from('red').toString('hex')},raw:00ff`,
      binary,
      'application/octet-stream',
    );
    assert.equal(v1.status, 200, JSON.stringify(v1.json));
    const m1 = v1.json.metadata as { partition: number; offset: number; topic: string };
    assert.equal(m1.topic, topic);

    const v2 = await post(
      agent,
      `${endpoint.url}/v2/topics/${topic}/records`,
      JSON.stringify({
        key: { type: 'text', data: 'order-2' },
        value: { type: 'json', data: '{"total":19.5}' },
        headers: [{ name: 'source', value: Buffer.from('node-red').toString('base64') }],
      }),
      'application/json',
    );
    assert.equal(v2.status, 200, JSON.stringify(v2.json));
    const m2 = ((v2.json.metadata as object | undefined) ?? v2.json) as { partition: number; offset: number };

    const read = await readAll(kafka.brokers, topic, 2);
    const at = (p: number, o: number) => read.find((r) => r.partition === p && r.offset === o);
    const r1 = at(m1.partition, m1.offset);
    assert.ok(r1, 'v1 record not at the reported partition/offset');
    assert.deepEqual(r1.key, Buffer.from('order-1'));
    assert.deepEqual(r1.value, binary);
    assert.deepEqual(r1.headers, [
      ['colour', Buffer.from('red')],
      ['raw', Buffer.from([0, 255])],
    ]);
    const r2 = at(m2.partition, m2.offset);
    assert.ok(r2, 'v2 record not at the reported partition/offset');
    assert.deepEqual(r2.key, Buffer.from('order-2'));
    assert.deepEqual(JSON.parse(r2.value!.toString()), { total: 19.5 });
    assert.deepEqual(r2.headers, [['source', Buffer.from('node-red')]]);
  });

  it('creates and describes real Kafka topics through the Admin REST routes', async function () {
    const { endpoint, agent, view } = gw;
    this.timeout(30_000);
    const name = uniqueTopic('ep-admin');
    const created = await post(
      agent,
      `${endpoint.adminUrl}/admin/topics`,
      JSON.stringify({ name, partition_count: 2, configs: [{ name: 'retention.ms', value: '7200000' }] }),
      'application/json',
    );
    assert.equal(created.status, 202, JSON.stringify(created.json));
    const md = await view.fetchTopicMetadata({ topics: [name] });
    assert.equal(md.topics[0]!.partitions.length, 2);
    const res = await request(`${endpoint.adminUrl}/admin/topics/${name}`, {
      dispatcher: agent,
      headers: { authorization: `Bearer ${KEY}`, accept: 'application/json' },
    });
    const detail = (await res.body.json()) as { name: string; partitions: number; retentionMs: number };
    assert.equal(res.statusCode, 200);
    assert.deepEqual([detail.name, detail.partitions, detail.retentionMs], [name, 2, 7_200_000]);
    const again = await post(
      agent,
      `${endpoint.adminUrl}/admin/topics`,
      JSON.stringify({ name }),
      'application/json',
    );
    assert.equal(again.status, 422);
    await view.deleteTopics({ topics: [name] });
  });

  it('records produced over HTTP read back with kcat show the same keys and headers', async function () {
    const { kafka, endpoint, agent, view } = gw;
    this.timeout(30_000);
    const kcat = await kcatPath();
    if (!kcat) {
      // Optional independent reader: Debian/Ubuntu `apt-get install -y kcat`.
      console.log('      kcat test skipped: kcat not installed (apt-get install -y kcat)');
      this.skip();
    }
    const name = uniqueTopic('ep-kcat');
    await createTopicsReady(view, { topics: [{ topic: name, numPartitions: 1 }] });
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      const hdr = `trace:${Buffer.from(`t${i}`).toString('hex')},app:${Buffer.from('esnodes').toString('hex')}`;
      const r = await post(
        agent,
        `${endpoint.url}/topics/${name}/records?key=k${i}&headers=${hdr}`,
        `value ${i}`,
        'text/plain',
      );
      assert.equal(r.status, 200, JSON.stringify(r.json));
      sent.push(`k${i}|trace=t${i},app=esnodes|value ${i}`);
    }
    const { stdout } = await promisify(execFile)(
      kcat!,
      ['-C', '-b', kafka.brokers.join(','), '-t', name, '-f', '%k|%h|%s\\n', '-e', '-o', 'beginning', '-q'],
      { timeout: 20_000 },
    );
    assert.deepEqual(stdout.trim().split('\n'), sent);
    await view.deleteTopics({ topics: [name] });
  });
});
