// SPDX-License-Identifier: Apache-2.0
/** Conformance of the local endpoint's Admin REST topic API, health routes and IAM token exchange. */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import { basic, Client, removeDir, tempDir } from './util';

const KEY = 'admin-test-key-0123456789';
const GRANT = 'urn:ibm:params:oauth:grant-type:apikey';

describe('local endpoint: Admin REST', function () {
  let dir: string;
  let ep: LocalEndpoint;
  let client: Client;
  let n = 0;
  const unique = (prefix = 'a'): string => `${prefix}-${++n}`;

  const create = (body: unknown, headers: Record<string, string> = {}): ReturnType<Client['req']> =>
    client.req('POST', '/admin/topics', {
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const patch = (topic: string, body: unknown): ReturnType<Client['req']> =>
    client.req('PATCH', `/admin/topics/${topic}`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  function assertAdminError(
    r: { status: number; json: any; headers: any },
    status: number,
    code?: number,
  ): void {
    assert.equal(r.status, status, JSON.stringify(r.json));
    assert.equal(typeof r.json.error_code, 'number');
    assert.equal(Math.floor(r.json.error_code / 100), status);
    if (code !== undefined) assert.equal(r.json.error_code, code);
    assert.equal(typeof r.json.message, 'string');
    assert.equal(r.json.incident_id, r.headers['x-global-transaction-id']);
  }

  before(async function () {
    dir = tempDir();
    ep = await startLocalEndpoint({ port: 0, stateDir: dir, apiKeys: [KEY] });
    client = new Client(ep);
  });

  after(async function () {
    await client.close();
    await ep.stop();
    removeDir(dir);
  });

  it('creates a topic (202 {}) and describes it per topic_detail', async function () {
    const name = unique();
    const r = await create({
      name,
      partition_count: 3,
      configs: [
        { name: 'retention.ms', value: '3600000' },
        { name: 'cleanup.policy', value: 'compact' },
      ],
    });
    assert.equal(r.status, 202);
    assert.deepEqual(r.json, {});
    const g = await client.req('GET', `/admin/topics/${name}`);
    assert.equal(g.status, 200);
    assert.equal(g.json.name, name);
    assert.equal(g.json.partitions, 3);
    assert.equal(typeof g.json.replicationFactor, 'number');
    assert.equal(g.json.retentionMs, 3600000);
    assert.equal(g.json.cleanupPolicy, 'compact');
    assert.equal(g.json.configs['retention.ms'], '3600000');
    assert.equal(g.json.configs['cleanup.policy'], 'compact');
    for (const v of Object.values(g.json.configs)) assert.equal(typeof v, 'string');
    assert.equal(g.json.replicaAssignments.length, 3);
    assert.deepEqual(g.json.replicaAssignments[0], { id: 0, brokers: { replicas: [0] } });
  });

  it('lets partition_count take precedence over partitions and defaults to 1', async function () {
    const a = unique();
    const b = unique();
    assert.equal((await create({ name: a, partitions: 2, partition_count: 5 })).status, 202);
    assert.equal((await create({ name: b })).status, 202);
    assert.equal((await ep.backend.getTopic(a))?.partitions, 5);
    assert.equal((await ep.backend.getTopic(b))?.partitions, 1);
    const c = unique();
    assert.equal((await create({ name: c, partitions: 4 })).status, 202);
    assert.equal((await ep.backend.getTopic(c))?.partitions, 4);
  });

  it('accepts the legacy object form of configs', async function () {
    const name = unique();
    const r = await create({ name, configs: { retentionMs: 7200000, cleanupPolicy: 'delete' } });
    assert.equal(r.status, 202);
    const d = await ep.backend.getTopic(name);
    assert.equal(d?.configs?.['retention.ms'], '7200000');
  });

  it('answers 422 (42236) for an existing topic, with incident_id = echoed transaction id', async function () {
    const name = unique();
    await create({ name });
    const r = await create({ name }, { 'x-global-transaction-id': 'tx-abc-123' });
    assertAdminError(r, 422, 42236);
    assert.equal(r.json.message, `Topic '${name}' already exists.`);
    assert.equal(r.headers['x-global-transaction-id'], 'tx-abc-123');
    assert.equal(r.json.incident_id, 'tx-abc-123');
  });

  const badCreates: Array<[string, unknown, number]> = [
    ['a body that is not JSON', '{"name":', 400],
    ['a JSON array', '[]', 400],
    ['a missing name', { partition_count: 1 }, 400],
    ['a name with invalid characters', { name: 'bad name!' }, 422],
    ['a name over 200 characters', { name: 'n'.repeat(201) }, 422],
    ['partitions over the cap', { name: 'too-many', partition_count: 1001 }, 422],
    ['zero partitions', { name: 'zero-p', partition_count: 0 }, 400],
    [
      'a config that cannot be set',
      { name: 'bad-config', configs: [{ name: 'min.insync.replicas', value: '1' }] },
      422,
    ],
    ['a non-numeric retention', { name: 'bad-ret', configs: [{ name: 'retention.ms', value: 'soon' }] }, 422],
  ];
  for (const [name, body, status] of badCreates) {
    it(`answers ${status} for create with ${name}`, async function () {
      assertAdminError(await create(body), status);
    });
  }

  it('generates a transaction id when none is sent and sets no-cache headers', async function () {
    const r = await client.req('GET', '/admin/topics');
    assert.match(String(r.headers['x-global-transaction-id']), /^[0-9a-f-]{36}$/);
    assert.equal(r.headers['cache-control'], 'no-cache, no-store');
    assert.equal(r.headers.pragma, 'no-cache');
    const e = await client.req('GET', '/admin/topics/missing-topic');
    assertAdminError(e, 404, 40403);
    assert.equal(e.headers['cache-control'], 'no-cache, no-store');
  });

  describe('list', function () {
    const prefix = 'lst';
    before(async function () {
      for (const s of ['a', 'b', 'c', 'd', 'e']) await ep.backend.createTopic(`${prefix}-${s}`, 1, []);
      await ep.backend.createTopic('other-lst', 1, []);
    });

    it('filters with a glob and pages with X-Total-Count and Link', async function () {
      const r = await client.req('GET', `/admin/topics?topic_filter=${prefix}-*&per_page=2&page=2`);
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.json.map((t: any) => t.name),
        [`${prefix}-c`, `${prefix}-d`],
      );
      assert.equal(r.headers['x-total-count'], '5');
      const link = String(r.headers.link);
      for (const [rel, page] of [
        ['first', 1],
        ['last', 3],
        ['next', 3],
        ['prev', 1],
      ] as const) {
        const m = new RegExp(`<([^>]+)>; rel="${rel}"`).exec(link);
        assert.ok(m, `${rel} in ${link}`);
        const u = new URL(m[1]!);
        assert.equal(u.pathname, '/admin/topics');
        assert.equal(u.searchParams.get('page'), String(page));
        assert.equal(u.searchParams.get('per_page'), '2');
        assert.equal(u.searchParams.get('topic_filter'), `${prefix}-*`);
      }
    });

    it('omits next on the last page and prev on the first', async function () {
      const last = await client.req('GET', `/admin/topics?topic_filter=${prefix}-*&per_page=2&page=3`);
      assert.equal(last.json.length, 1);
      assert.ok(!String(last.headers.link).includes('rel="next"'));
      const first = await client.req('GET', `/admin/topics?topic_filter=${prefix}-*&per_page=2`);
      assert.ok(!String(first.headers.link).includes('rel="prev"'));
    });

    it('filters with ? for one character, and with a /regex/ as IBM documents (whole name)', async function () {
      const r = await client.req('GET', `/admin/topics?topic_filter=${encodeURIComponent('?st-a')}`);
      assert.deepEqual(
        r.json.map((t: any) => t.name),
        ['lst-a'],
      );
      const re = await client.req('GET', `/admin/topics?topic_filter=${encodeURIComponent('/lst-[ab]/')}`);
      assert.equal(re.status, 200);
      assert.deepEqual(re.json.map((t: any) => t.name).sort(), ['lst-a', 'lst-b']);
      // The whole name must match, as with a glob: `lst` alone matches nothing.
      const part = await client.req('GET', `/admin/topics?topic_filter=${encodeURIComponent('/lst/')}`);
      assert.deepEqual(part.json, []);
    });

    it('returns an empty page past the end and 400 for bad paging or a bad filter', async function () {
      const r = await client.req('GET', `/admin/topics?topic_filter=${prefix}-*&per_page=2&page=9`);
      assert.deepEqual(r.json, []);
      assertAdminError(await client.req('GET', '/admin/topics?page=0'), 400);
      assertAdminError(await client.req('GET', '/admin/topics?per_page=abc'), 400);
      assertAdminError(
        await client.req('GET', `/admin/topics?topic_filter=${encodeURIComponent('/[/')}`),
        400,
      );
      assertAdminError(await client.req('GET', `/admin/topics?topic_filter=${'a'.repeat(256)}`), 400);
    });
  });

  describe('update and delete', function () {
    it('increases partitions, sets and resets configs (202 {})', async function () {
      const name = unique();
      await ep.backend.createTopic(name, 2, [{ name: 'retention.ms', value: '3600000' }]);
      const r = await patch(name, {
        new_total_partition_count: 4,
        configs: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'retention.ms', reset_to_default: true },
        ],
      });
      assert.equal(r.status, 202);
      assert.deepEqual(r.json, {});
      const d = await ep.backend.getTopic(name);
      assert.equal(d?.partitions, 4);
      assert.equal(d?.configs?.['cleanup.policy'], 'compact');
      assert.equal(d?.configs?.['retention.ms'], '86400000');
    });

    const badPatches: Array<[string, unknown, number]> = [
      ['the same partition count', { new_total_partition_count: 2 }, 400],
      ['fewer partitions', { new_total_partition_count: 1 }, 400],
      ['a config outside the updatable set', { configs: [{ name: 'max.message.bytes', value: '10' }] }, 422],
      ['partitions over the cap', { new_total_partition_count: 5000 }, 422],
    ];
    for (const [what, body, status] of badPatches) {
      it(`answers ${status} for an update with ${what}`, async function () {
        const name = unique();
        await ep.backend.createTopic(name, 2, []);
        assertAdminError(await patch(name, body), status);
        assert.equal((await ep.backend.getTopic(name))?.partitions, 2);
      });
    }

    it('answers 404 for updating an unknown topic', async function () {
      assertAdminError(await patch('nope-upd', { new_total_partition_count: 3 }), 404, 40403);
    });

    it('deletes (202 {}) and then answers 404', async function () {
      const name = unique();
      await ep.backend.createTopic(name, 1, []);
      const r = await client.req('DELETE', `/admin/topics/${name}`);
      assert.equal(r.status, 202);
      assert.deepEqual(r.json, {});
      assertAdminError(await client.req('DELETE', `/admin/topics/${name}`), 404, 40403);
      assertAdminError(await client.req('GET', `/admin/topics/${name}`), 404, 40403);
    });
  });

  describe('auth, health and routing', function () {
    it('accepts Basic token:<key> and X-Auth-Token, refuses missing or wrong credentials with 401', async function () {
      assert.equal((await client.req('GET', '/admin/topics', { auth: basic('token', KEY) })).status, 200);
      assert.equal(
        (await client.req('GET', '/admin/topics', { auth: false, headers: { 'x-auth-token': KEY } })).status,
        200,
      );
      assertAdminError(await client.req('GET', '/admin/topics', { auth: false }), 401);
      assertAdminError(await client.req('GET', '/admin/topics', { auth: 'Bearer wrong' }), 401);
    });

    it('serves /alive without credentials and /admin/status with them', async function () {
      assert.equal((await client.req('GET', '/alive', { auth: false })).status, 200);
      assert.equal((await client.req('GET', '/admin/status', { auth: false })).status, 401);
      const s = await client.req('GET', '/admin/status');
      assert.deepEqual(s.json, { status: 'available' });
    });

    it('answers 405 with Allow for a wrong method and 404 JSON for unknown routes', async function () {
      const m = await client.req('PUT', '/admin/topics');
      assertAdminError(m, 405);
      assert.equal(m.headers.allow, 'GET, POST');
      const u = await client.req('GET', '/admin/nothing');
      assertAdminError(u, 404);
      const other = await client.req('GET', '/nothing/here');
      assert.equal(other.status, 404);
      assert.equal(other.json.error.error_code, 404);
    });

    it('counts requests per route kind', async function () {
      const before = ep.requestCount('admin');
      const all = ep.requestCount();
      await client.req('GET', '/admin/topics');
      await client.req('GET', '/local/topics/x/records');
      assert.equal(ep.requestCount('admin'), before + 1);
      assert.equal(ep.requestCount('all'), all + 1);
    });
  });
});

describe('local endpoint: IAM token exchange', function () {
  let dir: string;
  let ep: LocalEndpoint;
  let client: Client;

  before(async function () {
    dir = tempDir();
    ep = await startLocalEndpoint({
      port: 0,
      stateDir: dir,
      apiKeys: [KEY],
      tokenLifetimeSec: 1,
      topics: [{ name: 'i1' }],
    });
    client = new Client(ep);
  });

  after(async function () {
    await client.close();
    await ep.stop();
    removeDir(dir);
  });

  const token = (
    body: string,
    contentType = 'application/x-www-form-urlencoded',
  ): ReturnType<Client['req']> =>
    client.req('POST', '/identity/token', { headers: { 'content-type': contentType }, body, auth: false });

  it('issues an opaque token with the IAM response fields', async function () {
    const before = Math.floor(Date.now() / 1000);
    const r = await token(`grant_type=${encodeURIComponent(GRANT)}&apikey=${KEY}`);
    assert.equal(r.status, 200);
    assert.equal(typeof r.json.access_token, 'string');
    assert.ok(r.json.access_token.length >= 32);
    assert.equal(r.json.refresh_token, 'not_supported');
    assert.equal(r.json.token_type, 'Bearer');
    assert.equal(r.json.expires_in, 1);
    assert.ok(r.json.expiration >= before + 1 && r.json.expiration <= before + 3);
    assert.ok(!r.text.includes(KEY));
  });

  it('answers 400 BXNIM0415E for an unknown API key', async function () {
    const r = await token(`grant_type=${GRANT}&apikey=wrong`);
    assert.equal(r.status, 400);
    assert.equal(r.json.errorCode, 'BXNIM0415E');
    assert.equal(r.json.errorMessage, 'Provided API key could not be found');
  });

  it('answers 400 for a wrong grant type or a missing apikey, 405 for GET', async function () {
    assert.equal((await token(`grant_type=password&apikey=${KEY}`)).status, 400);
    assert.equal((await token(`grant_type=${GRANT}`)).status, 400);
    const g = await client.req('GET', '/identity/token', { auth: false });
    assert.equal(g.status, 405);
    assert.equal(g.headers.allow, 'POST');
  });

  it('expires tokens after tokenLifetimeSec (401 on the API afterwards)', async function () {
    const r = await token(`grant_type=${GRANT}&apikey=${KEY}`);
    const auth = `Bearer ${r.json.access_token}`;
    const ok = await client.req('POST', '/topics/i1/records', {
      headers: { 'content-type': 'text/plain' },
      body: 'x',
      auth,
    });
    assert.equal(ok.status, 200);
    await sleep(1100);
    const expired = await client.req('POST', '/topics/i1/records', {
      headers: { 'content-type': 'text/plain' },
      body: 'x',
      auth,
    });
    assert.equal(expired.status, 401);
    assert.equal((await client.req('GET', '/admin/topics', { auth })).status, 401);
  });
});
