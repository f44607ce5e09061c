// SPDX-License-Identifier: Apache-2.0
/**
 * Secrets and access. Runs flows in every auth mode through failures that produce as much output
 * as possible (rejected keys, wrong passwords, a client key the server does not trust, expiring IAM
 * tokens, a connection test), captures everything Node-RED sees (log calls, status, every message
 * at outputs and Catch, util.inspect of every error, the flow export), and searches it for the
 * secrets in use: API keys, password, client private key PEM and the IAM access tokens the endpoint
 * issued. (The child-process run in outbox.test.ts covers a real runtime's stdout/stderr, flows.json
 * and the credentials admin route.) Also: TLS verification is on by default and an untrusted
 * certificate fails clearly; the local endpoint binds loopback and refuses unauthenticated calls.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';

import { Agent, request } from 'undici';

import { generateCa, issueCertificate } from '../../gateway/certs';
import { TokenStore } from '../../gateway/iam';
import { normalizeEndpointOptions } from '../../nodes/shared/endpoint-config';
import { allNodes, helper, startTestEndpoint, type TestEndpoint } from '../nodes/support';
import { waitFor } from '../support/wait';

const API_KEY = 'sec-good-api-key-A1b2C3d4E5f6';
const WRONG_KEY = 'sec-wrong-api-key-Z9y8X7w6V5';
const USER = { username: 'sec-user', password: 'sec-password-Qq1Ww2Ee3Rr4' };
const WRONG_PASSWORD = 'sec-wrong-password-Tt5Yy6';
const TOPIC = 'secrets';

describe('reliability: secrets and access', function () {
  this.timeout(30000);
  let te: TestEndpoint;
  const issuedTokens: string[] = [];
  let lastIssuedAt = 0;
  const originalIssue = TokenStore.prototype.issue;
  let trustedClient: { cert: string; key: string };
  let untrustedClient: { cert: string; key: string };

  before(async () => {
    // Record every IAM access token the endpoint hands out, to search for them afterwards.
    TokenStore.prototype.issue = function (this: TokenStore, ...args: Parameters<TokenStore['issue']>) {
      const t = originalIssue.apply(this, args);
      issuedTokens.push(t.access_token);
      lastIssuedAt = Date.now();
      return t;
    };
    te = await startTestEndpoint({
      apiKeys: [API_KEY],
      users: [USER],
      clientCertAuth: true,
      tokenLifetimeSec: 1,
      topics: [{ name: TOPIC }],
    });
    const ca = {
      cert: await fs.readFile(path.join(te.stateDir, 'ca.pem'), 'utf8'),
      key: await fs.readFile(path.join(te.stateDir, 'ca-key.pem'), 'utf8'),
    };
    trustedClient = issueCertificate(ca, { commonName: 'nr', client: true });
    untrustedClient = issueCertificate(generateCa(), { commonName: 'nr', client: true });
  });

  after(async () => {
    TokenStore.prototype.issue = originalIssue;
    await te?.stop();
  });

  afterEach(async () => {
    await helper.unload();
  });

  /** Everything observable from a flow run, as text. */
  function capture(nodeIds: string[]): { text: () => string; lastStatus: (id: string) => any } {
    const parts: string[] = [];
    const statuses = new Map<string, any>();
    for (const id of nodeIds) {
      const n = helper.getNode(id);
      for (const ev of ['call:status', 'call:error', 'call:warn', 'call:log', 'call:send', 'call:debug']) {
        n.on(ev, (call: { args: unknown[] }) =>
          parts.push(inspect(call.args, { depth: 10, showHidden: true })),
        );
      }
      n.on('call:status', (call: { args: unknown[] }) => statuses.set(id, call.args[0]));
    }
    for (const id of ['out', 'caught']) {
      helper
        .getNode(id)
        .on('input', (m: unknown) =>
          parts.push(inspect(m, { depth: 10, showHidden: true }), JSON.stringify(m)),
        );
    }
    return {
      lastStatus: (id) => statuses.get(id),
      text: () => {
        const log = helper.log();
        const logged = log ? inspect(log.args, { depth: 10, showHidden: true }) : '';
        const flows = JSON.stringify(helper._redNodes.getFlows());
        return [...parts, logged, flows].join('\n');
      },
    };
  }

  function flow(cfg: Record<string, unknown>): Array<Record<string, unknown>> {
    const merged: Record<string, unknown> = {
      id: 'cfg',
      type: 'event-streams-endpoint',
      url: te.endpoint.url,
      iamUrl: te.endpoint.iamUrl,
      verifyTls: true,
      connections: 2,
      requestTimeout: 5,
      retries: 2,
      retryDelay: 10,
      maxRetryTime: 5,
      closeTimeout: 1,
      ...cfg,
    };
    for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
    return [
      { id: 'tab1', type: 'tab', label: 'secrets' },
      merged,
      {
        id: 'p1',
        z: 'tab1',
        type: 'event-streams-producer',
        endpoint: 'cfg',
        topic: TOPIC,
        wires: [['out']],
      },
      { id: 'out', z: 'tab1', type: 'helper' },
      { id: 'c1', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'tab1', type: 'helper' },
    ];
  }

  function assertNoSecret(text: string, secrets: string[]): void {
    assert.ok(text.length > 200, 'something was captured');
    for (const s of secrets) {
      assert.ok(!text.includes(s), `secret leaked: ${s.slice(0, 12)}…`);
    }
  }

  async function run(cfg: Record<string, unknown>, creds: Record<string, unknown>, n = 6): Promise<string> {
    await helper.load(allNodes, flow(cfg), { cfg: { ca: te.endpoint.caPem, ...creds } });
    const cap = capture(['p1', 'cfg']);
    let outcomes = 0;
    helper.getNode('out').on('input', () => outcomes++);
    helper.getNode('caught').on('input', () => outcomes++);
    for (let i = 0; i < n; i++) helper.getNode('p1').receive({ payload: { i, note: 'hello' } });
    await waitFor(() => outcomes === n, 'every outcome', { timeoutMs: 10000 });
    // The status is throttled: wait until it has caught up with the outcomes (settled: no longer
    // busy, retrying or throttled), so that its final text is captured too.
    await waitFor(
      () => {
        const s = cap.lastStatus('p1');
        return s !== undefined && (s.fill === 'green' || s.fill === 'red');
      },
      'the settled status',
      { timeoutMs: 10000 },
    );
    return cap.text();
  }

  const pemBody = (pem: string): string[] =>
    pem
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .slice(0, 3);

  it('no API key (right or wrong) in anything a bearer / basic-token flow shows', async () => {
    const a = await run({ authMode: 'bearer' }, { apiKey: WRONG_KEY });
    await helper.unload();
    const b = await run({ authMode: 'basic-token' }, { apiKey: WRONG_KEY });
    await helper.unload();
    const c = await run({ authMode: 'bearer' }, { apiKey: API_KEY });
    assert.match(a, /AUTHENTICATION_FAILED/);
    assertNoSecret(a + b + c, [WRONG_KEY, API_KEY, Buffer.from(`token:${WRONG_KEY}`).toString('base64')]);
  });

  it('no password in anything a basic-auth flow shows', async () => {
    const a = await run({ authMode: 'basic' }, { ...USER, password: WRONG_PASSWORD });
    await helper.unload();
    const b = await run({ authMode: 'basic' }, USER);
    assert.match(a, /AUTHENTICATION_FAILED/);
    assertNoSecret(a + b, [
      WRONG_PASSWORD,
      USER.password,
      Buffer.from(`${USER.username}:${USER.password}`).toString('base64'),
    ]);
  });

  it('no client private key in anything a mutual-TLS flow shows, trusted or not', async () => {
    const a = await run(
      { authMode: 'client-cert' },
      { clientCert: untrustedClient.cert, clientKey: untrustedClient.key },
    );
    await helper.unload();
    const b = await run(
      { authMode: 'client-cert' },
      { clientCert: trustedClient.cert, clientKey: trustedClient.key },
    );
    assert.match(a, /TLS_FAILED|AUTHENTICATION_FAILED|CONNECTION_FAILED/);
    assertNoSecret(a + b, [...pemBody(untrustedClient.key), ...pemBody(trustedClient.key)]);
  });

  it('no IAM API key or issued access token in anything an IAM flow shows, across token expiry', async () => {
    issuedTokens.length = 0;
    const a = await run({ authMode: 'iam', flavour: 'v2' }, { apiKey: API_KEY }, 4);
    // A second batch after the 1 s tokens expired (real time has to pass: wait for it), then a
    // wrong key.
    await waitFor(() => lastIssuedAt > 0 && Date.now() > lastIssuedAt + 1500, 'the token to expire', {
      timeoutMs: 10000,
    });
    const more = await (async () => {
      let n = 0;
      helper.getNode('out').on('input', () => n++);
      for (let i = 0; i < 4; i++) helper.getNode('p1').receive({ payload: { i } });
      await waitFor(() => n === 4, 'second batch', { timeoutMs: 10000 });
      return '';
    })();
    await helper.unload();
    const b = await run({ authMode: 'iam', flavour: 'v2' }, { apiKey: WRONG_KEY }, 3);
    assert.ok(issuedTokens.length >= 2, `tokens were issued and refreshed (${issuedTokens.length})`);
    assertNoSecret(a + more + b, [API_KEY, WRONG_KEY, ...issuedTokens]);
  });

  it('the Test connection route never echoes the key it was given', async () => {
    await helper.load(allNodes, flow({ authMode: 'bearer' }), {
      cfg: { ca: te.endpoint.caPem, apiKey: API_KEY },
    });
    for (const apiKey of [WRONG_KEY, API_KEY]) {
      const res = await helper
        .request()
        .post('/event-streams-endpoint/test')
        .send({
          url: te.endpoint.url,
          authMode: 'bearer',
          verifyTls: true,
          credentials: { apiKey, ca: te.endpoint.caPem },
        });
      assert.equal(res.status, 200);
      assert.ok(Array.isArray(res.body.messages) && res.body.messages.length > 0);
      assert.ok(!JSON.stringify(res.body).includes(apiKey), 'the key came back');
    }
  });

  it('verifies TLS by default and fails an untrusted certificate with a clear TLS_FAILED', async () => {
    assert.equal(normalizeEndpointOptions({ url: 'https://x' }).verifyTls, true);
    // No CA given: the local CA is not trusted by default.
    const text = await run({ authMode: 'bearer', verifyTls: undefined }, { apiKey: API_KEY, ca: '' }, 2);
    assert.match(text, /TLS_FAILED/);
    assert.match(text, /certificate/i);
    assert.doesNotMatch(text, /verification is OFF/);
  });

  it('the local endpoint binds loopback by default and refuses unauthenticated requests', async () => {
    const plain = await startTestEndpoint({ apiKeys: [API_KEY], users: [USER], topics: [{ name: TOPIC }] });
    const agent = new Agent({ connect: { ca: plain.endpoint.caPem } });
    try {
      assert.match(plain.endpoint.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      for (const [method, p] of ROUTES) {
        assert.equal(
          await status(plain.endpoint.url, method, p, agent),
          401,
          `${method} ${p} without credentials`,
        );
      }
      assert.equal((await plain.endpoint.readRecords(TOPIC)).length, 0);
    } finally {
      await agent.close();
      await plain.stop();
    }
  });

  // FAILS until gateway/auth.ts checks for a presented certificate: Node reports
  // socket.authorized === true on a resumed TLS 1.3 session even when the client never sent a
  // certificate (node's VerifyPeerCertificate treats "no cert + session reused" as X509_V_OK), so
  // an unauthenticated client whose first request got 401 is let in on its next connection
  // (undici resumes sessions by default).
  it('mutual TLS: a resumed TLS session without a client certificate is not authenticated', async () => {
    const agent = new Agent({ connect: { ca: te.endpoint.caPem } });
    const before = (await te.endpoint.readRecords(TOPIC)).length;
    try {
      const seen: number[] = [];
      for (let i = 0; i < 3; i++) {
        // Each 401 closes the connection, so the next request resumes the TLS session.
        seen.push(await status(te.endpoint.url, 'POST', `/topics/${TOPIC}/records`, agent));
      }
      assert.deepEqual(seen, [401, 401, 401]);
      assert.equal((await te.endpoint.readRecords(TOPIC)).length, before, 'nothing was written');
    } finally {
      await agent.close();
    }
  });
});

const ROUTES = [
  ['POST', `/topics/${TOPIC}/records`],
  ['POST', `/v2/topics/${TOPIC}/records`],
  ['GET', '/admin/topics'],
  ['POST', '/admin/topics'],
  ['DELETE', `/admin/topics/${TOPIC}`],
] as const;

async function status(
  base: string,
  method: 'GET' | 'POST' | 'DELETE',
  p: string,
  agent: Agent,
): Promise<number> {
  const res = await request(`${base}${p}`, {
    method,
    dispatcher: agent,
    headers: {
      'content-type': method === 'POST' && p.startsWith('/topics') ? 'text/plain' : 'application/json',
    },
    ...(method === 'POST' ? { body: p.startsWith('/admin') ? '{"name":"sneaky"}' : 'x' } : {}),
  });
  await res.body.text();
  return res.statusCode;
}
