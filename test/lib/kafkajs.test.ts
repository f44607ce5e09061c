// SPDX-License-Identifier: Apache-2.0
/**
 * lib/kafkajs.ts: kafkajs loaded with the one-pass grouping of a send's messages by partition in
 * place of its quadratic one. The grouping must give what kafkajs's own file gives (its source is
 * compiled here beside ours), and kafkajs's producer must be the one using it. That a whole send
 * still lands where its reports say is the Kafka suite's job (reports against kcat and offsets).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Module } from 'node:module';

import {
  groupingFile,
  groupMessagesPerPartition,
  kafkajs,
  KAFKAJS_VERSION,
  linearGrouping,
} from '../../lib/kafkajs';

type Grouping = typeof groupMessagesPerPartition;

/** kafkajs's own grouping, compiled from its file (the module cache holds ours under that name). */
function originalGrouping(): Grouping {
  const file = groupingFile();
  assert.ok(file, `kafkajs ${KAFKAJS_VERSION} is installed`);
  const m = new Module(`${file}#original`) as Module & { _compile(source: string, file: string): void };
  m._compile(readFileSync(file, 'utf8'), file);
  assert.equal(typeof m.exports, 'function');
  assert.notEqual(m.exports, groupMessagesPerPartition);
  return m.exports as Grouping;
}

/** A small deterministic generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('kafkajs with the one-pass grouping (lib/kafkajs.ts)', () => {
  it("kafkajs's producer requires the one-pass grouping", () => {
    const k = kafkajs();
    assert.equal(typeof k.Kafka, 'function');
    assert.ok(linearGrouping(), 'the module cache holds the one-pass grouping under kafkajs file name');
    const file = groupingFile()!;
    const sendMessages = require.cache[require.resolve('kafkajs/src/producer/sendMessages')];
    assert.ok(sendMessages, "kafkajs's sendMessages is loaded");
    assert.ok(
      sendMessages.children.includes(require.cache[file]!),
      'sendMessages took its grouping from the module cache entry',
    );
  });

  it("groups exactly as kafkajs's own file does: partitions, order within each, partitioner calls", () => {
    const original = originalGrouping();
    const next = random(20261204);
    for (let round = 0; round < 200; round++) {
      const partitions = 1 + Math.floor(next() * 6);
      const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i }));
      const messages = Array.from({ length: Math.floor(next() * 300) }, (_, i) => ({
        key: next() < 0.5 ? null : `k${Math.floor(next() * 5)}`,
        value: `v${round}-${i}`,
        choice: Math.floor(next() * partitions),
      }));
      const run = (group: Grouping): { groups: unknown; calls: unknown[] } => {
        const calls: unknown[] = [];
        const groups = group({
          topic: 't',
          partitionMetadata,
          messages,
          partitioner: (args) => {
            calls.push([args.topic, args.partitionMetadata, args.message]);
            return (args.message as { choice: number }).choice;
          },
        });
        return { groups, calls };
      };
      assert.deepStrictEqual(run(groupMessagesPerPartition), run(original), `round ${round}`);
    }
  });

  it('without partition metadata groups nothing and asks no partitioner, as kafkajs does', () => {
    const original = originalGrouping();
    let calls = 0;
    const args = {
      topic: 't',
      partitionMetadata: [],
      messages: [{ value: 'a' }],
      partitioner: () => {
        calls++;
        return 0;
      },
    };
    assert.deepStrictEqual(groupMessagesPerPartition(args), original(args));
    assert.deepStrictEqual(groupMessagesPerPartition(args), {});
    assert.equal(calls, 0);
  });
});
