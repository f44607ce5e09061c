// SPDX-License-Identifier: Apache-2.0
/** event-streams-topic-admin over the Admin REST API of the local endpoint, and its input validation. */
import assert from 'node:assert/strict';

import { helper, uniqueTopic, useTopicAdminFlow } from './support';
import { waitFor } from '../support/wait';

const API_KEY = 'admin-test-key-0123456789';

describe('event-streams-topic-admin', function () {
  this.timeout(15000);
  const ta = useTopicAdminFlow(API_KEY);
  const { call } = ta;

  it('runs list, get, create, ensure (twice), update and delete from msg', async () => {
    await ta.load();
    const topic = uniqueTopic('adm');

    const created = await call({
      operation: 'create',
      topic,
      payload: { partitions: 2, configs: { 'retention.ms': '3600000' } },
    });
    assert.deepEqual(created.out?.payload, { topic });

    const ensured = await call({ operation: 'ensure', topic: `${topic}-e`, payload: { partitions: 1 } });
    assert.deepEqual(ensured.out?.payload, { topic: `${topic}-e`, created: true });
    const again = await call({ operation: 'ensure', topic: `${topic}-e` });
    assert.deepEqual(again.out?.payload, { topic: `${topic}-e`, created: false });

    const got = await call({ operation: 'get', topic });
    assert.equal(got.out?.payload.name, topic);
    assert.equal(got.out?.payload.partitions, 2);

    const listed = await call({ operation: 'list', payload: { filter: `${topic}*` } });
    assert.deepEqual(listed.out?.payload.map((t: { name: string }) => t.name).sort(), [topic, `${topic}-e`]);

    const updated = await call({ operation: 'update', topic, payload: { partitions: 4 } });
    assert.deepEqual(updated.out?.payload, { topic });
    assert.equal((await call({ operation: 'get', topic })).out?.payload.partitions, 4);

    const deleted = await call({ operation: 'delete', topic });
    assert.deepEqual(deleted.out?.payload, { topic, deleted: true });
    const missing = await call({ operation: 'get', topic, marker: 'm' });
    assert.equal(missing.caught?.error.code, 'TOPIC_NOT_FOUND');
    assert.equal(missing.caught?.marker, 'm');
  });

  it('uses the node settings over the message, and warns once about the override', async () => {
    const topic = uniqueTopic('fixed');
    await ta.load({ operation: 'ensure', topic, partitions: '3', configs: '{"cleanup.policy":"compact"}' });
    const warnings: string[] = [];
    helper.getNode('a1').on('call:warn', (c: { args: unknown[] }) => warnings.push(String(c.args[0])));
    const r = await call({ operation: 'delete', topic: 'something-else', payload: { partitions: 9 } });
    assert.deepEqual(r.out?.payload, { topic, created: true });
    const detail = await ta.endpoint.backend.getTopic(topic);
    assert.equal(detail?.partitions, 3);
    await call({ topic: 'other-again' });
    const overrides = (): number => warnings.filter((w) => w.includes('nooverride')).length;
    await waitFor(() => overrides() >= 2, 'the second override warning', { timeoutMs: 5000 }).catch(
      () => undefined,
    );
    assert.equal(warnings.filter((w) => w.includes('nooverride')).length, 2, warnings.join('|'));
  });

  it('rejects malformed input before any request, with specific errors for Catch', async () => {
    await ta.load();
    const before = ta.endpoint.requestCount('admin');
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ operation: 'drop', topic: 't' }, 'VALIDATION', /Unknown operation/],
      [{ operation: 'get' }, 'INVALID_TOPIC', /needs a topic/],
      [{ operation: 'create', topic: 'bad topic!' }, 'INVALID_TOPIC', /characters/],
      [{ operation: 'create', topic: 'ok', payload: { partitions: 0 } }, 'VALIDATION', /positive integer/],
      [
        { operation: 'create', topic: 'ok', payload: { partitions: 'many' } },
        'VALIDATION',
        /positive integer/,
      ],
      [{ operation: 'create', topic: 'ok', payload: { configs: 'retention.ms=1' } }, 'VALIDATION', /configs/],
      [{ operation: 'update', topic: 'ok', payload: {} }, 'VALIDATION', /needs partitions or configs/],
      [{ operation: { nested: 1 }, topic: 'ok' }, 'VALIDATION', /Unknown operation/],
    ];
    for (const [msg, code, text] of cases) {
      const r = await call(msg);
      assert.equal(r.caught?.error.code, code, JSON.stringify(msg));
      assert.match(r.caught?.error.message, text);
    }
    assert.equal(ta.endpoint.requestCount('admin'), before, 'no admin request was made');
  });

  it('reports an invalid Configs field at deploy and on input', async () => {
    await ta.load({ operation: 'create', topic: 'x', configs: '{not json' });
    const r = await call({});
    assert.equal(r.caught?.error.code, 'VALIDATION');
  });

  it('reports a Kafka backend without brokers as a configuration error, not a crash', async () => {
    await ta.load({ backend: 'kafka', operation: 'list' });
    const r = await call({});
    assert.equal(r.caught?.error.code, 'INVALID_CONFIG');
  });
});
