// SPDX-License-Identifier: Apache-2.0
/**
 * Multi-record input of the producer node: `msg.records` (an array of `{value, key?, headers?,
 * topic?}`), or `msg.payload` as an array when the node's "each element is a record" option is on.
 * Each element becomes one {@link Part}; the machine (./producer-machine.ts) settles the message
 * once all parts are done. An element that cannot be made into a record fails on its own (its
 * index in the error), so that the others are still written, as Kafka's own producer does.
 */
import { CORE_DEFAULTS } from '../../lib/defaults';
import { describeFailure } from '../../lib/error-model';
import { isEventStreamsError, ValidationError } from '../../lib/errors';
import type { ProduceRecord } from '../../lib/types';
import type { Msg, Part } from './producer-machine';

/** Builds one record from a value, key and headers as the node does for a single message. */
export type BuildRecord = (value: unknown, keyRaw: unknown, headersRaw: unknown) => ProduceRecord;

export interface MultiInput {
  /** `msg.records`, or the array payload when `splitArray` is on. */
  elements: unknown[];
  /** Whether the elements are `{value, key?, headers?, topic?}` objects (`msg.records`) or values. */
  objects: boolean;
  /** Where the elements came from, for error texts. */
  source: 'msg.records' | 'msg.payload';
}

/** The elements of a multi-record message, or undefined for a single record. */
export function multiInput(msg: Msg, splitArray: boolean): MultiInput | undefined {
  const records = msg.records;
  let input: MultiInput | undefined;
  if (records !== undefined && records !== null) {
    if (!Array.isArray(records)) {
      throw new ValidationError('msg.records must be an array of records', 'INVALID_VALUE');
    }
    input = { elements: records, objects: true, source: 'msg.records' };
  } else if (splitArray && Array.isArray(msg.payload)) {
    input = { elements: msg.payload as unknown[], objects: false, source: 'msg.payload' };
  }
  if (!input) return undefined;
  const max = CORE_DEFAULTS.maxRecordsPerMessage.value;
  if (input.elements.length === 0) {
    throw new ValidationError(
      `${input.source} is an empty array: there is no record to send`,
      'INVALID_VALUE',
    );
  }
  if (input.elements.length > max) {
    throw new ValidationError(
      `${input.source} has ${input.elements.length} records; one message may carry at most ${max}. Split it (a split node with a fixed length does).`,
      'INVALID_VALUE',
    );
  }
  return input;
}

const ELEMENT_FIELDS = new Set(['value', 'key', 'headers', 'topic']);

/**
 * One part per element, in input order. `topic` is the message's topic (the node's, else
 * msg.topic; '' when neither); an element's own `topic` applies only when the node has none.
 */
export function toParts(
  input: MultiInput,
  options: {
    nodeTopic: string;
    msgTopic: string;
    keyRaw: unknown;
    headersRaw: unknown;
    /** The node's (translated) text for a record without a topic. */
    noTopic: string;
    build: BuildRecord;
  },
): Part[] {
  return input.elements.map((element, i): Part => {
    let topic = options.nodeTopic || options.msgTopic;
    try {
      if (!input.objects) {
        if (!topic) throw new ValidationError(options.noTopic, 'INVALID_TOPIC');
        return {
          topic,
          state: 'pending',
          record: options.build(element, options.keyRaw, options.headersRaw),
        };
      }
      if (
        typeof element !== 'object' ||
        element === null ||
        Array.isArray(element) ||
        Buffer.isBuffer(element)
      ) {
        throw new ValidationError('must be an object {value, key?, headers?, topic?}', 'INVALID_VALUE');
      }
      const e = element as Record<string, unknown>;
      const unknown = Object.keys(e).filter((k) => !ELEMENT_FIELDS.has(k));
      if (unknown.length > 0) {
        throw new ValidationError(
          `has ${unknown.map((k) => `'${k}'`).join(', ')}, which a record cannot carry (value, key, headers, topic); the key chooses the partition`,
          'INVALID_VALUE',
        );
      }
      if (!options.nodeTopic && typeof e.topic === 'string' && e.topic.trim() !== '') topic = e.topic.trim();
      if (!topic) throw new ValidationError(options.noTopic, 'INVALID_TOPIC');
      return { topic, state: 'pending', record: options.build(e.value, e.key, e.headers) };
    } catch (err) {
      return { topic, state: 'pending', error: atIndex(err, input.source, i) };
    }
  });
}

/** The element's index in front of a validation error, so a flow author can find it. */
function atIndex(err: unknown, source: string, index: number): Error {
  const where = `${source}[${index}]`;
  if (isEventStreamsError(err) && err instanceof ValidationError) {
    return new ValidationError(
      `${where}: ${err.message}`,
      err.code as ConstructorParameters<typeof ValidationError>[1],
    );
  }
  if (isEventStreamsError(err)) {
    err.message = `${where}: ${err.message}`;
    return err;
  }
  return new ValidationError(`${where}: ${describeFailure(err)}`, 'INVALID_VALUE');
}
