// SPDX-License-Identifier: Apache-2.0
/**
 * KafkaTopicAdmin against a real broker; every change is checked through kafkajs's own admin.
 * Input validation is checked against an address nothing listens on: it must fail before any
 * network call, i.e. with ValidationError rather than a connection error.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import { freePort } from '../../scripts/kafka';
import { isEventStreamsError, type EventStreamsError } from '../../lib/errors';
import { KafkaTopicAdmin, mapKafkaError, toKafkaConfig } from '../../lib/kafka-admin';
import { kafkaClient, kafkaOrSkip, uniqueTopic, type KafkaHandle } from '../helpers/kafka';

function hasCode(code: string) {
  return (err: unknown): boolean => {
    assert.ok(isEventStreamsError(err), `not an EventStreamsError: ${String(err)}`);
    assert.equal((err as EventStreamsError).code, code, (err as Error).message);
    return true;
  };
}

describe('KafkaTopicAdmin validation (no broker needed)', function () {
  let admin: KafkaTopicAdmin;
  before(async function () {
    admin = new KafkaTopicAdmin({ brokers: [`127.0.0.1:${await freePort()}`], connectionTimeoutMs: 500 });
  });
  after(() => admin.close());

  it('rejects bad input with ValidationError before touching the network', async function () {
    await assert.rejects(admin.createTopic({ name: 'bad name!' }), hasCode('INVALID_TOPIC'));
    await assert.rejects(admin.createTopic({ name: '' }), hasCode('INVALID_TOPIC'));
    await assert.rejects(admin.createTopic({ name: 'x'.repeat(250) }), hasCode('INVALID_TOPIC'));
    await assert.rejects(admin.createTopic({ name: 'ok', partitions: 0 }), hasCode('VALIDATION'));
    await assert.rejects(admin.createTopic({ name: 'ok', partitions: 1.5 }), hasCode('VALIDATION'));
    await assert.rejects(
      admin.createTopic({ name: 'ok', configs: [{ name: 'retention.ms' }] as never }),
      hasCode('INVALID_CONFIG'),
    );
    await assert.rejects(admin.createTopic({ name: 'ok', configs: 'x' as never }), hasCode('INVALID_CONFIG'));
    await assert.rejects(admin.updateTopic('ok', {}), hasCode('VALIDATION'));
    await assert.rejects(admin.updateTopic('ok', { partitions: -2 }), hasCode('VALIDATION'));
    await assert.rejects(admin.getTopic('..'), hasCode('INVALID_TOPIC'));
    await assert.rejects(admin.deleteTopic('a/b'), hasCode('INVALID_TOPIC'));
    await assert.rejects(admin.listTopics({ filter: '/(/' }), hasCode('VALIDATION'));
    // A `/regex/` is accepted (RE2), but not what RE2 cannot do in linear time: backreferences.
    await assert.rejects(admin.listTopics({ filter: '/(a)\\1/' }), hasCode('VALIDATION'));
    await assert.rejects(admin.listGroups({ filter: '/(/' }), hasCode('VALIDATION'));
    await assert.rejects(admin.describeGroup(''), hasCode('VALIDATION'));
    await assert.rejects(admin.resetGroupOffsets('g', { mode: 'sideways' } as never), hasCode('VALIDATION'));
    await assert.rejects(admin.deleteRecords('ok', []), hasCode('VALIDATION'));
    await assert.rejects(admin.getBroker(-1), hasCode('VALIDATION'));
    await assert.rejects(admin.getBrokerConfigs(0, { filter: '/[/' }), hasCode('VALIDATION'));
    assert.throws(() => new KafkaTopicAdmin({ brokers: [] }), hasCode('VALIDATION'));
    assert.throws(() => new KafkaTopicAdmin({ brokers: ['nohost'] }), hasCode('VALIDATION'));
  });

  it('reports an unreachable cluster as a retriable ConnectionError, without the password', async function () {
    this.timeout(20_000);
    const password = 'sup3r-secret-pw';
    const a = new KafkaTopicAdmin({
      brokers: [`127.0.0.1:${await freePort()}`],
      sasl: { mechanism: 'plain', username: 'token', password },
      connectionTimeoutMs: 500,
    });
    try {
      const err = await a.listTopics().then(
        () => assert.fail('expected a failure'),
        (e: unknown) => e as EventStreamsError,
      );
      assert.equal(err.code, 'CONNECTION_FAILED');
      assert.equal(err.retriable, true);
      assert.ok(!JSON.stringify(err.toJSON()).includes(password));
      assert.ok(!inspect(err, { depth: 10 }).includes(password));
    } finally {
      await a.close();
    }
    await assert.rejects(a.listTopics(), hasCode('CLOSED'));
  });

  it('passes TLS and SASL settings through to kafkajs with verification on unless disabled', function () {
    const sasl = { mechanism: 'scram-sha-512' as const, username: 'u', password: 'p4ssw0rd' };
    const config = toKafkaConfig({
      brokers: ['h:9093'],
      ssl: { ca: 'CA-PEM', servername: 'broker-0' },
      sasl,
    });
    assert.deepEqual(config.ssl, { ca: 'CA-PEM', servername: 'broker-0', rejectUnauthorized: true });
    assert.deepEqual(config.sasl, sasl);
    assert.equal(toKafkaConfig({ brokers: ['h:9093'], ssl: true }).ssl, true);
    assert.equal(
      (
        toKafkaConfig({ brokers: ['h:9093'], ssl: { rejectUnauthorized: false } }).ssl as {
          rejectUnauthorized: boolean;
        }
      ).rejectUnauthorized,
      false,
    );
    assert.equal(toKafkaConfig({ brokers: ['h:9093'] }).ssl, undefined);
  });

  it('maps kafkajs errors to the package hierarchy', function () {
    const protocol = (type: string, code: number, retriable: boolean) =>
      Object.assign(new Error('m'), { name: 'KafkaJSProtocolError', type, code, retriable });
    assert.equal(
      mapKafkaError(protocol('UNKNOWN_TOPIC_OR_PARTITION', 3, true), { topic: 't' }).code,
      'TOPIC_NOT_FOUND',
    );
    assert.equal(mapKafkaError(protocol('TOPIC_ALREADY_EXISTS', 36, false)).code, 'TOPIC_EXISTS');
    assert.equal(mapKafkaError(protocol('INVALID_PARTITIONS', 37, false)).code, 'VALIDATION');
    assert.equal(mapKafkaError(protocol('INVALID_CONFIG', 40, false)).code, 'INVALID_CONFIG');
    assert.equal(
      mapKafkaError(protocol('TOPIC_AUTHORIZATION_FAILED', 29, false)).code,
      'AUTHORIZATION_FAILED',
    );
    const notLeader = mapKafkaError(protocol('NOT_LEADER_FOR_PARTITION', 6, true));
    assert.deepEqual(
      [notLeader.code, notLeader.retriable, notLeader.kafkaErrorCode],
      ['KAFKA_ERROR', true, 6],
    );
    const wrapped = Object.assign(new Error('retries'), {
      name: 'KafkaJSNumberOfRetriesExceeded',
      cause: protocol('UNKNOWN_TOPIC_OR_PARTITION', 3, true),
    });
    assert.equal(mapKafkaError(wrapped).code, 'TOPIC_NOT_FOUND');
    const sasl = Object.assign(new Error('SASL PLAIN authentication failed'), {
      name: 'KafkaJSSASLAuthenticationError',
    });
    assert.equal(mapKafkaError(sasl).code, 'AUTHENTICATION_FAILED');
    const tls = Object.assign(new Error('Connection error: self-signed certificate'), {
      name: 'KafkaJSConnectionError',
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    const tlsErr = mapKafkaError(tls) as EventStreamsError & { reason?: string };
    assert.deepEqual([tlsErr.code, tlsErr.reason, tlsErr.retriable], ['TLS_FAILED', 'UNKNOWN_CA', false]);
  });
});

describe('KafkaTopicAdmin (real Kafka)', function () {
  let kafka: KafkaHandle;
  let view: Admin;
  let admin: KafkaTopicAdmin;

  before(async function () {
    kafka = await kafkaOrSkip(this);
    view = kafkaClient(kafka.brokers).admin();
    await view.connect();
    admin = new KafkaTopicAdmin({ brokers: kafka.brokers, clientId: 'admin-test' });
  });

  after(async function () {
    await admin?.close();
    await view?.disconnect();
  });

  // Config changes reach the broker that answers DescribeConfigs through the KRaft metadata log,
  // a moment after AlterConfigs returns; poll briefly for the expected state.
  async function eventuallyConfig(
    topic: string,
    name: string,
    expected: { value?: string; onTopic: boolean },
  ) {
    let last: { value: string; onTopic: boolean } | undefined;
    for (let i = 0; i < 50; i++) {
      last = await topicConfig(topic, name);
      if (
        last &&
        last.onTopic === expected.onTopic &&
        (expected.value === undefined || last.value === expected.value)
      ) {
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`${name} of ${topic} is ${JSON.stringify(last)}, expected ${JSON.stringify(expected)}`);
  }

  async function topicConfig(
    topic: string,
    name: string,
  ): Promise<{ value: string; onTopic: boolean } | undefined> {
    const d = await view.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: [name] }],
      includeSynonyms: false,
    });
    const e = d.resources[0]!.configEntries.find((c) => c.configName === name);
    // configSource 1 = DYNAMIC_TOPIC_CONFIG: set on the topic itself (not inherited from the broker).
    return e && { value: e.configValue, onTopic: e.configSource === 1 };
  }

  it('creates, ensures, lists, gets, grows, reconfigures and deletes a topic', async function () {
    this.timeout(60_000);
    const prefix = uniqueTopic('ka');
    const name = `${prefix}-main`;

    assert.deepEqual(
      await admin.createTopic({
        name,
        partitions: 2,
        configs: { 'retention.ms': 7_200_000, 'cleanup.policy': 'delete' },
      }),
      { topic: name },
    );
    let md = await view.fetchTopicMetadata({ topics: [name] });
    assert.equal(md.topics[0]!.partitions.length, 2);
    assert.deepEqual(await topicConfig(name, 'retention.ms'), { value: '7200000', onTopic: true });

    await assert.rejects(admin.createTopic({ name }), hasCode('TOPIC_EXISTS'));
    assert.deepEqual(await admin.ensureTopic({ name, partitions: 5 }), { topic: name, created: false });
    assert.equal((await view.fetchTopicMetadata({ topics: [name] })).topics[0]!.partitions.length, 2);
    const second = `${prefix}-second`;
    assert.deepEqual(await admin.ensureTopic({ name: second }), { topic: second, created: true });

    const detail = await admin.getTopic(name);
    assert.equal(detail.name, name);
    assert.equal(detail.partitions, 2);
    assert.equal(detail.replicationFactor, 1);
    assert.equal(detail.retentionMs, 7_200_000);
    assert.equal(detail.cleanupPolicy, 'delete');
    assert.equal(detail.configs?.['retention.ms'], '7200000');
    assert.deepEqual(
      detail.replicaAssignments?.map((r) => r.id),
      [0, 1],
    );
    await assert.rejects(admin.getTopic(`${prefix}-absent`), hasCode('TOPIC_NOT_FOUND'));

    const all = await admin.listTopics({ filter: `${prefix}-*` });
    assert.deepEqual(
      all.topics.map((t) => t.name),
      [name, second],
    );
    assert.equal(all.total, 2);
    const regex = await admin.listTopics({ filter: `${prefix}-sec*` });
    assert.deepEqual(
      regex.topics.map((t) => t.name),
      [second],
    );
    const page2 = await admin.listTopics({ filter: `${prefix}-*`, page: 2, perPage: 1 });
    assert.deepEqual([page2.topics.map((t) => t.name), page2.total], [[second], 2]);
    assert.ok(
      !(await admin.listTopics()).topics.some((t) => t.name.startsWith('__')),
      'internal topics hidden',
    );

    await admin.updateTopic(name, { partitions: 4 });
    md = await view.fetchTopicMetadata({ topics: [name] });
    assert.equal(md.topics[0]!.partitions.length, 4);
    await assert.rejects(admin.updateTopic(name, { partitions: 4 }), hasCode('VALIDATION'));
    await assert.rejects(admin.updateTopic(name, { partitions: 3 }), hasCode('VALIDATION'));
    await assert.rejects(
      admin.updateTopic(`${prefix}-absent`, { partitions: 3 }),
      hasCode('TOPIC_NOT_FOUND'),
    );

    // Non-incremental AlterConfigs underneath: the untouched retention.ms must survive.
    // Two updates back to back: the second must merge with the first's result.
    await admin.updateTopic(name, { configs: [{ name: 'cleanup.policy', value: 'compact' }] });
    await admin.updateTopic(name, { configs: [{ name: 'retention.ms', reset_to_default: true }] });
    await eventuallyConfig(name, 'retention.ms', { onTopic: false });
    assert.deepEqual(await topicConfig(name, 'cleanup.policy'), { value: 'compact', onTopic: true });
    await assert.rejects(
      admin.updateTopic(name, { configs: [{ name: 'no.such.config', value: '1' }] }),
      hasCode('INVALID_CONFIG'),
    );
    await assert.rejects(
      admin.createTopic({ name: `${prefix}-badcfg`, configs: [{ name: 'cleanup.policy', value: 'bogus' }] }),
      hasCode('INVALID_CONFIG'),
    );

    assert.deepEqual(await admin.deleteTopic(name), { topic: name, deleted: true });
    assert.deepEqual(await admin.deleteTopic(name), { topic: name, deleted: false });
    assert.deepEqual(await admin.deleteTopic(second), { topic: second, deleted: true });
    assert.ok(!(await view.listTopics()).includes(name));
  });
});
