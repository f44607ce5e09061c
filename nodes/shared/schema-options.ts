// SPDX-License-Identifier: Apache-2.0
/**
 * The producer's value/key format: the node's settings (automatic mapping, or Avro with a
 * schema inline or from the registry) and the per-message override `msg.schema`, translated into
 * the core's `valueSchema`/`keySchema` (lib/schema.ts). The core checks the payload against the
 * schema before anything is sent.
 *
 * `msg.schema` may be:
 * - `"auto"`: the automatic mapping for this message, whatever the node says;
 * - Avro schema JSON text, or an Avro schema object (has `type`): the value schema, inline;
 * - `{ value?, key? }` where each is `"auto"` or `{ format: "avro", schema | id, version?,
 *   strategy?, serverValidation? }`;
 * - a value format object directly (`{ format: "avro", … }`).
 */
import { ValidationError } from '../../lib/errors';
import { type AvroFormat, normaliseFormat, parseStrategy } from '../../lib/schema';
import type { ProduceRecord } from '../../lib/types';

/** Producer node properties for formats (all optional: old flows have none of them). */
export interface SchemaNodeOptions {
  /** `auto` (default) or `avro`. */
  valueFormat?: string;
  /** `inline` (default) or `registry`. */
  valueSchemaSource?: string;
  /** Avro schema JSON text (inline). */
  valueSchema?: string;
  /** Registry schema id / subject and version (registry). */
  valueSchemaId?: string;
  valueSchemaVersion?: string | number;
  /** v2 naming strategy: topic, record, topic_record. */
  valueStrategy?: string;
  /** v1: ask the server to validate (schemavalidation=true). */
  serverValidation?: boolean;
  /** `auto` (default) or `avro` (v2 only). */
  keyFormat?: string;
  /** Avro schema JSON text for the key. */
  keySchema?: string;
}

export interface SchemaDefaults {
  value?: AvroFormat;
  key?: AvroFormat;
}

/** Reads the node's settings once, at deploy; a bad schema throws INVALID_SCHEMA here. */
export function schemaDefaults(def: SchemaNodeOptions): SchemaDefaults {
  const out: SchemaDefaults = {};
  if (def.valueFormat === 'avro') {
    const registry = def.valueSchemaSource === 'registry';
    const raw: Record<string, unknown> = { format: 'avro' };
    if (registry) {
      raw.id = (def.valueSchemaId ?? '').trim();
      if (def.valueSchemaVersion !== undefined && String(def.valueSchemaVersion).trim() !== '') {
        raw.version = String(def.valueSchemaVersion).trim();
      }
    } else {
      raw.schema = (def.valueSchema ?? '').trim();
      // v1 needs a registered name even with an inline schema (validated locally with it).
      if (def.valueSchemaId) raw.id = def.valueSchemaId.trim();
    }
    const strategy = parseStrategy(def.valueStrategy);
    if (strategy !== undefined) raw.strategy = strategy;
    if (def.serverValidation === true) raw.serverValidation = true;
    out.value = normaliseFormat(raw, 'value');
  }
  if (def.keyFormat === 'avro') {
    out.key = normaliseFormat({ format: 'avro', schema: (def.keySchema ?? '').trim() }, 'key');
  }
  return out;
}

function isSchemaLike(v: object): boolean {
  return 'type' in v && !('format' in v) && !('value' in v) && !('key' in v);
}

/** msg.schema → value/key formats (undefined member: use the node's; null: automatic). */
function fromMessage(raw: unknown): { value?: AvroFormat | null; key?: AvroFormat | null } {
  if (raw === undefined || raw === null || raw === '') return {};
  if (raw === 'auto') return { value: null, key: null };
  if (typeof raw === 'string') {
    return { value: normaliseFormat({ format: 'avro', schema: raw }, 'value')! };
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ValidationError(
      'msg.schema must be "auto", Avro schema JSON, or {value, key} format objects.',
      'INVALID_SCHEMA',
    );
  }
  if (isSchemaLike(raw)) return { value: normaliseFormat({ format: 'avro', schema: raw }, 'value')! };
  const o = raw as Record<string, unknown>;
  if ('format' in o) return { value: normaliseFormat(o, 'value') ?? null };
  const out: { value?: AvroFormat | null; key?: AvroFormat | null } = {};
  if (o.value !== undefined) out.value = normaliseFormat(o.value, 'value') ?? null;
  if (o.key !== undefined) out.key = normaliseFormat(o.key, 'key') ?? null;
  return out;
}

/**
 * Sets `record.valueSchema`/`keySchema` from the node's defaults and `msg.schema`. With an Avro
 * key the raw key value (any value of the key schema) becomes the record key. Returns true when
 * the key was set here (the caller then skips its text/bytes key mapping).
 */
export function applySchemaOptions(
  record: ProduceRecord,
  msg: { schema?: unknown },
  defaults: SchemaDefaults,
  keyRaw: unknown,
): boolean {
  const override = fromMessage(msg.schema);
  const value = override.value === undefined ? defaults.value : (override.value ?? undefined);
  const key = override.key === undefined ? defaults.key : (override.key ?? undefined);
  if (value !== undefined) record.valueSchema = value;
  if (key !== undefined && keyRaw !== undefined && keyRaw !== null && keyRaw !== '') {
    record.keySchema = key;
    record.key = keyRaw as ProduceRecord['key'];
    return true;
  }
  return false;
}
