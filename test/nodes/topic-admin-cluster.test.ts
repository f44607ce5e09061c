// SPDX-License-Identifier: Apache-2.0
/**
 * event-streams-topic-admin's cluster operations (groups, records, cluster, brokers, quotas, status,
 * mirroring) in a real Node-RED runtime, over the Admin REST API of the local endpoint (memory
 * backend, HTTPS with verification on): every operation's result, and a Catch for bad input to
 * every operation before any request is made. The Kafka-protocol side of the same operations runs
 * against real Kafka in test/kafka/admin-groups-kafka.test.ts.
 */
import assert from 'node:assert/strict';

import type { MemoryBackend } from '../../gateway/memory-backend';
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

const API_KEY = 'cluster-node-test-key-0123456789';

describe('event-streams-topic-admin: cluster operations', function () {
  this.timeout(20000);
  let te: TestEndpoint;

  before(async () => {
    te = await startTestEndpoint({ apiKeys: [API_KEY] });
  });

  after(async () => {
    await te?.stop();
  });

  afterEach(async () => {
    await helper.unload();
  });

  function flow(admin: Record<string, unknown> = {}): Array<Record<string, unknown>> {
    return [
      TAB,
      endpointConfig(te.endpoint),
      {
        id: 'a1',
        z: 'tab1',
        type: 'event-streams-topic-admin',
        endpoint: 'cfg',
        backend: 'rest',
        operation: '',
        topic: '',
        partitions: '',
        configs: '',
        filter: '',
        wires: [['out']],
        ...admin,
      },
      { id: 'out', z: 'tab1', type: 'helper' },
      { id: 'c1', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'tab1', type: 'helper' },
    ];
  }

  const creds = () => ({ cfg: { apiKey: API_KEY, ca: te.endpoint.caPem } });

  async function call(
    msg: Record<string, unknown>,
  ): Promise<{ out?: Record<string, any>; caught?: Record<string, any> }> {
    const out = collect('out');
    const caught = collect('caught');
    helper.getNode('a1').receive(msg);
    await waitFor(() => out.length + caught.length > 0, 'an outcome', { timeoutMs: 8000 });
    return { out: out[0], caught: caught[0] };
  }

  it('runs every cluster operation from msg.operation and answers in the Admin REST shapes', async () => {
    await helper.load(allNodes, flow(), creds());
    const topic = uniqueTopic('cl');
    const memory = te.endpoint.backend as MemoryBackend;
    await memory.createTopic(topic, 1, []);
    for (let i = 0; i < 5; i++)
      memory.produceSync(topic, { key: null, value: Buffer.from('x'), headers: [] });

    assert.deepEqual((await call({ operation: 'status' })).out?.payload, { status: 'available' });
    assert.deepEqual(
      (await call({ operation: 'group-list', payload: { filter: '/app-.*/' } })).out?.payload,
      {
        groups: [],
        total: 0,
      },
    );
    const missingGroup = await call({ operation: 'group-get', payload: { group: 'app-1' } });
    assert.equal(missingGroup.caught?.error.code, 'NOT_FOUND');
    assert.deepEqual((await call({ operation: 'group-delete', payload: { group: 'app-1' } })).out?.payload, {
      group_id: 'app-1',
      deleted: false,
    });

    const del = await call({
      operation: 'records-delete',
      topic,
      payload: { partition: 0, before_offset: 3 },
    });
    assert.deepEqual(del.out?.payload, { topic });
    assert.deepEqual(memory.partitionOffsets(topic), [{ partition: 0, low: 3, high: 5 }]);

    const cluster = (await call({ operation: 'cluster' })).out?.payload;
    assert.equal(cluster.brokers.length, 1);
    assert.deepEqual((await call({ operation: 'broker-list' })).out?.payload, cluster.brokers);
    assert.deepEqual(
      (await call({ operation: 'broker-get', payload: { broker: 0 } })).out?.payload,
      cluster.brokers[0],
    );
    const configs = await call({ operation: 'broker-configs', payload: { broker: 0, filter: 'broker.*' } });
    assert.deepEqual(
      configs.out?.payload.configs.map((c: { name: string }) => c.name),
      ['broker.id'],
    );

    const entity = 'iam-ServiceId-0000';
    assert.deepEqual(
      (await call({ operation: 'quota-create', payload: { entity, producer_byte_rate: 1024 } })).out?.payload,
      { entity_name: entity },
    );
    await call({ operation: 'quota-update', payload: { entity, consumer_byte_rate: 2048 } });
    assert.deepEqual((await call({ operation: 'quota-get', payload: { entity } })).out?.payload, {
      entity_name: entity,
      producer_byte_rate: 1024,
      consumer_byte_rate: 2048,
    });
    assert.deepEqual((await call({ operation: 'quota-list' })).out?.payload, [
      { entity_name: entity, producer_byte_rate: 1024, consumer_byte_rate: 2048 },
    ]);
    await call({ operation: 'quota-delete', payload: { entity } });
    assert.equal(
      (await call({ operation: 'quota-get', payload: { entity } })).caught?.error.code,
      'NOT_FOUND',
    );

    assert.deepEqual(
      (await call({ operation: 'mirroring-set', payload: { includes: [`${topic}.*`] } })).out?.payload,
      { includes: [`${topic}.*`] },
    );
    assert.deepEqual((await call({ operation: 'mirroring-get' })).out?.payload, { includes: [`${topic}.*`] });
    assert.deepEqual((await call({ operation: 'mirroring-active' })).out?.payload, {
      active_topics: [topic],
    });
  });

  it('takes the topic and the filter from the node', async () => {
    const topic = uniqueTopic('nodetopic');
    const memory = te.endpoint.backend as MemoryBackend;
    await memory.createTopic(topic, 1, []);
    memory.produceSync(topic, { key: null, value: Buffer.from('x'), headers: [] });
    await helper.load(allNodes, flow({ operation: 'records-delete', topic }), creds());
    const r = await call({ topic: 'ignored', payload: { partition: 0, before_offset: 1 } });
    assert.deepEqual(r.out?.payload, { topic });
    assert.deepEqual(memory.partitionOffsets(topic), [{ partition: 0, low: 1, high: 1 }]);
  });

  it('administers schemas over the Confluent-compatible API and the rest of /artifacts', async () => {
    await helper.load(allNodes, flow(), creds());
    const subject = `${uniqueTopic('sub')}-value`;
    const schema = { type: 'record', name: 'R', fields: [{ name: 'a', type: 'string' }] };
    const reg = await call({ operation: 'subject-register', payload: { subject, schema } });
    const id = reg.out?.payload.id;
    assert.equal(typeof id, 'number');
    assert.ok((await call({ operation: 'subject-list' })).out?.payload.includes(subject));
    assert.deepEqual((await call({ operation: 'subject-versions', payload: { subject } })).out?.payload, [1]);
    const got = (await call({ operation: 'subject-get', payload: { subject } })).out?.payload;
    assert.equal(got.id, id);
    assert.deepEqual(
      JSON.parse((await call({ operation: 'schema-by-id', payload: { id } })).out?.payload.schema),
      schema,
    );
    assert.deepEqual(
      (await call({ operation: 'subject-compatibility', payload: { subject, rule: 'FULL' } })).out?.payload,
      { subject, rule: 'FULL' },
    );
    assert.deepEqual((await call({ operation: 'subject-delete', payload: { subject } })).out?.payload, {
      subject,
      versions: [1],
    });
    const missing = await call({ operation: 'subject-get', payload: { subject } });
    assert.equal(missing.caught?.error.code, 'SCHEMA_NOT_FOUND');
    for (const [msg, code] of [
      [{ operation: 'subject-get', payload: {} }, 'INVALID_SCHEMA'],
      [{ operation: 'subject-register', payload: { subject } }, 'INVALID_SCHEMA'],
      [{ operation: 'schema-by-id', payload: { id: -4 } }, 'INVALID_SCHEMA'],
      [{ operation: 'schema-state', payload: { id: 'x', state: 'ASLEEP' } }, 'INVALID_SCHEMA'],
      [{ operation: 'schema-update', payload: { id: 'x' } }, 'INVALID_SCHEMA'],
      [{ operation: 'schema-rule-delete', payload: {} }, 'INVALID_SCHEMA'],
    ] as Array<[Record<string, unknown>, string]>) {
      assert.equal((await call(msg)).caught?.error.code, code, JSON.stringify(msg));
    }
  });

  it('sends bad input of every cluster operation to Catch before any request', async () => {
    await helper.load(allNodes, flow(), creds());
    const before = te.endpoint.requestCount('admin');
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ operation: 'group-list', payload: { filter: '/(a/' } }, 'VALIDATION', /regular expression/],
      [{ operation: 'group-list', payload: { page: 0 } }, 'VALIDATION', /positive integer/],
      [{ operation: 'group-get' }, 'VALIDATION', /needs msg.payload.group/],
      [{ operation: 'group-get', payload: { group: 'x'.repeat(300) } }, 'VALIDATION', /longer than/],
      [{ operation: 'group-reset', payload: { group: 'g', mode: 'sideways' } }, 'VALIDATION', /mode must be/],
      [
        { operation: 'group-reset', payload: { group: 'g', mode: 'datetime', value: 'yesterday' } },
        'VALIDATION',
        /ISO 8601/,
      ],
      [
        { operation: 'group-reset', payload: { group: 'g', mode: 'offset', value: -1 } },
        'VALIDATION',
        /non-negative/,
      ],
      [
        { operation: 'group-reset', payload: { group: 'g', mode: 'earliest', execute: 'yes' } },
        'VALIDATION',
        /execute/,
      ],
      [{ operation: 'group-delete', payload: {} }, 'VALIDATION', /needs msg.payload.group/],
      [
        { operation: 'records-delete', payload: { partition: 0, before_offset: 1 } },
        'INVALID_TOPIC',
        /needs a topic/,
      ],
      [
        { operation: 'records-delete', topic: 't', payload: { partition: -1, before_offset: 1 } },
        'VALIDATION',
        /partition/,
      ],
      [{ operation: 'records-delete', topic: 't', payload: [] }, 'VALIDATION', /non-empty array/],
      [{ operation: 'broker-get', payload: { broker: 'one' } }, 'VALIDATION', /broker id/],
      [{ operation: 'broker-configs', payload: { broker: 0, verbose: 'yes' } }, 'VALIDATION', /verbose/],
      [
        { operation: 'broker-configs', payload: { broker: 0, filter: '/(/' } },
        'VALIDATION',
        /regular expression/,
      ],
      [{ operation: 'quota-get', payload: {} }, 'VALIDATION', /needs msg.payload.entity/],
      [
        { operation: 'quota-create', payload: { entity: 'default' } },
        'VALIDATION',
        /needs producer_byte_rate/,
      ],
      [
        { operation: 'quota-update', payload: { entity: 'default', producer_byte_rate: -1 } },
        'VALIDATION',
        /positive/,
      ],
      [{ operation: 'quota-delete', payload: { entity: 'a b' } }, 'VALIDATION', /entity/],
      [{ operation: 'mirroring-set', payload: { includes: 'x' } }, 'VALIDATION', /array/],
      [{ operation: 'mirroring-set', payload: { includes: ['(a'] } }, 'VALIDATION', /regular expression/],
    ];
    for (const [msg, code, text] of cases) {
      const r = await call(msg);
      assert.equal(r.caught?.error.code, code, JSON.stringify(msg));
      assert.match(r.caught?.error.message, text, JSON.stringify(msg));
    }
    assert.equal(te.endpoint.requestCount('admin'), before, 'no admin request was made');
  });
});
