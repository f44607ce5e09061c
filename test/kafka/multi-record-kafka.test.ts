// SPDX-License-Identifier: Apache-2.0
/**
 * Multi-record input over the Kafka transport in Node-RED's real runtime against a real broker:
 * `msg.records` and an array payload become ordered records (sent together, so the sender's
 * batching puts them in one request where they fit) and ONE output message whose
 * `msg.eventstreams.records` are where Kafka holds each record; a partial failure reaches Catch
 * with the others' results; the option off keeps an array one JSON value; a redeploy keeps one
 * outcome per message.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { readAll, uniqueTopic, useKafkaView } from '../support/kafka';
import {
  TAB,
  allNodes,
  assertOrderPerKey,
  assertReportsMatch,
  collect,
  coreNode,
  helper,
  kafkaEndpointConfig,
  loggedTakeOver,
  produce,
  producerFlow,
  seqRecords,
  watchOutcomes,
} from '../nodes/support';
import { waitFor } from '../support/wait';

describe('producer node: multi-record messages over the Kafka transport (real runtime, real Kafka)', function () {
  this.timeout(120_000);
  const kv = useKafkaView();
  afterEach(async () => {
    await helper.unload();
  });

  const flow = (cfg: Record<string, unknown> = {}, producer: Record<string, unknown> = {}): unknown[] =>
    producerFlow(kafkaEndpointConfig(kv.kafka.brokers, cfg), producer);

  it('msg.records: one output message, reports equal Kafka’s partition/offset, order per key', async () => {
    const topic = await kv.createTopic('mrk', 3);
    await helper.load(allNodes, flow({}, { topic }));
    const records = seqRecords(200, 5);
    const { out, caught } = await produce({ records });
    assert.deepEqual(
      caught.map((m) => m.error?.message),
      [],
    );
    assert.equal(out.length, 1);
    const read = await readAll(kv.kafka.brokers, topic, records.length);
    assert.equal(read.length, records.length);
    assertReportsMatch(
      out[0]!.eventstreams.records,
      read,
      records.map((r) => r.value),
    );
    assert.equal(assertOrderPerKey(read), 5);
  });

  it('an array payload is one record per element with the option on, one JSON value with it off', async () => {
    const topic = await kv.createTopic('mrk', 1);
    await helper.load(allNodes, flow({}, { topic, splitArray: true }));
    let out = collect('out');
    helper.getNode('p1').receive({ payload: ['a', { b: 2 }, 3], key: 'k' });
    await waitFor(() => out.length > 0, 'the report', { timeoutMs: 20_000 });
    let read = await readAll(kv.kafka.brokers, topic, 3);
    assertReportsMatch(out[0]!.eventstreams.records, read, ['a', '{"b":2}', '3']);
    assert.deepEqual(
      read.map((r) => r.key?.toString()),
      ['k', 'k', 'k'],
    );
    await helper.unload();

    await helper.load(allNodes, flow({}, { topic }));
    out = collect('out');
    helper.getNode('p1').receive({ payload: ['a', 'b'] });
    await waitFor(() => out.length > 0, 'the report', { timeoutMs: 20_000 });
    assert.equal(out[0]!.eventstreams.records, undefined);
    read = await readAll(kv.kafka.brokers, topic, 4);
    assert.equal(read[3]!.value!.toString(), '["a","b"]');
    assert.equal(Number(read[3]!.offset), out[0]!.eventstreams.offset);
  });

  it('a partial failure (too large, bad topic) reaches Catch with the others’ results', async () => {
    const topic = await kv.createTopic('mrk', 1);
    await helper.load(allNodes, flow({ maxValueBytes: 100 }));
    const { out, caught } = await produce({
      topic,
      records: [
        { value: 'ok-0', key: 'k' },
        { value: 'y'.repeat(500), key: 'k' },
        { value: 'ok-2', key: 'k' },
        { value: 'ok-3', topic: 'bad topic name!' },
      ],
    });
    assert.equal(out.length, 0);
    const msg = caught[0]!;
    assert.equal(msg.error.code, 'PARTIAL_FAILURE');
    assert.match(msg.error.message, /2 of 4 records failed/);
    const r = msg.eventstreams.records as any[];
    assert.equal(r[1].error.code, 'VALUE_TOO_LARGE');
    assert.equal(r[3].error.code, 'INVALID_TOPIC');
    const read = await readAll(kv.kafka.brokers, topic, 2);
    assertReportsMatch(r, read, ['ok-0', undefined, 'ok-2', undefined]);
  });

  it('example 10 (Gen 2 / any Kafka) runs as shipped but for the connection: ensure, then three records in one message', async () => {
    const file = '10 - Any Kafka or Event Streams Gen 2 (Kafka protocol).json';
    const topic = uniqueTopic('gen2-readings');
    const text = readFileSync(path.resolve(__dirname, '..', '..', '..', 'examples', file), 'utf8')
      .split('"gen2-readings"')
      .join(`"${topic}"`);
    process.env.ES_BROKERS = kv.kafka.brokers.join(',');
    try {
      // This suite's broker has no TLS or SASL on its plain listener: the connection is the one change.
      const nodes = (JSON.parse(text) as any[]).map((n) =>
        n.type === 'event-streams-endpoint'
          ? { ...n, credentials: undefined, brokersTls: false, authMode: 'none' }
          : { ...n, z: TAB.id },
      );
      await helper.load(
        [
          ...allNodes,
          coreNode('common/20-inject.js'),
          coreNode('common/21-debug.js'),
          coreNode('common/90-comment.js'),
        ],
        [TAB, ...nodes],
      );
      const ready = collect('es-ex10-ensured');
      const reports = collect('es-ex10-reports');
      const errors = collect('es-ex10-errors');
      helper.getNode('es-ex10-start').receive({});
      await waitFor(() => ready.length + errors.length > 0, 'the topic ensured', { timeoutMs: 30_000 });
      assert.deepEqual(
        errors.map((m) => m.error?.message),
        [],
      );
      const inject = helper.getNode('es-ex10-send');
      inject.receive({});
      await waitFor(() => reports.length + errors.length > 0, 'the delivery reports', { timeoutMs: 30_000 });
      assert.deepEqual(
        errors.map((m) => m.error?.message),
        [],
      );
      const read = await readAll(kv.kafka.brokers, topic, 3);
      assertReportsMatch(reports[0]!.eventstreams.records, read, [
        '{"celsius":21.5}',
        '{"celsius":19}',
        '{"celsius":21.7}',
      ]);
    } finally {
      delete process.env.ES_BROKERS;
    }
  });

  it('a redeploy while records are queued: one outcome per message, every record once', async () => {
    const topic = await kv.createTopic('mrk', 1);
    const f = flow({}, { topic });
    await helper.load(allNodes, f);
    const outcomes: Array<Record<string, any>> = [];
    watchOutcomes(outcomes);
    const messages = 40;
    const per = 25;
    for (let m = 0; m < messages; m++) {
      helper.getNode('p1').receive({
        records: Array.from({ length: per }, (_, i) => ({ value: `m${m}-${i}`, key: `k${m % 4}` })),
      });
    }
    await helper.setFlows(f, 'full');
    watchOutcomes(outcomes);
    await waitFor(() => outcomes.length >= messages, 'every message’s outcome', { timeoutMs: 60_000 });
    await helper.clearFlows();
    assert.ok(loggedTakeOver(), 'the new instance took over queued records');
    assert.equal(outcomes.length, messages, 'one outcome per message');
    assert.deepEqual(
      outcomes.filter((m) => m.error).map((m) => m.error.message),
      [],
    );
    const read = await readAll(kv.kafka.brokers, topic, messages * per);
    assert.equal(new Set(read.map((r) => r.value!.toString())).size, messages * per);
  });
});
