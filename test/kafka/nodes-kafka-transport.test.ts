// SPDX-License-Identifier: Apache-2.0
/**
 * The producer node over the Kafka transport (endpoint `transport: kafka`) in Node-RED's real
 * runtime (node-red-node-test-helper runs the installed flow engine):
 * - MQTT in (the real Mosquitto on 127.0.0.1:1883, Node-RED's own mqtt nodes) → producer →
 *   Kafka, read back with kcat (librdkafka, an independent client): everything delivered, the
 *   reported partition/offset are where Kafka holds each record, keys and headers intact, per-key
 *   order;
 * - lifecycle: full redeploy under load, node removal, stop, and a broker outage, each counting
 *   sent = delivered + caught (Catch node) + counted in the log, with per-key order through the
 *   outage.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { promisify } from 'node:util';

import { readAll, useKafkaView } from '../support/kafka';
import { TAB, allNodes, coreNode, helper, kafkaEndpointConfig } from '../nodes/support';
import { delay, waitFor } from '../support/wait';

const KCAT = '/usr/bin/kcat';
const mqttNode = coreNode('network/10-mqtt.js');
const changeNode = coreNode('function/15-change.js');

const sink = { delivered: [] as any[], caught: [] as any[] };
function counterNode(RED: any): void {
  RED.nodes.registerType('kt-counter', function (this: any, cfg: any) {
    RED.nodes.createNode(this, cfg);
    this.on('input', (msg: any, _send: unknown, done: () => void) => {
      (sink as any)[cfg.kind].push(msg);
      done();
    });
  });
}
const nodes = [...allNodes, mqttNode, changeNode, counterNode];

/** Messages the producer counted in log lines (removed or stopped with no node to report to). */
function logged(): number {
  let n = 0;
  for (const call of helper.log()?.args ?? []) {
    const text = String(call[0]?.msg ?? call[0] ?? '');
    for (const re of [
      /(\d+) message\(s\) were not sent \(/,
      /(\d+) message\(s\) were written while the node was being stopped/,
      /(\d+) message\(s\) failed while the node was being stopped/,
    ]) {
      const m = re.exec(text);
      if (m) n += Number(m[1]);
    }
  }
  return n;
}
const accounted = (): number => sink.delivered.length + sink.caught.length + logged();

describe('producer node over the Kafka transport (real Node-RED runtime, real Kafka)', function () {
  this.timeout(120_000);
  const kv = useKafkaView();
  beforeEach(() => {
    sink.delivered.length = 0;
    sink.caught.length = 0;
  });
  afterEach(async () => {
    await helper.unload();
  });

  const createTopic = (partitions: number): Promise<string> => kv.createTopic('kt', partitions);
  /** A Kafka-transport endpoint to the plaintext test broker. */
  const endpoint = (overrides: Record<string, unknown> = {}): Record<string, unknown> =>
    kafkaEndpointConfig(kv.kafka.brokers, overrides);

  function flow(topic: string, cfg: Record<string, unknown> = {}, withProducer = true): any[] {
    return [
      TAB,
      endpoint(cfg),
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
      { id: 'n-out', z: 'tab1', type: 'kt-counter', kind: 'delivered' },
      { id: 'c1', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['n-caught']] },
      { id: 'n-caught', z: 'tab1', type: 'kt-counter', kind: 'caught' },
    ];
  }

  function summary(name: string, sent: number): void {
    console.log(
      `      [kafka transport] ${name}: sent=${sent} delivered=${sink.delivered.length} caught=${sink.caught.length} logged=${logged()}`,
    );
  }

  it('MQTT in → producer (transport kafka) → Kafka: kcat reads every record where the report says, keys/headers intact, order per key', async function () {
    if (!fs.existsSync(KCAT)) this.skip(); // the reader; installed on the test machines
    const topic = await createTopic(3);
    const mqttTopic = `esnodes/${topic}`;
    await helper.load(nodes, [
      TAB,
      endpoint(),
      {
        id: 'mb',
        type: 'mqtt-broker',
        name: 'mosquitto',
        broker: '127.0.0.1',
        port: '1883',
        clientid: '',
        autoConnect: true,
        usetls: false,
        protocolVersion: '4',
        keepalive: '60',
        cleansession: true,
      },
      { id: 'mo', z: 'tab1', type: 'mqtt out', broker: 'mb', topic: '', qos: '1', retain: 'false' },
      {
        id: 'mi',
        z: 'tab1',
        type: 'mqtt in',
        broker: 'mb',
        topic: `${mqttTopic}/#`,
        qos: '1',
        datatype: 'utf8',
        wires: [['ch']],
      },
      {
        // The device id (last MQTT topic level) becomes the record key; the MQTT topic a header.
        id: 'ch',
        z: 'tab1',
        type: 'change',
        rules: [
          { t: 'set', p: 'key', pt: 'msg', to: "$split(topic, '/')[-1]", tot: 'jsonata' },
          {
            t: 'set',
            p: 'headers',
            pt: 'msg',
            to: '{"mqtt-topic": topic, "source": "mqtt"}',
            tot: 'jsonata',
          },
        ],
        wires: [['p1']],
      },
      { id: 'p1', z: 'tab1', type: 'event-streams-producer', endpoint: 'cfg', topic, wires: [['n-out']] },
      { id: 'n-out', z: 'tab1', type: 'kt-counter', kind: 'delivered' },
      { id: 'c1', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['n-caught']] },
      { id: 'n-caught', z: 'tab1', type: 'kt-counter', kind: 'caught' },
    ]);
    const mi = helper.getNode('mi');
    await waitFor(() => mi.brokerConn?.connected === true, 'the MQTT connection', { timeoutMs: 10_000 });
    // The subscription is made on connect; wait until a probe comes back through it.
    const mo = helper.getNode('mo');
    const sent = 300;
    const devices = 6;
    for (let i = 0; i < sent; i++) {
      mo.receive({ topic: `${mqttTopic}/dev${i % devices}`, payload: JSON.stringify({ seq: i }) });
    }
    await waitFor(() => accounted() >= sent, 'every outcome', { timeoutMs: 60_000 });
    summary('mqtt → kafka', sent);
    assert.equal(sink.caught.length, 0, JSON.stringify(sink.caught[0]?.error));
    assert.equal(sink.delivered.length, sent);

    const { stdout } = await promisify(execFile)(
      KCAT,
      [
        '-b',
        kv.kafka.brokers.join(','),
        '-C',
        '-t',
        topic,
        '-o',
        'beginning',
        '-e',
        '-q',
        '-f',
        '%p\t%o\t%k\t%h\t%s\n',
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const rows = stdout
      .trim()
      .split('\n')
      .map((line) => {
        const [p, o, k, h, s] = line.split('\t');
        return { partition: Number(p), offset: Number(o), key: k!, headers: h!, value: s! };
      });
    assert.equal(rows.length, sent, 'kcat reads exactly what was acknowledged');
    const at = new Map(rows.map((r) => [`${r.partition}/${r.offset}`, r]));
    for (const msg of sink.delivered) {
      const es = msg.eventstreams;
      assert.equal(es.topic, topic);
      const row = at.get(`${es.partition}/${es.offset}`);
      assert.ok(row, `nothing at ${es.partition}/${es.offset}`);
      assert.equal(row.value, msg.payload);
      assert.equal(row.key, msg.key);
      assert.equal(row.headers, `mqtt-topic=${msg.topic},source=mqtt`);
    }
    const last = new Map<string, number>();
    for (const r of rows.sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
      const seq = (JSON.parse(r.value) as { seq: number }).seq;
      assert.ok((last.get(r.key) ?? -1) < seq, `key ${r.key} out of order`);
      last.set(r.key, seq);
    }
    assert.equal(last.size, devices);
  });

  it('full redeploy under load: unsent records are handed to the new instance, all delivered', async () => {
    const topic = await createTopic(1);
    const f = flow(topic);
    await helper.load(nodes, f);
    const sent = 800;
    const p1 = helper.getNode('p1');
    for (let i = 0; i < sent; i++) p1.receive({ payload: `r${i}`, key: `k${i % 4}` });
    await helper.setFlows(f, 'full');
    assert.notEqual(helper.getNode('p1'), p1, 'the producer was replaced');
    await waitFor(() => accounted() >= sent, 'every outcome', { timeoutMs: 60_000 }).catch((e) => {
      summary('redeploy (timeout)', sent);
      console.log(
        String(
          helper
            .log()
            ?.args?.slice(-5)
            .map((a: any) => JSON.stringify(a[0])),
        ),
      );
      throw e;
    });
    await delay(50);
    summary('redeploy', sent);
    assert.equal(accounted(), sent);
    assert.equal(sink.delivered.length, sent);
    const read = await readAll(kv.kafka.brokers, topic, sent);
    assert.equal(new Set(read.map((r) => r.value!.toString())).size, sent);
  });

  it('node removal and stop: every message delivered, caught (CLOSED) or counted in the log', async () => {
    for (const how of ['removal', 'stop'] as const) {
      sink.delivered.length = 0;
      sink.caught.length = 0;
      helper.log()?.resetHistory?.();
      const topic = await createTopic(1);
      await helper.load(nodes, flow(topic));
      const sent = 800;
      const p1 = helper.getNode('p1');
      for (let i = 0; i < sent; i++) p1.receive({ payload: `r${i}` });
      if (how === 'removal') await helper.setFlows(flow(topic, {}, false), 'nodes');
      else await helper.clearFlows();
      await waitFor(() => accounted() >= sent, `every outcome after ${how}`, { timeoutMs: 30_000 });
      await delay(50);
      summary(how, sent);
      assert.equal(accounted(), sent);
      for (const m of sink.caught) assert.equal(m.eventstreams.error.code, 'CLOSED');
      await helper.unload();
    }
  });

  it('broker outage: records wait and are delivered once it is back, in order per key', async function () {
    if (!kv.kafka.instance.pause || !kv.kafka.instance.resume) this.skip(); // external cluster: no outage control
    const topic = await createTopic(2);
    await helper.load(nodes, flow(topic, { retries: 100, retryDelay: 200, maxRetryTime: 120 }));
    const p1 = helper.getNode('p1');
    p1.receive({ payload: 'warm-up', key: 'k0' });
    await waitFor(() => sink.delivered.length === 1, 'the first delivery', { timeoutMs: 20_000 });
    await kv.kafka.instance.pause();
    let resumed = false;
    try {
      const sent = 60;
      for (let i = 0; i < sent; i++) p1.receive({ payload: `o${i}`, key: `k${i % 3}` });
      await delay(1500); // the outage: records are being retried, none may be lost
      assert.equal(sink.caught.length, 0);
      await kv.kafka.instance.resume();
      resumed = true;
      await waitFor(() => accounted() >= sent + 1, 'every outcome after the outage', { timeoutMs: 90_000 });
      summary('outage', sent + 1);
      assert.equal(sink.caught.length, 0);
      assert.equal(sink.delivered.length, sent + 1);
      const read = await readAll(kv.kafka.brokers, topic, sent + 1);
      const last = new Map<string, number>();
      for (const r of read) {
        const v = r.value!.toString();
        if (v === 'warm-up') continue;
        const seq = Number(v.slice(1));
        const key = r.key!.toString();
        assert.ok((last.get(key) ?? -1) < seq, `key ${key} out of order at ${seq}`);
        last.set(key, seq);
      }
    } finally {
      if (!resumed) await kv.kafka.instance.resume();
    }
  });
});
