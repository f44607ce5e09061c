// SPDX-License-Identifier: Apache-2.0
/**
 * Avro in flows, in Node-RED's real runtime against the local endpoint: the producer's value
 * format (inline schema, registry schema, per-message msg.schema), mismatches reaching Catch with
 * SCHEMA_MISMATCH and no request made, and the msg → schema-options helper.
 */
import assert from 'node:assert/strict';

import avro from 'avsc';

import type { ProduceRecord } from '../../lib/types';
import { applySchemaOptions, schemaDefaults } from '../../nodes/shared/schema-options';
import { Client } from '../gateway/util';
import {
  allNodes,
  collect,
  endpointConfig,
  helper,
  producerFlow,
  topicAdminFlow,
  uniqueTopic,
  useTestEndpoint,
} from './support';
import { waitFor } from '../support/wait';
import { READING } from './record-shapes';

const API_KEY = 'schema-node-key-0123456789';
const decode = (buf: Buffer): unknown => ({
  ...(avro.Type.forSchema(READING as avro.Schema).fromBuffer(buf.subarray(5)) as object),
});

describe('schemas in flows', function () {
  this.timeout(20000);
  const te = useTestEndpoint(API_KEY);

  const flow = (
    cfg: Record<string, unknown> = {},
    producer: Record<string, unknown> = {},
  ): Array<Record<string, unknown>> => producerFlow(endpointConfig(te.endpoint, cfg), producer);

  it('v2: the producer sends Avro with a pasted schema; a mismatch reaches Catch naming the field, with no request', async () => {
    const topic = await te.createTopic('avro');
    await helper.load(
      allNodes,
      flow(
        { flavour: 'v2', authMode: 'iam' },
        { valueFormat: 'avro', valueSchemaSource: 'inline', valueSchema: JSON.stringify(READING, null, 2) },
      ),
      te.creds(),
    );
    const out = collect('out');
    const caught = collect('caught');
    const p1 = helper.getNode('p1');
    p1.receive({ topic, payload: { sensor: 'hall', celsius: 21.5 } });
    await waitFor(() => out.length === 1, 'delivery', { timeoutMs: 5000 });
    const before = te.endpoint.requestCount('produce');
    p1.receive({ topic, payload: { sensor: 'hall', celsius: 'warm' } });
    await waitFor(() => caught.length === 1, 'catch', { timeoutMs: 5000 });
    assert.equal(caught[0]!.error.code, 'SCHEMA_MISMATCH');
    assert.match(caught[0]!.error.message, /field "celsius" must be double/);
    assert.equal(te.endpoint.requestCount('produce'), before, 'no request for the mismatch');
    const [rec] = await te.endpoint.readRecords(topic);
    assert.equal(rec!.value[0], 0);
    assert.deepEqual(decode(rec!.value), { sensor: 'hall', celsius: 21.5 });
  });

  it('msg.schema overrides the node per message (schema object, registry id, "auto")', async () => {
    const topic = await te.createTopic('avro-msg');
    const registered = `${topic}-registered`;
    const c = await fetchRegister(registered);
    assert.equal(c, 200);
    await helper.load(
      allNodes,
      flow({ flavour: 'v2', authMode: 'iam', connections: 1, maxConnections: 1 }, {}),
      te.creds(),
    );
    const out = collect('out');
    const p1 = helper.getNode('p1');
    p1.receive({ topic, payload: { sensor: 'a', celsius: 1 }, schema: READING });
    await waitFor(() => out.length === 1, 'out.length === 1');
    p1.receive({
      topic,
      payload: { sensor: 'b', celsius: 2 },
      schema: { format: 'avro', id: registered, version: 1 },
    });
    await waitFor(() => out.length === 2, 'out.length === 2');
    p1.receive({ topic, payload: { plain: true }, schema: 'auto' });
    await waitFor(() => out.length === 3, 'out.length === 3');
    const recs = await te.endpoint.readRecords(topic);
    assert.deepEqual(decode(recs[0]!.value), { sensor: 'a', celsius: 1 });
    assert.deepEqual(decode(recs[1]!.value), { sensor: 'b', celsius: 2 });
    assert.equal(recs[2]!.value.toString(), '{"plain":true}');
  });

  it('v1: a registered schema is named with schemaname/schemaversion', async () => {
    const topic = await te.createTopic('avro-v1');
    const id = `${topic}-value`;
    assert.equal(await fetchRegister(id), 200);
    await helper.load(
      allNodes,
      flow(
        {},
        {
          valueFormat: 'avro',
          valueSchemaSource: 'registry',
          valueSchemaId: id,
          valueSchemaVersion: '1',
          serverValidation: true,
        },
      ),
      te.creds(),
    );
    const out = collect('out');
    helper.getNode('p1').receive({ topic, payload: { sensor: 'x', celsius: 3 } });
    await waitFor(() => out.length === 1, 'out.length === 1');
    const [rec] = await te.endpoint.readRecords(topic);
    const headers = new Map(rec!.headers.map(([k, v]) => [k, v.toString()]));
    assert.equal(headers.get('com.ibm.eventstreams.schemaregistry.schema.id'), id);
    assert.deepEqual(JSON.parse(rec!.value.toString()), { sensor: 'x', celsius: 3 });
  });

  it('a bad pasted schema is reported at deploy and fails each message clearly', async () => {
    await helper.load(
      allNodes,
      flow({}, { valueFormat: 'avro', valueSchema: '{"type":"record"}' }),
      te.creds(),
    );
    const caught = collect('caught');
    helper.getNode('p1').receive({ topic: 'x', payload: {} });
    await waitFor(() => caught.length === 1, 'caught.length === 1');
    assert.equal(caught[0]!.error.code, 'INVALID_SCHEMA');
  });

  it('topic-admin schema operations: register, list, get, compatibility, refused evolution, delete', async () => {
    await helper.load(allNodes, topicAdminFlow(endpointConfig(te.endpoint)), te.creds());
    const out = collect('out');
    const caught = collect('caught');
    const a1 = helper.getNode('a1');
    const id = uniqueTopic('flow-schema');
    /** Sends one request and resolves with its result payload, or {error} when Catch got it. */
    const step = async (operation: string, payload: unknown): Promise<any> => {
      const [o, c] = [out.length, caught.length];
      a1.receive({ operation, payload });
      await waitFor(() => out.length > o || caught.length > c, operation, { timeoutMs: 5000 });
      return caught.length > c ? { error: caught[c]!.error } : out[o]!.payload;
    };
    const reg = await step('schema-register', { id, schema: READING });
    assert.equal(reg.version, 1);
    assert.ok((await step('schema-list', {})).includes(id));
    assert.deepEqual((await step('schema-get', id)).schema, READING);
    assert.deepEqual(await step('schema-compatibility', { id, rule: 'FULL' }), { id, rule: 'FULL' });
    assert.deepEqual(await step('schema-compatibility', { id }), { id, rule: 'FULL' });
    const refused = await step('schema-register', {
      id,
      schema: { ...READING, fields: [READING.fields[0]] },
    });
    assert.equal(refused.error?.code, 'SCHEMA_INCOMPATIBLE');
    assert.equal((await step('schema-delete', { id })).deleted, true);
    const missing = await step('schema-get', { id });
    assert.equal(missing.error?.code, 'SCHEMA_NOT_FOUND');
  });

  describe('msg → schema options helper', () => {
    it('node defaults, msg.schema forms and Avro keys', () => {
      const defaults = schemaDefaults({
        valueFormat: 'avro',
        valueSchema: JSON.stringify(READING),
        valueStrategy: 'TopicRecord',
      });
      assert.equal(defaults.value?.strategy, 'topic_record');
      const r: ProduceRecord = { value: {} };
      assert.equal(applySchemaOptions(r, {}, defaults, undefined), false);
      assert.equal(r.valueSchema, defaults.value);
      const r2: ProduceRecord = { value: {} };
      applySchemaOptions(r2, { schema: 'auto' }, defaults, undefined);
      assert.equal(r2.valueSchema, undefined);
      const r3: ProduceRecord = { value: {} };
      assert.equal(
        applySchemaOptions(r3, { schema: { key: { format: 'avro', schema: '"long"' } } }, {}, 42),
        true,
      );
      assert.equal(r3.key, 42);
      assert.equal(r3.keySchema?.schema, '"long"');
      assert.throws(() => applySchemaOptions({ value: 1 }, { schema: 7 }, {}, undefined), {
        code: 'INVALID_SCHEMA',
      });
      assert.deepEqual(schemaDefaults({}), {});
    });
  });

  async function fetchRegister(id: string): Promise<number> {
    const c = new Client(te.endpoint);
    try {
      const res = await c.req('POST', '/artifacts', {
        headers: { 'content-type': 'application/json', 'x-registry-artifactid': id },
        body: JSON.stringify(READING),
      });
      return res.status;
    } finally {
      await c.close();
    }
  }
});
