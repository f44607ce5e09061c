// SPDX-License-Identifier: Apache-2.0
/**
 * lib/confluent-registry.ts against the local endpoint's Confluent-compatible registry
 * (`/confluent`, as IBM Cloud serves it), over HTTPS with verification on; and the `/artifacts`
 * rule delete of lib/schema-registry.ts. The same client is pointed at Apicurio's
 * `/apis/ccompat/v7`, Confluent or Redpanda by its base URL alone (`confluentUrl`).
 */
import assert from 'node:assert/strict';

import { EventStreamsClient } from '../../lib/client';
import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import { removeDir, tempDir } from '../gateway/util';

const KEY = 'confluent-client-test-key-0123';

const v1 = { type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }] };
const v2 = {
  type: 'record',
  name: 'Order',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'qty', type: 'int', default: 1 },
  ],
};
const breaking = { type: 'record', name: 'Order', fields: [{ name: 'id', type: 'long' }] };

describe('Confluent-compatible registry client (lib/confluent-registry)', function () {
  this.timeout(20_000);
  let dir: string;
  let ep: LocalEndpoint;
  let client: EventStreamsClient;
  const subject = `orders-${Date.now()}-value`;

  before(async () => {
    dir = tempDir();
    ep = await startLocalEndpoint({ port: 0, stateDir: dir, apiKeys: [KEY] });
    client = new EventStreamsClient({
      url: ep.url,
      auth: { mode: 'bearer', apiKey: KEY },
      tls: { ca: ep.caPem! },
      retry: { retries: 1, initialDelayMs: 5, maxDelayMs: 10 },
    });
  });

  after(async () => {
    await client.close();
    await ep.stop();
    removeDir(dir);
  });

  it('registers, finds ids both ways, lists subjects and versions, reads a version', async () => {
    const c = client.confluent;
    const { id } = await c.register(subject, v1);
    assert.equal(typeof id, 'number');
    assert.equal(await c.getIdForSchema(subject, v1), id);
    const byId = await c.getSchemaById(id);
    assert.deepEqual(JSON.parse(byId.schema), v1);
    assert.equal(byId.schemaType, 'AVRO');
    assert.ok((await c.listSubjects()).includes(subject));
    const second = await c.register(subject, JSON.stringify(v2));
    assert.notEqual(second.id, id);
    assert.deepEqual(await c.listVersions(subject), [1, 2]);
    const latest = await c.getVersion(subject);
    assert.equal(latest.version, 2);
    assert.equal(latest.id, second.id);
    assert.equal((await c.getVersion(subject, 1)).id, id);
  });

  it("idFor (the Kafka producer's lookup): registers once for many concurrent asks, finds a registered schema, refuses an incompatible one", async () => {
    const s = `idfor-${Date.now()}-value`;
    const text = JSON.stringify(v1);
    const ids = await Promise.all(Array.from({ length: 20 }, () => client.confluent.idFor(s, text)));
    assert.equal(new Set(ids).size, 1);
    assert.deepEqual(await client.confluent.listVersions(s), [1]);
    // Another client (empty cache) finds the registered schema by lookup.
    const other = new EventStreamsClient({
      url: ep.url,
      auth: { mode: 'bearer', apiKey: KEY },
      tls: { ca: ep.caPem! },
      retry: { retries: 1, initialDelayMs: 5, maxDelayMs: 10 },
    });
    try {
      assert.equal(await other.confluent.idFor(s, text), ids[0]);
      await other.confluent.setCompatibility('BACKWARD', s);
      await assert.rejects(other.confluent.idFor(s, JSON.stringify(breaking)), {
        code: 'SCHEMA_INCOMPATIBLE',
      });
    } finally {
      await other.close();
    }
    assert.deepEqual(await client.confluent.listVersions(s), [1]);
  });

  it('answers SCHEMA_NOT_FOUND for an unregistered schema or id, and refuses bad input before any request', async () => {
    const c = client.confluent;
    await assert.rejects(c.getIdForSchema(subject, breaking), { code: 'SCHEMA_NOT_FOUND' });
    await assert.rejects(c.getSchemaById(999_999), { code: 'SCHEMA_NOT_FOUND' });
    await assert.rejects(c.getVersion('no-such-subject'), { code: 'SCHEMA_NOT_FOUND' });
    const before = ep.requestCount();
    await assert.rejects(c.getSchemaById(-1), { code: 'INVALID_SCHEMA' });
    await assert.rejects(c.register('', v1), { code: 'INVALID_SCHEMA' });
    await assert.rejects(c.register(subject, ''), { code: 'INVALID_SCHEMA' });
    await assert.rejects(c.getVersion(subject, 0), { code: 'INVALID_SCHEMA' });
    await assert.rejects(c.setCompatibility('SOMETIMES', subject), { code: 'INVALID_SCHEMA' });
    await assert.rejects(c.register(subject, v1, 'XML' as never), { code: 'INVALID_SCHEMA' });
    assert.equal(ep.requestCount(), before, 'nothing was sent');
  });

  it('reads and sets compatibility, checks a candidate, and refuses an incompatible one', async () => {
    const c = client.confluent;
    const global = await c.getCompatibility();
    // A subject without its own level reports the global one.
    assert.equal(await c.getCompatibility(subject), global);
    assert.deepEqual(await c.setCompatibility('BACKWARD', subject), { subject, rule: 'BACKWARD' });
    assert.equal(await c.getCompatibility(subject), 'BACKWARD');
    assert.equal(await c.checkCompatibility(subject, v2), true);
    assert.equal(await c.checkCompatibility(subject, breaking), false);
    await assert.rejects(c.register(subject, breaking), { code: 'SCHEMA_INCOMPATIBLE' });
  });

  it('deletes a version and a subject', async () => {
    const c = client.confluent;
    assert.equal(await c.deleteVersion(subject, 2), 2);
    assert.deepEqual(await c.listVersions(subject), [1]);
    assert.deepEqual(await c.deleteSubject(subject), [1]);
    assert.ok(!(await c.listSubjects()).includes(subject));
  });

  it('deletes a schema compatibility rule over /artifacts', async () => {
    const s = client.schemas;
    const { id } = await s.registerSchema(`rule-${Date.now()}`, v1);
    await s.setCompatibility('FULL', id);
    assert.equal(await s.getCompatibility(id), 'FULL');
    assert.deepEqual(await s.deleteCompatibility(id), { id });
    await assert.rejects(s.deleteCompatibility(id), { code: 'SCHEMA_NOT_FOUND' });
    await assert.rejects(s.setState(id, 'SLEEPING'), { code: 'INVALID_SCHEMA' });
  });
});
