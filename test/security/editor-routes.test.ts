// SPDX-License-Identifier: Apache-2.0
/**
 * The attacks of issue 13 on the editor routes, performed against a real Node-RED (a child process
 * with this package installed, adminAuth off as by default) holding three config nodes with stored
 * secrets: an IAM endpoint, a Basic (SCRAM-style) endpoint and an unrelated `mqtt-broker`. A capture
 * server (HTTPS, its CA handed over by the attacker so TLS would succeed) records every byte it is
 * sent; each test fails if any stored secret or the value of an environment variable reaches it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { request } from 'undici';

import { startLocalEndpoint, type LocalEndpoint } from '../../gateway/server';
import { startNodeRed, type NodeRedProcess } from '../browser/runtime';
import { reply, startHttpsServer, testPki, type TestServer } from '../support/https-server';

const secret = (label: string): string => `${label}-${randomBytes(12).toString('hex')}`;
const API_KEY = secret('stored-api-key');
const SCRAM_PASSWORD = secret('stored-scram-password');
const MQTT_PASSWORD = secret('stored-mqtt-password');
const CANARY_VAR = 'ES_SECURITY_TEST_CANARY';
const CANARY = secret('env-canary');
const SECRETS = [API_KEY, SCRAM_PASSWORD, MQTT_PASSWORD, CANARY];

describe('security: editor routes never send a stored secret to a caller-chosen place', function () {
  this.timeout(120_000);
  let nr: NodeRedProcess;
  let ep: LocalEndpoint;
  let stateDir: string;
  let capture: TestServer;

  /** Every byte the capture server saw, as text. */
  function captured(): string {
    return capture.requests
      .map((r) => `${r.method} ${r.url}\n${JSON.stringify(r.headers)}\n${r.body.toString('latin1')}`)
      .join('\n');
  }

  function assertNothingLeaked(what: string): void {
    const text = captured();
    // Basic credentials travel base64-encoded: look for those forms as well.
    const forms = SECRETS.flatMap((s) => [
      s,
      Buffer.from(`token:${s}`).toString('base64'),
      Buffer.from(`user:${s}`).toString('base64'),
      Buffer.from(`es-user:${s}`).toString('base64'),
    ]);
    for (const f of forms) assert.ok(!text.includes(f), `${what}: a secret reached the capture server`);
  }

  async function post(
    body: string | Record<string, unknown>,
    contentType = 'application/json',
    headers: Record<string, string> = {},
  ): Promise<{ status: number; json: any }> {
    const res = await request(`${nr.url}/event-streams-endpoint/test`, {
      method: 'POST',
      headers: { 'content-type': contentType, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.statusCode, json };
  }

  before(async function () {
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-sec-editor-'));
    ep = await startLocalEndpoint({
      port: 0,
      stateDir,
      apiKeys: [API_KEY],
      users: [{ username: 'es-user', password: SCRAM_PASSWORD }],
    });
    capture = await startHttpsServer({ handler: (_req, res) => reply(res, 200, { metadata: {} }) });
    process.env[CANARY_VAR] = CANARY;
    try {
      nr = await startNodeRed();
    } finally {
      delete process.env[CANARY_VAR];
    }
    const flows = [
      { id: 'tab1', type: 'tab', label: 'security' },
      {
        id: 'cfg-iam',
        type: 'event-streams-endpoint',
        name: 'iam',
        url: ep.url,
        adminUrl: '',
        flavour: 'v2',
        authMode: 'iam',
        iamUrl: ep.iamUrl,
        verifyTls: true,
        brokers: '127.0.0.1:9093',
        credentials: { apiKey: API_KEY, ca: ep.caPem },
      },
      {
        id: 'cfg-basic',
        type: 'event-streams-endpoint',
        name: 'basic',
        url: ep.url,
        adminUrl: '',
        flavour: 'v1',
        authMode: 'basic',
        iamUrl: '',
        verifyTls: true,
        credentials: { username: 'es-user', password: SCRAM_PASSWORD, ca: ep.caPem },
      },
      {
        id: 'mqtt1',
        type: 'mqtt-broker',
        name: 'unrelated',
        broker: '127.0.0.1',
        port: '1',
        autoConnect: false,
        credentials: { user: 'user', password: MQTT_PASSWORD },
      },
    ];
    const res = await request(`${nr.url}/flows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'node-red-deployment-type': 'full' },
      body: JSON.stringify(flows),
    });
    assert.ok(res.statusCode === 200 || res.statusCode === 204, await res.body.text());
  });

  after(async function () {
    await nr?.stop();
    await capture?.close();
    await ep?.stop();
    if (stateDir) await fs.rm(stateDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    capture.requests.length = 0;
  });

  const stored = {
    apiKey: '__PWRD__',
    password: '__PWRD__',
    passphrase: '__PWRD__',
    clientKey: '__PWRD__',
    pfx: '__PWRD__',
  };

  it('still tests the stored node as the editor sends it (the routes stay usable)', async function () {
    const res = await post({
      id: 'cfg-iam',
      url: ep.url,
      adminUrl: '',
      flavour: 'v2',
      authMode: 'iam',
      iamUrl: ep.iamUrl,
      verifyTls: true,
      brokers: '127.0.0.1:9093',
      credentials: { ...stored, ca: ep.caPem },
    });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.ok, true, JSON.stringify(res.json));
  });

  it('the capture server does receive a key the request brings itself (so the checks below can see a leak)', async function () {
    const own = secret('callers-own-key');
    await post({
      id: 'cfg-iam',
      url: capture.url,
      authMode: 'bearer',
      verifyTls: true,
      credentials: { apiKey: own, ca: testPki().ca.cert },
    });
    assert.ok(captured().includes(own), 'the capture server saw the key the caller sent');
    assertNothingLeaked('own key');
  });

  const attacks: Array<[string, () => Record<string, unknown>]> = [
    [
      'stored API key as Bearer to a caller-chosen URL',
      () => ({
        id: 'cfg-iam',
        url: capture.url,
        authMode: 'bearer',
        credentials: { ...stored, ca: testPki().ca.cert },
      }),
    ],
    [
      'stored API key as Basic token:<key> to a caller-chosen admin URL',
      () => ({
        id: 'cfg-iam',
        url: ep.url,
        adminUrl: capture.url,
        iamUrl: ep.iamUrl,
        brokers: '127.0.0.1:9093',
        authMode: 'basic-token',
        credentials: { ...stored, ca: testPki().ca.cert },
      }),
    ],
    [
      'stored IAM key POSTed to a caller-chosen IAM URL',
      () => ({
        id: 'cfg-iam',
        url: ep.url,
        flavour: 'v2',
        authMode: 'iam',
        iamUrl: `${capture.url}/identity/token`,
        brokers: '127.0.0.1:9093',
        credentials: { ...stored, ca: testPki().ca.cert },
      }),
    ],
    [
      'stored SCRAM password as Basic to a caller-chosen URL',
      () => ({
        id: 'cfg-basic',
        url: capture.url,
        authMode: 'basic',
        credentials: { ...stored, username: 'es-user', ca: testPki().ca.cert },
      }),
    ],
    [
      'the password of an unrelated mqtt-broker node',
      () => ({
        id: 'mqtt1',
        url: capture.url,
        authMode: 'basic',
        credentials: { ...stored, username: 'user', ca: testPki().ca.cert },
      }),
    ],
    [
      'an environment variable named as ${VAR} in a request credential',
      () => ({
        url: capture.url,
        authMode: 'bearer',
        credentials: { apiKey: `\${${CANARY_VAR}}`, ca: testPki().ca.cert },
      }),
    ],
    [
      'an environment variable named as ${VAR} in the request URL',
      () => ({
        id: 'cfg-iam',
        url: `${capture.url}/\${${CANARY_VAR}}`,
        authMode: 'bearer',
        credentials: { apiKey: 'x', ca: testPki().ca.cert },
      }),
    ],
  ];
  const attack = (prefix: string): Record<string, unknown> =>
    attacks.find(([name]) => name.startsWith(prefix))![1]();
  for (const [name, body] of attacks) {
    it(`leaks nothing: ${name}`, async function () {
      const res = await post(body());
      assert.ok(res.status === 200 || res.status === 400, `status ${res.status}`);
      assertNothingLeaked(name);
    });
  }

  it('a stored-secret request to another URL is answered with why, not silently with another key', async function () {
    const res = await post(attack('stored API key as Bearer'));
    assert.equal(res.status, 400);
    assert.match(res.json.messages.join(' '), /stored secrets are not used/);
    assert.equal(capture.requests.length, 0, 'nothing was sent at all');
  });

  it('does not fill in the stored key when only the brokers changed (they would receive it as SASL)', async function () {
    const res = await post({
      id: 'cfg-iam',
      url: ep.url,
      adminUrl: '',
      flavour: 'v2',
      authMode: 'iam',
      iamUrl: ep.iamUrl,
      verifyTls: true,
      brokers: `${new URL(capture.url).host}`,
      credentials: { ...stored, ca: ep.caPem },
    });
    assert.equal(res.status, 400, JSON.stringify(res.json));
    assert.match(res.json.messages.join(' '), /stored secrets are not used/);
  });

  it('refuses an id of another node type outright', async function () {
    const res = await post(attack('the password of an unrelated mqtt-broker'));
    assert.equal(res.status, 400);
    assert.match(res.json.messages.join(' '), /not an Event Streams endpoint/);
  });

  it('a cross-site form POST (urlencoded, no custom header) is refused with 415 and sends nothing', async function () {
    // Exactly what a hidden auto-submitting <form method=post> on another site sends.
    const form = new URLSearchParams({
      id: 'cfg-iam',
      url: capture.url,
      authMode: 'bearer',
      'credentials[apiKey]': `\${${CANARY_VAR}}`,
      'credentials[ca]': testPki().ca.cert,
    }).toString();
    const origin = { origin: 'https://attacker.example', referer: 'https://attacker.example/page' };
    const res = await post(form, 'application/x-www-form-urlencoded', origin);
    assert.equal(res.status, 415);
    // Forms can also be multipart or text/plain, and text/plain can carry JSON text.
    const plain = await post(JSON.stringify(attack('stored API key as Bearer')), 'text/plain', origin);
    assert.equal(plain.status, 415);
    const multipart = await post(
      '--b\r\nContent-Disposition: form-data; name="url"\r\n\r\nx\r\n--b--\r\n',
      'multipart/form-data; boundary=b',
      origin,
    );
    assert.equal(multipart.status, 415);
    assert.equal(capture.requests.length, 0);
    assertNothingLeaked('form post');
  });

  it('the topic route refuses a regex or catastrophic filter and Node-RED keeps answering', async function () {
    const regex = await request(
      `${nr.url}/event-streams-endpoint/cfg-iam/topics?filter=${encodeURIComponent('/(a+)+$/')}`,
    );
    assert.equal(regex.statusCode, 400);
    await regex.body.text();
    const started = Date.now();
    const glob = await request(
      `${nr.url}/event-streams-endpoint/cfg-basic/topics?filter=${encodeURIComponent(`${'*a'.repeat(100)}*b`)}`,
    );
    await glob.body.text();
    assert.ok([200, 502].includes(glob.statusCode), `status ${glob.statusCode}`);
    const settings = await request(`${nr.url}/settings`);
    assert.equal(settings.statusCode, 200);
    await settings.body.text();
    // Generous: a busy 2-core machine; a backtracking regex would take minutes to hours here.
    assert.ok(Date.now() - started < 20_000);
    assertNothingLeaked('topic route');
  });
});
