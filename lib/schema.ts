// SPDX-License-Identifier: Apache-2.0
/**
 * Avro schemas for schema-conforming produce: parsing, validating a value against a schema
 * before anything is sent, the Avro JSON encoding the REST Producer takes, artifact (subject)
 * names per naming strategy, and compatibility between schema versions.
 *
 * avsc does the Avro work (parsing, validation with field paths, JSON and binary encodings,
 * schema resolution); this module only adapts it to the REST Producer's contract and to the
 * package's error model. The local endpoint's registry uses the same functions, so the client
 * and the server can never disagree on what a schema accepts.
 */
import type avro from 'avsc';

import { ValidationError } from './errors';
import { describeType, printable } from './validate';

/** How the server names the registry artifact (Confluent subject) for a schema. */
export type SchemaNameStrategy = 'topic' | 'record' | 'topic_record';

export const SCHEMA_NAME_STRATEGIES: readonly SchemaNameStrategy[] = ['topic', 'record', 'topic_record'];

export type CompatibilityRule =
  'NONE' | 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FORWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE';

export const COMPATIBILITY_RULES: readonly CompatibilityRule[] = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
];

/**
 * Avro format of a record's value or key.
 * - `schema` inline (Avro schema JSON text or object): the client validates the data against it;
 *   v2 sends it in the envelope and the server registers it under the strategy's artifact name.
 * - `id` (alias `subject`) and `version`: a schema already in the registry. v1 sends them as
 *   `schemaname`/`schemaversion`; v2 fetches the schema text (cached) and sends it inline.
 */
export interface AvroFormat {
  format: 'avro';
  schema?: string | object;
  id?: string;
  subject?: string;
  version?: number;
  /** v2: how the server names the artifact. Default `topic` (`<topic>-value`, `<topic>-key`). */
  strategy?: SchemaNameStrategy;
  /** v1: ask the server to validate the body too (`schemavalidation=true`). */
  serverValidation?: boolean;
}

/** Parsed schemas by their text: flows use a handful of schemas, so a small bound is plenty. */
const TYPE_CACHE_SIZE = 128;
let avscModule: typeof avro | undefined;
/** avsc is loaded on first schema use, so Node-RED's start-up pays nothing for flows without Avro. */
function avsc(): typeof avro {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (avscModule ??= require('avsc') as typeof avro);
}

const typeCache = new Map<string, avro.Type>();

/** Max characters of schema text accepted (the REST Producer's whole v2 payload is 64 KB). */
export const MAX_SCHEMA_CHARS = 65536;

/** Ids end up in URLs and messages: no control characters. */
export function hasControlChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20 || s.charCodeAt(i) === 0x7f) return true;
  return false;
}

function schemaError(message: string): never {
  throw new ValidationError(message, 'INVALID_SCHEMA');
}

/**
 * Parses an Avro schema (JSON text or object) into an avsc Type, cached by its text. Throws
 * `ValidationError('INVALID_SCHEMA')` with avsc's reason when it is not a valid Avro schema.
 */
export function parseSchema(schema: unknown, what = 'The Avro schema'): avro.Type {
  let text: string;
  if (typeof schema === 'string') {
    text = schema.trim();
  } else if (typeof schema === 'object' && schema !== null) {
    try {
      text = JSON.stringify(schema);
    } catch {
      schemaError(`${what} cannot be serialised as JSON.`);
    }
  } else {
    schemaError(`${what} must be JSON text or an object, not ${describeType(schema)}.`);
  }
  if (text.length === 0) schemaError(`${what} is empty.`);
  if (text.length > MAX_SCHEMA_CHARS) {
    schemaError(`${what} is ${text.length} characters; the limit is ${MAX_SCHEMA_CHARS}.`);
  }
  const cached = typeCache.get(text);
  if (cached !== undefined) {
    // Least recently used first: a hit moves to the end, so a flood of new schemas evicts only
    // the oldest entries, never the ones in use.
    typeCache.delete(text);
    typeCache.set(text, cached);
    return cached;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // A bare primitive name such as string or long is a valid schema too.
    if (/^[A-Za-z_][A-Za-z0-9_.]*$/.test(text)) parsed = text;
    else schemaError(`${what} is not valid JSON.`);
  }
  let type: avro.Type;
  try {
    // A null-prototype registry: type names such as `constructor`, `toString` or `__proto__` are
    // names, not Object.prototype members ("duplicate type name").
    type = avsc().Type.forSchema(parsed as avro.Schema, {
      registry: Object.create(null) as { [name: string]: avro.Type },
    });
  } catch (err) {
    schemaError(`${what} is not a valid Avro schema: ${printable(reason(err), 200)}.`);
  }
  if (typeCache.size >= TYPE_CACHE_SIZE) typeCache.delete(typeCache.keys().next().value as string);
  typeCache.set(text, type);
  return type;
}

function reason(err: unknown): string {
  return err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
}

/**
 * The schema in avsc's normalised form with defaults, aliases and order kept: what two schemas
 * are compared on ("same schema" in the registry). Registries store and serve the text as given.
 */
export function schemaText(type: avro.Type): string {
  return JSON.stringify(type.schema({ exportAttrs: true }));
}

/** The schema text as given, whitespace removed (what is sent and stored). */
export function schemaSource(schema: string | object): string {
  if (typeof schema !== 'string') return JSON.stringify(schema);
  try {
    return JSON.stringify(JSON.parse(schema));
  } catch {
    // A bare primitive name (string, long, ...): parseSchema accepted it, so quote it.
    return JSON.stringify(schema.trim());
  }
}

/** The full name of a named schema (record, enum, fixed), else undefined. */
export function schemaName(type: avro.Type): string | undefined {
  return type.name ?? undefined;
}

function typeLabel(type: avro.Type): string {
  const s = type.schema() as unknown;
  if (typeof s === 'string') return s;
  if (Array.isArray(s))
    return `union [${s.map((b) => (typeof b === 'string' ? b : ((b as { type?: string }).type ?? '?'))).join(', ')}]`;
  const named = type.name;
  return named !== undefined ? `${type.typeName} ${named}` : type.typeName;
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return `string "${printable(v, 40)}"`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return describeType(v);
}

/**
 * Checks `value` against `type`. On a mismatch throws `ValidationError('SCHEMA_MISMATCH')`
 * naming the first few offending field paths, e.g. `reading.celsius must be double, got string "x"`.
 */
export function checkValue(type: avro.Type, value: unknown, what: 'value' | 'key' = 'value'): void {
  const problems: string[] = [];
  const ok = notTooDeep(what, () =>
    type.isValid(value, {
      errorHook: (path: string[], v: unknown, t: avro.Type) => {
        if (problems.length < 3) {
          problems.push(
            `${path.length > 0 ? `field "${path.join('.')}"` : `the ${what}`} must be ${typeLabel(t)}, got ${describeValue(v)}`,
          );
        }
      },
    }),
  );
  if (ok) return;
  const name = schemaName(type);
  throw new ValidationError(
    `The record ${what} does not match the Avro schema${name !== undefined ? ` "${printable(name)}"` : ''}: ${
      problems.length > 0 ? problems.join('; ') : 'it is not a valid value of this schema'
    }.`,
    'SCHEMA_MISMATCH',
  );
}

/**
 * Turns what a flow has (an object, JSON text of one, or Avro binary bytes) into a value of
 * `type`, checked. JSON text is parsed only when the schema is not itself a string schema.
 */
export function toAvroValue(type: avro.Type, value: unknown, what: 'value' | 'key' = 'value'): unknown {
  if (value instanceof Uint8Array) {
    try {
      return type.fromBuffer(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    } catch (err) {
      throw new ValidationError(
        `The record ${what} is bytes but not Avro binary data of this schema (${printable(reason(err), 120)}).`,
        'SCHEMA_MISMATCH',
      );
    }
  }
  if (typeof value === 'string' && type.typeName !== 'string' && type.typeName !== 'enum') {
    const text = value.trim();
    if (text.startsWith('{') || text.startsWith('[')) {
      try {
        value = JSON.parse(text);
      } catch {
        // Fall through: checkValue reports the string against the schema.
      }
    }
  }
  checkValue(type, value, what);
  return value;
}

/** Avro JSON encoding of a checked value (unions wrapped, bytes as code points), as the REST Producer takes it. */
export function avroJson(type: avro.Type, value: unknown): string {
  return notTooDeep('value', () => type.toString(value));
}

/**
 * avsc walks values recursively: a value nested thousands deep (a recursive schema allows it)
 * overflows the stack. That is the caller's input, so it is a clear SCHEMA_MISMATCH, not a crash.
 */
function notTooDeep<T>(what: 'value' | 'key', fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RangeError) {
      throw new ValidationError(
        `The record ${what} nests too deeply to check against the Avro schema.`,
        'SCHEMA_MISMATCH',
      );
    }
    throw err;
  }
}

/**
 * Reads Avro JSON encoding leniently: the strict encoding first (unions wrapped), then plain
 * JSON checked against the schema, because producers commonly send unwrapped unions.
 */
export function fromAvroJson(type: avro.Type, data: string, what: 'value' | 'key' = 'value'): unknown {
  try {
    return type.fromString(data);
  } catch {
    let plain: unknown;
    try {
      plain = JSON.parse(data);
    } catch {
      throw new ValidationError(`The record ${what} data is not valid JSON.`, 'SCHEMA_MISMATCH');
    }
    checkValue(type, plain, what);
    return plain;
  }
}

/**
 * The artifact id (Confluent subject) the server registers a schema under:
 * topic → `<topic>-value`; record → `<[namespace.]name>-value`; topic_record →
 * `<topic>-<[namespace.]name>-value` (`-key` for keys). Record strategies need a named schema.
 */
export function subjectFor(
  strategy: SchemaNameStrategy,
  topic: string,
  type: avro.Type,
  isKey: boolean,
): string {
  const suffix = isKey ? '-key' : '-value';
  if (strategy === 'topic') return `${topic}${suffix}`;
  const name = schemaName(type);
  if (name === undefined) {
    schemaError(
      `The "${strategy}" naming strategy needs a named schema (record, enum or fixed); use "topic" for this one.`,
    );
  }
  return strategy === 'record' ? `${name}${suffix}` : `${topic}-${name}${suffix}`;
}

/** Accepts the documented spellings `Topic`, `Record`, `TopicRecord` as well as our lowercase ones. */
export function parseStrategy(v: unknown): SchemaNameStrategy | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const s = typeof v === 'string' ? v.toLowerCase().replace(/[-_\s]/g, '') : '';
  if (s === 'topic') return 'topic';
  if (s === 'record') return 'record';
  if (s === 'topicrecord') return 'topic_record';
  throw new ValidationError(
    `The schema naming strategy must be "topic", "record" or "topic_record", not ${printable(String(v), 40)}.`,
    'INVALID_SCHEMA',
  );
}

export function parseCompatibility(v: unknown): CompatibilityRule | undefined {
  if (typeof v !== 'string') return undefined;
  const up = v.toUpperCase();
  return (COMPATIBILITY_RULES as readonly string[]).includes(up) ? (up as CompatibilityRule) : undefined;
}

/**
 * Why `candidate` may not follow `existing` (oldest first) under `rule`, or undefined when it
 * may. BACKWARD: the new schema reads data written with the old; FORWARD: the old schema reads
 * data written with the new; FULL: both. Plain rules check the latest version, *_TRANSITIVE all.
 * avsc's resolver decides readability (`reader.createResolver(writer)` throws when it cannot).
 */
export function incompatibility(
  rule: CompatibilityRule,
  candidate: avro.Type,
  existing: readonly avro.Type[],
): string | undefined {
  if (rule === 'NONE' || existing.length === 0) return undefined;
  const against = rule.endsWith('_TRANSITIVE') ? existing : existing.slice(-1);
  const backward = rule.startsWith('BACKWARD') || rule.startsWith('FULL');
  const forward = rule.startsWith('FORWARD') || rule.startsWith('FULL');
  for (const old of against) {
    if (backward) {
      try {
        candidate.createResolver(old);
      } catch (err) {
        return `the new schema cannot read data written with an existing version (${printable(reason(err), 160)})`;
      }
    }
    if (forward) {
      try {
        old.createResolver(candidate);
      } catch (err) {
        return `an existing version cannot read data written with the new schema (${printable(reason(err), 160)})`;
      }
    }
  }
  return undefined;
}

/**
 * Checks and normalises a caller's Avro format object (from user code or a flow's msg.schema).
 * Returns undefined for "no schema" (undefined, null, `auto`).
 */
export function normaliseFormat(input: unknown, what: 'value' | 'key' = 'value'): AvroFormat | undefined {
  if (input === undefined || input === null || input === 'auto') return undefined;
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError(
      `The ${what} schema options must be an object such as {format:"avro", schema:…}, not ${describeType(input)}.`,
      'INVALID_SCHEMA',
    );
  }
  const o = input as Record<string, unknown>;
  if (o.format === 'auto') return undefined;
  if (o.format !== undefined && o.format !== 'avro') {
    throw new ValidationError(`The ${what} format must be "auto" or "avro".`, 'INVALID_SCHEMA');
  }
  const out: AvroFormat = { format: 'avro' };
  if (o.schema !== undefined && o.schema !== null && o.schema !== '') {
    parseSchema(o.schema, `The ${what} Avro schema`);
    out.schema = o.schema as string | object;
  }
  const id = o.id ?? o.subject ?? o.name;
  if (id !== undefined && id !== null && id !== '') {
    if (typeof id !== 'string' || id.length > 512 || hasControlChars(id)) {
      throw new ValidationError(`The ${what} schema id must be a short string.`, 'INVALID_SCHEMA');
    }
    out.id = id;
  }
  if (o.version !== undefined && o.version !== null && o.version !== '' && o.version !== 'latest') {
    const n = typeof o.version === 'string' && /^\d+$/.test(o.version) ? Number(o.version) : o.version;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
      throw new ValidationError(`The ${what} schema version must be a positive integer.`, 'INVALID_SCHEMA');
    }
    out.version = n;
  }
  const strategy = parseStrategy(o.strategy ?? o.schema_name_strategy);
  if (strategy !== undefined) out.strategy = strategy;
  if (o.serverValidation === true || o.validate === true) out.serverValidation = true;
  if (out.schema === undefined && out.id === undefined) {
    throw new ValidationError(
      `Avro ${what} needs a schema: give it inline (schema) or name a registered one (id and version).`,
      'INVALID_SCHEMA',
    );
  }
  return out;
}

/** A v2 envelope part for Avro data (field names as documented). */
export interface V2AvroPart {
  type: 'avro';
  data: string;
  schema: string;
  schema_name_strategy?: SchemaNameStrategy;
}

/**
 * Builds the v2 `value`/`key` part for Avro: the data checked against the schema and given in
 * Avro JSON encoding, the schema as text. v2 needs the schema text; EventStreamsClient fetches a
 * registry-referenced schema before encoding (see `needsSchemaText`).
 */
export function v2AvroPart(format: AvroFormat, value: unknown, what: 'value' | 'key'): V2AvroPart {
  if (format.schema === undefined) {
    throw new ValidationError(
      `The v2 API needs the ${what} schema's text; give it inline or let EventStreamsClient fetch "${printable(format.id ?? '', 80)}" from the registry.`,
      'INVALID_SCHEMA',
    );
  }
  const type = parseSchema(format.schema, `The ${what} Avro schema`);
  const checked = toAvroValue(type, value, what);
  const part: V2AvroPart = {
    type: 'avro',
    data: avroJson(type, checked),
    schema: schemaSource(format.schema),
  };
  if (format.strategy !== undefined) part.schema_name_strategy = format.strategy;
  return part;
}

/**
 * Builds the v1 body and query for Avro: the body is the Avro JSON encoding (sent as
 * application/json, as on-prem documents for JSON-encoded Avro), checked locally when the schema
 * is given inline; `schemaname`, `schemaversion` and `schemavalidation` go in the query.
 */
export function v1AvroValue(format: AvroFormat, value: unknown): { body: string; query: string } {
  if (format.id === undefined) {
    throw new ValidationError(
      'The v1 API cannot carry a schema in the request: name a registered schema (id, and version) so the server can look it up.',
      'INVALID_SCHEMA',
    );
  }
  let body: string;
  if (format.schema !== undefined) {
    const type = parseSchema(format.schema, 'The value Avro schema');
    body = avroJson(type, toAvroValue(type, value, 'value'));
  } else if (typeof value === 'string') {
    body = value;
  } else if (value instanceof Uint8Array) {
    body = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  } else {
    try {
      body = JSON.stringify(value);
    } catch {
      throw new ValidationError('The record value cannot be serialised as JSON.', 'INVALID_VALUE');
    }
  }
  let query = `schemaname=${encodeURIComponent(format.id)}`;
  if (format.version !== undefined) query += `&schemaversion=${format.version}`;
  if (format.serverValidation === true) query += '&schemavalidation=true';
  return { body, query };
}

/** True when a v2 record names a registry schema without its text, so the client must fetch it. */
export function needsSchemaText(format: unknown): boolean {
  if (typeof format !== 'object' || format === null) return false;
  const f = format as Record<string, unknown>;
  if (f.format === 'auto' || (f.schema !== undefined && f.schema !== null && f.schema !== '')) return false;
  return [f.id, f.subject, f.name].some((v) => typeof v === 'string' && v.length > 0);
}
