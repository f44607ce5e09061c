// SPDX-License-Identifier: Apache-2.0
/**
 * Request building for the two REST Producer flavours, and parsing of their success and error
 * bodies. Pure functions on plain data: no I/O, so the hot path is easy to benchmark and test.
 *
 * - v1 (`POST {base}/topics/{t}/records`): the value is the raw body, key/keyType/headers go in
 *   the query string, binary keys and every header value are hex (base16).
 * - v2 (`POST {base}/v2/topics/{t}/records`): a JSON envelope; binary data and header values are
 *   base64.
 *
 * Over 500 lines because v1 and v2 share their checks (key, headers, size, Unicode): one file
 * keeps the two encodings of a record side by side.
 */
import { CORE_DEFAULTS, ENDPOINT_FIELD_DEFAULTS } from './defaults';
import { UnexpectedResponseError, ValidationError } from './errors';
import { normaliseFormat, v1AvroValue, v2AvroPart, type V2AvroPart } from './schema';
import { scanProduceSuccess } from './produce-scan';
import { keyAndHeaderBytes } from './record-codec';
import type { ApiFlavour, HeaderValue, ProduceRecord, RecordHeaders } from './types';
import { describeType, isWellFormedString, printable } from './validate';

/** Client-side limits, checked before anything is sent. */
export interface EncodeLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
  maxUriBytes: number;
}

/** The values and their reasons are in lib/defaults.ts. */
export const DEFAULT_LIMITS: Readonly<EncodeLimits> = Object.freeze({
  maxKeyBytes: ENDPOINT_FIELD_DEFAULTS.maxKeyBytes.value,
  maxValueBytes: ENDPOINT_FIELD_DEFAULTS.maxValueBytes.value,
  maxUriBytes: CORE_DEFAULTS.maxUriBytes.value,
});

/** One produce request, built once and reused unchanged by every retry. */
export interface EncodedRequest {
  /** Request target: base path, topic path and (v1) query string. */
  path: string;
  contentType: string;
  body: string | Buffer;
  /** Bytes this record holds while queued (body plus request target), for the queue's byte bound. */
  bytes: number;
  /**
   * Value bytes as encoded plus key and header bytes: what the endpoint metrics count. Text short
   * enough not to need counting (see `sized`) counts its length, exact for ASCII.
   */
  recordBytes: number;
  /** v2 without a value schema: the value part as the envelope carries it (the outbox stores it). */
  v2Value?: V2Data;
}

/**
 * A body past a third of the size limit: made bytes once, and that buffer serves the size check
 * and the request (undici would otherwise encode the string again). Shorter text goes as is:
 * every UTF-16 unit is at most 3 UTF-8 bytes, so it fits without counting.
 */
function sized(text: string, limits: EncodeLimits): { body: string | Buffer; bytes: number } {
  if (text.length * 3 <= limits.maxValueBytes) return { body: text, bytes: text.length };
  const buf = Buffer.from(text, 'utf8');
  return { body: buf, bytes: buf.length };
}

const JSON_TYPE = 'application/json';
const TEXT_TYPE = 'text/plain';
const BINARY_TYPE = 'application/octet-stream';
// A header value must be visible ASCII; CR/LF would let a record smuggle extra HTTP headers.
const CONTENT_TYPE_SYNTAX = /^[\x21-\x7e][\x20-\x7e]*$/;

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

function asBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function checkRecord(record: unknown): asserts record is ProduceRecord {
  if (typeof record !== 'object' || record === null || Array.isArray(record) || isBytes(record)) {
    throw new ValidationError(
      `A record must be an object with a "value" property, not ${describeType(record)}.`,
      'INVALID_VALUE',
    );
  }
}

function jsonText(value: unknown, what: 'value' | 'key'): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ValidationError(
      `The record ${what} cannot be serialised as JSON (${printable(reason ?? '', 160)}); circular references and BigInt values are not supported.`,
      what === 'value' ? 'INVALID_VALUE' : 'INVALID_KEY',
    );
  }
  if (text === undefined) {
    throw new ValidationError(`The record ${what} cannot be serialised as JSON.`, 'INVALID_VALUE');
  }
  return text;
}

function checkContentType(ct: unknown): string | undefined {
  if (ct === undefined || ct === null || ct === '') return undefined;
  if (typeof ct !== 'string' || !CONTENT_TYPE_SYNTAX.test(ct)) {
    throw new ValidationError('The record contentType must be a printable ASCII string.', 'VALIDATION');
  }
  return ct;
}

function missingValue(value: unknown): never {
  throw new ValidationError(
    value === null
      ? 'The record value is null; the REST Producer API cannot write a null value (tombstone).'
      : 'The record has no value.',
    'INVALID_VALUE',
  );
}

function checkValueString(s: string): void {
  if (!isWellFormedString(s)) {
    throw new ValidationError(
      'The record value is not valid Unicode text (it contains an unpaired surrogate half).',
      'INVALID_VALUE',
    );
  }
}

/** Validates the key and returns it as bytes (binary) or as a checked string (text). */
function checkKey(key: unknown, limits: EncodeLimits): string | Buffer | undefined {
  if (key === undefined || key === null) return undefined;
  let bytes: number;
  let out: string | Buffer;
  if (typeof key === 'string') {
    if (!isWellFormedString(key)) {
      throw new ValidationError(
        'The record key is not valid Unicode text (it contains an unpaired surrogate half).',
        'INVALID_KEY',
      );
    }
    bytes = key.length <= limits.maxKeyBytes / 3 ? key.length : Buffer.byteLength(key);
    out = key;
  } else if (isBytes(key)) {
    out = asBuffer(key);
    bytes = out.length;
  } else {
    throw new ValidationError(
      `The record key must be a string, Buffer or Uint8Array, not ${describeType(key)}.`,
      'INVALID_KEY',
    );
  }
  if (bytes > limits.maxKeyBytes) {
    throw new ValidationError(
      `The record key is ${bytes} bytes; the limit is ${limits.maxKeyBytes}.`,
      'KEY_TOO_LARGE',
    );
  }
  return out;
}

interface HeaderItem {
  name: string;
  value: HeaderValue;
}

function checkHeaderValue(name: string, value: unknown): void {
  if (typeof value === 'string') {
    if (!isWellFormedString(value)) {
      throw new ValidationError(
        `The value of header "${printable(name)}" is not valid Unicode text (it contains an unpaired surrogate half).`,
        'INVALID_HEADERS',
      );
    }
  } else if (!isBytes(value)) {
    throw new ValidationError(
      `The value of header "${printable(name)}" must be a string, Buffer or Uint8Array, not ${describeType(value)}.`,
      'INVALID_HEADERS',
    );
  }
}

function checkHeaderName(name: unknown, v1: boolean): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ValidationError('Every record header needs a non-empty string name.', 'INVALID_HEADERS');
  }
  if (!isWellFormedString(name)) {
    throw new ValidationError(
      'A record header name is not valid Unicode text (it contains an unpaired surrogate half).',
      'INVALID_HEADERS',
    );
  }
  if (v1 && (name.includes(',') || name.includes(':'))) {
    throw new ValidationError(
      `The header name "${printable(name)}" contains "," or ":", which the v1 API's headers=name:value,… syntax cannot carry.`,
      'INVALID_HEADERS',
    );
  }
  return name;
}

/** Normalises and validates headers into a list (names may repeat; order is kept). */
function checkHeaders(headers: RecordHeaders | undefined, v1: boolean): HeaderItem[] | undefined {
  if (headers === undefined || headers === null) return undefined;
  if (typeof headers !== 'object' || isBytes(headers)) {
    throw new ValidationError(
      `Record headers must be an object or an array of {name, value}, not ${describeType(headers)}.`,
      'INVALID_HEADERS',
    );
  }
  const out: HeaderItem[] = [];
  if (Array.isArray(headers)) {
    for (const item of headers as unknown[]) {
      if (typeof item !== 'object' || item === null) {
        throw new ValidationError('Each item of a header array must be {name, value}.', 'INVALID_HEADERS');
      }
      const { name, value } = item as { name?: unknown; value?: unknown };
      const n = checkHeaderName(name, v1);
      checkHeaderValue(n, value);
      out.push({ name: n, value: value as HeaderValue });
    }
  } else {
    for (const name of Object.keys(headers)) {
      const value = (headers as Record<string, unknown>)[name];
      if (value === undefined) continue;
      checkHeaderName(name, v1);
      checkHeaderValue(name, value);
      out.push({ name, value: value as HeaderValue });
    }
  }
  return out.length > 0 ? out : undefined;
}

function tooLarge(bytes: number, limits: EncodeLimits, whole: boolean): never {
  throw new ValidationError(
    whole
      ? `The v2 request payload is ${bytes} bytes; the limit for the whole payload is ${limits.maxValueBytes}.`
      : `The record value is ${bytes} bytes; the limit is ${limits.maxValueBytes}.`,
    'VALUE_TOO_LARGE',
  );
}

/**
 * Builds a v1 request: the value is the body as is, the Content-Type comes from the value's type
 * unless `record.contentType` overrides it, key and headers go in the query string.
 * `basePath` is the producer URL's path without a trailing slash (usually empty).
 */
export function encodeV1(
  basePath: string,
  topic: string,
  record: ProduceRecord,
  limits: EncodeLimits = DEFAULT_LIMITS,
): EncodedRequest {
  checkRecord(record);
  // Avro: the body is the value's Avro JSON encoding, the schema is named in the query.
  const avro = v1Avro(record);
  const value: unknown = avro === undefined ? record.value : avro.body;
  let body: string | Buffer;
  let contentType: string;
  let bodyBytes: number;
  switch (typeof value) {
    case 'string':
      checkValueString(value);
      ({ body, bytes: bodyBytes } = sized(value, limits));
      contentType = TEXT_TYPE;
      break;
    case 'number':
    case 'boolean':
    case 'bigint':
      body = String(value);
      contentType = TEXT_TYPE;
      bodyBytes = body.length;
      break;
    case 'object':
      if (value === null) missingValue(value);
      if (isBytes(value)) {
        body = asBuffer(value);
        contentType = BINARY_TYPE;
        bodyBytes = body.length;
      } else {
        ({ body, bytes: bodyBytes } = sized(jsonText(value, 'value'), limits));
        contentType = JSON_TYPE;
      }
      break;
    case 'undefined':
      missingValue(value);
    // eslint-disable-next-line no-fallthrough
    default:
      throw new ValidationError(
        `The record value must be a string, number, boolean, Buffer, object or array, not ${describeType(value)}.`,
        'INVALID_VALUE',
      );
  }
  if (bodyBytes > limits.maxValueBytes) tooLarge(bodyBytes, limits, false);
  if (avro !== undefined) contentType = JSON_TYPE;
  const override = checkContentType(record.contentType);
  if (override !== undefined) contentType = override;

  const key = checkKey(record.key, limits);
  const headers = checkHeaders(record.headers, true);
  let path = `${basePath}/topics/${topic}/records`;
  if (key !== undefined) {
    path +=
      typeof key === 'string'
        ? `?key=${encodeURIComponent(key)}`
        : `?key=${key.toString('hex')}&keyType=binary`;
  }
  if (avro !== undefined) path += `${key === undefined ? '?' : '&'}${avro.query}`;
  if (headers !== undefined) {
    path += key === undefined && avro === undefined ? '?headers=' : '&headers=';
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      const hex =
        typeof h.value === 'string'
          ? Buffer.from(h.value, 'utf8').toString('hex')
          : asBuffer(h.value).toString('hex');
      path += `${i === 0 ? '' : ','}${encodeURIComponent(h.name)}:${hex}`;
    }
  }
  if (path.length > limits.maxUriBytes) {
    throw new ValidationError(
      `The request URI would be ${path.length} bytes (the v1 API carries the key and headers in the query string); the limit is ${limits.maxUriBytes}.`,
      'URI_TOO_LONG',
    );
  }
  return {
    path,
    contentType,
    body,
    bytes: bodyBytes + path.length,
    recordBytes: bodyBytes + keyAndHeaderBytes(record),
  };
}

function v1Avro(record: ProduceRecord): { body: string; query: string } | undefined {
  if (record.keySchema !== undefined && normaliseFormat(record.keySchema, 'key') !== undefined) {
    throw new ValidationError(
      'The v1 API cannot send Avro keys; send the key as text or bytes.',
      'INVALID_SCHEMA',
    );
  }
  const format = record.valueSchema === undefined ? undefined : normaliseFormat(record.valueSchema);
  if (format === undefined) return undefined;
  if (record.value === undefined || record.value === null) missingValue(record.value);
  return v1AvroValue(format, record.value);
}

type V2Type = 'text' | 'binary' | 'json';

export interface V2Data {
  type: V2Type;
  data: string;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw new ValidationError(
      'The record value is not valid UTF-8, so it cannot be sent as v2 text or json; send it as binary.',
      'INVALID_VALUE',
    );
  }
}

function typeFromContentType(ct: string | undefined): V2Type | undefined {
  if (ct === undefined) return undefined;
  const lower = ct.toLowerCase();
  if (lower.includes('json')) return 'json';
  if (lower.startsWith('text/') || lower.includes('xml')) return 'text';
  if (lower.includes('octet-stream') || lower.includes('binary')) return 'binary';
  return undefined;
}

function v2Value(record: ProduceRecord): V2Data {
  const value: unknown = record.value;
  if (value === undefined || value === null) missingValue(value);
  const forced =
    record.valueType !== undefined
      ? record.valueType
      : typeFromContentType(checkContentType(record.contentType));
  if (forced !== undefined && forced !== 'text' && forced !== 'binary' && forced !== 'json') {
    throw new ValidationError('valueType must be "text", "binary" or "json".', 'VALIDATION');
  }
  const t = typeof value;
  if (t === 'function' || t === 'symbol') {
    throw new ValidationError(
      `The record value must be a string, number, boolean, Buffer, object or array, not ${describeType(value)}.`,
      'INVALID_VALUE',
    );
  }
  const bytes = isBytes(value);
  const type: V2Type = forced ?? (bytes ? 'binary' : t === 'object' ? 'json' : 'text');
  if (type === 'binary') {
    if (bytes) return { type, data: asBuffer(value).toString('base64') };
    const text =
      t === 'string' ? (value as string) : t === 'object' ? jsonText(value, 'value') : String(value);
    if (t === 'string') checkValueString(text);
    return { type, data: Buffer.from(text, 'utf8').toString('base64') };
  }
  if (type === 'text') {
    if (bytes) return { type, data: decodeUtf8(value) };
    if (t === 'string') {
      checkValueString(value as string);
      return { type, data: value as string };
    }
    return { type, data: t === 'object' ? jsonText(value, 'value') : String(value) };
  }
  // json: a string or bytes are taken as JSON text already, so they must parse.
  if (bytes || t === 'string') {
    const text = bytes ? decodeUtf8(value) : (value as string);
    try {
      JSON.parse(text);
    } catch {
      throw new ValidationError(
        'The record value was marked as JSON but is not valid JSON text.',
        'INVALID_VALUE',
      );
    }
    return { type, data: text };
  }
  return { type, data: jsonText(value, 'value') };
}

/**
 * Builds a v2 JSON envelope `{headers:[{name,value}], key:{type,data}, value:{type,data}}`.
 * The value's type is `record.valueType`, else derived from `record.contentType`, else from the
 * JavaScript type (bytes → binary, object/array → json, everything else → text).
 */
export function encodeV2(
  basePath: string,
  topic: string,
  record: ProduceRecord,
  limits: EncodeLimits = DEFAULT_LIMITS,
): EncodedRequest {
  checkRecord(record);
  const valueAvro = record.valueSchema === undefined ? undefined : normaliseFormat(record.valueSchema);
  const keyAvro = record.keySchema === undefined ? undefined : normaliseFormat(record.keySchema, 'key');
  if (valueAvro !== undefined && (record.value === undefined || record.value === null)) {
    missingValue(record.value);
  }
  if (valueAvro === undefined) {
    // Refused before building: the envelope of an oversize value (base64: 4/3 of its bytes) is
    // never made. Bytes and string length are lower bounds of the value's size in the envelope.
    const v: unknown = record.value;
    const floor = v instanceof Uint8Array ? v.length : typeof v === 'string' ? v.length : 0;
    if (floor > limits.maxValueBytes) tooLarge(floor, limits, true);
  }
  const envelope: {
    headers?: Array<{ name: string; value: string }>;
    key?: V2Data | V2AvroPart;
    value: V2Data | V2AvroPart;
  } = {
    value: valueAvro !== undefined ? v2AvroPart(valueAvro, record.value, 'value') : v2Value(record),
  };
  const avroKey = keyAvro !== undefined && record.key !== undefined && record.key !== null;
  const key = avroKey ? undefined : checkKey(record.key, limits);
  if (avroKey) {
    envelope.key = v2AvroPart(keyAvro, record.key, 'key');
  } else if (key !== undefined) {
    envelope.key =
      typeof key === 'string'
        ? { type: 'text', data: key }
        : { type: 'binary', data: key.toString('base64') };
  }
  const headers = checkHeaders(record.headers, false);
  if (headers !== undefined) {
    envelope.headers = headers.map((h) => ({
      name: h.name,
      value:
        typeof h.value === 'string'
          ? Buffer.from(h.value, 'utf8').toString('base64')
          : asBuffer(h.value).toString('base64'),
    }));
  }
  const { body, bytes } = sized(JSON.stringify(envelope), limits);
  if (bytes > limits.maxValueBytes) tooLarge(bytes, limits, true);
  let path = `${basePath}/v2/topics/${topic}/records`;
  if (valueAvro !== undefined || keyAvro !== undefined) path += '?serializer=confluent';
  const req: EncodedRequest = {
    path,
    contentType: JSON_TYPE,
    body,
    bytes: bytes + path.length,
    recordBytes: envelope.value.data.length + keyAndHeaderBytes(record),
  };
  if (valueAvro === undefined) req.v2Value = envelope.value as V2Data;
  return req;
}

/** Builds the request for `flavour`. */
export function encodeRecord(
  flavour: ApiFlavour,
  basePath: string,
  topic: string,
  record: ProduceRecord,
  limits: EncodeLimits = DEFAULT_LIMITS,
): EncodedRequest {
  return flavour === 'v2'
    ? encodeV2(basePath, topic, record, limits)
    : encodeV1(basePath, topic, record, limits);
}

// ---------------------------------------------------------------------------------------------
// Responses

/** What a produce success body said; fields the server did not report are absent. */
export interface ProduceSuccess {
  topic: string;
  partition?: number;
  offset?: number;
  timestamp?: number;
}

function toInt(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.length > 0 && v.length < 20 && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
}

function toTimestamp(v: unknown): number | undefined {
  const n = toInt(v);
  if (n !== undefined) return n;
  if (typeof v === 'string' && v.length > 0) {
    const parsed = Date.parse(v);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

function tryJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Reads a 2xx produce body. Accepted shapes: `{metadata:{topic,timestamp,partition,offset}}`
 * (v1, timestamp as string or number), the same fields at the top level (our v2 choice and a
 * plausible v2 answer), with any extra fields (`Comment`, …) ignored.
 *
 * v1 answers without partition and offset are an {@link UnexpectedResponseError}. The v2 success
 * body is undocumented (a GAP in the reference), so for v2 any 2xx is a success and whatever
 * fields are present are reported.
 */
export function parseProduceSuccess(
  flavour: ApiFlavour,
  topic: string,
  statusCode: number,
  text: string,
): ProduceSuccess {
  // The fixed shapes every known endpoint answers are scanned without building an object graph.
  const scanned = scanProduceSuccess(text, topic);
  if (scanned !== undefined) return scanned as ProduceSuccess;
  const body = tryJson(text);
  let src: Record<string, unknown> | undefined;
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    const meta = b.metadata;
    src = typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>) : b;
  }
  const partition = src === undefined ? undefined : toInt(src.partition);
  const offset = src === undefined ? undefined : toInt(src.offset);
  if (partition === undefined && offset === undefined && flavour === 'v1') {
    throw new UnexpectedResponseError(
      `Produce to topic "${topic}" got HTTP ${statusCode} but the response body ${
        body === undefined ? 'is not JSON' : 'has neither metadata nor partition/offset'
      }; the record was probably written, but its position is unknown.`,
      { statusCode, topic },
    );
  }
  const out: ProduceSuccess = {
    topic: src !== undefined && typeof src.topic === 'string' && src.topic.length > 0 ? src.topic : topic,
  };
  if (partition !== undefined) out.partition = partition;
  if (offset !== undefined) out.offset = offset;
  const ts = src === undefined ? undefined : toTimestamp(src.timestamp);
  if (ts !== undefined) out.timestamp = ts;
  return out;
}
