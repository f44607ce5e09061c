// SPDX-License-Identifier: Apache-2.0
/** The gateway's batch route (an extension): many v2 envelopes in one request, one result each. */
import assert from 'node:assert/strict';

import { MAX_BATCH_BODY, MAX_BATCH_RECORDS, MAX_JSON_DEPTH } from '../../gateway/limits';
import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import { basic, Client, type Reply, removeDir, tempDir } from './util';

const KEY = 'batch-test-key-0123456789';
const WRITER = 'batch-writer-key-0123456789';

const text = (s: string): { type: string; data: string } => ({ type: 'text', data: s });

describe('local endpoint: POST /v2/topics/{topic}/batch (gateway extension)', function () {
  let dir: string;
  let ep: LocalEndpoint;
  let client: Client;

  const batch = (topic: string, body: unknown, auth?: string): ReturnType<Client['req']> =>
    client.req('POST', `/v2/topics/${topic}/batch`, {
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      ...(auth ? { auth } : {}),
    });

  before(async function () {
    dir = tempDir();
    ep = await startLocalEndpoint({
      port: 0,
      stateDir: dir,
      apiKeys: [KEY],
      writerKeys: [WRITER],
      producePermissions: { [WRITER]: ['open-*'] },
      topics: [
        { name: 'b-two', partitions: 2 },
        { name: 'b-one', partitions: 1 },
        { name: 'open-b', partitions: 1 },
      ],
    });
    client = new Client(ep);
  });
  after(async function () {
    await client.close();
    await ep.stop();
    removeDir(dir);
  });

  it('writes every record in order and answers 200 with one result per record', async function () {
    const envelopes = Array.from({ length: 50 }, (_, i) => ({
      key: text(`k-${i % 5}`),
      value: text(`v-${i}`),
      headers: [{ name: 'i', value: Buffer.from(String(i)).toString('base64') }],
    }));
    const r = await batch('b-two', envelopes);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.topic, 'b-two');
    assert.equal(r.json.results.length, 50);
    const stored = [
      ...(await ep.readRecords('b-two', { partition: 0 })),
      ...(await ep.readRecords('b-two', { partition: 1 })),
    ];
    assert.equal(stored.length, 50);
    r.json.results.forEach((res: any, i: number) => {
      assert.equal(res.status, 200);
      const rec = stored.find((s) => s.partition === res.partition && s.offset === res.offset)!;
      assert.equal(rec.value.toString(), `v-${i}`);
      assert.equal(rec.key!.toString(), `k-${i % 5}`);
    });
    // Per key, offsets rise in the array's order.
    for (let k = 0; k < 5; k++) {
      const offsets = r.json.results.filter((_: unknown, i: number) => i % 5 === k).map((x: any) => x.offset);
      assert.deepEqual(
        offsets,
        [...offsets].sort((a, b) => a - b),
      );
    }
  });

  it('answers 207 with each failure in place when some envelopes are bad; the rest are written', async function () {
    const before = (await ep.readRecords('b-one', {})).length;
    const r = await batch('b-one', [
      { value: text('good-1') },
      { value: { type: 'binary', data: '***' } },
      { key: text('k') },
      { value: text('good-2') },
    ]);
    assert.equal(r.status, 207, r.text);
    assert.deepEqual(
      r.json.results.map((x: any) => x.status),
      [200, 400, 400, 200],
    );
    assert.equal(r.json.results[1].error.code, 'invalid_value');
    assert.equal(r.json.results[2].error.target.name, 'value');
    const stored = (await ep.readRecords('b-one', {})).slice(before).map((s) => s.value.toString());
    assert.deepEqual(stored, ['good-1', 'good-2']);
  });

  it('a topic that does not exist fails each record with 404 in a 207', async function () {
    const r = await batch('b-missing', [{ value: text('a') }, { value: text('b') }]);
    assert.equal(r.status, 207, r.text);
    assert.deepEqual(
      r.json.results.map((x: any) => [x.status, x.error.code]),
      [
        [404, 'topic_not_found'],
        [404, 'topic_not_found'],
      ],
    );
  });

  it('refuses the whole request, writing nothing, for auth, permission, media type and shape', async function () {
    assert.equal((await batch('b-one', [{ value: text('x') }], 'Bearer nope')).status, 401);
    const forbidden = await batch('b-one', [{ value: text('x') }], `Bearer ${WRITER}`);
    assert.equal(forbidden.status, 403);
    assert.equal((await batch('open-b', [{ value: text('x') }], `Bearer ${WRITER}`)).status, 200);
    const wrongType = await client.req('POST', '/v2/topics/b-one/batch', {
      headers: { 'content-type': 'text/plain' },
      body: '[]',
    });
    assert.equal(wrongType.status, 415);
    for (const body of ['{}', '[]', 'not json', JSON.stringify({ value: text('x') })]) {
      const r = await batch('b-one', body);
      assert.equal(r.status, 400, body);
    }
    const tooMany = await batch(
      'b-one',
      Array.from({ length: MAX_BATCH_RECORDS + 1 }, () => ({ value: text('x') })),
    );
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.json.error.message, new RegExp(String(MAX_BATCH_RECORDS)));
    const huge = await batch('b-one', `[${'"x",'.repeat(MAX_BATCH_BODY / 4)}"x"]`);
    assert.equal(huge.status, 413);
    assert.equal((await client.req('GET', '/v2/topics/b-one/batch')).status, 405);
  });

  // Both v2 produce routes share one preamble and one body reader (routes/produce.ts
  // admitV2Produce, readV2Json): a client must not be able to tell them apart by how they refuse.
  const refusals: Array<{
    name: string;
    topic: string;
    headers: Record<string, string>;
    auth?: string | false;
    body?: string;
    status: number;
    code: string;
    message: string;
    target: string;
  }> = [
    {
      name: 'no credential',
      topic: 'b-one',
      headers: { 'content-type': 'application/json' },
      auth: false,
      status: 401,
      code: 'unauthorized',
      message: 'Missing Authorization header',
      target: 'Authorization',
    },
    {
      name: 'a Basic credential',
      topic: 'b-one',
      headers: { 'content-type': 'application/json' },
      auth: basic('token', KEY),
      status: 401,
      code: 'unauthorized',
      message: 'Only Bearer authentication (an IAM access token) is accepted',
      target: 'Authorization',
    },
    {
      name: 'a wrong Bearer, with a body over 64 KB (read and dropped)',
      topic: 'b-one',
      headers: { 'content-type': 'application/json' },
      auth: 'Bearer nope',
      body: JSON.stringify([{ value: text('x'.repeat(70_000)) }]),
      status: 401,
      code: 'unauthorized',
      message: 'Invalid or expired token',
      target: 'Authorization',
    },
    {
      name: 'a Writer outside its topics',
      topic: 'b-one',
      headers: { 'content-type': 'application/json' },
      auth: `Bearer ${WRITER}`,
      status: 403,
      code: 'forbidden',
      message: "Not authorized to produce to topic 'b-one'",
      target: 'topic_name',
    },
    {
      name: 'a text/plain body',
      topic: 'b-one',
      headers: { 'content-type': 'text/plain' },
      status: 415,
      code: 'unsupported_media_type',
      message: 'Content-Type must be application/json',
      target: 'Content-Type',
    },
    {
      name: 'a body that is not JSON',
      topic: 'b-one',
      headers: { 'content-type': 'application/json' },
      body: '[{"value":',
      status: 400,
      code: 'invalid_json',
      message: 'The request body is not valid JSON',
      target: 'body',
    },
    {
      name: `JSON nested deeper than ${MAX_JSON_DEPTH} levels`,
      topic: 'b-one',
      headers: { 'content-type': 'application/json' },
      body: `${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`,
      status: 400,
      code: 'invalid_json',
      message: `The request body nests deeper than ${MAX_JSON_DEPTH} levels`,
      target: 'body',
    },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name} exactly as POST /v2/topics/{topic}/records does (${c.status})`, async function () {
      const body = c.body ?? JSON.stringify([{ value: text('x') }]);
      const ask = (route: string): Promise<Reply> =>
        client.req('POST', `/v2/topics/${c.topic}/${route}`, {
          headers: c.headers,
          body,
          ...(c.auth !== undefined ? { auth: c.auth } : {}),
        });
      const before = (await ep.readRecords(c.topic, {})).length;
      const [records, batched] = [await ask('records'), await ask('batch')];
      for (const r of [records, batched]) {
        assert.equal(r.status, c.status, r.text);
        assert.match(r.json.trace, /^[0-9a-f-]{36}$/);
        assert.equal(r.json.error.code, c.code);
        assert.equal(r.json.error.message, c.message);
        assert.equal(r.json.error.target.name, c.target);
        // A refused body up to 16 MB is read and dropped: the connection stays usable.
        assert.equal(r.headers.connection, 'keep-alive');
      }
      // The same body but for the trace id, and the same headers but for the date.
      const comparable = (r: Reply): unknown => ({
        status: r.status,
        error: r.json.error,
        headers: Object.fromEntries(Object.entries(r.headers).filter(([h]) => h !== 'date')),
      });
      assert.deepEqual(comparable(batched), comparable(records));
      assert.equal((await ep.readRecords(c.topic, {})).length, before, 'nothing was written');
    });
  }
});
