// SPDX-License-Identifier: Apache-2.0
/**
 * Lifecycle in a real Node-RED runtime (the test helper runs the installed runtime's flow
 * engine; a full redeploy here is the same `setFlows(..., 'full')` the admin API's POST /flows
 * with Node-RED-Deployment-Type: full performs). Every scenario counts each message sent into
 * the producer and requires sent = delivered + reported-failed (Catch node, or a log line that
 * counts it), with nothing else, and prints one line of figures.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  TAB,
  allNodes,
  coreNode,
  endpointConfig,
  helper,
  startTestEndpoint,
  type TestEndpoint,
  uniqueTopic,
} from '../nodes/support';
import { delay, waitFor } from '../support/wait';

const API_KEY = 'lifecycle-test-key-0123456789';
const statusNode = coreNode('common/25-status.js');

/** What reached the counter nodes, across every instance of them. */
const sink = { delivered: [] as any[], caught: [] as any[], statuses: [] as string[] };

function counterNode(RED: any): void {
  RED.nodes.registerType('lc-counter', function (this: any, cfg: any) {
    RED.nodes.createNode(this, cfg);
    this.on('input', (msg: any, _send: unknown, done: () => void) => {
      if (cfg.kind === 'status') sink.statuses.push(String(msg.status?.text ?? ''));
      else {
        msg._at = Date.now();
        (sink as any)[cfg.kind].push(msg);
      }
      done();
    });
  });
}

const nodes = [...allNodes, statusNode, counterNode];

/** Messages our producer counted in log lines (not sent on removal/stop, no node to report to). */
function loggedCounts(): { notSent: number; lateReports: number; lateErrors: number } {
  const out = { notSent: 0, lateReports: 0, lateErrors: 0 };
  const log = helper.log();
  for (const call of log?.args ?? []) {
    const text = String(call[0]?.msg ?? call[0] ?? '');
    let m = /(\d+) message\(s\) were not sent \(/.exec(text);
    if (m) out.notSent += Number(m[1]);
    m = /(\d+) message\(s\) were written while the node was being stopped/.exec(text);
    if (m) out.lateReports += Number(m[1]);
    m = /(\d+) message\(s\) failed while the node was being stopped/.exec(text);
    if (m) out.lateErrors += Number(m[1]);
  }
  return out;
}

describe('lifecycle: every message accounted for in a real Node-RED runtime', function () {
  this.timeout(60000);
  let te: TestEndpoint;
  let outboxDir: string;

  before(async () => {
    te = await startTestEndpoint({ apiKeys: [API_KEY] });
    outboxDir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-lc-outbox-'));
    // The server owner's base directory (settings.js); a config node names a subdirectory of it.
    helper.settings({ eventStreamsEndpointOutboxDir: outboxDir });
  });
  after(async () => {
    helper.settings({});
    await te?.stop();
    await fs.rm(outboxDir, { recursive: true, force: true });
    checkStatusKeys();
  });
  beforeEach(() => {
    sink.delivered.length = 0;
    sink.caught.length = 0;
  });
  afterEach(async () => {
    te.endpoint.clearFaults();
    await helper.unload();
  });

  const creds = (): Record<string, Record<string, unknown>> => ({
    cfg: { apiKey: API_KEY, ca: te.endpoint.caPem },
  });

  async function createTopic(): Promise<string> {
    const name = uniqueTopic('lc');
    await te.endpoint.backend.createTopic(name, 1, []);
    return name;
  }

  function flow(cfg: Record<string, unknown>, topic: string, withProducer = true): any[] {
    return [
      TAB,
      endpointConfig(te.endpoint, cfg),
      ...(withProducer
        ? [
            {
              id: 'p1',
              z: 'tab1',
              type: 'event-streams-producer',
              endpoint: 'cfg',
              topic,
              wires: [['n-out']],
            },
          ]
        : []),
      // Node ids differ from the `kind` values: Node-RED takes a property equal to a node id
      // for a config-node reference.
      { id: 'n-out', z: 'tab1', type: 'lc-counter', kind: 'delivered' },
      { id: 'c1', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['n-caught']] },
      { id: 'n-caught', z: 'tab1', type: 'lc-counter', kind: 'caught' },
      { id: 's1', z: 'tab1', type: 'status', scope: null, wires: [['n-st']] },
      { id: 'n-st', z: 'tab1', type: 'lc-counter', kind: 'status' },
    ];
  }

  function summary(name: string, sent: number, extra: Record<string, unknown> = {}): void {
    const logged = loggedCounts();
    const codes = new Map<string, number>();
    for (const m of sink.caught) {
      const c = String(m.eventstreams?.error?.code ?? m.error?.code ?? '?');
      codes.set(c, (codes.get(c) ?? 0) + 1);
    }
    const fields = {
      sent,
      delivered: sink.delivered.length,
      caught: sink.caught.length,
      logged: logged.notSent + logged.lateErrors + logged.lateReports,
      codes: [...codes].map(([c, n]) => `${c}=${n}`).join(',') || '-',
      ...extra,
    };
    console.log(
      `      [lifecycle] ${name}: ${Object.entries(fields)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
  }

  const accounted = (): number => {
    const l = loggedCounts();
    return sink.delivered.length + sink.caught.length + l.notSent + l.lateErrors + l.lateReports;
  };

  it('full redeploy under load without the outbox: unsent records are handed to the new instance', async () => {
    const topic = await createTopic();
    te.endpoint.setFaults([{ latencyMs: 100, route: 'produce' }]);
    const f = flow({ connections: 2, maxConnections: 2 }, topic);
    await helper.load(nodes, f, creds());
    const sent = 100;
    const p1 = helper.getNode('p1');
    for (let i = 0; i < sent; i++) p1.receive({ payload: `r${i}` });
    await waitFor(() => sink.delivered.length >= 4, 'first deliveries', { timeoutMs: 5000 });
    const before = sink.delivered.length;
    await helper.setFlows(f, 'full', creds());
    assert.notEqual(helper.getNode('p1'), p1, 'the producer was replaced');
    await waitFor(() => accounted() >= sent, 'every outcome', { timeoutMs: 20000 });
    // Once the flows are stopped no node can report again: the count is final (no duplicates).
    await helper.clearFlows();
    summary('redeploy (no outbox)', sent, { deliveredBeforeRedeploy: before });
    assert.equal(accounted(), sent);
    assert.equal(sink.delivered.length, sent, 'all handed over and delivered');
    const written = await te.endpoint.readRecords(topic, { partition: 0 });
    assert.equal(new Set(written.map((r: any) => String(r.value))).size, sent);
  });

  it('full redeploy under load with the outbox: every record is spooled and written', async () => {
    const topic = await createTopic();
    te.endpoint.setFaults([{ latencyMs: 100, route: 'produce' }]);
    const f = flow({ connections: 2, maxConnections: 2, outbox: true, outboxDir: topic }, topic);
    await helper.load(nodes, f, creds());
    const sent = 100;
    const p1 = helper.getNode('p1');
    for (let i = 0; i < sent; i++) p1.receive({ payload: `r${i}` });
    await waitFor(() => sink.delivered.length >= 2, 'first deliveries', { timeoutMs: 5000 });
    await helper.setFlows(f, 'full', creds());
    const unique = async (): Promise<number> =>
      new Set((await te.endpoint.readRecords(topic, { partition: 0 })).map((r: any) => String(r.value))).size;
    await waitFor(async () => (await unique()) >= sent, 'every record written', { timeoutMs: 20000 });
    summary('redeploy (outbox)', sent, { written: await unique() });
    assert.equal(sink.caught.length, 0);
    assert.equal(loggedCounts().notSent, 0);
  });

  it('node removal (modified-nodes deploy): unsent records fail to the Catch node that stays', async () => {
    const topic = await createTopic();
    te.endpoint.setFaults([{ latencyMs: 200, route: 'produce' }]);
    await helper.load(nodes, flow({ connections: 1, maxConnections: 1 }, topic), creds());
    const sent = 20;
    const p1 = helper.getNode('p1');
    const requestsBefore = te.endpoint.requestCount('produce');
    for (let i = 0; i < sent; i++) p1.receive({ payload: `r${i}` });
    await waitFor(() => te.endpoint.requestCount('produce') > requestsBefore, 'a record in flight');
    await helper.setFlows(flow({ connections: 1, maxConnections: 1 }, topic, false), 'nodes', creds());
    await waitFor(() => accounted() >= sent, 'every outcome', { timeoutMs: 15000 });
    await helper.clearFlows(); // nothing reports after this: the count is final
    summary('node removed', sent);
    assert.equal(accounted(), sent);
    assert.ok(sink.caught.length > 0, 'unsent records reached the Catch node');
    for (const m of sink.caught) assert.equal(m.eventstreams.error.code, 'CLOSED');
  });

  it('stop (all flows removed): what was not sent is failed and counted in the log', async () => {
    const topic = await createTopic();
    te.endpoint.setFaults([{ latencyMs: 200, route: 'produce' }]);
    await helper.load(nodes, flow({ connections: 1, maxConnections: 1, closeTimeout: 1 }, topic), creds());
    const sent = 20;
    const p1 = helper.getNode('p1');
    const requestsBefore = te.endpoint.requestCount('produce');
    for (let i = 0; i < sent; i++) p1.receive({ payload: `r${i}` });
    await waitFor(() => te.endpoint.requestCount('produce') > requestsBefore, 'a record in flight');
    await helper.clearFlows();
    await waitFor(() => accounted() >= sent, 'every outcome', { timeoutMs: 15000 });
    await helper.clearFlows(); // nothing reports after this: the count is final
    summary('stop', sent, { loggedNotSent: loggedCounts().notSent });
    assert.equal(accounted(), sent);
    assert.ok(loggedCounts().notSent > 0, 'the log counts the unsent messages');
  });

  it('outage: per-key order is kept through retries', async () => {
    const topic = await createTopic();
    await helper.load(
      nodes,
      flow({ connections: 4, retries: 30, retryDelay: 50, maxRetryTime: 30 }, topic),
      creds(),
    );
    const p1 = helper.getNode('p1');
    const sent = 200;
    const keys = ['dev0', 'dev1', 'dev2', 'dev3'];
    for (let i = 0; i < sent; i++) {
      if (i === 50) te.endpoint.setFaults([{ dropConnection: true, route: 'produce' }]);
      if (i === 150) te.endpoint.clearFaults();
      p1.receive({ payload: String(i), key: keys[i % 4] });
      if (i % 10 === 9) await delay(10);
    }
    await waitFor(() => accounted() >= sent, 'every outcome', { timeoutMs: 30000 });
    const written = await te.endpoint.readRecords(topic, { partition: 0 });
    const last = new Map<string, number>();
    let violations = 0;
    for (const r of written as any[]) {
      const k = String(r.key);
      const v = Number(String(r.value));
      if ((last.get(k) ?? -1) > v) violations++;
      last.set(k, v);
    }
    summary('outage with per-key order', sent, { written: written.length, orderViolations: violations });
    assert.equal(accounted(), sent);
    assert.equal(violations, 0);
  });

  it('plan rate limit: input at 1.5x the limit delivers >= 90% of it and reports the overflow', async () => {
    const limited = await startTestEndpoint({ apiKeys: [API_KEY], rateLimit: 40 });
    try {
      const topic = uniqueTopic('lc');
      await limited.endpoint.backend.createTopic(topic, 1, []);
      const f = flow({ connections: 4, queueMessages: 40, retries: 10, retryDelay: 50 }, topic);
      f[1] = {
        ...endpointConfig(limited.endpoint, {
          connections: 4,
          queueMessages: 40,
          retries: 10,
          retryDelay: 50,
        }),
      };
      await helper.load(nodes, f, { cfg: { apiKey: API_KEY, ca: limited.endpoint.caPem } });
      const p1 = helper.getNode('p1');
      const seconds = 5;
      const rate = 60;
      const started = Date.now();
      for (let i = 0; i < rate * seconds; i++) {
        p1.receive({ payload: String(i) });
        const due = started + ((i + 1) * 1000) / rate;
        if (due > Date.now()) await delay(due - Date.now());
      }
      const elapsed = (Date.now() - started) / 1000;
      const deliveredInWindow = sink.delivered.length;
      const sent = rate * seconds;
      await waitFor(() => accounted() >= sent, 'every outcome', { timeoutMs: 30000 });
      const throughput = deliveredInWindow / elapsed;
      summary('plan rate limit 40/s, input 60/s', sent, { throughput: throughput.toFixed(1) });
      assert.equal(accounted(), sent);
      assert.ok(throughput >= 0.9 * 40 * ((elapsed - 1) / elapsed), `throughput ${throughput}/s`);
      assert.ok(sink.caught.length > 0, 'the overflow is reported');
    } finally {
      await limited.stop();
    }
  });

  it('429 storm (50%, Retry-After 2 s): throughput stays above half the input rate', async () => {
    const topic = await createTopic();
    await helper.load(
      nodes,
      flow({ connections: 4, retries: 10, retryDelay: 50, maxRetryTime: 60 }, topic),
      creds(),
    );
    te.endpoint.setFaults([{ status429RetryAfterSec: 2, fraction: 0.5, route: 'produce' }]);
    const p1 = helper.getNode('p1');
    const rate = 40;
    const seconds = 6;
    const sent = rate * seconds;
    const started = Date.now();
    for (let i = 0; i < sent; i++) {
      p1.receive({ payload: String(i) });
      const due = started + ((i + 1) * 1000) / rate;
      if (due > Date.now()) await delay(due - Date.now());
    }
    await waitFor(() => accounted() >= sent, 'every outcome', { timeoutMs: 40000 });
    // While the input runs, from one Retry-After on: a held request gives way, so the others
    // keep flowing meanwhile (one 429 holding the queue would drop this to a trickle).
    const from = started + 2500;
    const to = started + seconds * 1000;
    const inWindow = sink.delivered.filter((m) => m._at >= from && m._at < to).length;
    const throughput = inWindow / ((to - from) / 1000);
    summary('429 storm 50% Retry-After 2s, input 40/s', sent, { throughput: throughput.toFixed(1) });
    assert.equal(accounted(), sent);
    assert.ok(throughput > rate / 2, `throughput ${throughput}/s`);
  });

  /** Every status text the runtime saw must be a key of the producer's own catalog. */
  function checkStatusKeys(): void {
    const catalogs: Record<string, any> = {};
    for (const type of ['event-streams-producer', 'event-streams-endpoint', 'event-streams-topic-admin']) {
      catalogs[type] = JSON.parse(
        readFileSync(path.join(__dirname, '../../nodes/locales/en-US', `${type}.json`), 'utf8'),
      )[type];
    }
    assert.ok(sink.statuses.length > 0, 'statuses were collected');
    for (const text of new Set(sink.statuses)) {
      for (const part of text.split(/ \(|\)$/).filter(Boolean)) {
        const m = /^([a-z-]+)\.([a-z-]+(?:\.[a-z-]+)*)$/.exec(part);
        if (!m) continue;
        assert.equal(m[1], 'event-streams-producer', `status "${text}" uses another node's catalog`);
        const value = m[2].split('.').reduce((o: any, k) => o?.[k], catalogs[m[1]]);
        assert.equal(typeof value, 'string', `status "${text}" is not translated (${part})`);
      }
    }
  }
});
