// SPDX-License-Identifier: Apache-2.0
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';

import { EventStreamsClient } from '../../lib/client';
import type { EventStreamsError } from '../../lib/errors';
import { toPkcs12 } from '../../gateway/certs';
import type { ClientOptions } from '../../lib/types';
import {
  type RecordedRequest,
  reply,
  startHttpsServer,
  type TestServer,
  testPki,
  v1Success,
} from '../support/https-server';

const API_KEY = 'iam-test-api-key-ABCDEFGHIJ0123';
const PASSWORD = 'scram-password-XYZ-987654321';
const PASSPHRASE = 'p12-passphrase-secret';

async function rejection(p: Promise<unknown>): Promise<EventStreamsError> {
  try {
    await p;
  } catch (err) {
    return err as EventStreamsError;
  }
  assert.fail('expected a rejection');
}

function assertNoSecret(err: unknown, secrets: string[]): void {
  const text = inspect(err, { depth: 10 }) + JSON.stringify(err) + String((err as Error).stack);
  for (const s of secrets) assert.ok(!text.includes(s), `a secret leaked: ${text}`);
}

/** A fake IAM + producer on one server: tokens live `lifetimeSec`, `revoked` ones get 401. */
class FakeIam {
  issued: string[] = [];
  revoked = new Set<string>();
  lifetimeSec = 3600;
  iamStatus: number[] = [];
  exchanges = 0;
  produceAuth: string[] = [];
  rejectAll = false;

  handle = async (req: RecordedRequest, res: import('node:http').ServerResponse): Promise<void> => {
    if (req.path === '/identity/token') {
      this.exchanges++;
      const form = new URLSearchParams(req.body.toString());
      assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
      assert.equal(form.get('grant_type'), 'urn:ibm:params:oauth:grant-type:apikey');
      const forced = this.iamStatus.shift();
      // Let concurrent callers pile up so that single-flight is actually exercised.
      await new Promise((r) => setTimeout(r, 20));
      if (forced !== undefined) {
        return reply(res, forced, {
          errorCode: 'BXNIM0415E',
          errorMessage: `Provided API key could not be found: apikey=${form.get('apikey')}`,
        });
      }
      if (form.get('apikey') !== API_KEY) {
        return reply(res, 400, {
          errorCode: 'BXNIM0415E',
          errorMessage: 'Provided API key could not be found',
        });
      }
      const token = randomBytes(24).toString('base64url');
      this.issued.push(token);
      const expiry = Date.now() + this.lifetimeSec * 1000;
      setTimeout(() => this.revoked.add(token), this.lifetimeSec * 1000).unref();
      return reply(res, 200, {
        access_token: token,
        refresh_token: 'not_supported',
        token_type: 'Bearer',
        expires_in: this.lifetimeSec,
        expiration: Math.floor(expiry / 1000),
      });
    }
    const auth = String(req.headers.authorization ?? '');
    this.produceAuth.push(auth);
    const token = auth.replace(/^Bearer /, '');
    if (this.rejectAll || !this.issued.includes(token) || this.revoked.has(token)) {
      return reply(res, 401, { error: { error_code: 401, message: `Unauthorized: ${auth}` } });
    }
    reply(res, 200, v1Success('orders'));
  };
}

describe('authentication', () => {
  let server: TestServer;
  const clients: EventStreamsClient[] = [];
  const make = (o: Partial<ClientOptions>): EventStreamsClient => {
    const c = new EventStreamsClient({
      url: server.url,
      tls: { ca: testPki().ca.cert },
      retry: { retries: 2, initialDelayMs: 1, maxDelayMs: 5 },
      ...o,
    });
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
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close({ deadlineMs: 0 })));
  });

  it('sends Bearer <apikey>, Basic token:<apikey> and Basic user:password', async () => {
    server.handler = (_req, res) => reply(res, 200, v1Success('orders'));
    await make({ auth: { mode: 'bearer', apiKey: API_KEY } }).produce('orders', { value: 1 });
    await make({ auth: { mode: 'basic-token', apiKey: API_KEY } }).produce('orders', { value: 1 });
    await make({ auth: { mode: 'basic', username: 'kafka-user', password: PASSWORD } }).produce('orders', {
      value: 1,
    });
    await make({ auth: { mode: 'none' } }).produce('orders', { value: 1 });
    assert.deepEqual(
      server.requests.map((r) => r.headers.authorization),
      [
        `Bearer ${API_KEY}`,
        `Basic ${Buffer.from(`token:${API_KEY}`).toString('base64')}`,
        `Basic ${Buffer.from(`kafka-user:${PASSWORD}`).toString('base64')}`,
        undefined,
      ],
    );
  });

  it('never puts the API key or password in errors', async () => {
    // The server echoes the credentials it got, decoded, as some servers do in their errors.
    server.handler = (req, res) => {
      const auth = String(req.headers.authorization);
      const decoded = auth.startsWith('Basic ')
        ? Buffer.from(auth.slice(6), 'base64').toString()
        : auth.slice(7);
      reply(res, 401, {
        error: {
          error_code: 401,
          message: `bad credentials ${auth} (${decoded}) secret ${decoded.split(':').pop()}`,
        },
      });
    };
    for (const auth of [
      { mode: 'bearer', apiKey: API_KEY },
      { mode: 'basic-token', apiKey: API_KEY },
      { mode: 'basic', username: 'u', password: PASSWORD },
    ] as const) {
      const err = await rejection(make({ auth }).produce('orders', { value: 1 }));
      assert.equal(err.code, 'AUTHENTICATION_FAILED');
      assertNoSecret(err, [
        API_KEY,
        PASSWORD,
        Buffer.from(`token:${API_KEY}`).toString('base64'),
        Buffer.from(`u:${PASSWORD}`).toString('base64'),
      ]);
    }
  });

  describe('IAM', () => {
    let iam: FakeIam;
    beforeEach(() => {
      iam = new FakeIam();
      server.handler = iam.handle;
    });
    const iamClient = (): EventStreamsClient =>
      make({ auth: { mode: 'iam', apiKey: API_KEY, iamUrl: `${server.url}/identity/token` } });

    it('exchanges the API key once for many concurrent records (single-flight) and caches the token', async () => {
      const client = iamClient();
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => client.produce('orders', { value: i })),
      );
      assert.equal(results.length, 12);
      assert.equal(iam.exchanges, 1);
      await client.produce('orders', { value: 'again' });
      assert.equal(iam.exchanges, 1);
      assert.ok(iam.produceAuth.every((a) => a === `Bearer ${iam.issued[0]}`));
    });

    it('refreshes the token before it expires', async () => {
      iam.lifetimeSec = 0.3;
      const client = iamClient();
      await client.produce('orders', { value: 1 });
      await new Promise((r) => setTimeout(r, 400));
      await client.produce('orders', { value: 2 });
      assert.equal(iam.exchanges, 2);
      assert.notEqual(iam.produceAuth[0], iam.produceAuth[1]);
    });

    it('on a 401 refreshes the token once and resends the record', async () => {
      const client = iamClient();
      await client.produce('orders', { value: 1 });
      iam.revoked.add(iam.issued[0]!);
      const r = await client.produce('orders', { value: 2 });
      assert.equal(r.attempts, 2);
      assert.equal(iam.exchanges, 2);
      // When the fresh token is refused too, the 401 is final: no loop.
      iam.rejectAll = true;
      const before = iam.produceAuth.length;
      const err = await rejection(client.produce('orders', { value: 3 }));
      assert.equal(err.code, 'AUTHENTICATION_FAILED');
      assert.equal(iam.produceAuth.length - before, 2);
      assertNoSecret(err, [API_KEY, ...iam.issued]);
    });

    it('maps a rejected API key to AuthenticationError without retrying it', async () => {
      iam.iamStatus = [400];
      const err = await rejection(iamClient().produce('orders', { value: 1 }));
      assert.equal(err.code, 'AUTHENTICATION_FAILED');
      assert.equal(err.statusCode, 400);
      assert.match(err.message, /IAM/);
      assert.equal(iam.exchanges, 1);
      assert.equal(iam.produceAuth.length, 0);
      assertNoSecret(err, [API_KEY]);
    });

    it('retries an IAM outage (5xx) and then succeeds', async () => {
      iam.iamStatus = [503];
      const r = await iamClient().produce('orders', { value: 1 });
      assert.equal(r.attempts, 1);
      assert.equal(iam.exchanges, 2);
    });

    it('reports auth-failed when IAM refuses the key', async () => {
      iam.iamStatus = [401];
      const client = iamClient();
      await rejection(client.produce('orders', { value: 1 }));
      assert.equal(client.stats().state, 'auth-failed');
    });
  });

  describe('client certificates (mutual TLS)', () => {
    let mtls: TestServer;
    before(async () => {
      mtls = await startHttpsServer({ requestCert: { ca: [testPki().ca.cert] } });
    });
    after(async () => {
      await mtls.close();
    });
    const mtlsClient = (tls: ClientOptions['tls']): EventStreamsClient => {
      const c = new EventStreamsClient({
        url: mtls.url,
        auth: { mode: 'client-cert' },
        tls: { ca: testPki().ca.cert, ...tls },
        retry: { retries: 1, initialDelayMs: 1 },
      });
      clients.push(c);
      return c;
    };

    it('authenticates with a PEM certificate and key', async () => {
      const pki = testPki();
      await mtlsClient({ cert: pki.client.cert, key: pki.client.key }).produce('orders', { value: 1 });
      assert.equal(mtls.requests.at(-1)?.clientCn, 'test-client');
    });

    it('authenticates with a PKCS#12 bundle and passphrase', async () => {
      const pki = testPki();
      const pfx = toPkcs12(pki.client, PASSPHRASE, pki.ca.cert);
      await mtlsClient({ pfx, passphrase: PASSPHRASE }).produce('orders', { value: 1 });
      assert.equal(mtls.requests.at(-1)?.clientCn, 'test-client');
    });

    it('rejects a wrong passphrase at construction, without echoing it', () => {
      const pki = testPki();
      const pfx = toPkcs12(pki.client, PASSPHRASE);
      try {
        new EventStreamsClient({
          url: mtls.url,
          auth: { mode: 'client-cert' },
          tls: { pfx, passphrase: 'wrong-passphrase-123' },
        });
        assert.fail('expected INVALID_CONFIG');
      } catch (err) {
        assert.equal((err as EventStreamsError).code, 'INVALID_CONFIG');
        assertNoSecret(err, ['wrong-passphrase-123', PASSPHRASE]);
      }
    });

    it('reports a missing client certificate as TlsError CLIENT_CERT, not retried', async () => {
      const c = new EventStreamsClient({
        url: mtls.url,
        tls: { ca: testPki().ca.cert },
        retry: { retries: 3, initialDelayMs: 1 },
      });
      clients.push(c);
      const err = await rejection(c.produce('orders', { value: 1 }));
      assert.equal(err.code, 'TLS_FAILED');
      assert.equal((err as EventStreamsError & { reason: string }).reason, 'CLIENT_CERT');
      assert.equal(err.attempts, 1);
      const check = await c.testConnection();
      assert.deepEqual([check.reachable, check.tlsTrusted, check.authenticated], [true, true, false]);
    });
  });
});
