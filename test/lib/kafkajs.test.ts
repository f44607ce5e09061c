// SPDX-License-Identifier: Apache-2.0
/**
 * lib/kafkajs.ts and lib/kafkajs-encoders.ts: kafkajs loaded with a one-pass grouping of a send's messages by partition, a
 * record encoder without per-varint Buffers and a produce request that copies each record once.
 * Each must give what kafkajs's own function gives (the same result, the same bytes, the same
 * exception), and kafkajs's producer must be the one using them. That a whole send still lands where its reports say is the Kafka suite's job
 * (reports against kcat, offsets, headers, keys).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { kafkajs, kafkajsReplacements, originals, prepareKafkajs } from '../../lib/kafkajs';
import {
  crc32cUpdate,
  type EncodedRecord,
  type groupMessagesPerPartition,
  type ProduceArgs,
  type RecordArgs,
} from '../../lib/kafkajs-encoders';

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

describe('kafkajs with its three costliest functions replaced (lib/kafkajs.ts)', () => {
  it("kafkajs's producer requires the replacements", () => {
    const k = kafkajs();
    assert.equal(typeof k.Kafka, 'function');
    assert.deepEqual(kafkajsReplacements(), { grouping: true, record: true, produce: true });
    for (const [user, target] of [
      ['kafkajs/src/producer/sendMessages', 'kafkajs/src/producer/groupMessagesPerPartition'],
      ['kafkajs/src/protocol/requests/produce/v3/request', 'kafkajs/src/protocol/recordBatch/record/v0'],
      [
        'kafkajs/src/protocol/requests/produce/v4/request',
        'kafkajs/src/protocol/requests/produce/v3/request',
      ],
      [
        'kafkajs/src/protocol/requests/produce/v5/request',
        'kafkajs/src/protocol/requests/produce/v3/request',
      ],
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

  it("checksums as kafkajs's CRC-32C does, whole or in pieces", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const theirs = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;
    const next = random(7);
    for (let round = 0; round < 500; round++) {
      const buf = Buffer.from(
        Array.from({ length: Math.floor(next() * 70) }, () => Math.floor(next() * 256)),
      );
      const cut = Math.floor(next() * (buf.length + 1));
      const whole = (crc32cUpdate(-1, buf) ^ -1) >>> 0;
      const pieces = (crc32cUpdate(crc32cUpdate(-1, buf.subarray(0, cut)), buf.subarray(cut)) ^ -1) >>> 0;
      assert.equal(whole, theirs(buf), `round ${round}, ${buf.length} bytes`);
      assert.equal(pieces, whole, `round ${round}, cut at ${cut}`);
    }
    // The check value of CRC-32C (RFC 3720 B.4: 32 bytes of zeros).
    assert.equal((crc32cUpdate(-1, Buffer.alloc(32)) ^ -1) >>> 0, 0x8a9136aa);
  });

  it("writes produce requests byte for byte as kafkajs's own: topics, partitions, timestamps, sequences, headers", async () => {
    prepareKafkajs();
    type Produce = (args: ProduceArgs) => { encode(): Promise<{ buffer: Buffer }>; apiVersion: number };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ours = require('kafkajs/src/protocol/requests/produce/v3/request') as Produce;
    const theirs = originals.produce as unknown as Produce;
    assert.ok(theirs && ours !== theirs);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Long = require('kafkajs/src/utils/long') as { fromNumber(n: number): unknown };
    const next = random(20261205);
    const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)]!;
    // Timestamps of different widths, as text and numbers: kafkajs orders them as text.
    const stamps = [undefined, null, '1733356800000', '1733356800001', '999', '10000', 1733356800002, 0, '0'];
    const message = (): Record<string, unknown> => {
      const m: Record<string, unknown> = {
        key: pick([null, undefined, 'k', Buffer.from([1, 2]), 'ключ']),
        value: pick(['v', '', Buffer.alloc(300, 7), null, 'x'.repeat(200), 'ü€😀']),
      };
      if (next() < 0.8) m.timestamp = pick(stamps);
      if (next() < 0.3) m.headers = { trace: Buffer.from('t'), list: [Buffer.from('a'), 'b'] };
      if (next() < 0.1) m.partition = 3; // ignored by both
      return m;
    };
    const outcome = async (produce: Produce, args: ProduceArgs): Promise<string> => {
      try {
        const request = produce(args);
        const { buffer } = await request.encode();
        return `v${request.apiVersion}: ${buffer.length} bytes, sha256 ${createHash('sha256').update(buffer).digest('hex')}`;
      } catch (err) {
        return `throws ${(err as Error).constructor.name}: ${(err as Error).message}`;
      }
    };
    // Records without a timestamp take the time of encoding: one fixed clock for both encodings.
    const realNow = Date.now;
    Date.now = () => 1733356800500;
    try {
      for (let round = 0; round < 200; round++) {
        const args: ProduceArgs = {
          acks: pick([-1, 1, 0]),
          timeout: pick([30000, 5000]),
          ...(next() < 0.3 ? { transactionalId: pick([null, 'tx-1']) } : {}),
          ...(next() < 0.5
            ? { producerId: Long.fromNumber(Math.floor(next() * 1e6)), producerEpoch: 3 }
            : {}),
          ...(next() < 0.2 ? { compression: 0 } : {}),
          topicData: Array.from({ length: 1 + Math.floor(next() * 3) }, (_, t) => ({
            topic: `topic-${t}-é`,
            partitions: Array.from({ length: 1 + Math.floor(next() * 4) }, (_, p) => ({
              partition: p * 2,
              ...(next() < 0.5 ? { firstSequence: Math.floor(next() * 1000) } : {}),
              messages: Array.from({ length: Math.floor(next() * 40) }, message),
            })),
          })),
        };
        assert.equal(await outcome(ours, args), await outcome(theirs, args), `round ${round}`);
      }
      // Records our encoder leaves to kafkajs's, what kafkajs refuses, and a gzip send (kafkajs's own
      // request; gzip gives the same bytes for the same input).
      const one = (m: Record<string, unknown>, extra: Partial<ProduceArgs> = {}): ProduceArgs => ({
        acks: -1,
        timeout: 30000,
        topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 'a' }, m] }] }],
        ...extra,
      });
      for (const args of [
        one({ value: 42 }),
        one({ value: 'v', headers: { a: 7 } }),
        one({ value: 'v', timestamp: 'soon' }),
        one({ value: 'v', headers: null }),
        one({ value: 'v', headers: { a: null } }),
        one({ value: 'v', timestamp: '1733356800000' }, { compression: 1 }),
      ]) {
        const a = await outcome(ours, args);
        assert.equal(a, await outcome(theirs, args), JSON.stringify(args));
      }
    } finally {
      Date.now = realNow;
    }
  });
});
