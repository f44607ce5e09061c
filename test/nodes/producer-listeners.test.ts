// SPDX-License-Identifier: Apache-2.0
/**
 * Twelve producers in one flow, in Node-RED's real runtime (the test helper): starting and
 * redeploying them must not print Node's MaxListenersExceededWarning for `flows:started`
 * (issue 27: one listener per producer passed the emitter's limit of 10), and every one of them
 * still delivers.
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
  until,
  type TestEndpoint,
} from './support';

const COUNT = 12;

describe('event-streams-producer: many producers in one flow', function () {
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
    await helper.unload();
    await te?.stop();
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
    await until(() => reports.length === COUNT, 30000, `${COUNT} delivery reports`);
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
});
