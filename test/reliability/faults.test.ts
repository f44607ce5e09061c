// SPDX-License-Identifier: Apache-2.0
/**
 * Fault suite with accounting. Each case pushes messages with a unique id into a real Node-RED
 * flow (producer node, node-red-node-test-helper) against the local endpoint over HTTPS with
 * verification on, injects one kind of fault, and then checks, per message:
 *
 *   sent = delivered + failed, each message has exactly one outcome, every delivered record is
 *   at the endpoint, failures carry a specific error code (and reach Catch), and duplicates
 *   (records written twice because a retried request had already been stored) are counted and
 *   printed, never hidden.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { allNodes, helper } from '../nodes/support';
import { Accounting, describeFigures, RestartableEndpoint, type Figures } from './harness';
import { delay, waitFor } from '../support/wait';

const API_KEY = 'rel-fault-key-5f1c2a9e7d';
const TOPIC = 'reliability';

type Creds = Record<string, Record<string, unknown>>;

function flow(ep: RestartableEndpoint, cfg: Record<string, unknown> = {}): Array<Record<string, unknown>> {
  return [
    { id: 'tab1', type: 'tab', label: 'faults' },
    {
      id: 'cfg',
      type: 'event-streams-endpoint',
      name: 'local',
      url: ep.url,
      flavour: 'v1',
      authMode: 'bearer',
      iamUrl: `${ep.url}/identity/token`,
      verifyTls: true,
      connections: 4,
      requestTimeout: 5,
      retries: 8,
      retryDelay: 50,
      maxRetryTime: 20,
      closeTimeout: 2,
      ...cfg,
    },
    { id: 'p1', z: 'tab1', type: 'event-streams-producer', endpoint: 'cfg', topic: TOPIC, wires: [['out']] },
    { id: 'out', z: 'tab1', type: 'helper' },
    { id: 'c1', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab1', type: 'helper' },
  ];
}

describe('reliability: faults with per-message accounting', function () {
  this.timeout(30000);
  let ep: RestartableEndpoint;
  let acct: Accounting;
  let caught: Map<string, string>;
  const figures: string[] = [];

  beforeEach(async () => {
    ep = await RestartableEndpoint.create({ apiKeys: [API_KEY], topics: [{ name: TOPIC, partitions: 3 }] });
    acct = new Accounting('p1');
  });

  afterEach(async () => {
    acct.dispose();
    await helper.unload();
    await ep.dispose();
  });

  after(() => {
    // The figures of every case, so duplicates and failures are visible in the test output.
    console.log(figures.join('\n'));
  });

  function creds(extra: Record<string, unknown> = {}): Creds {
    return { cfg: { apiKey: API_KEY, ca: ep.caPem, ...extra } };
  }

  async function load(cfg: Record<string, unknown> = {}, c: Creds = creds()): Promise<void> {
    await helper.load(allNodes, flow(ep, cfg), c);
    watchCatch();
  }

  function watchCatch(): void {
    caught = new Map();
    helper.getNode('caught').on('input', (msg: { payload: { id: string }; error: { code: string } }) => {
      caught.set(msg.payload.id, msg.error.code);
    });
  }

  let seq = 0;
  /** Sends `n` messages, one every `intervalMs`, while `alive()` holds. */
  async function pump(n: number, intervalMs: number, alive: () => boolean = () => true): Promise<void> {
    for (let i = 0; i < n && alive(); i++) {
      const id = `m${++seq}-${i}`;
      acct.sent.push(id);
      helper.getNode('p1').receive({ payload: { id, i }, key: `k${i % 5}` });
      if (intervalMs > 0) await delay(intervalMs);
    }
  }

  /**
   * Waits for an outcome of every message sent so far. Unless told the flow goes on, it then stops
   * the flows: after that no node can report again, so a late second outcome of any message has
   * been counted (the accounting spans the whole case, so an intermediate settle is checked by
   * the final one).
   */
  async function settle(timeoutMs = 20000, { goesOn = false } = {}): Promise<Figures> {
    await waitFor(() => acct.settled >= acct.sent.length, 'an outcome for every message', { timeoutMs });
    if (!goesOn) await helper.clearFlows();
    return acct.reconcile(await ep.records(TOPIC));
  }

  function check(name: string, f: Figures, allowedCodes: string[] = [], viaCatch = true): void {
    figures.push(describeFigures(name, f));
    assert.equal(f.noOutcome.length, 0, `messages without an outcome: ${f.noOutcome.slice(0, 5).join(',')}`);
    assert.equal(f.doubleOutcome, 0, 'a message had two outcomes');
    assert.equal(f.sent, f.delivered + f.failed, 'sent = delivered + failed');
    assert.deepEqual(f.missing, [], 'every delivered record is at the endpoint');
    assert.equal(f.unknownRecords, 0, 'no record the flow did not send');
    for (const code of Object.keys(f.codes)) {
      assert.ok(allowedCodes.includes(code), `unexpected failure code ${code} in ${name}`);
    }
    if (viaCatch) {
      assert.equal(caught.size, f.failed, 'every failure reached the Catch node');
      for (const [id, o] of acct.outcomes) {
        if (o.kind === 'failed') assert.equal(caught.get(id), o.code, `Catch saw the code of ${id}`);
      }
    }
  }

  it('endpoint down when the flow deploys, then up: queued and retried, nothing lost', async () => {
    await load();
    const statuses: string[] = [];
    helper.getNode('p1').on('call:status', (call: { args: [{ text?: unknown }?] }) => {
      statuses.push(String(call.args[0]?.text ?? '')); // the message key, e.g. …status.retrying
    });
    const sending = pump(20, 20);
    // The producer has met the closed port and is retrying: only now does "nothing settled" mean something.
    await waitFor(() => statuses.some((t) => /retrying/.test(t)), 'a retrying status');
    assert.equal(acct.outcomes.size, 0, 'nothing settled while the endpoint is down');
    await ep.start();
    await sending;
    const f = await settle();
    check('down at deploy', f);
    assert.equal(f.delivered, f.sent);
  });

  it('endpoint restarted mid-stream (same port and state dir)', async () => {
    await ep.start();
    await load();
    const sending = pump(60, 10);
    await delay(250);
    await ep.stop();
    await delay(100);
    await ep.start();
    await sending;
    const f = await settle();
    check('restart mid-stream', f);
    assert.equal(f.delivered, f.sent);
  });

  it('an outage of 3 s at a steady rate: every message delivered once the endpoint is back', async () => {
    await ep.start();
    // Backoff 100 ms doubling: the retries of one record span ~6 s, longer than the outage.
    await load({ retries: 8, retryDelay: 100, maxRetryTime: 25 });
    const sending = pump(200, 25);
    await delay(800);
    await ep.stop();
    await delay(3000);
    await ep.start();
    await sending;
    const f = await settle(25000);
    check('3 s outage', f);
    assert.equal(f.delivered, f.sent);
  });

  it('a slowdown past the request timeout: timed-out requests are retried', async () => {
    await ep.start();
    // undici checks its headers timeout on a ~0.5 s tick, so timeouts under 1 s fire late; 1 s
    // against a 2.5 s delay times out for sure. The first 3 produce requests are the slow ones: a
    // fraction (15 %) of the few requests 20 messages make under load, batched, was once none.
    await load({ requestTimeout: 1, connections: 8 });
    ep.current!.setFaults([{ latencyMs: 2500, count: 3, route: 'produce' }]);
    await pump(20, 10);
    const f = await settle();
    check('latency 2.5 s on 3 requests, timeout 1 s', f, ['RETRIES_EXHAUSTED(TIMEOUT)']);
    assert.ok(f.delivered >= f.sent - 2, `most delivered: ${JSON.stringify(f.codes)}`);
    assert.ok(ep.current!.requestCount('produce') > f.sent, 'timeouts were retried');
  });

  it('a 429 storm with Retry-After: honoured, then delivered', async () => {
    await ep.start();
    // Retried records keep their in-flight slot, so the storm is spread over the 4 connections:
    // 8 × 429 means about two 1 s waits per slot, well within 8 retries.
    await load({ connections: 4 });
    ep.current!.setFaults([{ status429RetryAfterSec: 1, count: 8 }]);
    const t0 = Date.now();
    await pump(20, 0);
    const f = await settle();
    check('429 storm (8 × Retry-After 1 s)', f);
    assert.equal(f.delivered, f.sent);
    assert.ok(Date.now() - t0 >= 900, 'Retry-After was waited for');
    assert.equal(ep.current!.requestCount('produce'), f.sent + 8, 'one request per 429, no retry storm');
  });

  it('endless 429s: every message fails with RATE_LIMITED after its retries, no storm', async () => {
    await ep.start();
    await load({ retries: 2, retryDelay: 10 });
    ep.current!.setFaults([{ status429RetryAfterSec: 0 }]);
    await pump(15, 0);
    const f = await settle();
    check('endless 429', f, ['RETRIES_EXHAUSTED(RATE_LIMITED)']);
    assert.equal(f.failed, f.sent);
    assert.equal(ep.current!.requestCount('produce'), f.sent * 3, 'exactly 1 + retries requests each');
  });

  it('503s on half the requests', async function () {
    this.timeout(90_000);
    await ep.start();
    // Per-key order makes the 10 records of a key wait for each other's retries, so on a loaded
    // machine the last ones reached the 20 s retry time before their 9 attempts (3 of 50 failed
    // once under two busy loops). The retry time is not what this test is about: 9 attempts at
    // one chance in two leave about one record in 500 failed.
    await load({ maxRetryTime: 120 });
    ep.current!.setFaults([{ status: 503, fraction: 0.5 }]);
    await pump(50, 5);
    const f = await settle(80_000);
    check('503 × 50 %', f, ['RETRIES_EXHAUSTED(UNAVAILABLE)']);
    assert.ok(f.delivered >= f.sent - 1);
  });

  it('connection resets on a third of the requests', async () => {
    await ep.start();
    await load();
    ep.current!.setFaults([{ dropConnection: true, fraction: 0.3 }]);
    await pump(50, 5);
    const f = await settle();
    check('dropConnection × 30 %', f, ['RETRIES_EXHAUSTED(CONNECTION_FAILED)']);
    assert.ok(f.delivered >= f.sent - 1);
  });

  it('server certificate rotated by the same CA keeps working; a new CA fails with a clear TLS error', async () => {
    await ep.start();
    await load({ retries: 3 });
    await pump(10, 0);
    await waitFor(() => acct.settled === 10, 'first batch', { timeoutMs: 5000 });
    const certFile = path.join(ep.stateDir, 'server.pem');
    const before = await fs.readFile(certFile, 'utf8');
    await ep.stop();
    await fs.rm(certFile);
    await fs.rm(path.join(ep.stateDir, 'server-key.pem'));
    await ep.start();
    assert.notEqual(await fs.readFile(certFile, 'utf8'), before, 'a new server certificate');
    await pump(10, 0);
    const f1 = await settle(20000, { goesOn: true });
    check('server cert rotated (same CA)', f1);
    assert.equal(f1.delivered, 20);

    await ep.stop();
    for (const f of ['ca.pem', 'ca-key.pem', 'server.pem', 'server-key.pem']) {
      await fs.rm(path.join(ep.stateDir, f));
    }
    await ep.start();
    const produceBefore = ep.current!.requestCount('produce');
    await pump(10, 0);
    const f2 = await settle();
    check('new CA', f2, ['TLS_FAILED']);
    assert.equal(f2.failed, 10);
    const failure = [...acct.outcomes.values()].find((o) => o.kind === 'failed')!;
    assert.match(failure.message!, /certificate|trust|CA/i, failure.message);
    assert.equal(ep.current!.requestCount('produce'), produceBefore, 'no request got past TLS');
  });

  it('IAM tokens expiring every second mid-stream: nothing fails', async () => {
    await ep.start({ tokenLifetimeSec: 1 });
    await load({ authMode: 'iam', flavour: 'v2' });
    await pump(60, 40);
    const f = await settle();
    check('IAM token lifetime 1 s', f);
    assert.equal(f.delivered, f.sent);
    assert.ok(ep.current!.requestCount('iam') >= 2, 'tokens were refreshed');
  });

  it('a wrong API key fails fast with AUTHENTICATION_FAILED and no retry storm', async () => {
    await ep.start();
    await load({}, creds({ apiKey: 'not-the-right-key-31337' }));
    await pump(30, 0);
    const f = await settle();
    check('wrong API key', f, ['AUTHENTICATION_FAILED']);
    assert.equal(f.failed, 30);
    const n = ep.current!.requestCount('produce');
    assert.ok(n <= 30 + 4, `requests ≈ messages (got ${n} for 30), not × retries`);
  });

  it('a full redeploy under load: every message has exactly one outcome', async () => {
    await ep.start();
    await load({ closeTimeout: 0.5 });
    ep.current!.setFaults([{ latencyMs: 150, fraction: 0.5 }]);
    const sending = pump(80, 5, () => helper.getNode('p1') !== null);
    await delay(150);
    await helper.setFlows(flow(ep, { closeTimeout: 0.5 }), 'full', creds()).catch(() => undefined);
    watchCatch();
    await sending;
    // Keep sending into the redeployed flow too.
    await pump(20, 5);
    const f = await settle();
    check('redeploy under load', f, ['CLOSED', 'ABORTED'], false);
  });

  it('stopping Node-RED under load: every message has exactly one outcome', async () => {
    await ep.start();
    await load({ closeTimeout: 0.3 });
    ep.current!.setFaults([{ latencyMs: 600, fraction: 0.5 }]);
    let stopped = false;
    const sending = pump(200, 3, () => !stopped);
    // Some delivered, some slow; then requests that cannot finish before the stop's 0.3 s wait,
    // so that the stop surely meets records on the wire (under load a guessed pause once let
    // every record finish first).
    await waitFor(() => acct.settled >= 20, 'some messages delivered', { timeoutMs: 30000 });
    ep.current!.setFaults([{ latencyMs: 10_000, fraction: 1 }]);
    const before = ep.current!.requestCount('produce');
    await waitFor(() => ep.current!.requestCount('produce') > before, 'a request under the long delay', {
      timeoutMs: 30000,
    });
    stopped = true;
    await sending;
    await helper.unload();
    const f = await settle();
    check('stop under load', f, ['CLOSED', 'ABORTED'], false);
    assert.ok(f.failed > 0, 'the stop really cut records short');
  });
});
