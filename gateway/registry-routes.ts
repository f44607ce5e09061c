// SPDX-License-Identifier: Apache-2.0
/**
 * HTTP faces of the local Schema Registry (registry.ts):
 * - IBM's API (ibm-messaging/event-streams-docs schema-registry-api): `/artifacts`,
 *   `/artifacts/{id}`, `/artifacts/{id}/versions[/{v}]`, `/rules/COMPATIBILITY`,
 *   `/artifacts/{id}/rules[/COMPATIBILITY]`; errors `{error_code, message}`.
 * - The Confluent-compatible API under `/confluent`: subjects, versions, `schemas/ids/{id}`,
 *   `config`, `compatibility`; errors `{error_code: 40401…, message}`, content type
 *   `application/vnd.schemaregistry.v1+json`. Subjects and artifacts are the same thing.
 *
 * Self-contained (own body reader and senders) so the router only needs one dispatch line.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { parseCompatibility } from '../lib/server-kit';
import { closeAfter } from './http';
import {
  type Actor,
  checkArtifactId,
  RegistryError,
  type SchemaRegistry,
  type VersionMeta,
} from './registry';

/** Registry bodies are schemas: 64 KB of schema text plus JSON quoting fits in this. */
const MAX_BODY = 256 * 1024;
const CONFLUENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export interface RegistryHttpContext {
  registry: SchemaRegistry;
  /** The caller's role and registry actor for an accepted credential, undefined otherwise (401). */
  authenticate(req: IncomingMessage): { role: 'manager' | 'writer'; actor: Actor } | undefined;
  log(line: string): void;
}

/** True for paths this module answers. */
export function isRegistryPath(pathname: string): boolean {
  return (
    pathname === '/artifacts' ||
    pathname.startsWith('/artifacts/') ||
    pathname === '/rules' ||
    pathname.startsWith('/rules/') ||
    pathname === '/confluent' ||
    pathname.startsWith('/confluent/')
  );
}

function send(
  res: ServerResponse,
  status: number,
  body: string | undefined,
  type = 'application/json',
): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = { 'cache-control': 'no-store' };
  if (body !== undefined) {
    headers['content-type'] = type;
    headers['content-length'] = Buffer.byteLength(body);
  }
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * Reads a registry body up to MAX_BODY. Past it the promise rejects with 413 and the rest of the
 * body is left to closeAfter (read and discarded up to a bound, so the client gets the 413
 * instead of a connection reset).
 */
function readBody(req: IncomingMessage, res: ServerResponse): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = (): void => {
      closeAfter(res, req);
      reject(new RegistryError(413, 41301, `The request body is larger than ${MAX_BODY} bytes`));
    };
    const declared = Number(req.headers['content-length']);
    if (declared > MAX_BODY) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > MAX_BODY) {
        req.removeListener('data', onData);
        chunks.length = 0;
        tooLarge();
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function jsonBody(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RegistryError(400, 42201, 'The request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RegistryError(400, 42201, 'The request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function segment(raw: string | undefined): string {
  try {
    return decodeURIComponent(raw ?? '');
  } catch {
    throw new RegistryError(400, 40001, 'Invalid percent-encoding in the URL');
  }
}

function versionOf(raw: string | undefined): number | 'latest' {
  const s = segment(raw);
  if (s === 'latest' || s === '-1') return 'latest';
  if (/^\d{1,9}$/.test(s) && Number(s) > 0) return Number(s);
  throw new RegistryError(
    422,
    42202,
    `The version '${s.slice(0, 40)}' must be a positive integer or 'latest'`,
  );
}

function ruleBody(
  body: Record<string, unknown>,
  field: 'config' | 'compatibility',
): ReturnType<typeof parseCompatibility> & string {
  const rule = parseCompatibility(body[field] ?? body.compatibilityLevel);
  if (rule === undefined) {
    throw new RegistryError(
      422,
      42203,
      `'${field}' must be one of NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE`,
    );
  }
  return rule;
}

function ibmMeta(v: VersionMeta): string {
  return JSON.stringify({
    id: v.id,
    type: 'AVRO',
    version: v.version,
    createdBy: '',
    createdOn: v.createdOn,
    modifiedBy: '',
    modifiedOn: v.createdOn,
    globalId: v.globalId,
  });
}

function notAllowed(): never {
  throw new RegistryError(405, 40501, 'Method Not Allowed');
}

/** Answers one registry request; never throws (failures become documented error bodies). */
export function handleRegistry(
  ctx: RegistryHttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  method: string,
): void {
  const confluent = pathname === '/confluent' || pathname.startsWith('/confluent/');
  const fail = (err: unknown): void => {
    if (err instanceof RegistryError) {
      const code = confluent ? err.confluentCode : err.status;
      if (err.retryAfter !== undefined && !res.headersSent)
        res.setHeader('retry-after', String(err.retryAfter));
      return send(
        res,
        err.status,
        JSON.stringify({ error_code: code, message: err.message }),
        confluent ? CONFLUENT_TYPE : 'application/json',
      );
    }
    ctx.log(`local endpoint: schema registry error: ${err instanceof Error ? err.message : String(err)}`);
    const incident = Math.random().toString(36).slice(2, 10);
    send(
      res,
      500,
      JSON.stringify({ error_code: confluent ? 50001 : 500, message: 'Internal server error', incident }),
    );
  };
  const who = ctx.authenticate(req);
  if (who === undefined) {
    req.resume();
    return send(res, 401, JSON.stringify({ error_code: confluent ? 40101 : 401, message: 'Unauthorized' }));
  }
  // Like IBM's schema resource roles: reading (and producing with a schema) is a Writer's;
  // registering, deleting and changing rules are a Manager's.
  if (who.role !== 'manager' && method !== 'GET' && method !== 'HEAD') {
    req.resume();
    return send(
      res,
      403,
      JSON.stringify({
        error_code: confluent ? 40301 : 403,
        message: 'Forbidden: schema changes need a manager key',
      }),
    );
  }
  const seg = pathname.split('/').slice(1);
  // Catch up with what other gateways wrote first: a read after an answered write sees it, and a
  // write is checked against the newest state.
  ctx.registry
    .sync()
    .catch((err: unknown) => {
      throw new RegistryError(
        503,
        50301,
        `The schema registry is catching up: ${err instanceof Error ? err.message : String(err)}`,
      );
    })
    .then(() =>
      confluent
        ? routeConfluent(ctx.registry, req, res, seg.slice(1), method, who.actor)
        : routeIbm(ctx.registry, req, res, seg, method, who.actor),
    )
    .catch(fail);
}

async function routeIbm(
  registry: SchemaRegistry,
  req: IncomingMessage,
  res: ServerResponse,
  seg: string[],
  method: string,
  actor: Actor,
): Promise<void> {
  const ok = (body: string | undefined, status = 200): void =>
    send(res, body === undefined ? 204 : status, body);
  const schemaAnswer = (v: VersionMeta): void => {
    if (res.headersSent) return;
    res.setHeader('x-registry-version', String(v.version));
    res.setHeader('x-registry-globalid', String(v.globalId));
    ok(v.schema);
  };
  if (seg[0] === 'rules') {
    if (seg.length !== 2 || seg[1] !== 'COMPATIBILITY')
      throw new RegistryError(404, 40401, 'Unknown rule type');
    if (method === 'GET') return ok(JSON.stringify({ type: 'COMPATIBILITY', config: registry.globalRule() }));
    if (method !== 'PUT') notAllowed();
    const rule = ruleBody(jsonBody(await readBody(req, res)), 'config');
    await registry.setGlobalRule(rule);
    return ok(JSON.stringify({ type: 'COMPATIBILITY', config: rule }));
  }
  // /artifacts
  if (seg.length === 1) {
    if (method === 'GET') return ok(JSON.stringify(registry.list()));
    if (method !== 'POST') notAllowed();
    const header = req.headers['x-registry-artifactid'];
    const id = typeof header === 'string' && header !== '' ? checkArtifactId(header) : undefined;
    const v = await registry.register(id, await readBody(req, res), true, actor);
    return ok(ibmMeta(v));
  }
  const id = checkArtifactId(segment(seg[1]));
  if (seg.length === 2) {
    if (method === 'GET') return schemaAnswer(registry.get(id));
    if (method !== 'DELETE') notAllowed();
    await registry.deleteArtifact(id);
    return ok(undefined);
  }
  if (seg[2] === 'versions') {
    if (seg.length === 3) {
      if (method === 'GET') return ok(JSON.stringify(registry.versions(id)));
      if (method !== 'POST') notAllowed();
      registry.versions(id); // 404 when the artifact does not exist
      return ok(ibmMeta(await registry.register(id, await readBody(req, res), false, actor)));
    }
    if (seg.length === 4) {
      const version = versionOf(seg[3]);
      if (method === 'GET') return schemaAnswer(registry.get(id, version));
      if (method !== 'DELETE') notAllowed();
      await registry.deleteVersion(id, version);
      return ok(undefined);
    }
  }
  if (seg[2] === 'rules') {
    if (seg.length === 3) {
      if (method !== 'POST') notAllowed();
      const body = jsonBody(await readBody(req, res));
      if (body.type !== undefined && body.type !== 'COMPATIBILITY')
        throw new RegistryError(400, 42203, 'Only the COMPATIBILITY rule is supported');
      if (registry.artifactRule(id) !== undefined)
        throw new RegistryError(409, 40901, `Schema '${id}' already has a COMPATIBILITY rule`);
      await registry.setArtifactRule(id, ruleBody(body, 'config'));
      return ok(undefined);
    }
    if (seg.length === 4 && seg[3] === 'COMPATIBILITY') {
      if (method === 'GET') {
        const rule = registry.artifactRule(id);
        if (rule === undefined)
          throw new RegistryError(404, 40401, `No COMPATIBILITY rule is set on schema '${id}'`);
        return ok(JSON.stringify({ type: 'COMPATIBILITY', config: rule }));
      }
      if (method === 'DELETE') {
        if (registry.artifactRule(id) === undefined)
          throw new RegistryError(404, 40401, `No COMPATIBILITY rule is set on schema '${id}'`);
        await registry.setArtifactRule(id, undefined);
        return ok(undefined);
      }
      if (method !== 'PUT') notAllowed();
      if (registry.artifactRule(id) === undefined)
        throw new RegistryError(404, 40401, `No COMPATIBILITY rule is set on schema '${id}'`);
      const rule = ruleBody(jsonBody(await readBody(req, res)), 'config');
      await registry.setArtifactRule(id, rule);
      return ok(JSON.stringify({ type: 'COMPATIBILITY', config: rule }));
    }
  }
  throw new RegistryError(404, 40401, 'Not Found');
}

function confluentSchema(body: Record<string, unknown>): string {
  const type = body.schemaType;
  if (type !== undefined && type !== null && String(type).toUpperCase() !== 'AVRO') {
    throw new RegistryError(422, 42201, 'Only AVRO schemas are supported by this registry');
  }
  if (typeof body.schema !== 'string' || body.schema.length === 0) {
    throw new RegistryError(422, 42201, "'schema' must be the schema as a JSON string");
  }
  return body.schema;
}

async function routeConfluent(
  registry: SchemaRegistry,
  req: IncomingMessage,
  res: ServerResponse,
  seg: string[],
  method: string,
  actor: Actor,
): Promise<void> {
  const ok = (value: unknown): void => send(res, 200, JSON.stringify(value), CONFLUENT_TYPE);
  const versionJson = (v: VersionMeta): Record<string, unknown> => ({
    subject: v.id,
    version: v.version,
    id: v.globalId,
    schema: v.schema,
  });
  const head = seg[0];
  if (head === 'schemas' && seg[1] === 'ids' && seg.length >= 3) {
    if (method !== 'GET') notAllowed();
    const s = segment(seg[2]);
    if (!/^\d{1,9}$/.test(s)) throw new RegistryError(404, 40403, 'Schema not found');
    const v = registry.byId(Number(s));
    if (seg.length === 4 && seg[3] === 'schema') return send(res, 200, v.schema, CONFLUENT_TYPE);
    return ok({ schema: v.schema });
  }
  if (head === 'subjects') {
    if (seg.length === 1) {
      if (method !== 'GET') notAllowed();
      return ok(registry.list());
    }
    const subject = checkArtifactId(segment(seg[1]));
    if (seg.length === 2) {
      if (method === 'POST') {
        const v = registry.lookup(subject, confluentSchema(jsonBody(await readBody(req, res))));
        return ok(versionJson(v));
      }
      if (method !== 'DELETE') notAllowed();
      return ok(await registry.deleteArtifact(subject));
    }
    if (seg[2] === 'versions') {
      if (seg.length === 3) {
        if (method === 'GET') return ok(registry.versions(subject));
        if (method !== 'POST') notAllowed();
        const v = await registry.register(
          subject,
          confluentSchema(jsonBody(await readBody(req, res))),
          false,
          actor,
        );
        return ok({ id: v.globalId });
      }
      const version = versionOf(seg[3]);
      if (seg.length === 4) {
        if (method === 'GET') return ok(versionJson(registry.get(subject, version)));
        if (method !== 'DELETE') notAllowed();
        return ok(await registry.deleteVersion(subject, version));
      }
      if (seg.length === 5 && seg[4] === 'schema' && method === 'GET') {
        return send(res, 200, registry.get(subject, version).schema, CONFLUENT_TYPE);
      }
    }
    throw new RegistryError(404, 40401, 'Not Found');
  }
  if (head === 'config') {
    if (seg.length === 1) {
      if (method === 'GET') return ok({ compatibilityLevel: registry.globalRule() });
      if (method !== 'PUT') notAllowed();
      const rule = ruleBody(jsonBody(await readBody(req, res)), 'compatibility');
      await registry.setGlobalRule(rule);
      return ok({ compatibility: rule });
    }
    const subject = checkArtifactId(segment(seg[1]));
    if (method === 'GET') {
      const rule = registry.artifactRule(subject);
      if (rule === undefined)
        throw new RegistryError(
          404,
          40408,
          `Subject '${subject}' does not have subject-level compatibility configured`,
        );
      return ok({ compatibilityLevel: rule });
    }
    if (method === 'DELETE') {
      const rule = registry.artifactRule(subject) ?? registry.globalRule();
      await registry.setArtifactRule(subject, undefined);
      return ok({ compatibilityLevel: rule });
    }
    if (method !== 'PUT') notAllowed();
    const rule = ruleBody(jsonBody(await readBody(req, res)), 'compatibility');
    await registry.setArtifactRule(subject, rule);
    return ok({ compatibility: rule });
  }
  if (head === 'compatibility' && seg[1] === 'subjects' && seg.length === 5 && seg[3] === 'versions') {
    if (method !== 'POST') notAllowed();
    const subject = checkArtifactId(segment(seg[2]));
    const schema = confluentSchema(jsonBody(await readBody(req, res)));
    versionOf(seg[4]);
    let compatible = true;
    try {
      compatible = (await registry.checkCompatible(subject, schema)) === undefined;
    } catch (err) {
      if (!(err instanceof RegistryError) || err.status !== 404) throw err;
    }
    return ok({ is_compatible: compatible });
  }
  if (seg.length === 0 || head === '') return ok({});
  throw new RegistryError(404, 40401, 'Not Found');
}
