// SPDX-License-Identifier: Apache-2.0
/**
 * createTopicsReady (lib/kafka-cluster.ts): a topic just created whose metadata has not reached
 * the broker asked yet is waited for, not reported missing. The lag shows on a loaded machine
 * and cannot be produced on demand against a real broker, so a stand-in admin answers as
 * kafkajs does in that moment (said here, as the standards ask for stubs). The real path runs
 * in every Kafka test, which creates its topics with it.
 */
import assert from 'node:assert/strict';
import type { Admin } from 'kafkajs';

import { createTopicsReady } from '../../lib/kafka-cluster';

function laggingAdmin(answers: Array<'unknown' | 'no-leader' | 'ready' | Error>): {
  admin: Admin;
  calls: { create: unknown[]; metadata: number };
} {
  const calls = { create: [] as unknown[], metadata: 0 };
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
  } as unknown as Admin;
  return { admin, calls };
}

describe('createTopicsReady', () => {
  it('waits through "does not host this topic-partition" and leaderless partitions after creating', async () => {
    const { admin, calls } = laggingAdmin(['unknown', 'unknown', 'no-leader', 'ready']);
    const created = await createTopicsReady(admin, { topics: [{ topic: 't1', numPartitions: 1 }] });
    assert.equal(created, true);
    assert.equal(calls.metadata, 4);
    assert.deepEqual(calls.create, [{ topics: [{ topic: 't1', numPartitions: 1 }], waitForLeaders: false }]);
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
