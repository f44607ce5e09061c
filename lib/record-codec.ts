// SPDX-License-Identifier: Apache-2.0
/**
 * The one lossless record codec: how a {@link ProduceRecord} is kept and moved, and back.
 *
 * - The outbox's stored form ({@link storeRecord} / {@link loadRecord}): compact JSON, every
 *   field of the record, bytes as base64, typed data (Avro values and keys, JSON values) with
 *   nested bytes and dates tagged so they come back as they went in.
 * - The redeploy hand-over ({@link handOver}): the record moves inside one process, so it is
 *   passed on as built, every field copied by the same table.
 * - The request bodies (lib/encode.ts) and the Kafka transport read the record's fields through
 *   {@link RECORD_FIELDS}, the table that says what each path does with each field.
 *
 * {@link RECORD_FIELDS} is exhaustive over `keyof ProduceRecord` (`satisfies`): a new field of
 * the record does not compile until it says how it is stored and what v1, v2 and Kafka do with
 * it, and lib/encode.ts checks its own table against the same keys.
 *
 * Per-key order has one rule, {@link orderKeyOf}: records of the same topic and key (by bytes,
 * or by value for a typed key) keep their order; the client and the outbox both use it.
 */
import { ValidationError } from './errors';
import type { AvroFormat } from './schema';
import type { HeaderValue, ProduceRecord, RecordHeaders, RecordValue } from './types';

/** What a path does with one field of a record (read by people and by the compiler). */
export interface FieldRule<K extends keyof ProduceRecord> {
  /** Short name in the stored form. */
  readonly tag: string;
  store(value: NonNullable<ProduceRecord[K]>): unknown;
  load(stored: unknown): ProduceRecord[K];
  /** What the REST v1 request does with it. */
  readonly v1: string;
  /** What the REST v2 request does with it. */
  readonly v2: string;
  /** What the Kafka transport does with it. */
  readonly kafka: string;
}

type Tagged = { s: string } | { b: string } | { j: unknown };

/** A Uint8Array that is not a Buffer keeps its type through the store (JSON.stringify differs). */
const BYTES_TAG = '\u0000b';
const U8_TAG = '\u0000u';
const DATE_TAG = '\u0000d';

function asBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/**
 * Typed data → JSON-safe data: bytes and dates anywhere become one-key tag objects, and an
 * object's own keys that start with NUL get one more NUL, so no user key can pass for a tag.
 */
function tagData(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Uint8Array) {
    return Buffer.isBuffer(v)
      ? { [BYTES_TAG]: v.toString('base64') }
      : { [U8_TAG]: asBuffer(v).toString('base64') };
  }
  if (v instanceof Date) return { [DATE_TAG]: Number.isNaN(v.getTime()) ? null : v.toISOString() };
  if (Array.isArray(v)) return v.map(tagData);
  // A toJSON (other than Date's and Buffer's, handled above) decides what JSON sees, as on the direct path.
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    return tagData((v as { toJSON: () => unknown }).toJSON());
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const item = (v as Record<string, unknown>)[k];
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    out[k.charCodeAt(0) === 0 ? `\u0000${k}` : k] = tagData(item);
  }
  return out;
}

function untagData(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(untagData);
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1) {
    const k = keys[0]!;
    if (k === BYTES_TAG) return Buffer.from(o[k] as string, 'base64');
    if (k === U8_TAG) return new Uint8Array(Buffer.from(o[k] as string, 'base64'));
    if (k === DATE_TAG) return new Date(o[k] === null ? Number.NaN : (o[k] as string));
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k.charCodeAt(0) === 0 ? k.slice(1) : k] = untagData(o[k]);
  return out;
}

/** A value or key: text and bytes as such; anything else (JSON, Avro data) as tagged data. */
function storeData(v: unknown): Tagged {
  if (typeof v === 'string') return { s: v };
  if (Buffer.isBuffer(v)) return { b: v.toString('base64') };
  return { j: tagData(v) };
}

function loadData(t: unknown): unknown {
  const o = t as Record<string, unknown>;
  if (typeof o.s === 'string') return o.s;
  if (typeof o.b === 'string') return Buffer.from(o.b, 'base64');
  if ('j' in o) return untagData(o.j);
  throw new ValidationError('A stored record has a field in an unknown form', 'INVALID_VALUE');
}

function headerList(h: RecordHeaders): Array<{ name: string; value: HeaderValue }> {
  return Array.isArray(h) ? h : Object.entries(h).map(([name, value]) => ({ name, value }));
}

const same = <T>(v: T): T => v;

/** Every field of a record and what each path does with it (see the module comment). */
export const RECORD_FIELDS = {
  value: {
    tag: 'v',
    store: storeData,
    load: (t) => loadData(t) as RecordValue,
    v1: 'the body; Content-Type from its type unless contentType says otherwise',
    v2: 'value {type, data}: text, binary (base64) or json, or avro with valueSchema',
    kafka: 'the record value bytes (text UTF-8, JSON text, bytes, or Confluent Avro)',
  },
  key: {
    tag: 'k',
    store: storeData,
    load: (t) => loadData(t) as ProduceRecord['key'],
    v1: 'query key= (text) or key=hex&keyType=binary; an Avro key is refused',
    v2: 'key {type, data}, or avro with keySchema',
    kafka: 'the record key bytes (Confluent Avro with keySchema)',
  },
  headers: {
    tag: 'h',
    store: (h) =>
      headerList(h).map((x) =>
        typeof x.value === 'string'
          ? { n: x.name, s: x.value }
          : Buffer.isBuffer(x.value)
            ? { n: x.name, b: x.value.toString('base64') }
            : { n: x.name, u: asBuffer(x.value).toString('base64') },
      ),
    load: (t) =>
      (t as Array<{ n: string; s?: string; b?: string; u?: string }>).map((x) => ({
        name: x.n,
        value:
          x.s !== undefined
            ? x.s
            : x.b !== undefined
              ? Buffer.from(x.b, 'base64')
              : new Uint8Array(Buffer.from(x.u ?? '', 'base64')),
      })),
    v1: 'query headers=name:hex,… (names repeat, order kept)',
    v2: 'headers [{name, value base64}]',
    kafka: 'record headers (names repeat, order kept)',
  },
  contentType: {
    tag: 'ct',
    store: same,
    load: (t) => t as string,
    v1: 'the request Content-Type (text/plain, application/json, application/octet-stream, xml, vnd.ibm-event-streams.*)',
    v2: 'chooses the value type (json, text/xml, binary) unless valueType is set',
    kafka: 'chooses how the value becomes bytes, as v2',
  },
  valueType: {
    tag: 'vt',
    store: same,
    load: (t) => t as ProduceRecord['valueType'],
    v1: 'ignored (v1 has contentType)',
    v2: 'forces the value type',
    kafka: 'chooses how the value becomes bytes, as v2',
  },
  valueSchema: {
    tag: 'vs',
    store: (f) => tagData(f),
    load: (t) => untagData(t) as AvroFormat,
    v1: 'query schemaname/schemaversion/schemavalidation; the body is the Avro JSON encoding',
    v2: 'value {type: avro, data, schema}; ?serializer=confluent',
    kafka: 'Confluent wire format (magic byte, schema id, Avro binary)',
  },
  keySchema: {
    tag: 'ks',
    store: (f) => tagData(f),
    load: (t) => untagData(t) as AvroFormat,
    v1: 'refused (INVALID_SCHEMA): v1 cannot send Avro keys',
    v2: 'key {type: avro, data, schema}; ?serializer=confluent',
    kafka: 'Confluent wire format for the key',
  },
} as const satisfies { [K in keyof ProduceRecord]-?: FieldRule<K> };

const FIELD_NAMES = Object.keys(RECORD_FIELDS) as Array<keyof ProduceRecord>;

/** The value as the one encoding (lib/encode.ts) made it: a v1 body, or a v2 value part. */
export type EncodedValue =
  { body: string | Buffer; contentType: string } | { v2: { type: 'text' | 'binary' | 'json'; data: string } };

/**
 * The stored form of a record for `topic` (the outbox's spool entries). `encodedValue`, when
 * given, is the value as the request already has it (from the one encoding lib/encode.ts made
 * for the size check): a v1 body with its Content-Type, or a v2 value part with its type. It is
 * stored instead of serialising the value a second time, and yields the same bytes in the topic.
 */
export function storeRecord(topic: string, record: ProduceRecord, encodedValue?: EncodedValue): Buffer {
  const out: Record<string, unknown> = { t: topic };
  for (const name of FIELD_NAMES) {
    const v = record[name];
    if (v === undefined || v === null) continue;
    // The encoded value replaces the value: tagging it would walk (and toJSON) it a second time.
    if (name === 'value' && encodedValue !== undefined) continue;
    const rule = RECORD_FIELDS[name] as FieldRule<typeof name>;
    out[rule.tag] = rule.store(v as never);
  }
  if (encodedValue !== undefined) {
    if ('v2' in encodedValue) {
      // Binary data is base64 already, which is how bytes are stored: no second conversion.
      const { type, data } = encodedValue.v2;
      out.v = type === 'binary' ? { b: data } : { s: data };
      out.vt = type;
    } else {
      const body = encodedValue.body;
      out.v = typeof body === 'string' ? { s: body } : { b: body.toString('base64') };
      out.ct = encodedValue.contentType;
    }
  }
  try {
    return Buffer.from(JSON.stringify(out));
  } catch {
    throw new ValidationError(
      'The message cannot be stored in the outbox (not serialisable)',
      'INVALID_VALUE',
    );
  }
}

/** A stored record read back: its topic, the record, and its per-key order identity. */
export interface LoadedRecord {
  topic: string;
  record: ProduceRecord;
  orderKey: string | undefined;
}

/** The inverse of {@link storeRecord}; also reads what earlier versions stored (a subset). */
export function loadRecord(data: Buffer): LoadedRecord {
  const s = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
  if (typeof s.t !== 'string' || s.v === undefined) {
    throw new ValidationError('A stored record has no topic or value', 'INVALID_VALUE');
  }
  const record = { value: undefined as unknown } as ProduceRecord;
  const target = record as unknown as Record<string, unknown>;
  for (const name of FIELD_NAMES) {
    const rule = RECORD_FIELDS[name] as FieldRule<typeof name>;
    const stored = s[rule.tag];
    if (stored !== undefined) target[name] = rule.load(stored);
  }
  return { topic: s.t, record, orderKey: orderKeyOf(s.t, record.key) };
}

/**
 * The record a hand-over passes to the next instance of a producer: the same data (it stays in
 * this process), in a record of its own so that nothing the old instance does can change it.
 */
export function handOver(record: ProduceRecord): ProduceRecord {
  const out = { value: record.value } as ProduceRecord;
  const target = out as unknown as Record<string, unknown>;
  for (const name of FIELD_NAMES) {
    const v = record[name];
    if (v !== undefined) target[name] = v;
  }
  return out;
}

/**
 * Key and header bytes as the record holds them (text by its length), the part of a record's
 * size that does not depend on how its value is encoded (lib/encode.ts adds the value's).
 */
export function keyAndHeaderBytes(record: ProduceRecord): number {
  let n = record.key === undefined || record.key === null ? 0 : sizeOf(record.key);
  const headers = record.headers;
  if (Array.isArray(headers)) {
    for (const h of headers) n += h.name.length + sizeOf(h.value);
  } else if (headers) {
    for (const name in headers) n += name.length + sizeOf(headers[name]);
  }
  return n;
}

function sizeOf(v: unknown): number {
  if (typeof v === 'string') return v.length;
  if (v instanceof Uint8Array) return v.byteLength;
  return 0;
}

/**
 * The one per-key order rule: records with the same topic and key keep their order; unkeyed
 * records (undefined) are never held back. Text and bytes keys compare by content (text and the
 * same bytes are different keys, as Kafka's partitioner sees them the same only by bytes);
 * a typed (Avro) key by its JSON form.
 */
export function orderKeyOf(topic: string, key: ProduceRecord['key']): string | undefined {
  if (key === undefined || key === null) return undefined;
  if (typeof key === 'string') return `${topic}\0s${key}`;
  if (key instanceof Uint8Array) return `${topic}\0b${asBuffer(key).toString('latin1')}`;
  return `${topic}\0j${JSON.stringify(tagData(key))}`;
}
