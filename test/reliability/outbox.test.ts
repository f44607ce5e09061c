// SPDX-License-Identifier: Apache-2.0
/**
 * The durable outbox end to end.
 *
 * 1. In-process (test helper): endpoint down, messages complete once spooled, status shows the
 *    depth, the bound refuses with QUEUE_FULL, and everything arrives in per-key order once the
 *    endpoint is up, with the delivery report on the output.
 * 2. A real Node-RED runtime as a child process (node_modules/node-red/red.js, this package linked
 *    into its userDir): the flow is deployed over the admin API with the endpoint DOWN, N messages
 *    are posted to an http-in → producer flow (each HTTP answer comes from a Complete node, i.e.
 *    after done(), i.e. after the fsync), the runtime is killed with SIGKILL, the spool is checked
 *    on disk, the runtime restarted, the endpoint started, and all N records must arrive, in order
 *    per key. Its stdout/stderr are also searched for the secrets.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { request } from 'undici';

import type { StoredRecord } from '../../gateway/types';
import { storeRecord } from '../../lib/record-codec';
import { Spool } from '../../lib/spool';
import { allNodes, helper } from '../nodes/support';
import { RestartableEndpoint } from './harness';
import { delay as sleep, waitFor } from '../support/wait';

const API_KEY = 'outbox-api-key-7Qw2LmZp9x';
const TOPIC = 'outbox';
const ROOT = path.resolve(__dirname, '..', '..', '..');

function ids(records: StoredRecord[]): Array<{ i: number; key: string; partition: number; offset: number }> {
  return records.map((r) => {
    const v = JSON.parse(r.value.toString()) as { i: number };
    return { i: v.i, key: String(r.key), partition: r.partition, offset: r.offset };
  });
}

/** Per key, records appear in the order they were sent (by `i`). */
function assertPerKeyOrder(records: StoredRecord[]): void {
  const seen = new Map<string, number>();
  const sorted = ids(records).sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  for (const r of sorted) {
    const last = seen.get(r.key) ?? -1;
    assert.ok(r.i > last, `key ${r.key}: record ${r.i} after ${last}`);
    seen.set(r.key, r.i);
  }
}

/** The endpoint config node both runtimes use: outbox on, short timeouts and retries for a fast test. */
function outboxEndpoint(url: string, outboxDir: string): Record<string, unknown> {
  return {
    id: 'cfg',
    type: 'event-streams-endpoint',
    url,
    authMode: 'bearer',
    verifyTls: true,
    connections: 4,
    requestTimeout: 2,
    retries: 1,
    retryDelay: 20,
    maxRetryTime: 2,
    closeTimeout: 1,
    outbox: true,
    outboxDir,
  };
}

describe('reliability: durable outbox', function () {
  this.timeout(60000);
  let ep: RestartableEndpoint;
  let tmp: string;

  beforeEach(async () => {
    ep = await RestartableEndpoint.create({ apiKeys: [API_KEY], topics: [{ name: TOPIC, partitions: 3 }] });
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'es-outbox-'));
    // The server owner's base directory (settings.js); the config names a subdirectory of it.
    helper.settings({ eventStreamsEndpointOutboxDir: tmp });
  });

  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    await ep.dispose();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  function flow(cfg: Record<string, unknown> = {}): Array<Record<string, unknown>> {
    return [
      { id: 'tab1', type: 'tab', label: 'outbox' },
      { ...outboxEndpoint(ep.url, 'spool'), ...cfg },
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

  it('completes at spool time while the endpoint is down, then delivers in per-key order with a report', async () => {
    await helper.load(allNodes, flow(), { cfg: { apiKey: API_KEY, ca: ep.caPem } });
    const p1 = helper.getNode('p1');
    const done: Array<unknown> = [];
    const statuses: string[] = [];
    p1.on('call:status', (call: { args: Array<{ text?: string }> }) =>
      statuses.push(String(call.args[0]?.text)),
    );
    const out: Array<Record<string, any>> = [];
    helper.getNode('out').on('input', (m: Record<string, any>) => out.push(m));
    // Count completions through the node's done callbacks.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { hooks } = require('@node-red/util') as {
      hooks: {
        add(id: string, fn: (e: { node: { id: string }; error?: unknown }) => void): void;
        remove(id: string): void;
      };
    };
    hooks.add('onComplete.outboxtest', (e) => {
      if (e.node.id === 'p1') done.push(e.error ?? 'ok');
    });
    try {
      const N = 60;
      for (let i = 0; i < N; i++) p1.receive({ payload: { id: `o${i}`, i }, key: `k${i % 4}` });
      await waitFor(() => done.length === N, 'every message spooled', { timeoutMs: 5000 });
      assert.ok(
        done.every((d) => d === 'ok'),
        'all completed without error while the endpoint is down',
      );
      assert.equal(out.length, 0, 'nothing reported delivered yet');
      await sleep(1100);
      // The test helper's RED._ returns the message key, so the depth is read from the outbox.
      assert.ok(
        statuses.some((s) => s.startsWith('event-streams-producer.status.outbox')),
        statuses.join('|'),
      );
      const outbox = await helper.getNode('cfg').getOutbox();
      assert.equal(outbox.depth, N, 'the outbox holds every message');
      await ep.start();
      await waitFor(() => out.length === N, 'every delivery report', { timeoutMs: 40000 });
      const records = await ep.records(TOPIC);
      assert.equal(records.length, N);
      assertPerKeyOrder(records);
      assert.equal(out[0]!.eventstreams.outbox, true);
      assert.equal(typeof out[0]!.eventstreams.offset, 'number');
      assert.equal(outbox.depth, 0);
    } finally {
      hooks.remove('onComplete.outboxtest');
    }
  });

  it('damaged outbox files: every intact record delivered, the lost one logged once and shown on the status', async () => {
    // A previous run's spool (under the configured subdirectory) with one bit flipped in record 4.
    const dir = path.join(tmp, 'spool');
    const s = await Spool.open({ dir, maxBytes: 1 << 20 });
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        s.append(storeRecord(TOPIC, { value: JSON.stringify({ id: `d${i}`, i }), key: `k${i % 2}` })),
      ),
    );
    await s.close();
    const [seg] = (await fs.readdir(dir)).filter((n) => n.startsWith('seg-'));
    const buf = await fs.readFile(path.join(dir, seg!));
    let off = 32;
    for (let i = 0; i < 3; i++) off += 20 + buf.readUInt32BE(off + 4);
    buf[off + 25] = buf[off + 25]! ^ 0x04;
    await fs.writeFile(path.join(dir, seg!), buf);
    await ep.start();
    await helper.load(allNodes, flow(), { cfg: { apiKey: API_KEY, ca: ep.caPem } });
    const p1 = helper.getNode('p1');
    const statuses: string[] = [];
    p1.on('call:status', (call: { args: Array<{ text?: string }> }) =>
      statuses.push(String(call.args[0]?.text)),
    );
    const lostLines = (): unknown[] =>
      helper
        .log()
        .args.filter(
          (a: Array<{ level?: number; msg?: unknown }>) =>
            a[0]?.level === helper.log().ERROR && String(a[0]?.msg).includes('outbox.lost'),
        );
    await waitFor(() => lostLines().length === 1, 'the loss logged', { timeoutMs: 5000 });
    const outbox = await helper.getNode('cfg').getOutbox();
    assert.equal(outbox.recovery.lost, 1);
    assert.deepEqual(
      outbox.recovery.damage.map((d: { start: number; lost: number }) => [d.start, d.lost]),
      [[off, 1]],
    );
    // One new message: the producer follows the outbox from then on.
    p1.receive({ payload: { id: 'd10', i: 10 }, key: 'k0' });
    await waitFor(
      () => outbox.depth === 0 && statuses.some((t) => t.includes('outbox-damaged')),
      'drained, loss on the status',
      { timeoutMs: 10000 },
    );
    const got = (await ep.records(TOPIC)).map((r) => (JSON.parse(r.value.toString()) as { i: number }).i);
    assert.deepEqual(
      got.sort((a, b) => a - b),
      [0, 1, 2, 4, 5, 6, 7, 8, 9, 10],
      'sent 11 = delivered 10 + logged 1',
    );
    assert.equal(lostLines().length, 1, 'logged once');
  });

  it('refuses messages past the outbox limit with QUEUE_FULL, keeping what it holds', async () => {
    await helper.load(allNodes, flow({ outboxMaxBytes: 4000 }), { cfg: { apiKey: API_KEY, ca: ep.caPem } });
    const caught: string[] = [];
    helper.getNode('caught').on('input', (m: { error: { code: string } }) => caught.push(m.error.code));
    const p1 = helper.getNode('p1');
    for (let i = 0; i < 40; i++) p1.receive({ payload: { id: `q${i}`, i, pad: 'x'.repeat(100) }, key: 'k' });
    await waitFor(() => caught.length > 0, 'a QUEUE_FULL', { timeoutMs: 5000 });
    await sleep(100);
    assert.ok(
      caught.every((c) => c === 'QUEUE_FULL'),
      caught.join(','),
    );
    const accepted = 40 - caught.length;
    assert.ok(accepted > 10 && accepted < 40, `accepted ${accepted}`);
    await ep.start();
    let records: StoredRecord[] = [];
    const end = Date.now() + 30000;
    while (records.length < accepted && Date.now() < end) {
      await sleep(100);
      records = await ep.records(TOPIC);
    }
    assert.equal(records.length, accepted, 'exactly the accepted ones were delivered');
    assertPerKeyOrder(records);
  });

  it('an outage mid-stream: every message accounted for (sent = delivered + failed), first write within 2 s of recovery, order per key', async function () {
    this.timeout(180000);
    await ep.start();
    const nodes = [
      ...flow(),
      { id: 's1', z: 'tab1', type: 'status', scope: null, wires: [['statuses']] },
      { id: 'statuses', z: 'tab1', type: 'helper' },
    ];
    await helper.load(allNodes, nodes, { cfg: { apiKey: API_KEY, ca: ep.caPem } });
    const p1 = helper.getNode('p1');
    const reported = new Map<string, number>();
    helper
      .getNode('out')
      .on('input', (m: { payload: { id: string } }) =>
        reported.set(m.payload.id, (reported.get(m.payload.id) ?? 0) + 1),
      );
    const caught: string[] = [];
    helper.getNode('caught').on('input', (m: { payload: { id: string } }) => caught.push(m.payload.id));
    const statuses: string[] = [];
    helper
      .getNode('statuses')
      .on('input', (m: { status: { text?: string } }) => statuses.push(String(m.status.text)));
    const N = 600;
    let sent = 0;
    const sendBatch = (n: number): void => {
      for (let j = 0; j < n && sent < N; j++, sent++) {
        p1.receive({ payload: { id: `m${sent}`, i: sent }, key: `dev${sent % 5}` });
      }
    };
    // 200 with the endpoint up, 300 while it is down (5 s, long enough for backoff to grow), the
    // rest once it is back.
    for (let b = 0; b < 10; b++) {
      sendBatch(20);
      await sleep(20);
    }
    await waitFor(() => reported.size === 200, 'the first 200 delivered', { timeoutMs: 30000 });
    await ep.stop();
    for (let b = 0; b < 15; b++) {
      sendBatch(20);
      await sleep(100);
    }
    await sleep(3500);
    const restarted = await ep.start();
    const answeringAt = Date.now();
    let firstAt: number | undefined;
    const memory = restarted.backend as unknown as {
      produceSync: (...a: unknown[]) => unknown;
    };
    const produceSync = memory.produceSync.bind(memory);
    memory.produceSync = (...a: unknown[]) => {
      firstAt ??= Date.now();
      return produceSync(...a);
    };
    sendBatch(N - sent);
    await waitFor(() => reported.size + caught.length === N, 'an outcome for every message', {
      timeoutMs: 120000,
    });
    const delay = firstAt! - answeringAt;
    const records = await ep.records(TOPIC);
    const duplicates = records.length - new Set(ids(records).map((r) => r.i)).size;
    console.log(
      `      [outbox outage] sent=${N} delivered=${reported.size} failed=${caught.length} ` +
        `duplicates=${duplicates} first write ${delay} ms after the endpoint answered again`,
    );
    assert.equal(caught.length, 0, 'nothing failed: an outage is held, not failed');
    assert.equal(reported.size, N, 'every message got its delivery report');
    assert.ok(
      [...reported.values()].every((n) => n === 1),
      'one report per message',
    );
    assert.ok(
      delay <= 3000,
      `first write ${delay} ms after the endpoint answered again (bound 2 s + margin)`,
    );
    // Every message is at the endpoint; per key in input order (by time: offsets restart with the
    // endpoint).
    const found = new Set(ids(records).map((r) => r.i));
    assert.equal(found.size, N);
    const last = new Map<string, number>();
    const byTime = [...records].sort(
      (a, b) => a.timestamp - b.timestamp || a.partition - b.partition || a.offset - b.offset,
    );
    // A resent record (at-least-once) may appear twice; first appearances are in order.
    const seen = new Set<number>();
    for (const r of ids(byTime)) {
      if (seen.has(r.i)) continue;
      seen.add(r.i);
      const prev = last.get(r.key) ?? -1;
      assert.ok(r.i > prev, `key ${r.key}: ${r.i} after ${prev}`);
      last.set(r.key, r.i);
    }
    assert.ok(statuses.length > 0, 'the Status node saw the producer status');
  });

  describe('a Node-RED child process killed with SIGKILL', () => {
    let child: ChildProcess | undefined;
    let output = '';

    afterEach(async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child!.once('exit', r));
        child.kill('SIGINT');
        await Promise.race([exited, sleep(8000)]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      child = undefined;
    });

    async function startRuntime(userDir: string): Promise<string> {
      const red = require.resolve('node-red/red.js', { paths: [ROOT] });
      const proc = spawn(
        process.execPath,
        [red, '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')],
        {
          cwd: userDir,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, NODE_RED_ENABLE_PROJECTS: 'false' },
        },
      );
      child = proc;
      return new Promise((resolve, reject) => {
        let buf = '';
        const onData = (chunk: Buffer): void => {
          const text = chunk.toString();
          output += text;
          buf += text;
          const m = /Server now running at (\S+)/.exec(buf);
          if (m) resolve(m[1]!.replace(/\/$/, ''));
        };
        proc.stdout!.on('data', onData);
        proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
        proc.once('exit', (code) =>
          reject(new Error(`Node-RED exited early (${code}):\n${buf.slice(-2000)}`)),
        );
      });
    }

    it('loses nothing: N posted while the endpoint is down, kill -9, restart, all N arrive in key order', async () => {
      const userDir = path.join(tmp, 'userdir');
      const spoolDir = path.join(tmp, 'nr-spool');
      await fs.mkdir(path.join(userDir, 'node_modules', '@esnodes'), { recursive: true });
      await fs.symlink(
        ROOT,
        path.join(userDir, 'node_modules', '@esnodes', 'node-red-event-streams'),
        'junction',
      );
      await fs.writeFile(
        path.join(userDir, 'settings.js'),
        `module.exports = {
  uiPort: 0, uiHost: '127.0.0.1', flowFile: 'flows.json',
  credentialSecret: ${JSON.stringify(randomBytes(16).toString('hex'))},
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { tours: false, projects: { enabled: false } },
  externalModules: { autoInstall: false, palette: { allowInstall: false } },
  eventStreamsEndpointOutboxDir: ${JSON.stringify(tmp)},
};
`,
      );
      let url = await startRuntime(userDir);
      const flows = [
        { id: 'tab1', type: 'tab', label: 'outbox' },
        {
          ...outboxEndpoint(ep.url, path.basename(spoolDir)),
          credentials: { apiKey: API_KEY, ca: ep.caPem },
        },
        { id: 'in', z: 'tab1', type: 'http in', url: '/send', method: 'post', wires: [['p1']] },
        {
          id: 'p1',
          z: 'tab1',
          type: 'event-streams-producer',
          endpoint: 'cfg',
          topic: TOPIC,
          keyType: 'msg',
          key: 'payload.key',
          outputs: 0,
          wires: [],
        },
        { id: 'cmp', z: 'tab1', type: 'complete', scope: ['p1'], uncaught: false, wires: [['resp']] },
        { id: 'ctc', z: 'tab1', type: 'catch', scope: ['p1'], uncaught: false, wires: [['fail']] },
        {
          id: 'fail',
          z: 'tab1',
          type: 'function',
          func: 'msg.statusCode = 500; msg.payload = msg.error.code; return msg;',
          outputs: 1,
          wires: [['resp']],
        },
        { id: 'resp', z: 'tab1', type: 'http response', statusCode: '', wires: [] },
      ];
      const dep = await request(`${url}/flows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'node-red-deployment-type': 'full' },
        body: JSON.stringify(flows),
      });
      assert.ok(dep.statusCode === 200 || dep.statusCode === 204, await dep.body.text());
      await sleep(300);

      const N = 40;
      for (let i = 0; i < N; i++) {
        const res = await request(`${url}/send`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id: `kill-${i}`, i, key: `key${i % 3}` }),
        });
        const text = await res.body.text();
        assert.equal(res.statusCode, 200, `message ${i}: ${text}`);
      }

      // Every message has been confirmed as durably stored: pull the plug.
      child!.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
      assert.equal(ep.current, undefined, 'the endpoint was down the whole time');
      const spool = await Spool.open({ dir: spoolDir, maxBytes: 1 << 30 });
      assert.equal(spool.depth, N, 'the spool holds all N after kill -9');
      await spool.close();

      await ep.start();
      url = await startRuntime(userDir);
      let records: StoredRecord[] = [];
      const end = Date.now() + 30000;
      while (Date.now() < end) {
        records = await ep.records(TOPIC);
        if (records.length >= N) break;
        await sleep(100);
      }
      await sleep(300);
      records = await ep.records(TOPIC);
      const got = new Set(ids(records).map((r) => r.i));
      assert.equal(got.size, N, `all ${N} distinct records arrived (got ${got.size})`);
      assert.equal(records.length, N, 'and no duplicates in this run');
      assertPerKeyOrder(records);
      assert.match(output, /Outbox: 40 stored messages/);
      // The runtime's own admin API: the credentials route and the flow export hide the secret.
      const credRes = await request(`${url}/credentials/event-streams-endpoint/cfg`);
      const credText = await credRes.body.text();
      assert.equal(credRes.statusCode, 200);
      assert.equal(JSON.parse(credText).has_apiKey, true);
      assert.ok(!credText.includes(API_KEY), 'API key from /credentials');
      const flowsRes = await request(`${url}/flows`);
      assert.ok(!(await flowsRes.body.text()).includes(API_KEY), 'API key in GET /flows');
      // Nothing secret in what the runtime printed.
      assert.ok(!output.includes(API_KEY), 'API key in Node-RED output');
      const caKey = await fs.readFile(path.join(ep.stateDir, 'ca-key.pem'), 'utf8');
      assert.ok(!output.includes(caKey.split('\n')[1]!), 'CA key in Node-RED output');
      // The saved flow keeps credentials out of flows.json.
      const saved = await fs.readFile(path.join(userDir, 'flows.json'), 'utf8');
      assert.ok(!saved.includes(API_KEY), 'API key in flows.json');
      const creds = await fs.readFile(path.join(userDir, 'flows_cred.json'), 'utf8');
      assert.ok(!creds.includes(API_KEY), 'flows_cred.json is encrypted');
    });
  });
});
