// SPDX-License-Identifier: Apache-2.0
/**
 * The local endpoint's Admin REST operations beyond topics, on the memory backend, over HTTPS with
 * verification on: consumer groups (none: no consumers here), records, cluster, brokers, broker
 * configs, quotas and mirroring, with the spec's status codes, bodies and paging headers, and the
 * Writer role refused every change. The Kafka backend runs the same routes in
 * test/kafka/admin-groups-kafka.test.ts.
 */
import assert from 'node:assert/strict';

import type { MemoryBackend } from '../../gateway/memory-backend';
import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import { Client, type Reply, removeDir, tempDir } from './util';

const KEY = 'cluster-test-manager-key-0123';
const WRITER = 'cluster-test-writer-key-0123';

function assertAdminError(r: Reply, status: number): void {
  assert.equal(r.status, status, r.text);
  assert.equal(Math.floor(r.json.error_code / 100), status, r.text);
  assert.equal(typeof r.json.message, 'string');
  assert.equal(r.json.incident_id, r.headers['x-global-transaction-id']);
}

describe('local endpoint: Admin REST groups, records, cluster, quotas, mirroring (memory)', function () {
  let dir: string;
  let ep: LocalEndpoint;
  let client: Client;
  let writer: Client;
  const json = (method: string, path: string, body: unknown, c = client): Promise<Reply> =>
    c.req(method, path, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  before(async function () {
    dir = tempDir();
    ep = await startLocalEndpoint({
      port: 0,
      stateDir: dir,
      apiKeys: [KEY],
      writerKeys: [WRITER],
      topics: [
        { name: 'orders-eu', partitions: 2 },
        { name: 'orders-us', partitions: 1 },
        { name: 'payments', partitions: 1 },
      ],
    });
    client = new Client(ep);
    writer = new Client({ ...ep, apiKey: WRITER });
  });

  after(async function () {
    await client.close();
    await writer.close();
    await ep.stop();
    removeDir(dir);
  });

  it('lists no consumer groups (the memory backend has no consumers), with paging headers', async function () {
    const r = await client.req('GET', '/admin/consumergroups?group_filter=app-*&per_page=5');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, []);
    assert.equal(r.headers['x-total-count'], '0');
    assert.match(String(r.headers.link), /rel="first"/);
    assertAdminError(await client.req('GET', '/admin/consumergroups/nobody'), 404);
    assertAdminError(await client.req('DELETE', '/admin/consumergroups/nobody'), 404);
    assertAdminError(
      await json('PATCH', '/admin/consumergroups/nobody', { mode: 'earliest', execute: false }),
      404,
    );
  });

  it('refuses bad group input with 400: bad filters, paging, reset bodies', async function () {
    for (const q of ['group_filter=%2F(a%2F', 'per_page=0', 'page=-1']) {
      assertAdminError(await client.req('GET', `/admin/consumergroups?${q}`), 400);
    }
    for (const body of [
      { mode: 'sideways' },
      { mode: 'datetime', value: 'yesterday' },
      { mode: 'offset', value: -3 },
      { mode: 'earliest', execute: 'yes' },
      { mode: 'earliest', topic: 'bad topic' },
    ]) {
      assertAdminError(await json('PATCH', '/admin/consumergroups/g1', body), 400);
    }
    assertAdminError(await client.req('GET', `/admin/consumergroups/${'g'.repeat(300)}`), 400);
  });

  it('deletes records before an offset: 202, and the partition low watermark moves', async function () {
    const memory = ep.backend as MemoryBackend;
    for (let i = 0; i < 10; i++)
      memory.produceSync('payments', { key: null, value: Buffer.from(`v${i}`), headers: [] });
    assert.deepEqual(memory.partitionOffsets('payments'), [{ partition: 0, low: 0, high: 10 }]);
    const r = await json('DELETE', '/admin/topics/payments/records', {
      records_to_delete: [{ partition: 0, before_offset: 4 }],
    });
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.json, {});
    assert.deepEqual(memory.partitionOffsets('payments'), [{ partition: 0, low: 4, high: 10 }]);
    assert.deepEqual(
      memory.readRecordsSync('payments').map((x) => x.offset),
      [4, 5, 6, 7, 8, 9],
    );
  });

  it('answers the documented errors for deleting records', async function () {
    const del = (topic: string, body: unknown): Promise<Reply> =>
      json('DELETE', `/admin/topics/${topic}/records`, body);
    assertAdminError(
      await del('missing-topic', { records_to_delete: [{ partition: 0, before_offset: 1 }] }),
      404,
    );
    assertAdminError(await del('payments', { records_to_delete: [{ partition: 7, before_offset: 1 }] }), 404);
    assertAdminError(
      await del('payments', { records_to_delete: [{ partition: 0, before_offset: 999 }] }),
      422,
    );
    assertAdminError(await del('payments', { records_to_delete: [] }), 400);
    assertAdminError(
      await del('payments', { records_to_delete: [{ partition: 0, before_offset: -1 }] }),
      400,
    );
    assertAdminError(await client.req('DELETE', '/admin/topics/payments/records', { body: '{' }), 400);
  });

  it('describes the cluster and its one broker (this endpoint), with configs filtered', async function () {
    const port = Number(new URL(ep.url).port);
    const c = await client.req('GET', '/admin/cluster');
    assert.equal(c.status, 200);
    assert.equal(typeof c.json.id, 'string');
    assert.deepEqual(c.json.brokers, [{ id: 0, host: '127.0.0.1', port }]);
    assert.deepEqual(c.json.controller, c.json.brokers[0]);
    assert.deepEqual((await client.req('GET', '/admin/brokers')).json, c.json.brokers);
    assert.deepEqual((await client.req('GET', '/admin/brokers/0')).json, c.json.brokers[0]);
    assertAdminError(await client.req('GET', '/admin/brokers/3'), 404);
    assertAdminError(await client.req('GET', '/admin/brokers/x'), 400);
    const glob = await client.req('GET', '/admin/brokers/0/configs?config_filter=max.*');
    assert.ok(glob.json.configs.length > 1);
    assert.ok(glob.json.configs.every((x: { name: string }) => x.name.startsWith('max.')));
    const re = await client.req(
      'GET',
      `/admin/brokers/0/configs?verbose=true&config_filter=${encodeURIComponent('/broker\\.(id|rack)/')}`,
    );
    assert.deepEqual(re.json.configs, [
      {
        name: 'broker.id',
        value: '0',
        is_sensitive: false,
        source: 'STATIC_BROKER_CONFIG',
        is_read_only: true,
      },
    ]);
    assertAdminError(
      await client.req('GET', `/admin/brokers/0/configs?config_filter=${encodeURIComponent('/(/')}`),
      400,
    );
  });

  it('creates, reads, updates, lists and deletes quotas with the spec codes', async function () {
    const entity = 'iam-ServiceId-38288dac-1f80-46dd-b135-a56153296bcd';
    assertAdminError(await client.req('GET', `/admin/quotas/${entity}`), 404);
    assert.equal((await json('POST', `/admin/quotas/${entity}`, { producer_byte_rate: 1024 })).status, 202);
    assertAdminError(await json('POST', `/admin/quotas/${entity}`, { producer_byte_rate: 1 }), 422);
    assert.equal((await json('POST', '/admin/quotas/default', { consumer_byte_rate: 2048 })).status, 202);
    assert.equal((await json('PATCH', `/admin/quotas/${entity}`, { consumer_byte_rate: 4096 })).status, 202);
    assert.deepEqual((await client.req('GET', `/admin/quotas/${entity}`)).json, {
      producer_byte_rate: 1024,
      consumer_byte_rate: 4096,
    });
    assert.deepEqual((await client.req('GET', '/admin/quotas')).json, {
      data: [
        { entity_name: 'default', consumer_byte_rate: 2048 },
        { entity_name: entity, producer_byte_rate: 1024, consumer_byte_rate: 4096 },
      ],
    });
    assertAdminError(await json('PATCH', '/admin/quotas/nobody', { consumer_byte_rate: 1 }), 404);
    assertAdminError(await json('POST', '/admin/quotas/x', {}), 400);
    assertAdminError(await json('POST', '/admin/quotas/x', { producer_byte_rate: -5 }), 400);
    assertAdminError(await json('POST', '/admin/quotas/a%20b', { producer_byte_rate: 5 }), 400);
    assert.equal((await client.req('DELETE', '/admin/quotas/default')).status, 202);
    assertAdminError(await client.req('DELETE', '/admin/quotas/default'), 404);
  });

  it('replaces the mirroring topic selection and reports the topics it makes active', async function () {
    assert.deepEqual((await client.req('GET', '/admin/mirroring/topic-selection')).json, { includes: [] });
    const set = await json('POST', '/admin/mirroring/topic-selection', { includes: ['orders-.*', 'pay'] });
    assert.equal(set.status, 200);
    assert.deepEqual(set.json, { includes: ['orders-.*', 'pay'] });
    // Whole names, as a selection pattern matches: `pay` alone does not select `payments`.
    assert.deepEqual((await client.req('GET', '/admin/mirroring/active-topics')).json, {
      active_topics: ['orders-eu', 'orders-us'],
    });
    assertAdminError(
      await client.req('POST', '/admin/mirroring/topic-selection', { body: '{"includes":[]}' }),
      415,
    );
    assertAdminError(await json('POST', '/admin/mirroring/topic-selection', { includes: ['(a'] }), 400);
    assertAdminError(await json('POST', '/admin/mirroring/topic-selection', { includes: 'x' }), 400);
  });

  it('a Writer key reads everything but cannot change groups, records, quotas or mirroring', async function () {
    assert.equal((await writer.req('GET', '/admin/consumergroups')).status, 200);
    assert.equal((await writer.req('GET', '/admin/cluster')).status, 200);
    assert.equal((await writer.req('GET', '/admin/quotas')).status, 200);
    const attempts: Array<[string, string, unknown]> = [
      ['PATCH', '/admin/consumergroups/g', { mode: 'earliest', execute: true }],
      ['DELETE', '/admin/consumergroups/g', undefined],
      [
        'DELETE',
        '/admin/topics/orders-eu/records',
        { records_to_delete: [{ partition: 0, before_offset: 0 }] },
      ],
      ['POST', '/admin/quotas/default', { producer_byte_rate: 1 }],
      ['PATCH', '/admin/quotas/default', { producer_byte_rate: 1 }],
      ['DELETE', '/admin/quotas/default', undefined],
      ['POST', '/admin/mirroring/topic-selection', { includes: ['.*'] }],
    ];
    for (const [method, path, body] of attempts) {
      const r = body === undefined ? await writer.req(method, path) : await json(method, path, body, writer);
      assertAdminError(r, 403);
    }
  });

  it('answers 405 with Allow for a wrong method on the new paths', async function () {
    const r = await client.req('POST', '/admin/cluster');
    assertAdminError(r, 405);
    assert.equal(r.headers.allow, 'GET');
    const g = await client.req('PUT', '/admin/consumergroups/g');
    assertAdminError(g, 405);
    assert.equal(g.headers.allow, 'GET, PATCH, DELETE');
  });
});
