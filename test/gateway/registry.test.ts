// SPDX-License-Identifier: Apache-2.0
/**
 * The local endpoint's Schema Registry over HTTPS with verification on: IBM's /artifacts API,
 * the Confluent-compatible /confluent API, compatibility rules on new versions (accepted and
 * refused under each rule), schema-conforming produce on v2 (Confluent wire format) and v1
 * (schemaname/schemaversion/schemavalidation), persistence across a restart, and the core
 * client end to end (EventStreamsClient with Avro values and its SchemaRegistryClient).
 */
import assert from 'node:assert/strict';

import avro from 'avsc';

import { EventStreamsClient } from '../../lib/client';
import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import { SCHEMA_ID_HEADER, SCHEMA_VERSION_HEADER } from '../../gateway/registry-produce';
import { basic, Client, removeDir, tempDir } from './util';

const KEY = 'registry-test-key-0123456789';

const V1 = {
  type: 'record',
  name: 'Reading',
  namespace: 'iot',
  fields: [{ name: 'celsius', type: 'double' }],
};
const ADD_OPTIONAL = {
  ...V1,
  fields: [...V1.fields, { name: 'room', type: 'string', default: 'unknown' }],
};
const ADD_REQUIRED = { ...V1, fields: [...V1.fields, { name: 'room', type: 'string' }] };
const DROP_FIELD = { ...V1, fields: [] };

describe('local endpoint: schema registry', function () {
  this.timeout(20_000);
  let dir: string;
  let ep: LocalEndpoint;
  let client: Client;
  let n = 0;
  const unique = (p: string): string => `${p}-${++n}-${Date.now().toString(36)}`;

  const json = (body: unknown): { headers: Record<string, string>; body: string } => ({
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

  before(async function () {
    dir = tempDir();
    ep = await startLocalEndpoint({ port: 0, stateDir: dir, apiKeys: [KEY], topics: [{ name: 'readings' }] });
    client = new Client(ep);
  });

  after(async function () {
    await client.close();
    await ep.stop();
    removeDir(dir);
  });

  describe('IBM artifacts API', function () {
    it('creates, lists, versions, reads and deletes schemas with the documented bodies', async function () {
      const id = unique('citizen');
      const created = await client.req('POST', '/artifacts', {
        headers: { 'content-type': 'application/json', 'x-registry-artifactid': id },
        body: JSON.stringify(V1),
      });
      assert.equal(created.status, 200, created.text);
      assert.equal(created.json.id, id);
      assert.equal(created.json.type, 'AVRO');
      assert.equal(created.json.version, 1);
      assert.equal(typeof created.json.globalId, 'number');
      assert.equal(
        (
          await client.req('POST', '/artifacts', {
            headers: { 'x-registry-artifactid': id },
            body: JSON.stringify(V1),
          })
        ).status,
        409,
      );
      assert.ok((await client.req('GET', '/artifacts')).json.includes(id));
      const v2 = await client.req('POST', `/artifacts/${id}/versions`, json(ADD_OPTIONAL));
      assert.equal(v2.json.version, 2);
      assert.deepEqual((await client.req('GET', `/artifacts/${id}/versions`)).json, [1, 2]);
      assert.deepEqual((await client.req('GET', `/artifacts/${id}`)).json.fields.length, 2);
      assert.deepEqual((await client.req('GET', `/artifacts/${id}/versions/1`)).json.fields.length, 1);
      assert.equal((await client.req('DELETE', `/artifacts/${id}/versions/1`)).status, 204);
      assert.deepEqual((await client.req('GET', `/artifacts/${id}/versions`)).json, [2]);
      assert.equal((await client.req('DELETE', `/artifacts/${id}`)).status, 204);
      const gone = await client.req('GET', `/artifacts/${id}`);
      assert.equal(gone.status, 404);
      assert.deepEqual(gone.json, {
        error_code: 404,
        message: `No artifact with id '${id}' could be found.`,
      });
    });

    it('refuses invalid schemas and unauthenticated callers', async function () {
      const bad = await client.req('POST', '/artifacts', json({ type: 'record', name: 'X' }));
      assert.equal(bad.status, 422);
      assert.match(bad.json.message, /not a valid Avro schema/);
      assert.equal((await client.req('GET', '/artifacts', { auth: false })).status, 401);
      assert.equal((await client.req('GET', '/artifacts', { auth: basic('token', KEY) })).status, 200);
    });

    it('global and per-schema COMPATIBILITY rules', async function () {
      assert.deepEqual((await client.req('GET', '/rules/COMPATIBILITY')).json, {
        type: 'COMPATIBILITY',
        config: 'NONE',
      });
      const id = unique('rules');
      await client.req('POST', '/artifacts', {
        headers: { 'x-registry-artifactid': id },
        body: JSON.stringify(V1),
      });
      assert.equal((await client.req('GET', `/artifacts/${id}/rules/COMPATIBILITY`)).status, 404);
      assert.equal(
        (
          await client.req(
            'POST',
            `/artifacts/${id}/rules`,
            json({ type: 'COMPATIBILITY', config: 'FORWARD' }),
          )
        ).status,
        204,
      );
      assert.deepEqual((await client.req('GET', `/artifacts/${id}/rules/COMPATIBILITY`)).json, {
        type: 'COMPATIBILITY',
        config: 'FORWARD',
      });
      const put = await client.req(
        'PUT',
        `/artifacts/${id}/rules/COMPATIBILITY`,
        json({ type: 'COMPATIBILITY', config: 'BACKWARD' }),
      );
      assert.deepEqual(put.json, { type: 'COMPATIBILITY', config: 'BACKWARD' });
      assert.equal(
        (await client.req('PUT', `/artifacts/${id}/rules/COMPATIBILITY`, json({ config: 'SIDEWAYS' })))
          .status,
        422,
      );
      assert.equal((await client.req('DELETE', `/artifacts/${id}/rules/COMPATIBILITY`)).status, 204);
    });
  });

  describe('schema evolution under each compatibility rule', function () {
    const cases: Array<[string, object, boolean]> = [
      ['NONE', ADD_REQUIRED, true],
      ['NONE', DROP_FIELD, true],
      ['BACKWARD', ADD_OPTIONAL, true],
      ['BACKWARD', DROP_FIELD, true],
      ['BACKWARD', ADD_REQUIRED, false],
      ['FORWARD', ADD_REQUIRED, true],
      ['FORWARD', DROP_FIELD, false],
      ['FULL', ADD_OPTIONAL, true],
      ['FULL', ADD_REQUIRED, false],
      ['FULL', DROP_FIELD, false],
    ];
    for (const [rule, next, accepted] of cases) {
      const what =
        next === ADD_OPTIONAL
          ? 'adding an optional field'
          : next === ADD_REQUIRED
            ? 'adding a required field'
            : 'dropping a field';
      it(`${rule}: ${what} is ${accepted ? 'accepted' : 'refused'}`, async function () {
        const id = unique(`evo-${rule.toLowerCase()}`);
        await client.req('POST', '/artifacts', {
          headers: { 'x-registry-artifactid': id },
          body: JSON.stringify(V1),
        });
        await client.req('POST', `/artifacts/${id}/rules`, json({ type: 'COMPATIBILITY', config: rule }));
        const res = await client.req('POST', `/artifacts/${id}/versions`, json(next));
        if (accepted) {
          assert.equal(res.status, 200, res.text);
          assert.equal(res.json.version, 2);
        } else {
          assert.equal(res.status, 409, res.text);
          assert.match(res.json.message, new RegExp(`incompatible.*${rule}`));
          assert.deepEqual((await client.req('GET', `/artifacts/${id}/versions`)).json, [1]);
        }
      });
    }

    it('the global rule applies where no per-schema rule is set (Confluent /config)', async function () {
      const subject = unique('global');
      await client.req(
        'POST',
        `/confluent/subjects/${subject}/versions`,
        json({ schema: JSON.stringify(V1) }),
      );
      assert.deepEqual(
        (await client.req('PUT', '/confluent/config', json({ compatibility: 'BACKWARD' }))).json,
        { compatibility: 'BACKWARD' },
      );
      try {
        const refused = await client.req(
          'POST',
          `/confluent/subjects/${subject}/versions`,
          json({ schema: JSON.stringify(ADD_REQUIRED) }),
        );
        assert.equal(refused.status, 409);
        assert.equal(refused.json.error_code, 409);
        const check = await client.req(
          'POST',
          `/confluent/compatibility/subjects/${subject}/versions/latest`,
          json({ schema: JSON.stringify(ADD_OPTIONAL) }),
        );
        assert.deepEqual(check.json, { is_compatible: true });
      } finally {
        await client.req('PUT', '/confluent/config', json({ compatibility: 'NONE' }));
      }
    });
  });

  describe('Confluent-compatible API', function () {
    it('registers, looks up and serves schemas by id; registering the same schema again returns its id', async function () {
      const subject = unique('conf');
      const a = await client.req(
        'POST',
        `/confluent/subjects/${subject}/versions`,
        json({ schema: JSON.stringify(V1) }),
      );
      assert.equal(a.status, 200, a.text);
      assert.match(String(a.headers['content-type']), /application\/vnd\.schemaregistry\.v1\+json/);
      const again = await client.req(
        'POST',
        `/confluent/subjects/${subject}/versions`,
        json({ schema: JSON.stringify(V1) }),
      );
      assert.equal(again.json.id, a.json.id);
      const byId = await client.req('GET', `/confluent/schemas/ids/${a.json.id}`);
      assert.deepEqual(JSON.parse(byId.json.schema), V1);
      const latest = await client.req('GET', `/confluent/subjects/${subject}/versions/latest`);
      assert.deepEqual(
        { ...latest.json, schema: undefined },
        { subject, version: 1, id: a.json.id, schema: undefined },
      );
      const lookup = await client.req(
        'POST',
        `/confluent/subjects/${subject}`,
        json({ schema: JSON.stringify(V1) }),
      );
      assert.equal(lookup.json.id, a.json.id);
      const missing = await client.req('GET', '/confluent/subjects/nope-x/versions');
      assert.equal(missing.status, 404);
      assert.equal(missing.json.error_code, 40401);
      assert.equal((await client.req('GET', '/confluent/schemas/ids/999999')).json.error_code, 40403);
      assert.equal(
        (
          await client.req(
            'POST',
            `/confluent/subjects/${subject}/versions`,
            json({ schema: '{}', schemaType: 'PROTOBUF' }),
          )
        ).status,
        422,
      );
      assert.deepEqual((await client.req('DELETE', `/confluent/subjects/${subject}`)).json, [1]);
    });
  });

  describe('schema-conforming produce', function () {
    it('v2: registers per naming strategy, validates, and stores the Confluent wire format', async function () {
      const topic = unique('avro-v2');
      await ep.backend.createTopic(topic, 1, []);
      const body = {
        key: { type: 'text', data: 'sensor-1' },
        value: {
          type: 'avro',
          data: JSON.stringify({ celsius: 21.5 }),
          schema: JSON.stringify(V1),
          schema_name_strategy: 'topic_record',
        },
      };
      const res = await client.req('POST', `/v2/topics/${topic}/records?serializer=confluent`, json(body));
      assert.equal(res.status, 200, res.text);
      const subject = `${topic}-iot.Reading-value`;
      const latest = await client.req('GET', `/confluent/subjects/${subject}/versions/latest`);
      assert.equal(latest.status, 200, latest.text);
      const [rec] = await ep.readRecords(topic);
      assert.equal(rec!.value[0], 0, 'magic byte');
      assert.equal(rec!.value.readUInt32BE(1), latest.json.id);
      assert.deepEqual(
        { ...avro.Type.forSchema(V1 as avro.Schema).fromBuffer(rec!.value.subarray(5)) },
        { celsius: 21.5 },
      );
      assert.equal(rec!.key!.toString(), 'sensor-1');

      const mismatch = await client.req(
        'POST',
        `/v2/topics/${topic}/records?serializer=confluent`,
        json({
          value: { type: 'avro', data: '{"celsius":"warm"}', schema: JSON.stringify(V1) },
        }),
      );
      assert.equal(mismatch.status, 400);
      assert.equal(mismatch.json.error.code, 'schema_mismatch');
      assert.match(mismatch.json.error.message, /celsius/);
      assert.equal((await ep.readRecords(topic)).length, 1, 'nothing stored for the mismatch');
    });

    it('v2: an incompatible schema under the topic strategy is refused with 409', async function () {
      const topic = unique('avro-evo');
      await ep.backend.createTopic(topic, 1, []);
      const send = (schema: object, data: object) =>
        client.req(
          'POST',
          `/v2/topics/${topic}/records?serializer=confluent`,
          json({ value: { type: 'avro', data: JSON.stringify(data), schema: JSON.stringify(schema) } }),
        );
      assert.equal((await send(V1, { celsius: 1 })).status, 200);
      await client.req(
        'PUT',
        `/confluent/config/${topic}-value`,
        json({ compatibility: 'BACKWARD_TRANSITIVE' }),
      );
      assert.equal((await send(ADD_OPTIONAL, { celsius: 2, room: 'x' })).status, 200);
      // Readable after ADD_OPTIONAL, but not after V1: refused only because the rule is transitive.
      const refused = await send(ADD_REQUIRED, { celsius: 3, room: 'y' });
      assert.equal(refused.status, 409);
      assert.equal(refused.json.error.code, 'schema_incompatible');
    });

    it('v1: schemaname/schemaversion set the schema headers; unknown schema is 404; schemavalidation=true validates', async function () {
      const id = unique('v1schema');
      await client.req('POST', '/artifacts', {
        headers: { 'x-registry-artifactid': id },
        body: JSON.stringify(V1),
      });
      const ok = await client.produce(
        'readings',
        '{"celsius":3.5}',
        'application/json',
        `?schemaname=${id}&schemaversion=1&schemavalidation=true`,
      );
      assert.equal(ok.status, 200, ok.text);
      const recs = await ep.readRecords('readings');
      const rec = recs[recs.length - 1]!;
      const headers = new Map(rec.headers.map(([k, v]) => [k, v.toString()]));
      assert.equal(headers.get(SCHEMA_ID_HEADER), id);
      assert.equal(headers.get(SCHEMA_VERSION_HEADER), '1');
      const unknown = await client.produce(
        'readings',
        '{"celsius":1}',
        'application/json',
        '?schemaname=no-such&schemaversion=1',
      );
      assert.equal(unknown.status, 404);
      assert.equal(unknown.json.error_code, 404);
      assert.equal(unknown.json.error.schema, 'no-such');
      const invalid = await client.produce(
        'readings',
        '{"celsius":"hot"}',
        'application/json',
        `?schemaname=${id}&schemaversion=1&schemavalidation=true`,
      );
      assert.equal(invalid.status, 400);
      // Without schemavalidation the body is not validated (documented).
      const unvalidated = await client.produce(
        'readings',
        '{"celsius":"hot"}',
        'application/json',
        `?schemaname=${id}&schemaversion=1`,
      );
      assert.equal(unvalidated.status, 200);
    });

    it('the core client: Avro by inline schema (v2), by registry id (v2 fetches it), and registry operations', async function () {
      const es = new EventStreamsClient({
        url: ep.url,
        flavour: 'v2',
        auth: { mode: 'bearer', apiKey: KEY },
        tls: { ca: ep.caPem! },
      });
      try {
        const topic = unique('core');
        await ep.backend.createTopic(topic, 1, []);
        await es.produce(topic, { value: { celsius: 7 }, valueSchema: { format: 'avro', schema: V1 } });
        const id = unique('core-schema');
        const meta = await es.schemas.registerSchema(id, ADD_OPTIONAL);
        assert.equal(meta.version, 1);
        await es.schemas.setCompatibility('FULL', id);
        assert.equal(await es.schemas.getCompatibility(id), 'FULL');
        await assert.rejects(es.schemas.registerSchema(id, DROP_FIELD), { code: 'SCHEMA_INCOMPATIBLE' });
        await es.produce(topic, {
          value: { celsius: 8, room: 'hall' },
          valueSchema: { format: 'avro', id, version: 1 },
        });
        await assert.rejects(
          es.produce(topic, { value: { celsius: 'x' }, valueSchema: { format: 'avro', schema: V1 } }),
          { code: 'SCHEMA_MISMATCH' },
        );
        await assert.rejects(es.schemas.getSchema('nope-none'), { code: 'SCHEMA_NOT_FOUND' });
        assert.ok((await es.schemas.listSchemas()).includes(id));
        assert.deepEqual(await es.schemas.listVersions(id), [1]);
        await es.schemas.deleteSchema(id);
        const recs = await ep.readRecords(topic);
        assert.equal(recs.length, 2);
        assert.ok(recs.every((r) => r.value[0] === 0));
      } finally {
        await es.close();
      }
    });
  });

  it('keeps its state across a restart (state directory)', async function () {
    const stateDir = tempDir();
    try {
      let e = await startLocalEndpoint({ port: 0, stateDir, apiKeys: [KEY] });
      let c = new Client(e);
      const created = await c.req('POST', '/artifacts', {
        headers: { 'x-registry-artifactid': 'kept' },
        body: JSON.stringify(V1),
      });
      await c.req('PUT', '/rules/COMPATIBILITY', json({ type: 'COMPATIBILITY', config: 'FULL' }));
      await c.close();
      await e.stop();
      e = await startLocalEndpoint({ port: 0, stateDir, apiKeys: [KEY] });
      c = new Client(e);
      try {
        assert.deepEqual((await c.req('GET', '/artifacts')).json, ['kept']);
        assert.equal((await c.req('GET', '/rules/COMPATIBILITY')).json.config, 'FULL');
        const byId = await c.req('GET', `/confluent/schemas/ids/${created.json.globalId}`);
        assert.deepEqual(JSON.parse(byId.json.schema), V1);
        const next = await c.req('POST', '/confluent/subjects/other/versions', json({ schema: '"string"' }));
        assert.ok(next.json.id > created.json.globalId, 'ids are not reused');
      } finally {
        await c.close();
        await e.stop();
      }
    } finally {
      removeDir(stateDir);
    }
  });
});
