// SPDX-License-Identifier: Apache-2.0
/**
 * One Node-RED runtime in its own process running a consumer flow, for the "two instances in one
 * group" test: test/kafka/consumer-kafka.test.ts starts two of these. Each record reaching the
 * sink is printed as one JSON line; "stop" on stdin unloads the flow (the node's close: commit and
 * leave the group) and exits.
 */
import { createInterface } from 'node:readline';

import consumerNode from '../../nodes/event-streams-consumer';
import { endpointNode, helper } from '../nodes/support';

const cfg = JSON.parse(process.env.CONSUMER_INSTANCE ?? '{}') as {
  brokers: string;
  topic: string;
  groupId: string;
};

function sinkNode(RED: any): void {
  RED.nodes.registerType('instance-sink', function (this: any, c: any) {
    RED.nodes.createNode(this, c);
    this.on('input', (msg: any, _send: unknown, done: () => void) => {
      const es = msg.eventstreams;
      process.stdout.write(`${JSON.stringify({ p: es.partition, o: es.offset, k: msg.key })}\n`);
      done();
    });
  });
}

async function main(): Promise<void> {
  await helper.load(
    [endpointNode, consumerNode, sinkNode],
    [
      { id: 'tab1', type: 'tab', label: 'instance' },
      {
        id: 'cfg',
        type: 'event-streams-endpoint',
        url: 'https://127.0.0.1:9',
        authMode: 'none',
        brokers: cfg.brokers,
        brokersTls: false,
        closeTimeout: 10,
      },
      {
        id: 'c1',
        z: 'tab1',
        type: 'event-streams-consumer',
        endpoint: 'cfg',
        topics: cfg.topic,
        groupId: cfg.groupId,
        start: 'earliest',
        wires: [['sink']],
      },
      { id: 'sink', z: 'tab1', type: 'instance-sink' },
    ],
    { cfg: {} },
  );
  process.stdout.write('READY\n');
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim() !== 'stop') return;
    void helper.unload().then(() => {
      process.stdout.write('STOPPED\n');
      process.exit(0);
    });
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
