// SPDX-License-Identifier: Apache-2.0
/**
 * Avro over the Kafka protocol, both directions, in Node-RED's real runtime on a real broker,
 * with the local endpoint's Confluent-compatible registry (`/confluent`, reached over HTTPS with
 * verification on) as the endpoint's schema registry:
 * - producer (transport kafka, Avro) → topic → consumer (value format avro): the consumer's
 *   msg.payload is the object sent, and @kafkajs/confluent-schema-registry (a deserializer that
 *   is not ours) decodes the same bytes;
 * - what that library's serializer wrote, our consumer decodes;
 * - failures: bytes not in the wire format and an unknown schema id go to Catch with their codes
 *   and are committed (a later good record still arrives); an incompatible schema, a registry
 *   that is not there and an endpoint without a registry fail the producer's msg with theirs.
 */
import assert from 'node:assert/strict';
import https from 'node:https';

import { SchemaRegistry as ConfluentRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Admin, Producer } from 'kafkajs';

import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import consumerNode from '../../nodes/event-streams-consumer';
import { LOCAL_SASL_USER } from '../../scripts/kafka';
import { kafkaClient, kafkaOrSkip, readAll, uniqueTopic, type KafkaHandle } from '../support/kafka';
import { waitFor } from '../support/wait';
import { TAB, catchNode, collect, endpointNode, helper, producerNode } from '../nodes/support';
import { createTopicsReady } from '../../lib/kafka-cluster';

type Msg = Record<string, any>;

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
/** READING plus a field without a default: not BACKWARD compatible with it. */
const BREAKING = {
  ...READING,
  fields: [...READING.fields, { name: 'site', type: 'string' }],
};

describe('Avro over the Kafka transport and the consumer (real Node-RED runtime, real Kafka, the local registry)', function () {
  this.timeout(120_000);
  let kafka: KafkaHandle;
  let ep: LocalEndpoint | undefined;
  let admin: Admin;
  let producer: Producer;
  let confluent: ConfluentRegistry;

  before(async function () {
    kafka = await kafkaOrSkip(this);
    if (!kafka.instance.saslBrokers) {
      // The endpoint authenticates to the brokers and the registry with one identity; only the
      // broker this suite starts has the SASL listener that identity needs.
      console.log('      (skipped: KAFKA_BROKERS names an external cluster without the local SASL user)');
      this.skip();
    }
    ep = await startLocalEndpoint({
      port: 0,
      users: [{ ...LOCAL_SASL_USER }],
      kafka: { brokers: kafka.brokers, clientId: 'avro-kafka-test' },
    });
    const client = kafkaClient(kafka.brokers);
    admin = client.admin();
    await admin.connect();
    producer = client.producer();
    await producer.connect();
    confluent = new ConfluentRegistry({
      host: `${ep.url}/confluent`,
      auth: { ...LOCAL_SASL_USER },
      agent: new https.Agent({ ca: ep.caPem! }),
    });
  });

  afterEach(async () => {
    await helper.unload();
  });

  after(async () => {
    await producer?.disconnect();
    await admin?.disconnect();
    await ep?.stop();
  });

  async function createTopic(partitions = 2): Promise<string> {
    const topic = uniqueTopic('avro');
    // A broker that just started may answer a metadata request before it hosts the new topic.
    let lastError: unknown;
    await waitFor(
      async () => {
        try {
          await createTopicsReady(admin, { topics: [{ topic, numPartitions: partitions }] });
          return true;
        } catch (err) {
          // kafkajs answers false, not an error, for a topic that exists by the next try.
          lastError = err;
          return false;
        }
      },
      `topic ${topic} to be created`,
      { timeoutMs: 60_000, intervalMs: 500 },
    ).catch((err: unknown) => {
      throw lastError ?? err;
    });
    return topic;
  }

  /** A Kafka-transport endpoint: SASL PLAIN to the brokers, the same user on the registry. */
  function endpoint(overrides: Msg = {}): Msg {
    return {
      id: 'cfg',
      type: 'event-streams-endpoint',
      name: 'kafka+registry',
      transport: 'kafka',
      brokers: kafka.instance.saslBrokers!.join(','),
      brokersTls: false,
      saslMechanism: 'plain',
      authMode: 'basic',
      registryUrl: `${ep!.url}/confluent`,
      requestTimeout: 5,
      retries: 2,
      retryDelay: 50,
      maxRetryTime: 5,
      closeTimeout: 5,
      ...overrides,
    };
  }

  function flow(topic: string, opts: { endpoint?: Msg; producer?: boolean; consumer?: boolean } = {}): Msg[] {
    return [
      TAB,
      endpoint(opts.endpoint),
      ...(opts.producer !== false
        ? [
            {
              id: 'p1',
              z: 'tab1',
              type: 'event-streams-producer',
              endpoint: 'cfg',
              topic,
              valueFormat: 'avro',
              valueSchema: JSON.stringify(READING),
              wires: [['delivered']],
            },
          ]
        : []),
      ...(opts.consumer !== false
        ? [
            {
              id: 'c1',
              z: 'tab1',
              type: 'event-streams-consumer',
              endpoint: 'cfg',
              topics: topic,
              groupId: `g-${topic}`,
              start: 'earliest',
              valueFormat: 'avro',
              maxInFlight: 50,
              wires: [['got']],
            },
          ]
        : []),
      { id: 'delivered', z: 'tab1', type: 'helper' },
      { id: 'got', z: 'tab1', type: 'helper' },
      { id: 'n-catch', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'tab1', type: 'helper' },
    ];
  }

  const nodes = [endpointNode, producerNode, consumerNode, catchNode];
  const credentials = (): Msg => ({ cfg: { ...LOCAL_SASL_USER, ca: ep!.caPem! } });

  const readings = (n: number): Msg[] =>
    Array.from({ length: n }, (_, i) => ({
      sensor: `s-${i % 3}`,
      celsius: 20 + i / 4,
      battery: i % 2 === 0 ? null : 90 - i,
    }));

  it('producer (transport kafka, Avro) → topic → consumer (avro): the objects sent, also as a Confluent deserializer reads them', async () => {
    const topic = await createTopic();
    await helper.load(nodes, flow(topic), credentials());
    const delivered = collect('delivered');
    const got = collect('got');
    const caught = collect('caught');
    const sent = readings(12);
    for (const [i, payload] of sent.entries()) helper.getNode('p1').receive({ payload, key: `k${i % 3}` });
    await waitFor(() => delivered.length + caught.length === sent.length, 'every record reported', {
      timeoutMs: 60_000,
    });
    assert.deepEqual(
      caught.map((m) => m.error?.message),
      [],
    );
    await waitFor(() => got.length === sent.length, 'the consumer to read every record', {
      timeoutMs: 60_000,
    });

    const byKeyAndSensor = (list: Msg[]): string[] =>
      list.map((p) => JSON.stringify([p.sensor, p.celsius, p.battery])).sort();
    assert.deepEqual(byKeyAndSensor(got.map((m) => m.payload)), byKeyAndSensor(sent));
    for (const m of got) {
      const report = delivered.find(
        (d) =>
          d.eventstreams.partition === m.eventstreams.partition &&
          d.eventstreams.offset === m.eventstreams.offset,
      );
      assert.ok(report, `a delivery report for ${m.eventstreams.partition}/${m.eventstreams.offset}`);
      assert.deepEqual(m.payload, report.payload, 'the consumer gives what the producer sent there');
    }

    // The bytes are Confluent's: magic 0, the id the registry has for the subject, the Avro body.
    const id = await confluent.getRegistryIdBySchema(`${topic}-value`, {
      type: SchemaType.AVRO,
      schema: JSON.stringify(READING),
    });
    const records = await readAll(kafka.brokers, topic, sent.length);
    assert.equal(records.length, sent.length);
    for (const r of records) {
      const value = r.value!;
      assert.equal(value[0], 0);
      assert.equal(value.readUInt32BE(1), id);
    }
    const decoded = await Promise.all(records.map((r) => confluent.decode(r.value!)));
    assert.deepEqual(byKeyAndSensor(decoded), byKeyAndSensor(sent));
  });

  it('our consumer decodes what the Confluent serializer wrote', async () => {
    const topic = await createTopic();
    const { id } = await confluent.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(READING) },
      { subject: `${topic}-value` },
    );
    const sent = readings(5);
    await producer.send({
      topic,
      messages: await Promise.all(
        sent.map(async (p, i) => ({ key: `k${i}`, value: await confluent.encode(id, p) })),
      ),
    });
    await helper.load(nodes, flow(topic, { producer: false }), credentials());
    const got = collect('got');
    const caught = collect('caught');
    await waitFor(() => got.length + caught.length === sent.length, 'every record read', {
      timeoutMs: 60_000,
    });
    assert.deepEqual(
      caught.map((m) => m.error?.message),
      [],
    );
    const byKey = new Map(got.map((m) => [m.key, m.payload]));
    sent.forEach((p, i) => assert.deepEqual(byKey.get(`k${i}`), p));
  });

  it('consumer: bytes not in the wire format and an unknown id go to Catch with their codes and are committed', async () => {
    const topic = await createTopic(1);
    const { id } = await confluent.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(READING) },
      { subject: `${topic}-value` },
    );
    const good = { sensor: 'after', celsius: 1.5, battery: 7 };
    const unknownId = Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]), Buffer.from([2, 0x41])]);
    await producer.send({
      topic,
      messages: [
        { key: 'json', value: JSON.stringify({ not: 'avro' }) },
        { key: 'unknown', value: unknownId },
        { key: 'short', value: Buffer.from([0, 1]) },
        { key: 'good', value: await confluent.encode(id, good) },
      ],
    });
    await helper.load(nodes, flow(topic, { producer: false }), credentials());
    const got = collect('got');
    const caught = collect('caught');
    await waitFor(() => got.length === 1 && caught.length === 3, 'three errors and the good record', {
      timeoutMs: 60_000,
    });
    assert.deepEqual(got[0]!.payload, good);
    const codes = Object.fromEntries(caught.map((m) => [m.key, m.error?.code]));
    assert.deepEqual(codes, {
      json: 'SCHEMA_MISMATCH',
      unknown: 'SCHEMA_NOT_FOUND',
      short: 'SCHEMA_MISMATCH',
    });
    // The raw bytes stay with the msg, for a flow that wants to keep them.
    assert.ok(Buffer.isBuffer(caught.find((m) => m.key === 'unknown')!.payload));
    await waitFor(
      async () => {
        const [t] = await admin.fetchOffsets({ groupId: `g-${topic}`, topics: [topic] });
        return t?.partitions[0]?.offset === '4';
      },
      'the group to commit past the bad records',
      { timeoutMs: 30_000 },
    );
  });

  it('producer: an incompatible schema is SCHEMA_INCOMPATIBLE; no registry, or one not there, fails the msg clearly', async () => {
    const topic = await createTopic(1);
    await confluent.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(READING) },
      { subject: `${topic}-value` },
    );
    await helper.load(nodes, flow(topic, { consumer: false }), credentials());
    const delivered = collect('delivered');
    const caught = collect('caught');
    // The subject's rule is the registry's default, BACKWARD: a new field without a default is refused.
    helper.getNode('p1').receive({ payload: { ...readings(1)[0], site: 'x' }, schema: BREAKING });
    helper.getNode('p1').receive({ payload: readings(1)[0] });
    await waitFor(() => delivered.length + caught.length === 2, 'both msgs settled', { timeoutMs: 30_000 });
    assert.equal(delivered.length, 1);
    assert.equal(caught[0]!.error?.code, 'SCHEMA_INCOMPATIBLE');
    await helper.unload();

    // Nothing listening on the registry's port: the registry is unreachable.
    await helper.load(
      nodes,
      flow(topic, {
        consumer: false,
        endpoint: { registryUrl: 'https://127.0.0.1:9/confluent', retries: 0 },
      }),
      credentials(),
    );
    const caught2 = collect('caught');
    helper.getNode('p1').receive({ payload: readings(1)[0] });
    await waitFor(() => caught2.length === 1, 'the msg to fail', { timeoutMs: 30_000 });
    assert.equal(caught2[0]!.error?.code, 'CONNECTION_FAILED');
    // The message says it is the registry (at its origin), so it is not taken for the brokers.
    assert.match(
      caught2[0]!.error?.message,
      /schema registry failed: Could not reach https:\/\/127\.0\.0\.1:9\b/,
    );
    await helper.unload();

    // No registry URL and no REST URL: Avro cannot be written.
    await helper.load(nodes, flow(topic, { consumer: false, endpoint: { registryUrl: '' } }), credentials());
    const caught3 = collect('caught');
    helper.getNode('p1').receive({ payload: readings(1)[0] });
    await waitFor(() => caught3.length === 1, 'the msg to fail', { timeoutMs: 30_000 });
    assert.equal(caught3[0]!.error?.code, 'INVALID_CONFIG');
    assert.match(caught3[0]!.error?.message, /schema registry/);
  });
});
