// SPDX-License-Identifier: Apache-2.0
import assert from 'node:assert/strict';
import net from 'node:net';
import { inspect } from 'node:util';

import { EventStreamsClient } from '../../lib/client';
import { type EventStreamsError, RetriesExhaustedError } from '../../lib/errors';
import type { ClientOptions } from '../../lib/types';
import { reply, startHttpsServer, type TestServer, testPki, v1Success } from '../support/https-server';
import { waitFor } from '../support/wait';

const API_KEY = 'client-test-api-key-0123456789';
const FAST_RETRY = { retries: 3, initialDelayMs: 1, maxDelayMs: 5 };

function clientFor(server: TestServer, extra: Partial<ClientOptions> = {}): EventStreamsClient {
  return new EventStreamsClient({
    url: server.url,
    auth: { mode: 'bearer', apiKey: API_KEY },
    tls: { ca: testPki().ca.cert },
    retry: FAST_RETRY,
    ...extra,
  });
}

async function rejection(p: Promise<unknown>): Promise<EventStreamsError> {
  try {
    await p;
  } catch (err) {
    return err as EventStreamsError;
  }
  assert.fail('expected a rejection');
}

function assertNoSecret(err: unknown, ...secrets: string[]): void {
  const text = inspect(err, { depth: 10 }) + JSON.stringify(err);
  for (const s of secrets) assert.ok(!text.includes(s), `secret leaked in ${text}`);
}

/** A gate the handler waits on, so tests can hold requests in flight. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

describe('EventStreamsClient (against a test HTTPS server)', () => {
  let server: TestServer;
  const clients: EventStreamsClient[] = [];
  const track = (c: EventStreamsClient): EventStreamsClient => {
    clients.push(c);
    return c;
  };

  before(async () => {
    server = await startHttpsServer();
  });
  after(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.requests.length = 0;
    server.handler = (req, res) => reply(res, 200, v1Success(req.path.split('/')[2]!, 1, 5));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close({ deadlineMs: 0 })));
  });

  it('rejects bad options with INVALID_CONFIG', () => {
    const bad: unknown[] = [
      {},
      { url: 'not a url' },
      { url: 'ftp://x' },
      { url: 'https://user:pw@host' },
      { url: 'https://h', auth: { mode: 'bearer' } },
      { url: 'https://h', auth: { mode: 'basic', username: 'a:b', password: 'p' } },
      { url: 'https://h', auth: { mode: 'client-cert' } },
      { url: 'https://h', auth: { mode: 'iam', apiKey: 'k', iamUrl: 'nope' } },
      { url: 'https://h', flavour: 'v3' },
      { url: 'https://h', connections: 0 },
      { url: 'https://h', tls: { ca: 'not a pem' } },
      { url: 'https://h', tls: { cert: 'x' } },
    ];
    for (const o of bad) {
      assert.throws(
        () => new EventStreamsClient(o as ClientOptions),
        { code: 'INVALID_CONFIG' },
        JSON.stringify(o),
      );
    }
  });

  it('produces v1: raw body, query-string key and headers, Accept json, result as reported', async () => {
    const client = track(clientFor(server));
    const result = await client.produce('orders', {
      value: { id: 7 },
      key: 'k-1',
      headers: { colour: 'red' },
    });
    assert.deepEqual(result, {
      topic: 'orders',
      partition: 1,
      offset: 5,
      timestamp: 1718900000000,
      attempts: 1,
      // {"id":7} + k-1 + colour + red: the metrics' bytes, from the one encoding.
      bytes: 20,
    });
    const req = server.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/topics/orders/records');
    assert.equal(req.query.get('key'), 'k-1');
    assert.equal(req.query.get('headers'), 'colour:726564');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers.accept, 'application/json');
    assert.equal(req.headers.authorization, `Bearer ${API_KEY}`);
    assert.equal(req.body.toString(), '{"id":7}');
    const bin = await client.produce('orders', { value: Buffer.from([1, 2, 3]), key: Buffer.from([0xab]) });
    assert.equal(bin.attempts, 1);
    const req2 = server.requests[1]!;
    assert.equal(req2.headers['content-type'], 'application/octet-stream');
    assert.equal(req2.query.get('keyType'), 'binary');
    assert.equal(req2.query.get('key'), 'ab');
    assert.deepEqual([...req2.body], [1, 2, 3]);
  });

  it('produces v2: JSON envelope to /v2/topics/{t}/records, lenient about the success body', async () => {
    const client = track(clientFor(server, { flavour: 'v2' }));
    server.handler = (_req, res) => reply(res, 200, { topic: 'orders', partition: 2, offset: 9 });
    const r = await client.produce('orders', {
      value: 'hello',
      key: 'k',
      headers: [{ name: 'h', value: 'v' }],
    });
    assert.deepEqual(r, { topic: 'orders', partition: 2, offset: 9, attempts: 1, bytes: 8 });
    const req = server.requests[0]!;
    assert.equal(req.path, '/v2/topics/orders/records');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(req.body.toString()), {
      headers: [{ name: 'h', value: 'dg==' }],
      key: { type: 'text', data: 'k' },
      value: { type: 'text', data: 'hello' },
    });
    server.handler = (_req, res) => reply(res, 200);
    assert.deepEqual(await client.produce('orders', { value: 1 }), {
      topic: 'orders',
      attempts: 1,
      bytes: 1,
    });
  });

  it('maps every documented status and error body shape, failing non-retriable ones after one attempt', async () => {
    const client = track(clientFor(server, { retry: { retries: 0 } }));
    const cases: Array<[number, unknown, string, Record<string, unknown>]> = [
      [
        400,
        { error: { error_code: 400, message: 'Error parsing JSON message: http: request body too large' } },
        'PAYLOAD_TOO_LARGE',
        {},
      ],
      [
        400,
        {
          trace: 'tr-1',
          error: {
            code: 'invalid_type',
            message: "'type' field is required",
            more_info: 'x',
            target: { type: 'field', name: 'type' },
          },
        },
        'BAD_REQUEST',
        { incidentId: 'tr-1', serverCode: 'invalid_type' },
      ],
      [
        401,
        { error: { error_code: 401, message: 'Unauthorized' } },
        'AUTHENTICATION_FAILED',
        { serverMessage: 'Unauthorized' },
      ],
      [
        403,
        { errorCode: 403, errorMessage: 'Forbidden' },
        'AUTHORIZATION_FAILED',
        { serverMessage: 'Forbidden' },
      ],
      [
        404,
        {
          error: {
            error_code: 404,
            message: "Topic 'orders' does not exist",
            kafka_error_code: 3,
            topic: 'orders',
            incident: 'inc-4',
          },
        },
        'TOPIC_NOT_FOUND',
        { kafkaErrorCode: 3, incidentId: 'inc-4' },
      ],
      [
        404,
        {
          error_code: 404,
          message: 'top',
          error: {
            error_code: 404,
            message: 'inner',
            kafka_error_code: 3,
            topic: 'orders',
            incident: 'inc-5',
          },
        },
        'TOPIC_NOT_FOUND',
        { serverMessage: 'inner' },
      ],
      [408, { error: { error_code: 408, message: 'timed out' } }, 'TIMEOUT', {}],
      [411, { error: { error_code: 411, message: 'no data' } }, 'BAD_REQUEST', {}],
      [413, 'too big', 'PAYLOAD_TOO_LARGE', {}],
      [414, '', 'BAD_REQUEST', {}],
      [
        415,
        { error: { error_code: 415, message: 'Unsupported content type' } },
        'UNSUPPORTED_MEDIA_TYPE',
        {},
      ],
      [
        422,
        { error_code: 42200, message: 'nope', incident_id: 'adm-1' },
        'BAD_REQUEST',
        { incidentId: 'adm-1', serverCode: 42200 },
      ],
      [429, { error: { error_code: 429, message: 'slow down' } }, 'RATE_LIMITED', {}],
      [500, { error: { error_code: 500, message: 'boom' } }, 'SERVER_ERROR', {}],
      [502, '<html>bad gateway</html>', 'UNAVAILABLE', {}],
      [
        503,
        { error_code: 50301, message: 'Unknown Kafka Error', incident_id: 'i-503' },
        'UNAVAILABLE',
        { incidentId: 'i-503' },
      ],
      [504, '', 'UNAVAILABLE', {}],
      [418, 'teapot', 'UNEXPECTED_RESPONSE', {}],
    ];
    for (const [status, body, expected, fields] of cases) {
      server.requests.length = 0;
      server.handler = (_req, res) => reply(res, status, body);
      const err = await rejection(client.produce('orders', { value: 'x' }));
      assert.equal(err.code, expected, `HTTP ${status}`);
      assert.equal(err.statusCode, status);
      assert.equal(err.attempts, 1, `attempts for ${status}`);
      assert.equal(server.requests.length, 1, `requests for ${status}`);
      for (const [k, v] of Object.entries(fields))
        assert.deepEqual((err as unknown as Record<string, unknown>)[k], v, `${status} ${k}`);
      assertNoSecret(err, API_KEY);
    }
    // A 200 without metadata on v1 is an UnexpectedResponseError, not a silent success.
    server.handler = (_req, res) => reply(res, 200, 'OK');
    assert.equal((await rejection(client.produce('orders', { value: 'x' }))).code, 'UNEXPECTED_RESPONSE');
    assert.equal(client.stats().failed, cases.length + 1);
  });

  it('retries retriable failures with backoff and reports the attempts', async () => {
    const client = track(clientFor(server));
    let n = 0;
    server.handler = (_req, res) => {
      n++;
      if (n === 1) return reply(res, 503, { error_code: 50301, message: 'Unknown Kafka Error' });
      if (n === 2) return reply(res, 500, { error: { error_code: 500, message: 'x' } });
      return reply(res, 200, v1Success('orders', 0, 1));
    };
    const r = await client.produce('orders', { value: 'x' });
    assert.equal(r.attempts, 3);
    assert.equal(client.stats().retries, 2);
    assert.equal(client.stats().delivered, 1);
    // The same request is resent unchanged.
    assert.equal(server.requests[0]!.url, server.requests[2]!.url);
  });

  it('gives up with RetriesExhaustedError carrying the last error and the attempt count', async () => {
    const client = track(clientFor(server, { retry: { retries: 2, initialDelayMs: 1, maxDelayMs: 2 } }));
    server.handler = (_req, res) => reply(res, 503, { error_code: 50301, message: 'Unknown Kafka Error' });
    const err = await rejection(client.produce('orders', { value: 'x' }));
    assert.ok(err instanceof RetriesExhaustedError);
    assert.equal(err.attempts, 3);
    assert.equal((err.cause as EventStreamsError).code, 'UNAVAILABLE');
    assert.equal(err.statusCode, 503);
    assert.equal(server.requests.length, 3);
  });

  it('honours Retry-After, capped by maxDelayMs', async () => {
    const client = track(clientFor(server, { retry: { retries: 2, initialDelayMs: 1, maxDelayMs: 250 } }));
    let n = 0;
    server.handler = (_req, res) =>
      ++n === 1
        ? reply(res, 429, { error: { error_code: 429, message: 'slow' } }, { 'retry-after': '1' })
        : reply(res, 200, v1Success('orders'));
    const started = Date.now();
    const p = client.produce('orders', { value: 'x' });
    // Wait for the condition, not a fixed time: the 429 may take a while on a busy machine.
    await waitFor(() => client.stats().state === 'throttled', 'the client to be throttled', {
      intervalMs: 5,
    });
    const r = await p;
    const elapsed = Date.now() - started;
    assert.equal(r.attempts, 2);
    assert.ok(elapsed >= 240, `waited ${elapsed} ms; Retry-After (capped to 250 ms) not honoured`);
    assert.ok(elapsed < 900, `waited ${elapsed} ms; the cap was not applied`);
    assert.equal(client.stats().state, 'idle');
  });

  it('retries dropped connections and reports refused ones as ConnectionError', async () => {
    const client = track(clientFor(server));
    let n = 0;
    server.handler = (_req, res) => {
      if (++n === 1) {
        res.socket?.destroy();
        return;
      }
      reply(res, 200, v1Success('orders'));
    };
    assert.equal((await client.produce('orders', { value: 'x' })).attempts, 2);

    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const dead = track(
      new EventStreamsClient({ url: `https://127.0.0.1:${port}`, retry: { retries: 1, initialDelayMs: 1 } }),
    );
    const err = await rejection(dead.produce('orders', { value: 'x' }));
    assert.equal(err.code, 'RETRIES_EXHAUSTED');
    const cause = err.cause as EventStreamsError & { systemCode?: string };
    assert.equal(cause.code, 'CONNECTION_FAILED');
    assert.equal(cause.systemCode, 'ECONNREFUSED');
  });

  it('times out a server that does not answer', async () => {
    const client = track(clientFor(server, { requestTimeoutMs: 100, retry: { retries: 0 } }));
    const hold = gate();
    server.handler = async (_req, res) => {
      await hold.wait;
      reply(res, 200, v1Success('orders'));
    };
    const err = await rejection(client.produce('orders', { value: 'x' }));
    hold.open();
    assert.equal(err.code, 'TIMEOUT');
    assert.equal(err.retriable, true);
    assert.equal(err.attempts, 1);
  });

  it('reuses keep-alive connections', async () => {
    const before = server.connections;
    const client = track(clientFor(server));
    for (let i = 0; i < 10; i++) await client.produce('orders', { value: i });
    // undici's Pool may open a second socket right after the first request (it marks the first
    // client busy until its drain event), but never one per request.
    assert.ok(server.connections - before <= 2, `${server.connections - before} connections for 10 requests`);
  });

  it('bounds the queue: overflow rejects only the new record, nothing queued is dropped', async () => {
    const client = track(clientFor(server, { maxInFlight: 1, queue: { maxMessages: 2 } }));
    const hold = gate();
    server.handler = async (req, res) => {
      await hold.wait;
      reply(res, 200, v1Success('orders', 0, server.requests.indexOf(req)));
    };
    const accepted = [0, 1, 2].map((i) => client.produce('orders', { value: `v${i}` }));
    let s = client.stats();
    assert.equal(s.inFlight, 1);
    assert.equal(s.queued, 2);
    assert.ok(s.queuedBytes > 0);
    assert.equal(s.state, 'busy');
    const overflow = await rejection(client.produce('orders', { value: 'v3' }));
    assert.equal(overflow.code, 'QUEUE_FULL');
    assert.equal(client.stats().queued, 2);
    hold.open();
    const results = await Promise.all(accepted);
    assert.deepEqual(
      results.map((r) => r.offset),
      [0, 1, 2],
    );
    assert.deepEqual(
      server.requests.map((r) => r.body.toString()),
      ['v0', 'v1', 'v2'],
    );
    s = client.stats();
    assert.equal(s.queued, 0);
    assert.equal(s.queuedBytes, 0);
    assert.equal(s.delivered, 3);
  });

  it('bounds the queue by bytes too', async () => {
    const client = track(clientFor(server, { maxInFlight: 1, queue: { maxMessages: 100, maxBytes: 300 } }));
    const hold = gate();
    server.handler = async (_req, res) => {
      await hold.wait;
      reply(res, 200, v1Success('orders'));
    };
    const first = client.produce('orders', { value: 'a' });
    const second = client.produce('orders', { value: 'b'.repeat(200) });
    const err = await rejection(client.produce('orders', { value: 'c'.repeat(200) }));
    assert.equal(err.code, 'QUEUE_FULL');
    hold.open();
    await Promise.all([first, second]);
  });

  it('close() drains in-flight and queued records, then refuses new ones', async () => {
    const client = track(clientFor(server, { maxInFlight: 1 }));
    const hold = gate();
    server.handler = async (_req, res) => {
      await hold.wait;
      reply(res, 200, v1Success('orders'));
    };
    const pending = [client.produce('orders', { value: 1 }), client.produce('orders', { value: 2 })];
    const closing = client.close({ deadlineMs: 5000 });
    assert.equal(client.closed, true);
    assert.equal(client.stats().state, 'closed');
    assert.equal((await rejection(client.produce('orders', { value: 3 }))).code, 'CLOSED');
    setTimeout(hold.open, 20);
    await closing;
    const results = await Promise.all(pending);
    assert.equal(results.length, 2);
    assert.equal(client.close(), closing);
  });

  it('close() rejects leftovers with ClosedError at the deadline', async () => {
    const client = track(clientFor(server, { maxInFlight: 1 }));
    const hold = gate();
    server.handler = async (_req, res) => {
      await hold.wait;
      reply(res, 200, v1Success('orders'));
    };
    const inFlight = rejection(client.produce('orders', { value: 1 }));
    const queued = rejection(client.produce('orders', { value: 2 }));
    const started = Date.now();
    await client.close({ deadlineMs: 50 });
    assert.ok(Date.now() - started < 2000);
    const [e1, e2] = await Promise.all([inFlight, queued]);
    assert.equal(e1.code, 'CLOSED');
    assert.equal(e1.attempts, 1);
    assert.equal(e2.code, 'CLOSED');
    assert.equal(e2.attempts, 0);
    hold.open();
    assert.equal(client.stats().failed, 2);
  });

  it('close() also ends records waiting to be retried', async () => {
    const client = track(
      clientFor(server, { retry: { retries: 5, initialDelayMs: 10_000, maxDelayMs: 10_000 } }),
    );
    server.handler = (_req, res) => reply(res, 503, '');
    const p = rejection(client.produce('orders', { value: 1 }));
    await waitFor(() => client.stats().state === 'retrying', 'the client to be retrying', { intervalMs: 5 });
    await client.close({ deadlineMs: 20 });
    assert.equal((await p).code, 'CLOSED');
  });

  it('keeps per-key order through 429s while a held request frees its slot for other keys', async () => {
    const client = track(
      clientFor(server, { maxInFlight: 2, retry: { retries: 5, initialDelayMs: 1, maxDelayMs: 200 } }),
    );
    let first = true;
    server.handler = (_req, res) => {
      // The very first request (a1) is throttled once; everything else is accepted.
      if (first) {
        first = false;
        return reply(res, 429, { error: { error_code: 429, message: 'slow' } }, { 'retry-after': '0.1' });
      }
      return reply(res, 200, v1Success('orders'));
    };
    const order: string[] = [];
    const p = ['a1', 'a2', 'b1', 'b2', 'a3'].map((v) =>
      client.produce('orders', { value: v, key: v[0] }).then(() => order.push(v)),
    );
    await Promise.all(p);
    const written = server.requests.map((r) => r.body.toString()).filter((_v, i) => i > 0);
    // Key a stays in input order through the 429; key b did not wait for it.
    assert.deepEqual(
      written.filter((v) => v.startsWith('a')),
      ['a1', 'a2', 'a3'],
    );
    assert.ok(
      order.indexOf('b2') < order.indexOf('a1'),
      `b went ahead while a1 was held: ${order.join(',')}`,
    );
  });

  it('withdraw() takes back what is not on the wire and leaves in-flight records running', async () => {
    const client = track(clientFor(server, { maxInFlight: 1 }));
    const hold = gate();
    server.handler = async (_req, res) => {
      await hold.wait;
      reply(res, 200, v1Success('orders'));
    };
    const signal = new AbortController().signal;
    const inFlight = client.produce('orders', { value: 1 }, { signal });
    const queued = rejection(client.produce('orders', { value: 2 }, { signal }));
    const keyed = rejection(client.produce('orders', { value: 3, key: 'k' }, { signal }));
    const behind = rejection(client.produce('orders', { value: 4, key: 'k' }, { signal }));
    await waitFor(() => server.requests.length > 0, 'a request at the server', { intervalMs: 5 });
    assert.equal(client.withdraw(signal), 3);
    assert.deepEqual(
      [(await queued).code, (await keyed).code, (await behind).code],
      ['WITHDRAWN', 'WITHDRAWN', 'WITHDRAWN'],
    );
    hold.open();
    assert.equal((await inFlight).attempts, 1);
    assert.equal(client.stats().failed, 0, 'withdrawn records are not failures');
  });

  it('aborts queued and in-flight records through their AbortSignal', async () => {
    const client = track(clientFor(server, { maxInFlight: 1 }));
    const hold = gate();
    server.handler = async (_req, res) => {
      await hold.wait;
      reply(res, 200, v1Success('orders'));
    };
    const a1 = new AbortController();
    const a2 = new AbortController();
    const inFlight = rejection(client.produce('orders', { value: 1 }, { signal: a1.signal }));
    const queued = rejection(client.produce('orders', { value: 2 }, { signal: a2.signal }));
    a2.abort();
    const e2 = await queued;
    assert.equal(e2.code, 'ABORTED');
    assert.equal(client.stats().queued, 0);
    await waitFor(() => server.requests.length === 1, 'the first record to reach the server');
    a1.abort();
    assert.equal((await inFlight).code, 'ABORTED');
    hold.open();
    const pre = new AbortController();
    pre.abort();
    assert.equal(
      (await rejection(client.produce('orders', { value: 3 }, { signal: pre.signal }))).code,
      'ABORTED',
    );
  });

  it('paces requests with the rate limit', async () => {
    const client = track(clientFor(server, { rateLimit: 20 }));
    const started = Date.now();
    await Promise.all([1, 2, 3, 4, 5].map((i) => client.produce('orders', { value: i })));
    const elapsed = Date.now() - started;
    // Burst of 2 (a tenth of a second), then one every 50 ms: at least ~150 ms for 5 records.
    assert.ok(elapsed >= 130, `5 records at 20/s took only ${elapsed} ms`);
  });

  it('reports auth-failed after a 401 until a later success', async () => {
    const client = track(clientFor(server));
    server.handler = (_req, res) => reply(res, 401, { error: { error_code: 401, message: 'Unauthorized' } });
    await rejection(client.produce('orders', { value: 1 }));
    assert.equal(client.stats().state, 'auth-failed');
    server.handler = (_req, res) => reply(res, 200, v1Success('orders'));
    await client.produce('orders', { value: 1 });
    assert.equal(client.stats().state, 'idle');
  });

  it('validates before any network call', async () => {
    const client = track(clientFor(server, { limits: { maxKeyBytes: 4, maxValueBytes: 8 } }));
    const codes = await Promise.all([
      rejection(client.produce('bad topic', { value: 1 })),
      rejection(client.produce('orders', { value: null as never })),
      rejection(client.produce('orders', { value: 'x'.repeat(9) })),
      rejection(client.produce('orders', { value: 'x', key: 'kkkkk' })),
      rejection(client.produce('orders', { value: 'x', headers: { 'a:b': 'c' } })),
    ]);
    assert.deepEqual(
      codes.map((e) => e.code),
      ['INVALID_TOPIC', 'INVALID_VALUE', 'VALUE_TOO_LARGE', 'KEY_TOO_LARGE', 'INVALID_HEADERS'],
    );
    assert.equal(server.requests.length, 0);
  });

  it('fails a response larger than the cap instead of buffering it', async () => {
    const client = track(clientFor(server, { retry: { retries: 0 } }));
    server.handler = (_req, res) => reply(res, 200, 'x'.repeat(1024 * 1024 + 10));
    assert.equal((await rejection(client.produce('orders', { value: 1 }))).code, 'UNEXPECTED_RESPONSE');
  });
});
