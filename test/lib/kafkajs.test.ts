// SPDX-License-Identifier: Apache-2.0
/**
 * lib/kafkajs.ts: kafkajs loaded with a one-pass grouping of a send's messages by partition and a
 * record encoder without per-varint Buffers. Each must give what kafkajs's own function gives
 * (the same result, the same bytes, the same exception), and kafkajs's producer must be the one
 * using them. That a whole send still lands where its reports say is the Kafka suite's job
 * (reports against kcat, offsets, headers, keys).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import {
  type EncodedRecord,
  groupMessagesPerPartition,
  kafkajs,
  kafkajsReplacements,
  originals,
  prepareKafkajs,
  type RecordArgs,
} from '../../lib/kafkajs';

type Grouping = typeof groupMessagesPerPartition;
type RecordEncoder = (args: RecordArgs) => EncodedRecord;

/** A small deterministic generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** kafkajs's own functions and ours, as its producer requires them. */
function both(): { grouping: [Grouping, Grouping]; record: [RecordEncoder, RecordEncoder] } {
  prepareKafkajs();
  assert.ok(originals.grouping && originals.record, "kafkajs's own functions were kept");
  return {
    grouping: [
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('kafkajs/src/producer/groupMessagesPerPartition') as Grouping,
      originals.grouping as Grouping,
    ],
    record: [
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('kafkajs/src/protocol/recordBatch/record/v0') as RecordEncoder,
      originals.record,
    ],
  };
}

/** The bytes, or the exception's class and text. */
function outcome(encode: RecordEncoder, args: RecordArgs): string {
  try {
    const e = encode(args) as EncodedRecord & { buffer: Buffer; size(): number };
    assert.equal(e.size(), e.buffer.length);
    // A digest keeps a mismatch readable and the comparison cheap.
    return `${e.buffer.length} bytes, sha256 ${createHash('sha256').update(e.buffer).digest('hex')}`;
  } catch (err) {
    return `throws ${(err as Error).constructor.name}: ${(err as Error).message}`;
  }
}

describe('kafkajs with its two costliest functions replaced (lib/kafkajs.ts)', () => {
  it("kafkajs's producer requires the replacements", () => {
    const k = kafkajs();
    assert.equal(typeof k.Kafka, 'function');
    assert.deepEqual(kafkajsReplacements(), { grouping: true, record: true });
    for (const [user, target] of [
      ['kafkajs/src/producer/sendMessages', 'kafkajs/src/producer/groupMessagesPerPartition'],
      ['kafkajs/src/protocol/requests/produce/v3/request', 'kafkajs/src/protocol/recordBatch/record/v0'],
    ] as const) {
      // The produce request is loaded when kafkajs first produces (protocol versions load on demand).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(user);
      const userModule = require.cache[require.resolve(user)];
      assert.ok(userModule, `${user} is loaded`);
      const targetModule = require.cache[require.resolve(target)]!;
      assert.ok(userModule.children.includes(targetModule), `${user} took ${target} from the module cache`);
    }
  });

  it("groups exactly as kafkajs's own function does: partitions, order within each, partitioner calls", () => {
    const [ours, theirs] = both().grouping;
    assert.notEqual(ours, theirs);
    const next = random(20261204);
    for (let round = 0; round < 200; round++) {
      const partitions = 1 + Math.floor(next() * 6);
      const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i }));
      const messages = Array.from({ length: Math.floor(next() * 300) }, (_, i) => ({
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
      assert.deepStrictEqual(run(ours), run(theirs), `round ${round}`);
    }
    let calls = 0;
    const none = {
      topic: 't',
      partitionMetadata: [],
      messages: [{ value: 'a' }],
      partitioner: () => ++calls,
    };
    assert.deepStrictEqual(ours(none), theirs(none));
    assert.equal(calls, 0, 'without partition metadata no partitioner is asked');
  });

  it("encodes records to kafkajs's own bytes: keys, values, headers, deltas, sizes across varint widths", () => {
    const [ours, theirs] = both().record;
    assert.notEqual(ours, theirs);
    const next = random(42);
    const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)]!;
    const text = (n: number): string =>
      Array.from({ length: n }, () =>
        pick(['a', 'Z', '0', ' ', 'é', '€', '😀', '\u{10ffff}', '\ud800']),
      ).join('');
    const bytes = (n: number): Buffer =>
      Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));
    const sizes = [0, 1, 63, 64, 127, 128, 8191, 8192, 9000];
    const data = (): unknown =>
      pick(
        [null, undefined, () => text(pick(sizes) >> 2), () => bytes(pick(sizes))].map((f) =>
          typeof f === 'function' ? f() : f,
        ),
      );
    const deltas = [
      0,
      1,
      63,
      64,
      8191,
      8192,
      1_048_575,
      1_048_576,
      2 ** 26,
      -1,
      -64,
      -65,
      2 ** 27,
      2 ** 40,
      -(2 ** 31),
    ];
    for (let round = 0; round < 300; round++) {
      const headers: Record<string, unknown> = {};
      for (let h = Math.floor(next() * 4); h > 0; h--) {
        const name = pick(['trace', 'b', '2', '10', 'ünï', text(3)]);
        headers[name] =
          next() < 0.3 ? [bytes(3), text(5), bytes(0)] : pick([bytes(9), text(7), '', bytes(200)]);
      }
      const args: RecordArgs = {
        offsetDelta: pick(deltas.filter((d) => d >= 0 && d < 2 ** 31)),
        timestampDelta: pick(deltas),
        key: data(),
        value: data(),
        ...(next() < 0.7 ? { headers } : {}),
      };
      assert.equal(outcome(ours, args), outcome(theirs, args), `round ${round}`);
    }
  });

  it("leaves to kafkajs's own function what it does not encode the same way, and fails the same", () => {
    const [ours, theirs] = both().record;
    const cases: RecordArgs[] = [
      { value: 42 },
      { value: new Uint8Array([1, 2, 3]) },
      { key: { a: 1 }, value: 'v' },
      { value: 'v', headers: { a: null } },
      { value: 'v', headers: { a: 7 } },
      { value: 'v', headers: { a: [Buffer.from('x'), null] } },
      { value: 'v', timestampDelta: Number.NaN },
      { value: 'v', timestampDelta: 2 ** 45 },
      { value: 'v', offsetDelta: 2.5 },
      {},
    ];
    for (const args of cases) assert.equal(outcome(ours, args), outcome(theirs, args), JSON.stringify(args));
  });
});
