// SPDX-License-Identifier: Apache-2.0
/**
 * The Admin REST API: /admin/status, /admin/topics (list, create) and /admin/topics/{topic} (get,
 * update, delete), plus the unauthenticated /alive health probe. Consumer groups and records are
 * in admin-groups.ts; cluster, brokers, quotas and mirroring in admin-cluster.ts. Bodies, codes and headers follow
 * IBM's Admin REST (HHHKK error codes, x-global-transaction-id echoed, no-cache headers).
 */
import { checkFilter, compileFilter, type TopicDetail } from '../../lib/server-kit';
import { type AdminArea, type Principal, mayChangeAdmin } from '../auth';
import {
  adminError,
  adminSend,
  authenticate,
  closeAfter,
  decodePathSegment,
  errorStatus,
  intParam,
  notAllowed,
  parseQuery,
  readJson,
  type RequestContext,
} from '../http';
import { DEFAULT_PER_PAGE, MAX_PARTITIONS, MAX_PER_PAGE, MAX_TOPIC_NAME, validTopicName } from '../limits';
import { withFault } from './dev';
import { clusterRoutes } from './admin-cluster';
import { groupRoutes } from './admin-groups';
import { adminFailureByStatus, settle as settleAdmin } from './admin-common';

const UPDATABLE_CONFIGS = new Set([
  'cleanup.policy',
  'retention.ms',
  'retention.bytes',
  'segment.bytes',
  'segment.ms',
  'segment.index.bytes',
]);
const NUMERIC_CONFIGS = new Set([
  'retention.ms',
  'retention.bytes',
  'segment.bytes',
  'segment.ms',
  'segment.index.bytes',
]);
const CLEANUP_POLICIES = new Set(['delete', 'compact', 'delete,compact', 'compact,delete']);
const INTEGER_RE = /^-?\d+$/;

/** A request body's count: the number when it is an integer >= 1, otherwise `undefined`. */
function optionalPositiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 ? value : undefined;
}

/**
 * Dispatches /admin/* and /alive. Faults apply to authenticated callers only (see withFault).
 * Reads (status, list, get) are open to every role; creating, updating and deleting topics needs
 * the manager role, as IBM's Manager service role: a writer key gets 403.
 */
export function routeAdmin(ctx: RequestContext): void {
  const { req, res, seg, method, deps } = ctx;
  const isGet = method === 'GET' || method === 'HEAD';
  if (seg.length === 2 && seg[1] === 'alive') {
    // Health needs no credentials (load balancers probe it) and ignores faults, so a health
    // check never consumes a fault meant for the API; it is not counted as admin traffic.
    if (!isGet) return notAllowed(ctx, 'GET, HEAD', true);
    deps.counts.other++;
    return adminSend(ctx, 200, '{}');
  }
  let handler: ((p: Principal) => void) | undefined;
  let allow = '';
  let area: AdminArea = 'topics';
  const more = groupRoutes(ctx, seg, decodePathSegment) ?? clusterRoutes(ctx, seg, decodePathSegment);
  if (more) {
    allow = more.allow;
    handler = more.handler;
    if (more.area) area = more.area;
  } else if (seg.length === 3 && seg[2] === 'status') {
    allow = 'GET';
    if (isGet) handler = () => adminSend(ctx, 200, '{"status":"available"}');
  } else if (seg.length === 3 && seg[2] === 'topics') {
    allow = 'GET, POST';
    if (isGet) handler = () => listTopics(ctx);
    else if (method === 'POST') handler = () => createTopic(ctx);
  } else if (seg.length === 4 && seg[2] === 'topics') {
    allow = 'GET, PATCH, DELETE';
    const topic = decodePathSegment(seg[3]!);
    if (isGet) handler = () => getTopic(ctx, topic);
    else if (method === 'PATCH') handler = () => updateTopic(ctx, topic);
    else if (method === 'DELETE') handler = () => deleteTopic(ctx, topic);
  } else {
    deps.counts.other++;
    return adminError(ctx, 404, 0, 'Not Found');
  }
  if (!handler) return notAllowed(ctx, allow, true);
  deps.counts.admin++;
  const run = handler;
  withFault(ctx, 'admin', 'admin', () => {
    const principal = authenticate(ctx);
    if (typeof principal === 'string') {
      closeAfter(res, req);
      return adminError(ctx, 401, 0, 'Unauthorized');
    }
    if (!isGet && !mayChangeAdmin(principal, area)) {
      closeAfter(res, req);
      return adminError(
        ctx,
        403,
        0,
        `Forbidden: this key may only produce and read; changing ${area} needs a manager key`,
      );
    }
    run(principal);
  });
}

/** The admin answer to a backend failure, mapped through errorStatus (topic '' when none applies). */
function adminFailure(ctx: RequestContext, topic: string, err: unknown): void {
  const status = errorStatus(err);
  if (status === 404) return topicNotFound(ctx, topic);
  if (status === 422) return adminError(ctx, 422, 36, `Topic '${topic}' already exists.`);
  adminFailureByStatus(ctx, status, err);
}

/** The documented admin 404 (`error_code` 40403) for a missing topic. */
function topicNotFound(ctx: RequestContext, topic: string): void {
  adminError(ctx, 404, 3, `topic '${topic}' does not exist`);
}

/** {@link settleAdmin} with this module's topic wording of a failure. */
function settle<T>(ctx: RequestContext, topic: string, op: Promise<T>, ok: (value: T) => void): void {
  settleAdmin(ctx, op, ok, (err) => adminFailure(ctx, topic, err));
}

interface ConfigEntry {
  name: string;
  value?: string;
  reset_to_default?: boolean;
}

/** A refused request body: HTTP status, the two Kafka digits of `error_code`, the message. */
interface Refusal {
  status: number;
  kafka: number;
  message: string;
}

function refuse(ctx: RequestContext, r: Refusal): void {
  adminError(ctx, r.status, r.kafka, r.message);
}

/** `retentionMs` (legacy Admin REST object form) → `retention.ms`. */
function legacyConfigName(name: string): string {
  return name.includes('.') ? name : name.replace(/[A-Z]/g, (c) => `.${c.toLowerCase()}`);
}

/** 400 for a malformed `configs`; 422 (Kafka 40, invalid config) for a well-formed but refused one. */
function configRefusal(status: 400 | 422, message: string): Refusal {
  return { status, kafka: status === 422 ? 40 : 0, message };
}

/** Parses create/update `configs` (array of {name, value} or legacy object). */
function parseConfigs(raw: unknown, allowReset: boolean): ConfigEntry[] | Refusal {
  if (raw === undefined || raw === null) return [];
  const out: ConfigEntry[] = [];
  const scalar = (v: unknown): v is string | number | boolean =>
    typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  if (Array.isArray(raw)) {
    for (const item of raw) {
      if (typeof item !== 'object' || item === null || typeof (item as ConfigEntry).name !== 'string') {
        return configRefusal(400, 'Each config must be an object with a string name');
      }
      const { name, value, reset_to_default: reset } = item as Record<string, unknown>;
      if (allowReset && reset === true) out.push({ name: name as string, reset_to_default: true });
      else if (scalar(value)) out.push({ name: name as string, value: String(value) });
      else return configRefusal(400, `Config '${String(name)}' needs a value`);
    }
  } else if (typeof raw === 'object') {
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      if (!scalar(value)) return configRefusal(400, `Config '${name}' needs a value`);
      out.push({ name: legacyConfigName(name), value: String(value) });
    }
  } else {
    return configRefusal(400, 'configs must be an array of {name, value}');
  }
  for (const c of out) {
    if (!UPDATABLE_CONFIGS.has(c.name)) return configRefusal(422, `Config '${c.name}' cannot be set`);
    if (c.value === undefined) continue;
    if (NUMERIC_CONFIGS.has(c.name) && !INTEGER_RE.test(c.value)) {
      return configRefusal(422, `Config '${c.name}' must be an integer`);
    }
    if (c.name === 'cleanup.policy' && !CLEANUP_POLICIES.has(c.value.replace(/\s+/g, ''))) {
      return configRefusal(422, `Invalid cleanup.policy '${c.value}'`);
    }
  }
  return out;
}

function createTopic(ctx: RequestContext): void {
  readJson(
    ctx,
    (body) => {
      if (typeof body.name !== 'string' || body.name === '') {
        return adminError(ctx, 400, 0, "The 'name' field is required");
      }
      const name = body.name;
      if (!validTopicName(name)) {
        return adminError(
          ctx,
          422,
          17,
          `Invalid topic name '${name}': up to ${MAX_TOPIC_NAME} characters of a-z, A-Z, 0-9, '.', '_' and '-'`,
        );
      }
      // partition_count takes precedence over the legacy partitions field.
      const rawCount = body.partition_count ?? body.partitions ?? 1;
      const partitions = optionalPositiveInt(rawCount);
      if (partitions === undefined) {
        return adminError(ctx, 400, 37, 'The partition count must be a positive integer');
      }
      if (partitions > MAX_PARTITIONS) {
        return adminError(
          ctx,
          422,
          44,
          `The partition count ${partitions} exceeds the maximum of ${MAX_PARTITIONS} partitions`,
        );
      }
      const configs = parseConfigs(body.configs, false);
      if (!Array.isArray(configs)) return refuse(ctx, configs);
      settle(
        ctx,
        name,
        ctx.deps.backend.createTopic(
          name,
          partitions,
          configs.map((c) => ({ name: c.name, value: c.value ?? '' })),
        ),
        () => adminSend(ctx, 202, '{}'),
      );
    },
    (err) => adminFailure(ctx, '', err),
  );
}

function listTopics(ctx: RequestContext): void {
  const params = parseQuery(ctx.query);
  const page = intParam(params, 'page') ?? 1;
  const perPage = intParam(params, 'per_page') ?? DEFAULT_PER_PAGE;
  if (!(page >= 1) || !(perPage >= 1) || perPage > MAX_PER_PAGE) {
    return adminError(ctx, 400, 0, `page must be >= 1 and per_page between 1 and ${MAX_PER_PAGE}`);
  }
  const filter = params.get('topic_filter');
  let matcher: ((name: string) => boolean) | undefined;
  if (filter) {
    // A glob or a `/regex/` run by RE2 in linear time (lib/glob.ts): never a backtracking RegExp.
    const problem = checkFilter(filter, 'topic_filter');
    if (problem) return adminError(ctx, 400, 0, problem);
    matcher = compileFilter(filter, 'topic_filter');
  }
  settle(ctx, '', ctx.deps.backend.listTopics(), (all) => {
    const topics = matcher ? all.filter((t) => matcher(t.name)) : all;
    const total = topics.length;
    const last = Math.max(1, Math.ceil(total / perPage));
    const items: TopicDetail[] = topics.slice((page - 1) * perPage, page * perPage);
    const link = (p: number, rel: string): string => {
      const qs = new URLSearchParams();
      if (filter) qs.set('topic_filter', filter);
      qs.set('per_page', String(perPage));
      qs.set('page', String(p));
      return `<${ctx.deps.baseUrl}/admin/topics?${qs.toString()}>; rel="${rel}"`;
    };
    const links = [link(1, 'first'), link(last, 'last')];
    if (page < last) links.push(link(page + 1, 'next'));
    if (page > 1) links.push(link(Math.min(page - 1, last), 'prev'));
    adminSend(ctx, 200, JSON.stringify(items), {
      'x-total-count': String(total),
      link: links.join(', '),
    });
  });
}

function getTopic(ctx: RequestContext, topic: string): void {
  settle(ctx, topic, ctx.deps.backend.getTopic(topic), (detail) => {
    if (!detail) return topicNotFound(ctx, topic);
    adminSend(ctx, 200, JSON.stringify(detail));
  });
}

function updateTopic(ctx: RequestContext, topic: string): void {
  const { backend } = ctx.deps;
  readJson(
    ctx,
    (body) => {
      // The whole read-validate-update chain is `op`, so a throw anywhere in it is an admin failure.
      const op = backend.getTopic(topic).then((detail) => {
        if (!detail) return topicNotFound(ctx, topic);
        let partitions: number | undefined;
        if (body.new_total_partition_count !== undefined) {
          partitions = optionalPositiveInt(body.new_total_partition_count);
          if (partitions === undefined || partitions <= detail.partitions) {
            return adminError(
              ctx,
              400,
              37,
              `The new total partition count must be an integer larger than the current ${detail.partitions}`,
            );
          }
          if (partitions > MAX_PARTITIONS) {
            return adminError(ctx, 422, 44, `The partition count exceeds the maximum of ${MAX_PARTITIONS}`);
          }
        }
        const configs = parseConfigs(body.configs, true);
        if (!Array.isArray(configs)) return refuse(ctx, configs);
        return backend
          .updateTopic(topic, {
            ...(partitions !== undefined ? { partitions } : {}),
            ...(configs.length > 0 ? { configs } : {}),
          })
          .then(() => adminSend(ctx, 202, '{}'));
      });
      settle(ctx, topic, op, () => undefined);
    },
    (err) => adminFailure(ctx, '', err),
  );
}

function deleteTopic(ctx: RequestContext, topic: string): void {
  settle(ctx, topic, ctx.deps.backend.deleteTopic(topic), (deleted) => {
    if (!deleted) return topicNotFound(ctx, topic);
    adminSend(ctx, 202, '{}');
  });
}
