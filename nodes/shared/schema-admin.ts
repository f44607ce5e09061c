// SPDX-License-Identifier: Apache-2.0
/**
 * Schema registry operations of the topic-admin node, through the endpoint's shared client (so
 * the same URL, TLS and auth mode as everything else): list, get, register, delete, and get or set
 * a compatibility rule. Requests come from `msg.payload`; input is checked before any call.
 */
import { ValidationError } from '../../lib/errors';
import type { SchemaRegistryClient } from '../../lib/schema-registry';

export const SCHEMA_OPERATIONS = [
  'schema-list',
  'schema-get',
  'schema-register',
  'schema-delete',
  'schema-compatibility',
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
): Promise<unknown> {
  const p = payloadObject(payload);
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
  }
}
