// SPDX-License-Identifier: Apache-2.0
/**
 * Every example imported into the running `npm start` demo as a user would: each file onto its own
 * tab through the editor's import rules (an existing config node id is reused), deployed with
 * POST /flows, its inject buttons pressed, and its records read back from the demo's endpoint
 * (HTTPS, verification on). No example is edited: the config node reads ${ES_URL}, ${ES_API_KEY}
 * and ${ES_CA}, which the demo sets in Node-RED's environment.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import {
  debugSidebar,
  endpointClient,
  getFlows,
  importFlow,
  inject,
  postFlows,
  startDemo,
  type FlowNode,
  type RunningDemo,
} from '../support/demo';
import { NODE_RED_DIR } from '../nodes/support';
import { SHARED_ENDPOINT_ID } from '../../scripts/demo-flow';
import { waitFor } from '../support/wait';

const EXAMPLES_DIR = path.resolve(__dirname, '..', '..', '..', 'examples');
const files = readdirSync(EXAMPLES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

function mqttReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: 1883 });
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

describe('examples imported into the running demo (npm start)', function () {
  this.timeout(120000);
  let dir: string;
  let demo: RunningDemo;
  let es: Awaited<ReturnType<typeof endpointClient>>;
  let sidebar: Awaited<ReturnType<typeof debugSidebar>>;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-demo-import-'));
    demo = await startDemo(dir);
    es = await endpointClient(demo);
    sidebar = await debugSidebar(demo);
    let flows = await getFlows(demo);
    for (const [i, file] of files.entries()) {
      const nodes = JSON.parse(readFileSync(path.join(EXAMPLES_DIR, file), 'utf8')) as FlowNode[];
      flows = importFlow(flows, nodes, `tab-example-${i}`, file.replace(/\.json$/, ''));
    }
    await postFlows(demo, flows);
  });

  after(async () => {
    sidebar?.close();
    await es?.close();
    await demo?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const hasRecord = async (topic: string, key: string): Promise<boolean> =>
    (await es.records(topic)).some((r) => r.key === key);

  it('reuses the demo config node: one shared endpoint, plus example 06 its v2/IAM one and 10 its Kafka one', async () => {
    const endpoints = (await getFlows(demo)).filter((n) => n.type === 'event-streams-endpoint');
    assert.deepEqual(endpoints.map((n) => n.id).sort(), [
      SHARED_ENDPOINT_ID,
      `${SHARED_ENDPOINT_ID}-iam`,
      `${SHARED_ENDPOINT_ID}-kafka`,
    ]);
    assert.equal(endpoints.find((n) => n.id === SHARED_ENDPOINT_ID)!.url, '${ES_URL}');
  });

  it('01 delivers text, JSON and binary records', async () => {
    for (const id of ['es-ex01-text', 'es-ex01-json', 'es-ex01-binary']) await inject(demo, id);
    await waitFor(
      async () =>
        (await hasRecord('examples', 'greeting')) &&
        (await hasRecord('examples', 'sensor-1')) &&
        (await hasRecord('examples', 'blob-1')),
      'the records of example 01',
      { timeoutMs: 20000 },
    );
    const json = (await es.records('examples')).find((r) => r.key === 'sensor-1');
    assert.deepEqual(JSON.parse(json!.value), { device: 'sensor-1', temperature: 21.5, unit: 'C' });
  });

  it('02 forwards an MQTT reading', async function () {
    if (!(await mqttReachable())) {
      if (process.env.REQUIRE_MQTT === '1')
        assert.fail('REQUIRE_MQTT=1 but no MQTT broker on 127.0.0.1:1883');
      console.log('      (skipped: no MQTT broker on 127.0.0.1:1883; REQUIRE_MQTT=1 makes this fail)');
      this.skip();
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mqtt = require(require.resolve('mqtt', { paths: [NODE_RED_DIR] }));
    const device = `demo-${randomBytes(4).toString('hex')}`;
    const client = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { reconnectPeriod: 0 });
    try {
      await waitFor(
        async () => {
          await client.publishAsync(`sensors/${device}/reading`, '{"temperature":21.5}', { qos: 1 });
          return hasRecord('iot-readings', device);
        },
        'the MQTT reading at the endpoint',
        { timeoutMs: 20000 },
      );
    } finally {
      await client.endAsync();
    }
  });

  it('03 routes per-message topics', async () => {
    await inject(demo, 'es-ex03-order');
    await inject(demo, 'es-ex03-payment');
    await waitFor(
      async () => (await hasRecord('shop-orders', 'o-1001')) && (await hasRecord('shop-payments', 'o-1001')),
      'the order and the payment',
      { timeoutMs: 20000 },
    );
  });

  it('04 ensures and deletes its topic', async () => {
    await inject(demo, 'es-ex04-do-ensure');
    await waitFor(async () => (await es.topicStatus('example-admin')) === 200, 'example-admin created', {
      timeoutMs: 20000,
    });
    await inject(demo, 'es-ex04-do-delete');
    await waitFor(async () => (await es.topicStatus('example-admin')) === 404, 'example-admin deleted', {
      timeoutMs: 20000,
    });
  });

  it('05 shows both errors with advice in the debug sidebar', async () => {
    await inject(demo, 'es-ex05-bad-topic');
    await inject(demo, 'es-ex05-null');
    const errors = (): string[] => sidebar.messages.filter((m) => m.id === 'es-ex05-error').map((m) => m.msg);
    await waitFor(() => errors().length >= 2, 'two errors at the Catch debug node', { timeoutMs: 20000 });
    assert.ok(
      errors().some((m) => m.includes('INVALID_TOPIC')),
      errors().join('\n'),
    );
    assert.ok(
      errors().some((m) => m.includes('INVALID_VALUE')),
      errors().join('\n'),
    );
  });

  it('06 ensures its topic at start and delivers through v2 with an IAM token', async () => {
    await waitFor(async () => (await es.topicStatus('cloud-events')) === 200, 'cloud-events ensured', {
      timeoutMs: 20000,
    });
    await inject(demo, 'es-ex06-event');
    await waitFor(async () => hasRecord('cloud-events', 'order-1001'), 'the v2 record', { timeoutMs: 20000 });
  });

  it('10 says at its Catch debug node that the demo has no Kafka brokers for it (the demo starts no Kafka)', async () => {
    await inject(demo, 'es-ex10-send');
    const errors = (): string[] =>
      sidebar.messages.filter((m) => m.id === 'es-ex10-errors').map((m) => m.msg);
    await waitFor(() => errors().length >= 1, 'the error at the Catch debug node', { timeoutMs: 20000 });
    assert.ok(
      errors().some((m) => /INVALID_CONFIG/.test(m) && /brokers/i.test(m)),
      errors().join('\n'),
    );
  });
});
