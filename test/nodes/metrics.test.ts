// SPDX-License-Identifier: Apache-2.0
/**
 * Endpoint metrics in Node-RED's runtime: what the sidebar reads (`/event-streams/stats`) and what
 * Prometheus scrapes (`/event-streams/metrics`, only with `eventStreamsEndpointMetrics: true`)
 * count exactly what the flow sent, delivered and failed, over the local endpoint.
 */
import assert from 'node:assert/strict';

import { parseMetrics, sample } from '../support/metrics';
import { waitFor } from '../support/wait';
import {
  allNodes,
  endpointConfig,
  helper,
  startTestEndpoint,
  TAB,
  type TestEndpoint,
  uniqueTopic,
} from './support';

describe('endpoint metrics (stats route, Prometheus route)', function () {
  this.timeout(30_000);
  let te: TestEndpoint;
  let topic: string;

  before(async function () {
    topic = uniqueTopic('metrics');
    te = await startTestEndpoint({ topics: [{ name: topic, partitions: 2 }] });
  });
  after(async function () {
    await te.stop();
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    helper.settings({});
  });

  function flow(): unknown[] {
    return [
      TAB,
      endpointConfig(te.endpoint, { name: 'metered' }),
      { id: 'good', type: 'event-streams-producer', z: 'tab1', endpoint: 'cfg', topic, wires: [['out']] },
      {
        id: 'bad',
        type: 'event-streams-producer',
        z: 'tab1',
        endpoint: 'cfg',
        topic: `${topic}-missing`,
        wires: [[]],
      },
      { id: 'out', type: 'helper', z: 'tab1' },
    ];
  }
  const creds = (): Record<string, unknown> => ({
    cfg: { apiKey: te.endpoint.apiKey, ca: te.endpoint.caPem },
  });

  async function run(good: number, bad: number): Promise<void> {
    const out = helper.getNode('out');
    let reports = 0;
    out.on('input', () => reports++);
    const badNode = helper.getNode('bad');
    let failed = 0;
    // A producer's done(err) is what a Catch node would get; count it on the node.
    const originalError = badNode.error.bind(badNode);
    badNode.error = (err: unknown, msg?: unknown): void => {
      if (msg) failed++;
      originalError(err, msg);
    };
    for (let i = 0; i < good; i++)
      helper.getNode('good').receive({ payload: `value-${i}`, key: `k${i % 3}` });
    for (let i = 0; i < bad; i++) badNode.receive({ payload: 'lost' });
    await waitFor(() => reports === good && failed === bad, `${good} reports and ${bad} failures`, {
      timeoutMs: 20_000,
    });
  }

  it('GET /event-streams/stats: delivered, failed, bytes and latency equal what the flow did', async function () {
    await helper.startServer();
    await helper.load(allNodes, flow(), creds());
    await run(40, 3);
    const res = await helper.request().get('/event-streams/stats').expect(200);
    const [entry] = res.body as Array<{ id: string; name: string; snapshot: any }>;
    assert.equal(entry!.id, 'cfg');
    assert.equal(entry!.name, 'metered');
    const s = entry!.snapshot;
    assert.equal(s.delivered, 40);
    assert.equal(s.failed, 3);
    assert.equal(s.latency.count, 40);
    assert.equal(
      s.bytes,
      Array.from({ length: 40 }, (_, i) => `value-${i}`.length + `k${i % 3}`.length).reduce(
        (a, b) => a + b,
        0,
      ),
    );
    assert.equal(s.lastErrors.length, 3);
    assert.equal(s.lastErrors[0].code, 'TOPIC_NOT_FOUND');
    assert.equal(
      s.series.reduce((sum: number, p: { delivered: number }) => sum + p.delivered, 0),
      40,
    );
    assert.equal(s.inFlight, 0);
  });

  it('the topic-admin stats operation gives a flow the same snapshot', async function () {
    await helper.startServer();
    const f = flow();
    f.push(
      {
        id: 'admin-stats',
        type: 'event-streams-topic-admin',
        z: 'tab1',
        endpoint: 'cfg',
        operation: 'stats',
        wires: [['statsOut']],
      },
      { id: 'statsOut', type: 'helper', z: 'tab1' },
    );
    await helper.load(allNodes, f, creds());
    await run(12, 1);
    const got: Array<{ payload: any }> = [];
    helper.getNode('statsOut').on('input', (m: { payload: any }) => got.push(m));
    helper.getNode('admin-stats').receive({ payload: '' });
    await waitFor(() => got.length === 1, 'the stats msg');
    const s = got[0]!.payload;
    assert.equal(s.delivered, 12);
    assert.equal(s.failed, 1);
    assert.equal(s.latency.count, 12);
    assert.equal(s.lastErrors[0].code, 'TOPIC_NOT_FOUND');
  });

  it('counts the 429 holds of a plan limit, and every record still delivered', async function () {
    const limited = await startTestEndpoint({ rateLimit: 5, topics: [{ name: topic, partitions: 1 }] });
    try {
      await helper.startServer();
      await helper.load(
        allNodes,
        [
          TAB,
          endpointConfig(limited.endpoint, { name: 'limited', retries: 10, maxRetryTime: 30 }),
          { id: 'good', type: 'event-streams-producer', z: 'tab1', endpoint: 'cfg', topic, wires: [['out']] },
          { id: 'out', type: 'helper', z: 'tab1' },
        ],
        { cfg: { apiKey: limited.endpoint.apiKey, ca: limited.endpoint.caPem } },
      );
      const out: unknown[] = [];
      helper.getNode('out').on('input', (m: unknown) => out.push(m));
      for (let i = 0; i < 12; i++) helper.getNode('good').receive({ payload: `v${i}` });
      await waitFor(() => out.length === 12, '12 delivery reports through the plan limit', {
        timeoutMs: 20_000,
      });
      const res = await helper.request().get('/event-streams/stats').expect(200);
      const s = (res.body as Array<{ id: string; snapshot: any }>).find((e) => e.id === 'cfg')!.snapshot;
      assert.equal(s.delivered, 12);
      assert.ok(s.held > 0, `held: ${s.held}`);
    } finally {
      await helper.unload();
      await limited.stop();
    }
  });

  it('GET /event-streams/metrics is 404 unless settings.js turns it on, then counts match', async function () {
    await helper.startServer();
    await helper.load(allNodes, flow(), creds());
    await helper.request().get('/event-streams/metrics').expect(404);
    await helper.unload();
    await helper.stopServer();

    helper.settings({ eventStreamsEndpointMetrics: true });
    await helper.startServer();
    await helper.load(allNodes, flow(), creds());
    await run(25, 2);
    const res = await helper.request().get('/event-streams/metrics').expect(200);
    assert.match(String(res.headers['content-type']), /^text\/plain;.*version=0\.0\.4/);
    const m = parseMetrics(res.text);
    const l = { endpoint: 'cfg', name: 'metered' };
    assert.equal(sample(m, 'esnodes_records_delivered_total', l), 25);
    assert.equal(sample(m, 'esnodes_records_failed_total', l), 2);
    assert.equal(sample(m, 'esnodes_produce_latency_seconds_count', l), 25);
    assert.equal(
      m.get('esnodes_produce_latency_seconds_bucket{endpoint="cfg",name="metered",le="+Inf"}'),
      25,
    );
  });
});
