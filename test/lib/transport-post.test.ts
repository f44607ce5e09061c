// SPDX-License-Identifier: Apache-2.0
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import { mapTransportError, Transport, type HttpResponse } from '../../lib/transport';

/** A real loopback server whose answer each test chooses. */
function serve(handler: http.RequestListener): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        origin: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

function post(
  t: Transport,
  origin: string,
  body: string,
  signal?: AbortSignal,
  auth: string | null = 'Bearer k',
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    t.post(
      origin,
      '/topics/t/records',
      'text/plain',
      auth ?? undefined,
      body,
      signal,
      (_ctx: null, err, res) => {
        if (res !== undefined) resolve(res);
        else reject(mapTransportError(err, origin, signal));
      },
      null,
    );
  });
}

function transport(maxResponseBytes?: number): Transport {
  return new Transport({
    tls: {},
    connections: 2,
    connectTimeoutMs: 5000,
    requestTimeoutMs: 5000,
    userAgent: 'esnodes-test',
    ...(maxResponseBytes !== undefined ? { maxResponseBytes } : {}),
  });
}

describe('Transport.post (the dispatch() produce path)', () => {
  it('sends method, path, headers and body as request() would, and reads status, headers and text', async () => {
    const seen: Array<{ method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string }> =
      [];
    const srv = await serve((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        if (seen.length === 1) res.writeHead(200, { 'content-type': 'application/json' }).end('{"offset":1}');
        else res.writeHead(429, { 'retry-after': '3', 'x-many': ['a', 'b'] }).end('slow down');
      });
    });
    const t = transport();
    try {
      const ok = await post(t, srv.origin, 'hello');
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.text, '{"offset":1}');
      const busy = await post(t, srv.origin, 'again', undefined, null);
      assert.equal(busy.statusCode, 429);
      assert.equal(busy.headers['retry-after'], '3');
      assert.deepEqual(busy.headers['x-many'], ['a', 'b']);
      assert.equal(busy.text, 'slow down');
      assert.equal(seen[0]!.method, 'POST');
      assert.equal(seen[0]!.url, '/topics/t/records');
      assert.equal(seen[0]!.body, 'hello');
      assert.equal(seen[0]!.headers['content-type'], 'text/plain');
      assert.equal(seen[0]!.headers.authorization, 'Bearer k');
      assert.equal(seen[0]!.headers['user-agent'], 'esnodes-test');
      assert.equal(seen[0]!.headers['content-length'], '5');
      // The header list is cached per content type; a changed Authorization must not reuse it.
      assert.equal(seen[1]!.headers.authorization, undefined);
    } finally {
      await t.close();
      await srv.close();
    }
  });

  it('fails a body larger than maxResponseBytes with UNEXPECTED_RESPONSE, chunked or not', async () => {
    const srv = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/chunked') {
          res.writeHead(200);
          res.write('x'.repeat(600));
          res.end('y'.repeat(600));
        } else res.writeHead(200).end('z'.repeat(2000));
      });
    });
    const t = transport(1000);
    try {
      await assert.rejects(post(t, srv.origin, 'a'), { code: 'UNEXPECTED_RESPONSE' });
      await assert.rejects(
        new Promise((resolve, reject) =>
          t.post(
            srv.origin,
            '/chunked',
            'text/plain',
            undefined,
            'b',
            undefined,
            (_c: null, err, res) => (res ? resolve(res) : reject(mapTransportError(err, srv.origin))),
            null,
          ),
        ),
        { code: 'UNEXPECTED_RESPONSE' },
      );
    } finally {
      await t.destroy();
      await srv.close();
    }
  });

  it('aborts in-flight and queued posts through one listener on their shared signal', async () => {
    let arrived = 0;
    let notify: (() => void) | undefined;
    const srv = await serve((req) => {
      req.resume();
      arrived++;
      notify?.();
      // Never answers: only the abort can settle these.
    });
    const t = transport();
    const ac = new AbortController();
    let added = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    ac.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      added++;
      return add(...args);
    }) as typeof add;
    try {
      // Two connections: two in flight, two queued in the pool.
      const all = [1, 2, 3, 4].map(() => post(t, srv.origin, 'x', ac.signal));
      await new Promise<void>((resolve) => {
        notify = () => arrived >= 2 && resolve();
        notify();
      });
      ac.abort();
      for (const p of all) await assert.rejects(p, { code: 'ABORTED' });
      assert.equal(added, 1);
      await assert.rejects(post(t, srv.origin, 'late', ac.signal), { code: 'ABORTED' });
    } finally {
      await t.destroy();
      await srv.close();
    }
  });

  it('maps a refused connection and a closed transport like request() does', async () => {
    const srv = await serve(() => undefined);
    const origin = srv.origin;
    await srv.close();
    const t = transport();
    await assert.rejects(post(t, origin, 'x'), { code: 'CONNECTION_FAILED', systemCode: 'ECONNREFUSED' });
    await t.close();
    await assert.rejects(post(t, origin, 'x'), { code: 'CLOSED' });
  });
});
