// SPDX-License-Identifier: Apache-2.0
/**
 * Bad input (raw sockets, oversize bodies, bad encodings), mutual TLS, certificate and API key
 * reuse across restarts, plain HTTP, and clean shutdown of the local endpoint.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { generateCa, issueCertificate } from '../../gateway/certs';
import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import { Client, openFilesUnder, rawTls, removeDir, statusOf, tempDir } from './util';

const KEY = 'robust-key-0123456789';

describe('local endpoint: malformed and oversize requests', function () {
  let dir: string;
  let ep: LocalEndpoint;
  let client: Client;

  before(async function () {
    dir = tempDir();
    ep = await startLocalEndpoint({
      port: 0,
      stateDir: dir,
      dev: true,
      apiKeys: [KEY],
      topics: [{ name: 'r1' }],
    });
    client = new Client(ep);
  });

  after(async function () {
    await client.close();
    await ep.stop();
    removeDir(dir);
  });

  afterEach(async function () {
    // Whatever the case did, the server must still answer a normal request.
    const r = await client.produce('r1', 'still alive');
    assert.equal(r.status, 200);
  });

  const head = (extra: string): string =>
    `POST /topics/r1/records HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${KEY}\r\n` +
    `Content-Type: text/plain\r\n${extra}\r\n`;

  it('refuses a huge declared Content-Length at once, without reading the body', async function () {
    const r = await rawTls(ep, (s) => {
      s.write(head('Content-Length: 1000000000\r\n'));
      s.write(Buffer.alloc(1024, 97));
    });
    assert.equal(statusOf(r.data), 400);
    assert.ok(r.data.includes('request body too large'));
    assert.ok(/connection: close/i.test(r.data));
    assert.ok(r.closed, 'the server closes the connection');
    assert.ok(r.elapsedMs < 2000, `answered in ${r.elapsedMs} ms`);
  });

  it('stops reading a chunked body as soon as it passes the limit (the body never ends)', async function () {
    const r = await rawTls(ep, (s) => {
      s.write(head('Transfer-Encoding: chunked\r\n'));
      const chunk = Buffer.alloc(16 * 1024, 98);
      for (let i = 0; i < 6; i++) s.write(`${chunk.length.toString(16)}\r\n${chunk.toString()}\r\n`);
      // No terminating 0-chunk: a server that buffers the whole body would never answer.
    });
    assert.equal(statusOf(r.data), 400);
    assert.ok(r.data.includes('request body too large'));
    assert.ok(r.closed);
  });

  it('does not invite an oversize body with 100 Continue, but invites a normal one', async function () {
    const big = await rawTls(ep, (s) => s.write(head('Expect: 100-continue\r\nContent-Length: 1000000\r\n')));
    assert.equal(statusOf(big.data), 400);
    assert.ok(!big.data.includes('100 Continue'));
    const small = await rawTls(ep, (s) => {
      s.write(head('Expect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n'));
      s.once('data', () => s.write('hello'));
    });
    assert.match(small.data, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  });

  it('answers garbage with 400 JSON and closes', async function () {
    const r = await rawTls(ep, (s) => s.write('THIS IS NOT HTTP\r\n\r\n'));
    assert.equal(statusOf(r.data), 400);
    assert.ok(r.data.includes('"error_code":400'));
    assert.ok(r.closed);
  });

  it('answers an unknown method token with 400 (parser) and keeps serving', async function () {
    const r = await rawTls(ep, (s) => s.write('BREW /topics/r1/records HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.ok([400, 405].includes(statusOf(r.data)), r.data);
  });

  it('answers oversize headers with 431', async function () {
    const r = await rawTls(ep, (s) =>
      s.write(`GET /alive HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(80_000)}\r\n\r\n`),
    );
    assert.equal(statusOf(r.data), 431);
  });

  it('handles non-ASCII bytes in credential headers as a plain 401', async function () {
    const r = await rawTls(ep, (s) => {
      s.write(
        Buffer.concat([
          Buffer.from('POST /topics/r1/records HTTP/1.1\r\nHost: x\r\nX-Auth-Token: '),
          Buffer.from([0xff, 0xfe, 0xc3, 0xa9]),
          Buffer.from('\r\nContent-Type: text/plain\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx'),
        ]),
      );
    });
    assert.ok([400, 401].includes(statusOf(r.data)), r.data);
  });

  it('survives a client that disconnects mid-body', async function () {
    const r = await rawTls(
      ep,
      (s) => {
        s.write(head('Content-Length: 100\r\n') + 'only ten b');
        setTimeout(() => s.destroy(), 50);
      },
      2000,
    );
    assert.equal(r.data, '');
  });

  const badUrls: Array<[string, string, string]> = [
    ['a bad escape in the topic', 'POST', '/topics/%E0%A4%A/records'],
    ['a bad escape in an admin topic', 'GET', '/admin/topics/%zz'],
    ['a bad escape in the query', 'GET', '/admin/topics?topic_filter=%'],
    ['a bad escape in a v2 topic', 'POST', '/v2/topics/%/records'],
    ['a bad escape in a local topic', 'GET', '/local/topics/%c3%28%/records'],
  ];
  for (const [name, method, url] of badUrls) {
    it(`answers 400 JSON for ${name}`, async function () {
      const r = await client.req(method, url, {
        headers: { 'content-type': 'text/plain' },
        body: method === 'POST' ? 'x' : undefined,
      });
      assert.equal(r.status, 400, r.text);
      assert.ok(r.json, 'JSON body');
    });
  }

  it('answers HEAD and OPTIONS on produce with 405 and Allow', async function () {
    const r = await client.req('OPTIONS', '/topics/r1/records');
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'POST');
  });
});

describe('local endpoint: mutual TLS', function () {
  let dir: string;
  let ep: LocalEndpoint;

  before(async function () {
    dir = tempDir();
    ep = await startLocalEndpoint({ port: 0, stateDir: dir, clientCertAuth: true, topics: [{ name: 'm1' }] });
  });

  after(async function () {
    await ep.stop();
    removeDir(dir);
  });

  async function produceWith(connect: Record<string, unknown>): Promise<number> {
    const c = new Client(ep, connect);
    try {
      return (
        await c.req('POST', '/topics/m1/records', {
          headers: { 'content-type': 'text/plain' },
          body: 'x',
          auth: false,
        })
      ).status;
    } finally {
      await c.close();
    }
  }

  it('authenticates a client certificate signed by the local CA', async function () {
    const ca = {
      cert: fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
      key: fs.readFileSync(path.join(dir, 'ca-key.pem'), 'utf8'),
    };
    const user = issueCertificate(ca, { commonName: 'kafka-user', client: true });
    assert.equal(await produceWith({ cert: user.cert, key: user.key }), 200);
  });

  it('refuses a certificate from another CA and a connection without one (401)', async function () {
    const foreign = issueCertificate(generateCa('someone else'), { commonName: 'intruder', client: true });
    assert.equal(await produceWith({ cert: foreign.cert, key: foreign.key }), 401);
    assert.equal(await produceWith({}), 401);
  });
});

describe('local endpoint: state, restarts and plain HTTP', function () {
  it('reuses the CA and the generated API key across restarts (api-key mode 0600)', async function () {
    const dir = tempDir();
    try {
      const a = await startLocalEndpoint({ port: 0, stateDir: dir });
      const caA = fs.readFileSync(a.caFile!, 'utf8');
      await a.stop();
      const b = await startLocalEndpoint({ port: 0, stateDir: dir, hostnames: ['es.local.test'] });
      try {
        assert.equal(fs.readFileSync(b.caFile!, 'utf8'), caA);
        assert.equal(b.caPem, caA);
        assert.equal(b.apiKey, a.apiKey);
        assert.match(b.apiKey, /^[A-Za-z0-9_-]{44}$/);
        assert.equal(fs.statSync(path.join(dir, 'api-key')).mode & 0o777, 0o600);
        const c = new Client(b);
        assert.equal((await c.req('GET', '/admin/status')).status, 200);
        await c.close();
      } finally {
        await b.stop();
      }
    } finally {
      removeDir(dir);
    }
  });

  it('serves plain HTTP with tls:false and reports no CA', async function () {
    const dir = tempDir();
    const ep = await startLocalEndpoint({ port: 0, stateDir: dir, tls: false, topics: [{ name: 'h1' }] });
    try {
      assert.match(ep.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(ep.caPem, undefined);
      assert.equal(ep.caFile, undefined);
      assert.equal(ep.iamUrl, `${ep.url}/identity/token`);
      const c = new Client(ep);
      assert.equal((await c.produce('h1', 'x')).status, 200);
      await c.close();
    } finally {
      await ep.stop();
      removeDir(dir);
    }
  });

  it('answers garbage on a plain HTTP socket with 400 JSON and keeps serving', async function () {
    const dir = tempDir();
    const ep = await startLocalEndpoint({ port: 0, stateDir: dir, tls: false, topics: [{ name: 'g1' }] });
    try {
      for (const garbage of [
        '\x00\x01\x02\r\n\r\n',
        'GET / HTTP/9.9\r\n\r\n',
        'POST /topics/g1/records HTTP/1.1\r\nContent-Length: abc\r\n\r\n',
      ]) {
        const socket = net.connect(ep.port, '127.0.0.1');
        let data = '';
        socket.setEncoding('utf8');
        socket.on('data', (d: string) => (data += d));
        socket.write(garbage);
        await new Promise((r) => socket.once('close', r));
        assert.equal(statusOf(data), 400, JSON.stringify(garbage));
        assert.ok(data.includes('"error_code":400'));
      }
      const c = new Client(ep);
      assert.equal((await c.produce('g1', 'x')).status, 200);
      await c.close();
    } finally {
      await ep.stop();
      removeDir(dir);
    }
  });

  it('stop() closes idle keep-alive connections promptly and is idempotent', async function () {
    const dir = tempDir();
    const ep = await startLocalEndpoint({ port: 0, stateDir: dir, tls: false, topics: [{ name: 'k1' }] });
    const socket = net.connect(ep.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(`GET /alive HTTP/1.1\r\nHost: x\r\n\r\n`);
    await new Promise((r) => socket.once('data', r));
    const closed = new Promise((r) => socket.once('close', r));
    const started = Date.now();
    await Promise.all([ep.stop(), ep.stop()]);
    await closed;
    assert.ok(Date.now() - started < 1000);
    removeDir(dir);
  });

  it('rejects when the port is taken, leaving nothing open or running in its state directory', async function () {
    const dir = tempDir();
    const other = tempDir();
    const a = await startLocalEndpoint({ port: 0, stateDir: dir, tls: false });
    try {
      await assert.rejects(startLocalEndpoint({ port: a.port, stateDir: other, tls: false }), /EADDRINUSE/);
      // The failed start had opened the registry's log there; it is closed before the rejection,
      // so nothing writes into the directory afterwards (it once did, under load, as it was removed).
      const open = openFilesUnder(other);
      if (open !== undefined) assert.deepEqual(open, []);
    } finally {
      await a.stop();
      removeDir(dir);
      removeDir(other);
    }
  });
});
