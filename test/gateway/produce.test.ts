// SPDX-License-Identifier: Apache-2.0
/**
 * Conformance of the local endpoint's REST Producer (v1 raw body, v2 JSON envelope) and its
 * authentication, one case per documented behaviour, over HTTPS with verification on.
 */
import assert from 'node:assert/strict';

import { partitionForKey } from '../../gateway/partitioner';
import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import { basic, Client, removeDir, tempDir } from './util';

const KEY = 'test-api-key-0123456789';
const LIMITED = 'limited-api-key-0123456789';
const TOO_LARGE = {
  error: { error_code: 400, message: 'Error parsing JSON message: http: request body too large' },
};

describe('local endpoint: REST Producer', function () {
  let dir: string;
  let ep: LocalEndpoint;
  let client: Client;
  let n = 0;
  const topic = (): string => `p-${++n}`;

  async function newTopic(partitions = 1): Promise<string> {
    const name = topic();
    await ep.backend.createTopic(name, partitions, []);
    return name;
  }

  before(async function () {
    dir = tempDir();
    ep = await startLocalEndpoint({
      port: 0,
      stateDir: dir,
      dev: true,
      apiKeys: [KEY, LIMITED],
      users: [{ username: 'alice', password: 's3cret-pw' }],
      forbiddenTopics: ['secret-*'],
      producePermissions: { [LIMITED]: ['allowed-*'] },
      topics: [{ name: 't1', partitions: 3 }, { name: 'secret-t' }, { name: 'allowed-t' }],
    });
    client = new Client(ep);
  });

  after(async function () {
    await client.close();
    await ep.stop();
    removeDir(dir);
  });

  describe('v1 content types', function () {
    const cases: Array<[string, string | Buffer]> = [
      ['text/plain', 'hello'],
      ['text/plain; charset=utf-8', 'héllo'],
      ['application/json', '{"a":1}'],
      ['application/json; charset=UTF-8', '[1,2]'],
      ['application/octet-stream', Buffer.from([0, 1, 2, 255])],
      ['text/xml', '<a/>'],
      ['application/xml', '<b>x</b>'],
      ['vnd.ibm-event-streams.json.v1', '{"v":1}'],
      ['vnd.ibm-event-streams.binary.v1', Buffer.from([9, 8, 7])],
      ['vnd.ibm-event-streams.text.v1', 'vendor text'],
      ['application/vnd.ibm-event-streams.text.v1', 'prefixed vendor text'],
      ['TEXT/PLAIN', 'upper case media type'],
    ];
    for (const [contentType, body] of cases) {
      it(`accepts ${contentType} and stores the body as is`, async function () {
        const t = await newTopic();
        const r = await client.produce(t, body, contentType);
        assert.equal(r.status, 200, r.text);
        const [rec] = await ep.readRecords(t);
        assert.deepEqual(rec!.value, Buffer.isBuffer(body) ? body : Buffer.from(body));
      });
    }

    const rejected: Array<[string, Record<string, string>]> = [
      ['missing', {}],
      ['image/png', { 'content-type': 'image/png' }],
      ['application/x-www-form-urlencoded', { 'content-type': 'application/x-www-form-urlencoded' }],
    ];
    for (const [name, headers] of rejected) {
      it(`answers 415 for a ${name} content type`, async function () {
        const r = await client.req('POST', '/topics/t1/records', { headers, body: 'x' });
        assert.equal(r.status, 415);
        assert.deepEqual(r.json, { error: { error_code: 415, message: 'Unsupported content type' } });
      });
    }

    it('answers 400 for application/json that does not parse', async function () {
      const r = await client.produce('t1', '{"a":', 'application/json');
      assert.equal(r.status, 400);
      assert.equal(r.json.error.error_code, 400);
    });
  });

  describe('v1 success, keys, headers and partitioning', function () {
    it('answers 200 with metadata (timestamp as a string, offsets per partition)', async function () {
      const t = await newTopic(1);
      const before = Date.now();
      const a = await client.produce(t, 'one');
      const b = await client.produce(t, 'two');
      assert.equal(a.status, 200);
      assert.deepEqual(Object.keys(a.json.metadata).sort(), ['offset', 'partition', 'timestamp', 'topic']);
      assert.equal(a.json.metadata.topic, t);
      assert.equal(typeof a.json.metadata.timestamp, 'string');
      assert.ok(Number(a.json.metadata.timestamp) >= before);
      assert.equal(a.json.metadata.partition, 0);
      assert.equal(a.json.metadata.offset, 0);
      assert.equal(b.json.metadata.offset, 1);
      assert.equal(a.headers['content-type'], 'application/json');
    });

    it('places keyed records with murmur2 and spreads unkeyed ones round-robin', async function () {
      const t = await newTopic(3);
      const keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'];
      for (const k of keys) {
        const r = await client.produce(t, 'v', 'text/plain', `?key=${k}`);
        assert.equal(r.json.metadata.partition, partitionForKey(Buffer.from(k), 3), k);
      }
      const again = await client.produce(t, 'v', 'text/plain', '?key=alpha');
      assert.equal(again.json.metadata.partition, partitionForKey(Buffer.from('alpha'), 3));
      const seen = new Set<number>();
      for (let i = 0; i < 3; i++) seen.add((await client.produce(t, 'v')).json.metadata.partition);
      assert.deepEqual([...seen].sort(), [0, 1, 2]);
    });

    const keyCases: Array<[string, string, Buffer | null]> = [
      ['text key', '?key=order-42', Buffer.from('order-42')],
      ['explicit text keyType', '?key=abc&keyType=text', Buffer.from('abc')],
      ['percent-encoded text key', '?key=caf%C3%A9%20%26%3D', Buffer.from('café &=')],
      ['plus as space', '?key=a+b', Buffer.from('a b')],
      ['binary key (hex)', '?key=deadBEEF00&keyType=binary', Buffer.from([0xde, 0xad, 0xbe, 0xef, 0])],
      ['empty key means none', '?key=', null],
    ];
    for (const [name, query, expected] of keyCases) {
      it(`stores a ${name}`, async function () {
        const t = await newTopic();
        const r = await client.produce(t, 'v', 'text/plain', query);
        assert.equal(r.status, 200, r.text);
        const [rec] = await ep.readRecords(t);
        assert.deepEqual(rec!.key, expected);
      });
    }

    it('decodes hex headers in order, keeping duplicates and empty values', async function () {
      const t = await newTopic();
      const r = await client.produce(
        t,
        'v',
        'text/plain',
        '?headers=colour:726564,size:6c61726765,colour:,x:00ff',
      );
      assert.equal(r.status, 200, r.text);
      const [rec] = await ep.readRecords(t);
      assert.deepEqual(rec!.headers, [
        ['colour', Buffer.from('red')],
        ['size', Buffer.from('large')],
        ['colour', Buffer.alloc(0)],
        ['x', Buffer.from([0, 255])],
      ]);
    });

    const badParams: Array<[string, string]> = [
      ['an unknown keyType', '?key=a&keyType=base64'],
      ['a binary key that is not hex', '?key=xyz&keyType=binary'],
      ['a binary key of odd length', '?key=abc&keyType=binary'],
      ['a header without a colon', '?headers=colour'],
      ['a header with a non-hex value', '?headers=colour:red'],
      ['a header without a name', '?headers=:7265'],
      ['invalid percent-encoding in the query', '?key=%E0%A4%A'],
    ];
    for (const [name, query] of badParams) {
      it(`answers 400 for ${name}`, async function () {
        const r = await client.produce('t1', 'v', 'text/plain', query);
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.error.error_code, 400);
      });
    }

    it('serves topic names that need percent-encoding', async function () {
      const r = await client.req('POST', '/topics/t%31/records', {
        headers: { 'content-type': 'text/plain' },
        body: 'x',
      });
      assert.equal(r.status, 200);
      assert.equal(r.json.metadata.topic, 't1');
    });
  });

  describe('v1 limits and errors', function () {
    it('accepts a key of exactly 4096 bytes and refuses 4097 with the documented 400 body', async function () {
      const t = await newTopic();
      assert.equal((await client.produce(t, 'v', 'text/plain', `?key=${'k'.repeat(4096)}`)).status, 200);
      const r = await client.produce(t, 'v', 'text/plain', `?key=${'k'.repeat(4097)}`);
      assert.equal(r.status, 400);
      assert.deepEqual(r.json, TOO_LARGE);
    });

    it('accepts a body of exactly 65536 bytes and refuses 65537 with the documented 400 body', async function () {
      const t = await newTopic();
      assert.equal((await client.produce(t, Buffer.alloc(65536, 1), 'application/octet-stream')).status, 200);
      const r = await client.produce(t, Buffer.alloc(65537, 1), 'application/octet-stream');
      assert.equal(r.status, 400);
      assert.deepEqual(r.json, TOO_LARGE);
      assert.equal((await ep.readRecords(t)).length, 1);
    });

    it('answers 400 for an empty body (cloud flavour)', async function () {
      const r = await client.produce('t1', '');
      assert.equal(r.status, 400);
      assert.equal(r.json.error.error_code, 400);
    });

    it('answers 404 with the documented body for an unknown topic', async function () {
      const r = await client.produce('no-such-topic', 'v');
      assert.equal(r.status, 404);
      assert.deepEqual(r.json, {
        error: {
          error_code: 404,
          message: "Topic 'no-such-topic' does not exist",
          topic: 'no-such-topic',
          kafka_error_code: 3,
        },
      });
    });

    it('answers 414 for a request URI over 10240 bytes', async function () {
      const r = await client.produce('t1', 'v', 'text/plain', `?x=${'a'.repeat(10300)}`);
      assert.equal(r.status, 414);
      assert.equal(r.json.error.error_code, 414);
    });

    it('answers 405 with Allow for GET on the produce path', async function () {
      const r = await client.req('GET', '/topics/t1/records');
      assert.equal(r.status, 405);
      assert.equal(r.headers.allow, 'POST');
      assert.equal(r.json.error.error_code, 405);
    });
  });

  describe('v1 authentication and authorization', function () {
    const accepted: Array<[string, () => Record<string, string>]> = [
      ['Bearer API key', () => ({ authorization: `Bearer ${KEY}` })],
      ['lower-case bearer scheme', () => ({ authorization: `bearer ${KEY}` })],
      ['Basic token:<key>', () => ({ authorization: basic('token', KEY) })],
      ['X-Auth-Token', () => ({ 'x-auth-token': KEY })],
      ['Basic username:password', () => ({ authorization: basic('alice', 's3cret-pw') })],
    ];
    for (const [name, headers] of accepted) {
      it(`accepts ${name}`, async function () {
        const r = await client.req('POST', '/topics/t1/records', {
          headers: { 'content-type': 'text/plain', ...headers() },
          body: 'x',
          auth: false,
        });
        assert.equal(r.status, 200, r.text);
      });
    }

    it('accepts an IAM token from /identity/token as Bearer', async function () {
      const tok = await client.req('POST', '/identity/token', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=${KEY}`,
        auth: false,
      });
      assert.equal(tok.status, 200);
      const r = await client.req('POST', '/topics/t1/records', {
        headers: { 'content-type': 'text/plain', authorization: `Bearer ${tok.json.access_token}` },
        body: 'x',
      });
      assert.equal(r.status, 200);
    });

    const refused: Array<[string, Record<string, string>]> = [
      ['no credentials', {}],
      ['a wrong Bearer key', { authorization: 'Bearer wrong-key' }],
      ['an empty Bearer', { authorization: 'Bearer ' }],
      ['Basic with a wrong password', { authorization: basic('alice', 'nope') }],
      ['Basic token:<wrong key>', { authorization: basic('token', 'wrong') }],
      ['a wrong X-Auth-Token', { 'x-auth-token': 'wrong' }],
      ['an unknown scheme', { authorization: `Digest ${KEY}` }],
      ['Basic that is not base64 user:pass', { authorization: 'Basic !!!' }],
    ];
    for (const [name, headers] of refused) {
      it(`answers 401 with the documented body for ${name}`, async function () {
        const r = await client.req('POST', '/topics/t1/records', {
          headers: { 'content-type': 'text/plain', ...headers },
          body: 'x',
          auth: false,
        });
        assert.equal(r.status, 401);
        assert.deepEqual(r.json, { error: { error_code: 401, message: 'Unauthorized' } });
        assert.ok(!r.text.includes(KEY));
      });
    }

    it('answers 403 for a forbidden topic', async function () {
      const r = await client.produce('secret-t', 'x');
      assert.equal(r.status, 403);
      assert.equal(r.json.error.error_code, 403);
    });

    it('limits a key to its permitted topic globs', async function () {
      const denied = await client.req('POST', '/topics/t1/records', {
        headers: { 'content-type': 'text/plain', authorization: `Bearer ${LIMITED}` },
        body: 'x',
      });
      assert.equal(denied.status, 403);
      const allowed = await client.req('POST', '/topics/allowed-t/records', {
        headers: { 'content-type': 'text/plain', authorization: `Bearer ${LIMITED}` },
        body: 'x',
      });
      assert.equal(allowed.status, 200);
    });
  });

  describe('v2 JSON envelope', function () {
    let token: string;

    before(async function () {
      const r = await client.req('POST', '/identity/token', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=${KEY}`,
        auth: false,
      });
      token = r.json.access_token;
    });

    function v2(
      t: string,
      envelope: unknown,
      headers: Record<string, string> = {},
      query = '',
    ): ReturnType<Client['req']> {
      return client.req('POST', `/v2/topics/${t}/records${query}`, {
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
        body: typeof envelope === 'string' ? envelope : JSON.stringify(envelope),
      });
    }

    function assertV2Error(r: { status: number; json: any }, status: number, code?: string): void {
      assert.equal(r.status, status);
      assert.match(r.json.trace, /^[0-9a-f-]{36}$/);
      assert.equal(typeof r.json.error.code, 'string');
      if (code) assert.equal(r.json.error.code, code);
      assert.equal(typeof r.json.error.message, 'string');
      assert.equal(typeof r.json.error.more_info, 'string');
      assert.equal(typeof r.json.error.target.type, 'string');
      assert.equal(typeof r.json.error.target.name, 'string');
    }

    it('stores a text key, json value and base64 headers; answers {topic, partition, offset, timestamp}', async function () {
      const t = await newTopic(3);
      const r = await v2(t, {
        headers: [
          { name: 'source', value: Buffer.from('node-red').toString('base64') },
          { name: 'trace', value: 'YWJjMTIz' },
        ],
        key: { type: 'text', data: 'customer-42' },
        value: { type: 'json', data: '{"orderId":7}' },
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.topic, t);
      assert.equal(r.json.partition, partitionForKey(Buffer.from('customer-42'), 3));
      assert.equal(r.json.offset, 0);
      assert.equal(typeof r.json.timestamp, 'number');
      const [rec] = await ep.readRecords(t);
      assert.deepEqual(rec!.key, Buffer.from('customer-42'));
      assert.equal(rec!.value.toString(), '{"orderId":7}');
      assert.deepEqual(rec!.headers, [
        ['source', Buffer.from('node-red')],
        ['trace', Buffer.from('abc123')],
      ]);
    });

    const values: Array<[string, unknown, Buffer, string?]> = [
      ['text', { type: 'text', data: 'plain' }, Buffer.from('plain')],
      ['binary (base64)', { type: 'binary', data: 'AAECAwQ=' }, Buffer.from([0, 1, 2, 3, 4])],
      ['upper-case type', { type: 'TEXT', data: 'x' }, Buffer.from('x')],
      [
        // Registered as the registry's first schema (id 1), stored in the Confluent wire format.
        'avro with serializer=confluent',
        {
          type: 'avro',
          data: '{"f":1}',
          schema: '{"type":"record","name":"F","fields":[{"name":"f","type":"int"}]}',
        },
        Buffer.from([0, 0, 0, 0, 1, 2]),
        '?serializer=confluent',
      ],
    ];
    for (const [name, value, expected, query] of values) {
      it(`stores a ${name} value`, async function () {
        const t = await newTopic();
        const r = await v2(t, { value }, {}, query);
        assert.equal(r.status, 200, r.text);
        const [rec] = await ep.readRecords(t);
        assert.deepEqual(rec!.value, expected);
        assert.equal(rec!.key, null);
      });
    }

    it('accepts the API key itself as Bearer', async function () {
      const r = await v2('t1', { value: { type: 'text', data: 'x' } }, { authorization: `Bearer ${KEY}` });
      assert.equal(r.status, 200);
    });

    const invalid: Array<[string, unknown, string, string?]> = [
      ['a body that is not JSON', '{"value":', 'invalid_json'],
      ['a missing value', { key: { type: 'text', data: 'k' } }, 'invalid_type'],
      ['a value without type', { value: { data: 'x' } }, 'invalid_type'],
      ['an unknown type', { value: { type: 'xml', data: '<a/>' } }, 'invalid_type'],
      ['binary data that is not base64', { value: { type: 'binary', data: '***' } }, 'invalid_value'],
      ['json data that does not parse', { value: { type: 'json', data: '{"a":' } }, 'invalid_value'],
      ['avro without serializer=confluent', { value: { type: 'avro', data: '{}' } }, 'invalid_value'],
      [
        'a header value that is not base64',
        { value: { type: 'text', data: 'x' }, headers: [{ name: 'h', value: '%%' }] },
        'invalid_value',
      ],
      [
        'headers that are not an array',
        { value: { type: 'text', data: 'x' }, headers: { h: 'eA==' } },
        'invalid_type',
      ],
      [
        'a key over 4096 bytes',
        { key: { type: 'text', data: 'k'.repeat(4097) }, value: { type: 'text', data: 'x' } },
        'invalid_value',
      ],
    ];
    for (const [name, envelope, code] of invalid) {
      it(`answers 400 in the v2 error shape for ${name}`, async function () {
        assertV2Error(await v2('t1', envelope), 400, code);
      });
    }

    it("answers 400 (v2 shape, code invalid_type, target 'type') exactly as documented", async function () {
      const r = await v2('t1', { value: { data: 'x' } });
      assert.equal(r.json.error.target.type, 'field');
      assert.equal(r.json.error.target.name, 'type');
      assert.equal(r.json.error.message, "'type' field in 'value' object is required");
    });

    it('answers 400 for a payload over 64 KB', async function () {
      assertV2Error(await v2('t1', { value: { type: 'text', data: 'x'.repeat(70000) } }), 400);
    });

    const unauthorized: Array<[string, Record<string, string>]> = [
      ['Basic token:<key> (no longer accepted)', { authorization: basic('token', KEY) }],
      ['Basic username:password', { authorization: basic('alice', 's3cret-pw') }],
      ['X-Auth-Token', { authorization: '', 'x-auth-token': KEY }],
      ['a wrong Bearer', { authorization: 'Bearer nope' }],
    ];
    for (const [name, headers] of unauthorized) {
      it(`answers 401 in the v2 shape for ${name}`, async function () {
        const h = { ...headers };
        const r = await client.req('POST', '/v2/topics/t1/records', {
          headers: { 'content-type': 'application/json', ...h },
          body: JSON.stringify({ value: { type: 'text', data: 'x' } }),
          auth: h.authorization === '' ? false : undefined,
        });
        assertV2Error(r, 401, 'unauthorized');
      });
    }

    it('answers 415 in the v2 shape for a non-JSON content type', async function () {
      assertV2Error(
        await v2('t1', { value: { type: 'text', data: 'x' } }, { 'content-type': 'text/plain' }),
        415,
      );
    });

    it('answers 404 in the v2 shape for an unknown topic', async function () {
      assertV2Error(await v2('nope-v2', { value: { type: 'text', data: 'x' } }), 404, 'topic_not_found');
    });

    it('answers 403 in the v2 shape for a forbidden topic', async function () {
      assertV2Error(await v2('secret-t', { value: { type: 'text', data: 'x' } }), 403, 'forbidden');
    });
  });

  describe('record inspection route', function () {
    it('returns records with utf8/base64 encodings and honours partition, from and limit', async function () {
      const t = await newTopic(2);
      await client.produce(
        t,
        Buffer.from([0xff, 0xfe]),
        'application/octet-stream',
        '?key=ff01&keyType=binary&headers=h:ff00,t:6869',
      );
      await client.produce(t, 'text', 'text/plain');
      await client.produce(t, 'more', 'text/plain');
      const all = await client.req('GET', `/local/topics/${t}/records`);
      assert.equal(all.status, 200);
      assert.equal(all.json.length, 3);
      const first = all.json.find((r: any) => r.valueEncoding === 'base64');
      assert.deepEqual(first, {
        partition: first.partition,
        offset: 0,
        timestamp: first.timestamp,
        key: Buffer.from([0xff, 0x01]).toString('base64'),
        keyEncoding: 'base64',
        value: Buffer.from([0xff, 0xfe]).toString('base64'),
        valueEncoding: 'base64',
        headers: [
          { name: 'h', value: Buffer.from([0xff, 0]).toString('base64'), encoding: 'base64' },
          { name: 't', value: 'hi', encoding: 'utf8' },
        ],
      });
      const text = all.json.find((r: any) => r.value === 'text');
      assert.equal(text.valueEncoding, 'utf8');
      assert.equal(text.key, null);
      const p = text.partition;
      const part = await client.req('GET', `/local/topics/${t}/records?partition=${p}&from=0&limit=1`);
      assert.equal(part.json.length, 1);
      assert.equal(part.json[0].partition, p);
      const fromOne = await client.req('GET', `/local/topics/${t}/records?from=1`);
      assert.ok(fromOne.json.every((r: any) => r.offset >= 1));
    });

    it('needs credentials and answers 404 for an unknown topic and 400 for bad parameters', async function () {
      assert.equal((await client.req('GET', '/local/topics/t1/records', { auth: false })).status, 401);
      assert.equal((await client.req('GET', '/local/topics/nope/records')).status, 404);
      assert.equal((await client.req('GET', '/local/topics/t1/records?limit=-1')).status, 400);
      assert.equal((await client.req('GET', '/local/topics/t1/records?partition=x')).status, 400);
    });
  });
});

describe('local endpoint: on-prem flavour and auto-create', function () {
  let dir: string;
  let ep: LocalEndpoint;
  let client: Client;

  before(async function () {
    dir = tempDir();
    ep = await startLocalEndpoint({
      port: 0,
      stateDir: dir,
      flavour: 'onprem',
      autoCreateTopics: true,
      defaultPartitions: 2,
      maxMessageBytes: 100,
      maxKeyBytes: 10,
      topics: [{ name: 'o1' }],
    });
    client = new Client(ep);
  });

  after(async function () {
    await client.close();
    await ep.stop();
    removeDir(dir);
  });

  it('answers 411 for an empty body', async function () {
    const r = await client.produce('o1', '');
    assert.equal(r.status, 411);
    assert.equal(r.json.error.error_code, 411);
  });

  it('has no v2 endpoint', async function () {
    const r = await client.req('POST', '/v2/topics/o1/records', {
      headers: { 'content-type': 'application/json' },
      body: '{"value":{"type":"text","data":"x"}}',
    });
    assert.equal(r.status, 404);
  });

  it('applies configured key and message limits', async function () {
    assert.equal((await client.produce('o1', 'x'.repeat(100))).status, 200);
    assert.deepEqual((await client.produce('o1', 'x'.repeat(101))).json, TOO_LARGE);
    assert.deepEqual((await client.produce('o1', 'x', 'text/plain', '?key=12345678901')).json, TOO_LARGE);
  });

  it('creates unknown topics on first produce when autoCreateTopics is set', async function () {
    const r = await client.produce('auto-made', 'x');
    assert.equal(r.status, 200);
    const detail = await ep.backend.getTopic('auto-made');
    assert.equal(detail?.partitions, 2);
  });

  it('does not auto-create topics with invalid names', async function () {
    const r = await client.produce('bad name!', 'x');
    assert.equal(r.status, 404);
  });
});
