// SPDX-License-Identifier: Apache-2.0
/**
 * Schema-conforming produce through the local endpoint's Kafka backend, proved by readers that
 * are not ours: records are read from Kafka by an independent kafkajs consumer and decoded by
 * @kafkajs/confluent-schema-registry (a Confluent-compatible deserializer) pointed at the
 * endpoint's /confluent API. The registry's own state lives in a compacted Kafka topic, so a
 * restarted endpoint with an empty state directory still serves every schema id.
 */
import assert from 'node:assert/strict';
import https from 'node:https';

import { SchemaRegistry as ConfluentRegistry } from '@kafkajs/confluent-schema-registry';

import { EventStreamsClient } from '../../lib/client';
import { SCHEMAS_TOPIC } from '../../gateway/registry-store';
import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import {
  ENDPOINT_KEY as KEY,
  kafkaClient,
  kafkaOrSkip,
  type KafkaHandle,
  readAll,
  uniqueTopic,
} from '../support/kafka';
import { removeDir, tempDir } from '../gateway/util';
import { createTopicsReady } from '../../lib/kafka-cluster';

const READING = {
  type: 'record',
  name: 'SensorReading',
  namespace: 'com.example.iot',
  fields: [
    { name: 'sensor', type: 'string' },
    { name: 'celsius', type: 'double' },
    { name: 'battery', type: ['null', 'int'], default: null },
  ],
};

describe('Avro through the Kafka backend, decoded by a Confluent deserializer', function () {
  this.timeout(120_000);
  let kafka: KafkaHandle;
  let endpoint: LocalEndpoint;
  let dirs: string[] = [];
  let topic: string;

  const start = async (): Promise<LocalEndpoint> => {
    const stateDir = tempDir('esnodes-schema-kafka-');
    dirs.push(stateDir);
    return startLocalEndpoint({
      port: 0,
      stateDir,
      apiKeys: [KEY],
      kafka: { brokers: kafka.brokers, clientId: 'schema-kafka-test' },
    });
  };

  const confluent = (ep: LocalEndpoint): ConfluentRegistry =>
    new ConfluentRegistry({
      host: `${ep.url}/confluent`,
      // Confluent clients authenticate with Basic token:<api key>, as IBM documents.
      auth: { username: 'token', password: KEY },
      agent: new https.Agent({ ca: ep.caPem! }),
    });

  before(async function () {
    kafka = await kafkaOrSkip(this);
    topic = uniqueTopic('avro');
    const admin = kafkaClient(kafka.brokers).admin();
    await admin.connect();
    try {
      await createTopicsReady(admin, { topics: [{ topic, numPartitions: 2 }] });
    } finally {
      await admin.disconnect();
    }
    endpoint = await start();
  });

  after(async function () {
    await endpoint?.stop();
    for (const d of dirs) removeDir(d);
    dirs = [];
  });

  it('v2 Avro records land in Kafka in the Confluent wire format and decode with the independent library', async function () {
    const client = new EventStreamsClient({
      url: endpoint.url,
      flavour: 'v2',
      auth: { mode: 'bearer', apiKey: KEY },
      tls: { ca: endpoint.caPem! },
    });
    const sent = [
      { sensor: 'hall', celsius: 20.5, battery: 88 },
      { sensor: 'lab', celsius: -3.25, battery: null },
      { sensor: 'roof', celsius: 31, battery: 7 },
    ];
    try {
      for (const value of sent) {
        await client.produce(topic, {
          key: value.sensor,
          value,
          valueSchema: { format: 'avro', schema: READING, strategy: 'topic_record' },
        });
      }
    } finally {
      await client.close();
    }
    const records = await readAll(kafka.brokers, topic, sent.length);
    assert.equal(records.length, sent.length);
    const registry = confluent(endpoint);
    const decoded = await Promise.all(records.map((r) => registry.decode(r.value!)));
    const byKey = new Map(records.map((r, i) => [r.key!.toString(), decoded[i]]));
    for (const value of sent) assert.deepEqual({ ...byKey.get(value.sensor) }, value);
    // The subject follows the TopicRecord strategy, and the library resolves it too.
    const id = await registry.getLatestSchemaId(`${topic}-com.example.iot.SensorReading-value`);
    assert.equal(records[0]!.value!.readUInt32BE(1), id);
  });

  it('the registry state survives a restart (compacted Kafka topic), with a fresh state directory', async function () {
    const latest = await confluent(endpoint).getLatestSchemaId(
      `${topic}-com.example.iot.SensorReading-value`,
    );
    await endpoint.stop();
    endpoint = await start();
    const records = await readAll(kafka.brokers, topic, 3);
    const decoded = await confluent(endpoint).decode(records[0]!.value!);
    assert.equal(typeof decoded.sensor, 'string');
    assert.equal(
      await confluent(endpoint).getLatestSchemaId(`${topic}-com.example.iot.SensorReading-value`),
      latest,
    );
    const admin = kafkaClient(kafka.brokers).admin();
    await admin.connect();
    try {
      const [meta] = await admin
        .describeConfigs({
          includeSynonyms: false,
          resources: [{ type: 2, name: SCHEMAS_TOPIC, configNames: ['cleanup.policy'] }],
        })
        .then((r) => r.resources);
      assert.equal(meta?.configEntries[0]?.configValue, 'compact');
    } finally {
      await admin.disconnect();
    }
  });

  it('a schema registered by the Confluent library is usable for produce by registry id', async function () {
    const registry = confluent(endpoint);
    const subject = `${topic}-registered-value`;
    const { id } = await registry.register(
      { type: 'AVRO' as never, schema: JSON.stringify(READING) } as never,
      { subject },
    );
    assert.ok(id > 0);
    const client = new EventStreamsClient({
      url: endpoint.url,
      flavour: 'v2',
      auth: { mode: 'bearer', apiKey: KEY },
      tls: { ca: endpoint.caPem! },
    });
    try {
      await client.produce(topic, {
        key: 'by-id',
        value: { sensor: 'by-id', celsius: 1.5, battery: 1 },
        valueSchema: { format: 'avro', id: subject, version: 1 },
      });
    } finally {
      await client.close();
    }
    const records = await readAll(kafka.brokers, topic, 4);
    const rec = records.find((r) => r.key?.toString() === 'by-id')!;
    assert.deepEqual(
      { ...(await registry.decode(rec.value!)) },
      { sensor: 'by-id', celsius: 1.5, battery: 1 },
    );
  });
});
