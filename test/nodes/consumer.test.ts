// SPDX-License-Identifier: Apache-2.0
/**
 * The consumer node's configuration errors in Node-RED's real runtime, without a broker: each shows
 * a translated error status, and every input msg still gets one outcome (Catch, with a code).
 * Consuming itself is tested on real Kafka in test/kafka/consumer-kafka.test.ts.
 */
import assert from 'node:assert/strict';

import consumerNode from '../../nodes/event-streams-consumer';
import { TAB, catchNode, collect, endpointNode, helper, seenStatuses, until } from './support';

const nodes = [endpointNode, consumerNode, catchNode];

function flow(consumer: Record<string, unknown>, endpoint: Record<string, unknown> = {}): unknown[] {
  return [
    TAB,
    {
      id: 'cfg',
      type: 'event-streams-endpoint',
      url: 'https://127.0.0.1:9',
      authMode: 'none',
      brokersTls: false,
      ...endpoint,
    },
    {
      id: 'c1',
      z: 'tab1',
      type: 'event-streams-consumer',
      endpoint: 'cfg',
      topics: 't1',
      groupId: 'g1',
      wires: [[]],
      ...consumer,
    },
    { id: 'ct', z: 'tab1', type: 'catch', scope: ['c1'], uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab1', type: 'helper' },
  ];
}

describe('event-streams-consumer node (no broker)', function () {
  afterEach(async () => {
    await helper.unload();
  });

  it('an endpoint without Kafka brokers: error status, and input msgs go to Catch', async () => {
    await helper.load(nodes, flow({}), { cfg: {} });
    const caught = collect('caught');
    helper.getNode('c1').receive({ action: 'pause' });
    await until(() => caught.length === 1, 5000, 'the msg in Catch');
    assert.equal(caught[0]!.error.code, 'CLOSED');
    // Statuses are throttled to one a second: the error follows "connecting…". The test helper's
    // RED._ returns keys; status-keys.test.ts checks them against the catalog.
    await until(
      () => seenStatuses.get('event-streams-consumer')?.has('event-streams-consumer.status.error') === true,
      5000,
      'the error status',
    );
  });

  it('a bad /pattern/ is refused once, with VALIDATION, and a bad action goes to Catch', async () => {
    await helper.load(nodes, flow({ topics: '/(a)\\1/' }, { brokers: '127.0.0.1:9' }), { cfg: {} });
    const caught = collect('caught');
    const c1 = helper.getNode('c1');
    await until(
      () =>
        (helper.log().args as unknown[][]).some((a) =>
          /topic pattern is not accepted/.test(String((a[0] as { msg?: unknown })?.msg ?? '')),
        ),
      5000,
      'the refusal logged',
    );
    c1.receive({ action: 'explode' });
    await until(() => caught.length === 1, 5000, 'the msg in Catch');
    assert.equal(caught[0]!.error.code, 'VALIDATION');
    await until(
      () => seenStatuses.get('event-streams-consumer')?.has('event-streams-consumer.status.error') === true,
      5000,
      'the error status',
    );
  });
});
