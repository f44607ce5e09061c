// SPDX-License-Identifier: Apache-2.0
import assert from 'node:assert/strict';
import net from 'node:net';

import { EventStreamsClient } from '../../lib/client';
import type { EventStreamsError, TlsError } from '../../lib/errors';
import { generateCa, issueCertificate } from '../../gateway/certs';
import { splitPemCertificates } from '../../lib/tls';
import type { ClientOptions } from '../../lib/types';
import { reply, startHttpsServer, type TestServer, testPki, v1Success } from '../support/https-server';

async function rejection(p: Promise<unknown>): Promise<EventStreamsError> {
  try {
    await p;
  } catch (err) {
    return err as EventStreamsError;
  }
  assert.fail('expected a rejection');
}

const DAY = 24 * 60 * 60 * 1000;

describe('TLS', () => {
  const servers: TestServer[] = [];
  const clients: EventStreamsClient[] = [];
  const serve = async (cert?: { cert: string; key: string }): Promise<TestServer> => {
    const s = await startHttpsServer(cert ? { cert } : {});
    servers.push(s);
    return s;
  };
  const make = (
    server: TestServer,
    tls: ClientOptions['tls'],
    extra: Partial<ClientOptions> = {},
  ): EventStreamsClient => {
    const c = new EventStreamsClient({
      url: server.url,
      auth: { mode: 'bearer', apiKey: 'tls-test-key-123456' },
      tls,
      retry: { retries: 3, initialDelayMs: 1, maxDelayMs: 2 },
      ...extra,
    });
    clients.push(c);
    return c;
  };
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close({ deadlineMs: 0 })));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function tlsFailure(server: TestServer, tls: ClientOptions['tls']): Promise<TlsError> {
    const err = await rejection(make(server, tls).produce('orders', { value: 1 }));
    assert.equal(err.code, 'TLS_FAILED', err.message);
    assert.equal(err.attempts, 1, 'TLS failures are not retried');
    assert.equal(server.requests.length, 0);
    return err as TlsError;
  }

  it('trusts the custom CA and verifies by default', async () => {
    const server = await serve();
    const client = make(server, { ca: testPki().ca.cert });
    assert.equal(client.insecure, false);
    assert.equal((await client.produce('orders', { value: 1 })).attempts, 1);
  });

  it('reports an unknown CA (system CAs only, or another CA) with advice', async () => {
    const server = await serve();
    let err = await tlsFailure(server, undefined);
    assert.equal(err.reason, 'UNKNOWN_CA');
    assert.match(
      err.message,
      /not trusted: it is signed by an unknown CA\. Add the endpoint's CA certificate/,
    );
    assert.match(err.message, /es-cert\.pem/);
    const other = generateCa('some other CA');
    err = await tlsFailure(server, { ca: other.cert });
    assert.equal(err.reason, 'UNKNOWN_CA');
    assert.ok(err.tlsCode);
  });

  it('accepts a CA bundle (several PEM certificates in one string)', async () => {
    const server = await serve();
    const bundle = `${generateCa('unrelated CA').cert}\n${testPki().ca.cert}`;
    assert.equal(splitPemCertificates(bundle).length, 2);
    await make(server, { ca: bundle }).produce('orders', { value: 1 });
    await make(server, { ca: [generateCa('x').cert, testPki().ca.cert] }).produce('orders', { value: 1 });
  });

  it('reports a certificate for another host name as HOSTNAME_MISMATCH', async () => {
    const cert = issueCertificate(testPki().ca, {
      commonName: 'other.example',
      hostnames: ['other.example'],
    });
    const server = await serve(cert);
    const err = await tlsFailure(server, { ca: testPki().ca.cert });
    assert.equal(err.reason, 'HOSTNAME_MISMATCH');
    assert.equal(err.tlsCode, 'ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('reports an expired certificate as EXPIRED', async () => {
    const cert = issueCertificate(testPki().ca, {
      commonName: 'localhost',
      hostnames: ['127.0.0.1', 'localhost'],
      validFrom: new Date(Date.now() - 10 * DAY),
      validDays: 1,
    });
    const server = await serve(cert);
    const err = await tlsFailure(server, { ca: testPki().ca.cert });
    assert.equal(err.reason, 'EXPIRED');
    assert.match(err.message, /expired/);
  });

  it('reports a certificate that is not valid yet as NOT_YET_VALID', async () => {
    const cert = issueCertificate(testPki().ca, {
      commonName: 'localhost',
      hostnames: ['127.0.0.1'],
      validFrom: new Date(Date.now() + 5 * DAY),
      validDays: 30,
    });
    const server = await serve(cert);
    assert.equal((await tlsFailure(server, { ca: testPki().ca.cert })).reason, 'NOT_YET_VALID');
  });

  it('skips verification only when rejectUnauthorized is explicitly false, and says so', async () => {
    const server = await serve();
    const client = make(server, { rejectUnauthorized: false });
    assert.equal(client.insecure, true);
    assert.equal(client.stats().insecure, true);
    await client.produce('orders', { value: 1 });
  });

  describe('testConnection()', () => {
    it('reports a trusted, authenticated endpoint (asking /admin/status)', async () => {
      const server = await serve();
      const asked: string[] = [];
      server.handler = (req, res) => {
        asked.push(req.path);
        reply(res, 200, { status: 'available' });
      };
      assert.deepEqual(await make(server, { ca: testPki().ca.cert }).testConnection(), {
        reachable: true,
        tlsTrusted: true,
        authenticated: true,
      });
      assert.deepEqual(asked, ['/admin/status']);
    });

    it('falls back to the topic list where the Admin REST API has no /admin/status', async () => {
      const server = await serve();
      const asked: string[] = [];
      server.handler = (req, res) => {
        asked.push(req.path);
        if (req.path === '/admin/status') return reply(res, 404, { error_code: 404, message: 'Not Found' });
        assert.equal(req.path, '/admin/topics');
        assert.equal(req.query.get('per_page'), '1');
        reply(res, 200, []);
      };
      assert.deepEqual(await make(server, { ca: testPki().ca.cert }).testConnection(), {
        reachable: true,
        tlsTrusted: true,
        authenticated: true,
      });
      assert.deepEqual(asked, ['/admin/status', '/admin/topics']);
    });

    it('reports an untrusted certificate', async () => {
      const server = await serve();
      const check = await make(server, undefined).testConnection();
      assert.equal(check.reachable, true);
      assert.equal(check.tlsTrusted, false);
      assert.equal(check.authenticated, null);
      assert.equal(check.error?.code, 'TLS_FAILED');
    });

    it('reports rejected credentials', async () => {
      const server = await serve();
      server.handler = (_req, res) => reply(res, 401, { error_code: 401, message: 'Unauthorized' });
      const check = await make(server, { ca: testPki().ca.cert }).testConnection();
      assert.deepEqual([check.reachable, check.tlsTrusted, check.authenticated], [true, true, false]);
      assert.equal(check.error?.code, 'AUTHENTICATION_FAILED');
    });

    it('falls back to a produce-path probe that writes nothing when there is no Admin REST API', async () => {
      const server = await serve();
      let produceStatus = 404;
      server.handler = (req, res) =>
        req.path.startsWith('/admin')
          ? reply(res, 404, 'no such route')
          : reply(res, produceStatus, { error: { error_code: produceStatus, message: 'x' } });
      const client = make(server, { ca: testPki().ca.cert });
      assert.deepEqual(await client.testConnection(), {
        reachable: true,
        tlsTrusted: true,
        authenticated: true,
      });
      // /admin/status, then /admin/topics, then the produce path.
      const probe = server.requests[2]!;
      assert.equal(probe.method, 'POST');
      assert.equal(probe.path, '/topics/esnodes-connection-probe!/records');
      assert.equal(probe.body.length, 0);
      produceStatus = 401;
      const check = await client.testConnection();
      assert.deepEqual([check.reachable, check.tlsTrusted, check.authenticated], [true, true, false]);
    });

    it('reports an unreachable endpoint', async () => {
      const closed = net.createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const port = (closed.address() as net.AddressInfo).port;
      await new Promise<void>((r) => closed.close(() => r()));
      const client = new EventStreamsClient({ url: `https://127.0.0.1:${port}` });
      clients.push(client);
      const check = await client.testConnection();
      assert.deepEqual([check.reachable, check.tlsTrusted, check.authenticated], [false, null, null]);
      assert.equal(check.error?.code, 'CONNECTION_FAILED');
    });

    it('reports an API key IAM refuses as not authenticated while the endpoint is reachable', async () => {
      const server = await serve();
      server.handler = (req, res) =>
        req.path === '/identity/token'
          ? reply(res, 400, { errorCode: 'BXNIM0415E', errorMessage: 'Provided API key could not be found' })
          : reply(res, 200, v1Success('x'));
      const client = make(
        server,
        { ca: testPki().ca.cert },
        {
          auth: { mode: 'iam', apiKey: 'bad-key-1234567', iamUrl: `${server.url}/identity/token` },
        },
      );
      const check = await client.testConnection();
      assert.deepEqual([check.reachable, check.tlsTrusted, check.authenticated], [true, true, false]);
      assert.equal(check.error?.code, 'AUTHENTICATION_FAILED');
    });
  });
});
