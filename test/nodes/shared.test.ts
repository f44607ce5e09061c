// SPDX-License-Identifier: Apache-2.0
/** Pure helpers of the nodes: service-key mapping (runtime and editor resource), option building, record mapping, status throttle. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';

import sinon from 'sinon';

import {
  buildClientOptions,
  normalizeEndpointOptions,
  substituteEnv,
} from '../../nodes/shared/endpoint-config';
import { AuthenticationError, RateLimitedError, RetriesExhaustedError } from '../../lib/errors';
import { ENDPOINT_CHOICE_DEFAULTS, endpointFieldValues } from '../../lib/defaults';
import { ENDPOINT_CREDENTIALS } from '../../nodes/shared/credentials';
import { buildKafkaClientConfig } from '../../nodes/shared/kafka-config';
import { toRecordHeaders, toRecordKey, toRecordValue } from '../../nodes/shared/record';
import { mapServiceKey } from '../../nodes/shared/service-key';
import { StatusThrottle, statusReason } from '../../nodes/shared/status';
import { resolveAdminRequest } from '../../nodes/shared/topic-admin-request';

const ROOT = path.join(__dirname, '..', '..', '..');

/** resources/editor.js, the build's editor copy of runtime definitions, evaluated as a browser would. */
function editorResource(): {
  mapServiceKey: typeof mapServiceKey;
  endpointDefaults: Record<string, unknown>;
  endpointCredentials: Record<string, unknown>;
} {
  const source = readFileSync(path.join(ROOT, 'resources', 'editor.js'), 'utf8');
  const context = vm.createContext({ window: {} });
  vm.runInContext(source, context);
  const shared = (context as { window: { esnodesEventStreams: any } }).window.esnodesEventStreams;
  // Objects from another realm fail deepStrictEqual's prototype check; round-trip them.
  const plain = (v: unknown): any => JSON.parse(JSON.stringify(v));
  return {
    mapServiceKey: (input, prefs) => plain(shared.mapServiceKey(input, prefs)),
    endpointDefaults: plain(shared.endpointDefaults),
    endpointCredentials: plain(shared.endpointCredentials),
  };
}

/** The editor's service-key mapping, as the endpoint dialog gets it. */
function editorMapServiceKey(): typeof mapServiceKey {
  return editorResource().mapServiceKey;
}

const CLOUD_KEY = {
  api_key: 'AKEY-1234567890',
  apikey: 'AKEY-1234567890',
  user: 'token',
  password: 'AKEY-1234567890',
  instance_id: 'guid',
  kafka_admin_url: 'https://tenant.svc01.us-south.eventstreams.cloud.ibm.com',
  kafka_http_url: 'https://tenant.svc01.us-south.eventstreams.cloud.ibm.com',
  kafka_brokers_sasl: ['broker-0-t.kafka.svc01.us-south.eventstreams.cloud.ibm.com:9093', 'broker-1-t:9093'],
};

describe('editor resource (resources/editor.js)', () => {
  it('is what the build generates from the runtime modules now (not a stale or hand-edited copy)', () => {
    // The generator is the plain-JS build script itself, so it is loaded as the build loads it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { renderEditorResource, RESOURCE_FILE } = require(path.join(ROOT, 'scripts', 'editor-resource.js'));
    assert.equal(readFileSync(RESOURCE_FILE, 'utf8'), renderEditorResource(path.join(ROOT, 'dist')));
  });
  it('carries the runtime defaults and credential schema', () => {
    const r = editorResource();
    assert.deepEqual(r.endpointDefaults, { ...ENDPOINT_CHOICE_DEFAULTS, ...endpointFieldValues() });
    assert.deepEqual(r.endpointCredentials, ENDPOINT_CREDENTIALS);
  });
  it('is the only copy: the endpoint .html loads it and keeps no mapping, schema or numbers of its own', () => {
    const html = readFileSync(path.join(ROOT, 'nodes', 'event-streams-endpoint.html'), 'utf8');
    assert.match(html, /<script src="resources\/@esnodes\/node-red-event-streams\/editor\.js"><\/script>/);
    assert.doesNotMatch(html, /function mapServiceKey/);
    assert.doesNotMatch(html, /type: 'password'/);
    assert.doesNotMatch(html, /\{ value: \d/, 'a numeric default typed into the .html');
  });
});

describe('nodes/shared', () => {
  for (const [label, getImpl] of [
    ['service key mapping (runtime copy)', () => mapServiceKey],
    ['service key mapping (editor, from resources/editor.js)', editorMapServiceKey],
  ] as const) {
    describe(label, () => {
      const map = getImpl();
      it('maps a full IBM Cloud key to iam + v2 by default', () => {
        assert.deepEqual(map(JSON.stringify(CLOUD_KEY)), {
          transport: 'rest',
          url: CLOUD_KEY.kafka_http_url,
          adminUrl: CLOUD_KEY.kafka_admin_url,
          brokers: CLOUD_KEY.kafka_brokers_sasl.join(','),
          authMode: 'iam',
          flavour: 'v2',
          apiKey: 'AKEY-1234567890',
        });
      });
      it('maps to bearer + v1 when asked', () => {
        const r = map(CLOUD_KEY, { auth: 'bearer' });
        assert.equal(r.authMode, 'bearer');
        assert.equal(r.flavour, 'v1');
      });
      it('takes bootstrap_endpoints, apikey only, and defaults the admin URL', () => {
        const r = map({
          apikey: 'K2-abcdef',
          kafka_http_url: 'https://h.example',
          bootstrap_endpoints: 'b0:9093, b1:9093 ,b2:9093',
        });
        assert.equal(r.apiKey, 'K2-abcdef');
        assert.equal(r.adminUrl, 'https://h.example');
        assert.equal(r.brokers, 'b0:9093,b1:9093,b2:9093');
      });
      it('uses password when user is token, and unwraps the CLI array/credentials shape', () => {
        const r = map([
          { name: 'k', credentials: { user: 'token', password: 'P-12345678', kafka_http_url: 'https://x' } },
        ]);
        assert.equal(r.apiKey, 'P-12345678');
      });
      it('maps a non-token user/password to basic auth', () => {
        const r = map({ user: 'alice', password: 'pw-secret', kafka_http_url: 'https://x' });
        assert.equal(r.authMode, 'basic');
        assert.equal(r.username, 'alice');
        assert.equal(r.password, 'pw-secret');
      });
      it('maps a Gen 2 key (brokers, no kafka_http_url) to a Kafka endpoint with the API key', () => {
        for (const brokers of [
          { kafka_brokers_sasl: ['g0.example:9093', 'g1.example:9093'] },
          { bootstrap_endpoints: 'g0.example:9093,g1.example:9093' },
        ]) {
          assert.deepEqual(map({ apikey: 'GEN2-KEY-1', ...brokers }), {
            transport: 'kafka',
            url: '',
            adminUrl: '',
            brokers: 'g0.example:9093,g1.example:9093',
            authMode: 'iam',
            flavour: 'v2',
            apiKey: 'GEN2-KEY-1',
          });
        }
      });
      it('rejects bad JSON, non-objects, keys without URL or credentials, without echoing secrets', () => {
        assert.throws(() => map('{nope'), /not valid JSON/);
        assert.throws(() => map('42'), /JSON object/);
        assert.throws(
          () => map({ apikey: 'SECRET-XYZ-123' }),
          (err: Error) => {
            assert.match(err.message, /neither kafka_http_url nor kafka_brokers_sasl/);
            assert.ok(!err.message.includes('SECRET-XYZ-123'));
            return true;
          },
        );
        assert.throws(() => map({ kafka_http_url: 'https://x' }), /no api_key/);
      });
    });
  }

  describe('endpoint options', () => {
    it('parses editor strings and fills defaults', () => {
      const o = normalizeEndpointOptions({
        url: ' https://h ',
        connections: '3',
        requestTimeout: '2.5',
        rateLimit: '',
      });
      assert.equal(o.url, 'https://h');
      assert.equal(o.adminUrl, 'https://h');
      assert.equal(o.connections, 3);
      assert.equal(o.requestTimeoutMs, 2500);
      assert.equal(o.rateLimit, 0);
      assert.equal(o.retries, 5);
      assert.equal(o.maxKeyBytes, 4096);
      assert.equal(o.maxValueBytes, 65536);
      assert.equal(o.queueMessages, 1000);
      assert.equal(o.verifyTls, true);
      assert.equal(o.closeTimeoutMs, 10_000);
      assert.equal(
        normalizeEndpointOptions({ closeTimeout: 60 }).closeTimeoutMs,
        12_000,
        'capped inside the 15 s window',
      );
    });

    it('builds client options per auth mode and refuses missing credentials', () => {
      const base = normalizeEndpointOptions({
        url: 'https://h',
        authMode: 'iam',
        iamUrl: 'https://iam/x',
        verifyTls: false,
      });
      const c = buildClientOptions(base, { apiKey: 'k', ca: 'PEM' });
      assert.deepEqual(c.auth, { mode: 'iam', apiKey: 'k', iamUrl: 'https://iam/x' });
      assert.deepEqual(c.tls, { rejectUnauthorized: false, ca: 'PEM' });
      assert.throws(() => buildClientOptions(base, {}), { code: 'INVALID_CONFIG' });
      const basic = normalizeEndpointOptions({ url: 'https://h', authMode: 'basic' });
      assert.deepEqual(buildClientOptions(basic, { username: 'u', password: 'p' }).auth, {
        mode: 'basic',
        username: 'u',
        password: 'p',
      });
      const mtls = normalizeEndpointOptions({ url: 'https://h', authMode: 'client-cert' });
      assert.throws(() => buildClientOptions(mtls, { clientCert: 'C' }), { code: 'INVALID_CONFIG' });
      const p12 = buildClientOptions(mtls, { pfx: Buffer.from('abc').toString('base64'), passphrase: 'pp' });
      assert.deepEqual(p12.tls?.pfx, Buffer.from('abc'));
      assert.equal(p12.tls?.passphrase, 'pp');
      assert.throws(() => buildClientOptions(normalizeEndpointOptions({ url: 'ftp://x' }), { apiKey: 'k' }), {
        code: 'INVALID_CONFIG',
      });
    });

    it('maps the same credentials onto Kafka SASL', () => {
      const key = normalizeEndpointOptions({
        url: 'https://h',
        brokers: 'a:9093, b:9093',
        authMode: 'bearer',
      });
      const k = buildKafkaClientConfig(key, { apiKey: 'KEY', ca: 'PEM' });
      assert.deepEqual(k.brokers, ['a:9093', 'b:9093']);
      assert.deepEqual(k.sasl, { mechanism: 'plain', username: 'token', password: 'KEY' });
      assert.deepEqual(k.ssl, { rejectUnauthorized: true, ca: 'PEM' });
      const scram = normalizeEndpointOptions({
        url: 'https://h',
        brokers: 'a:443',
        authMode: 'basic',
        saslMechanism: 'scram-sha-512',
      });
      assert.deepEqual(buildKafkaClientConfig(scram, { username: 'u', password: 'p' }).sasl, {
        mechanism: 'scram-sha-512',
        username: 'u',
        password: 'p',
      });
      assert.throws(() => buildKafkaClientConfig(normalizeEndpointOptions({ url: 'https://h' }), {}), {
        code: 'INVALID_CONFIG',
      });
    });

    it('SASL none is explicit: no SASL and no credential to the brokers, TLS as configured', () => {
      const plaintext = normalizeEndpointOptions({
        transport: 'kafka',
        brokers: 'kafka:9092',
        authMode: 'bearer',
        saslMechanism: 'none',
        brokersTls: false,
      });
      const k = buildKafkaClientConfig(plaintext, { apiKey: 'KEY' });
      assert.equal(k.sasl, undefined);
      assert.equal(k.ssl, undefined);
      assert.ok(!JSON.stringify(k).includes('KEY'), 'the API key stays out of the Kafka config');
      // TLS-only listener: TLS with the CA, still no SASL, even for username/password auth.
      const tlsOnly = normalizeEndpointOptions({
        brokers: 'kafka:9093',
        authMode: 'basic',
        saslMechanism: 'none',
      });
      const t = buildKafkaClientConfig(tlsOnly, { username: 'u', password: 'p', ca: 'PEM' });
      assert.equal(t.sasl, undefined);
      assert.deepEqual(t.ssl, { rejectUnauthorized: true, ca: 'PEM' });
      // Never guessed: an unknown value falls back to the default PLAIN, not to none.
      assert.equal(
        normalizeEndpointOptions({ brokers: 'a:1', saslMechanism: 'NONE ' }).saslMechanism,
        'plain',
      );
    });

    it('substitutes whole-string ${VAR} like Node-RED', () => {
      process.env.ES_NODES_TEST_VAR = 'from-env';
      assert.equal(substituteEnv('${ES_NODES_TEST_VAR}'), 'from-env');
      assert.equal(substituteEnv('x${ES_NODES_TEST_VAR}'), 'x${ES_NODES_TEST_VAR}');
      assert.equal(substituteEnv('${ES_NODES_UNSET_VAR}'), '${ES_NODES_UNSET_VAR}');
      delete process.env.ES_NODES_TEST_VAR;
    });
  });

  describe('record mapping', () => {
    it('keys: string, Buffer, number; absent; objects refused', () => {
      assert.equal(toRecordKey('k'), 'k');
      assert.deepEqual(toRecordKey(Buffer.from([1, 2])), Buffer.from([1, 2]));
      assert.equal(toRecordKey(7), '7');
      assert.equal(toRecordKey(undefined), undefined);
      assert.equal(toRecordKey(''), undefined);
      assert.throws(() => toRecordKey({}), { code: 'INVALID_KEY' });
    });
    it('headers: object, array pairs, multi-values, Buffers; bad shapes refused', () => {
      assert.deepEqual(toRecordHeaders({ a: 'x', b: Buffer.from('y'), n: 1, skip: null, m: ['1', '2'] }), [
        { name: 'a', value: 'x' },
        { name: 'b', value: Buffer.from('y') },
        { name: 'n', value: '1' },
        { name: 'm', value: '1' },
        { name: 'm', value: '2' },
      ]);
      assert.deepEqual(
        toRecordHeaders([
          { name: 'a', value: 'x' },
          { name: 'a', value: 'y' },
        ]),
        [
          { name: 'a', value: 'x' },
          { name: 'a', value: 'y' },
        ],
      );
      assert.equal(toRecordHeaders({}), undefined);
      assert.throws(() => toRecordHeaders('a=b'), { code: 'INVALID_HEADERS' });
      assert.throws(() => toRecordHeaders({ a: { nested: true } }), { code: 'INVALID_HEADERS' });
      assert.throws(() => toRecordHeaders([{ value: 'x' }]), { code: 'INVALID_HEADERS' });
    });
    it('values: null and undefined are errors', () => {
      assert.throws(() => toRecordValue(null), { code: 'INVALID_VALUE' });
      assert.throws(() => toRecordValue(undefined), { code: 'INVALID_VALUE' });
      assert.equal(toRecordValue(0), 0);
      assert.equal(toRecordValue(false), false);
      assert.equal(toRecordValue(''), '');
    });
  });

  describe('topic-admin request validation', () => {
    const blank = { operation: '', topic: '', partitions: '', configs: undefined, filter: '' };
    it('takes operation, topic and payload from the message when the node leaves them blank', () => {
      assert.deepEqual(
        resolveAdminRequest(blank, {
          operation: 'create',
          topic: 'orders',
          payload: { partitions: 3, configs: { 'retention.ms': 3600000 } },
        }),
        {
          operation: 'create',
          topic: 'orders',
          partitions: 3,
          configs: [{ name: 'retention.ms', value: '3600000' }],
        },
      );
      assert.deepEqual(resolveAdminRequest(blank, { operation: 'list', payload: { filter: 'o-*' } }), {
        operation: 'list',
        filter: 'o-*',
      });
    });
    it('node settings win over the message', () => {
      const r = resolveAdminRequest(
        {
          operation: 'ensure',
          topic: 'fixed',
          partitions: '2',
          configs: [{ name: 'cleanup.policy', value: 'compact' }],
          filter: '',
        },
        { operation: 'delete', topic: 'other', payload: { partitions: 9 } },
      );
      assert.deepEqual(r, {
        operation: 'ensure',
        topic: 'fixed',
        partitions: 2,
        configs: [{ name: 'cleanup.policy', value: 'compact' }],
      });
    });
    it('rejects malformed input with specific errors', () => {
      assert.throws(() => resolveAdminRequest(blank, { operation: 'drop' }), /Unknown operation 'drop'/);
      assert.throws(() => resolveAdminRequest(blank, {}), /Unknown operation/);
      assert.throws(() => resolveAdminRequest(blank, { operation: 'get' }), { code: 'INVALID_TOPIC' });
      assert.throws(() => resolveAdminRequest(blank, { operation: 'get', topic: 'bad name!' }), {
        code: 'INVALID_TOPIC',
      });
      for (const partitions of [0, -1, 1.5, 'abc', true]) {
        assert.throws(
          () => resolveAdminRequest(blank, { operation: 'create', topic: 't', payload: { partitions } }),
          /positive integer/,
        );
      }
      for (const configs of ['retention.ms=1', 42, [{ value: 'x' }], { a: { b: 1 } }]) {
        assert.throws(
          () => resolveAdminRequest(blank, { operation: 'create', topic: 't', payload: { configs } }),
          { code: 'VALIDATION' },
        );
      }
      assert.throws(
        () => resolveAdminRequest(blank, { operation: 'update', topic: 't' }),
        /needs partitions or configs/,
      );
      // A payload that is not an object (an inject timestamp) is simply no payload.
      assert.deepEqual(resolveAdminRequest(blank, { operation: 'get', topic: 't', payload: 1700000000000 }), {
        operation: 'get',
        topic: 't',
      });
    });
  });

  describe('status', () => {
    it('maps error codes to short reasons, looking through RetriesExhausted', () => {
      assert.equal(statusReason(new AuthenticationError('no')), 'auth-failed');
      assert.equal(
        statusReason(new RetriesExhaustedError('gave up', new RateLimitedError('slow'), 3)),
        'throttled',
      );
      assert.equal(statusReason(new Error('x')), 'error');
      // Foreign objects are mapped by the error model, never taken for ours by their shape.
      assert.equal(statusReason({ code: 'AUTHENTICATION_FAILED' }), 'error');
    });

    it('emits at most one status per interval and always ends on the newest', () => {
      // Fake timers: the throttle's clock is the test's, so a busy machine cannot stretch the 5 ms steps.
      const clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const seen: Array<{ at: number; text?: string }> = [];
      const t = new StatusThrottle((s) => seen.push({ at: Date.now(), text: s.text }), 100);
      try {
        for (let i = 0; i < 50; i++) {
          t.set({ text: `n${i}` });
          clock.tick(5);
        }
        clock.tick(150);
      } finally {
        t.stop();
        clock.restore();
      }
      assert.ok(seen.length >= 2 && seen.length <= 5, `emitted ${seen.length}`);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.at - seen[i - 1]!.at >= 95);
      assert.equal(seen[seen.length - 1]!.text, 'n49');
    });
  });
});
