// SPDX-License-Identifier: Apache-2.0
/**
 * Consumer groups, offsets, records and cluster against a real broker with a real kafkajs consumer
 * group, through both transports of the topic-admin node: the Kafka protocol
 * ({@link KafkaTopicAdmin}) and Admin REST ({@link EventStreamsClient}.admin against the local
 * endpoint on its Kafka backend, over HTTPS with verification on). Every claim is checked against
 * what Kafka itself reports through an independent kafkajs admin.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Admin, Consumer, Producer } from 'kafkajs';

import { EventStreamsClient } from '../../lib/client';
import { KafkaTopicAdmin } from '../../lib/kafka-admin';
import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import type { ClusterAdmin, GroupDetail } from '../../lib/types';
import {
  ENDPOINT_KEY as KEY,
  kafkaClient,
  kafkaOrSkip,
  type KafkaHandle,
  uniqueTopic,
} from '../support/kafka';
import { waitFor } from '../support/wait';
import { createTopicsReady } from '../../lib/kafka-cluster';

/** Polls an async condition until it gives a value (test/helpers/wait.ts's waitFor is sync-only). */
async function until<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('consumer groups, offsets and records (real Kafka, both transports)', function () {
  this.timeout(120_000);
  let kafka: KafkaHandle;
  let view: Admin;
  let producer: Producer;
  let viaKafka: KafkaTopicAdmin;
  let endpoint: LocalEndpoint;
  let rest: EventStreamsClient;
  let stateDir: string;
  let topic: string;
  let group: string;

  /** What Kafka itself says: committed offset and end offset per partition. */
  async function truth(): Promise<Map<number, { committed: number; end: number; low: number }>> {
    const [committed] = await view.fetchOffsets({ groupId: group, topics: [topic] });
    const ends = await view.fetchTopicOffsets(topic);
    const out = new Map<number, { committed: number; end: number; low: number }>();
    for (const e of [...ends].sort((a, b) => a.partition - b.partition)) {
      const c = committed!.partitions.find((p) => p.partition === e.partition);
      out.set(e.partition, { committed: Number(c?.offset ?? -1), end: Number(e.high), low: Number(e.low) });
    }
    return out;
  }

  async function produce(n: number, tag: string): Promise<void> {
    await producer.send({
      topic,
      messages: Array.from({ length: n }, (_, i) => ({ key: `k${i % 5}`, value: `${tag}-${i}` })),
    });
  }

  /** Runs a real consumer group until it has committed `count` records, then leaves it. */
  async function consume(count: number): Promise<Consumer> {
    const consumer = kafkaClient(kafka.brokers).consumer({ groupId: group, sessionTimeout: 10_000 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let seen = 0;
    await consumer.run({ autoCommitInterval: 100, eachMessage: async () => void seen++ });
    await waitFor(() => seen >= count, `${count} records consumed`, { timeoutMs: 60_000, intervalMs: 20 });
    return consumer;
  }

  before(async function () {
    kafka = await kafkaOrSkip(this);
    view = kafkaClient(kafka.brokers).admin();
    await view.connect();
    producer = kafkaClient(kafka.brokers).producer();
    await producer.connect();
    topic = uniqueTopic('grp');
    group = uniqueTopic('app');
    await createTopicsReady(view, { topics: [{ topic, numPartitions: 2 }] });
    viaKafka = new KafkaTopicAdmin({ brokers: kafka.brokers, clientId: 'groups-test' });
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'esnodes-groups-'));
    endpoint = await startLocalEndpoint({
      port: 0,
      stateDir,
      apiKeys: [KEY],
      kafka: { brokers: kafka.brokers, clientId: 'groups-endpoint' },
    });
    rest = new EventStreamsClient({
      url: endpoint.url,
      adminUrl: endpoint.adminUrl,
      auth: { mode: 'bearer', apiKey: KEY },
      tls: { ca: endpoint.caPem! },
      retry: { retries: 1, initialDelayMs: 10, maxDelayMs: 20 },
    });
  });

  after(async function () {
    await rest?.close();
    await endpoint?.stop();
    await viaKafka?.close();
    await producer?.disconnect();
    await view?.disconnect();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  });

  const both = (): Array<[string, ClusterAdmin]> => [
    ['kafka', viaKafka],
    ['rest', rest.admin],
  ];

  it('describes a live group: state, members with assignments; then lag equals end − committed', async function () {
    await produce(20, 'first');
    const consumer = await consume(20);
    try {
      for (const [name, admin] of both()) {
        const live = await until(async () => {
          const d = await admin.describeGroup(group);
          return d.state === 'Stable' && d.members.length === 1 ? d : undefined;
        }, `${name}: group stable`);
        const assigned = live.members[0]!.assignments.map((a) => `${a.topic}/${a.partition}`).sort();
        assert.deepEqual(assigned, [`${topic}/0`, `${topic}/1`], name);
        assert.equal(typeof live.members[0]!.client_id, 'string');
      }
      // Wait until the auto-commit has caught up with the 20 records.
      await until(
        async () => [...(await truth()).values()].every((p) => p.committed === p.end),
        'offsets committed',
      );
    } finally {
      await consumer.disconnect();
    }
    await produce(7, 'later');
    const kafkaSays = await truth();
    let expectedLag = 0;
    for (const p of kafkaSays.values()) expectedLag += p.end - p.committed;
    assert.equal(expectedLag, 7);
    const results: GroupDetail[] = [];
    for (const [name, admin] of both()) {
      const d = await admin.describeGroup(group);
      results.push(d);
      assert.equal(d.group_id, group);
      assert.equal(d.members.length, 0, name);
      for (const o of d.offsets) {
        const k = kafkaSays.get(o.partition)!;
        assert.equal(o.topic, topic);
        assert.equal(o.current_offset, k.committed, `${name} p${o.partition} committed`);
        assert.equal(o.end_offset, k.end, `${name} p${o.partition} end`);
        assert.equal(o.lag, k.end - k.committed, `${name} p${o.partition} lag`);
      }
      assert.equal(d.lag, 7, name);
    }
    // Same msg contract whichever transport answered.
    assert.deepEqual(results[0]!.offsets, results[1]!.offsets);
  });

  it('lists groups with a glob and a /regex/ filter, and pages them', async function () {
    for (const [name, admin] of both()) {
      assert.deepEqual((await admin.listGroups({ filter: `${group.slice(0, 6)}*` })).groups, [group], name);
      const re = `/${group.replace(/[-]/g, '\\-')}|nothing-[0-9]+/`;
      assert.deepEqual((await admin.listGroups({ filter: re })).groups, [group], name);
      assert.deepEqual((await admin.listGroups({ filter: '/app/' })).groups, [], `${name}: whole id`);
      const page = await admin.listGroups({ filter: '*', page: 1, perPage: 1 });
      assert.equal(page.groups.length, 1, name);
      assert.ok((page.total ?? 0) >= 1);
    }
  });

  it('a dry-run reset changes nothing; an executed one shows in Kafka committed offsets', async function () {
    const before = await truth();
    for (const [name, admin] of both()) {
      const dry = await admin.resetGroupOffsets(group, { mode: 'earliest', topic, execute: false });
      assert.deepEqual(
        dry,
        [...before].map(([partition, p]) => ({ topic, partition, offset: p.low })),
        name,
      );
      assert.deepEqual(await truth(), before, `${name}: a dry run changed committed offsets`);
    }
    const done = await viaKafka.resetGroupOffsets(group, { mode: 'earliest', execute: true });
    assert.equal(done.length, 2);
    const afterEarliest = await truth();
    for (const p of afterEarliest.values()) assert.equal(p.committed, p.low);

    const latest = await rest.admin.resetGroupOffsets(group, { mode: 'latest', execute: true });
    const afterLatest = await truth();
    for (const r of latest) assert.equal(afterLatest.get(r.partition)!.committed, r.offset);
    for (const p of afterLatest.values()) assert.equal(p.committed, p.end);

    await viaKafka.resetGroupOffsets(group, { mode: 'offset', value: 3, topic, execute: true });
    for (const p of (await truth()).values()) assert.equal(p.committed, 3);

    // A time before every record: the earliest offsets; a time in the future: the end.
    const past = await rest.admin.resetGroupOffsets(group, {
      mode: 'datetime',
      value: '2000-01-01T00:00:00Z',
      execute: false,
    });
    assert.deepEqual(
      past.map((r) => r.offset),
      [...afterEarliest.values()].map((p) => p.low),
    );
  });

  it('refuses an executed reset while the group has members (422 over REST, VALIDATION over Kafka)', async function () {
    const consumer = await consume(0);
    try {
      await until(async () => (await viaKafka.describeGroup(group)).members.length === 1, 'member joined');
      await assert.rejects(viaKafka.resetGroupOffsets(group, { mode: 'earliest', execute: true }), {
        code: 'VALIDATION',
      });
      await assert.rejects(
        rest.admin.resetGroupOffsets(group, { mode: 'earliest', execute: true }),
        (e: any) => e.statusCode === 422,
      );
      // The live consumer commits its own progress meanwhile; what must not happen is the reset:
      // every partition stays at or past the offset 3 the previous test set, none back at 0.
      for (const p of (await truth()).values()) assert.ok(p.committed >= 3, `committed ${p.committed}`);
    } finally {
      await consumer.disconnect();
    }
  });

  it('deletes records before an offset: the low watermark moves, over both transports', async function () {
    await viaKafka.deleteRecords(topic, [{ partition: 0, before_offset: 2 }]);
    assert.equal((await truth()).get(0)!.low, 2);
    await rest.admin.deleteRecords(topic, [{ partition: 1, before_offset: 1 }]);
    assert.equal((await truth()).get(1)!.low, 1);
    await assert.rejects(viaKafka.deleteRecords(topic, [{ partition: 9, before_offset: 1 }]), {
      code: 'NOT_FOUND',
    });
    await assert.rejects(
      rest.admin.deleteRecords(topic, [{ partition: 0, before_offset: 10_000 }]),
      (e: any) => e.statusCode === 422,
    );
  });

  it('describes the cluster and brokers and filters broker configs', async function () {
    const viaK = await viaKafka.getCluster();
    const viaR = await rest.admin.getCluster();
    assert.deepEqual(viaR, viaK);
    const d = await view.describeCluster();
    assert.equal(viaK.id, d.clusterId);
    assert.deepEqual(
      viaK.brokers.map((b) => [b.id, b.host, b.port]),
      d.brokers.map((b) => [b.nodeId, b.host, b.port]).sort((a, b) => Number(a[0]) - Number(b[0])),
    );
    assert.equal(viaK.controller?.id, d.controller);
    const id = viaK.brokers[0]!.id;
    assert.deepEqual(await rest.admin.getBroker(id), viaK.brokers[0]);
    for (const [name, admin] of both()) {
      const cfg = await admin.getBrokerConfigs(id, {
        filter: '/log\\.retention\\.(ms|hours)/',
        verbose: true,
      });
      assert.deepEqual(
        cfg.configs!.map((c) => c.name),
        ['log.retention.hours', 'log.retention.ms'],
        name,
      );
      assert.equal(typeof cfg.configs![0]!.source, 'string');
      await assert.rejects(admin.getBroker(9999), { code: 'NOT_FOUND' });
    }
  });

  it('answers UNSUPPORTED for quotas and mirroring over the Kafka protocol; status is available', async function () {
    await assert.rejects(viaKafka.listQuotas(), { code: 'UNSUPPORTED' });
    await assert.rejects(viaKafka.createQuota('default', { producer_byte_rate: 1 }), { code: 'UNSUPPORTED' });
    await assert.rejects(viaKafka.getMirroringActiveTopics(), { code: 'UNSUPPORTED' });
    assert.deepEqual(await viaKafka.getStatus(), { status: 'available' });
    assert.deepEqual(await rest.admin.getStatus(), { status: 'available' });
  });

  it('serves the spec shapes on the Kafka backend: X-Total-Count, Link, bodies and codes', async function () {
    const { Agent, request } = await import('undici');
    const agent = new Agent({ connect: { ca: endpoint.caPem! } });
    const req = async (method: string, p: string, body?: unknown) => {
      const res = await request(`${endpoint.url}${p}`, {
        method: method as 'GET',
        headers: {
          authorization: `Bearer ${KEY}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        dispatcher: agent,
      });
      const text = await res.body.text();
      return { status: res.statusCode, headers: res.headers, json: text ? JSON.parse(text) : undefined };
    };
    try {
      const list = await req(
        'GET',
        `/admin/consumergroups?group_filter=${encodeURIComponent(group)}&per_page=1`,
      );
      assert.equal(list.status, 200);
      assert.deepEqual(list.json, [group]);
      assert.equal(list.headers['x-total-count'], '1');
      assert.match(String(list.headers.link), /rel="first"/);
      const detail = await req('GET', `/admin/consumergroups/${group}`);
      assert.equal(detail.status, 200);
      assert.deepEqual(Object.keys(detail.json).sort(), ['group_id', 'lag', 'members', 'offsets', 'state']);
      const dry = await req('PATCH', `/admin/consumergroups/${group}`, { mode: 'latest', execute: false });
      assert.equal(dry.status, 200);
      assert.ok(Array.isArray(dry.json) && dry.json.length === 2);
      const missing = await req('GET', '/admin/consumergroups/no-such-group-here');
      assert.equal(missing.status, 404);
      assert.equal(missing.json.error_code, 40400);
      const del = await req('DELETE', `/admin/topics/${topic}/records`, {
        records_to_delete: [{ partition: 0, before_offset: 2 }],
      });
      assert.equal(del.status, 202);
      assert.deepEqual(del.json, {});
      const brokers = await req('GET', '/admin/brokers');
      assert.equal(brokers.status, 200);
      assert.deepEqual(Object.keys(brokers.json[0]).sort().slice(0, 3), ['host', 'id', 'port']);
    } finally {
      await agent.close();
    }
  });

  it('deletes the group (then it is gone from the list and describe answers NOT_FOUND)', async function () {
    assert.deepEqual(await rest.admin.deleteGroup(group), { group_id: group, deleted: true });
    for (const [, admin] of both()) {
      assert.deepEqual((await admin.listGroups({ filter: group })).groups, []);
      await assert.rejects(admin.describeGroup(group), { code: 'NOT_FOUND' });
    }
    assert.deepEqual(await viaKafka.deleteGroup(group), { group_id: group, deleted: false });
  });
});
