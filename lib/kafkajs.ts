// SPDX-License-Identifier: Apache-2.0
/**
 * The one place kafkajs is loaded (the Kafka sender, the topic-admin and consumer clients, the
 * local endpoint's Kafka backend): on first use of a Kafka feature, so a Node-RED that only uses
 * REST never pays for loading it.
 *
 * Two of kafkajs 2.2.4's files cost the producer most of its CPU per record, and kafkajs is no
 * longer maintained, so before kafkajs is loaded their exports are replaced in Node's module
 * cache by functions that give the same result, and kafkajs's own `require` of them gets these:
 *
 * - `src/producer/groupMessagesPerPartition.js` groups a send's messages by partition with an
 *   array spread per message, quadratic in the records per partition (CPU per record, one
 *   partition: 0.6 µs at 100 records, 1.1 at 400, 4.5 at 4,000; one pass: 0.01). The Kafka sender
 *   sends everything that arrived while the previous batch was on the wire, up to 1 MiB, so its
 *   batches are that large under load. Proposed upstream as tulios/kafkajs#1576, never released.
 * - `src/protocol/recordBatch/record/v0/index.js` encodes each record with a zero-filled 512-byte
 *   Buffer, a new Buffer and array for every varint, and BigInt arithmetic for the timestamp
 *   delta. {@link encodeRecord} writes the same bytes into one buffer of the exact size, taken
 *   from Node's pool; what it does not handle as kafkajs does (a value that is neither bytes nor
 *   text, a delta past 2^27) it hands to kafkajs's own function.
 *
 * Only for the kafkajs version they were read from (package.json pins it); any other version is
 * loaded as it is. If kafkajs's producer was loaded before this (by another module in the same
 * process), it keeps its own functions: correct, only slower. {@link kafkajsReplacements} says
 * which are in effect. test/lib/kafkajs.test.ts compares both with kafkajs's own, byte for byte.
 */
import type * as KafkaJs from 'kafkajs';

/** The kafkajs release whose files these replace. */
export const KAFKAJS_VERSION = '2.2.4';

const GROUPING = 'kafkajs/src/producer/groupMessagesPerPartition';
const GROUPING_USER = 'kafkajs/src/producer/sendMessages';
const RECORD = 'kafkajs/src/protocol/recordBatch/record/v0';
const RECORD_USER = 'kafkajs/src/protocol/requests/produce/v3/request';
const ENCODER = 'kafkajs/src/protocol/encoder';

interface GroupArgs {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;
}

/** kafkajs's `groupMessagesPerPartition` in one pass. */
export function groupMessagesPerPartition({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: GroupArgs): Record<number, unknown[]> {
  if (partitionMetadata.length === 0) return {};
  const result: Record<number, unknown[]> = {};
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const list = result[partition];
    if (list === undefined) result[partition] = [message];
    else list.push(message);
  }
  return result;
}

/** What kafkajs's Record v0 takes (the message's other properties are ignored). */
export interface RecordArgs {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: unknown;
  value?: unknown;
  headers?: unknown;
}

/** kafkajs's Encoder as far as its callers of a record use it. */
export interface EncodedRecord {
  buf: Buffer;
  offset: number;
}

type RecordEncoder = (args: RecordArgs) => EncodedRecord;

/** Deltas and lengths up to this are varints of at most 4 bytes whose zigzag fits 31 bits. */
const SMALL = 2 ** 27;

function isSmall(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n > -SMALL && n < SMALL;
}

/** Kafka's zigzag for a 32-bit varint (and for a varlong of a small value: the same bytes). */
function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function varintSize(u: number): number {
  return u < 0x80 ? 1 : u < 0x4000 ? 2 : u < 0x200000 ? 3 : 4;
}

function writeVarint(buf: Buffer, at: number, u: number): number {
  while (u > 0x7f) {
    buf[at++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[at++] = u;
  return at;
}

/** Byte length as kafkajs writes the value (null for none), or undefined when kafkajs's own path applies. */
function lengthOf(v: unknown): number | null | undefined {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (Buffer.isBuffer(v)) return v.length;
  return undefined;
}

function writeBytes(buf: Buffer, at: number, v: unknown, length: number | null): number {
  if (length === null) {
    buf[at] = 1; // zigzag(-1)
    return at + 1;
  }
  at = writeVarint(buf, at, zigzag(length));
  if (typeof v === 'string') buf.write(v, at, length, 'utf8');
  else (v as Buffer).copy(buf, at);
  return at + length;
}

/**
 * kafkajs's Record v0 with the same bytes: length, attributes, timestamp delta, offset delta, key,
 * value, headers (in `Object.keys` order, an array value as one header per element).
 */
export function recordEncoder(original: RecordEncoder, encoderPrototype: object): RecordEncoder {
  // kafkajs reads a record's bytes through `buffer`, a fresh view up to `offset` each time; these
  // buffers end at `offset`, so the view is the buffer itself (one allocation per record less).
  const exact = Object.create(encoderPrototype, {
    buffer: {
      get(this: EncodedRecord): Buffer {
        return this.buf;
      },
    },
  }) as object;
  return function encodeRecord(args: RecordArgs): EncodedRecord {
    const { offsetDelta = 0, timestampDelta = 0, key, value, headers = {} } = args;
    const keyLength = lengthOf(key);
    const valueLength = lengthOf(value);
    if (
      !isSmall(offsetDelta) ||
      !isSmall(timestampDelta) ||
      keyLength === undefined ||
      valueLength === undefined ||
      typeof headers !== 'object' ||
      headers === null ||
      (keyLength ?? 0) >= SMALL ||
      (valueLength ?? 0) >= SMALL
    ) {
      return original(args);
    }
    const h = headers as Record<string, unknown>;
    const names = Object.keys(h);
    let headerCount = 0;
    let headerBytes = 0;
    for (const name of names) {
      const v = h[name];
      const list = Array.isArray(v) ? (v as unknown[]) : [v];
      const nameLength = Buffer.byteLength(name, 'utf8');
      for (const item of list) {
        const length = lengthOf(item);
        // kafkajs throws on a null header value; its own path says so.
        if (length === undefined || length === null || length >= SMALL) return original(args);
        headerCount++;
        headerBytes += varintSize(zigzag(nameLength)) + nameLength + varintSize(zigzag(length)) + length;
      }
    }
    const body =
      1 +
      varintSize(zigzag(timestampDelta)) +
      varintSize(zigzag(offsetDelta)) +
      (keyLength === null ? 1 : varintSize(zigzag(keyLength)) + keyLength) +
      (valueLength === null ? 1 : varintSize(zigzag(valueLength)) + valueLength) +
      varintSize(zigzag(headerCount)) +
      headerBytes;
    if (body >= SMALL) return original(args);
    const size = varintSize(zigzag(body)) + body;
    const buf = Buffer.allocUnsafe(size);
    let at = writeVarint(buf, 0, zigzag(body));
    buf[at++] = 0; // attributes
    at = writeVarint(buf, at, zigzag(timestampDelta));
    at = writeVarint(buf, at, zigzag(offsetDelta));
    at = writeBytes(buf, at, key, keyLength);
    at = writeBytes(buf, at, value, valueLength);
    at = writeVarint(buf, at, zigzag(headerCount));
    for (const name of names) {
      const v = h[name];
      const list = Array.isArray(v) ? (v as unknown[]) : [v];
      const nameLength = Buffer.byteLength(name, 'utf8');
      for (const item of list) {
        at = writeVarint(buf, at, zigzag(nameLength));
        buf.write(name, at, nameLength, 'utf8');
        at += nameLength;
        at = writeBytes(buf, at, item, lengthOf(item)!);
      }
    }
    // A kafkajs Encoder holding exactly these bytes (its constructor only sets buf and offset).
    const out = Object.create(exact) as EncodedRecord;
    out.buf = buf;
    out.offset = at;
    return out;
  };
}

/** kafkajs's file `name`, or undefined when this is not the kafkajs version the replacements were read from. */
function kafkajsFile(name: string): string | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { version } = require('kafkajs/package.json') as { version: string };
    return version === KAFKAJS_VERSION ? require.resolve(name) : undefined;
  } catch {
    return undefined;
  }
}

/** kafkajs's own functions, once {@link prepareKafkajs} has replaced them (for tests and fallbacks). */
export const originals: { grouping?: unknown; record?: RecordEncoder } = {};

/**
 * Sets `target`'s exports to `make(original)` unless `user` (the only kafkajs file that requires
 * it) is loaded already and so holds the original. Returns whether the replacement is in effect.
 */
function replace(target: string, user: string, make: (original: never) => unknown): boolean {
  const targetFile = kafkajsFile(target);
  const userFile = kafkajsFile(user);
  if (targetFile === undefined || userFile === undefined) return false;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const original = require(targetFile) as never;
  const entry = require.cache[targetFile]!;
  if (replacements.has(entry.exports)) return true;
  if (require.cache[userFile] !== undefined) return false;
  const made = make(original);
  replacements.add(made);
  entry.exports = made;
  return true;
}

const replacements = new Set<unknown>();

/**
 * Replaces the two functions before kafkajs's producer is loaded. Cheap (loads neither kafkajs
 * nor its producer); idempotent.
 */
export function prepareKafkajs(): { grouping: boolean; record: boolean } {
  return {
    grouping: replace(GROUPING, GROUPING_USER, (original) => {
      originals.grouping = original;
      return groupMessagesPerPartition;
    }),
    record: replace(RECORD, RECORD_USER, (original: RecordEncoder) => {
      originals.record = original;
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const Encoder = require(kafkajsFile(ENCODER)!) as { prototype: object };
      return recordEncoder(original, Encoder.prototype);
    }),
  };
}

/** Which replacements kafkajs, as loaded in this process, uses. */
export function kafkajsReplacements(): { grouping: boolean; record: boolean } {
  const inEffect = (target: string): boolean => {
    const file = kafkajsFile(target);
    return file !== undefined && replacements.has(require.cache[file]?.exports);
  };
  return { grouping: inEffect(GROUPING), record: inEffect(RECORD) };
}

let kafkajsModule: typeof KafkaJs | undefined;

/** kafkajs, loaded on the first call, with the replacements above. */
export function kafkajs(): typeof KafkaJs {
  if (kafkajsModule === undefined) {
    prepareKafkajs();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    kafkajsModule = require('kafkajs') as typeof KafkaJs;
  }
  return kafkajsModule;
}
