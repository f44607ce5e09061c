// SPDX-License-Identifier: Apache-2.0
/**
 * What a new user meets in the runtime (issue 27), in Node-RED's real runtime (the test helper)
 * against the local endpoint over HTTPS: twelve producers start and redeploy without Node's
 * MaxListenersExceededWarning for `flows:started` and all deliver; a Catch node's
 * `msg.error.message` starts with the code; one bad message's red ring gives way to the healthy
 * status.
 */
import assert from 'node:assert/strict';

import {
  TAB,
  allNodes,
  collect,
  endpointConfig,
  helper,
  startTestEndpoint,
  uniqueTopic,
  type TestEndpoint,
} from './support';
import { waitFor } from '../support/wait';

const COUNT = 12;

describe('event-streams-producer: the first hour', function () {
  this.timeout(60000);
  let te: TestEndpoint;
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(w);
  };

  before(async () => {
    te = await startTestEndpoint();
    process.on('warning', onWarning);
  });

  after(async () => {
    process.off('warning', onWarning);
    await te?.stop();
  });

  afterEach(async () => {
    await helper.unload();
  });

  it(`${COUNT} producers start, redeploy and deliver without a MaxListenersExceededWarning`, async function () {
    const topic = uniqueTopic('many');
    await te.endpoint.backend.createTopic(topic, 1, []);
    const flow: Array<Record<string, unknown>> = [TAB, endpointConfig(te.endpoint)];
    for (let i = 0; i < COUNT; i++) {
      flow.push({
        id: `p${i}`,
        type: 'event-streams-producer',
        z: 'tab1',
        endpoint: 'cfg',
        topic,
        wires: [['out']],
      });
    }
    flow.push({ id: 'out', type: 'helper', z: 'tab1' });
    const creds = { cfg: { apiKey: te.endpoint.apiKey, ca: te.endpoint.caPem } };
    await helper.load(allNodes, flow, creds);
    // A full redeploy: the same nodes stopped and started again, each waiting for flows:started.
    await helper.setFlows(flow, 'full', creds);
    const reports = collect('out');
    for (let i = 0; i < COUNT; i++) helper.getNode(`p${i}`).receive({ payload: `from ${i}` });
    await waitFor(() => reports.length === COUNT, `${COUNT} delivery reports`, { timeoutMs: 30000 });
    // 'warning' events are emitted on the next tick; the reports above took longer than that.
    const listenerWarnings = warnings.filter(
      (w) => w.name === 'MaxListenersExceededWarning' && /flows:started/.test(w.message),
    );
    assert.deepEqual(
      listenerWarnings.map((w) => w.message),
      [],
    );
    assert.equal(new Set(reports.map((m) => m.eventstreams.topic)).size, 1);
  });

  it("a Catch node's msg.error.message starts with the code; the red ring of one bad message gives way", async function () {
    const topic = uniqueTopic('bad');
    await te.endpoint.backend.createTopic(topic, 1, []);
    const flow = [
      TAB,
      endpointConfig(te.endpoint),
      // Topic from msg.topic, so that one message can name a bad one.
      { id: 'p1', type: 'event-streams-producer', z: 'tab1', endpoint: 'cfg', topic: '', wires: [['out']] },
      { id: 'out', type: 'helper', z: 'tab1' },
      { id: 'c1', type: 'catch', z: 'tab1', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'tab1' },
    ];
    await helper.load(allNodes, flow, { cfg: { apiKey: te.endpoint.apiKey, ca: te.endpoint.caPem } });
    const p1 = helper.getNode('p1');
    const statuses: Array<Record<string, unknown>> = [];
    p1.on('call:status', (call: { args: Array<Record<string, unknown>> }) => statuses.push(call.args[0]!));
    const caught = collect('caught');
    const reports = collect('out');
    // A good record first: the producer is healthy.
    p1.receive({ payload: 'fine', topic });
    await waitFor(() => reports.length === 1, 'the first delivery report', { timeoutMs: 10000 });
    await waitFor(() => statuses.at(-1)?.fill === 'green', 'the green status', { timeoutMs: 5000 });
    // One bad message: a topic name Kafka refuses.
    p1.receive({ payload: 'x', topic: 'no spaces allowed' });
    await waitFor(() => caught.length === 1, 'the error at the Catch node', { timeoutMs: 10000 });
    const message = String(caught[0]!.error.message);
    assert.equal(caught[0]!.error.code, 'INVALID_TOPIC', message);
    assert.match(message, /^INVALID_TOPIC: /);
    assert.doesNotMatch(message, /Error:/);
    await waitFor(() => statuses.at(-1)?.fill === 'red', 'the red ring', { timeoutMs: 5000 });
    // No further input: the healthy status returns on its own.
    await waitFor(() => statuses.at(-1)?.fill === 'green', 'the green status again', { timeoutMs: 15000 });
    assert.equal(statuses.at(-1)!.text, 'event-streams-producer.status.connected');
  });
});
