// SPDX-License-Identifier: Apache-2.0
/**
 * The local endpoint's Kafka backend against a real broker: what it reports must be what Kafka
 * holds, read back by independent clients (a kafkajs consumer, the Java partitioner).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Admin } from 'kafkajs';
import { isEventStreamsError } from '../../lib/errors';
import { KafkaBackend } from '../../gateway/kafka-backend';
import { partitionForKey } from '../../gateway/partitioner';
import type { RecordToStore } from '../../gateway/types';
import {
  countRecords,
  kafkaClient,
  kafkaOrSkip,
  readAll,
  uniqueTopic,
  type KafkaHandle,
} from '../support/kafka';
import { javaPartitions } from './java-partitioner';
import { createTopicsReady } from '../../lib/kafka-cluster';

describe('KafkaBackend (real Kafka)', function () {
  let kafka: KafkaHandle;
  let admin: Admin;
  let backend: KafkaBackend;

  before(async function () {
    kafka = await kafkaOrSkip(this);
    admin = kafkaClient(kafka.brokers).admin();
    await admin.connect();
    backend = new KafkaBackend({ brokers: kafka.brokers, clientId: 'backend-test' });
    await backend.connect();
  });

  after(async function () {
    await backend?.close();
    await admin?.disconnect();
  });

  async function createTopic(prefix: string, partitions: number): Promise<string> {
    const topic = uniqueTopic(prefix);
    await createTopicsReady(admin, { topics: [{ topic, numPartitions: partitions }] });
    return topic;
  }

  it('writes key, headers and binary value intact, on the partition Java would pick, at the offset it reports', async function () {
    this.timeout(60_000);
    const topic = await createTopic('kb-intact', 3);
    const records: RecordToStore[] = [];
    for (let i = 0; i < 24; i++) {
      records.push({
        key: Buffer.from(`key-${i}-\u00e9`),
        value: Buffer.concat([Buffer.from([0, 255, 128, i]), randomBytes(40)]),
        headers: [
          ['trace', Buffer.from(`t-${i}`)],
          ['bin', Buffer.from([0, 1, 2, 254, 255])],
        ],
      });
    }
    const results = await Promise.all(records.map((r) => backend.produce(topic, r)));

    // The Java client itself when its jar is at hand; else the endpoint's own murmur2 port (still
    // independent of kafkajs).
    const keys = records.map((r) => r.key!);
    const expected = (await javaPartitions(keys, 3)) ?? keys.map((k) => partitionForKey(k, 3));
    assert.deepEqual(
      results.map((r) => r.partition),
      expected,
      'partition differs from the Java client choice',
    );
    assert.ok(new Set(results.map((r) => r.partition)).size > 1, 'keys should spread over partitions');

    const read = await readAll(kafka.brokers, topic, records.length);
    assert.equal(read.length, records.length);
    for (let i = 0; i < records.length; i++) {
      const got = read.find((r) => r.partition === results[i]!.partition && r.offset === results[i]!.offset);
      assert.ok(got, `record ${i} not found at ${results[i]!.partition}/${results[i]!.offset}`);
      assert.deepEqual(got.key, records[i]!.key);
      assert.deepEqual(got.value, records[i]!.value);
      assert.deepEqual(got.headers, records[i]!.headers);
      assert.equal(got.timestamp, results[i]!.timestamp);
    }
  });

  it('writes unkeyed records with a null key and repeated header names', async function () {
    const topic = await createTopic('kb-nokey', 1);
    const record: RecordToStore = {
      key: null,
      value: Buffer.from('no key'),
      headers: [
        ['dup', Buffer.from('a')],
        ['dup', Buffer.from('b')],
      ],
    };
    const first = await backend.produce(topic, record);
    const second = await backend.produce(topic, record);
    assert.deepEqual([first.partition, first.offset, second.offset], [0, 0, 1]);
    const read = await readAll(kafka.brokers, topic, 2);
    assert.equal(read[0]!.key, null);
    assert.deepEqual(read[0]!.value, Buffer.from('no key'));
    assert.deepEqual(read[1]!.headers, record.headers);
  });

  it('acknowledges 2,000 concurrent records (50 in flight) with exact offsets, in far fewer Kafka requests', async function () {
    this.timeout(60_000);
    const topic = await createTopic('kb-concurrent', 3);
    // A fresh topic's first produce request may meet a partition the broker has not settled yet
    // (seen under load): kafkajs then retries the whole request, and without idempotence (the
    // backend's documented at-least-once) the partitions that had succeeded are written twice.
    // The measured phase starts once every partition took a record, from the offsets Kafka holds.
    for (let p = 0; p < 3; p++) {
      await backend.produce(topic, { key: null, value: Buffer.from(`warm-${p}`), headers: [] });
    }
    const base = await countRecords(kafka.brokers, topic);
    const warm = [...base.values()].reduce((a, b) => a + b, 0);
    const total = 2000;
    const sendsBefore = backend.stats.sends;
    const results: Array<{ partition: number; offset: number }> = new Array(total);
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < total) {
          const i = next++;
          results[i] = await backend.produce(topic, {
            key: Buffer.from(`k${i % 97}`),
            value: Buffer.from(`rec-${i}`),
            headers: [],
          });
        }
      }),
    );
    const sends = backend.stats.sends - sendsBefore;
    assert.ok(sends < total / 5, `expected batching, got ${sends} Kafka sends for ${total} records`);
    console.log(`      (${total} records in ${sends} Kafka produce requests)`);

    // Offsets per partition are 0..n-1 with no gaps or duplicates, and Kafka holds exactly n.
    const perPartition = new Map<number, number[]>();
    for (const r of results)
      perPartition.set(r.partition, [...(perPartition.get(r.partition) ?? []), r.offset]);
    const counts = await countRecords(kafka.brokers, topic);
    for (const [partition, offsets] of perPartition) {
      offsets.sort((a, b) => a - b);
      const from = base.get(partition) ?? 0;
      assert.deepEqual(
        offsets,
        Array.from({ length: offsets.length }, (_, i) => from + i),
      );
      assert.equal(counts.get(partition), from + offsets.length, `partition ${partition} count`);
    }
    assert.equal(
      [...counts.values()].reduce((a, b) => a + b, 0),
      warm + total,
    );

    // Each reported (partition, offset) holds the record that was sent.
    const read = await readAll(kafka.brokers, topic, warm + total);
    const at = new Map(read.map((r) => [`${r.partition}/${r.offset}`, r.value!.toString()]));
    for (let i = 0; i < total; i++) {
      assert.equal(at.get(`${results[i]!.partition}/${results[i]!.offset}`), `rec-${i}`);
    }
  });

  it('recovers by itself when someone else deletes a topic it produced to', async function () {
    this.timeout(30_000);
    // A short metadata age makes kafkajs refresh (and trip over the deleted topic) right away.
    const b = new KafkaBackend({ brokers: kafka.brokers }, undefined, { metadataMaxAgeMs: 100 });
    try {
      const gone = await createTopic('kb-gone', 1);
      const kept = await createTopic('kb-kept', 1);
      await b.produce(gone, { key: null, value: Buffer.from('x'), headers: [] });
      await b.produce(kept, { key: null, value: Buffer.from('x'), headers: [] });
      await admin.deleteTopics({ topics: [gone] });
      await new Promise((r) => setTimeout(r, 300));
      const r = await b.produce(kept, { key: null, value: Buffer.from('y'), headers: [] });
      assert.equal(r.offset, 1);
      assert.ok(b.stats.producerResets >= 1, 'the stuck producer should have been replaced');
      await assert.rejects(
        b.produce(gone, { key: null, value: Buffer.from('z'), headers: [] }),
        (err: unknown) => isEventStreamsError(err) && err.code === 'TOPIC_NOT_FOUND',
      );
    } finally {
      await b.close();
    }
  });

  it('fails only the oversized record of a batch (topic max.message.bytes)', async function () {
    const topic = uniqueTopic('kb-large');
    await createTopicsReady(admin, {
      topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '2048' }] }],
    });
    const small = (i: number) => ({ key: null, value: Buffer.alloc(100, i), headers: [] });
    const settled = await Promise.allSettled([
      ...Array.from({ length: 5 }, (_, i) => backend.produce(topic, small(i))),
      backend.produce(topic, { key: null, value: Buffer.alloc(5000, 9), headers: [] }),
      ...Array.from({ length: 5 }, (_, i) => backend.produce(topic, small(5 + i))),
    ]);
    const big = settled[5]!;
    assert.equal(big.status, 'rejected');
    const err = (big as PromiseRejectedResult).reason as unknown;
    assert.ok(isEventStreamsError(err) && err.code === 'PAYLOAD_TOO_LARGE', String(err));
    assert.deepEqual(
      settled.filter((_, i) => i !== 5).map((r) => r.status),
      new Array(10).fill('fulfilled'),
    );
    assert.equal((await countRecords(kafka.brokers, topic)).get(0), 10);
  });

  it('rejects a missing topic with TopicNotFoundError', async function () {
    await assert.rejects(
      backend.produce(uniqueTopic('kb-missing'), { key: null, value: Buffer.from('x'), headers: [] }),
      (err: unknown) => isEventStreamsError(err) && err.code === 'TOPIC_NOT_FOUND',
    );
  });

  it('manages topics through Kafka and keeps producing after a topic it wrote to is deleted', async function () {
    this.timeout(60_000);
    const name = uniqueTopic('kb-admin');
    await backend.createTopic(name, 2, [{ name: 'retention.ms', value: '7200000' }]);
    await assert.rejects(
      backend.createTopic(name, 1, []),
      (err: unknown) => isEventStreamsError(err) && err.code === 'TOPIC_EXISTS',
    );
    const detail = await backend.getTopic(name);
    assert.equal(detail?.partitions, 2);
    assert.equal(detail?.retentionMs, 7_200_000);
    assert.ok((await backend.listTopics()).some((t) => t.name === name));

    await backend.produce(name, { key: null, value: Buffer.from('before'), headers: [] });
    await backend.updateTopic(name, {
      partitions: 4,
      configs: [{ name: 'cleanup.policy', value: 'compact' }],
    });
    // A short-lived admin of its own: kafkajs keeps every topic an admin fetched in that admin's
    // later metadata requests, so the shared one would trip over this topic once it is deleted.
    const probe = kafkaClient(kafka.brokers).admin();
    await probe.connect();
    try {
      const md = await probe.fetchTopicMetadata({ topics: [name] });
      assert.equal(md.topics[0]!.partitions.length, 4);
    } finally {
      await probe.disconnect();
    }

    // A keyed record that maps to a new partition (2 or 3) must get there even though the
    // producer's metadata may predate the increase.
    const candidates = Array.from({ length: 20 }, (_, i) => Buffer.from(`p${i}`));
    const choices = (await javaPartitions(candidates, 4)) ?? candidates.map((k) => partitionForKey(k, 4));
    const key = candidates[choices.findIndex((p) => p >= 2)]!;
    const moved = await backend.produce(name, { key, value: Buffer.from('new'), headers: [] });
    assert.ok(moved.partition >= 2, `expected a new partition, got ${moved.partition}`);

    assert.equal(await backend.deleteTopic(name), true);
    assert.equal(await backend.deleteTopic(name), false);
    assert.equal(await backend.getTopic(name), undefined);

    // kafkajs keeps every topic it produced to in its metadata requests; the deleted one must not
    // break producing to another topic.
    const other = await createTopic('kb-after-delete', 1);
    const r = await backend.produce(other, { key: null, value: Buffer.from('still works'), headers: [] });
    assert.equal(r.offset, 0);
  });
});
