// SPDX-License-Identifier: Apache-2.0
/**
 * Client for the Event Streams Schema Registry's own API (`{kafka_http_url}/artifacts`,
 * `/rules/COMPATIBILITY`, per-schema rules), as documented in ibm-messaging/event-streams-docs
 * schema-registry-api. It authenticates and retries like the producer (same transport and
 * auth provider), and fetches registry schemas for v2 Avro produce (cached, bounded).
 */
import type { AuthProvider } from './auth';
import { EventStreamsError, UnexpectedResponseError, ValidationError } from './errors';
import { RestCall } from './rest-call';
import type { RetryPolicy } from './retry';
import {
  type AvroFormat,
  type CompatibilityRule,
  normaliseFormat,
  parseCompatibility,
  hasControlChars,
  parseSchema,
  schemaSource,
} from './schema';
import type { HttpMethod, HttpResponse, Transport } from './transport';
import type { ProduceRecord } from './types';
import { basePathOf, parseBaseUrl, printable } from './validate';

export interface SchemaRegistryClientInit {
  /** Registry base URL (IBM Cloud: `kafka_http_url`); a path prefix is kept. */
  url: string;
  transport: Transport;
  auth: AuthProvider;
  retry: RetryPolicy;
}

/** What the registry says about a schema version it stored. */
export interface SchemaVersionMeta {
  id: string;
  version: number;
  globalId?: number;
  type?: string;
  createdOn?: number;
}

export interface SchemaText {
  id: string;
  /** Absent when the latest version was asked for and the server did not say which it is. */
  version?: number;
  schema: string;
}

/** Cached schema texts: flows reference a handful of schemas. */
const CACHE_SIZE = 256;
/** How long the latest version of a schema is reused before asking the registry again. */
export const LATEST_TTL_MS = 30_000;

function checkId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 512 || hasControlChars(id)) {
    throw new ValidationError(
      'A schema id must be a non-empty string of at most 512 characters.',
      'INVALID_SCHEMA',
    );
  }
  return id;
}

function checkVersion(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '' || v === 'latest') return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new ValidationError('A schema version must be a positive integer.', 'INVALID_SCHEMA');
  }
  return n;
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

function toMeta(raw: unknown, id: string): SchemaVersionMeta {
  const r = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const version = typeof r.version === 'number' ? r.version : Number(r.version);
  const meta: SchemaVersionMeta = {
    id: typeof r.id === 'string' ? r.id : id,
    version: Number.isInteger(version) ? version : 0,
  };
  if (typeof r.globalId === 'number') meta.globalId = r.globalId;
  if (typeof r.type === 'string') meta.type = r.type;
  if (typeof r.createdOn === 'number') meta.createdOn = r.createdOn;
  return meta;
}

const seg = (s: string): string => encodeURIComponent(s);

export class SchemaRegistryClient {
  private readonly origin: string;
  private readonly basePath: string;
  private readonly cache = new Map<string, { text: SchemaText; expires?: number }>();
  private readonly rest: RestCall;

  constructor(init: SchemaRegistryClientInit) {
    const url = parseBaseUrl(init.url, 'registryUrl');
    this.origin = url.origin;
    this.basePath = basePathOf(url);
    this.rest = new RestCall({ transport: init.transport, auth: init.auth, retry: init.retry });
  }

  /** The ids of every schema in the registry. */
  async listSchemas(): Promise<string[]> {
    const body = this.json(await this.call('GET', '/artifacts', 'List schemas'));
    if (!Array.isArray(body)) throw new UnexpectedResponseError('List schemas: the response is not a list.');
    return body.filter((x): x is string => typeof x === 'string');
  }

  /** The version numbers of one schema. */
  async listVersions(id: string): Promise<number[]> {
    const sid = checkId(id);
    const body = this.json(
      await this.call(
        'GET',
        `/artifacts/${seg(sid)}/versions`,
        `List versions of schema "${printable(sid)}"`,
        sid,
      ),
    );
    if (!Array.isArray(body)) throw new UnexpectedResponseError('List versions: the response is not a list.');
    return body.map(Number).filter(Number.isInteger);
  }

  /** One version of a schema (the latest when `version` is absent), as Avro schema text. */
  async getSchema(id: string, version?: number | string): Promise<SchemaText> {
    const sid = checkId(id);
    const v = checkVersion(version);
    const path = v === undefined ? `/artifacts/${seg(sid)}` : `/artifacts/${seg(sid)}/versions/${v}`;
    const res = await this.call(
      'GET',
      path,
      `Get schema "${printable(sid)}"${v ? ` version ${v}` : ''}`,
      sid,
    );
    const out: SchemaText = { id: sid, schema: res.text };
    const header = res.headers['x-registry-version'];
    const hv = Number(Array.isArray(header) ? header[0] : header);
    if (v !== undefined) out.version = v;
    else if (Number.isInteger(hv) && hv > 0) out.version = hv;
    return out;
  }

  /**
   * Registers a schema: a new artifact when `id` does not exist yet (or has no id: the registry
   * makes one), otherwise a new version of it. The compatibility rule in force may refuse it.
   */
  async registerSchema(id: string | undefined, schema: string | object): Promise<SchemaVersionMeta> {
    parseSchema(schema);
    const text = schemaSource(schema);
    const sid = id === undefined || id === '' ? undefined : checkId(id);
    const headers: Record<string, string> = {};
    if (sid !== undefined) headers['x-registry-artifactid'] = sid;
    try {
      const res = await this.call(
        'POST',
        '/artifacts',
        `Register schema${sid ? ` "${printable(sid)}"` : ''}`,
        sid,
        text,
        headers,
      );
      return toMeta(this.json(res), sid ?? '');
    } catch (err) {
      if (sid === undefined || (err as EventStreamsError).statusCode !== 409) throw err;
    }
    const res = await this.call(
      'POST',
      `/artifacts/${seg(sid)}/versions`,
      `Register a new version of schema "${printable(sid)}"`,
      sid,
      text,
    );
    return toMeta(this.json(res), sid);
  }

  /** Deletes a whole schema, or one version of it. */
  async deleteSchema(id: string, version?: number | string): Promise<{ id: string; version?: number }> {
    const sid = checkId(id);
    const v = checkVersion(version);
    const path = v === undefined ? `/artifacts/${seg(sid)}` : `/artifacts/${seg(sid)}/versions/${v}`;
    await this.call('DELETE', path, `Delete schema "${printable(sid)}"${v ? ` version ${v}` : ''}`, sid);
    for (const k of [...this.cache.keys()]) if (k.startsWith(`${sid}\u0000`)) this.cache.delete(k);
    return v === undefined ? { id: sid } : { id: sid, version: v };
  }

  /** The compatibility rule of one schema, or the global one when `id` is absent. */
  async getCompatibility(id?: string): Promise<CompatibilityRule> {
    const sid = id === undefined || id === '' ? undefined : checkId(id);
    const path = sid === undefined ? '/rules/COMPATIBILITY' : `/artifacts/${seg(sid)}/rules/COMPATIBILITY`;
    const body = this.json(await this.call('GET', path, 'Get the compatibility rule', sid));
    const rule = parseCompatibility((body as { config?: unknown } | undefined)?.config);
    if (rule === undefined)
      throw new UnexpectedResponseError('Get the compatibility rule: the response has no config.');
    return rule;
  }

  /** Sets the compatibility rule of one schema, or the global one when `id` is absent. */
  async setCompatibility(
    rule: CompatibilityRule | string,
    id?: string,
  ): Promise<{ id?: string; rule: CompatibilityRule }> {
    const r = checkRule(rule);
    const sid = id === undefined || id === '' ? undefined : checkId(id);
    const body = JSON.stringify({ type: 'COMPATIBILITY', config: r });
    if (sid === undefined) {
      await this.call('PUT', '/rules/COMPATIBILITY', 'Set the global compatibility rule', undefined, body);
      return { rule: r };
    }
    const op = `Set the compatibility rule of schema "${printable(sid)}"`;
    try {
      await this.call('PUT', `/artifacts/${seg(sid)}/rules/COMPATIBILITY`, op, sid, body);
    } catch (err) {
      // No per-schema rule yet: it is created with POST .../rules.
      if ((err as EventStreamsError).statusCode !== 404) throw err;
      await this.call('POST', `/artifacts/${seg(sid)}/rules`, op, sid, body);
    }
    return { id: sid, rule: r };
  }

  /**
   * Replaces a schema's content (IBM: `PUT /artifacts/{id}`, which adds it as the new latest
   * version, subject to the compatibility rule).
   */
  async updateSchema(id: string, schema: string | object): Promise<SchemaVersionMeta> {
    const sid = checkId(id);
    const text = schemaSource(schema);
    parseSchema(text, 'The schema');
    const res = await this.call(
      'PUT',
      `/artifacts/${seg(sid)}`,
      `Update schema "${printable(sid)}"`,
      sid,
      text,
    );
    for (const k of [...this.cache.keys()]) if (k.startsWith(`${sid}\u0000`)) this.cache.delete(k);
    return toMeta(this.json(res), sid);
  }

  /**
   * Enables or disables a schema, or one version of it (IBM: `PUT /artifacts/{id}/state` and
   * `/artifacts/{id}/versions/{v}/state` with `{"state": "ENABLED" | "DISABLED"}`). A disabled
   * version cannot be used to produce; a disabled schema hides all its versions.
   */
  async setState(
    id: string,
    state: 'ENABLED' | 'DISABLED' | string,
    version?: number | string,
  ): Promise<{ id: string; version?: number; state: 'ENABLED' | 'DISABLED' }> {
    const sid = checkId(id);
    const v = checkVersion(version);
    const st = typeof state === 'string' ? state.trim().toUpperCase() : '';
    if (st !== 'ENABLED' && st !== 'DISABLED') {
      throw new ValidationError('The state must be ENABLED or DISABLED.', 'INVALID_SCHEMA');
    }
    const path =
      v === undefined ? `/artifacts/${seg(sid)}/state` : `/artifacts/${seg(sid)}/versions/${v}/state`;
    const op = `Set the state of schema "${printable(sid)}"${v ? ` version ${v}` : ''}`;
    await this.call('PUT', path, op, sid, JSON.stringify({ state: st }));
    for (const k of [...this.cache.keys()]) if (k.startsWith(`${sid}\u0000`)) this.cache.delete(k);
    return v === undefined ? { id: sid, state: st } : { id: sid, version: v, state: st };
  }

  /** Removes a schema's own compatibility rule (the global one applies again). */
  async deleteCompatibility(id: string): Promise<{ id: string }> {
    const sid = checkId(id);
    await this.call(
      'DELETE',
      `/artifacts/${seg(sid)}/rules/COMPATIBILITY`,
      `Delete the compatibility rule of schema "${printable(sid)}"`,
      sid,
    );
    return { id: sid };
  }

  /**
   * A registry schema's text, cached per id and version. "Latest" moves when a version is added,
   * so it is cached for {@link LATEST_TTL_MS} only: a flow producing many records a second makes
   * one registry request per schema per half minute, not one per record.
   */
  async schemaText(id: string, version?: number): Promise<string> {
    const key = `${id}\u0000${version ?? ''}`;
    const hit = this.cache.get(key);
    if (hit !== undefined && (hit.expires === undefined || hit.expires > Date.now())) return hit.text.schema;
    const got = await this.getSchema(id, version);
    parseSchema(got.schema, `Schema "${printable(id)}" from the registry`);
    if (this.cache.size >= CACHE_SIZE) this.cache.clear();
    this.cache.set(
      key,
      version === undefined ? { text: got, expires: Date.now() + LATEST_TTL_MS } : { text: got },
    );
    return got.schema;
  }

  /** Fills in the schema text of registry-referenced Avro formats (for v2, which sends it inline). */
  async withSchemaText(record: ProduceRecord): Promise<ProduceRecord> {
    const fill = async (f: unknown, what: 'value' | 'key'): Promise<AvroFormat | undefined> => {
      const format = normaliseFormat(f, what);
      if (format === undefined || format.schema !== undefined || format.id === undefined) return format;
      return { ...format, schema: await this.schemaText(format.id, format.version) };
    };
    const out: ProduceRecord = { ...record };
    const value = await fill(record.valueSchema, 'value');
    if (value !== undefined) out.valueSchema = value;
    const key = await fill(record.keySchema, 'key');
    if (key !== undefined) out.keySchema = key;
    return out;
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

  private call(
    method: HttpMethod,
    path: string,
    op: string,
    id?: string,
    body?: string,
    extra: Record<string, string> = {},
  ): Promise<HttpResponse> {
    return this.rest.call(this.origin, {
      method,
      path: `${this.basePath}${path}`,
      headers: extra,
      ...(body !== undefined ? { body } : {}),
      error: { api: 'registry', operation: op, ...(id !== undefined ? { schemaId: id } : {}) },
    });
  }
}
