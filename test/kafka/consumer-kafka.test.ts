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

import { readFileSync } from 'node:fs';

import { startLocalEndpoint, type LocalEndpoint } from '../../gateway';
import consumerNode from '../../nodes/event-streams-consumer';
import { LOCAL_SASL_USER } from '../../scripts/kafka';
import { kafkaClient, kafkaOrSkip, uniqueTopic, type KafkaHandle } from '../support/kafka';
import { waitFor } from '../support/wait';
import {
  TAB,
  catchNode,
  collect,
  coreNode,
  endpointNode,
  helper,
  producerNode,
  topicAdminNode,
} from '../nodes/support';
import { createTopicsReady } from '../../lib/kafka-cluster';

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
    await createTopicsReady(admin, { topics: [{ topic, numPartitions: partitions }] });
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

  it('controls by msg: lag, manual commit, pause, resume, seek; a /pattern/ subscription', async () => {
    const base = uniqueTopic('cons-ctl');
    const [ta, tb] = [`${base}-a`, `${base}-b`];
    await createTopicsReady(admin, {
      topics: [ta, tb, `${base}-c`].map((topic) => ({ topic, numPartitions: 1 })),
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
    assert.deepEqual(
      [...new Set(records().map((m) => m.topic))].sort(),
      [ta, tb],
      'the pattern picks a and b',
    );
    const c1 = helper.getNode('c1');
    const lagMsgs = (): Msg[] => received.filter((m) => m.payload && typeof m.payload.total === 'number');
    c1.receive({ action: 'lag' });
    await waitFor(() => lagMsgs().length >= 1, 'a lag answer', { timeoutMs: 20_000 });
    assert.equal(lagMsgs()[0]!.payload.total, 20, 'manual mode: nothing committed yet');
    c1.receive({ action: 'commit' });
    const committedTotal = async (): Promise<number> => {
      const offs = await admin.fetchOffsets({ groupId, topics: [ta, tb] });
      return offs.reduce(
        (s, t) => s + t.partitions.reduce((x, p) => x + Math.max(0, Number(p.offset)), 0),
        0,
      );
    };
    await eventually(
      async () => (await committedTotal()) === 20,
      'the commit action to commit what was handled',
    );
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
    assert.deepEqual(
      errors().map((m) => m.error.code),
      ['VALIDATION', 'VALIDATION'],
    );
  });

  describe('the consumer examples, on a Kafka-backed local endpoint', () => {
    let ep: LocalEndpoint | undefined;
    const dir = path.resolve(__dirname, '..', '..', '..', 'examples');
    const exampleNodes = [
      endpointNode,
      producerNode,
      topicAdminNode,
      consumerNode,
      coreNode('common/20-inject.js'),
      coreNode('common/21-debug.js'),
      coreNode('common/90-comment.js'),
      coreNode('function/10-switch.js'),
    ];

    before(async function () {
      if (!kafka.instance.saslBrokers) {
        // The examples' endpoint authenticates to REST and Kafka with one identity; only the
        // broker this suite starts has the SASL listener that identity needs.
        console.log('      (skipped: KAFKA_BROKERS names an external cluster without the local SASL user)');
        this.skip();
      }
      ep = await startLocalEndpoint({
        port: 0,
        users: [{ ...LOCAL_SASL_USER }],
        kafka: { brokers: kafka.brokers, clientId: 'consumer-examples' },
      });
    });

    after(async () => {
      await ep?.stop();
    });

    afterEach(() => {
      for (const name of ['ES_URL', 'ES_ADMIN_URL', 'ES_BROKERS', 'ES_CA', 'ES_API_KEY'])
        delete process.env[name];
    });

    /**
     * Loads an example as shipped except for the connection (username/password, which the local
     * broker's SASL listener and the local endpoint both accept, instead of an API key; brokers
     * without TLS) and unique topic and group names.
     */
    async function deploy(file: string, names: Record<string, string>): Promise<void> {
      Object.assign(process.env, {
        ES_URL: ep!.url,
        ES_ADMIN_URL: ep!.adminUrl,
        ES_BROKERS: kafka.instance.saslBrokers!.join(','),
        ES_CA: ep!.caPem!,
      });
      const credentials: Record<string, Record<string, string>> = {};
      let text = readFileSync(path.join(dir, file), 'utf8');
      for (const [from, to] of Object.entries(names)) text = text.split(`"${from}"`).join(`"${to}"`);
      const nodes = (JSON.parse(text) as Msg[]).map((n) => {
        const copy: Msg = { ...n, ...(n.type === 'event-streams-endpoint' ? {} : { z: TAB.id }) };
        if (copy.type === 'event-streams-endpoint') {
          delete copy.credentials;
          copy.authMode = 'basic';
          copy.brokersTls = false;
          credentials[copy.id] = { ...LOCAL_SASL_USER, ca: ep!.caPem! };
        }
        return copy;
      });
      await helper.load(exampleNodes, [TAB, ...nodes], credentials);
    }

    it('08 consume and route by key: the readings of each device reach its own debug node', async () => {
      const topic = await createTopic('sensor-readings', 3);
      await deploy('08 - Consume and route by key.json', {
        'sensor-readings': topic,
        'node-red-router': `g-${topic}`,
      });
      const [boilers, pumps, others] = ['es-ex08-boilers', 'es-ex08-pumps', 'es-ex08-others'].map(collect);
      await producer.send({
        topic,
        messages: ['boiler-1', 'pump-2', 'fan-3', 'boiler-1'].map((device, i) => ({
          key: device,
          value: JSON.stringify({ device, temperature: 20 + i }),
        })),
      });
      await waitFor(() => boilers!.length + pumps!.length + others!.length >= 4, 'four readings routed', {
        timeoutMs: 30_000,
        intervalMs: 20,
      });
      assert.deepEqual(
        boilers!.map((m) => m.key),
        ['boiler-1', 'boiler-1'],
      );
      assert.deepEqual(
        pumps!.map((m) => m.payload.device),
        ['pump-2'],
      );
      assert.equal(others![0]!.eventstreams.key, 'fan-3');
    });

    it('09 round trip: a record produced over REST comes back from the consumer', async () => {
      const topic = uniqueTopic('round-trip');
      await deploy('09 - Round trip producer to consumer.json', {
        'round-trip': topic,
        'node-red-round-trip': `g-${topic}`,
      });
      const reports = collect('es-ex09-report');
      const consumed = collect('es-ex09-consumed');
      // The flow's own "at start" ensure creates the topic; the producer needs it first.
      await eventually(async () => (await admin.listTopics()).includes(topic), 'the topic ensured at start');
      helper.getNode('es-ex09-send').receive({});
      await waitFor(() => reports.length >= 1 && consumed.length >= 1, 'the record produced and consumed', {
        timeoutMs: 30_000,
        intervalMs: 20,
      });
      const m = consumed[0]!;
      assert.deepEqual(m.payload, { item: 'coffee', quantity: 2 });
      assert.equal(m.key, 'order-42');
      assert.equal(m.eventstreams.headers.source, 'node-red');
      assert.equal(m.eventstreams.offset, reports[0]!.eventstreams.offset);
      assert.equal(m.eventstreams.partition, reports[0]!.eventstreams.partition);
    });
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
