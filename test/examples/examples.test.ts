// SPDX-License-Identifier: Apache-2.0
/**
 * Every flow under examples/ as users import it: checked for shape (titles, a comment, core nodes
 * only, no secrets, one shared config node reading ${ES_URL}/${ES_API_KEY}/${ES_CA}), then run
 * unmodified in a real Node-RED runtime against a local endpoint that, like IBM Cloud, creates no
 * topic on first use (HTTPS, verification on; the ES_* variables set as the demo sets them), and
 * asserted on what it must produce at the endpoint, on its outputs and at its Catch and Status
 * nodes. demo-import.test.ts imports them into the running demo instead.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { startLocalEndpoint, type LocalEndpoint } from '../../gateway';
import { sharedEndpointNode, SHARED_ENDPOINT_ID } from '../../scripts/demo-flow';
import type { LocalEndpointOptions, StoredRecord } from '../../gateway/types';
import {
  NODE_RED_DIR,
  TAB,
  collect,
  coreNode,
  endpointNode,
  helper,
  producerNode,
  topicAdminNode,
} from '../nodes/support';
import { delay, waitFor } from '../support/wait';

const EXAMPLES_DIR = path.resolve(__dirname, '..', '..', '..', 'examples');
const OUR_TYPES = [
  'event-streams-endpoint',
  'event-streams-producer',
  'event-streams-topic-admin',
  'event-streams-consumer',
];
const CONFIG_TYPES = new Set(['event-streams-endpoint', 'mqtt-broker']);
const CORE_TYPES = [
  'inject',
  'debug',
  'function',
  'change',
  'catch',
  'status',
  'comment',
  'switch',
  'mqtt in',
  'mqtt-broker',
];
const MQTT_HOST = '127.0.0.1';
const MQTT_PORT = 1883;
const API_KEY = 'examples-test-key-0123456789';

const NODE_RED_VERSION = (
  JSON.parse(readFileSync(path.join(NODE_RED_DIR, 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

const runtimeNodes = [
  endpointNode,
  producerNode,
  topicAdminNode,
  coreNode('common/20-inject.js'),
  coreNode('common/21-debug.js'),
  coreNode('common/25-catch.js'),
  coreNode('common/25-status.js'),
  coreNode('common/90-comment.js'),
  coreNode('function/10-function.js'),
  coreNode('function/15-change.js'),
  coreNode('network/10-mqtt.js'),
];

type FlowNode = Record<string, any> & { id: string; type: string };

const exampleFiles = readdirSync(EXAMPLES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

function readExample(file: string): FlowNode[] {
  return JSON.parse(readFileSync(path.join(EXAMPLES_DIR, file), 'utf8')) as FlowNode[];
}

function text(value: Buffer | null): string | null {
  return value === null ? null : value.toString('utf8');
}

function headerMap(record: StoredRecord): Record<string, string> {
  return Object.fromEntries(record.headers.map(([name, value]) => [name, value.toString('utf8')]));
}

function byKey(records: StoredRecord[], key: string): StoredRecord {
  const found = records.filter((r) => text(r.key) === key);
  assert.equal(found.length, 1, `one record with key ${key}, found ${found.length}`);
  return found[0]!;
}

function mqttReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: MQTT_HOST, port: MQTT_PORT });
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** The minimal part of the mqtt package (a dependency of Node-RED) this suite uses to publish. */
interface MqttClient {
  publishAsync(topic: string, message: string, opts: { qos: 0 | 1 }): Promise<unknown>;
  endAsync(): Promise<void>;
}
function loadMqtt(): { connectAsync(url: string, opts?: object): Promise<MqttClient> } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(require.resolve('mqtt', { paths: [NODE_RED_DIR] }));
}

describe(`examples (Node-RED ${NODE_RED_VERSION})`, function () {
  this.timeout(20000);

  describe('files', () => {
    it('are titled "NN - Title.json" and parse as flows with wires and config references resolved', () => {
      assert.ok(exampleFiles.length >= 6, `found ${exampleFiles.length} examples`);
      for (const file of exampleFiles) {
        assert.match(file, /^\d\d - [A-Z][A-Za-z0-9 ,()'-]+\.json$/, file);
        const nodes = readExample(file);
        assert.ok(Array.isArray(nodes) && nodes.length > 0, file);
        const ids = new Set(nodes.map((n) => n.id));
        assert.equal(ids.size, nodes.length, `${file}: ids are unique`);
        for (const n of nodes) {
          assert.equal(
            n.z,
            undefined,
            `${file}: ${n.id} is not tied to a tab (imports into the current one)`,
          );
          for (const port of n.wires ?? []) {
            for (const target of port as string[]) assert.ok(ids.has(target), `${file}: ${n.id} → ${target}`);
          }
          // `broker` is a reference on `mqtt in` but the host name on `mqtt-broker` itself.
          for (const ref of CONFIG_TYPES.has(n.type) ? [] : ['endpoint', 'broker']) {
            if (typeof n[ref] === 'string') assert.ok(ids.has(n[ref]), `${file}: ${n.id}.${ref}`);
          }
          for (const scoped of Array.isArray(n.scope) ? (n.scope as string[]) : []) {
            assert.ok(ids.has(scoped), `${file}: ${n.id}.scope → ${scoped}`);
          }
        }
      }
    });

    it('each say what they show and what to configure, with core nodes and ours only', () => {
      const seen = new Set<string>();
      for (const file of exampleFiles) {
        const nodes = readExample(file);
        const comments = nodes.filter((n) => n.type === 'comment');
        assert.equal(comments.length, 1, `${file}: one comment node`);
        assert.ok(comments[0]!.name.length > 10, `${file}: the comment has a title`);
        assert.match(
          comments[0]!.info,
          /\*\*To configure:\*\*/,
          `${file}: the comment says what to configure`,
        );
        for (const n of nodes) {
          assert.ok(OUR_TYPES.includes(n.type) || CORE_TYPES.includes(n.type), `${file}: ${n.type}`);
          seen.add(n.type);
        }
        // Examples are short enough to read at a glance.
        assert.ok(nodes.length <= 20, `${file}: ${nodes.length} nodes`);
      }
      for (const type of OUR_TYPES) assert.ok(seen.has(type), `an example uses ${type}`);
    });

    it('carry no secrets: the config node reads ${ES_URL}, ${ES_API_KEY}, ${ES_CA} from the environment', () => {
      const shared = sharedEndpointNode();
      for (const file of exampleFiles) {
        const raw = readFileSync(path.join(EXAMPLES_DIR, file), 'utf8');
        assert.doesNotMatch(raw, /-----BEGIN|"(password|passphrase|pfx|clientKey)"/, file);
        const endpoints = readExample(file).filter((n) => n.type === 'event-streams-endpoint');
        assert.equal(endpoints.length, 1, `${file}: one endpoint config node`);
        const n = endpoints[0]!;
        assert.deepEqual(n.credentials, { apiKey: '${ES_API_KEY}', ca: '${ES_CA}' }, `${file}: credentials`);
        assert.equal(n.url, '${ES_URL}', `${file}: ${n.id}.url`);
        assert.equal(n.verifyTls, true, `${file}: ${n.id} verifies TLS`);
        if (n.authMode === 'iam') {
          // v2 with IAM is a different endpoint configuration; it still has one id and name.
          assert.equal(n.id, `${SHARED_ENDPOINT_ID}-iam`, file);
          assert.equal(n.iamUrl, '${ES_IAM_URL}', file);
        } else {
          // Same id and name as the demo's config node, so importing several examples yields one.
          for (const prop of ['id', 'name', 'url', 'adminUrl', 'flavour', 'authMode', 'verifyTls']) {
            assert.deepEqual(n[prop], shared[prop], `${file}: ${prop} as in the demo's config node`);
          }
        }
      }
    });

    it('create the topics they produce to (a topic-admin node ensures them)', () => {
      for (const file of exampleFiles) {
        const nodes = readExample(file);
        const produced = new Set<string>();
        for (const n of nodes) {
          if (n.type === 'event-streams-producer' && n.topic) produced.add(n.topic);
          if (
            n.type === 'inject' &&
            n.wires?.[0]?.some(
              (t: string) => nodes.find((x) => x.id === t)?.type === 'event-streams-producer',
            ) &&
            n.topic
          )
            produced.add(n.topic);
          // Topics computed in a function (example 03) are covered by its run, where nothing is auto-created.
        }
        const ensured = new Set<string>();
        for (const n of nodes) {
          if (n.type !== 'event-streams-topic-admin' || !['ensure', 'create'].includes(n.operation)) continue;
          if (n.topic) ensured.add(n.topic);
          for (const from of nodes.filter((x) => x.type === 'inject' && x.wires?.[0]?.includes(n.id))) {
            if (from.topic) ensured.add(from.topic);
          }
        }
        // A deliberately invalid name (example 05) is the one topic nobody creates.
        for (const t of produced) {
          if (/^[a-zA-Z0-9._-]+$/.test(t)) assert.ok(ensured.has(t), `${file}: ${t} is ensured`);
        }
      }
    });
  });

  describe('running', () => {
    let stateDir: string;
    let ep: LocalEndpoint | undefined;

    before(async () => {
      // One state directory: its CA and server certificate are generated once and reused by the
      // fresh endpoint each example gets.
      stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-examples-'));
    });

    afterEach(async () => {
      await helper.unload();
      await ep?.stop();
      ep = undefined;
    });

    after(async () => {
      await fs.rm(stateDir, { recursive: true, force: true });
    });

    const ENV_NAMES = ['ES_URL', 'ES_ADMIN_URL', 'ES_IAM_URL', 'ES_API_KEY', 'ES_CA'] as const;
    afterEach(() => {
      for (const name of ENV_NAMES) delete process.env[name];
    });

    /**
     * A fresh in-memory endpoint per example, so the topic names the example uses are its own and
     * the flow runs exactly as shipped. It creates no topic on first use, as IBM Cloud.
     */
    async function endpointFor(options: LocalEndpointOptions = {}): Promise<LocalEndpoint> {
      ep = await startLocalEndpoint({ port: 0, stateDir, apiKeys: [API_KEY], ...options });
      return ep;
    }

    /**
     * The example on a tab with Node-RED's environment set as `npm start` sets it; the only edits
     * are short retry delays (and what `edit` changes); the credentials are the file's own
     * `${ES_API_KEY}` / `${ES_CA}` references, resolved by the runtime.
     */
    async function deploy(
      file: string,
      endpoint: LocalEndpoint,
      edit: (n: FlowNode) => void = () => undefined,
    ): Promise<FlowNode[]> {
      Object.assign(process.env, {
        ES_URL: endpoint.url,
        ES_ADMIN_URL: endpoint.adminUrl,
        ES_IAM_URL: endpoint.iamUrl,
        ES_API_KEY: API_KEY,
        ES_CA: endpoint.caPem!,
      });
      const credentials: Record<string, Record<string, string>> = {};
      const nodes = readExample(file).map((n) => {
        const copy: FlowNode = { ...n };
        if (!CONFIG_TYPES.has(copy.type)) copy.z = TAB.id;
        if (copy.type === 'event-streams-endpoint') {
          credentials[copy.id] = copy.credentials;
          delete copy.credentials;
          copy.retryDelay = 10;
          copy.maxRetryTime = 2;
        }
        edit(copy);
        return copy;
      });
      await helper.load(runtimeNodes, [TAB, ...nodes], credentials);
      return nodes;
    }

    /** The example's own "at start" ensure reports each of its topics ready. */
    async function ready(id: string, topics: string[]): Promise<void> {
      const seen = collect(id);
      await waitFor(() => seen.length >= topics.length, `${topics.join(', ')} ensured at start`, {
        timeoutMs: 5000,
      });
      assert.deepEqual(seen.map((m) => m.payload.topic).sort(), [...topics].sort());
    }

    function trigger(id: string): void {
      helper.getNode(id).receive({});
    }

    const runs: Record<string, () => Promise<void>> = {
      '01 - Produce text, JSON and binary.json': async () => {
        const endpoint = await endpointFor();
        await deploy('01 - Produce text, JSON and binary.json', endpoint);
        await ready('es-ex01-ready', ['examples']);
        const reports = collect('es-ex01-report');
        for (const id of ['es-ex01-text', 'es-ex01-json', 'es-ex01-binary']) trigger(id);
        await waitFor(() => reports.length === 3, 'three delivery reports', { timeoutMs: 5000 });
        for (const r of reports) {
          assert.equal(r.eventstreams.topic, 'examples');
          assert.equal(typeof r.eventstreams.offset, 'number');
          assert.equal(typeof r.eventstreams.partition, 'number');
        }
        const records = await endpoint.readRecords('examples');
        assert.equal(records.length, 3);
        const textRecord = byKey(records, 'greeting');
        assert.equal(text(textRecord.value), 'Hello from Node-RED');
        assert.deepEqual(headerMap(textRecord), { source: 'node-red', content: 'text' });
        const jsonRecord = byKey(records, 'sensor-1');
        assert.deepEqual(JSON.parse(text(jsonRecord.value)!), {
          device: 'sensor-1',
          temperature: 21.5,
          unit: 'C',
        });
        assert.deepEqual(headerMap(jsonRecord), { source: 'node-red', content: 'json' });
        const binaryRecord = byKey(records, 'blob-1');
        assert.deepEqual([...binaryRecord.value], [0, 1, 2, 3, 254, 255]);
        assert.deepEqual(headerMap(binaryRecord), { source: 'node-red', content: 'binary' });
      },

      '02 - IoT gateway from MQTT.json': async function (this: Mocha.Context) {
        if (!(await mqttReachable())) {
          // The CI machine runs Mosquitto (.ci/run starts it); elsewhere this case needs a broker.
          if (process.env.REQUIRE_MQTT === '1') {
            assert.fail(`REQUIRE_MQTT=1 but no MQTT broker answers on ${MQTT_HOST}:${MQTT_PORT}`);
          }
          console.log(
            `      (skipped: no MQTT broker on ${MQTT_HOST}:${MQTT_PORT}; REQUIRE_MQTT=1 makes this fail)`,
          );
          this.skip();
        }
        const endpoint = await endpointFor();
        // The broker is shared: a unique first topic level keeps this run's readings apart from
        // anyone else's; the function still takes the device id from the second level.
        const prefix = `es-test-${randomBytes(4).toString('hex')}`;
        await deploy('02 - IoT gateway from MQTT.json', endpoint, (n) => {
          if (n.type === 'mqtt in') {
            assert.equal(n.topic, 'sensors/+/reading');
            n.topic = `${prefix}/+/reading`;
          }
        });
        await ready('es-ex02-ready', ['iot-readings']);
        const reports = collect('es-ex02-report');
        const client = await loadMqtt().connectAsync(`mqtt://${MQTT_HOST}:${MQTT_PORT}`, {
          clientId: `${prefix}-pub`,
          reconnectPeriod: 0,
        });
        try {
          // The subscription is in place once a probe reading makes it through.
          await waitFor(
            async () => {
              await client.publishAsync(`${prefix}/probe/reading`, '{"probe":true}', { qos: 1 });
              await delay(100);
              return reports.length > 0;
            },
            'the MQTT subscription',
            { timeoutMs: 8000 },
          );
          await client.publishAsync(`${prefix}/boiler-1/reading`, '{"temperature":21.5}', { qos: 1 });
          await client.publishAsync(`${prefix}/pump-2/reading`, '{"rpm":1450}', { qos: 1 });
          await client.publishAsync(`${prefix}/boiler-1/reading`, '{"temperature":21.7}', { qos: 1 });
        } finally {
          await client.endAsync();
        }
        const readings = (): Promise<StoredRecord[]> =>
          endpoint.readRecords('iot-readings').then((all) => all.filter((r) => text(r.key) !== 'probe'));
        await waitFor(async () => (await readings()).length === 3, 'three readings at the endpoint', {
          timeoutMs: 5000,
        });
        const records = await readings();
        const boiler = records.filter((r) => text(r.key) === 'boiler-1');
        assert.deepEqual(
          boiler.map((r) => JSON.parse(text(r.value)!)),
          [{ temperature: 21.5 }, { temperature: 21.7 }],
          'one device, one partition, in order',
        );
        assert.equal(boiler[0]!.partition, boiler[1]!.partition);
        assert.ok(boiler[0]!.offset < boiler[1]!.offset);
        assert.deepEqual(headerMap(boiler[0]!), { 'mqtt-topic': `${prefix}/boiler-1/reading` });
        const pump = byKey(records, 'pump-2');
        assert.deepEqual(JSON.parse(text(pump.value)!), { rpm: 1450 });
        assert.deepEqual(headerMap(pump), { 'mqtt-topic': `${prefix}/pump-2/reading` });
        assert.ok(reports.every((r) => r.eventstreams.topic === 'iot-readings'));
      },

      '03 - Per-message topics.json': async () => {
        const endpoint = await endpointFor();
        await deploy('03 - Per-message topics.json', endpoint);
        await ready('es-ex03-ready', ['shop-orders', 'shop-payments']);
        const reports = collect('es-ex03-report');
        trigger('es-ex03-order');
        trigger('es-ex03-payment');
        await waitFor(() => reports.length === 2, 'two delivery reports', { timeoutMs: 5000 });
        assert.deepEqual(reports.map((r) => r.eventstreams.topic).sort(), ['shop-orders', 'shop-payments']);
        const order = byKey(await endpoint.readRecords('shop-orders'), 'o-1001');
        assert.equal(JSON.parse(text(order.value)!).kind, 'order');
        const payment = byKey(await endpoint.readRecords('shop-payments'), 'o-1001');
        assert.equal(JSON.parse(text(payment.value)!).kind, 'payment');
      },

      '04 - Topic administration.json': async () => {
        const endpoint = await endpointFor({ topics: [{ name: 'unrelated', partitions: 1 }] });
        await deploy('04 - Topic administration.json', endpoint);
        const results = collect('es-ex04-result');
        const step = async (inject: string): Promise<any> => {
          const before = results.length;
          trigger(inject);
          await waitFor(() => results.length === before + 1, `the result of ${inject}`, { timeoutMs: 5000 });
          return results[before]!.payload;
        };

        assert.deepEqual(await step('es-ex04-do-ensure'), { topic: 'example-admin', created: true });
        const created = await endpoint.backend.getTopic('example-admin');
        assert.equal(created?.partitions, 3);
        assert.equal(created?.configs?.['retention.ms'], '86400000');
        assert.deepEqual(await step('es-ex04-do-ensure'), { topic: 'example-admin', created: false });

        const listed = (await step('es-ex04-do-list')) as Array<{ name: string }>;
        assert.deepEqual(
          listed.map((t) => t.name),
          ['example-admin'],
          'the example-* filter keeps unrelated topics out',
        );

        assert.deepEqual(await step('es-ex04-do-update'), { topic: 'example-admin' });
        const got = await step('es-ex04-do-get');
        assert.equal(got.name, 'example-admin');
        assert.equal(got.partitions, 3);
        assert.equal(String(got.configs?.['retention.ms'] ?? got.retentionMs), '3600000');

        assert.deepEqual(await step('es-ex04-do-delete'), { topic: 'example-admin', deleted: true });
        assert.equal(await endpoint.backend.getTopic('example-admin'), undefined);
        assert.deepEqual(await step('es-ex04-do-delete'), { topic: 'example-admin', deleted: false });
      },

      '05 - Error handling with Catch and Status.json': async () => {
        const endpoint = await endpointFor();
        await deploy('05 - Error handling with Catch and Status.json', endpoint);
        await ready('es-ex05-ready', ['examples']);
        const delivered = collect('es-ex05-delivered');
        const caught = collect('es-ex05-error');
        const statuses = collect('es-ex05-status-debug');

        trigger('es-ex05-bad-topic');
        await waitFor(() => caught.length === 1, 'the bad-topic error at Catch', { timeoutMs: 5000 });
        assert.equal(caught[0]!.error.code, 'INVALID_TOPIC');
        assert.equal(caught[0]!.error.source.id, 'es-ex05-producer');
        assert.equal(caught[0]!.topic, 'no such topic!', 'Catch gets the original message');
        assert.equal(caught[0]!.payload, 'hello');
        assert.match(caught[0]!.advice, /^Fix the message/);

        trigger('es-ex05-null');
        await waitFor(() => caught.length === 2, 'the null-payload error at Catch', { timeoutMs: 5000 });
        assert.equal(caught[1]!.error.code, 'INVALID_VALUE');
        assert.match(caught[1]!.advice, /^Fix the message/);

        await waitFor(
          () => statuses.some((m) => m.status?.fill === 'red' && m.status.source?.id === 'es-ex05-producer'),
          'a red status at the Status node',
          { timeoutMs: 3000 },
        );
        assert.equal(delivered.length, 0, 'nothing reported as delivered');
        assert.equal((await endpoint.readRecords('examples')).length, 0, 'nothing written');
      },

      '06 - IBM Cloud v2 with IAM.json': async () => {
        const endpoint = await endpointFor();
        const nodes = await deploy('06 - IBM Cloud v2 with IAM.json', endpoint);
        const config = nodes.find((n) => n.type === 'event-streams-endpoint')!;
        assert.equal(config.flavour, 'v2');
        assert.equal(config.authMode, 'iam');
        const ensured = collect('es-ex06-ensured');
        const reports = collect('es-ex06-report');
        // The "at start" inject fires by itself shortly after deploy.
        await waitFor(() => ensured.length === 1, 'the topic ensured at start', { timeoutMs: 5000 });
        assert.deepEqual(ensured[0]!.payload, { topic: 'cloud-events', created: true });
        trigger('es-ex06-event');
        await waitFor(() => reports.length === 1, 'the delivery report', { timeoutMs: 5000 });
        assert.equal(reports[0]!.eventstreams.topic, 'cloud-events');
        const record = byKey(await endpoint.readRecords('cloud-events'), 'order-1001');
        assert.deepEqual(JSON.parse(text(record.value)!), {
          order: 'order-1001',
          status: 'created',
          total: 42.5,
        });
        assert.deepEqual(headerMap(record), { 'event-type': 'order.created' });
        assert.ok(endpoint.requestCount('iam') >= 1, 'the API key was exchanged for an IAM token');
      },

      '07 - Avro sensor readings with the Schema Registry.json': async () => {
        const endpoint = await endpointFor();
        await deploy('07 - Avro sensor readings with the Schema Registry.json', endpoint);
        const ready = collect('es-ex07-ready');
        const reports = collect('es-ex07-report');
        const errors = collect('es-ex07-error');
        // "at start" registers the schema, then ensures the topic.
        await waitFor(() => ready.length === 1, 'schema registered and topic ensured', { timeoutMs: 5000 });
        assert.deepEqual(ready[0]!.payload, { topic: 'sensor-readings-avro', created: true });
        trigger('es-ex07-reading');
        trigger('es-ex07-reading');
        await waitFor(() => reports.length === 2, 'two delivery reports', { timeoutMs: 5000 });
        const records = await endpoint.readRecords('sensor-readings-avro');
        assert.equal(records.length, 2);
        const { default: avro } = await import('avsc');
        const schema = JSON.parse(
          readExample('07 - Avro sensor readings with the Schema Registry.json').find(
            (n) => n.id === 'es-ex07-start',
          )!.payload as string,
        ).schema;
        const type = avro.Type.forSchema(schema);
        for (const r of records) {
          assert.equal(r.value[0], 0, 'Confluent wire format');
          const reading = type.fromBuffer(r.value.subarray(5)) as { sensor: string; celsius: number };
          assert.equal(reading.sensor, 'greenhouse-1');
          assert.equal(typeof reading.celsius, 'number');
        }
        trigger('es-ex07-bad');
        await waitFor(() => errors.length === 1, 'the bad reading caught', { timeoutMs: 5000 });
        assert.equal(errors[0]!.error.code, 'SCHEMA_MISMATCH');
        assert.match(errors[0]!.error.message, /celsius/);
        assert.equal(
          (await endpoint.readRecords('sensor-readings-avro')).length,
          2,
          'the bad reading was not sent',
        );
      },

      // The consumer reads over the Kafka protocol, which this suite's in-memory endpoint does not
      // speak: both consumer examples run unmodified but for the connection on real Kafka in
      // test/kafka/consumer-kafka.test.ts.
      '08 - Consume and route by key.json': function (this: Mocha.Context) {
        console.log('      (runs on real Kafka in test/kafka/consumer-kafka.test.ts)');
        this.skip();
      },
      '09 - Round trip producer to consumer.json': function (this: Mocha.Context) {
        console.log('      (runs on real Kafka in test/kafka/consumer-kafka.test.ts)');
        this.skip();
      },
    };

    it('has a run for every example file', () => {
      assert.deepEqual(Object.keys(runs).sort(), exampleFiles);
    });

    for (const [file, run] of Object.entries(runs)) {
      it(`runs "${file.replace(/\.json$/, '')}"`, function () {
        return run.call(this);
      });
    }
  });
});
