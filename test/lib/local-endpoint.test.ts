// SPDX-License-Identifier: Apache-2.0
/**
 * The client's happy paths end to end against the package's own local endpoint (HTTPS with its
 * generated CA, verification on): records are read back from the endpoint's memory backend.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { EventStreamsClient } from '../../lib/client';
import type { EventStreamsError } from '../../lib/errors';
import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import type { ClientOptions } from '../../lib/types';

const KEY = 'local-endpoint-client-key-0123456789';

async function rejection(p: Promise<unknown>): Promise<EventStreamsError> {
  try {
    await p;
  } catch (err) {
    return err as EventStreamsError;
  }
  assert.fail('expected a rejection');
}

describe('EventStreamsClient against the local endpoint', () => {
  let dir: string;
  let ep: LocalEndpoint;
  const clients: EventStreamsClient[] = [];
  let n = 0;
  const unique = (prefix: string): string => `${prefix}-${process.pid}-${++n}`;
  const make = (extra: Partial<ClientOptions> = {}): EventStreamsClient => {
    const c = new EventStreamsClient({
      url: ep.url,
      adminUrl: ep.adminUrl,
      auth: { mode: 'bearer', apiKey: KEY },
      tls: { ca: ep.caPem! },
      retry: { retries: 3, initialDelayMs: 1, maxDelayMs: 20 },
      ...extra,
    });
    clients.push(c);
    return c;
  };
  const topic = async (partitions = 1): Promise<string> => {
    const name = unique('t');
    await ep.backend.createTopic(name, partitions, []);
    return name;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'es-client-'));
    ep = await startLocalEndpoint({ port: 0, stateDir: dir, apiKeys: [KEY], tokenLifetimeSec: 1 });
  });
  after(async () => {
    await ep.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    ep.clearFaults();
    await Promise.all(clients.splice(0).map((c) => c.close({ deadlineMs: 0 })));
  });

  it('v1: writes value, key and headers that read back unchanged', async () => {
    const t = await topic(3);
    const client = make();
    const r1 = await client.produce(t, {
      value: { order: 7 },
      key: 'cust-1',
      headers: { colour: 'red', bin: Buffer.from([0, 255]) },
    });
    const r2 = await client.produce(t, { value: Buffer.from([1, 2, 3]), key: Buffer.from([0xca, 0xfe]) });
    assert.equal(r1.topic, t);
    assert.equal(r1.attempts, 1);
    assert.equal(typeof r1.partition, 'number');
    assert.equal(typeof r1.offset, 'number');
    assert.equal(typeof r1.timestamp, 'number');
    const records = await ep.readRecords(t);
    const rec1 = records.find((r) => r.partition === r1.partition && r.offset === r1.offset)!;
    assert.equal(rec1.value.toString(), '{"order":7}');
    assert.equal(rec1.key?.toString(), 'cust-1');
    assert.deepEqual(rec1.headers, [
      ['colour', Buffer.from('red')],
      ['bin', Buffer.from([0, 255])],
    ]);
    const rec2 = records.find((r) => r.partition === r2.partition && r.offset === r2.offset)!;
    assert.deepEqual(rec2.value, Buffer.from([1, 2, 3]));
    assert.deepEqual(rec2.key, Buffer.from([0xca, 0xfe]));
  });

  it('v2 with IAM: the JSON envelope reads back as the same bytes', async () => {
    const t = await topic();
    const client = make({ flavour: 'v2', auth: { mode: 'iam', apiKey: KEY, iamUrl: ep.iamUrl } });
    const r = await client.produce(t, {
      value: { a: 1 },
      key: Buffer.from([1]),
      headers: [{ name: 'h', value: 'v' }],
    });
    assert.equal(r.topic, t);
    const [rec] = await ep.readRecords(t);
    assert.equal(rec!.value.toString(), '{"a":1}');
    assert.deepEqual(rec!.key, Buffer.from([1]));
    assert.deepEqual(rec!.headers, [['h', Buffer.from('v')]]);
  });

  it('IAM: keeps producing across token expiry (1 s tokens)', async () => {
    const t = await topic();
    const client = make({ auth: { mode: 'iam', apiKey: KEY, iamUrl: ep.iamUrl } });
    const iamBefore = ep.requestCount('iam');
    await client.produce(t, { value: 1 });
    await new Promise((r) => setTimeout(r, 1100));
    const r = await client.produce(t, { value: 2 });
    assert.equal(r.attempts, 1);
    assert.ok(ep.requestCount('iam') - iamBefore >= 2);
    assert.equal((await ep.readRecords(t)).length, 2);
  });

  it('maps an unknown topic and a bad key', async () => {
    const client = make({ retry: { retries: 0 } });
    assert.equal((await rejection(client.produce(unique('missing'), { value: 1 }))).code, 'TOPIC_NOT_FOUND');
    const bad = make({ auth: { mode: 'bearer', apiKey: 'wrong-key-0123456789' } });
    const err = await rejection(bad.produce(await topic(), { value: 1 }));
    assert.equal(err.code, 'AUTHENTICATION_FAILED');
    assert.equal(bad.stats().state, 'auth-failed');
  });

  it('reports the server-side size limit when the client allows more', async () => {
    const client = make({ limits: { maxValueBytes: 200_000 } });
    const err = await rejection(client.produce(await topic(), { value: 'x'.repeat(70_000) }));
    assert.equal(err.code, 'PAYLOAD_TOO_LARGE');
    assert.equal(err.attempts, 1);
  });

  it('retries injected 429 (Retry-After), 503 and dropped connections', async () => {
    const t = await topic();
    const client = make({ retry: { retries: 4, initialDelayMs: 1, maxDelayMs: 30 } });
    ep.setFaults([{ status429RetryAfterSec: 1, count: 1 }]);
    assert.equal((await client.produce(t, { value: 1 })).attempts, 2);
    ep.setFaults([{ status: 503, count: 2 }]);
    assert.equal((await client.produce(t, { value: 2 })).attempts, 3);
    ep.setFaults([{ dropConnection: true, count: 1 }]);
    assert.equal((await client.produce(t, { value: 3 })).attempts, 2);
    // Each record was written once per success (no fault wrote anything).
    assert.equal((await ep.readRecords(t)).length, 3);
    assert.equal(client.stats().retries, 4);
  });

  it('administers topics: ensure, list, get, update, delete', async () => {
    const client = make();
    const name = unique('adm');
    assert.deepEqual(
      await client.admin.ensureTopic({ name, partitions: 2, configs: { 'retention.ms': 3600000 } }),
      {
        topic: name,
        created: true,
      },
    );
    assert.deepEqual(await client.admin.ensureTopic({ name }), { topic: name, created: false });
    assert.equal((await rejection(client.admin.createTopic({ name }))).code, 'TOPIC_EXISTS');
    const listed = await client.admin.listTopics({ filter: `${name.slice(0, -2)}*` });
    assert.ok(listed.topics.some((tp) => tp.name === name));
    const detail = await client.admin.getTopic(name);
    assert.equal(detail.partitions, 2);
    await client.admin.updateTopic(name, { partitions: 4 });
    assert.equal((await client.admin.getTopic(name)).partitions, 4);
    assert.deepEqual(await client.admin.deleteTopic(name), { topic: name, deleted: true });
    assert.deepEqual(await client.admin.deleteTopic(name), { topic: name, deleted: false });
    assert.equal((await rejection(client.admin.getTopic(name))).code, 'TOPIC_NOT_FOUND');
  });

  it('testConnection() reports a healthy endpoint and rejected credentials', async () => {
    assert.deepEqual(await make().testConnection(), {
      reachable: true,
      tlsTrusted: true,
      authenticated: true,
    });
    const iam = await make({ auth: { mode: 'iam', apiKey: KEY, iamUrl: ep.iamUrl } }).testConnection();
    assert.deepEqual(iam, { reachable: true, tlsTrusted: true, authenticated: true });
    const bad = await make({ auth: { mode: 'basic-token', apiKey: 'nope-0123456789' } }).testConnection();
    assert.deepEqual([bad.reachable, bad.tlsTrusted, bad.authenticated], [true, true, false]);
    const untrusted = await make({ tls: {} }).testConnection();
    assert.deepEqual([untrusted.reachable, untrusted.tlsTrusted], [true, false]);
  });
});
