// SPDX-License-Identifier: Apache-2.0
import assert from 'node:assert/strict';

import { EventStreamsClient } from '../../lib/client';
import type { EventStreamsError } from '../../lib/errors';
import type { ClientOptions } from '../../lib/types';
import {
  type RecordedRequest,
  reply,
  startHttpsServer,
  type TestServer,
  testPki,
} from '../helpers/https-server';

const API_KEY = 'admin-test-key-0123456789';

async function rejection(p: Promise<unknown>): Promise<EventStreamsError> {
  try {
    await p;
  } catch (err) {
    return err as EventStreamsError;
  }
  assert.fail('expected a rejection');
}

/** Serves `count` topics in pages, with Link and X-Total-Count as the Admin REST API does. */
function pagedList(count: number, opts: { link?: boolean; total?: boolean } = {}) {
  const names = Array.from({ length: count }, (_, i) => `topic-${String(i).padStart(4, '0')}`);
  return (req: RecordedRequest, res: import('node:http').ServerResponse): void => {
    const perPage = Number(req.query.get('per_page') ?? 100);
    const page = Number(req.query.get('page') ?? 1);
    const slice = names.slice((page - 1) * perPage, page * perPage);
    const headers: Record<string, string> = {};
    if (opts.total !== false) headers['x-total-count'] = String(count);
    if (opts.link !== false) {
      const last = Math.max(1, Math.ceil(count / perPage));
      const links = [
        `</admin/topics?page=1&per_page=${perPage}>; rel="first"`,
        `</admin/topics?page=${last}&per_page=${perPage}>; rel="last"`,
      ];
      if (page < last) links.push(`</admin/topics?page=${page + 1}&per_page=${perPage}>; rel="next"`);
      headers.link = links.join(', ');
    }
    reply(
      res,
      200,
      slice.map((name) => ({ name, partitions: 1, retentionMs: 86400000, cleanupPolicy: 'delete' })),
      headers,
    );
  };
}

describe('AdminRestClient (against a test HTTPS server)', () => {
  let server: TestServer;
  let client: EventStreamsClient;
  const make = (extra: Partial<ClientOptions> = {}): EventStreamsClient =>
    new EventStreamsClient({
      url: 'https://producer.invalid',
      adminUrl: `${server.url}/base`,
      auth: { mode: 'bearer', apiKey: API_KEY },
      tls: { ca: testPki().ca.cert },
      retry: { retries: 2, initialDelayMs: 1, maxDelayMs: 2 },
      ...extra,
    });

  before(async () => {
    server = await startHttpsServer();
  });
  after(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.requests.length = 0;
    client = make();
  });
  afterEach(async () => {
    await client.close({ deadlineMs: 0 });
  });

  it('follows pages until all topics are fetched (Link + X-Total-Count)', async () => {
    server.handler = pagedList(250);
    const r = await client.admin.listTopics();
    assert.equal(r.topics.length, 250);
    assert.equal(r.total, 250);
    assert.equal(server.requests.length, 3);
    assert.equal(server.requests[0]!.path, '/base/admin/topics');
    assert.equal(server.requests[0]!.query.get('per_page'), '100');
    assert.deepEqual(
      server.requests.map((q) => q.query.get('page')),
      ['1', '2', '3'],
    );
    assert.equal(server.requests[0]!.headers.authorization, `Bearer ${API_KEY}`);
    assert.equal(server.requests[0]!.headers.accept, 'application/json');
    assert.deepEqual(r.topics[0], {
      name: 'topic-0000',
      partitions: 1,
      retentionMs: 86400000,
      cleanupPolicy: 'delete',
    });
  });

  it('pages without Link or X-Total-Count until a short page, and returns one page when asked', async () => {
    server.handler = pagedList(45, { link: false, total: false });
    const all = await client.admin.listTopics({ perPage: 20 });
    assert.equal(all.topics.length, 45);
    assert.equal(all.total, undefined);
    assert.equal(server.requests.length, 3);
    server.requests.length = 0;
    const one = await client.admin.listTopics({ page: 2, perPage: 20 });
    assert.deepEqual(
      one.topics.map((t) => t.name),
      Array.from({ length: 20 }, (_, i) => `topic-${String(20 + i).padStart(4, '0')}`),
    );
    assert.equal(server.requests.length, 1);
  });

  it('stops when a server ignores paging (a page adds nothing new)', async () => {
    server.handler = (_req, res) =>
      reply(
        res,
        200,
        Array.from({ length: 100 }, (_, i) => ({ name: `t${i}`, partitions: 1 })),
      );
    const r = await client.admin.listTopics();
    assert.equal(r.topics.length, 100);
    assert.equal(server.requests.length, 2);
  });

  it('sends topic_filter and applies glob and /regex/ filters; a bad one is refused before any request', async () => {
    server.handler = (_req, res) =>
      reply(
        res,
        200,
        ['orders-eu', 'orders-us', 'payments', 'xorders-1'].map((name) => ({ name, partitions: 3 })),
      );
    const glob = await client.admin.listTopics({ filter: 'orders-*' });
    assert.equal(server.requests[0]!.query.get('topic_filter'), 'orders-*');
    assert.deepEqual(
      glob.topics.map((t) => t.name),
      ['orders-eu', 'orders-us'],
    );
    const one = await client.admin.listTopics({ filter: 'pay?ents' });
    assert.deepEqual(
      one.topics.map((t) => t.name),
      ['payments'],
    );
    const re = await client.admin.listTopics({ filter: '/orders-(eu|us)/' });
    assert.equal(server.requests.at(-1)!.query.get('topic_filter'), '/orders-(eu|us)/');
    assert.deepEqual(
      re.topics.map((t) => t.name),
      ['orders-eu', 'orders-us'],
    );
    const before = server.requests.length;
    assert.equal((await rejection(client.admin.listTopics({ filter: '/(pay/' }))).code, 'VALIDATION');
    assert.equal((await rejection(client.admin.listTopics({ filter: 'a'.repeat(256) }))).code, 'VALIDATION');
    assert.equal(server.requests.length, before, 'a refused filter sends nothing');
  });

  it('creates with partition_count and configs as {name,value} (a map is converted)', async () => {
    server.handler = (_req, res) => reply(res, 202, {});
    assert.deepEqual(
      await client.admin.createTopic({
        name: 'orders',
        partitions: 3,
        configs: { 'retention.ms': 86400000, 'cleanup.policy': 'compact' },
      }),
      { topic: 'orders' },
    );
    const req = server.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/base/admin/topics');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(req.body.toString()), {
      name: 'orders',
      partition_count: 3,
      configs: [
        { name: 'retention.ms', value: '86400000' },
        { name: 'cleanup.policy', value: 'compact' },
      ],
    });
  });

  it('maps 422 "already exists" to TopicExistsError, and ensureTopic to created:false', async () => {
    server.handler = (_req, res) =>
      reply(res, 422, { error_code: 42236, message: "Topic 'orders' already exists.", incident_id: 'tx-1' });
    const err = await rejection(client.admin.createTopic({ name: 'orders' }));
    assert.equal(err.code, 'TOPIC_EXISTS');
    assert.equal(err.incidentId, 'tx-1');
    assert.deepEqual(await client.admin.ensureTopic({ name: 'orders' }), { topic: 'orders', created: false });
    // Classic-plan shape of the same answer.
    server.handler = (_req, res) =>
      reply(res, 422, { errorCode: 42201, errorMessage: 'Topic "orders" already exists.' });
    assert.deepEqual(await client.admin.ensureTopic({ name: 'orders' }), { topic: 'orders', created: false });
    server.handler = (_req, res) => reply(res, 202, {});
    assert.deepEqual(await client.admin.ensureTopic({ name: 'orders' }), { topic: 'orders', created: true });
    server.handler = (_req, res) =>
      reply(res, 422, { error_code: 42200, message: 'partition limit exceeded' });
    const other = await rejection(client.admin.ensureTopic({ name: 'orders', partitions: 5000 }));
    assert.equal(other.code, 'BAD_REQUEST');
  });

  it('gets, updates and deletes (404 on delete means deleted:false)', async () => {
    server.handler = (req, res) => {
      if (req.method === 'GET') {
        return req.path.endsWith('/missing')
          ? reply(res, 404, {
              error_code: 40403,
              message: "topic 'missing' does not exist",
              incident_id: 'i-1',
            })
          : reply(res, 200, {
              name: 'orders',
              partitions: 3,
              replicationFactor: 3,
              retentionMs: 86400000,
              cleanupPolicy: 'delete',
              configs: { 'cleanup.policy': 'delete', 'retention.ms': '86400000' },
              replicaAssignments: [{ id: 0, brokers: { replicas: [1, 2, 3] } }],
            });
      }
      if (req.method === 'DELETE')
        return req.path.endsWith('/missing')
          ? reply(res, 404, { error_code: 40403, message: 'nope' })
          : reply(res, 202, {});
      return reply(res, 202, {});
    };
    const detail = await client.admin.getTopic('orders');
    assert.equal(detail.partitions, 3);
    assert.equal(detail.replicationFactor, 3);
    assert.equal(detail.configs?.['retention.ms'], '86400000');
    const missing = await rejection(client.admin.getTopic('missing'));
    assert.equal(missing.code, 'TOPIC_NOT_FOUND');
    assert.equal(missing.incidentId, 'i-1');
    await client.admin.updateTopic('orders', {
      partitions: 6,
      configs: [{ name: 'retention.bytes', reset_to_default: true }],
    });
    const patch = server.requests.find((r) => r.method === 'PATCH')!;
    assert.equal(patch.path, '/base/admin/topics/orders');
    assert.deepEqual(JSON.parse(patch.body.toString()), {
      new_total_partition_count: 6,
      configs: [{ name: 'retention.bytes', reset_to_default: true }],
    });
    assert.deepEqual(await client.admin.deleteTopic('orders'), { topic: 'orders', deleted: true });
    assert.deepEqual(await client.admin.deleteTopic('missing'), { topic: 'missing', deleted: false });
    assert.equal((await rejection(client.admin.updateTopic('orders', {}))).code, 'VALIDATION');
    assert.equal((await rejection(client.admin.getTopic('bad name'))).code, 'INVALID_TOPIC');
  });

  it('explains a missing Admin REST API (on-prem)', async () => {
    server.handler = (_req, res) => reply(res, 404, 'Not Found');
    const err = await rejection(client.admin.listTopics());
    assert.equal(err.code, 'UNEXPECTED_RESPONSE');
    assert.match(err.message, /Admin REST API was not found/);
  });

  it('retries 503 and maps 401/403', async () => {
    let n = 0;
    server.handler = (_req, res) =>
      ++n === 1
        ? reply(res, 503, { error_code: 50301, message: 'Unknown Kafka Error' })
        : reply(res, 200, []);
    assert.deepEqual(await client.admin.listTopics(), { topics: [] });
    assert.equal(n, 2);
    server.handler = (_req, res) => reply(res, 403, { error_code: 40300, message: 'needs Manager' });
    const err = await rejection(client.admin.createTopic({ name: 'x' }));
    assert.equal(err.code, 'AUTHORIZATION_FAILED');
    assert.equal(err.attempts, 1);
  });

  it('uses IAM tokens too, refreshing once on a 401', async () => {
    let tokens = 0;
    server.handler = (req, res) => {
      if (req.path === '/identity/token')
        return reply(res, 200, { access_token: `tok-${++tokens}`, expires_in: 3600 });
      if (req.headers.authorization !== 'Bearer tok-2')
        return reply(res, 401, { error_code: 401, message: 'expired' });
      return reply(res, 200, []);
    };
    const iamClient = make({
      auth: { mode: 'iam', apiKey: API_KEY, iamUrl: `${server.url}/identity/token` },
    });
    try {
      assert.deepEqual(await iamClient.admin.listTopics(), { topics: [] });
      assert.equal(tokens, 2);
    } finally {
      await iamClient.close({ deadlineMs: 0 });
    }
  });

  it('refuses calls after the client is closed', async () => {
    await client.close();
    assert.equal((await rejection(client.admin.listTopics())).code, 'CLOSED');
  });
});
