// SPDX-License-Identifier: Apache-2.0
/**
 * Issue 26: two gateways (`--kafka`, one broker, the same keys, separate state directories)
 * behind an imagined round-robin load balancer share ONE schema registry. Every registry and
 * produce call alternates between them. Ids come from the registry topic applied in log order, so
 * they agree between gateways, a write on one is read on the other, rules set on one are enforced
 * by the other, racing registrations get distinct ids, ids survive a restart of both, and Avro
 * records written through both decode with an independent Confluent deserializer.
 */
import assert from 'node:assert/strict';
import https from 'node:https';

import { SchemaRegistry as ConfluentRegistry } from '@kafkajs/confluent-schema-registry';

import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import { kafkaOrSkip, readAll, uniqueTopic, type KafkaHandle } from '../support/kafka';
import { Client, removeDir, tempDir } from '../gateway/util';

const MANAGER = 'cluster-manager-key-0123456789';
const WRITER = 'cluster-writer-key-0123456789';
const CT = { 'content-type': 'application/vnd.schemaregistry.v1+json' };

const record = (name: string, fields: Array<{ name: string; type: unknown; default?: unknown }>): string =>
  JSON.stringify({ type: 'record', name, namespace: 'com.example.cluster', fields });

describe('security: two gateways on one Kafka share one schema registry (issue 26)', function () {
  this.timeout(240_000);
  let kafka: KafkaHandle;
  const gateways: Array<{ ep: LocalEndpoint; client: Client; dir: string }> = [];
  let n = 0;
  const next = (): Client => gateways[n++ % gateways.length]!.client;
  const tag = uniqueTopic('reg').replace(/[^A-Za-z0-9]/g, '');
  const subject = (s: string): string => `${tag}-${s}`;

  async function startBoth(): Promise<void> {
    for (const name of ['a', 'b']) {
      const dir = tempDir(`es-regcluster-${name}-`);
      const ep = await startLocalEndpoint({
        port: 0,
        stateDir: dir,
        apiKeys: [MANAGER],
        writerKeys: [WRITER],
        kafka: { brokers: kafka.brokers, clientId: `registry-cluster-${name}` },
      });
      gateways.push({ ep, client: new Client(ep), dir });
    }
  }

  async function stopBoth(): Promise<void> {
    for (const g of gateways.splice(0)) {
      await g.client.close();
      await g.ep.stop();
      removeDir(g.dir);
    }
  }

  before(async function () {
    kafka = await kafkaOrSkip(this);
    await startBoth();
  });

  after(stopBoth);

  const register = (c: Client, subj: string, schema: string) =>
    c.req('POST', `/confluent/subjects/${subj}/versions`, { headers: CT, body: JSON.stringify({ schema }) });

  it('gives distinct ids to schemas registered through different gateways, and each reads the other’s', async function () {
    const a = record('A', [{ name: 'a', type: 'string' }]);
    const b = record('B', [{ name: 'b', type: 'long' }]);
    const ra = await register(gateways[0]!.client, subject('a'), a);
    const rb = await register(gateways[1]!.client, subject('b'), b);
    assert.equal(ra.status, 200, ra.text);
    assert.equal(rb.status, 200, rb.text);
    assert.notEqual(ra.json.id, rb.json.id, 'one id per schema across the cluster');
    for (const g of gateways) {
      const byA = await g.client.req('GET', `/confluent/schemas/ids/${ra.json.id}`);
      const byB = await g.client.req('GET', `/confluent/schemas/ids/${rb.json.id}`);
      assert.equal(byA.status, 200, byA.text);
      assert.equal(JSON.parse(byA.json.schema).name, 'A');
      assert.equal(JSON.parse(byB.json.schema).name, 'B');
      // No 404 for the subject registered on the other gateway.
      const latest = await g.client.req('GET', `/confluent/subjects/${subject('b')}/versions/latest`);
      assert.equal(latest.status, 200, latest.text);
      assert.equal(latest.json.id, rb.json.id);
      const list = await g.client.req('GET', '/confluent/subjects');
      assert.ok(list.json.includes(subject('a')) && list.json.includes(subject('b')));
    }
    // Registering the same schema again on the other gateway returns the same id.
    const again = await register(gateways[1]!.client, subject('a'), a);
    assert.equal(again.json.id, ra.json.id);
  });

  it('alternates every registry call: versions, rules, deletes and 404s agree on both', async function () {
    const s = subject('evolve');
    const v1 = record('Evolve', [{ name: 'x', type: 'int' }]);
    const v2 = record('Evolve', [
      { name: 'x', type: 'int' },
      { name: 'y', type: 'string', default: '' },
    ]);
    const breaking = record('Evolve', [{ name: 'z', type: 'string' }]);
    assert.equal((await register(next(), s, v1)).status, 200);
    // A BACKWARD rule set through one gateway…
    const rule = await next().req('PUT', `/confluent/config/${s}`, {
      headers: CT,
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
    });
    assert.equal(rule.status, 200, rule.text);
    // …is read and enforced by both.
    for (const g of gateways) {
      const got = await g.client.req('GET', `/confluent/config/${s}`);
      assert.equal(got.json.compatibilityLevel, 'BACKWARD');
      const refused = await register(g.client, s, breaking);
      assert.equal(refused.status, 409, refused.text);
    }
    const ok = await register(next(), s, v2);
    assert.equal(ok.status, 200, ok.text);
    for (const g of gateways) {
      const versions = await g.client.req('GET', `/confluent/subjects/${s}/versions`);
      assert.deepEqual(versions.json, [1, 2]);
    }
    // The global rule, set on one, is the other's too.
    const global = await next().req('GET', '/confluent/config');
    const other = await next().req('GET', '/confluent/config');
    assert.equal(global.json.compatibilityLevel, other.json.compatibilityLevel);
    // A version deleted through one is 404 on both.
    const del = await next().req('DELETE', `/confluent/subjects/${s}/versions/2`);
    assert.equal(del.status, 200, del.text);
    for (const g of gateways) {
      const gone = await g.client.req('GET', `/confluent/subjects/${s}/versions/2`);
      assert.equal(gone.status, 404, gone.text);
      assert.equal(gone.json.error_code, 40402);
    }
    // IBM's API on the same state: the artifact deleted through one is 404 on the other.
    const delAll = await next().req('DELETE', `/artifacts/${s}`);
    assert.equal(delAll.status, 204, delAll.text);
    for (const g of gateways) {
      assert.equal((await g.client.req('GET', `/artifacts/${s}`)).status, 404);
    }
  });

  it('racing registrations on both gateways at once get distinct ids, the same on both', async function () {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        register(
          gateways[i % 2]!.client,
          subject(`race-${i % 3}`),
          record(`R${i}`, [{ name: `f${i}`, type: 'int' }]),
        ),
      ),
    );
    for (const r of results) assert.equal(r.status, 200, r.text);
    const ids = results.map((r) => r.json.id as number);
    assert.equal(new Set(ids).size, ids.length, `distinct ids: ${ids.join(',')}`);
    for (const g of gateways) {
      for (let i = 0; i < ids.length; i++) {
        const got = await g.client.req('GET', `/confluent/schemas/ids/${ids[i]}`);
        assert.equal(JSON.parse(got.json.schema).name, `R${i}`);
      }
    }
  });

  it('Avro produce alternating between gateways decodes with a Confluent deserializer; ids survive a restart of both', async function () {
    const topic = uniqueTopic('regcluster');
    const created = await gateways[0]!.client.req('POST', '/admin/topics', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: topic, partition_count: 1 }),
    });
    assert.equal(created.status, 202, created.text);
    const shapes = [
      record('Reading', [{ name: 'sensor', type: 'string' }]),
      record('Alarm', [{ name: 'level', type: 'int' }]),
    ];
    const sent: Array<{ key: string; value: Record<string, unknown> }> = [];
    for (let i = 0; i < 10; i++) {
      const value = i % 2 === 0 ? { sensor: `s${i}` } : { level: i };
      const key = `k${i}`;
      // A Writer registers through produce (record strategy: one subject per record name).
      const r = await next().req('POST', `/v2/topics/${topic}/records?serializer=confluent`, {
        auth: `Bearer ${WRITER}`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          key: { type: 'text', data: key },
          value: { type: 'avro', data: value, schema: shapes[i % 2], schema_name_strategy: 'topic_record' },
        }),
      });
      assert.equal(r.status, 200, r.text);
      sent.push({ key, value });
    }
    const records = await readAll(kafka.brokers, topic, sent.length);
    const ids = new Set(records.map((r) => r.value!.readUInt32BE(1)));
    assert.equal(ids.size, 2, 'two schemas, two ids, whichever gateway wrote the record');
    const decodeAll = async (ep: LocalEndpoint): Promise<void> => {
      const confluent = new ConfluentRegistry({
        host: `${ep.url}/confluent`,
        auth: { username: 'token', password: MANAGER },
        agent: new https.Agent({ ca: ep.caPem! }),
      });
      for (const r of records) {
        const expected = sent.find((s) => s.key === r.key!.toString())!;
        assert.deepEqual({ ...(await confluent.decode(r.value!)) }, expected.value);
      }
    };
    await decodeAll(gateways[0]!.ep);
    await decodeAll(gateways[1]!.ep);

    // Restart both (fresh state directories): every id still names the same schema.
    const before = new Map<number, string>();
    for (const id of ids) {
      before.set(id, (await gateways[0]!.client.req('GET', `/confluent/schemas/ids/${id}`)).json.schema);
    }
    const a = record('A', [{ name: 'a', type: 'string' }]);
    const idA = (await register(next(), subject('a'), a)).json.id as number;
    await stopBoth();
    await startBoth();
    for (const g of gateways) {
      for (const [id, schema] of before) {
        const got = await g.client.req('GET', `/confluent/schemas/ids/${id}`);
        assert.equal(got.status, 200, got.text);
        assert.equal(got.json.schema, schema);
      }
      assert.equal((await register(g.client, subject('a'), a)).json.id, idA);
    }
    await decodeAll(gateways[1]!.ep);
  });
});
