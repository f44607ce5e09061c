// SPDX-License-Identifier: Apache-2.0
/**
 * The Node-RED nodes end to end against a real Kafka broker:
 * - producer node → local endpoint (HTTPS, verification on) with the Kafka backend → Kafka, read
 *   back by an independent kafkajs consumer (bytes, key, headers, Java partitioner choice,
 *   per-key order, reported partition/offset), for both API flavours;
 * - 1,000 messages under concurrency: what was acknowledged is exactly what Kafka holds;
 * - topic-admin node over Admin REST (Kafka-backed endpoint) and over the Kafka protocol, each
 *   step checked with Kafka's own view of the topic.
 */
import assert from 'node:assert/strict';

import { ConfigResourceTypes } from 'kafkajs';

import { partitionForKey } from '../../gateway/partitioner';
import {
  countRecords,
  ENDPOINT_KEY as KEY,
  readAll,
  type ReadRecord,
  uniqueTopic,
  useKafkaView,
} from '../support/kafka';
import {
  allNodes,
  collect,
  endpointConfig,
  helper,
  loggedText,
  producerFlow,
  startTestEndpoint,
  type TestEndpoint,
  topicAdminFlow,
} from '../nodes/support';
import { javaPartitions } from './java-partitioner';
import { waitFor } from '../support/wait';

type Msg = Record<string, any>;

describe('Node-RED nodes against real Kafka', function () {
  this.timeout(60_000);
  const kv = useKafkaView();
  let te: TestEndpoint;

  before(async function () {
    te = await startTestEndpoint({
      apiKeys: [KEY],
      kafka: { brokers: kv.kafka.brokers, clientId: 'nodes-kafka-test' },
    });
  });

  afterEach(async () => {
    await helper.unload();
  });

  after(async () => {
    await te?.stop();
  });

  const creds = (): Record<string, Record<string, unknown>> => ({
    cfg: { apiKey: KEY, ca: te.endpoint.caPem },
  });

  const flow = (cfg: Record<string, unknown>): Array<Record<string, unknown>> =>
    // Generous request timeout: the machine may be busy, and a timed-out-then-retried request
    // could legitimately write a duplicate, which the load test would then (rightly) flag.
    producerFlow(endpointConfig(te.endpoint, { requestTimeout: 30, ...cfg }));

  /** Kafka's default (Java) partition for each key: the real Java client when its jar is here. */
  const javaCache = new Map<string, number>();
  async function expectedPartitions(keys: Buffer[], partitions: number): Promise<number[]> {
    const id = (k: Buffer) => `${partitions}/${k.toString('hex')}`;
    const missing = keys.filter((k) => !javaCache.has(id(k)));
    if (missing.length > 0) {
      const java =
        (await javaPartitions(missing, partitions)) ?? missing.map((k) => partitionForKey(k, partitions));
      missing.forEach((k, i) => javaCache.set(id(k), java[i]!));
    }
    return keys.map((k) => javaCache.get(id(k))!);
  }

  const at = (read: ReadRecord[], p: number, o: number) =>
    read.find((r) => r.partition === p && r.offset === o);

  for (const flavour of ['v1', 'v2'] as const) {
    it(`producer node records land in Kafka intact, on Java's partition, in per-key order (${flavour})`, async function () {
      const partitions = 4;
      const topic = await kv.createTopic(`nodes-${flavour}`, partitions);
      // Connections 1: the documented way to get strict per-key order (README "Order").
      await helper.load(
        allNodes,
        flow({ flavour, authMode: flavour === 'v2' ? 'iam' : 'bearer', connections: 1 }),
        creds(),
      );
      const out = collect('out');
      const caught = collect('caught');

      const keys: Array<Buffer | string> = [
        'device-a',
        'device-b',
        'sensor-é',
        Buffer.from([0xff, 0x00, 0x10]),
      ];
      const sent: Array<{ msg: Msg; key?: Buffer; value: Buffer; headers: Array<[string, Buffer]> }> = [];
      for (let i = 0; i < 16; i++) {
        const key = i === 15 ? undefined : keys[i % keys.length]!;
        let payload: unknown;
        let value: Buffer;
        if (i % 3 === 0) {
          payload = `text #${i} ünïcödé`;
          value = Buffer.from(payload as string);
        } else if (i % 3 === 1) {
          payload = { seq: i, nested: { ok: true, list: [1, 'two', null] } };
          value = Buffer.from(JSON.stringify(payload));
        } else {
          value = Buffer.from([0, 255, 128, i, 10, 13, 0xc3]);
          payload = Buffer.from(value);
        }
        const msg: Msg = {
          payload,
          topic,
          seq: i,
          headers: { seq: String(i), raw: Buffer.from([i, 0, 255]) },
        };
        if (key !== undefined) msg.key = key;
        sent.push({
          msg,
          ...(key !== undefined ? { key: Buffer.isBuffer(key) ? key : Buffer.from(key) } : {}),
          value,
          headers: [
            ['seq', Buffer.from(String(i))],
            ['raw', Buffer.from([i, 0, 255])],
          ],
        });
      }
      const iamBefore = te.endpoint.requestCount('iam');
      const p1 = helper.getNode('p1');
      for (const s of sent) p1.receive(s.msg);
      await waitFor(() => out.length + caught.length === sent.length, 'all deliveries', {
        timeoutMs: 30_000,
      });
      assert.deepEqual(
        caught.map((m) => m.error?.code),
        [],
        'no message should fail',
      );

      const read = await readAll(kv.kafka.brokers, topic, sent.length, 30_000);
      const held = await countRecords(kv.kafka.brokers, topic);
      assert.equal(
        [...held.values()].reduce((a, b) => a + b, 0),
        sent.length,
        'Kafka holds exactly what was sent',
      );

      const keyed = sent.filter((s) => s.key);
      const expected = await expectedPartitions(
        keyed.map((s) => s.key!),
        partitions,
      );
      const bySeq = new Map(out.map((m) => [m.seq as number, m]));
      const lastOffsetByKey = new Map<string, number>();
      for (const s of sent) {
        const m = bySeq.get(s.msg.seq as number);
        assert.ok(m, `no delivery report for #${s.msg.seq}`);
        const report = m.eventstreams as { topic: string; partition: number; offset: number };
        assert.equal(report.topic, topic);
        const r = at(read, report.partition, report.offset);
        assert.ok(r, `#${s.msg.seq} is not at the reported ${report.partition}/${report.offset}`);
        assert.deepEqual(r.value, s.value, `value of #${s.msg.seq}`);
        assert.deepEqual(r.key, s.key ?? null, `key of #${s.msg.seq}`);
        assert.deepEqual(r.headers, s.headers, `headers of #${s.msg.seq}`);
        if (s.key) {
          const want = expected[keyed.indexOf(s)]!;
          assert.equal(report.partition, want, `#${s.msg.seq} partition differs from the Java partitioner`);
          const k = s.key.toString('hex');
          const prev = lastOffsetByKey.get(k);
          if (prev !== undefined) assert.ok(report.offset > prev, `key ${k} out of order at #${s.msg.seq}`);
          lastOffsetByKey.set(k, report.offset);
        }
      }
      assert.ok(new Set(expected).size > 1, 'the keys should spread over partitions');
      // v2 went through the endpoint's IAM token exchange; v1 sent the key as a bearer token.
      const iamCalls = te.endpoint.requestCount('iam') - iamBefore;
      if (flavour === 'v2') assert.ok(iamCalls > 0, 'v2 flow used no IAM token');
      else assert.equal(iamCalls, 0);
      assert.ok(!loggedText().includes(KEY), 'the API key appeared in a log');
    });
  }

  it('1,000 concurrent messages: Kafka holds exactly what was acknowledged, at the reported offsets', async function () {
    this.timeout(120_000);
    const partitions = 4;
    const total = 1000;
    const topic = await kv.createTopic('nodes-load', partitions);
    await helper.load(allNodes, flow({ connections: 8, queueMessages: 2 * total }), creds());
    const out = collect('out');
    const caught = collect('caught');
    const p1 = helper.getNode('p1');
    const t0 = Date.now();
    for (let i = 0; i < total; i++) p1.receive({ payload: `load-${i}`, topic, key: `k${i % 16}`, seq: i });
    await waitFor(() => out.length + caught.length === total, 'every message settled', { timeoutMs: 90_000 });
    const elapsed = Date.now() - t0;
    assert.deepEqual(
      caught.map((m) => m.error?.code),
      [],
      'with room in the queue, no message should fail',
    );

    // Every acknowledgement names a distinct offset...
    const acked = new Map<string, Msg>();
    for (const m of out) {
      const id = `${m.eventstreams.partition}/${m.eventstreams.offset}`;
      assert.ok(!acked.has(id), `two messages acknowledged at ${id}`);
      acked.set(id, m);
    }
    // ...and Kafka holds exactly those records: per partition, offsets 0..n-1 with no gap or extra.
    const held = await countRecords(kv.kafka.brokers, topic);
    const read = await readAll(kv.kafka.brokers, topic, total, 60_000);
    assert.equal(read.length, total);
    const heldTotal = [...held.values()].reduce((a, b) => a + b, 0);
    assert.equal(heldTotal, total, 'Kafka holds a record per message, no duplicates');
    for (let p = 0; p < partitions; p++) {
      const offsets = read.filter((r) => r.partition === p).map((r) => r.offset);
      assert.deepEqual(
        offsets,
        offsets.map((_, i) => i),
        `partition ${p} has gaps`,
      );
      assert.equal(held.get(p), offsets.length);
    }
    const keyPartition = await expectedPartitions(
      Array.from({ length: 16 }, (_, i) => Buffer.from(`k${i}`)),
      partitions,
    );
    for (const r of read) {
      const m = acked.get(`${r.partition}/${r.offset}`);
      assert.ok(m, `record at ${r.partition}/${r.offset} was never acknowledged`);
      assert.equal(r.value?.toString(), `load-${m.seq}`);
      assert.equal(r.key?.toString(), `k${m.seq % 16}`);
      assert.equal(r.partition, keyPartition[m.seq % 16], `key k${m.seq % 16} off its partition`);
    }
    console.log(`      (${total} messages through Node-RED → HTTPS → Kafka in ${elapsed} ms)`);
  });

  describe('topic-admin node', function () {
    const adminFlow = (
      cfg: Record<string, unknown>,
      backend: 'rest' | 'kafka',
    ): Array<Record<string, unknown>> =>
      topicAdminFlow(endpointConfig(te.endpoint, { requestTimeout: 30, ...cfg }), { backend });

    /** One message through the node; its output payload, or a failure carrying the caught error. */
    async function call(msg: Msg): Promise<any> {
      const out = collect('out');
      const caught = collect('caught');
      helper.getNode('a1').receive(msg);
      await waitFor(() => out.length + caught.length > 0, `outcome of ${JSON.stringify(msg)}`, {
        timeoutMs: 30_000,
      });
      if (caught[0]) {
        throw new Error(`${msg.operation} failed: ${caught[0].error?.code} ${caught[0].error?.message}`);
      }
      return out[0]!.payload;
    }

    async function partitionCount(topic: string): Promise<number> {
      const md = await kv.view.fetchTopicMetadata({ topics: [topic] });
      return md.topics[0]?.partitions.length ?? 0;
    }

    async function configValue(topic: string, name: string): Promise<string | null | undefined> {
      const res = await kv.view.describeConfigs({
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: [name] }],
        includeSynonyms: false,
      });
      return res.resources[0]?.configEntries.find((c) => c.configName === name)?.configValue;
    }

    const backends: Array<{ backend: 'rest' | 'kafka'; cfg: () => Record<string, unknown> }> = [
      // Admin REST of the Kafka-backed local endpoint, over HTTPS with the endpoint's CA.
      { backend: 'rest', cfg: () => ({}) },
      // The Kafka protocol straight to the broker's PLAINTEXT listener: no TLS, and authMode
      // 'none' so that endpoint-config sends no SASL.
      {
        backend: 'kafka',
        cfg: () => ({ authMode: 'none', brokers: kv.kafka.brokers.join(','), brokersTls: false }),
      },
    ];

    for (const { backend, cfg } of backends) {
      it(`create, ensure, list, get, update and delete against Kafka (backend ${backend})`, async function () {
        await helper.load(allNodes, adminFlow(cfg(), backend), creds());
        const topic = uniqueTopic(`adm-${backend}`);
        const other = `${topic}-e`;
        const restBefore = te.endpoint.requestCount('admin');

        assert.deepEqual(
          await call({
            operation: 'create',
            topic,
            payload: { partitions: 2, configs: { 'retention.ms': '3600000' } },
          }),
          { topic },
        );
        await waitFor(async () => (await partitionCount(topic)) === 2, 'the created topic', {
          timeoutMs: 10_000,
          intervalMs: 50,
        });
        assert.equal(await configValue(topic, 'retention.ms'), '3600000');

        assert.deepEqual(await call({ operation: 'ensure', topic: other, payload: { partitions: 1 } }), {
          topic: other,
          created: true,
        });
        await waitFor(async () => (await kv.view.listTopics()).includes(other), 'the ensured topic', {
          timeoutMs: 10_000,
          intervalMs: 50,
        });
        assert.deepEqual(await call({ operation: 'ensure', topic: other, payload: { partitions: 3 } }), {
          topic: other,
          created: false,
        });
        assert.equal(await partitionCount(other), 1, 'ensure leaves an existing topic alone');

        const listed = (await call({ operation: 'list', payload: { filter: `${topic}*` } })) as Array<{
          name: string;
          partitions: number;
        }>;
        assert.deepEqual(listed.map((t) => [t.name, t.partitions]).sort(), [
          [topic, 2],
          [other, 1],
        ]);

        const detail = await call({ operation: 'get', topic });
        assert.equal(detail.name, topic);
        assert.equal(detail.partitions, 2);
        assert.equal(detail.retentionMs, 3_600_000);

        assert.deepEqual(await call({ operation: 'update', topic, payload: { partitions: 5 } }), { topic });
        await waitFor(async () => (await partitionCount(topic)) === 5, 'five partitions', {
          timeoutMs: 10_000,
          intervalMs: 50,
        });

        assert.deepEqual(
          await call({ operation: 'update', topic, payload: { configs: { 'retention.ms': '7200000' } } }),
          { topic },
        );
        await waitFor(
          async () => (await configValue(topic, 'retention.ms')) === '7200000',
          'the new retention',
          { timeoutMs: 10_000, intervalMs: 50 },
        );
        assert.equal((await call({ operation: 'get', topic })).retentionMs, 7_200_000);

        assert.deepEqual(await call({ operation: 'delete', topic }), { topic, deleted: true });
        assert.deepEqual(await call({ operation: 'delete', topic: other }), { topic: other, deleted: true });
        await waitFor(
          async () => {
            const names = await kv.view.listTopics();
            return !names.includes(topic) && !names.includes(other);
          },
          'the deleted topics to disappear',
          { timeoutMs: 10_000, intervalMs: 50 },
        );
        assert.deepEqual(await call({ operation: 'delete', topic }), { topic, deleted: false });
        // The calls really took the chosen path: Admin REST requests only for 'rest'.
        const restCalls = te.endpoint.requestCount('admin') - restBefore;
        if (backend === 'rest') assert.ok(restCalls >= 11, `only ${restCalls} Admin REST requests`);
        else assert.equal(restCalls, 0, 'the kafka backend went through Admin REST');
      });
    }
  });
});
