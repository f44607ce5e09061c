// SPDX-License-Identifier: Apache-2.0
/**
 * Admin REST cluster, brokers, quotas and mirroring (IBM adminrest.yaml v1.4.0):
 * `GET /admin/cluster`, `GET /admin/brokers`, `GET /admin/brokers/{id}`,
 * `GET /admin/brokers/{id}/configs?config_filter&verbose`, `GET /admin/quotas`,
 * `GET|POST|PATCH|DELETE /admin/quotas/{entity}`, `GET|POST /admin/mirroring/topic-selection` and
 * `GET /admin/mirroring/active-topics`.
 *
 * Cluster and brokers come from the backend (Kafka's own on the Kafka backend; one broker, this
 * process, on the memory backend). Quotas and the mirroring selection are kept by the endpoint
 * for each server, on both backends: kafkajs has no client-quota API, and mirroring is an Event
 * Streams service feature, not Kafka's. Active topics are the existing topics a selection pattern
 * matches (RE2, linear time), as a mirroring instance would show once it caught up.
 */
import {
  checkBrokerId,
  checkEntityName,
  checkFilter,
  checkMirroringIncludes,
  checkQuota,
  type ClusterInfo,
  compileFilter,
  type Quota,
} from '../../lib/server-kit';
import { type RequestContext, type ServerDeps, adminError, mediaType, parseQuery, readJson } from '../http';
import { type AdminRoute, adminFailure, checkInput, sendJson, settle } from './admin-common';

/** Most quota entities one endpoint keeps. */
export const MAX_QUOTA_ENTITIES = 1000;

interface ClusterState {
  quotas: Map<string, Quota>;
  includes: string[];
}

const states = new WeakMap<ServerDeps, ClusterState>();

function stateOf(deps: ServerDeps): ClusterState {
  let s = states.get(deps);
  if (!s) states.set(deps, (s = { quotas: new Map(), includes: [] }));
  return s;
}

/** Routes /admin/cluster, /admin/brokers…, /admin/quotas… and /admin/mirroring/…; undefined otherwise. */
export function clusterRoutes(
  ctx: RequestContext,
  seg: string[],
  decode: (s: string) => string,
): AdminRoute | undefined {
  const { method } = ctx;
  const isGet = method === 'GET' || method === 'HEAD';
  const get = (handler: () => void): AdminRoute => ({ allow: 'GET', ...(isGet ? { handler } : {}) });
  const area = seg[2];
  if (area === 'cluster' && seg.length === 3) return get(() => cluster(ctx));
  if (area === 'brokers') {
    if (seg.length === 3) return get(() => brokers(ctx));
    if (seg.length === 4) return get(() => broker(ctx, decode(seg[3]!)));
    if (seg.length === 5 && seg[4] === 'configs') return get(() => brokerConfigs(ctx, decode(seg[3]!)));
    return undefined;
  }
  if (area === 'quotas') {
    if (seg.length === 3) return get(() => sendJson(ctx, { data: quotaList(ctx) }));
    if (seg.length !== 4) return undefined;
    const entity = decode(seg[3]!);
    const route: AdminRoute = { allow: 'GET, POST, PATCH, DELETE', area: 'quotas' };
    if (isGet) route.handler = () => getQuota(ctx, entity);
    else if (method === 'POST' || method === 'PATCH') route.handler = () => putQuota(ctx, entity, method);
    else if (method === 'DELETE') route.handler = () => deleteQuota(ctx, entity);
    return route;
  }
  if (area === 'mirroring' && seg.length === 4) {
    if (seg[3] === 'active-topics') return get(() => activeTopics(ctx));
    if (seg[3] !== 'topic-selection') return undefined;
    const route: AdminRoute = { allow: 'GET, POST', area: 'mirroring' };
    if (isGet) route.handler = () => sendJson(ctx, { includes: stateOf(ctx.deps).includes });
    else if (method === 'POST') route.handler = () => setSelection(ctx);
    return route;
  }
  return undefined;
}

/** The backend's cluster (the memory backend's one broker is this endpoint, see Backend.advertise). */
function clusterInfo(ctx: RequestContext): Promise<ClusterInfo> {
  return ctx.deps.backend.admin.getCluster();
}

function cluster(ctx: RequestContext): void {
  settle(ctx, clusterInfo(ctx), (c) => sendJson(ctx, c));
}

function brokers(ctx: RequestContext): void {
  settle(ctx, clusterInfo(ctx), (c) => sendJson(ctx, c.brokers));
}

function broker(ctx: RequestContext, raw: string): void {
  const id = checkInput(ctx, () => checkBrokerId(raw));
  if (id === undefined) return;
  settle(ctx, clusterInfo(ctx), (c) => {
    const b = c.brokers.find((x) => x.id === id);
    if (!b) return adminError(ctx, 404, 0, `broker ${id} does not exist`);
    sendJson(ctx, b);
  });
}

function brokerConfigs(ctx: RequestContext, raw: string): void {
  const id = checkInput(ctx, () => checkBrokerId(raw));
  if (id === undefined) return;
  const admin = ctx.deps.backend.admin;
  const params = parseQuery(ctx.query);
  const filter = params.get('config_filter') || undefined;
  if (filter !== undefined) {
    const problem = checkFilter(filter, 'config_filter', 'any');
    if (problem) return adminError(ctx, 400, 0, problem);
  }
  const verbose = params.get('verbose') === 'true';
  settle(
    ctx,
    admin.getBrokerConfigs(id, { ...(filter !== undefined ? { filter } : {}), verbose }),
    (detail) => sendJson(ctx, detail),
  );
}

function quotaList(ctx: RequestContext): Array<{ entity_name: string } & Quota> {
  return [...stateOf(ctx.deps).quotas]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([entity_name, q]) => ({ entity_name, ...q }));
}

function getQuota(ctx: RequestContext, raw: string): void {
  const entity = checkInput(ctx, () => checkEntityName(raw));
  if (entity === undefined) return;
  const q = stateOf(ctx.deps).quotas.get(entity);
  if (!q) return adminError(ctx, 404, 0, `no quota is set for '${entity}'`);
  sendJson(ctx, q);
}

/** POST creates (422 when one exists), PATCH updates (404 when none); both answer 202 {}. */
function putQuota(ctx: RequestContext, raw: string, method: string): void {
  const entity = checkInput(ctx, () => checkEntityName(raw));
  if (entity === undefined) return;
  readJson(
    ctx,
    (body) => {
      const quota = checkInput(ctx, () => checkQuota(body));
      if (quota === undefined) return;
      const { quotas } = stateOf(ctx.deps);
      const current = quotas.get(entity);
      if (method === 'POST') {
        if (current) return adminError(ctx, 422, 0, `a quota for '${entity}' already exists: use PATCH`);
        if (quotas.size >= MAX_QUOTA_ENTITIES) {
          return adminError(ctx, 422, 0, `at most ${MAX_QUOTA_ENTITIES} quota entities`);
        }
        quotas.set(entity, quota);
      } else {
        if (!current) return adminError(ctx, 404, 0, `no quota is set for '${entity}'`);
        quotas.set(entity, { ...current, ...quota });
      }
      sendJson(ctx, {}, 202);
    },
    (err) => adminFailure(ctx, err),
  );
}

function deleteQuota(ctx: RequestContext, raw: string): void {
  const entity = checkInput(ctx, () => checkEntityName(raw));
  if (entity === undefined) return;
  if (!stateOf(ctx.deps).quotas.delete(entity)) {
    return adminError(ctx, 404, 0, `no quota is set for '${entity}'`);
  }
  sendJson(ctx, {}, 202);
}

/** POST replaces the whole selection (415 unless the body is JSON), answering it. */
function setSelection(ctx: RequestContext): void {
  if (mediaType(ctx.req.headers['content-type']) !== 'application/json') {
    return adminError(ctx, 415, 0, "The header 'Content-Type' must be 'application/json'");
  }
  readJson(
    ctx,
    (body) => {
      const includes = checkInput(ctx, () => checkMirroringIncludes(body.includes));
      if (includes === undefined) return;
      stateOf(ctx.deps).includes = includes;
      sendJson(ctx, { includes });
    },
    (err) => adminFailure(ctx, err),
  );
}

/** The existing topics that a selection pattern matches as a whole name. */
function activeTopics(ctx: RequestContext): void {
  const matchers = stateOf(ctx.deps).includes.map((p) => compileFilter(`/${p}/`, 'pattern', 'any'));
  settle(ctx, ctx.deps.backend.listTopics(), (topics) => {
    const active = topics
      .map((t) => t.name)
      .filter((name) => matchers.some((m) => m === undefined || m(name)))
      .sort();
    sendJson(ctx, { active_topics: active });
  });
}
