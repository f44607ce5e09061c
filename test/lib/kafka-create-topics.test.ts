// SPDX-License-Identifier: Apache-2.0
/**
 * createTopicsReady (lib/kafka-cluster.ts): a topic just created whose metadata has not reached
 * the broker asked yet, or whose leaders do not take requests yet, is waited for, not reported
 * missing or handed to a producer too early. The lag shows on a loaded machine
 * and cannot be produced on demand against a real broker, so a stand-in admin answers as
 * kafkajs does in that moment (said here, as the standards ask for stubs). The real path runs
 * in every Kafka test, which creates its topics with it.
 */
import assert from 'node:assert/strict';
import type { Admin } from 'kafkajs';

import { createTopicsReady } from '../../lib/kafka-cluster';

function laggingAdmin(
  answers: Array<'unknown' | 'no-leader' | 'ready' | Error>,
  offsetAnswers: Array<'not-leader' | 'ok'> = ['ok'],
): {
  admin: Admin;
  calls: { create: unknown[]; metadata: number; offsets: number };
} {
  const calls = { create: [] as unknown[], metadata: 0, offsets: 0 };
  const admin = {
    createTopics: async (args: unknown) => {
      calls.create.push(args);
      return true;
    },
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => {
      const a = answers[Math.min(calls.metadata++, answers.length - 1)]!;
      if (a instanceof Error) throw a;
      if (a === 'unknown') {
        throw Object.assign(new Error('This server does not host this topic-partition'), {
          type: 'UNKNOWN_TOPIC_OR_PARTITION',
        });
      }
      return {
        topics: topics.map((name) => ({
          name,
          partitions: [{ partitionId: 0, leader: a === 'ready' ? 1 : -1 }],
        })),
      };
    },
    fetchTopicOffsets: async () => {
      const a = offsetAnswers[Math.min(calls.offsets++, offsetAnswers.length - 1)];
      if (a === 'not-leader') {
        // kafkajs's retrier gives up with its own error around the broker's.
        throw Object.assign(new Error('retries exceeded'), {
          name: 'KafkaJSNumberOfRetriesExceeded',
          originalError: { type: 'NOT_LEADER_FOR_PARTITION' },
        });
      }
      return [{ partition: 0, offset: '0', high: '0', low: '0' }];
    },
  } as unknown as Admin;
  return { admin, calls };
}

describe('createTopicsReady', () => {
  it('waits through "does not host this topic-partition" and leaderless partitions after creating', async () => {
    const { admin, calls } = laggingAdmin(['unknown', 'unknown', 'no-leader', 'ready']);
    const created = await createTopicsReady(admin, { topics: [{ topic: 't1', numPartitions: 1 }] });
    assert.equal(created, true);
    assert.equal(calls.metadata, 4);
    assert.equal(calls.offsets, 1);
    assert.deepEqual(calls.create, [{ topics: [{ topic: 't1', numPartitions: 1 }], waitForLeaders: false }]);
  });

  it('waits until every partition leader answers for the topic, not only until the metadata names one', async () => {
    const { admin, calls } = laggingAdmin(['ready'], ['not-leader', 'not-leader', 'ok']);
    assert.equal(await createTopicsReady(admin, { topics: [{ topic: 't4', numPartitions: 1 }] }), true);
    assert.equal(calls.offsets, 3);
  });

  it('passes any other error on at once, and gives up with the last answer at the timeout', async () => {
    const denied = Object.assign(new Error('denied'), { type: 'TOPIC_AUTHORIZATION_FAILED' });
    await assert.rejects(
      createTopicsReady(laggingAdmin([denied]).admin, { topics: [{ topic: 't2' }] }),
      (err: unknown) => err === denied,
    );
    await assert.rejects(
      createTopicsReady(laggingAdmin(['unknown']).admin, { topics: [{ topic: 't3' }], timeout: 200 }),
      (err: unknown) => (err as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION',
    );
  });
});
