// SPDX-License-Identifier: Apache-2.0
/**
 * A client for the Confluent Schema Registry API, which every registry the package meets speaks:
 * IBM Cloud Event Streams at `{kafka_http_url}/confluent`, on-prem Event Streams' Apicurio at
 * `/apis/ccompat/v7` (or `v6`), Confluent Schema Registry and Redpanda at their base URL, Karapace.
 * Beside lib/schema-registry.ts (IBM's own `/artifacts` API, which on-prem Apicurio lacks).
 *
 * Subjects, versions, schema ids, compatibility (global and per subject, and a check of a
 * candidate schema) and deletes (soft, or `permanent` after a soft one). Every request goes
 * through the one authenticated REST call (lib/rest-call.ts: auth, one re-auth on 401, retries;
 * refusals mapped by the error model's `confluent` rules).
 *
 * For the Kafka transport (Confluent wire format: magic byte, 4-byte schema id): use
 * {@link ConfluentRegistryClient.getIdForSchema} to find the id of a schema a record is written
 * with, and {@link ConfluentRegistryClient.getSchemaById} to read the schema of an id. Both are
 * cached (bounded): ids never change meaning, and a flow writes with a handful of schemas.
 */
import type { AuthProvider } from './auth';
import {
  type EventStreamsError,
  UnexpectedResponseError,
  ValidationError,
  isEventStreamsError,
} from './errors';
import { RestCall } from './rest-call';
import type { RetryPolicy } from './retry';
import { type CompatibilityRule, hasControlChars, parseCompatibility } from './schema';
import type { HttpMethod, HttpResponse, Transport } from './transport';
import { printable } from './validate';

export interface ConfluentRegistryClientInit {
  /** The API's base URL, e.g. `{kafka_http_url}/confluent` or `https://host/apis/ccompat/v7`. */
  url: string;
  transport: Transport;
  auth: AuthProvider;
  retry: RetryPolicy;
}

/** The registry's schema types; AVRO when the server omits it (Confluent's own default). */
export type SchemaType = 'AVRO' | 'JSON' | 'PROTOBUF';

export interface SubjectVersion {
  subject: string;
  version: number;
  /** The registry-wide schema id (the one in the Confluent wire format). */
  id: number;
  schema: string;
  schemaType: SchemaType;
}

const ACCEPT_HEADERS: Readonly<Record<string, string>> = {
  accept: 'application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json',
};
const JSON_HEADERS: Readonly<Record<string, string>> = {
  ...ACCEPT_HEADERS,
  'content-type': 'application/vnd.schemaregistry.v1+json',
};
/** Entries kept in each lookup cache (id → schema, subject + schema → id). */
const CACHE_SIZE = 512;
const SCHEMA_TYPES = new Set(['AVRO', 'JSON', 'PROTOBUF']);

function checkSubject(subject: unknown): string {
  if (
    typeof subject !== 'string' ||
    subject.length === 0 ||
    subject.length > 512 ||
    hasControlChars(subject)
  ) {
    throw new ValidationError(
      'A subject must be a non-empty string of at most 512 characters.',
      'INVALID_SCHEMA',
    );
  }
  return subject;
}

function checkVersion(v: unknown): number | 'latest' {
  if (v === undefined || v === null || v === '' || v === 'latest' || v === -1) return 'latest';
  const n = typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new ValidationError('A version must be a positive integer or "latest".', 'INVALID_SCHEMA');
  }
  return n;
}

function checkSchemaId(id: unknown): number {
  const n = typeof id === 'string' && /^\d{1,10}$/.test(id) ? Number(id) : id;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > 0x7fffffff) {
    throw new ValidationError('A schema id must be an integer between 0 and 2147483647.', 'INVALID_SCHEMA');
  }
  return n;
}

function schemaText(schema: unknown): string {
  const text =
    typeof schema === 'string' ? schema : schema && typeof schema === 'object' ? JSON.stringify(schema) : '';
  if (text.trim() === '')
    throw new ValidationError('The schema is empty or not text/JSON.', 'INVALID_SCHEMA');
  return text;
}

function checkType(t: unknown): SchemaType | undefined {
  if (t === undefined || t === null || t === '') return undefined;
  if (typeof t !== 'string' || !SCHEMA_TYPES.has(t.toUpperCase())) {
    throw new ValidationError('schemaType must be AVRO, JSON or PROTOBUF.', 'INVALID_SCHEMA');
  }
  return t.toUpperCase() as SchemaType;
}

function checkRule(rule: unknown): CompatibilityRule {
  const r = parseCompatibility(rule);
  if (r === undefined) {
    throw new ValidationError(
      'The compatibility rule must be NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE.',
      'INVALID_SCHEMA',
    );
  }
  return r;
}

const seg = (s: string): string => encodeURIComponent(s);

function boundedSet<K, V>(map: Map<K, V>, key: K, value: V): void {
  if (map.size >= CACHE_SIZE) map.delete(map.keys().next().value as K);
  map.set(key, value);
}

export class ConfluentRegistryClient {
  private readonly origin: string;
  private readonly basePath: string;
  private readonly byId = new Map<number, { schema: string; schemaType: SchemaType }>();
  private readonly idOf = new Map<string, number>();
  private readonly resolving = new Map<string, Promise<number>>();
  private readonly rest: RestCall;

  constructor(init: ConfluentRegistryClientInit) {
    let url: URL;
    try {
      url = new URL(init.url);
    } catch {
      throw new ValidationError('The schema registry URL is not a valid URL.', 'INVALID_CONFIG');
    }
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.rest = new RestCall({ transport: init.transport, auth: init.auth, retry: init.retry });
  }

  /** Every subject (not the soft-deleted ones). */
  async listSubjects(): Promise<string[]> {
    const body = this.json(await this.call('GET', '/subjects', 'List subjects'));
    if (!Array.isArray(body)) throw new UnexpectedResponseError('List subjects: the response is not a list.');
    return body.filter((x): x is string => typeof x === 'string');
  }

  async listVersions(subject: string): Promise<number[]> {
    const s = checkSubject(subject);
    const body = this.json(
      await this.call('GET', `/subjects/${seg(s)}/versions`, `List versions of "${printable(s)}"`),
    );
    if (!Array.isArray(body)) throw new UnexpectedResponseError('List versions: the response is not a list.');
    return body.filter((x): x is number => typeof x === 'number');
  }

  /** One version of a subject (default the latest), with its registry-wide id. */
  async getVersion(subject: string, version?: number | string): Promise<SubjectVersion> {
    const s = checkSubject(subject);
    const v = checkVersion(version);
    const res = await this.call(
      'GET',
      `/subjects/${seg(s)}/versions/${v}`,
      `Get "${printable(s)}" version ${v}`,
    );
    return this.toVersion(this.json(res), s);
  }

  /** Registers a schema under a subject (or finds it there); answers its registry-wide id. */
  async register(subject: string, schema: string | object, schemaType?: SchemaType): Promise<{ id: number }> {
    const s = checkSubject(subject);
    const text = schemaText(schema);
    const type = checkType(schemaType);
    const body = JSON.stringify(
      type && type !== 'AVRO' ? { schema: text, schemaType: type } : { schema: text },
    );
    const res = await this.call(
      'POST',
      `/subjects/${seg(s)}/versions`,
      `Register a schema under "${printable(s)}"`,
      body,
    );
    const id = (this.json(res) as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'number') throw new UnexpectedResponseError('Register: the response has no id.');
    boundedSet(this.idOf, `${s}\u0000${text}`, id);
    return { id };
  }

  /**
   * The registry-wide id of `schema` as registered under `subject` (the registry compares the
   * canonical form); SCHEMA_NOT_FOUND when it is not registered there. Cached.
   */
  async getIdForSchema(subject: string, schema: string | object): Promise<number> {
    const s = checkSubject(subject);
    const text = schemaText(schema);
    const key = `${s}\u0000${text}`;
    const hit = this.idOf.get(key);
    if (hit !== undefined) return hit;
    const res = await this.call(
      'POST',
      `/subjects/${seg(s)}`,
      `Look up a schema under "${printable(s)}"`,
      JSON.stringify({ schema: text }),
    );
    const v = this.toVersion(this.json(res), s);
    boundedSet(this.idOf, key, v.id);
    return v.id;
  }

  /**
   * The id a record written with `schema` carries under `subject`, as Confluent's serializers get
   * it (`auto.register.schemas`): looked up first (a read-only key can write with a registered
   * schema), registered when the subject does not have it yet. Cached; concurrent asks for the
   * same subject and schema share one request. Rejects SCHEMA_INCOMPATIBLE when the subject's
   * compatibility rule refuses the schema, FORBIDDEN when the key may not register.
   */
  idFor(subject: string, schema: string): Promise<number> {
    const key = `${subject}\u0000${schema}`;
    const hit = this.idOf.get(key);
    if (hit !== undefined) return Promise.resolve(hit);
    let pending = this.resolving.get(key);
    if (pending === undefined) {
      pending = this.getIdForSchema(subject, schema)
        .catch((err: unknown) => {
          if ((err as EventStreamsError).code !== 'SCHEMA_NOT_FOUND') throw err;
          return this.register(subject, schema).then((r) => r.id);
        })
        .finally(() => this.resolving.delete(key));
      this.resolving.set(key, pending);
    }
    return pending;
  }

  /** The schema with a registry-wide id (as read from a record's wire format). Cached. */
  async getSchemaById(id: number): Promise<{ id: number; schema: string; schemaType: SchemaType }> {
    const n = checkSchemaId(id);
    const hit = this.byId.get(n);
    if (hit !== undefined) return { id: n, ...hit };
    const body = this.json(await this.call('GET', `/schemas/ids/${n}`, `Get schema id ${n}`)) as
      { schema?: unknown; schemaType?: unknown } | undefined;
    if (typeof body?.schema !== 'string')
      throw new UnexpectedResponseError('Get schema by id: no schema in the response.');
    const schemaType =
      typeof body.schemaType === 'string' && SCHEMA_TYPES.has(body.schemaType)
        ? (body.schemaType as SchemaType)
        : 'AVRO';
    boundedSet(this.byId, n, { schema: body.schema, schemaType });
    return { id: n, schema: body.schema, schemaType };
  }

  /** Deletes a subject (soft; `permanent` after a soft delete); answers the versions deleted. */
  async deleteSubject(subject: string, permanent = false): Promise<number[]> {
    const s = checkSubject(subject);
    const q = permanent ? '?permanent=true' : '';
    const body = this.json(
      await this.call('DELETE', `/subjects/${seg(s)}${q}`, `Delete subject "${printable(s)}"`),
    );
    this.forget(s);
    return Array.isArray(body) ? body.filter((x): x is number => typeof x === 'number') : [];
  }

  /** Deletes one version of a subject; answers its version number. */
  async deleteVersion(subject: string, version: number | string, permanent = false): Promise<number> {
    const s = checkSubject(subject);
    const v = checkVersion(version);
    const q = permanent ? '?permanent=true' : '';
    const body = this.json(
      await this.call(
        'DELETE',
        `/subjects/${seg(s)}/versions/${v}${q}`,
        `Delete "${printable(s)}" version ${v}`,
      ),
    );
    this.forget(s);
    return typeof body === 'number' ? body : Number(body);
  }

  /** The compatibility level of a subject (its own, else the global one), or the global one. */
  async getCompatibility(subject?: string): Promise<CompatibilityRule> {
    const s = subject === undefined || subject === '' ? undefined : checkSubject(subject);
    let body: unknown;
    try {
      body = this.json(
        await this.call(
          'GET',
          s === undefined ? '/config' : `/config/${seg(s)}?defaultToGlobal=true`,
          'Get the compatibility level',
        ),
      );
    } catch (err) {
      // A registry that ignores defaultToGlobal answers 404 (40408) for a subject without its own.
      if (s === undefined || (err as EventStreamsError).statusCode !== 404) throw err;
      return this.getCompatibility();
    }
    const r = body as { compatibilityLevel?: unknown; compatibility?: unknown } | undefined;
    const rule = parseCompatibility(r?.compatibilityLevel ?? r?.compatibility);
    if (rule === undefined)
      throw new UnexpectedResponseError('Get the compatibility level: no level in the response.');
    return rule;
  }

  /** Sets the compatibility level of a subject, or the global one. */
  async setCompatibility(
    rule: CompatibilityRule | string,
    subject?: string,
  ): Promise<{ subject?: string; rule: CompatibilityRule }> {
    const r = checkRule(rule);
    const s = subject === undefined || subject === '' ? undefined : checkSubject(subject);
    await this.call(
      'PUT',
      s === undefined ? '/config' : `/config/${seg(s)}`,
      'Set the compatibility level',
      JSON.stringify({ compatibility: r }),
    );
    return s === undefined ? { rule: r } : { subject: s, rule: r };
  }

  /** Whether `schema` could be registered under `subject` against `version` (default latest). */
  async checkCompatibility(
    subject: string,
    schema: string | object,
    version?: number | string,
  ): Promise<boolean> {
    const s = checkSubject(subject);
    const v = checkVersion(version);
    const body = this.json(
      await this.call(
        'POST',
        `/compatibility/subjects/${seg(s)}/versions/${v}`,
        `Check compatibility with "${printable(s)}"`,
        JSON.stringify({ schema: schemaText(schema) }),
      ),
    ) as { is_compatible?: unknown } | undefined;
    return body?.is_compatible === true;
  }

  private forget(subject: string): void {
    for (const k of [...this.idOf.keys()]) if (k.startsWith(`${subject}\u0000`)) this.idOf.delete(k);
  }

  private toVersion(raw: unknown, subject: string): SubjectVersion {
    const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    if (typeof r.id !== 'number' || typeof r.schema !== 'string') {
      throw new UnexpectedResponseError('The registry answer has no schema id or schema.');
    }
    const type =
      typeof r.schemaType === 'string' && SCHEMA_TYPES.has(r.schemaType)
        ? (r.schemaType as SchemaType)
        : 'AVRO';
    return {
      subject: typeof r.subject === 'string' ? r.subject : subject,
      version: typeof r.version === 'number' ? r.version : 0,
      id: r.id,
      schema: r.schema,
      schemaType: type,
    };
  }

  private json(res: HttpResponse): unknown {
    if (res.text.length === 0) return undefined;
    try {
      return JSON.parse(res.text);
    } catch {
      throw new UnexpectedResponseError(
        `The schema registry answered HTTP ${res.statusCode} with a body that is not JSON.`,
        {
          statusCode: res.statusCode,
        },
      );
    }
  }

  private call(method: HttpMethod, path: string, op: string, body?: string): Promise<HttpResponse> {
    return this.rest
      .call(this.origin, {
        method,
        path: `${this.basePath}${path}`,
        headers: body !== undefined ? JSON_HEADERS : ACCEPT_HEADERS,
        ...(body !== undefined ? { body } : {}),
        error: { api: 'confluent', operation: op },
      })
      .catch((err: unknown) => {
        // A refusal names its request already; a request that got no answer (refused connection,
        // timeout, TLS) names only the origin, which a producer's user could take for a broker.
        if (isEventStreamsError(err) && err.statusCode === undefined && !err.message.startsWith(op)) {
          err.message = `${op} at the schema registry failed: ${err.message}`;
        }
        throw err;
      });
  }
}
