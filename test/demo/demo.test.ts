// SPDX-License-Identifier: Apache-2.0
/**
 * `npm start` headless: the demo (local endpoint + Node-RED child + demo flow) runs for a few
 * seconds in a temp directory, checks that keyed records with headers arrived, and exits 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  debugSidebar,
  endpointClient,
  getFlows,
  inject,
  postFlows,
  startDemo,
  type RunningDemo,
} from '../support/demo';
import { kafkaClient, kafkaOrSkip } from '../support/kafka';
import { SHARED_ENDPOINT_ID } from '../../scripts/demo-flow';
import { waitFor } from '../support/wait';

const DEMO = path.resolve(__dirname, '..', '..', 'scripts', 'demo.js');

describe('demo (npm start --check)', function () {
  this.timeout(90000);
  let dir: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-demo-'));
  });

  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('runs the demo flow against the local endpoint and exits 0 with ok:true', async () => {
    await runDemo(['--dir', dir]);
  });

  it('runs the same demo on a Kafka-backed endpoint (npm start -- --kafka BROKERS)', async function () {
    const kafka = await kafkaOrSkip(this);
    // The demo always writes to the same topic: start from none so earlier runs cannot be counted.
    const admin = kafkaClient(kafka.brokers).admin();
    await admin.connect();
    try {
      if ((await admin.listTopics()).includes('sensor-readings')) {
        await admin.deleteTopics({ topics: ['sensor-readings'], timeout: 10000 });
      }
    } finally {
      await admin.disconnect();
    }
    await runDemo(['--dir', path.join(dir, 'kafka'), '--kafka', kafka.brokers.join(',')]);
  });

  describe('the Kafka-backed demo runs example 09, the round trip (npm start -- --kafka BROKERS)', () => {
    let demo: RunningDemo | undefined;
    let sidebar: Awaited<ReturnType<typeof debugSidebar>> | undefined;
    afterEach(async () => {
      sidebar?.close();
      sidebar = undefined;
      await demo?.stop();
      demo = undefined;
    });

    it('producer → round-trip → consumer (no SASL, no TLS to the broker) → debug, as deployed', async function () {
      const kafka = await kafkaOrSkip(this);
      this.timeout(180_000);
      // Fixed names (the example's): start from no topic and no group, so only this run counts.
      const admin = kafkaClient(kafka.brokers).admin();
      await admin.connect();
      try {
        if ((await admin.listTopics()).includes('round-trip')) {
          await admin.deleteTopics({ topics: ['round-trip'], timeout: 10000 });
        }
        await admin.deleteGroups(['node-red-round-trip']).catch(() => undefined);
      } finally {
        await admin.disconnect();
      }
      demo = await startDemo(path.join(dir, 'round-trip'), ['--kafka', kafka.brokers.join(',')]);
      assert.match(demo.output(), /Round trip/);
      const flows = await getFlows(demo);
      const endpoint = flows.find((n) => n.id === SHARED_ENDPOINT_ID)!;
      assert.equal(endpoint.saslMechanism, 'none', 'the demo chooses no SASL explicitly');
      assert.equal(endpoint.brokersTls, false);
      assert.ok(
        flows.some((n) => n.id === 'es-ex09-consumer'),
        'example 09 is deployed',
      );
      sidebar = await debugSidebar(demo);
      const consumed = (): Array<{ id: string; msg: string }> =>
        sidebar!.messages.filter((m) => m.id === 'es-ex09-consumed');
      // The consumer may still be joining its group: a record sent now is read from earliest.
      await inject(demo, 'es-ex09-send');
      await waitFor(() => consumed().length >= 1, 'the record back through the consumer', {
        timeoutMs: 90_000,
      });
      const msg = JSON.parse(consumed()[0]!.msg) as {
        payload: unknown;
        key: string;
        eventstreams: { topic: string; headers: Record<string, unknown> };
      };
      assert.deepEqual(msg.payload, { item: 'coffee', quantity: 2 });
      assert.equal(msg.key, 'order-42');
      assert.equal(msg.eventstreams.topic, 'round-trip');
      assert.equal(msg.eventstreams.headers.source, 'node-red');
      // The producer's delivery report came back too.
      assert.ok(
        sidebar.messages.some((m) => m.id === 'es-ex09-report'),
        'a delivery report',
      );
    });
  });

  describe('keeps your work across restarts', () => {
    let demo: RunningDemo | undefined;
    afterEach(async () => {
      await demo?.stop();
      demo = undefined;
    });

    it('a first flow to a brand-new topic delivers on its first inject, and survives a restart; --reset starts over', async function () {
      // Three cold starts of the demo (endpoint + a Node-RED child), each allowed 60 s by
      // startDemo, plus two deliveries of up to 20 s: 90 s ran out on a busy 2-core machine.
      this.timeout(240_000);
      const stateDir = path.join(dir, 'keep');
      demo = await startDemo(stateDir);
      const firstPort = new URL(demo.endpointUrl).port;
      // A user's first flow: inject → producer on the demo's (only) endpoint, topic never created.
      const topic = `my-first-topic-${process.pid}`;
      const flows = await getFlows(demo);
      flows.push(
        { id: 'my-tab', type: 'tab', label: 'My flow' },
        {
          id: 'my-inject',
          type: 'inject',
          z: 'my-tab',
          props: [{ p: 'payload' }, { p: 'key', v: 'k1', vt: 'str' }],
          payload: 'hello',
          payloadType: 'str',
          repeat: '',
          once: false,
          wires: [['my-producer']],
        },
        {
          id: 'my-producer',
          type: 'event-streams-producer',
          z: 'my-tab',
          endpoint: SHARED_ENDPOINT_ID,
          topic,
          key: 'key',
          keyType: 'msg',
          headers: '',
          headersType: 'none',
          outputs: 1,
          wires: [[]],
        },
      );
      await postFlows(demo, flows);
      let es = await endpointClient(demo);
      await inject(demo, 'my-inject');
      await waitFor(async () => (await es.records(topic)).length === 1, 'the first record', {
        timeoutMs: 20000,
      });
      await es.close();
      await demo.stop();

      demo = await startDemo(stateDir);
      assert.equal(new URL(demo.endpointUrl).port, firstPort, 'the endpoint keeps its port');
      assert.match(demo.output(), /Kept your flows/);
      const kept = await getFlows(demo);
      assert.ok(
        kept.some((n) => n.id === 'my-producer'),
        'the flow survived',
      );
      es = await endpointClient(demo);
      await inject(demo, 'my-inject');
      // The memory backend starts empty; the key, CA and port are the same, so the record lands.
      await waitFor(async () => (await es.records(topic)).length === 1, 'a record after the restart', {
        timeoutMs: 20000,
      });
      await es.close();
      await demo.stop();

      demo = await startDemo(stateDir, ['--reset']);
      const fresh = await getFlows(demo);
      assert.ok(!fresh.some((n) => n.id === 'my-producer'), '--reset removed the flow');
      assert.ok(
        fresh.some((n) => n.id === 'demo-producer'),
        '--reset deployed the demo flow again',
      );
    });
  });

  async function runDemo(args: string[]): Promise<void> {
    const child = spawn(process.execPath, [DEMO, '--check', '--seconds', '5', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      const guard = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the demo did not exit within 60 s\n${stdout}\n${stderr.slice(-2000)}`));
      }, 60000);
      child.once('exit', (c) => {
        clearTimeout(guard);
        resolve(c);
      });
    });
    const detail = `exit ${code}\nstdout: ${stdout}\nstderr: ${stderr.slice(-2000)}`;
    assert.equal(code, 0, detail);
    const last = stdout.trim().split('\n').at(-1) ?? '';
    const result = JSON.parse(last) as { ok: boolean; records: number; topic: string };
    assert.equal(result.ok, true, detail);
    assert.equal(result.topic, 'sensor-readings');
    // One reading a second for five seconds, the first after about a second.
    assert.ok(result.records >= 3, detail);
  }
});
