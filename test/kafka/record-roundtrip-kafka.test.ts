// SPDX-License-Identifier: Apache-2.0
/**
 * The round-trip matrix's Kafka transport rows: every record shape of test/nodes/record-shapes.ts
 * through the producer node on an endpoint with `transport: kafka` — direct, the durable outbox, and
 * the redeploy hand-over — read back from a real Kafka broker, must have the same bytes (value, key,
 * headers) on every path, and the same bytes as the REST v1 reference run here against the local
 * endpoint (the REST rows in test/nodes/record-roundtrip.test.ts show v1 and v2 agree on them).
 * Avro shapes are left out: over Kafka their bytes carry ids from a registry, covered by
 * test/kafka/schema-kafka.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { readAll, uniqueTopic, useKafkaView } from '../support/kafka';
import {
  allNodes,
  collect,
  endpointConfig,
  helper,
  kafkaEndpointConfig,
  loggedTakeOver,
  startTestEndpoint,
  type TestEndpoint,
  watchOutcomes,
} from '../nodes/support';
import { bytesOf, SHAPES, shapesFlow } from '../nodes/record-shapes';
import { waitFor } from '../support/wait';
import { createTopicsReady } from '../../lib/kafka-cluster';

const API_KEY = 'roundtrip-kafka-key-0123456789';

/**
 * kafkajs carries headers as an object keyed by name, when writing and when reading, so a name
 * that repeats comes back with its values together (in their order); the REST reference keeps
 * the interleaving. Everything else must be byte for byte the same.
 */
function groupedByName(bytes: unknown): unknown {
  const b = bytes as { headers: Array<[string, string]> };
  const names = [...new Set(b.headers.map(([n]) => n))];
  return { ...b, headers: names.flatMap((n) => b.headers.filter(([m]) => m === n)) };
}
const shapes = SHAPES.map((s, i) => ({ s, i })).filter(({ s }) => !s.name.startsWith('avro'));

describe('record round trip over the Kafka transport: every shape × direct/outbox/hand-over → the same bytes', function () {
  this.timeout(180_000);
  const kv = useKafkaView();
  let te: TestEndpoint;
  let tmp: string;
  /** shape name → the REST v1 reference bytes. */
  const reference = new Map<string, unknown>();
  const topics = [...SHAPES.map(() => uniqueTopic('rtk')), uniqueTopic('rtk-blocker')];
  let runs = 0;

  before(async function () {
    await createTopicsReady(kv.view, {
      topics: topics.map((topic) => ({ topic, numPartitions: 1 })),
    });
    te = await startTestEndpoint({ apiKeys: [API_KEY] });
    for (const t of topics) await te.endpoint.backend.createTopic(t, 1, []);
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'es-roundtrip-kafka-'));
    helper.settings({ eventStreamsEndpointOutboxDir: tmp });
  });
  after(async () => {
    helper.settings({});
    await te?.stop();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });
  afterEach(async () => {
    await helper.unload();
  });

  const flow = (cfg: Record<string, unknown>): unknown[] => shapesFlow(cfg, topics);

  it('REST v1 direct: the reference bytes', async () => {
    await helper.load(allNodes, flow(endpointConfig(te.endpoint)), {
      cfg: { apiKey: API_KEY, ca: te.endpoint.caPem },
    });
    const out = collect('out');
    const caught = collect('caught');
    for (const { s, i } of shapes) helper.getNode(`p${i}`).receive(s.msg(''));
    await waitFor(() => out.length + caught.length >= shapes.length, 'every outcome', { timeoutMs: 30_000 });
    assert.deepEqual(
      caught.map((m) => m.error?.message),
      [],
    );
    for (const { s, i } of shapes) {
      const [rec] = await te.endpoint.readRecords(topics[i]!);
      reference.set(s.name, bytesOf(rec!));
    }
  });

  for (const p of ['direct', 'outbox', 'handover'] as const) {
    it(`kafka ${p}`, async () => {
      assert.equal(reference.size, shapes.length, 'the reference run went first');
      const cfg = kafkaEndpointConfig(
        kv.kafka.brokers,
        p === 'outbox' ? { outbox: true, outboxDir: `rtk-${Date.now()}` } : {},
      );
      const f = flow(cfg);
      helper.log()?.resetHistory?.();
      await helper.load(allNodes, f);
      const outcomes: Array<Record<string, any>> = [];
      watchOutcomes(outcomes);
      if (p === 'handover') {
        // A burst over 1 MiB (the batch bound) ahead of the shapes: they wait behind it and the
        // redeploy below hands them to the new instances.
        const blocker = helper.getNode('blocker');
        for (let i = 0; i < 300; i++) blocker.receive({ payload: Buffer.alloc(4000, i % 256) });
      }
      for (const { s, i } of shapes) helper.getNode(`p${i}`).receive(s.msg(''));
      if (p === 'handover') {
        await helper.setFlows(f, 'full');
        watchOutcomes(outcomes);
      }
      await waitFor(() => outcomes.length >= shapes.length, 'every shape’s outcome', { timeoutMs: 60_000 });
      if (p === 'handover') {
        assert.ok(loggedTakeOver(), 'records were handed to the new instances');
      }
      assert.deepEqual(
        outcomes.filter((m) => m.error).map((m) => m.error.message),
        [],
      );
      runs++;
      for (const { s, i } of shapes) {
        const read = await readAll(kv.kafka.brokers, topics[i]!, runs);
        assert.equal(read.length, runs, `${s.name}: one record per run`);
        assert.deepEqual(
          bytesOf(read.at(-1)!),
          groupedByName(reference.get(s.name)),
          `${s.name}: kafka ${p} vs REST v1`,
        );
      }
    });
  }
});
