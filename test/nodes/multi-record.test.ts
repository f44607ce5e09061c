// SPDX-License-Identifier: Apache-2.0
/**
 * Multi-record input over REST (v1 and v2) in Node-RED's real runtime against the local endpoint
 * over HTTPS with verification on: `msg.records` and an array payload with "each element is a
 * record" become ordered records and ONE output message whose `msg.eventstreams.records` say
 * where each landed (checked against what the endpoint holds); a partial failure reaches Catch
 * with the others' results; the option off keeps an array one JSON record; the outbox and the
 * redeploy hand-over keep one outcome per message.
 */
import assert from 'node:assert/strict';

import { CORE_DEFAULTS } from '../../lib/defaults';
import {
  allNodes,
  assertOrderPerKey,
  assertReportsMatch,
  collect,
  endpointConfig,
  helper,
  produce,
  producerFlow,
  seqRecords,
  useTestEndpoint,
  watchOutcomes,
} from './support';
import { waitFor } from '../support/wait';

const API_KEY = 'multi-record-key-0123456789';

describe('event-streams-producer: multi-record messages (REST)', function () {
  this.timeout(60_000);
  const te = useTestEndpoint(API_KEY, {}, (dir) => ({ userDir: dir }));
  const flow = (cfg: Record<string, unknown> = {}, producer: Record<string, unknown> = {}): unknown[] =>
    producerFlow(endpointConfig(te.endpoint, cfg), producer);

  /** Every report that is not an error names the place the endpoint holds that record. */
  async function assertReportsHeld(
    topic: string,
    msg: any,
    values: Array<string | undefined>,
  ): Promise<void> {
    assertReportsMatch(msg.eventstreams.records, await te.endpoint.readRecords(topic), values, topic);
  }

  for (const flavour of ['v1', 'v2'] as const) {
    it(`msg.records (${flavour}): ordered per key, one output message, reports equal what the endpoint holds`, async () => {
      const topic = await te.createTopic('mr', 3);
      await helper.load(
        allNodes,
        flow({ flavour, authMode: flavour === 'v2' ? 'iam' : 'bearer' }, { topic }),
        te.creds(),
      );
      const records = seqRecords(60, 4);
      const { out, caught } = await produce({ records });
      assert.deepEqual(
        caught.map((m) => m.error?.message),
        [],
      );
      assert.equal(out.length, 1, 'one output message for all records');
      await assertReportsHeld(
        topic,
        out[0],
        records.map((r) => r.value),
      );
      // Order per key: within a partition, one key's records are in input order.
      const held = (
        await Promise.all([0, 1, 2].map((partition) => te.endpoint.readRecords(topic, { partition })))
      ).flat();
      assert.equal(held.length, records.length);
      assertOrderPerKey(held);
    });
  }

  it('an array payload: one record per element with the option on, one JSON record with it off', async () => {
    const topic = await te.createTopic('mr', 1);
    await helper.load(allNodes, flow({}, { topic, splitArray: true }), te.creds());
    let out = collect('out');
    helper.getNode('p1').receive({ payload: ['a', 'b', { c: 1 }], key: 'same' });
    await waitFor(() => out.length > 0, 'the report', { timeoutMs: 20_000 });
    await assertReportsHeld(topic, out[0], ['a', 'b', '{"c":1}']);
    const held = await te.endpoint.readRecords(topic, { partition: 0 });
    assert.deepEqual(
      held.map((h) => h.key?.toString()),
      ['same', 'same', 'same'],
    );
    await helper.unload();

    // Off (the default, and every flow saved before the option): the array is one JSON value.
    await helper.load(allNodes, flow({}, { topic }), te.creds());
    out = collect('out');
    helper.getNode('p1').receive({ payload: ['a', 'b'] });
    await waitFor(() => out.length > 0, 'the report', { timeoutMs: 20_000 });
    assert.equal(out[0]!.eventstreams.records, undefined);
    assert.equal(typeof out[0]!.eventstreams.offset, 'number');
    const after = await te.endpoint.readRecords(topic, { partition: 0 });
    assert.equal(after.length, 4);
    assert.equal(after[3]!.value.toString(), '["a","b"]');
  });

  it('a partial failure reaches Catch with PARTIAL_FAILURE and every record’s result; bad elements name their index', async () => {
    const topic = await te.createTopic('mr', 1);
    await helper.load(allNodes, flow({ maxValueBytes: 100 }, {}), te.creds());
    const { out, caught } = await produce(
      {
        topic,
        records: [
          { value: 'ok-0' },
          { value: 'x'.repeat(200) },
          { value: 'ok-2', key: 'k' },
          { value: null },
          { value: 'ok-4', topic: 'not a valid topic!' },
          { value: 'ok-5', partition: 2 },
        ],
      },
      20_000,
    );
    assert.equal(out.length, 0);
    assert.equal(caught.length, 1);
    const msg = caught[0]!;
    assert.equal(msg.error.code, 'PARTIAL_FAILURE');
    assert.match(msg.error.message, /4 of 6 records failed/);
    assert.equal(msg.eventstreams.error.code, 'PARTIAL_FAILURE');
    const r = msg.eventstreams.records as any[];
    assert.equal(r[1].error.code, 'VALUE_TOO_LARGE');
    assert.equal(r[3].error.code, 'INVALID_VALUE');
    assert.match(r[3].error.message, /msg\.records\[3\]/);
    assert.equal(r[4].error.code, 'INVALID_TOPIC');
    assert.match(r[5].error.message, /msg\.records\[5\].*'partition'/);
    await assertReportsHeld(topic, msg, ['ok-0', undefined, 'ok-2', undefined, undefined, undefined]);
    assert.equal((await te.endpoint.readRecords(topic, { partition: 0 })).length, 2);
  });

  it('more records than the limit fail the message before anything is sent', async () => {
    const topic = await te.createTopic('mr', 1);
    await helper.load(allNodes, flow({}, { topic }), te.creds());
    const caught = collect('caught');
    const max = CORE_DEFAULTS.maxRecordsPerMessage.value;
    helper.getNode('p1').receive({ records: Array.from({ length: max + 1 }, (_, i) => ({ value: i })) });
    await waitFor(() => caught.length > 0, 'the error', { timeoutMs: 10_000 });
    assert.equal(caught[0]!.error.code, 'INVALID_VALUE');
    assert.match(
      caught[0]!.error.message,
      new RegExp(`${max + 1} records; one message may carry at most ${max}`),
    );
    assert.equal((await te.endpoint.readRecords(topic, { partition: 0 })).length, 0);
  });

  it('through the outbox: every record stored, then one report with every result', async () => {
    const topic = await te.createTopic('mr', 1);
    await helper.load(allNodes, flow({ outbox: true, outboxDir: `mr-${Date.now()}` }, { topic }), te.creds());
    const values = Array.from({ length: 25 }, (_, i) => `o${i}`);
    const { out, caught } = await produce({ records: values.map((value) => ({ value, key: 'k' })) });
    assert.equal(caught.length, 0, caught[0]?.error?.message);
    assert.equal(out.length, 1);
    assert.ok((out[0]!.eventstreams.records as any[]).every((r) => r.outbox === true));
    await assertReportsHeld(topic, out[0], values);
  });

  it('a redeploy with records queued: one outcome per message, every record written once', async () => {
    const topic = await te.createTopic('mr', 1);
    te.endpoint.setFaults([{ latencyMs: 300, route: 'produce' }]);
    const f = flow({ connections: 1 }, { topic });
    await helper.load(allNodes, f, te.creds());
    const outcomes: Array<Record<string, any>> = [];
    watchOutcomes(outcomes);
    const base = te.endpoint.requestCount('produce');
    const messages = 4;
    const per = 5;
    for (let m = 0; m < messages; m++) {
      helper.getNode('p1').receive({
        records: Array.from({ length: per }, (_, i) => ({ value: `m${m}-${i}`, key: `k${m}` })),
      });
    }
    await waitFor(() => te.endpoint.requestCount('produce') > base, 'a record on the wire', {
      timeoutMs: 5000,
    });
    await helper.setFlows(f, 'full', te.creds());
    // The first message had a record on the wire and others queued: both halves of a hand-over.
    assert.ok(te.endpoint.requestCount('produce') - base <= 2, 'records were still queued at the redeploy');
    te.endpoint.clearFaults();
    watchOutcomes(outcomes);
    await waitFor(() => outcomes.length >= messages, 'every message’s outcome', { timeoutMs: 30_000 });
    await helper.clearFlows();
    assert.equal(outcomes.length, messages, 'one outcome per message');
    assert.deepEqual(
      outcomes.filter((m) => m.error).map((m) => m.error.message),
      [],
    );
    const held = await te.endpoint.readRecords(topic, { partition: 0 });
    assert.equal(held.length, messages * per, 'every record written once');
    for (const m of outcomes) assert.equal((m.eventstreams.records as any[]).length, per);
  });
});
