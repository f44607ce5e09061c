// SPDX-License-Identifier: Apache-2.0
/**
 * Nothing lost, nothing altered: every record shape through every path the producer node has —
 * direct, the durable outbox, and the redeploy hand-over, over REST v1 and v2 — lands in the
 * topic with the same bytes (value, key, headers). Node-RED's real runtime against the local
 * endpoint over HTTPS (verification on); records are read back from its memory backend.
 */
import assert from 'node:assert/strict';

import avro from 'avsc';

import { Client } from '../gateway/util';
import { allNodes, collect, endpointConfig, helper, uniqueTopic, useTestEndpoint } from './support';
import { waitFor } from '../support/wait';
import {
  bytesOf,
  DEVICE,
  type Flavour,
  HEADERS,
  type Path,
  READING,
  SHAPES,
  shapesFlow,
} from './record-shapes';

const API_KEY = 'roundtrip-api-key-0123456789';
describe('record round trip: every shape × every path → the same bytes in the topic', function () {
  this.timeout(120000);
  const te = useTestEndpoint(API_KEY, {}, (dir) => ({ eventStreamsEndpointOutboxDir: dir }));
  let registered: string;
  /** shape name → flavour → path → the record's bytes. */
  const seen = new Map<string, Map<string, unknown>>();
  /**
   * One topic per shape (and one for the blocker) for every run: each run adds a record, and a v2
   * Avro schema registers once under the topic's subject, so its id (in the bytes) is the same.
   */
  const topics = [...SHAPES.map(() => uniqueTopic('rt')), uniqueTopic('rt-blocker')];

  before(async () => {
    for (const t of topics) await te.endpoint.backend.createTopic(t, 1, []);
    registered = `${uniqueTopic('reading')}-value`;
    const c = new Client(te.endpoint);
    try {
      const res = await c.req('POST', '/artifacts', {
        headers: { 'content-type': 'application/json', 'x-registry-artifactid': registered },
        body: JSON.stringify(READING),
      });
      assert.equal(res.status, 200);
    } finally {
      await c.close();
    }
  });

  function flow(flavour: Flavour, p: Path, topics: string[]): Array<Record<string, unknown>> {
    const cfg = endpointConfig(te.endpoint, {
      flavour,
      authMode: flavour === 'v2' ? 'iam' : 'bearer',
      // One connection: on the hand-over path every shape waits behind the first record.
      connections: 1,
      maxConnections: 1,
      ...(p === 'outbox' ? { outbox: true, outboxDir: `rt-${flavour}-${Date.now()}` } : {}),
    });
    return shapesFlow(cfg, topics);
  }

  for (const flavour of ['v1', 'v2'] as const) {
    for (const p of ['direct', 'outbox', 'handover'] as const) {
      it(`${flavour} ${p}`, async () => {
        const shapes = SHAPES.map((s, i) => ({ s, i })).filter(({ s }) => !s.only || s.only === flavour);
        const counts = await Promise.all(topics.map(async (t) => (await te.endpoint.readRecords(t)).length));
        const base = te.endpoint.requestCount('produce');
        const creds = te.creds();
        const f = flow(flavour, p, topics);
        await helper.load(allNodes, f, creds);
        const caught = collect('caught');
        if (p === 'handover') {
          // The first record holds the one connection; the shapes queue behind it and are
          // handed to the new instances by the redeploy below.
          te.endpoint.setFaults([{ latencyMs: 400, route: 'produce' }]);
          helper.getNode('blocker').receive({ payload: 'first' });
          await waitFor(() => te.endpoint.requestCount('produce') > base, 'the blocker on the wire', {
            timeoutMs: 5000,
          });
        }
        for (const { s, i } of shapes)
          helper.getNode(`p${i}`).receive({ topic: topics[i], ...s.msg(registered) });
        if (p === 'handover') {
          const before = te.endpoint.requestCount('produce') - base;
          await helper.setFlows(f, 'full', creds);
          assert.ok(before <= 1, 'the shapes were still queued at the redeploy');
          te.endpoint.clearFaults();
          // Outcomes of handed-over records come out of the new instances and their Catch node.
          helper.getNode('caught').on('input', (m: Record<string, any>) => caught.push(m));
        }
        await waitFor(
          async () => {
            if (caught.length > 0) return true;
            for (const { i } of shapes)
              if ((await te.endpoint.readRecords(topics[i]!)).length <= counts[i]!) return false;
            return true;
          },
          'a record in every topic',
          { timeoutMs: 30000 },
        );
        assert.deepEqual(
          caught.map((m) => m.error?.message),
          [],
        );
        for (const { s, i } of shapes) {
          const all = await te.endpoint.readRecords(topics[i]!);
          assert.equal(all.length, counts[i]! + 1, `${s.name}: one record`);
          const recs = all.slice(counts[i]);
          const bytes = bytesOf(recs[0]!);
          const byPath = seen.get(s.name) ?? new Map<string, unknown>();
          seen.set(s.name, byPath);
          byPath.set(`${flavour} ${p}`, bytes);
          // Within a flavour every path writes the same bytes; the non-Avro shapes also across flavours.
          for (const [where, other] of byPath) {
            if (!s.only || where.startsWith(flavour))
              assert.deepEqual(bytes, other, `${s.name}: ${flavour} ${p} vs ${where}`);
          }
          if (s.name.startsWith('avro') && flavour === 'v2') {
            // Confluent wire format: magic byte, schema id, Avro binary.
            assert.equal(recs[0]!.value[0], 0);
            const v = avro.Type.forSchema(READING as avro.Schema).fromBuffer(recs[0]!.value.subarray(5));
            assert.equal(typeof (v as { celsius: unknown }).celsius, 'number');
            if (s.name.includes('key')) {
              assert.equal(recs[0]!.key![0], 0, 'the Avro key is Confluent-framed, not "[object Object]"');
              assert.deepEqual(
                {
                  ...(avro.Type.forSchema(DEVICE as avro.Schema).fromBuffer(
                    recs[0]!.key!.subarray(5),
                  ) as object),
                },
                { id: 7 },
              );
            }
          }
        }
        if (p !== 'handover') return;
        // Sanity of the expectations themselves: a few shapes' bytes, spelled out.
        const text = await te.endpoint.readRecords(topics[0]!);
        assert.equal(text.at(-1)!.value.toString('utf8'), 'hello wörld ✓');
        const h = shapes.find(({ s }) => s.name === 'headers')!;
        const withHeaders = (await te.endpoint.readRecords(topics[h.i]!)).at(-1)!;
        assert.deepEqual(
          withHeaders.headers.map(([k, v]) => [k, v.toString('hex')]),
          HEADERS.map((x) => [x.name, Buffer.from(x.value as string | Buffer).toString('hex')]),
        );
      });
    }
  }
});
