// SPDX-License-Identifier: Apache-2.0
/**
 * The one place kafkajs is loaded (the Kafka sender, the topic-admin and consumer clients, the
 * local endpoint's Kafka backend): on first use of a Kafka feature, so a Node-RED that only uses
 * REST never pays for loading it.
 *
 * Three of kafkajs 2.2.4's files cost the producer most of its CPU per record, and kafkajs is no
 * longer maintained, so before kafkajs is loaded their exports are replaced in Node's module
 * cache by functions that give the same result (lib/kafkajs-encoders.ts says what each saves),
 * and kafkajs's own `require` of them gets these:
 *
 * - `src/producer/groupMessagesPerPartition.js`: {@link groupMessagesPerPartition}, one pass
 *   instead of quadratic. The Kafka sender sends everything that arrived while the previous batch
 *   was on the wire, up to 1 MiB, so its batches are large under load.
 * - `src/protocol/recordBatch/record/v0/index.js`: {@link recordEncoder}.
 * - `src/protocol/requests/produce/v3/request.js` (v4 to v7 use it): {@link produceRequest}.
 *
 * Only for the kafkajs version they were read from (package.json pins it); any other version is
 * loaded as it is. If kafkajs's producer was loaded before this (by another module in the same
 * process), it keeps its own functions: correct, only slower. {@link kafkajsReplacements} says
 * which are in effect. test/lib/kafkajs.test.ts compares both with kafkajs's own, byte for byte.
 */
import type * as KafkaJs from 'kafkajs';

import {
  groupMessagesPerPartition,
  type KafkajsEncoder,
  produceRequest,
  type ProduceRequestFn,
  type RecordEncoder,
  recordEncoder,
} from './kafkajs-encoders';

/** The kafkajs release whose files these replace. */
export const KAFKAJS_VERSION = '2.2.4';

const GROUPING = 'kafkajs/src/producer/groupMessagesPerPartition';
const GROUPING_USER = 'kafkajs/src/producer/sendMessages';
const RECORD = 'kafkajs/src/protocol/recordBatch/record/v0';
const RECORD_USER = 'kafkajs/src/protocol/requests/produce/v3/request';
const ENCODER = 'kafkajs/src/protocol/encoder';
const LONG = 'kafkajs/src/utils/long';
const PRODUCE = 'kafkajs/src/protocol/requests/produce/v3/request';
// v4 and v5 require v3 when they load; produce/index.js requires each version when it is used.
const PRODUCE_USERS = [
  'kafkajs/src/protocol/requests/produce/v4/request',
  'kafkajs/src/protocol/requests/produce/v5/request',
];

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
export const originals: { grouping?: unknown; record?: RecordEncoder; produce?: ProduceRequestFn } = {};

/**
 * Sets `target`'s exports to `make(original)` unless one of `users` (the kafkajs files that
 * require it when they load) is loaded already and so holds the original. Returns whether the
 * replacement is in effect.
 */
function replace(target: string, users: string[], make: (original: never) => unknown): boolean {
  const targetFile = kafkajsFile(target);
  const userFiles = users.map(kafkajsFile);
  if (targetFile === undefined || userFiles.includes(undefined)) return false;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const original = require(targetFile) as never;
  const entry = require.cache[targetFile]!;
  if (replacements.has(entry.exports)) return true;
  if (userFiles.some((file) => require.cache[file!] !== undefined)) return false;
  const made = make(original);
  replacements.add(made);
  entry.exports = made;
  return true;
}

const replacements = new Set<unknown>();

/** Which of kafkajs's functions are replaced. */
export interface Replacements {
  grouping: boolean;
  record: boolean;
  produce: boolean;
}

/**
 * Replaces the three functions before kafkajs's producer is loaded. Cheap (loads neither kafkajs
 * nor its producer); idempotent. The record encoder is replaced first, so that kafkajs's own
 * produce request, which ours keeps for compressed sends, takes ours as well.
 */
export function prepareKafkajs(): Replacements {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const Encoder = (): new () => KafkajsEncoder => require(kafkajsFile(ENCODER)!) as new () => KafkajsEncoder;
  const grouping = replace(GROUPING, [GROUPING_USER], (original) => {
    originals.grouping = original;
    return groupMessagesPerPartition;
  });
  const record = replace(RECORD, [RECORD_USER], (original: RecordEncoder) => {
    originals.record = original;
    return recordEncoder(original, Encoder().prototype);
  });
  const produce = replace(PRODUCE, PRODUCE_USERS, (original: ProduceRequestFn) => {
    originals.produce = original;
    const Record = require(kafkajsFile(RECORD)!) as RecordEncoder;
    const Long = require(kafkajsFile(LONG)!) as { fromInt(n: number): unknown };
    return produceRequest(original, Record, Encoder(), Long);
  });
  /* eslint-enable @typescript-eslint/no-require-imports */
  return { grouping, record, produce };
}

/** Which replacements kafkajs, as loaded in this process, uses. */
export function kafkajsReplacements(): Replacements {
  const inEffect = (target: string): boolean => {
    const file = kafkajsFile(target);
    return file !== undefined && replacements.has(require.cache[file]?.exports);
  };
  return { grouping: inEffect(GROUPING), record: inEffect(RECORD), produce: inEffect(PRODUCE) };
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
