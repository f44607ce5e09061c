// SPDX-License-Identifier: Apache-2.0
/**
 * event-streams-producer against the local endpoint over HTTPS with verification on: payload,
 * key and header mappings read back from the endpoint, both API flavours, every auth mode,
 * Catch, status, sharing, redeploy with traffic in flight, and secrets staying out of sight.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';

import { issueCertificate, toPkcs12 } from '../../gateway/certs';
import type { EndpointNode } from '../../nodes/shared/types';
import {
  allNodes,
  collect,
  coreNode,
  endpointConfig,
  helper,
  loggedText,
  producerFlow,
  uniqueTopic,
  useTestEndpoint,
} from './support';
import { delay, waitFor } from '../support/wait';

const API_KEY = 'prod-test-key-0123456789';
const USER = { username: 'es-user', password: 'es-password-123' };

describe('event-streams-producer', function () {
  this.timeout(20000);
  const te = useTestEndpoint(API_KEY, {
    users: [USER],
    clientCertAuth: true,
    tokenLifetimeSec: 2,
  });
  let clientPair: { cert: string; key: string };

  before(async () => {
    const ca = {
      cert: await fs.readFile(path.join(te.stateDir, 'ca.pem'), 'utf8'),
      key: await fs.readFile(path.join(te.stateDir, 'ca-key.pem'), 'utf8'),
    };
    clientPair = issueCertificate(ca, { commonName: 'node-red-test', client: true });
  });

  const createTopic = (partitions = 1): Promise<string> => te.createTopic('p', partitions);
  const creds = (extra?: Record<string, unknown>): Record<string, Record<string, unknown>> => te.creds(extra);

  const flow = (
    cfg: Record<string, unknown> = {},
    producer: Record<string, unknown> = {},
  ): Array<Record<string, unknown>> => producerFlow(endpointConfig(te.endpoint, cfg), producer);

  for (const flavour of ['v1', 'v2'] as const) {
    it(`maps every payload type to the record value (${flavour})`, async () => {
      const topic = await createTopic();
      // One connection (not adaptive) keeps the records in input order so they can be compared by position.
      await helper.load(
        allNodes,
        flow({ flavour, authMode: flavour === 'v2' ? 'iam' : 'bearer', connections: 1, maxConnections: 1 }),
        creds(),
      );
      const out = collect('out');
      const payloads: Array<[unknown, Buffer]> = [
        [Buffer.from([0, 1, 2, 255]), Buffer.from([0, 1, 2, 255])],
        ['héllo', Buffer.from('héllo')],
        [{ a: 1, b: [true, null] }, Buffer.from('{"a":1,"b":[true,null]}')],
        [[1, 'two'], Buffer.from('[1,"two"]')],
        [42.5, Buffer.from('42.5')],
        [false, Buffer.from('false')],
      ];
      const p1 = helper.getNode('p1');
      for (const [payload] of payloads) p1.receive({ payload, topic });
      await waitFor(() => out.length === payloads.length, 'all deliveries', { timeoutMs: 5000 });
      const records = await te.endpoint.readRecords(topic, { partition: 0 });
      assert.equal(records.length, payloads.length);
      records.forEach((r, i) => assert.deepEqual(r.value, payloads[i]![1], `payload #${i}`));
      for (const msg of out) {
        assert.equal(msg.eventstreams.topic, topic);
        assert.equal(msg.eventstreams.partition, 0);
        assert.equal(typeof msg.eventstreams.offset, 'number');
        assert.equal(msg.eventstreams.attempts, 1);
      }
      // The original message goes out, not a copy.
      assert.ok(Buffer.isBuffer(out[0]!.payload));
    });
  }

  it('sends keys (string, Buffer) and headers (object, array, Buffer values) from msg', async () => {
    const topic = await createTopic();
    await helper.load(allNodes, flow(), creds());
    const out = collect('out');
    const p1 = helper.getNode('p1');
    p1.receive({
      payload: 'a',
      topic,
      key: 'device-1',
      headers: { source: 'sensor', raw: Buffer.from([1, 2]) },
    });
    p1.receive({
      payload: 'b',
      topic,
      key: Buffer.from([9, 8, 7]),
      headers: [
        { name: 'dup', value: 'x' },
        { name: 'dup', value: Buffer.from('y') },
      ],
    });
    await waitFor(() => out.length === 2, 'out.length === 2');
    const [a, b] = await te.endpoint.readRecords(topic, { partition: 0 });
    assert.deepEqual(a!.key, Buffer.from('device-1'));
    assert.deepEqual(a!.headers, [
      ['source', Buffer.from('sensor')],
      ['raw', Buffer.from([1, 2])],
    ]);
    assert.deepEqual(b!.key, Buffer.from([9, 8, 7]));
    assert.deepEqual(b!.headers, [
      ['dup', Buffer.from('x')],
      ['dup', Buffer.from('y')],
    ]);
  });

  it('evaluates key and headers typedInputs from other sources', async () => {
    const topic = await createTopic();
    await helper.load(
      allNodes,
      flow({}, { topic, key: 'fixed-key', keyType: 'str', headers: '{"h":"v"}', headersType: 'json' }),
      creds(),
    );
    const out = collect('out');
    helper.getNode('p1').receive({ payload: 'x', key: 'ignored', headers: { ignored: 'yes' } });
    await waitFor(() => out.length === 1, 'out.length === 1');
    const [r] = await te.endpoint.readRecords(topic, { partition: 0 });
    assert.deepEqual(r!.key, Buffer.from('fixed-key'));
    assert.deepEqual(r!.headers, [['h', Buffer.from('v')]]);
  });

  it('fails null and undefined payloads to Catch with the original message and stores nothing', async () => {
    const topic = await createTopic();
    await helper.load(allNodes, flow(), creds());
    const caught = collect('caught');
    const out = collect('out');
    const p1 = helper.getNode('p1');
    p1.receive({ payload: null, topic, marker: 1 });
    p1.receive({ topic, marker: 2 });
    p1.receive({ payload: 'ok', topic, headers: 'not-headers', marker: 3 });
    await waitFor(() => caught.length === 3, 'caught.length === 3');
    assert.deepEqual(caught.map((m) => m.marker).sort(), [1, 2, 3]);
    const codes = caught.map((m) => m.error.code).sort();
    assert.deepEqual(codes, ['INVALID_HEADERS', 'INVALID_VALUE', 'INVALID_VALUE']);
    assert.equal(caught[0]!.error.source.id, 'p1');
    assert.equal(out.length, 0);
    assert.equal((await te.endpoint.readRecords(topic, { partition: 0 })).length, 0);
  });

  it('uses msg.topic when the node has none, and warns once when msg.topic tries to override', async () => {
    const fixed = await createTopic();
    const other = await createTopic();
    await helper.load(allNodes, flow({}, { topic: fixed }), creds());
    const out = collect('out');
    const p1 = helper.getNode('p1');
    const warnings: string[] = [];
    p1.on('call:warn', (call: { args: unknown[] }) => warnings.push(String(call.args[0])));
    p1.receive({ payload: 1, topic: other });
    p1.receive({ payload: 2, topic: other });
    p1.receive({ payload: 3, topic: fixed });
    await waitFor(() => out.length === 3, 'out.length === 3');
    await waitFor(() => warnings.length > 0, 'the override warning', { timeoutMs: 5000 });
    assert.deepEqual(warnings, ['event-streams-producer.errors.nooverride']);
    assert.equal((await te.endpoint.readRecords(fixed, { partition: 0 })).length, 3);
    assert.equal((await te.endpoint.readRecords(other, { partition: 0 })).length, 0);
  });

  it('reports a missing topic to Catch', async () => {
    await helper.load(allNodes, flow(), creds());
    const caught = collect('caught');
    helper.getNode('p1').receive({ payload: 'x' });
    await waitFor(() => caught.length === 1, 'caught.length === 1');
    assert.equal(caught[0]!.error.code, 'INVALID_TOPIC');
  });

  it('with outputs 0 sends nothing on but still writes the record', async () => {
    const topic = await createTopic();
    // A Complete node sees the producer's done(), which comes after any send: once it fires, a
    // send that was going to happen has happened.
    const f = [
      ...flow({}, { topic, outputs: 0, wires: [] }),
      { id: 'cm', z: 'tab1', type: 'complete', scope: ['p1'], uncaught: false, wires: [['completed']] },
      { id: 'completed', z: 'tab1', type: 'helper' },
    ];
    await helper.load([...allNodes, coreNode('common/24-complete.js')], f, creds());
    const out = collect('out');
    const completed = collect('completed');
    let sends = 0;
    helper.getNode('p1').on('call:send', () => sends++);
    helper.getNode('p1').receive({ payload: 'quiet' });
    await waitFor(() => completed.length === 1, 'the message to complete');
    assert.equal((await te.endpoint.readRecords(topic, { partition: 0 })).length, 1);
    assert.equal(sends, 0);
    assert.equal(out.length, 0);
  });

  it('fails an unknown topic with TOPIC_NOT_FOUND and a red status', async () => {
    await helper.load(allNodes, flow(), creds());
    const caught = collect('caught');
    const p1 = helper.getNode('p1');
    const statuses: Array<Record<string, unknown>> = [];
    p1.on('call:status', (call: { args: Array<Record<string, unknown>> }) => statuses.push(call.args[0]!));
    p1.receive({ payload: 'x', topic: uniqueTopic('missing'), marker: 'm' });
    await waitFor(() => caught.length === 1, 'caught.length === 1');
    assert.equal(caught[0]!.error.code, 'TOPIC_NOT_FOUND');
    assert.equal(caught[0]!.marker, 'm');
    await waitFor(() => statuses.some((s) => s.fill === 'red'), 'red status', { timeoutMs: 3000 });
    const red = statuses.find((s) => s.fill === 'red')!;
    assert.equal(red.shape, 'ring');
    assert.equal(red.text, 'event-streams-producer.status.topic-not-found');
  });

  it('fails a wrong API key with AUTHENTICATION_FAILED and an auth-failed status, without leaking the key', async () => {
    const topic = await createTopic();
    const wrongKey = 'wrong-key-abcdefghijkl';
    await helper.load(allNodes, flow(), { cfg: { apiKey: wrongKey, ca: te.endpoint.caPem } });
    const caught = collect('caught');
    const p1 = helper.getNode('p1');
    const statuses: Array<Record<string, unknown>> = [];
    p1.on('call:status', (call: { args: Array<Record<string, unknown>> }) => statuses.push(call.args[0]!));
    p1.receive({ payload: 'x', topic });
    await waitFor(() => caught.length === 1, 'caught.length === 1');
    assert.equal(caught[0]!.error.code, 'AUTHENTICATION_FAILED');
    await waitFor(
      () => statuses.some((s) => s.text === 'event-streams-producer.status.auth-failed'),
      'status',
      { timeoutMs: 3000 },
    );
    assert.ok(!inspect(caught[0], { depth: 8 }).includes(wrongKey), 'key not in the caught message');
    assert.ok(!loggedText().includes(wrongKey), 'key not in the log');
    assert.ok(!JSON.stringify(statuses).includes(wrongKey), 'key not in any status');
  });

  it('shows throttled while the endpoint answers 429 and still delivers', async () => {
    const topic = await createTopic();
    te.endpoint.setFaults([{ status429RetryAfterSec: 1, count: 2, route: 'produce' }]);
    await helper.load(allNodes, flow({ retries: 5 }), creds());
    const out = collect('out');
    const p1 = helper.getNode('p1');
    const statuses: Array<Record<string, unknown>> = [];
    p1.on('call:status', (call: { args: Array<Record<string, unknown>> }) => statuses.push(call.args[0]!));
    p1.receive({ payload: 'x', topic });
    await waitFor(() => out.length === 1, 'delivery after 429s', { timeoutMs: 8000 });
    assert.ok(out[0]!.eventstreams.attempts >= 2);
    await waitFor(() => statuses.some((s) => s.fill === 'green'), 'green', { timeoutMs: 3000 });
    assert.ok(
      statuses.some((s) => String(s.text).startsWith('event-streams-producer.status.throttled')),
      `saw ${JSON.stringify(statuses)}`,
    );
  });

  it('updates the status at most once a second however fast messages flow', async () => {
    const topic = await createTopic();
    te.endpoint.setFaults([{ latencyMs: 20, route: 'produce' }]);
    // A fixed 2 connections: with the adaptive limit the 150 records would finish within a second.
    await helper.load(allNodes, flow({ connections: 2, maxConnections: 2, queueMessages: 5000 }), creds());
    const out = collect('out');
    const p1 = helper.getNode('p1');
    const times: number[] = [];
    let last: { fill?: string } | undefined;
    p1.on('call:status', (call: { args: Array<{ fill?: string }> }) => {
      times.push(Date.now());
      last = call.args[0];
    });
    const total = 150;
    for (let i = 0; i < total; i++) {
      p1.receive({ payload: i, topic });
      if (i % 10 === 0) await delay(5);
    }
    await waitFor(() => out.length === total, 'all delivered', { timeoutMs: 15000 });
    // The throttled status catches up with the deliveries: green once nothing is in flight.
    await waitFor(() => last?.fill === 'green', 'the settled status', { timeoutMs: 5000 });
    assert.ok(times.length >= 2, 'status was updated');
    for (let i = 1; i < times.length; i++) {
      // call:status is emitted on nextTick; allow a little scheduling jitter.
      assert.ok(times[i]! - times[i - 1]! >= 950, `gap ${times[i]! - times[i - 1]!} ms`);
    }
  });

  it('shows records waiting behind key order, then that every connection is busy', async function () {
    this.timeout(90000);
    // A real endpoint that answers after 150 ms: order per key sends one key's records one at a
    // time, so 19 of 20 wait behind the chain; the status must say so.
    const topic = await createTopic();
    te.endpoint.setFaults([{ latencyMs: 150, route: 'produce' }]);
    await helper.load(
      allNodes,
      flow({ connections: 2, maxConnections: 2, orderByKey: true }, { topic }),
      creds(),
    );
    const out = collect('out');
    const p1 = helper.getNode('p1');
    const statuses: Array<Record<string, unknown>> = [];
    p1.on('call:status', (call: { args: Array<Record<string, unknown>> }) => statuses.push(call.args[0]!));
    for (let i = 0; i < 20; i++) p1.receive({ payload: i, key: 'one-device' });
    await waitFor(
      () => statuses.some((s) => String(s.text).startsWith('event-streams-producer.status.busy-chained')),
      'busy-chained status',
      { timeoutMs: 8000 },
    );
    await waitFor(() => out.length === 20, 'one key delivered', { timeoutMs: 15000 });
    // Unkeyed records are never chained: with both connections busy and records queued for the
    // hint's 5 s, the status names the cap. 200 records keep 2 connections at 150 ms busy for
    // about 15 s, well past the hint's 5 s however fast the machine is.
    const total = 200;
    for (let i = 0; i < total; i++) p1.receive({ payload: i });
    await waitFor(
      () => statuses.some((s) => String(s.text).startsWith('event-streams-producer.status.connections-busy')),
      'connections-busy status',
      { timeoutMs: 30000 },
    );
    const hint = statuses.find((s) =>
      String(s.text).startsWith('event-streams-producer.status.connections-busy'),
    )!;
    assert.equal(hint.fill, 'blue');
    // The endpoint answers at once again: what is still queued drains, every record delivered once.
    te.endpoint.setFaults([]);
    await waitFor(() => out.length === 20 + total, 'all delivered', { timeoutMs: 45000 });
  });

  it('shares one client between producers of the same endpoint', async () => {
    const topic = await createTopic();
    const f = flow({}, { topic });
    f.push({ id: 'p2', z: 'tab1', type: 'event-streams-producer', endpoint: 'cfg', topic, wires: [['out']] });
    await helper.load(allNodes, f, creds());
    const out = collect('out');
    helper.getNode('p1').receive({ payload: 1 });
    helper.getNode('p2').receive({ payload: 2 });
    await waitFor(() => out.length === 2, 'out.length === 2');
    const cfg = helper.getNode('cfg') as unknown as EndpointNode;
    const client = cfg.getClient();
    assert.equal(cfg.getClient(), client);
    assert.equal(client.stats().delivered, 2);
  });

  it('gives every message exactly one outcome when redeployed with traffic in flight', async () => {
    const topic = await createTopic();
    te.endpoint.setFaults([{ latencyMs: 300, route: 'produce' }]);
    const f = flow({ connections: 4 }, { topic });
    await helper.load(allNodes, f, creds());
    const p1 = helper.getNode('p1');
    let delivered = 0;
    const failures: string[] = [];
    p1.on('call:send', () => delivered++);
    p1.on('call:error', (call: { args: unknown[] }) =>
      failures.push(String((call.args[0] as { code?: string }).code)),
    );
    const sent = 20;
    const requestsBefore = te.endpoint.requestCount('produce');
    for (let i = 0; i < sent; i++) p1.receive({ payload: i });
    await waitFor(() => te.endpoint.requestCount('produce') > requestsBefore, 'a record in flight');
    const oldCfg = helper.getNode('cfg');
    const closing = helper.setFlows(f, 'full', creds()).catch(() => undefined);
    await delay(10);
    assert.ok(delivered < sent, 'the redeploy started with records in flight');
    await closing;
    // Records not sent yet, and reports of those on the wire, come out of the new instance.
    const p1b = helper.getNode('p1');
    assert.notEqual(p1b, p1, 'the producer was restarted');
    p1b.on('call:send', () => delivered++);
    p1b.on('call:error', (call: { args: unknown[] }) =>
      failures.push(String((call.args[0] as { code?: string }).code)),
    );
    await waitFor(() => delivered + failures.length === sent, 'every outcome', { timeoutMs: 8000 });
    assert.notEqual(helper.getNode('cfg'), oldCfg, 'the config node was restarted');
    // Once the flows are stopped no node can report again: the count is final (no duplicates).
    await helper.clearFlows();
    assert.equal(delivered + failures.length, sent);
    // Within the shutdown wait, all of them finish.
    assert.equal(delivered, sent, `failures: ${failures.join(',')}`);
    assert.equal((await te.endpoint.readRecords(topic, { partition: 0 })).length, sent);
  });

  it('fails what cannot finish within the shutdown wait with CLOSED, losing nothing', async () => {
    const topic = await createTopic();
    te.endpoint.setFaults([{ latencyMs: 1500, route: 'produce' }]);
    const f = flow({ connections: 2, closeTimeout: 0.2 }, { topic });
    await helper.load(allNodes, f, creds());
    const p1 = helper.getNode('p1');
    let delivered = 0;
    const failures: string[] = [];
    p1.on('call:send', () => delivered++);
    p1.on('call:error', (call: { args: unknown[] }) =>
      failures.push(String((call.args[0] as { code?: string }).code)),
    );
    const sent = 10;
    const requestsBefore = te.endpoint.requestCount('produce');
    for (let i = 0; i < sent; i++) p1.receive({ payload: i });
    await waitFor(() => te.endpoint.requestCount('produce') > requestsBefore, 'a record in flight');
    const started = Date.now();
    await helper.clearFlows();
    assert.ok(Date.now() - started < 5000, 'stopped well inside the close window');
    await waitFor(() => delivered + failures.length === sent, 'every outcome', { timeoutMs: 5000 });
    assert.equal(delivered + failures.length, sent);
    assert.ok(failures.length > 0);
    assert.ok(
      failures.every((c) => c === 'CLOSED'),
      failures.join(','),
    );
  });

  describe('authentication modes', () => {
    async function deliverWith(
      cfg: Record<string, unknown>,
      credentials: Record<string, unknown>,
    ): Promise<string> {
      const topic = await createTopic();
      await helper.load(allNodes, flow(cfg, { topic }), { cfg: { ca: te.endpoint.caPem, ...credentials } });
      const out = collect('out');
      const caught = collect('caught');
      helper.getNode('p1').receive({ payload: 'hello' });
      await waitFor(() => out.length + caught.length === 1, 'out.length + caught.length === 1');
      assert.equal(caught.length, 0, caught[0]?.error?.message);
      assert.deepEqual(
        (await te.endpoint.readRecords(topic, { partition: 0 }))[0]!.value,
        Buffer.from('hello'),
      );
      return topic;
    }

    it('bearer', () => deliverWith({ authMode: 'bearer' }, { apiKey: API_KEY }));
    it('basic-token', () => deliverWith({ authMode: 'basic-token' }, { apiKey: API_KEY }));
    it('basic username/password', () => deliverWith({ authMode: 'basic' }, USER));
    it('client certificate (mTLS, PEM)', () =>
      deliverWith({ authMode: 'client-cert' }, { clientCert: clientPair.cert, clientKey: clientPair.key }));
    it('client certificate (mTLS, PKCS#12)', () =>
      deliverWith(
        { authMode: 'client-cert' },
        { pfx: toPkcs12(clientPair, 'p12-pass').toString('base64'), passphrase: 'p12-pass' },
      ));
    it('API key from ${ENV_VAR}', async () => {
      process.env.ES_NODES_TEST_APIKEY = API_KEY;
      try {
        await deliverWith({ authMode: 'bearer' }, { apiKey: '${ES_NODES_TEST_APIKEY}' });
      } finally {
        delete process.env.ES_NODES_TEST_APIKEY;
      }
    });

    it('iam with v2, refreshing a short-lived token', async () => {
      const topic = await createTopic();
      await helper.load(allNodes, flow({ authMode: 'iam', flavour: 'v2' }, { topic }), creds());
      const out = collect('out');
      const caught = collect('caught');
      const iamBefore = te.endpoint.requestCount('iam');
      helper.getNode('p1').receive({ payload: 'first' });
      await waitFor(() => out.length + caught.length === 1, 'out.length + caught.length === 1');
      await delay(2200); // past the 2 s token lifetime
      helper.getNode('p1').receive({ payload: 'second' });
      await waitFor(() => out.length + caught.length === 2, 'out.length + caught.length === 2');
      assert.equal(caught.length, 0, caught[0]?.error?.message);
      assert.ok(te.endpoint.requestCount('iam') - iamBefore >= 2, 'token was fetched again');
    });
  });

  it('never exposes credentials in the flow export, the log, status or msg', async () => {
    const topic = await createTopic();
    await helper.load(
      allNodes,
      flow({}, { topic }),
      creds({ password: 'pw-never-shown', passphrase: 'pp-never-shown' }),
    );
    const out = collect('out');
    const statuses: unknown[] = [];
    helper.getNode('p1').on('call:status', (call: { args: unknown[] }) => statuses.push(call.args[0]));
    helper.getNode('p1').receive({ payload: 'x' });
    await waitFor(() => out.length === 1, 'out.length === 1');
    const exported = JSON.stringify((helper as any)._redNodes.getFlows());
    for (const secret of [API_KEY, 'pw-never-shown', 'pp-never-shown']) {
      assert.ok(!exported.includes(secret), 'flow export');
      assert.ok(!loggedText().includes(secret), 'log');
      assert.ok(!JSON.stringify(statuses).includes(secret), 'status');
      assert.ok(!inspect(out[0], { depth: 8 }).includes(secret), 'msg');
    }
  });

  it('warns loudly at start when TLS verification is off', async () => {
    await helper.load(allNodes, flow({ verifyTls: false }), creds());
    const warned = (): boolean =>
      helper
        .log()
        .args.some(
          (a: Array<{ level?: number; msg?: unknown }>) =>
            a[0]?.level === helper.log().WARN && String(a[0]?.msg).includes('warn.insecure'),
        );
    await waitFor(warned, 'the insecure warning', { timeoutMs: 5000 }).catch(() => undefined);
    assert.ok(warned(), 'insecure warning logged');
  });
});
