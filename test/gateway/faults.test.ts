// SPDX-License-Identifier: Apache-2.0
/** Fault injection of the local endpoint: each kind, by count and by fraction, and its control routes. */
import assert from 'node:assert/strict';

import { FaultInjector, validateFaults } from '../../gateway/faults';
import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import { Client, removeDir, tempDir } from './util';

describe('local endpoint: fault injection', function () {
  let dir: string;
  let ep: LocalEndpoint;
  let client: Client;

  before(async function () {
    dir = tempDir();
    ep = await startLocalEndpoint({
      port: 0,
      stateDir: dir,
      dev: true,
      topics: [{ name: 'f1', partitions: 2 }],
    });
    client = new Client(ep);
  });

  afterEach(function () {
    ep.clearFaults();
  });

  after(async function () {
    await client.close();
    await ep.stop();
    removeDir(dir);
  });

  const produce = (): ReturnType<Client['req']> => client.produce('f1', 'x');

  it('answers 503 with the v1 body for the next N produce requests, then recovers', async function () {
    ep.setFaults([{ status: 503, count: 2 }]);
    const a = await produce();
    const b = await produce();
    const c = await produce();
    assert.deepEqual([a.status, b.status, c.status], [503, 503, 200]);
    assert.equal(a.json.error.error_code, 503);
    assert.equal(typeof a.json.error.message, 'string');
  });

  it('answers 429 with Retry-After', async function () {
    ep.setFaults([{ status429RetryAfterSec: 2, count: 1 }]);
    const r = await produce();
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '2');
    assert.equal(r.json.error.error_code, 429);
    assert.equal((await produce()).status, 200);
  });

  for (const status of [500, 408, 502]) {
    it(`answers ${status} with its error body`, async function () {
      ep.setFaults([{ status, count: 1 }]);
      const r = await produce();
      assert.equal(r.status, status);
      assert.equal(r.json.error.error_code, status);
    });
  }

  it('answers admin faults with the Admin REST body (50301 Unknown Kafka Error) and leaves produce alone', async function () {
    ep.setFaults([{ status: 503, count: 1, route: 'admin' }]);
    assert.equal((await produce()).status, 200);
    const r = await client.req('GET', '/admin/topics', {
      headers: { 'x-global-transaction-id': 'tx-fault' },
    });
    assert.equal(r.status, 503);
    assert.deepEqual(r.json, { error_code: 50301, message: 'Unknown Kafka Error', incident_id: 'tx-fault' });
    assert.equal((await client.req('GET', '/admin/topics')).status, 200);
  });

  it('answers v2 faults in the v2 error shape', async function () {
    ep.setFaults([{ status: 503, count: 1 }]);
    const r = await client.req('POST', '/v2/topics/f1/records', {
      headers: { 'content-type': 'application/json' },
      body: '{"value":{"type":"text","data":"x"}}',
    });
    assert.equal(r.status, 503);
    assert.equal(typeof r.json.trace, 'string');
    assert.equal(typeof r.json.error.code, 'string');
  });

  it('applies iam faults to the token route', async function () {
    ep.setFaults([{ status: 500, count: 1, route: 'iam' }]);
    const r = await client.req('POST', '/identity/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=${ep.apiKey}`,
      auth: false,
    });
    assert.equal(r.status, 500);
    assert.equal(typeof r.json.errorCode, 'string');
  });

  it('adds latency before answering normally', async function () {
    ep.setFaults([{ latencyMs: 150, count: 1 }]);
    const started = Date.now();
    const r = await produce();
    assert.equal(r.status, 200);
    assert.ok(Date.now() - started >= 140, `took ${Date.now() - started} ms`);
  });

  it('drops the connection without answering', async function () {
    ep.setFaults([{ dropConnection: true, count: 1 }]);
    await assert.rejects(produce(), (err: any) => /socket|closed|reset/i.test(`${err.code} ${err.message}`));
    assert.equal((await produce()).status, 200);
  });

  it('applies a fraction-1 fault to every request and a fraction-0 fault to none', async function () {
    ep.setFaults([{ status: 503, fraction: 1 }]);
    for (let i = 0; i < 3; i++) assert.equal((await produce()).status, 503);
    ep.setFaults([{ status: 503, fraction: 0 }]);
    for (let i = 0; i < 3; i++) assert.equal((await produce()).status, 200);
  });

  it('applies a fraction to about that share of requests (seeded random)', function () {
    let seed = 42;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const faults = new FaultInjector(random);
    faults.set([{ status: 503, fraction: 0.3 }]);
    let hits = 0;
    for (let i = 0; i < 1000; i++) if (faults.take('produce')) hits++;
    assert.ok(hits > 200 && hits < 400, `hits ${hits}`);
    assert.equal(faults.take('admin'), undefined);
  });

  it('counts faulted requests (for no-retry-storm assertions)', async function () {
    const before = ep.requestCount('produce');
    ep.setFaults([{ status: 503, count: 1 }]);
    await produce();
    await produce();
    assert.equal(ep.requestCount('produce'), before + 2);
  });

  it('is controlled through POST/GET/DELETE /local/faults (authenticated)', async function () {
    const set = await client.req('POST', '/local/faults', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ status: 503, count: 5 }]),
    });
    assert.equal(set.status, 200);
    assert.deepEqual(set.json, [{ status: 503, count: 5 }]);
    assert.equal((await produce()).status, 503);
    const list = await client.req('GET', '/local/faults');
    assert.deepEqual(list.json, [{ status: 503, count: 4 }]);
    assert.equal((await client.req('DELETE', '/local/faults')).status, 200);
    assert.equal((await produce()).status, 200);
    assert.equal((await client.req('DELETE', '/local/faults', { auth: false })).status, 401);
    const bad = await client.req('POST', '/local/faults', { body: '[{"status":"x"}]' });
    assert.equal(bad.status, 400);
    const notJson = await client.req('POST', '/local/faults', { body: '[' });
    assert.equal(notJson.status, 400);
  });

  it('validates fault specs', function () {
    assert.throws(() => validateFaults([{ route: 'nowhere' }]));
    assert.throws(() => validateFaults([{ fraction: 2 }]));
    assert.throws(() => validateFaults([{ bogus: 1 }]));
    assert.throws(() => validateFaults([{ status: 99 }]));
    assert.deepEqual(validateFaults({ status: 503 }), [{ status: 503 }]);
  });

  it('takes faults from the start options', async function () {
    const d = tempDir();
    const e = await startLocalEndpoint({
      port: 0,
      stateDir: d,
      tls: false,
      topics: [{ name: 'x' }],
      faults: [{ status: 503, count: 1 }],
    });
    const c = new Client(e);
    try {
      assert.equal((await c.produce('x', 'v')).status, 503);
      assert.equal((await c.produce('x', 'v')).status, 200);
    } finally {
      await c.close();
      await e.stop();
      removeDir(d);
    }
  });
});
