// SPDX-License-Identifier: Apache-2.0
/**
 * Schema-conforming produce on the local endpoint, shared by the v1 and v2 produce routes:
 * - v2 `?serializer=confluent` with `{type:"avro", data, schema, schema_name_strategy}`: the
 *   schema is registered (or found) under the strategy's subject, `data` (Avro JSON encoding) is
 *   validated, and the record is stored in the Confluent wire format: magic byte 0, the 4-byte
 *   big-endian global schema id, then the Avro binary encoding. Any Confluent deserializer reads it.
 * - v1 `schemaname`/`schemaversion`: the schema is looked up (404 with the documented on-prem
 *   body when unknown) and named in record headers; with `schemavalidation=true` the body is
 *   validated against it. The body itself is stored as sent (on-prem behaviour).
 *
 * Header names follow IBM's on-prem Event Streams schema headers (Inferred; the REST producer
 * page does not list them): `com.ibm.eventstreams.schemaregistry.schema.id`, `.schema.version`
 * and `.encoding` (`JSON` or `BINARY`).
 */
import { fromAvroJson, parseSchema, parseStrategy, schemaSource, subjectFor } from '../lib/server-kit';
import { jsonTooDeep, MAX_JSON_DEPTH } from './limits';
import { type Actor, RegistryError, type SchemaRegistry, SYSTEM_ACTOR } from './registry';

export const SCHEMA_ID_HEADER = 'com.ibm.eventstreams.schemaregistry.schema.id';
export const SCHEMA_VERSION_HEADER = 'com.ibm.eventstreams.schemaregistry.schema.version';
export const SCHEMA_ENCODING_HEADER = 'com.ibm.eventstreams.schemaregistry.encoding';

/** A produce failure: HTTP status, v2 error code and the envelope field it is about. */
export class SchemaProduceError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly field: string,
    message: string,
    /** v1: the schema name, for the documented `error.schema` field. */
    readonly schema?: string,
    /** 429: seconds until the principal may register again (Retry-After). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

function tooDeep(text: string, field: string, schema?: string): void {
  if (jsonTooDeep(text)) {
    throw new SchemaProduceError(
      400,
      'invalid_json',
      field,
      `The Avro JSON nests deeper than ${MAX_JSON_DEPTH} levels`,
      schema,
    );
  }
}

/** Confluent wire format: 0x00, 4-byte big-endian schema id, Avro binary. */
export function confluentWire(globalId: number, avroBinary: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + avroBinary.length);
  out[0] = 0;
  out.writeUInt32BE(globalId, 1);
  avroBinary.copy(out, 5);
  return out;
}

export interface AvroPart {
  data: unknown;
  schema?: unknown;
  schema_name_strategy?: unknown;
}

/** Registers/looks up the part's schema and returns the record bytes in the Confluent wire format. */
export async function serializeAvroPart(
  registry: SchemaRegistry,
  topic: string,
  part: AvroPart,
  isKey: boolean,
  actor: Actor = SYSTEM_ACTOR,
): Promise<Buffer> {
  const field = isKey ? 'key' : 'value';
  let strategy;
  try {
    strategy = parseStrategy(part.schema_name_strategy) ?? 'topic';
  } catch (err) {
    throw new SchemaProduceError(400, 'invalid_value', 'schema_name_strategy', (err as Error).message);
  }
  if (typeof part.data !== 'string' && (typeof part.data !== 'object' || part.data === null)) {
    throw new SchemaProduceError(
      400,
      'invalid_type',
      'data',
      `'data' of an avro ${field} must be a string of Avro JSON`,
    );
  }
  const data = typeof part.data === 'string' ? part.data : JSON.stringify(part.data);
  // Avro JSON inside a string escaped the envelope's depth check: check it before parsing.
  tooDeep(data, field);
  let text: string;
  let subject: string;
  let registered;
  try {
    if (part.schema === undefined || part.schema === null || part.schema === '') {
      // No schema given: the latest registered under the topic strategy's subject.
      if (strategy !== 'topic') {
        throw new SchemaProduceError(
          400,
          'invalid_value',
          'schema',
          `An avro ${field} needs 'schema' with the "${strategy}" strategy`,
        );
      }
      subject = `${topic}-${field}`;
      registered = await registry.getFresh(subject);
      text = registered.schema;
    } else {
      const t0 = process.hrtime.bigint();
      const type = parseSchema(part.schema, `The ${field} schema`);
      registry.chargeCpu(actor, Number(process.hrtime.bigint() - t0) / 1e6);
      text = schemaSource(part.schema as string | object);
      subject = subjectFor(strategy, topic, type, isKey);
      registered = await registry.register(subject, text, false, actor);
    }
  } catch (err) {
    if (err instanceof SchemaProduceError) throw err;
    if (err instanceof RegistryError) {
      if (err.status === 429 || err.status === 503) {
        throw new SchemaProduceError(
          err.status,
          err.status === 429 ? 'too_many_requests' : 'service_unavailable',
          'schema',
          err.message,
          undefined,
          err.retryAfter,
        );
      }
      throw new SchemaProduceError(
        err.status === 409 ? 409 : err.status === 404 ? 404 : err.status === 422 ? 422 : 400,
        err.status === 409
          ? 'schema_incompatible'
          : err.status === 404
            ? 'schema_not_found'
            : err.status === 422
              ? 'schema_limit'
              : 'invalid_schema',
        'schema',
        err.message,
      );
    }
    throw new SchemaProduceError(400, 'invalid_schema', 'schema', (err as Error).message);
  }
  const type = parseSchema(text);
  let value: unknown;
  try {
    value = fromAvroJson(type, data, field);
  } catch (err) {
    throw new SchemaProduceError(400, 'schema_mismatch', 'data', (err as Error).message);
  }
  return confluentWire(registered.globalId, type.toBuffer(value));
}

/**
 * v1 `schemaname`/`schemaversion`/`schemavalidation`: returns the schema headers to add to the
 * record. `body` is validated when `schemavalidation=true` (JSON-encoded Avro for JSON content
 * types, Avro binary otherwise).
 */
export async function v1SchemaHeaders(
  registry: SchemaRegistry,
  params: Map<string, string>,
  body: Buffer,
  json: boolean,
): Promise<Array<[string, Buffer]> | undefined> {
  const name = params.get('schemaname');
  const versionText = params.get('schemaversion');
  const validate = (params.get('schemavalidation') ?? '').toLowerCase() === 'true';
  if (name === undefined || name === '') {
    if (versionText !== undefined || validate) {
      throw new SchemaProduceError(
        400,
        'invalid_value',
        'schemaname',
        "'schemaversion' and 'schemavalidation' need 'schemaname'",
      );
    }
    return undefined;
  }
  let version: number | undefined;
  if (versionText !== undefined && versionText !== '' && versionText !== 'latest') {
    if (!/^\d{1,9}$/.test(versionText) || Number(versionText) < 1) {
      throw new SchemaProduceError(
        400,
        'invalid_value',
        'schemaversion',
        `Invalid schemaversion '${versionText.slice(0, 40)}'`,
        name,
      );
    }
    version = Number(versionText);
  }
  let meta;
  try {
    meta = await registry.getFresh(name, version);
  } catch (err) {
    if (err instanceof RegistryError && err.status === 404) {
      throw new SchemaProduceError(
        404,
        'schema_not_found',
        'schemaname',
        version === undefined
          ? `Schema '${name}' does not exist`
          : `Version ${version} of schema '${name}' does not exist`,
        name,
      );
    }
    throw new SchemaProduceError(400, 'invalid_value', 'schemaname', (err as Error).message, name);
  }
  if (validate) {
    const type = parseSchema(meta.schema);
    if (json) tooDeep(body.toString('utf8'), 'body', name);
    try {
      if (json) fromAvroJson(type, body.toString('utf8'));
      else type.fromBuffer(body);
    } catch (err) {
      throw new SchemaProduceError(
        400,
        'schema_mismatch',
        'body',
        `The message does not match schema '${name}' version ${meta.version}: ${(err as Error).message}`,
        name,
      );
    }
  }
  return [
    [SCHEMA_ID_HEADER, Buffer.from(meta.id, 'utf8')],
    [SCHEMA_VERSION_HEADER, Buffer.from(String(meta.version), 'utf8')],
    [SCHEMA_ENCODING_HEADER, Buffer.from(json ? 'JSON' : 'BINARY', 'utf8')],
  ];
}
