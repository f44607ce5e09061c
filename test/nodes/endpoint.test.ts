// SPDX-License-Identifier: Apache-2.0
/**
 * The endpoint config node's editor routes: "Test connection" (good key, wrong key, untrusted CA,
 * stored-credential fallback) and topic autocomplete, with and without admin permissions.
 */
import assert from 'node:assert/strict';

import {
  TAB,
  allNodes,
  endpointConfig,
  endpointNode,
  helper,
  loggedText,
  producerNode,
  startTestEndpoint,
  topicAdminNode,
  uniqueTopic,
  type TestEndpoint,
} from './support';

const API_KEY = 'endpoint-test-key-0123456789';

// The helper gives nodes a stub RED.auth that lets everything through, so the permission tests
// hand the endpoint module Node-RED's real editor-api auth (initialised with adminAuth) instead.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const realAuth = require('@node-red/editor-api/lib/auth');
const sessions = { getSessions: async () => ({}), saveSessions: async () => undefined };
const ADMIN_AUTH = {
  type: 'credentials',
  users: [
    {
      username: 'admin',
      password: '$2b$08$invalidinvalidinvalidinvalidinvalidinvalidinvalidinva',
      permissions: '*',
    },
    {
      username: 'viewer',
      password: '$2b$08$invalidinvalidinvalidinvalidinvalidinvalidinvalidinva',
      permissions: 'read',
    },
  ],
  tokens: [
    { token: 'admin-token', user: 'admin', scope: ['*'] },
    { token: 'viewer-token', user: 'viewer', scope: ['read'] },
  ],
};

describe('event-streams-endpoint editor routes', function () {
  this.timeout(15000);
  let te: TestEndpoint;
  let topic: string;

  before(async () => {
    te = await startTestEndpoint({ apiKeys: [API_KEY] });
    topic = uniqueTopic('ep');
    await te.endpoint.backend.createTopic(topic, 1, []);
  });

  after(async () => {
    await te?.stop();
  });

  afterEach(async () => {
    realAuth.init({}, sessions);
    await helper.unload();
  });

  function testBody(overrides: Record<string, unknown> = {}, credentials: Record<string, unknown> = {}) {
    return {
      url: te.endpoint.url,
      adminUrl: te.endpoint.adminUrl,
      flavour: 'v1',
      authMode: 'bearer',
      iamUrl: te.endpoint.iamUrl,
      verifyTls: true,
      credentials: { apiKey: API_KEY, ca: te.endpoint.caPem, ...credentials },
      ...overrides,
    };
  }

  async function loadConfigOnly(): Promise<void> {
    await helper.load(allNodes, [TAB, endpointConfig(te.endpoint)], {
      cfg: { apiKey: API_KEY, ca: te.endpoint.caPem },
    });
  }

  describe('test connection', () => {
    it('reports reachable, trusted and accepted for a good key, without echoing it', async () => {
      await loadConfigOnly();
      const res = await helper.request().post('/event-streams-endpoint/test').send(testBody()).expect(200);
      assert.equal(res.body.ok, true);
      assert.equal(res.body.reachable, true);
      assert.equal(res.body.tlsTrusted, true);
      assert.equal(res.body.authenticated, true);
      assert.equal(res.body.host, new URL(te.endpoint.url).host);
      assert.deepEqual(res.body.messages, [
        'event-streams-endpoint.test.reachable',
        'event-streams-endpoint.test.tls-trusted',
        'event-streams-endpoint.test.auth-ok',
      ]);
      assert.ok(!res.text.includes(API_KEY));
    });

    it('reports rejected credentials for a wrong key', async () => {
      await loadConfigOnly();
      const wrong = 'wrong-key-zyxwvutsrq';
      const res = await helper
        .request()
        .post('/event-streams-endpoint/test')
        .send(testBody({}, { apiKey: wrong }))
        .expect(200);
      assert.equal(res.body.ok, false);
      assert.equal(res.body.reachable, true);
      assert.equal(res.body.authenticated, false);
      assert.ok(res.body.messages.includes('event-streams-endpoint.test.auth-rejected'));
      assert.ok(!res.text.includes(wrong));
      assert.ok(!loggedText().includes(wrong));
    });

    it('explains an untrusted certificate: unknown CA, add the CA certificate', async () => {
      await loadConfigOnly();
      const res = await helper
        .request()
        .post('/event-streams-endpoint/test')
        .send(testBody({}, { ca: '' }))
        .expect(200);
      assert.equal(res.body.ok, false);
      assert.equal(res.body.tlsTrusted, false);
      assert.equal(res.body.tlsReason, 'UNKNOWN_CA');
      assert.ok(res.body.messages.includes('event-streams-endpoint.test.tls-unknown-ca'));
    });

    it('explains an unreachable host', async () => {
      await loadConfigOnly();
      const res = await helper
        .request()
        .post('/event-streams-endpoint/test')
        .send(testBody({ url: 'https://127.0.0.1:1', adminUrl: '' }))
        .expect(200);
      assert.equal(res.body.ok, false);
      assert.equal(res.body.reachable, false);
      assert.ok(res.body.messages.includes('event-streams-endpoint.test.unreachable'));
    });

    it('hints at https:// when an http:// URL points at a port that speaks TLS', async () => {
      await loadConfigOnly();
      const res = await helper
        .request()
        .post('/event-streams-endpoint/test')
        .send(testBody({ url: te.endpoint.url.replace(/^https:/, 'http:'), adminUrl: '' }))
        .expect(200);
      assert.equal(res.body.ok, false);
      assert.ok(
        res.body.messages.includes('event-streams-endpoint.test.use-https'),
        JSON.stringify(res.body.messages),
      );
    });

    it('uses the stored credentials of the node for password fields the editor did not resend', async () => {
      await loadConfigOnly();
      const res = await helper
        .request()
        .post('/event-streams-endpoint/test')
        .send({ ...testBody(), id: 'cfg', credentials: { apiKey: '__PWRD__', ca: te.endpoint.caPem } })
        .expect(200);
      assert.equal(res.body.ok, true, JSON.stringify(res.body));
      // Without an id there is nothing to fall back on.
      const none = await helper
        .request()
        .post('/event-streams-endpoint/test')
        .send({ ...testBody(), credentials: { apiKey: '__PWRD__', ca: te.endpoint.caPem } })
        .expect(400);
      assert.equal(none.body.ok, false);
      assert.equal(none.body.code, 'INVALID_CONFIG');
    });

    it('does not fill in stored secrets once the request changes a destination', async () => {
      await loadConfigOnly();
      const stored = { apiKey: '__PWRD__', ca: te.endpoint.caPem };
      for (const change of [
        { url: `${te.endpoint.url}/elsewhere` },
        { adminUrl: 'https://127.0.0.1:1' },
        { iamUrl: 'https://127.0.0.1:1/identity/token' },
        { brokers: '127.0.0.1:1' },
        { verifyTls: false },
      ]) {
        const res = await helper
          .request()
          .post('/event-streams-endpoint/test')
          .send({ ...testBody(change), id: 'cfg', credentials: stored })
          .expect(400);
        assert.deepEqual(
          res.body.messages,
          ['event-streams-endpoint.test.secrets-required'],
          JSON.stringify(change),
        );
      }
      // The same destinations written differently (case, default port, trailing spaces) still match.
      const u = new URL(te.endpoint.url);
      const res = await helper
        .request()
        .post('/event-streams-endpoint/test')
        .send({
          ...testBody({ url: ` https://${u.hostname.toUpperCase()}:${u.port} `, adminUrl: '' }),
          id: 'cfg',
          credentials: stored,
        })
        .expect(200);
      assert.equal(res.body.ok, true, JSON.stringify(res.body));
    });

    it('refuses an id that names a node of another type, and bodies that are not JSON', async () => {
      await loadConfigOnly();
      await helper
        .request()
        .post('/event-streams-endpoint/test')
        .send({ ...testBody(), id: 'tab1', credentials: { apiKey: '__PWRD__' } })
        .expect(400);
      await helper
        .request()
        .post('/event-streams-endpoint/test')
        .type('form')
        .send({ url: te.endpoint.url, id: 'cfg' })
        .expect(415);
      await helper
        .request()
        .post('/event-streams-endpoint/test')
        .set('Content-Type', 'text/plain')
        .send(JSON.stringify(testBody()))
        .expect(415);
    });

    it('answers 400 for an unusable configuration', async () => {
      await loadConfigOnly();
      const res = await helper
        .request()
        .post('/event-streams-endpoint/test')
        .send({ url: 'not a url' })
        .expect(400);
      assert.equal(res.body.ok, false);
      assert.ok(res.body.messages[0].startsWith('event-streams-endpoint.test.config'));
    });
  });

  describe('topic autocomplete', () => {
    it('lists topic names through the deployed config node', async () => {
      await loadConfigOnly();
      const res = await helper.request().get('/event-streams-endpoint/cfg/topics').expect(200);
      assert.ok(Array.isArray(res.body));
      assert.ok(res.body.includes(topic));
    });

    it('refuses a filter that is not a glob, and an unknown backend', async () => {
      await loadConfigOnly();
      await helper.request().get('/event-streams-endpoint/cfg/topics?filter=%2F(a%2B)%2B%2F').expect(400);
      await helper
        .request()
        .get(`/event-streams-endpoint/cfg/topics?filter=${'a'.repeat(256)}`)
        .expect(400);
      await helper.request().get('/event-streams-endpoint/cfg/topics?backend=other').expect(400);
      const res = await helper
        .request()
        .get(`/event-streams-endpoint/cfg/topics?filter=${topic.slice(0, 3)}*`);
      assert.ok(res.body.includes(topic));
    });

    it('answers 404 with no names for an undeployed node', async () => {
      await loadConfigOnly();
      const res = await helper.request().get('/event-streams-endpoint/nope/topics').expect(404);
      assert.deepEqual(res.body, []);
    });
  });

  describe('permissions', () => {
    async function loadSecured(): Promise<void> {
      realAuth.init({ adminAuth: ADMIN_AUTH }, sessions);
      const secured = (red: any) => {
        red.auth = realAuth;
        return endpointNode(red);
      };
      await helper.load([secured, producerNode, topicAdminNode], [TAB, endpointConfig(te.endpoint)], {
        cfg: { apiKey: API_KEY, ca: te.endpoint.caPem },
      });
    }

    it('refuses callers without a token', async () => {
      await loadSecured();
      await helper.request().get('/event-streams-endpoint/cfg/topics').expect(401);
      await helper.request().post('/event-streams-endpoint/test').send(testBody()).expect(401);
    });

    it('lets a read-only user list topics but not run a connection test', async () => {
      await loadSecured();
      const res = await helper
        .request()
        .get('/event-streams-endpoint/cfg/topics')
        .set('Authorization', 'Bearer viewer-token')
        .expect(200);
      assert.ok(res.body.includes(topic));
      await helper
        .request()
        .post('/event-streams-endpoint/test')
        .set('Authorization', 'Bearer viewer-token')
        .send(testBody())
        .expect(401);
    });

    it('lets a user with write permission run a connection test', async () => {
      await loadSecured();
      const res = await helper
        .request()
        .post('/event-streams-endpoint/test')
        .set('Authorization', 'Bearer admin-token')
        .send(testBody())
        .expect(200);
      assert.equal(res.body.ok, true);
    });
  });
});
