// SPDX-License-Identifier: Apache-2.0
/**
 * The one place kafkajs is loaded (the Kafka sender, the topic-admin and consumer clients, the
 * local endpoint's Kafka backend): on first use of a Kafka feature, so a Node-RED that only uses
 * REST never pays for loading it.
 *
 * kafkajs 2.2.4 groups the messages of every send by partition with an array spread per message
 * (`src/producer/groupMessagesPerPartition.js`: `[...current, message]`), which is quadratic in the
 * records per partition of a send: measured here (CPU per record, one partition) 0.6 µs at 100
 * records, 1.1 µs at 400, 2 µs at 1,000 and 4.5 µs at 4,000, against 0.01 µs for one pass. The
 * Kafka sender sends everything that arrived while the previous batch was on the wire, up to
 * 1 MiB, so its batches are that large under load. The fix was proposed upstream
 * (tulios/kafkajs#1576) and never released, and kafkajs is no longer maintained.
 *
 * Before kafkajs is loaded, {@link groupMessagesPerPartition} (one pass, the same result: an
 * object from partition to that partition's messages, in input order, the partitioner called once
 * per message in order) is put in Node's module cache under that file's name, so kafkajs's
 * `require` of it gets this one. Only for the kafkajs version it was read from (package.json pins
 * it); any other version is loaded as it is. If something in the same process loaded this copy of
 * kafkajs first, it keeps the original (correct, only slower): {@link linearGrouping} says which.
 */
import { Module } from 'node:module';
import type * as KafkaJs from 'kafkajs';

/** The kafkajs release whose grouping file this replaces. */
export const KAFKAJS_VERSION = '2.2.4';

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

/** The file kafkajs requires for its grouping, or undefined when this is not the version it was read from. */
export function groupingFile(): string | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { version } = require('kafkajs/package.json') as { version: string };
    if (version !== KAFKAJS_VERSION) return undefined;
    return require.resolve('kafkajs/src/producer/groupMessagesPerPartition');
  } catch {
    return undefined;
  }
}

/**
 * Puts the one-pass grouping in the module cache unless kafkajs's own file is loaded already.
 * Cheap (no kafkajs load); idempotent.
 */
export function prepareKafkajs(): void {
  const file = groupingFile();
  if (file === undefined || require.cache[file] !== undefined) return;
  const m = new Module(file, module);
  m.filename = file;
  m.exports = groupMessagesPerPartition;
  m.loaded = true;
  require.cache[file] = m;
}

/** Whether kafkajs, as loaded in this process, groups with {@link groupMessagesPerPartition}. */
export function linearGrouping(): boolean {
  const file = groupingFile();
  return file !== undefined && require.cache[file]?.exports === groupMessagesPerPartition;
}

let kafkajsModule: typeof KafkaJs | undefined;

/** kafkajs, loaded on the first call, with the one-pass grouping. */
export function kafkajs(): typeof KafkaJs {
  if (kafkajsModule === undefined) {
    prepareKafkajs();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    kafkajsModule = require('kafkajs') as typeof KafkaJs;
  }
  return kafkajsModule;
}
