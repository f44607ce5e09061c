// SPDX-License-Identifier: Apache-2.0
import assert from 'node:assert/strict';

import { encodeV1, encodeV2, parseProduceSuccess } from '../../lib/encode';
import { parseErrorBody, parseRetryAfter } from '../../lib/error-body';
import { fromHttp } from '../../lib/error-model';
import { RateLimitedError, UnavailableError, ValidationError } from '../../lib/errors';
import { isWellFormedString, validateTopicName } from '../../lib/validate';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected a ValidationError');
}

describe('validateTopicName', () => {
  it('accepts legal Kafka names up to 249 characters', () => {
    for (const name of ['orders', 'a', 'A.b_c-9', '..x', 'x'.repeat(249)])
      assert.equal(validateTopicName(name), name);
  });

  it('rejects everything else with INVALID_TOPIC', () => {
    for (const bad of [
      '',
      '.',
      '..',
      'x'.repeat(250),
      'a b',
      'a/b',
      'ä',
      'a:b',
      'a,b',
      42,
      null,
      undefined,
      {},
    ]) {
      assert.equal(
        code(() => validateTopicName(bad)),
        'INVALID_TOPIC',
        String(bad),
      );
    }
  });

  it('detects lone surrogates', () => {
    assert.equal(isWellFormedString('ok 😀'), true);
    assert.equal(isWellFormedString('bad \ud83d'), false);
    assert.equal(isWellFormedString('\ude00 bad'), false);
  });
});

describe('encodeV1', () => {
  it('derives the content type from the value and sends it raw', () => {
    const buf = Buffer.from([0, 1, 2, 255]);
    let r = encodeV1('', 't', { value: buf });
    assert.equal(r.contentType, 'application/octet-stream');
    assert.equal(r.body, buf);
    r = encodeV1('', 't', { value: new Uint8Array([7, 8]) });
    assert.equal(r.contentType, 'application/octet-stream');
    assert.deepEqual([...(r.body as Buffer)], [7, 8]);
    r = encodeV1('', 't', { value: 'héllo' });
    assert.equal(r.contentType, 'text/plain');
    assert.equal(r.body, 'héllo');
    r = encodeV1('', 't', { value: { a: 1, b: [true] } });
    assert.equal(r.contentType, 'application/json');
    assert.equal(r.body, '{"a":1,"b":[true]}');
    r = encodeV1('', 't', { value: [1, 2] });
    assert.equal(r.contentType, 'application/json');
    assert.equal(r.body, '[1,2]');
    r = encodeV1('', 't', { value: 42 });
    assert.equal(r.contentType, 'text/plain');
    assert.equal(r.body, '42');
    r = encodeV1('', 't', { value: false });
    assert.equal(r.body, 'false');
    r = encodeV1('', 't', { value: { a: 1 }, contentType: 'application/vnd.ibm-event-streams.json.v1' });
    assert.equal(r.contentType, 'application/vnd.ibm-event-streams.json.v1');
    assert.equal(r.path, '/topics/t/records');
  });

  it('puts key, keyType and hex headers in the query string', () => {
    let r = encodeV1('/base', 'orders', { value: 'x', key: 'cust 42/é&' });
    assert.equal(r.path, `/base/topics/orders/records?key=${encodeURIComponent('cust 42/é&')}`);
    r = encodeV1('', 'orders', { value: 'x', key: Buffer.from([0xde, 0xad]) });
    assert.equal(r.path, '/topics/orders/records?key=dead&keyType=binary');
    r = encodeV1('', 'orders', {
      value: 'x',
      headers: [
        { name: 'colour', value: 'red' },
        { name: 'size', value: Buffer.from('large') },
        { name: 'colour', value: 'blue' },
      ],
    });
    assert.equal(r.path, '/topics/orders/records?headers=colour:726564,size:6c61726765,colour:626c7565');
    r = encodeV1('', 'orders', { value: 'x', key: 'k', headers: { 'a b': 'c' } });
    assert.equal(r.path, '/topics/orders/records?key=k&headers=a%20b:63');
    const url = new URL(`https://h${r.path}`);
    assert.equal(url.searchParams.get('headers'), 'a b:63');
  });

  it('validates before any network call, each failure with its own code', () => {
    const limits = { maxKeyBytes: 8, maxValueBytes: 16, maxUriBytes: 64 };
    assert.equal(
      code(() => encodeV1('', 't', { value: null } as never)),
      'INVALID_VALUE',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: undefined } as never)),
      'INVALID_VALUE',
    );
    assert.equal(
      code(() => encodeV1('', 't', null as never)),
      'INVALID_VALUE',
    );
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    assert.equal(
      code(() => encodeV1('', 't', { value: circular })),
      'INVALID_VALUE',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: { n: 1n } })),
      'INVALID_VALUE',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: (() => 1) as never })),
      'INVALID_VALUE',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: 'x'.repeat(17) }, limits)),
      'VALUE_TOO_LARGE',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: 'é'.repeat(9) }, limits)),
      'VALUE_TOO_LARGE',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: 'x', key: 'k'.repeat(9) }, limits)),
      'KEY_TOO_LARGE',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: 'x', key: 'ééééé' }, limits)),
      'KEY_TOO_LARGE',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: 'x', key: 5 as never })),
      'INVALID_KEY',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: 'x', key: 'a\ud800' })),
      'INVALID_KEY',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: 'x', headers: { 'a,b': 'v' } })),
      'INVALID_HEADERS',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: 'x', headers: { 'a:b': 'v' } })),
      'INVALID_HEADERS',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: 'x', headers: [{ name: '', value: 'v' }] })),
      'INVALID_HEADERS',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: 'x', headers: { a: 5 as never } })),
      'INVALID_HEADERS',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: 'x', headers: { a: '\udc00' } })),
      'INVALID_HEADERS',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: 'x', headers: { ['\ud800']: 'v' } })),
      'INVALID_HEADERS',
    );
    assert.equal(
      code(() =>
        encodeV1('', 't', { value: 'x', headers: { h: 'v'.repeat(40) } }, { ...limits, maxKeyBytes: 100 }),
      ),
      'URI_TOO_LONG',
    );
    assert.equal(
      code(() => encodeV1('', 't', { value: 'x', contentType: 'text/plain\r\nX-Evil: 1' })),
      'VALIDATION',
    );
    // The default URI limit is 10 KB: a 4 KB binary key is 8 KB of hex and still fits.
    assert.ok(encodeV1('', 't', { value: 'x', key: Buffer.alloc(4096) }).path.length < 10240);
    assert.equal(
      code(() =>
        encodeV1('', 't', { value: 'x', key: Buffer.alloc(4096), headers: { h: Buffer.alloc(1200) } }),
      ),
      'URI_TOO_LONG',
    );
  });
});

describe('encodeV2', () => {
  it('builds the JSON envelope with base64 binary data and header values', () => {
    const r = encodeV2('', 'orders', {
      key: 'customer-42',
      value: { orderId: 7, total: 19.5 },
      headers: { source: 'node-red', trace: Buffer.from('abc123') },
    });
    assert.equal(r.path, '/v2/topics/orders/records');
    assert.equal(r.contentType, 'application/json');
    assert.deepEqual(JSON.parse(r.body as string), {
      headers: [
        { name: 'source', value: Buffer.from('node-red').toString('base64') },
        { name: 'trace', value: 'YWJjMTIz' },
      ],
      key: { type: 'text', data: 'customer-42' },
      value: { type: 'json', data: '{"orderId":7,"total":19.5}' },
    });
    const bin = JSON.parse(
      encodeV2('', 't', { value: Buffer.from([0, 1, 2, 3, 4]), key: Buffer.from([9]) }).body as string,
    );
    assert.deepEqual(bin.value, { type: 'binary', data: 'AAECAwQ=' });
    assert.deepEqual(bin.key, { type: 'binary', data: 'CQ==' });
    assert.deepEqual(JSON.parse(encodeV2('', 't', { value: 'hi' }).body as string).value, {
      type: 'text',
      data: 'hi',
    });
    assert.deepEqual(JSON.parse(encodeV2('', 't', { value: 3 }).body as string).value, {
      type: 'text',
      data: '3',
    });
  });

  it('honours valueType and contentType', () => {
    const v = (rec: Parameters<typeof encodeV2>[2]): unknown =>
      JSON.parse(encodeV2('', 't', rec).body as string).value;
    assert.deepEqual(v({ value: '{"a":1}', valueType: 'json' }), { type: 'json', data: '{"a":1}' });
    assert.deepEqual(v({ value: '{"a":1}', contentType: 'application/json' }), {
      type: 'json',
      data: '{"a":1}',
    });
    assert.deepEqual(v({ value: 'abc', valueType: 'binary' }), { type: 'binary', data: 'YWJj' });
    assert.deepEqual(v({ value: Buffer.from('txt'), valueType: 'text' }), { type: 'text', data: 'txt' });
    assert.equal(
      code(() => encodeV2('', 't', { value: 'not json', valueType: 'json' })),
      'INVALID_VALUE',
    );
    assert.equal(
      code(() => encodeV2('', 't', { value: Buffer.from([0xff]), valueType: 'text' })),
      'INVALID_VALUE',
    );
  });

  it('limits the whole payload, not just the value', () => {
    const limits = { maxKeyBytes: 4096, maxValueBytes: 100, maxUriBytes: 10240 };
    assert.equal(
      code(() => encodeV2('', 't', { value: 'x'.repeat(60), headers: { h: 'y'.repeat(30) } }, limits)),
      'VALUE_TOO_LARGE',
    );
    encodeV2('', 't', { value: 'x'.repeat(40) }, limits);
    // v2 has no query-string syntax, so ',' and ':' are fine in header names there.
    encodeV2('', 't', { value: 'x', headers: { 'a:b,c': 'v' } });
  });
});

describe('success bodies', () => {
  it('reads the v1 metadata shape with string or number timestamps and extra fields', () => {
    assert.deepEqual(
      parseProduceSuccess(
        'v1',
        'orders',
        200,
        JSON.stringify({
          metadata: { topic: 'orders', timestamp: '1718900000000', partition: 2, offset: 41 },
        }),
      ),
      { topic: 'orders', partition: 2, offset: 41, timestamp: 1718900000000 },
    );
    assert.deepEqual(
      parseProduceSuccess(
        'v1',
        'orders',
        200,
        JSON.stringify({
          metadata: { topic: 'orders', timestamp: 5, partition: 0, offset: '7' },
          Comment: 'schema deprecated',
        }),
      ),
      { topic: 'orders', partition: 0, offset: 7, timestamp: 5 },
    );
    assert.deepEqual(parseProduceSuccess('v1', 'o', 200, '{"topic":"o","partition":1,"offset":3}'), {
      topic: 'o',
      partition: 1,
      offset: 3,
    });
  });

  it('rejects unusable v1 bodies with UnexpectedResponseError', () => {
    for (const body of ['', 'OK', '{}', '{"metadata":{}}', '[]']) {
      assert.throws(() => parseProduceSuccess('v1', 'o', 200, body), { code: 'UNEXPECTED_RESPONSE' }, body);
    }
  });

  it('is lenient for v2: any 2xx is a success', () => {
    assert.deepEqual(parseProduceSuccess('v2', 'o', 200, ''), { topic: 'o' });
    assert.deepEqual(parseProduceSuccess('v2', 'o', 202, 'accepted'), { topic: 'o' });
    assert.deepEqual(parseProduceSuccess('v2', 'o', 200, '{"foo":1}'), { topic: 'o' });
    assert.deepEqual(
      parseProduceSuccess(
        'v2',
        'o',
        200,
        '{"topic":"o","partition":4,"offset":9,"timestamp":"2024-01-01T00:00:00Z"}',
      ),
      {
        topic: 'o',
        partition: 4,
        offset: 9,
        timestamp: Date.parse('2024-01-01T00:00:00Z'),
      },
    );
  });
});

describe('error bodies and status mapping', () => {
  it('parses every documented error body shape', () => {
    assert.deepEqual(parseErrorBody('{"error":{"error_code":415,"message":"Unsupported content type"}}'), {
      serverMessage: 'Unsupported content type',
      serverCode: 415,
    });
    assert.deepEqual(
      parseErrorBody(
        '{"error":{"error_code":404,"message":"nope","kafka_error_code":3,"topic":"orders","incident":"inc-1"}}',
      ),
      { serverMessage: 'nope', serverCode: 404, incidentId: 'inc-1', kafkaErrorCode: 3, topic: 'orders' },
    );
    assert.deepEqual(
      parseErrorBody(
        '{"error_code":404,"message":"top","error":{"error_code":404,"message":"inner","kafka_error_code":3,"topic":"t","incident":"i2","schema":"s"}}',
      ),
      { serverMessage: 'inner', serverCode: 404, incidentId: 'i2', kafkaErrorCode: 3, topic: 't' },
    );
    assert.deepEqual(
      parseErrorBody(
        '{"trace":"tr-9","error":{"code":"invalid_type","message":"\'type\' field is required","more_info":"https://x","target":{"type":"field","name":"type"}}}',
      ),
      { serverMessage: "'type' field is required", serverCode: 'invalid_type', incidentId: 'tr-9' },
    );
    assert.deepEqual(
      parseErrorBody('{"error_code":40403,"message":"topic \'ffff\' does not exist","incident_id":"a34b"}'),
      {
        serverMessage: "topic 'ffff' does not exist",
        serverCode: 40403,
        incidentId: 'a34b',
      },
    );
    assert.deepEqual(parseErrorBody('{"errorCode":403,"errorMessage":"Unauthorized"}'), {
      serverMessage: 'Unauthorized',
      serverCode: 403,
    });
    assert.deepEqual(parseErrorBody('plain failure text'), { serverMessage: 'plain failure text' });
    assert.deepEqual(parseErrorBody('<html>bad gateway</html>'), {});
  });

  it('maps statuses to the error hierarchy by HTTP status', () => {
    const map = (
      status: number,
      body = '{}',
      headers: Record<string, string> = {},
    ): { name: string; code: string; retriable: boolean } => {
      const e = fromHttp(status, headers, body, { operation: 'Produce to topic "t"', topic: 't' });
      return { name: e.name, code: e.code, retriable: e.retriable };
    };
    assert.deepEqual(
      map(
        400,
        '{"error":{"error_code":400,"message":"Error parsing JSON message: http: request body too large"}}',
      ),
      {
        name: 'PayloadTooLargeError',
        code: 'PAYLOAD_TOO_LARGE',
        retriable: false,
      },
    );
    assert.equal(map(413).code, 'PAYLOAD_TOO_LARGE');
    assert.equal(map(400, '{"error":{"error_code":400,"message":"bad keyType"}}').name, 'BadRequestError');
    for (const s of [411, 414, 422]) assert.equal(map(s).code, 'BAD_REQUEST', String(s));
    assert.deepEqual(map(415), { name: 'BadRequestError', code: 'UNSUPPORTED_MEDIA_TYPE', retriable: false });
    assert.equal(map(401).name, 'AuthenticationError');
    assert.equal(map(403).name, 'AuthorizationError');
    assert.equal(map(404).name, 'TopicNotFoundError');
    assert.deepEqual(map(408), { name: 'TimeoutError', code: 'TIMEOUT', retriable: true });
    assert.deepEqual(map(429), { name: 'RateLimitedError', code: 'RATE_LIMITED', retriable: true });
    assert.deepEqual(map(500), { name: 'ServerError', code: 'SERVER_ERROR', retriable: true });
    for (const s of [502, 503, 504])
      assert.deepEqual(map(s), { name: 'UnavailableError', code: 'UNAVAILABLE', retriable: true });
    for (const s of [302, 409, 418, 501]) assert.equal(map(s).code, 'UNEXPECTED_RESPONSE', String(s));
    // error_code digits do not decide: a 503 body that says 40403 is still a 503.
    assert.equal(map(503, '{"error_code":40403,"message":"x"}').code, 'UNAVAILABLE');
  });

  it('keeps server details and takes the incident from X-Global-Transaction-Id when the body has none', () => {
    const e = fromHttp(
      503,
      { 'x-global-transaction-id': 'tx-77', 'retry-after': '2' },
      '{"error_code":50301,"message":"Unknown Kafka Error"}',
      {
        operation: 'Produce to topic "t"',
        topic: 't',
      },
    );
    assert.ok(e instanceof UnavailableError);
    assert.equal(e.retryAfterMs, 2000);
    assert.equal(e.incidentId, 'tx-77');
    assert.equal(e.serverCode, 50301);
    assert.equal(e.statusCode, 503);
    assert.equal(e.topic, 't');
    assert.match(e.message, /Unknown Kafka Error/);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter('0.25'), 250);
    const now = Date.parse('2030-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('Tue, 01 Jan 2030 00:00:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('Mon, 01 Jan 2029 00:00:05 GMT', now), 0);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
    const e = fromHttp(429, { 'retry-after': '1' }, '', { operation: 'x' });
    assert.ok(e instanceof RateLimitedError);
    assert.equal(e.retryAfterMs, 1000);
  });

  it('scrubs credentials a server echoes back', () => {
    const secret = 'my-very-secret-api-key-123';
    const e = fromHttp(
      401,
      {},
      JSON.stringify({ error: { error_code: 401, message: `key ${secret} rejected` } }),
      {
        operation: 'Produce',
        secrets: [secret],
      },
    );
    assert.ok(!e.message.includes(secret));
    assert.ok(!JSON.stringify(e).includes(secret));
  });
});
