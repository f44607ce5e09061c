// SPDX-License-Identifier: Apache-2.0
/**
 * The consumer node in Node-RED's real runtime against a real Kafka broker:
 * - 1,000 records from earliest exactly once, offsets ascending per partition, keys and headers
 *   (text and binary) intact, and the group's committed offsets at the end of every partition
 *   once the flow is stopped;
 * - 2,000 records produced while the flow is fully redeployed twice: every record seen at least
 *   once, duplicates counted and under 10 %;
 * - two Node-RED runtimes (child processes) in one group share the partitions, and the one left
 *   reads everything after the other stops.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

import type { Admin, Producer } from 'kafkajs';

import consumerNode from '../../nodes/event-streams-consumer';
import { kafkaClient, kafkaOrSkip, uniqueTopic, type KafkaHandle } from '../helpers/kafka';
import { waitFor } from '../helpers/wait';
import { TAB, catchNode, endpointNode, helper } from '../nodes/support';

type Msg = Record<string, any>;

/** Every msg reaching a sink, across redeploys (the sink instances change, this array does not). */
let received: Msg[] = [];
function sinkNode(RED: any): void {
  RED.nodes.registerType('consumer-sink', function (this: any, c: any) {
    RED.nodes.createNode(this, c);
    this.on('input', (msg: Msg, _send: unknown, done: () => void) => {
      received.push(msg);
      done();
    });
  });
}

/** Polls an async check (the broker's view catches up a moment later) until it holds. */
async function eventually(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('consumer node against real Kafka', function () {
  this.timeout(120_000);
  let kafka: KafkaHandle;
  let admin: Admin;
  let producer: Producer;

  before(async function () {
    kafka = await kafkaOrSkip(this);
    const client = kafkaClient(kafka.brokers);
    admin = client.admin();
    await admin.connect();
    producer = client.producer();
    await producer.connect();
  });

  beforeEach(() => {
    received = [];
  });

  afterEach(async () => {
    await helper.unload();
  });

  after(async () => {
    await producer?.disconnect();
    await admin?.disconnect();
  });

  async function createTopic(prefix: string, partitions: number): Promise<string> {
    const topic = uniqueTopic(prefix);
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
    return topic;
  }

  async function produce(topic: string, from: number, count: number): Promise<void> {
    for (let start = from; start < from + count; start += 100) {
      const n = Math.min(100, from + count - start);
      await producer.send({
        topic,
        messages: Array.from({ length: n }, (_, j) => {
          const i = start + j;
          return {
            key: `k${i % 17}`,
            value: JSON.stringify({ i }),
            headers: { seq: String(i), bin: Buffer.from([0xff, i & 0xff]) },
          };
        }),
      });
    }
  }

  function flow(topic: string, groupId: string, extra: Record<string, unknown> = {}): Msg[] {
    return [
      TAB,
      {
        id: 'cfg',
        type: 'event-streams-endpoint',
        url: 'https://127.0.0.1:9',
        authMode: 'none',
        brokers: kafka.brokers.join(','),
        brokersTls: false,
        closeTimeout: 10,
      },
      {
        id: 'c1',
        z: 'tab1',
        type: 'event-streams-consumer',
        endpoint: 'cfg',
        topics: topic,
        groupId,
        start: 'earliest',
        valueFormat: 'auto',
        maxInFlight: 50,
        wires: [['sink']],
        ...extra,
      },
      { id: 'sink', z: 'tab1', type: 'consumer-sink' },
    ];
  }

  const nodes = [endpointNode, consumerNode, sinkNode, catchNode];

  it('reads 1,000 records from earliest exactly once, in order per partition, keys and headers intact', async () => {
    const topic = await createTopic('cons-once', 3);
    await produce(topic, 0, 1000);
    const groupId = `g-${topic}`;
    await helper.load(nodes, flow(topic, groupId), { cfg: {} });
    await waitFor(() => received.length >= 1000, '1,000 records', { timeoutMs: 60_000, intervalMs: 20 });
    const seen = new Set(received.map((m) => m.payload.i as number));
    assert.equal(received.length, 1000, 'no duplicates');
    assert.equal(seen.size, 1000);
    const last = new Map<number, number>();
    for (const m of received) {
      const es = m.eventstreams;
      assert.equal(m.topic, topic);
      assert.equal(es.topic, topic);
      assert.ok((last.get(es.partition) ?? -1) < es.offset, 'offsets ascend per partition');
      last.set(es.partition, es.offset);
      const i = m.payload.i as number;
      assert.equal(m.key, `k${i % 17}`);
      assert.equal(es.key, m.key);
      assert.equal(es.headers.seq, String(i));
      assert.ok(Buffer.isBuffer(es.headers.bin), 'a header that is not UTF-8 stays a Buffer');
      assert.deepEqual([...es.headers.bin], [0xff, i & 0xff]);
      assert.equal(typeof es.timestamp, 'number');
    }
    // Stopping the flow commits what was handled: the group is at the end of every partition.
    await helper.unload();
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    for (const e of ends) {
      const c = committed!.partitions.find((p) => p.partition === e.partition);
      assert.equal(c?.offset, e.high, `partition ${e.partition} committed at its end`);
    }
    console.log(`      (1,000 read once; partitions ${[...last.keys()].sort().join(',')})`);
  });

  it('2,000 records produced across two full redeploys: each seen at least once, duplicates under 10 %', async () => {
    const topic = await createTopic('cons-redeploy', 3);
    const groupId = `g-${topic}`;
    const f = flow(topic, groupId);
    await helper.load(nodes, f, { cfg: {} });
    const total = 2000;
    let produced = 0;
    const producing = (async () => {
      while (produced < total) {
        await produce(topic, produced, 50);
        produced += 50;
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    await waitFor(() => received.length >= 500, '500 records', { timeoutMs: 60_000, intervalMs: 10 });
    const producedAt = [produced];
    await helper.setFlows(f, 'full', { cfg: {} });
    await waitFor(() => received.length >= 1200, '1,200 records', { timeoutMs: 60_000, intervalMs: 10 });
    producedAt.push(produced);
    await helper.setFlows(f, 'full', { cfg: {} });
    await producing;
    const unique = (): number => new Set(received.map((m) => m.payload.i as number)).size;
    await waitFor(() => unique() >= total, 'every record', { timeoutMs: 60_000, intervalMs: 20 });
    const duplicates = received.length - unique();
    console.log(
      `      (${total} produced, redeployed at ${producedAt.join(' and ')} produced; ` +
        `${received.length} received, ${duplicates} duplicates)`,
    );
    assert.ok(duplicates < total * 0.1, `${duplicates} duplicates`);
  });

  it('controls by msg: lag, manual commit, pause, resume, seek; a /pattern/ subscription; done() acknowledgement', async () => {
    const base = uniqueTopic('cons-ctl');
    const [ta, tb] = [`${base}-a`, `${base}-b`];
    await admin.createTopics({
      topics: [ta, tb, `${base}-c`].map((topic) => ({ topic, numPartitions: 1 })),
      waitForLeaders: true,
    });
    const groupId = `g-${base}`;
    const f = flow(`/^${base.replace(/-/g, '\\-')}-(a|b)$/`, groupId, { commit: 'manual', ack: 'complete' });
    f.push({ id: 'ct1', z: 'tab1', type: 'catch', scope: ['c1'], uncaught: false, wires: [['sink']] });
    await produce(ta, 0, 10);
    await produce(tb, 100, 10);
    await produce(`${base}-c`, 200, 10);
    await helper.load(nodes, f, { cfg: {} });
    const records = (): Msg[] => received.filter((m) => m.eventstreams);
    await waitFor(() => records().length >= 20, '20 records', { timeoutMs: 60_000, intervalMs: 20 });
    assert.deepEqual([...new Set(records().map((m) => m.topic))].sort(), [ta, tb], 'the pattern picks a and b');
    const c1 = helper.getNode('c1');
    const lagMsgs = (): Msg[] => received.filter((m) => m.payload && typeof m.payload.total === 'number');
    c1.receive({ action: 'lag' });
    await waitFor(() => lagMsgs().length >= 1, 'a lag answer', { timeoutMs: 20_000 });
    assert.equal(lagMsgs()[0]!.payload.total, 20, 'manual mode: nothing committed yet');
    c1.receive({ action: 'commit' });
    const committedTotal = async (): Promise<number> => {
      const offs = await admin.fetchOffsets({ groupId, topics: [ta, tb] });
      return offs.reduce((s, t) => s + t.partitions.reduce((x, p) => x + Math.max(0, Number(p.offset)), 0), 0);
    };
    await eventually(async () => (await committedTotal()) === 20, 'the commit action to commit what was handled');
    c1.receive({ action: 'pause' });
    await produce(ta, 10, 5);
    c1.receive({ action: 'resume' });
    await waitFor(() => records().length >= 25, 'the records produced while paused', { timeoutMs: 30_000 });
    c1.receive({ action: 'seek', payload: { topic: ta, partition: 0, offset: 'earliest' } });
    await waitFor(() => records().length >= 40, 'topic a read again after the seek', { timeoutMs: 30_000 });
    c1.receive({ action: 'explode' });
    c1.receive({ action: 'seek', payload: { topic: 'nope', partition: 0, offset: 1 } });
    const errors = (): Msg[] => received.filter((m) => m.error);
    await waitFor(() => errors().length >= 2, 'two errors in Catch', { timeoutMs: 10_000 });
    assert.deepEqual(errors().map((m) => m.error.code), ['VALIDATION', 'VALIDATION']);
  });

  it('two Node-RED runtimes in one group share the partitions and the survivor takes over', async function () {
    const topic = await createTopic('cons-group', 4);
    const groupId = `g-${topic}`;
    const script = path.join(__dirname, 'consumer-instance.js');
    interface Instance {
      proc: ChildProcess;
      got: Array<{ p: number; o: number; k: string }>;
      ready: boolean;
      stopped: boolean;
    }
    const start = (): Instance => {
      const proc = spawn(process.execPath, [script], {
        env: {
          ...process.env,
          CONSUMER_INSTANCE: JSON.stringify({ brokers: kafka.brokers.join(','), topic, groupId }),
        },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const inst: Instance = { proc, got: [], ready: false, stopped: false };
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        if (line === 'READY') inst.ready = true;
        else if (line === 'STOPPED') inst.stopped = true;
        else if (line.startsWith('{')) inst.got.push(JSON.parse(line));
      });
      return inst;
    };
    const a = start();
    const b = start();
    try {
      await waitFor(() => a.ready && b.ready, 'both runtimes', { timeoutMs: 30_000, intervalMs: 20 });
      const both = (): boolean => {
        return a.got.length > 0 && b.got.length > 0;
      };
      // Keep producing until both members have their share (the group settles after the second joins).
      let produced = 0;
      while (!both()) {
        await produce(topic, produced, 100);
        produced += 100;
        await new Promise((r) => setTimeout(r, 200));
        if (produced > 20_000) throw new Error('the two members never shared the partitions');
      }
      const key = (r: { p: number; o: number }): string => `${r.p}/${r.o}`;
      const partsA = new Set(a.got.map((r) => r.p));
      const partsB = new Set(b.got.map((r) => r.p));
      b.proc.stdin!.write('stop\n');
      await waitFor(() => b.stopped, 'b stopped', { timeoutMs: 30_000, intervalMs: 20 });
      const beforeMore = produced;
      await produce(topic, produced, 400);
      produced += 400;
      const ends = await admin.fetchTopicOffsets(topic);
      const total = ends.reduce((s, e) => s + Number(e.high), 0);
      assert.equal(total, produced);
      const seen = (): number => new Set([...a.got, ...b.got].map(key)).size;
      await waitFor(() => seen() >= total, 'every record by one member or the other', {
        timeoutMs: 60_000,
        intervalMs: 20,
      });
      const lateParts = new Set(a.got.slice(-400).map((r) => r.p));
      const dups = a.got.length + b.got.length - seen();
      console.log(
        `      (a read partitions ${[...partsA].sort().join(',')}, b ${[...partsB].sort().join(',')}; ` +
          `after b stopped a read ${[...lateParts].sort().join(',')}; ${produced} records, ${dups} duplicates)`,
      );
      assert.ok(beforeMore > 0);
      assert.equal(lateParts.size, 4, 'the survivor reads every partition');
    } finally {
      for (const i of [a, b]) if (i.proc.exitCode === null) i.proc.stdin!.write('stop\n');
      await waitFor(() => a.proc.exitCode !== null && b.proc.exitCode !== null, 'children exit', {
        timeoutMs: 30_000,
        intervalMs: 20,
      }).catch(() => {
        a.proc.kill();
        b.proc.kill();
      });
    }
  });
});
