// SPDX-License-Identifier: Apache-2.0
/** Mapping of message properties onto a produce record, shared by the producer node and its tests. */
import { ValidationError } from '../../lib/errors';
import type { ProduceRecord } from '../../lib/types';

export type HeaderPair = { name: string; value: string | Buffer };

/** `msg.key` → record key. Empty and absent keys mean "no key" (round-robin partitioning). */
export function toRecordKey(value: unknown): string | Buffer | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  throw new ValidationError('The record key must be a string or a Buffer', 'INVALID_KEY');
}

function headerValue(name: string, value: unknown, out: HeaderPair[]): void {
  if (value === undefined || value === null) return;
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    out.push({ name, value });
  } else if (value instanceof Uint8Array) {
    out.push({ name, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) });
  } else if (typeof value === 'number' || typeof value === 'boolean') {
    out.push({ name, value: String(value) });
  } else if (Array.isArray(value)) {
    // Kafka allows repeated header names; an HTTP-style multi-value header maps onto them.
    for (const v of value) headerValue(name, v, out);
  } else {
    throw new ValidationError(`Header '${name}' must be a string or a Buffer`, 'INVALID_HEADERS');
  }
}

/**
 * `msg.headers` → record headers: an object of string/Buffer values or an array of `{name, value}`
 * pairs. Numbers and booleans become text; null/undefined values are left out.
 */
export function toRecordHeaders(value: unknown): HeaderPair[] | undefined {
  if (value === undefined || value === null) return undefined;
  const out: HeaderPair[] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if (!item || typeof item !== 'object' || typeof (item as { name?: unknown }).name !== 'string') {
        throw new ValidationError(
          'Headers given as an array must be {name, value} objects',
          'INVALID_HEADERS',
        );
      }
      const { name, value: v } = item as { name: string; value: unknown };
      if (!name) throw new ValidationError('A header name must not be empty', 'INVALID_HEADERS');
      headerValue(name, v, out);
    }
  } else if (typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) headerValue(name, v, out);
  } else {
    throw new ValidationError(
      'Headers must be an object of string/Buffer values or an array of {name, value}',
      'INVALID_HEADERS',
    );
  }
  return out.length > 0 ? out : undefined;
}

/** `msg.payload` → record value. Null and undefined are errors, not empty records. */
export function toRecordValue(payload: unknown): ProduceRecord['value'] {
  if (payload === undefined || payload === null) {
    throw new ValidationError(
      'msg.payload is empty: null or undefined is not sent as a record',
      'INVALID_VALUE',
    );
  }
  if (typeof payload === 'bigint') return payload.toString();
  if (typeof payload === 'symbol' || typeof payload === 'function') {
    throw new ValidationError('msg.payload cannot be sent as a record value', 'INVALID_VALUE');
  }
  return payload as ProduceRecord['value'];
}

/**
 * The v1 Content-Types the producer offers (the REST Producer's list, lib/encode.ts passes any
 * of them through): '' derives it from the payload. v2 and Kafka read it as the value's type.
 */
export const CONTENT_TYPES = [
  '',
  'text/plain',
  'application/json',
  'application/octet-stream',
  'text/xml',
  'application/xml',
  'application/vnd.ibm-event-streams.text.v1',
  'application/vnd.ibm-event-streams.json.v1',
  'application/vnd.ibm-event-streams.binary.v1',
] as const;

/** The node's content type setting, checked at deploy; '' (automatic) for old flows. */
export function contentTypeSetting(value: unknown): string {
  if (value === undefined || value === null || value === '') return '';
  if (typeof value === 'string' && (CONTENT_TYPES as readonly string[]).includes(value)) return value;
  throw new ValidationError(
    `The content type must be one of ${CONTENT_TYPES.filter(Boolean).join(', ')}, or automatic`,
    'INVALID_CONFIG',
  );
}
