// SPDX-License-Identifier: Apache-2.0
/**
 * The attacks of issue 13 on the local endpoint (the self-hosted gateway), each performed for real
 * over HTTPS with verification on; each test fails if the attack works again.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';

import { Agent, request } from 'undici';

import { validateFaults } from '../../gateway/faults';
import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import type { LocalEndpointOptions } from '../../gateway/types';
import { Client, removeDir, tempDir } from '../gateway/util';

const MANAGER = 'manager-key-0123456789abcdef';
const WRITER = 'writer-key-0123456789abcdef';

interface Started {
  ep: LocalEndpoint;
  client: Client;
  stop(): Promise<void>;
}

async function start(options: LocalEndpointOptions = {}): Promise<Started> {
  const dir = tempDir('es-sec-');
  const ep = await startLocalEndpoint({ port: 0, stateDir: dir, apiKeys: [MANAGER], ...options });
  const client = new Client(ep);
  return {
    ep,
    client,
    async stop() {
      await client.close();
      await ep.stop();
      removeDir(dir);
    },
  };
}

/** Resolves with how long the socket stayed open once it closes; rejects past `maxMs`. */
function closedWithin(socket: net.Socket, maxMs: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`socket still open after ${maxMs} ms`));
    }, maxMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
    socket.on('error', () => undefined);
  });
}

function rawConnect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
    // Read whatever arrives, so that the server closing the socket is seen as 'close'.
    s.resume();
  });
}

describe('security: the local endpoint as an exposed gateway', function () {
  this.timeout(120_000);

  describe('ReDoS: topic filters are linear-time globs', function () {
    let s: Started;
    const long = 'a'.repeat(200);
    before(async () => {
      s = await start({ topics: [{ name: long }, { name: 'orders-eu' }] });
    });
    after(() => s.stop());

    it('answers a catastrophic pattern at once while /alive keeps answering', async function () {
      const evil = `${'*a'.repeat(60)}*b`;
      let aliveSlowest = 0;
      let done = false;
      const probe = (async () => {
        while (!done) {
          const t = Date.now();
          const r = await s.client.req('GET', '/alive', { auth: false });
          assert.equal(r.status, 200);
          aliveSlowest = Math.max(aliveSlowest, Date.now() - t);
        }
      })();
      const t0 = Date.now();
      const results = await Promise.all(
        Array.from({ length: 5 }, () =>
          s.client.req('GET', `/admin/topics?topic_filter=${encodeURIComponent(evil)}`),
        ),
      );
      const took = Date.now() - t0;
      done = true;
      await probe;
      for (const r of results) {
        assert.equal(r.status, 200);
        assert.deepEqual(r.json, []);
      }
      // A backtracking regex takes far beyond the age of the universe here; the limits below are
      // only loose enough for a busy 2-core machine.
      assert.ok(took < 10_000, `filter took ${took} ms`);
      assert.ok(aliveSlowest < 5_000, `/alive took up to ${aliveSlowest} ms`);
    });

    it('answers catastrophic /regex/ filters (RE2, linear time) within 50 ms each', async function () {
      // Against the 200-character run of `a`, these make a backtracking engine explode (the
      // near-misses) or take long; RE2 matches each in one pass over the name. The first one
      // matches that topic as a whole name, which also shows the answer is right, not just fast.
      const cases: Array<[string, string[]]> = [
        ['/(a+)+$/', [long]],
        ['/(a|aa)*b/', []],
        ['/(.*a){20}x/', []],
        ['/(a*)*(b|c)+/', []],
        ['/(a|a?)+-/', []],
      ];
      for (const [f, expected] of cases) {
        const q = `/admin/topics?topic_filter=${encodeURIComponent(f)}`;
        // Warm once (the first regex loads re2js), then time the request end to end. The best of
        // five: a backtracking engine is slow every time, a busy machine only some of the time.
        await s.client.req('GET', q);
        let ms = Infinity;
        let r!: Awaited<ReturnType<typeof s.client.req>>;
        for (let i = 0; i < 5 && ms >= 50; i++) {
          const t0 = process.hrtime.bigint();
          r = await s.client.req('GET', q);
          ms = Math.min(ms, Number(process.hrtime.bigint() - t0) / 1e6);
        }
        assert.equal(r.status, 200, f);
        assert.deepEqual(
          r.json.map((t: { name: string }) => t.name),
          expected,
          f,
        );
        // The whole HTTPS round trip on a shared 2-core machine; the match itself is microseconds.
        assert.ok(ms < 50, `${f} took ${ms.toFixed(1)} ms`);
      }
    });

    it('refuses invalid regex syntax, non-glob text and over-long filters with 400', async function () {
      for (const f of ['/(a+/', '/\\1(a)/', '(a|aa)*', 'a'.repeat(256), 'a[b]', `/${'a'.repeat(300)}/`]) {
        const r = await s.client.req('GET', `/admin/topics?topic_filter=${encodeURIComponent(f)}`);
        assert.equal(r.status, 400, f);
        assert.equal(typeof r.json.error_code, 'number');
      }
    });

    it('refuses a permission that is not a glob at start', async function () {
      await assert.rejects(
        start({ producePermissions: { [MANAGER]: ['(a+)+'] } }),
        /Invalid topic permission/,
      );
    });
  });

  describe('roles: a writer key may only produce', function () {
    let s: Started;
    let writer: Client;
    before(async () => {
      s = await start({ writerKeys: [WRITER], dev: true, topics: [{ name: 'precious', partitions: 2 }] });
      writer = new Client({ ...s.ep, apiKey: WRITER });
    });
    after(async () => {
      await writer.close();
      await s.stop();
    });

    function assertAdmin403(r: { status: number; json: any }, what: string): void {
      assert.equal(r.status, 403, what);
      assert.equal(r.json.error_code, 40300, what);
      assert.equal(typeof r.json.message, 'string');
      assert.equal(typeof r.json.incident_id, 'string');
    }

    it('cannot delete a topic, set retention.ms=1, create topics or add partitions (key and IAM token)', async function () {
      const tok = await writer.req('POST', '/identity/token', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=${WRITER}`,
        auth: false,
      });
      assert.equal(tok.status, 200);
      for (const auth of [
        `Bearer ${WRITER}`,
        `Basic ${Buffer.from(`token:${WRITER}`).toString('base64')}`,
        `Bearer ${tok.json.access_token}`,
      ]) {
        assertAdmin403(await writer.req('DELETE', '/admin/topics/precious', { auth }), 'delete');
        assertAdmin403(
          await writer.req('PATCH', '/admin/topics/precious', {
            auth,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              configs: [{ name: 'retention.ms', value: '1' }],
              new_total_partition_count: 9,
            }),
          }),
          'patch',
        );
        assertAdmin403(
          await writer.req('POST', '/admin/topics', {
            auth,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ name: 'writer-made' }),
          }),
          'create',
        );
      }
      const detail = await s.client.req('GET', '/admin/topics/precious');
      assert.equal(detail.status, 200);
      assert.equal(detail.json.partitions, 2);
      assert.notEqual(detail.json.configs['retention.ms'], '1');
      assert.equal((await s.client.req('GET', '/admin/topics/writer-made')).status, 404);
    });

    it('cannot reach /local (faults, records): 403, and no fault was set', async function () {
      const set = await writer.req('POST', '/local/faults', {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ dropConnection: true, route: 'all' }),
      });
      assert.equal(set.status, 403);
      assert.equal(set.json.error.error_code, 403);
      assert.equal((await writer.req('DELETE', '/local/faults')).status, 403);
      assert.equal((await writer.req('GET', '/local/topics/precious/records')).status, 403);
      assert.deepEqual((await s.client.req('GET', '/local/faults')).json, []);
    });

    it('cannot register, delete or re-rule schemas (IBM and Confluent APIs); may read them', async function () {
      const schema = JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'int' }] });
      const made = await s.client.req('POST', '/artifacts', {
        headers: { 'content-type': 'application/json', 'x-registry-artifactid': 'guarded' },
        body: schema,
      });
      assert.equal(made.status, 200, made.text);
      const attempts = [
        writer.req('POST', '/artifacts', {
          headers: { 'content-type': 'application/json', 'x-registry-artifactid': 'writer-made' },
          body: schema,
        }),
        writer.req('DELETE', '/artifacts/guarded'),
        writer.req('PUT', '/rules/COMPATIBILITY', {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ruleType: 'COMPATIBILITY', config: 'NONE' }),
        }),
        writer.req('POST', '/confluent/subjects/guarded/versions', {
          headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
          body: JSON.stringify({ schema }),
        }),
        writer.req('DELETE', '/confluent/subjects/guarded'),
      ];
      for (const r of await Promise.all(attempts)) assert.equal(r.status, 403, r.text);
      assert.equal((await writer.req('GET', '/artifacts/guarded')).status, 200);
      assert.equal((await s.client.req('GET', '/artifacts/writer-made')).status, 404);
    });

    it('may still produce (v1 with the key, v2 with its IAM token) and read topic metadata', async function () {
      assert.equal((await writer.produce('precious', 'hello')).status, 200);
      const tok = await writer.req('POST', '/identity/token', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=${WRITER}`,
        auth: false,
      });
      const v2 = await writer.req('POST', '/v2/topics/precious/records', {
        auth: `Bearer ${tok.json.access_token}`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ value: { type: 'text', data: 'v2' } }),
      });
      assert.equal(v2.status, 200, v2.text);
      assert.equal((await writer.req('GET', '/admin/topics')).status, 200);
    });
  });

  describe('/local only with --dev; faults only for authenticated callers', function () {
    it('answers 404 on /local without dev, even to the manager key', async function () {
      const s = await start({ topics: [{ name: 't' }] });
      try {
        for (const [m, p] of [
          ['POST', '/local/faults'],
          ['GET', '/local/faults'],
          ['DELETE', '/local/faults'],
          ['GET', '/local/topics/t/records'],
        ] as const) {
          const r = await s.client.req(m, p, {
            headers: { 'content-type': 'application/json' },
            ...(m === 'POST' ? { body: '{"dropConnection":true}' } : {}),
          });
          assert.equal(r.status, 404, `${m} ${p}`);
        }
        assert.equal((await s.client.produce('t', 'x')).status, 200);
      } finally {
        await s.stop();
      }
    });

    it('an unauthenticated request gets 401, never the fault, and does not use it up', async function () {
      const s = await start({
        dev: true,
        topics: [{ name: 't' }],
        faults: [{ status: 503, count: 1, route: 'all' }],
      });
      try {
        for (const [m, p] of [
          ['POST', '/topics/t/records'],
          ['POST', '/v2/topics/t/records'],
          ['GET', '/admin/topics'],
        ] as const) {
          const r = await s.client.req(m, p, {
            auth: false,
            headers: { 'content-type': 'text/plain' },
            body: m === 'POST' ? 'x' : undefined,
          });
          assert.equal(r.status, 401, `${m} ${p}`);
        }
        const iam = await s.client.req('POST', '/identity/token', {
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=wrong',
          auth: false,
        });
        assert.equal(iam.status, 400);
        assert.equal(
          (await s.client.req('GET', '/local/faults')).json[0].count,
          1,
          'the fault is still there',
        );
        assert.equal((await s.client.produce('t', 'x')).status, 503, 'an authenticated caller gets it');
      } finally {
        await s.stop();
      }
    });

    it('refuses unbounded fault parameters (latencyMs 1e300)', async function () {
      assert.throws(() => validateFaults({ latencyMs: 1e300 }), /latencyMs/);
      assert.throws(() => validateFaults({ status429RetryAfterSec: 1e12 }), /status429RetryAfterSec/);
      const s = await start({ dev: true });
      try {
        const r = await s.client.req('POST', '/local/faults', {
          headers: { 'content-type': 'application/json' },
          body: '{"latencyMs":1e300}',
        });
        assert.equal(r.status, 400);
        assert.deepEqual((await s.client.req('GET', '/local/faults')).json, []);
      } finally {
        await s.stop();
      }
    });
  });

  describe('connection hygiene: sockets that send nothing are closed', function () {
    const timeouts = {
      handshakeTimeoutMs: 500,
      idleTimeoutMs: 500,
      headersTimeoutMs: 600,
      keepAliveTimeoutMs: 500,
    };

    it('closes a TCP socket that never starts the TLS handshake, and a TLS socket that never sends a request', async function () {
      const s = await start({ connections: timeouts });
      try {
        const raw = await rawConnect(s.ep.port);
        const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
          const t = tls.connect(
            { host: '127.0.0.1', port: s.ep.port, ca: s.ep.caPem, servername: 'localhost' },
            () => resolve(t),
          );
          t.once('error', reject);
        });
        // 15 s guard: far above the configured 0.5 s, far below "forever".
        await Promise.all([closedWithin(raw, 15_000), closedWithin(secure as unknown as net.Socket, 15_000)]);
        assert.equal((await s.client.req('GET', '/alive', { auth: false })).status, 200);
      } finally {
        await s.stop();
      }
    });

    it('closes a plain-HTTP socket that sends nothing, half a header, or goes idle after a request', async function () {
      const s = await start({ tls: false, connections: timeouts });
      try {
        const silent = await rawConnect(s.ep.port);
        const slow = await rawConnect(s.ep.port);
        slow.write('GET /alive HTTP/1.1\r\nHost: x\r\n');
        const idle = await rawConnect(s.ep.port);
        idle.write('GET /alive HTTP/1.1\r\nHost: x\r\n\r\n');
        await Promise.all([
          closedWithin(silent, 15_000),
          closedWithin(slow, 15_000),
          closedWithin(idle, 15_000),
        ]);
      } finally {
        await s.stop();
      }
    });

    it('caps connections: idle sockets past the cap are refused and real requests still get through', async function () {
      const s = await start({
        tls: false,
        connections: { ...timeouts, idleTimeoutMs: 3000, maxConnections: 5 },
      });
      try {
        const sockets = await Promise.all(Array.from({ length: 12 }, () => rawConnect(s.ep.port)));
        const closed = await Promise.all(sockets.map((k) => closedWithin(k, 15_000)));
        // At least the 7 over the cap were dropped at once, long before the idle timeout.
        assert.ok(closed.filter((ms) => ms < 2500).length >= 7, `closing times ${closed.join(',')}`);
        const agent = new Agent();
        try {
          const r = await request(`${s.ep.url}/alive`, { dispatcher: agent });
          assert.equal(r.statusCode, 200);
          await r.body.text();
        } finally {
          await agent.close();
        }
      } finally {
        await s.stop();
      }
    });

    it('has bounded defaults (no socket can stay silent for more than 30 s)', async function () {
      const s = await start({ tls: false });
      try {
        const silent = await rawConnect(s.ep.port);
        const ms = await closedWithin(silent, 31_000);
        assert.ok(ms <= 30_500, `closed after ${ms} ms`);
      } finally {
        await s.stop();
      }
    });
  });

  describe('bounded input and state', function () {
    let s: Started;
    before(async () => {
      s = await start({
        topics: [{ name: 'n' }],
        memory: { maxTopics: 3, maxPartitions: 6, maxTotalBytes: 4096 },
      });
    });
    after(() => s.stop());

    it('answers deeply nested v2 json data with 400, not 500, and keeps serving', async function () {
      const depth = 20_000;
      const body = `{"value":{"type":"json","data":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
      const r = await s.client.req('POST', '/v2/topics/n/records', {
        headers: { 'content-type': 'application/json' },
        body,
      });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.code, 'invalid_json');
      const ok = await s.client.req('POST', '/v2/topics/n/records', {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ value: { type: 'json', data: { a: [[1]] } } }),
      });
      assert.equal(ok.status, 200, ok.text);
    });

    it('bounds topics, partitions and stored bytes with clear errors', async function () {
      const create = (name: string, partitions: number) =>
        s.client.req('POST', '/admin/topics', {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name, partition_count: partitions }),
        });
      assert.equal((await create('b1', 4)).status, 202);
      const tooMany = await create('b2', 2);
      assert.equal(tooMany.status, 400);
      assert.match(tooMany.json.message, /at most 6 partitions/);
      assert.equal((await create('b3', 1)).status, 202);
      const fourth = await create('b4', 1);
      assert.equal(fourth.status, 400);
      assert.match(fourth.json.message, /at most 3 topics/);
      // 4 KiB in all: a topic's own oldest records make room; past that the record is refused.
      for (let i = 0; i < 20; i++) assert.equal((await s.client.produce('b1', 'x'.repeat(400))).status, 200);
      const big = await s.client.produce('b3', 'y'.repeat(3900));
      assert.equal(big.status, 400);
      assert.match(big.json.error.message, /memory backend is full/);
    });

    it('keeps an issued IAM token valid however many tokens others request (no eviction)', async function () {
      const exchange = async (): Promise<string> => {
        const r = await s.client.req('POST', '/identity/token', {
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=${MANAGER}`,
          auth: false,
        });
        assert.equal(r.status, 200);
        return r.json.access_token as string;
      };
      const mine = await exchange();
      // The old store evicted the oldest token past 10,000.
      let issued = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (issued < 10_001) {
            issued++;
            await exchange();
          }
        }),
      );
      const r = await s.client.req('GET', '/admin/topics', { auth: `Bearer ${mine}` });
      assert.equal(r.status, 200);
    });
  });
});
