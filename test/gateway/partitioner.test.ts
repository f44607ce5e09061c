// SPDX-License-Identifier: Apache-2.0
/** The local endpoint's partitioner against Kafka's own vectors and kafkajs's DefaultPartitioner. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { Partitioners } from 'kafkajs';

import { MemoryBackend } from '../../gateway/memory-backend';
import { murmur2, partitionForKey, toPositive } from '../../gateway/partitioner';

describe('local endpoint: murmur2 partitioner', function () {
  // From Kafka's UtilsTest.testMurmur2 (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
  const vectors: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [input, expected] of vectors) {
    it(`murmur2("${input}") = ${expected} as in Kafka's UtilsTest`, function () {
      assert.equal(murmur2(Buffer.from(input)), expected);
    });
  }

  it('toPositive clears the sign bit like Kafka (not Math.abs)', function () {
    assert.equal(toPositive(-2147483648), 0);
    assert.equal(toPositive(-1), 0x7fffffff);
    assert.equal(toPositive(5), 5);
  });

  it('picks the same partitions as kafkajs DefaultPartitioner for many keys', function () {
    const kafkajs = Partitioners.DefaultPartitioner();
    for (const count of [1, 2, 3, 7, 16, 100]) {
      const partitionMetadata = Array.from({ length: count }, (_, i) => ({
        partitionErrorCode: 0,
        partitionId: i,
        leader: 0,
        replicas: [0],
        isr: [0],
      }));
      for (let i = 0; i < 500; i++) {
        const key = i % 2 === 0 ? `key-${i}-${'x'.repeat(i % 13)}` : randomBytes(i % 40);
        const expected = kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } });
        assert.equal(partitionForKey(Buffer.from(key), count), expected, `key ${String(key)} / ${count}`);
      }
    }
  });
});

describe('local endpoint: memory backend', function () {
  const rec = (
    value: string,
    key: string | null = null,
  ): { key: Buffer | null; value: Buffer; headers: [] } => ({
    key: key === null ? null : Buffer.from(key),
    value: Buffer.from(value),
    headers: [],
  });

  it('evicts the oldest records past maxRecordsPerTopic, keeping offsets', async function () {
    const b = new MemoryBackend({ maxRecordsPerTopic: 3 });
    await b.createTopic('t', 1, []);
    for (let i = 0; i < 5; i++) await b.produce('t', rec(`v${i}`));
    const records = await b.readRecords('t');
    assert.deepEqual(
      records.map((r) => [r.offset, r.value.toString()]),
      [
        [2, 'v2'],
        [3, 'v3'],
        [4, 'v4'],
      ],
    );
    assert.deepEqual(
      (await b.readRecords('t', { partition: 0, from: 3 })).map((r) => r.offset),
      [3, 4],
    );
    assert.deepEqual(
      await b.readRecords('t', { partition: 0, from: 0, limit: 1 }).then((r) => r.map((x) => x.offset)),
      [2],
    );
  });

  it('evicts the oldest records past maxBytesPerTopic across partitions', async function () {
    const b = new MemoryBackend({ maxBytesPerTopic: 3 * (64 + 1000) });
    await b.createTopic('t', 2, []);
    for (let i = 0; i < 10; i++) await b.produce('t', rec(String(i).padEnd(1000, '.')));
    const records = await b.readRecords('t');
    assert.equal(records.length, 3);
    assert.deepEqual(
      records.map((r) => r.value.toString()[0]),
      ['7', '8', '9'],
    );
  });

  it('rejects unknown topics, duplicate creates and partition decreases with the shared errors', async function () {
    const b = new MemoryBackend();
    await b.createTopic('t', 2, [{ name: 'retention.ms', value: '1000' }]);
    await assert.rejects(b.produce('nope', rec('x')), { code: 'TOPIC_NOT_FOUND' });
    await assert.rejects(b.createTopic('t', 1, []), { code: 'TOPIC_EXISTS' });
    await assert.rejects(b.updateTopic('t', { partitions: 2 }), { code: 'VALIDATION' });
    await assert.rejects(b.updateTopic('nope', { partitions: 5 }), { code: 'TOPIC_NOT_FOUND' });
    await b.updateTopic('t', { partitions: 3 });
    assert.equal((await b.getTopic('t'))?.partitions, 3);
    assert.equal((await b.getTopic('t'))?.retentionMs, 1000);
    assert.equal(await b.deleteTopic('t'), true);
    assert.equal(await b.deleteTopic('t'), false);
  });
});
