// SPDX-License-Identifier: Apache-2.0
/**
 * Consumer throughput: records/s read by the consumer node into a Node-RED sink (real embedded
 * runtime, Node-RED's default asynchronous delivery) beside a bare kafkajs consumer (eachBatch,
 * counting only) on the same broker, topic and record size. Its own script, apart from the
 * produce bench:
 *
 *   npm run build && node dist/bench/consumer.js [--records 50000] [--partitions 3]
 *
 * Uses KAFKA_BROKERS when set, otherwise starts the local test broker (scripts/kafka.ts).
 */
import { parseArgs } from 'node:util';

import { Kafka, logLevel } from 'kafkajs';

import { startKafka, type KafkaInstance } from '../scripts/kafka';
import { hub, startRuntime } from './nodered';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { records: { type: 'string', default: '50000' }, partitions: { type: 'string', default: '3' } },
  });
  const records = Number(values.records);
  const partitions = Number(values.partitions);
  let instance: KafkaInstance | undefined;
  let brokers = process.env.KAFKA_BROKERS?.split(',');
  if (!brokers) {
    instance = await startKafka({ log: () => undefined });
    brokers = instance.brokers;
  }
  const kafka = new Kafka({ clientId: 'bench-consumer', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `bench-consume-${Date.now().toString(36)}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  const value = Buffer.from(JSON.stringify({ device: 'bench', reading: 'x'.repeat(160) }));
  for (let i = 0; i < records; i += 1000) {
    const n = Math.min(1000, records - i);
    await producer.send({
      topic,
      messages: Array.from({ length: n }, (_, j) => ({ key: `k${(i + j) % 64}`, value })),
    });
  }
  await producer.disconnect();

  // Bare kafkajs: the ceiling for any kafkajs-based consumer on this broker.
  let bareCount = 0;
  const bare = kafka.consumer({ groupId: `${topic}-bare` });
  await bare.connect();
  await bare.subscribe({ topics: [topic], fromBeginning: true });
  const bareStart = Date.now();
  let bareDone: () => void = () => undefined;
  const bareFinished = new Promise<void>((r) => (bareDone = r));
  await bare.run({
    eachBatch: async ({ batch }) => {
      bareCount += batch.messages.length;
      if (bareCount >= records) bareDone();
    },
  });
  await bareFinished;
  const bareMs = Date.now() - bareStart;
  await bare.disconnect();

  // The consumer node into a sink, in a real Node-RED runtime.
  const rt = await startRuntime();
  let nrCount = 0;
  let nrDone: () => void = () => undefined;
  const nrFinished = new Promise<void>((r) => (nrDone = r));
  hub.onSink = () => {
    if (++nrCount >= records) nrDone();
  };
  const tab = 'bench-tab';
  const nrStart = Date.now();
  await rt.deploy([
    { id: tab, type: 'tab', label: 'bench' },
    {
      id: 'cfg',
      type: 'event-streams-endpoint',
      url: 'https://127.0.0.1:9',
      authMode: 'none',
      brokers: brokers.join(','),
      brokersTls: false,
    },
    { id: 'src', z: tab, type: 'bench-source', wires: [] },
    {
      id: 'cons',
      z: tab,
      type: 'event-streams-consumer',
      endpoint: 'cfg',
      topics: topic,
      groupId: `${topic}-nr`,
      start: 'earliest',
      valueFormat: 'auto',
      wires: [['sink']],
    },
    { id: 'sink', z: tab, type: 'bench-sink', role: 'ok', wires: [] },
  ]);
  await nrFinished;
  const nrMs = Date.now() - nrStart;
  await rt.stop();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  await instance?.stop();

  const rate = (ms: number): number => Math.round((records * 1000) / ms);
  const row = {
    records,
    partitions,
    valueBytes: value.length,
    bareKafkajsPerSec: rate(bareMs),
    nodeRedConsumerPerSec: rate(nrMs),
    ratio: Math.round((bareMs / nrMs) * 100) / 100,
  };
  console.log(
    '| Consumer (records, partitions) | bare kafkajs msgs/s | consumer node → sink msgs/s | ratio |',
  );
  console.log('|---|---|---|---|');
  console.log(
    `| ${records}, ${partitions} × ${value.length} B | ${row.bareKafkajsPerSec} | ${row.nodeRedConsumerPerSec} | ${row.ratio} |`,
  );
  console.log(JSON.stringify(row));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
