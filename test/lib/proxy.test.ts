// SPDX-License-Identifier: Apache-2.0
/**
 * HTTP proxies: the choice of proxy (Node-RED's http_proxy/https_proxy/no_proxy rules), then real
 * traffic through real CONNECT proxies: an HTTP CONNECT proxy server this test starts (node:http,
 * it forwards only to loopback and records every CONNECT and Proxy-Authorization it sees) and,
 * when Debian's tinyproxy is installed, a tinyproxy process. The local endpoint is HTTPS with its
 * own CA and verification stays on through the tunnel.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { EventStreamsClient } from '../../lib/client';
import { proxyForUrl, shouldProxy } from '../../lib/proxy';
import type { ClientOptions } from '../../lib/types';
import {
  TAB,
  coreNode,
  endpointConfig,
  helper,
  producerNode,
  endpointNode,
  startTestEndpoint,
  uniqueTopic,
  type TestEndpoint,
} from '../nodes/support';
import { waitFor } from '../support/wait';

interface ConnectProxy {
  url: string;
  connects: string[];
  auths: string[];
  close(): Promise<void>;
}

/** A CONNECT proxy on 127.0.0.1 that tunnels to loopback only; `auth` makes it demand that header. */
function startConnectProxy(auth?: string): Promise<ConnectProxy> {
  const connects: string[] = [];
  const auths: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    connects.push(req.url ?? '');
    auths.push(String(req.headers['proxy-authorization'] ?? ''));
    if (auth && req.headers['proxy-authorization'] !== auth) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n');
      return;
    }
    const m = /^(127\.\d+\.\d+\.\d+|localhost):(\d+)$/.exec(req.url ?? '');
    if (!m) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(m[2]), m[1]!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        connects,
        auths,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

describe('HTTP proxies', function () {
  this.timeout(30000);

  describe('choosing the proxy as Node-RED core does', () => {
    it('takes https_proxy for https URLs (either case, npm_config_ too), http_proxy for http', () => {
      assert.equal(
        proxyForUrl('https://es.example:443', { env: { https_proxy: 'http://p:3128' } }),
        'http://p:3128',
      );
      assert.equal(proxyForUrl('https://es.example', { env: { HTTPS_PROXY: 'p:3128' } }), 'https://p:3128');
      assert.equal(
        proxyForUrl('https://es.example', { env: { npm_config_https_proxy: 'http://n:1' } }),
        'http://n:1',
      );
      assert.equal(proxyForUrl('https://es.example', { env: { http_proxy: 'http://p:3128' } }), undefined);
      assert.equal(
        proxyForUrl('http://es.example', { env: { http_proxy: 'http://p:3128' } }),
        'http://p:3128',
      );
      assert.equal(proxyForUrl('https://es.example', { env: { all_proxy: 'http://a:1' } }), 'http://a:1');
      assert.equal(proxyForUrl('https://es.example', { env: false }), undefined);
    });

    it('honours no_proxy: exact host, .suffix, *suffix, host:port and *; loopback only when listed', () => {
      assert.equal(shouldProxy('127.0.0.1', 443, ''), true, 'loopback is proxied unless listed');
      assert.equal(shouldProxy('127.0.0.1', 443, 'localhost,127.0.0.1'), false);
      assert.equal(shouldProxy('es.cloud.ibm.com', 443, '.ibm.com'), false);
      assert.equal(shouldProxy('es.cloud.ibm.com', 443, '*.cloud.ibm.com'), false);
      assert.equal(shouldProxy('es.cloud.ibm.com', 443, 'ibm.com'), true, 'no wildcard: exact match only');
      assert.equal(shouldProxy('es.example', 443, 'es.example:9443'), true, 'other port');
      assert.equal(shouldProxy('es.example', 9443, 'es.example:9443'), false);
      assert.equal(shouldProxy('anything', 1, '*'), false);
    });

    it('an explicit proxy (the http proxy config node) replaces the environment, with its own no-proxy list', () => {
      const env = { https_proxy: 'http://env:1' };
      assert.equal(proxyForUrl('https://es.example', { url: 'http://node:2', env }), 'http://node:2');
      assert.equal(
        proxyForUrl('https://es.example', { url: 'http://node:2', noProxy: ['es.example'], env }),
        undefined,
      );
    });
  });

  describe('through a CONNECT proxy, TLS verification on', () => {
    let te: TestEndpoint;
    let proxy: ConnectProxy;
    const clients: EventStreamsClient[] = [];

    before(async () => {
      te = await startTestEndpoint();
    });
    beforeEach(async () => {
      proxy = await startConnectProxy();
    });
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close({ deadlineMs: 0 }).catch(() => undefined)));
      await proxy.close();
    });
    after(async () => {
      await te.stop();
    });

    function client(extra: Partial<ClientOptions>): EventStreamsClient {
      const c = new EventStreamsClient({
        url: te.endpoint.url,
        auth: { mode: 'bearer', apiKey: te.endpoint.apiKey },
        tls: { ca: te.endpoint.caPem! },
        retry: { retries: 0 },
        ...extra,
      });
      clients.push(c);
      return c;
    }

    const hostPort = (): string => new URL(te.endpoint.url).host;

    it('https_proxy from the environment carries the producer, the Admin REST API and IAM', async () => {
      const topic = uniqueTopic('proxied');
      const env = { https_proxy: proxy.url };
      const c = client({
        auth: { mode: 'iam', apiKey: te.endpoint.apiKey, iamUrl: te.endpoint.iamUrl },
        flavour: 'v2',
        proxy: { env },
      });
      await c.admin.createTopic({ name: topic, partitions: 1 });
      const report = await c.produce(topic, { value: 'via proxy', key: 'k' });
      assert.equal(report.topic, topic);
      const records = await te.endpoint.readRecords(topic);
      assert.equal(records.length, 1);
      assert.equal(records[0]!.value.toString(), 'via proxy');
      assert.ok(proxy.connects.length >= 1, 'the proxy saw CONNECT');
      assert.ok(
        proxy.connects.every((c) => c === hostPort()),
        proxy.connects.join(),
      );
      assert.ok(te.endpoint.requestCount('iam') >= 1, 'the IAM token came through the tunnel too');
    });

    it('verification stays on through the tunnel: without the CA the endpoint is not trusted', async () => {
      const c = client({ tls: {}, proxy: { env: { https_proxy: proxy.url } } });
      await assert.rejects(c.produce('any', { value: 'x' }), { code: 'TLS_FAILED' });
      assert.ok(proxy.connects.length >= 1);
    });

    it('no_proxy bypasses the proxy', async () => {
      const topic = uniqueTopic('direct');
      await te.endpoint.backend.createTopic(topic, 1, []);
      const c = client({ proxy: { env: { https_proxy: proxy.url, no_proxy: 'localhost,127.0.0.1' } } });
      await c.produce(topic, { value: 'direct' });
      assert.equal((await te.endpoint.readRecords(topic)).length, 1);
      assert.deepEqual(proxy.connects, [], 'the proxy saw nothing');
    });
  });

  describe("Node-RED: the endpoint's reference to a core http proxy config node", () => {
    let te: TestEndpoint;
    let proxy: ConnectProxy;
    const AUTH = `Basic ${Buffer.from('nr-user:nr-pass').toString('base64')}`;

    before(async () => {
      te = await startTestEndpoint();
      proxy = await startConnectProxy(AUTH);
    });
    afterEach(async () => {
      await helper.unload();
    });
    after(async () => {
      await proxy.close();
      await te.stop();
    });

    it('sends through the proxy node with its credentials; the record arrives', async () => {
      const topic = uniqueTopic('nr-proxied');
      await te.endpoint.backend.createTopic(topic, 1, []);
      const flow = [
        TAB,
        { id: 'px', type: 'http proxy', name: 'corp proxy', url: proxy.url, noproxy: [] },
        endpointConfig(te.endpoint, { proxy: 'px' }),
        { id: 'p', type: 'event-streams-producer', z: TAB.id, endpoint: 'cfg', topic, wires: [['out']] },
        { id: 'out', type: 'helper', z: TAB.id },
      ];
      await helper.load([coreNode('network/06-httpproxy.js'), endpointNode, producerNode], flow, {
        cfg: { apiKey: te.endpoint.apiKey, ca: te.endpoint.caPem! },
        px: { username: 'nr-user', password: 'nr-pass' },
      });
      const reports: unknown[] = [];
      helper.getNode('out').on('input', (m: unknown) => reports.push(m));
      helper.getNode('p').receive({ payload: 'through the corporate proxy' });
      await waitFor(() => reports.length === 1, 'the delivery report', { timeoutMs: 10000 });
      const records = await te.endpoint.readRecords(topic);
      assert.equal(records[0]!.value.toString(), 'through the corporate proxy');
      assert.ok(proxy.auths.includes(AUTH), 'the proxy got the proxy credentials');
      assert.ok(proxy.connects.includes(new URL(te.endpoint.url).host));
    });
  });

  describe('through tinyproxy (a separate proxy process)', () => {
    let te: TestEndpoint;
    let child: ChildProcess | undefined;
    let dir: string;
    let port = 0;

    before(async function () {
      if (spawnSync('sh', ['-c', 'command -v tinyproxy']).status !== 0) {
        if (process.env.CI === 'true') throw new Error('CI needs tinyproxy (.ci/run installs it)');
        console.log('      (skipped: tinyproxy is not installed; apt-get install tinyproxy)');
        this.skip();
      }
      te = await startTestEndpoint();
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-tinyproxy-'));
      port = await new Promise<number>((resolve) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as net.AddressInfo).port;
          s.close(() => resolve(p));
        });
      });
      const conf = path.join(dir, 'tinyproxy.conf');
      // No ConnectPort line: CONNECT to any port (the endpoint's is ephemeral).
      await fs.writeFile(
        conf,
        [
          `Port ${port}`,
          'Listen 127.0.0.1',
          'Allow 127.0.0.1',
          'LogLevel Connect',
          `LogFile "${dir}/log"`,
          '',
        ].join('\n'),
      );
      child = spawn('tinyproxy', ['-d', '-c', conf], { stdio: 'ignore' });
      await waitFor(
        () =>
          new Promise<boolean>((resolve) => {
            const s = net.connect(port, '127.0.0.1');
            s.once('connect', () => (s.destroy(), resolve(true)));
            s.once('error', () => resolve(false));
          }),
        'tinyproxy listening',
        { timeoutMs: 10000 },
      );
    });
    after(async () => {
      child?.kill('SIGTERM');
      await te?.stop();
      if (dir) await fs.rm(dir, { recursive: true, force: true });
    });

    it('produces through tinyproxy from https_proxy; its log shows the CONNECT', async () => {
      const topic = uniqueTopic('tiny');
      await te.endpoint.backend.createTopic(topic, 1, []);
      const c = new EventStreamsClient({
        url: te.endpoint.url,
        auth: { mode: 'bearer', apiKey: te.endpoint.apiKey },
        tls: { ca: te.endpoint.caPem! },
        retry: { retries: 0 },
        proxy: { env: { https_proxy: `http://127.0.0.1:${port}` } },
      });
      try {
        await c.produce(topic, { value: 'via tinyproxy' });
      } finally {
        await c.close({ deadlineMs: 0 });
      }
      assert.equal((await te.endpoint.readRecords(topic))[0]!.value.toString(), 'via tinyproxy');
      const host = new URL(te.endpoint.url).host;
      await waitFor(
        async () =>
          (await fs.readFile(path.join(dir, 'log'), 'utf8').catch(() => '')).includes(`CONNECT ${host}`),
        'the CONNECT in the tinyproxy log',
        { timeoutMs: 5000 },
      );
    });
  });
});
