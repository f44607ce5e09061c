// SPDX-License-Identifier: Apache-2.0
/**
 * Schema registry operations of the topic-admin node, through the endpoint's shared client (so
 * the same URL, TLS and auth mode as everything else): list, get, register, delete, and get or set
 * a compatibility rule. Requests come from `msg.payload`; input is checked before any call.
 */
import { ValidationError } from '../../lib/errors';
import type { ConfluentRegistryClient } from '../../lib/confluent-registry';
import type { SchemaRegistryClient } from '../../lib/schema-registry';

export const SCHEMA_OPERATIONS = [
  'schema-list',
  'schema-get',
  'schema-register',
  'schema-delete',
  'schema-compatibility',
  'schema-update',
  'schema-state',
  'schema-rule-delete',
  // The Confluent-compatible API (IBM `/confluent`, Apicurio ccompat, Confluent, Redpanda).
  'subject-list',
  'subject-versions',
  'subject-get',
  'subject-register',
  'subject-delete',
  'subject-compatibility',
  'schema-by-id',
] as const;

export type SchemaOperation = (typeof SCHEMA_OPERATIONS)[number];

export function isSchemaOperation(op: unknown): op is SchemaOperation {
  return typeof op === 'string' && (SCHEMA_OPERATIONS as readonly string[]).includes(op.trim().toLowerCase());
}

function payloadObject(payload: unknown): Record<string, unknown> {
  if (typeof payload === 'string' && payload.trim() !== '') return { id: payload.trim() };
  if (payload && typeof payload === 'object' && !Array.isArray(payload) && !Buffer.isBuffer(payload)) {
    return payload as Record<string, unknown>;
  }
  return {};
}

function needId(p: Record<string, unknown>, op: string): string {
  const id = p.id ?? p.subject;
  if (typeof id !== 'string' || id.trim() === '') {
    throw new ValidationError(
      `Operation '${op}' needs msg.payload.id (the schema id or subject)`,
      'INVALID_SCHEMA',
    );
  }
  return id.trim();
}

function optionalId(p: Record<string, unknown>): string | undefined {
  const id = p.id ?? p.subject;
  return typeof id === 'string' && id.trim() !== '' ? id.trim() : undefined;
}

function version(p: Record<string, unknown>): number | string | undefined {
  const v = p.version;
  return v === undefined || v === null || v === '' ? undefined : (v as number | string);
}

/**
 * Runs one schema operation. Results: list → array of ids; get → `{id, version, schema}` with the
 * schema parsed; register → `{id, version, globalId}`; delete → `{id, version?, deleted: true}`;
 * compatibility → `{id?, rule}` (sets the rule when `payload.rule` is given, else reads it).
 */
export async function runSchemaOperation(
  schemas: SchemaRegistryClient,
  operation: SchemaOperation,
  payload: unknown,
  confluent?: ConfluentRegistryClient,
): Promise<unknown> {
  const p = payloadObject(payload);
  if (operation.startsWith('subject-') || operation === 'schema-by-id') {
    if (!confluent)
      throw new ValidationError('No Confluent-compatible registry is configured', 'INVALID_CONFIG');
    return runSubjectOperation(confluent, operation, p);
  }
  switch (operation) {
    case 'schema-list':
      return schemas.listSchemas();
    case 'schema-get': {
      const got = await schemas.getSchema(needId(p, operation), version(p));
      let schema: unknown = got.schema;
      try {
        schema = JSON.parse(got.schema);
      } catch {
        // Leave non-JSON text as it is.
      }
      return { ...got, schema };
    }
    case 'schema-register': {
      if (p.schema === undefined || p.schema === null || p.schema === '') {
        throw new ValidationError(
          "Operation 'schema-register' needs msg.payload.schema (Avro schema JSON)",
          'INVALID_SCHEMA',
        );
      }
      return schemas.registerSchema(optionalId(p), p.schema as string | object);
    }
    case 'schema-delete': {
      const r = await schemas.deleteSchema(needId(p, operation), version(p));
      return { ...r, deleted: true };
    }
    case 'schema-compatibility': {
      const id = optionalId(p);
      const rule = p.rule ?? p.compatibility;
      if (rule !== undefined && rule !== null && rule !== '')
        return schemas.setCompatibility(String(rule), id);
      const current = await schemas.getCompatibility(id);
      return id === undefined ? { rule: current } : { id, rule: current };
    }
    case 'schema-update': {
      if (p.schema === undefined || p.schema === null || p.schema === '') {
        throw new ValidationError("Operation 'schema-update' needs msg.payload.schema", 'INVALID_SCHEMA');
      }
      return schemas.updateSchema(needId(p, operation), p.schema as string | object);
    }
    case 'schema-state':
      return schemas.setState(needId(p, operation), String(p.state ?? ''), version(p));
    case 'schema-rule-delete':
      return schemas.deleteCompatibility(needId(p, operation));
    default:
      throw new ValidationError(`Unknown schema operation '${String(operation)}'`, 'VALIDATION');
  }
}

function needSubject(p: Record<string, unknown>, op: string): string {
  const s = p.subject ?? p.id;
  if (typeof s !== 'string' || s.trim() === '') {
    throw new ValidationError(`Operation '${op}' needs msg.payload.subject`, 'INVALID_SCHEMA');
  }
  return s.trim();
}

/**
 * The Confluent-compatible operations: subject-list → subjects; subject-versions → version numbers;
 * subject-get `{subject, version?}` → `{subject, version, id, schema, schemaType}`; subject-register
 * `{subject, schema, schemaType?}` → `{id}`; subject-delete `{subject, version?, permanent?}` →
 * versions deleted; subject-compatibility `{subject?, rule?}`; schema-by-id `{id}` → `{id, schema, schemaType}`.
 */
async function runSubjectOperation(
  c: ConfluentRegistryClient,
  operation: SchemaOperation,
  p: Record<string, unknown>,
): Promise<unknown> {
  const permanent = p.permanent === true;
  switch (operation) {
    case 'subject-list':
      return c.listSubjects();
    case 'subject-versions':
      return c.listVersions(needSubject(p, operation));
    case 'subject-get':
      return c.getVersion(needSubject(p, operation), version(p));
    case 'subject-register': {
      if (p.schema === undefined || p.schema === null || p.schema === '') {
        throw new ValidationError("Operation 'subject-register' needs msg.payload.schema", 'INVALID_SCHEMA');
      }
      return c.register(needSubject(p, operation), p.schema as string | object, p.schemaType as never);
    }
    case 'subject-delete': {
      const subject = needSubject(p, operation);
      const v = version(p);
      if (v === undefined) return { subject, versions: await c.deleteSubject(subject, permanent) };
      return { subject, versions: [await c.deleteVersion(subject, v, permanent)] };
    }
    case 'subject-compatibility': {
      const subject = typeof p.subject === 'string' && p.subject !== '' ? p.subject : undefined;
      const rule = p.rule ?? p.compatibility;
      if (rule !== undefined && rule !== null && rule !== '')
        return c.setCompatibility(String(rule), subject);
      const current = await c.getCompatibility(subject);
      return subject === undefined ? { rule: current } : { subject, rule: current };
    }
    case 'schema-by-id':
      return c.getSchemaById(p.id as number);
    default:
      throw new ValidationError(`Unknown schema operation '${String(operation)}'`, 'VALIDATION');
  }
}
