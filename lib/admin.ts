// SPDX-License-Identifier: Apache-2.0
/**
 * Topic administration over IBM Event Streams' Admin REST API (`{kafka_admin_url}/admin/topics`).
 * On-prem Event Streams has no public Admin REST API; use lib/kafka-admin.ts there.
 *
 * Create, update and delete are asynchronous on the server (202): a topic may take a moment to
 * appear in list/get after creation, or to disappear after deletion.
 * Over 500 lines because it is all 24 Admin REST operations on one client, each a short mapping of
 * request and answer.
 */
import {
  checkBrokerId,
  checkEntityName,
  checkGroupId,
  checkMirroringIncludes,
  checkQuota,
  checkRecordsToDelete,
  checkResetOptions,
} from './cluster-admin';
import { UnexpectedResponseError, ValidationError } from './errors';
import type { AuthProvider } from './auth';
import { headerValue } from './error-body';
import { RestCall } from './rest-call';
import { compileFilter } from './glob';
import type { RetryPolicy } from './retry';
import type { HttpMethod, HttpResponse, Transport } from './transport';
import type {
  BrokerDetail,
  BrokerSummary,
  ClusterAdmin,
  ClusterInfo,
  EntityQuota,
  GroupDetail,
  InstanceStatus,
  ListGroupsOptions,
  ListGroupsResult,
  Quota,
  RecordsToDelete,
  ResetOffsetsOptions,
  ResetOffsetsResult,
  CreateTopicOptions,
  DeleteTopicResult,
  EnsureTopicResult,
  ListTopicsOptions,
  ListTopicsResult,
  TopicAdmin,
  TopicConfigEntry,
  TopicDetail,
  UpdateTopicOptions,
} from './types';
import { basePathOf, parseBaseUrl, validateTopicName } from './validate';

/** Page size used when the caller asks for all topics. */
export const DEFAULT_PER_PAGE = 100;
/** Stop following pages after this many (100,000 topics at the default page size). */
export const MAX_PAGES = 1000;

/** What an {@link AdminRestClient} runs on; `EventStreamsClient` passes its own. */
export interface AdminRestClientInit {
  /** `kafka_admin_url` (a path prefix is kept). */
  adminUrl: string;
  transport: Transport;
  auth: AuthProvider;
  retry: RetryPolicy;
  /** Close the transport in `close()` (only when the admin client owns it). Default false. */
  ownsTransport?: boolean;
}

interface CallOptions {
  op: string;
  topic?: string;
  body?: unknown;
  /** 404 means the Admin REST API itself is missing (list), not a topic. */
  notFoundIsApi?: boolean;
  /** 404 means this (a group, broker, quota entity) does not exist: a NOT_FOUND error. */
  notFound?: string;
}

function toInt(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
}

function configMap(raw: unknown): Record<string, string> | undefined {
  if (Array.isArray(raw)) {
    const out: Record<string, string> = {};
    for (const item of raw) {
      if (
        typeof item === 'object' &&
        item !== null &&
        typeof (item as { name?: unknown }).name === 'string'
      ) {
        const v = (item as { value?: unknown }).value;
        if (v !== undefined && v !== null) out[(item as { name: string }).name] = String(v);
      }
    }
    return out;
  }
  if (typeof raw === 'object' && raw !== null) {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) if (v !== undefined && v !== null) out[k] = String(v);
    return out;
  }
  return undefined;
}

/** Normalises a `topic_detail` (tolerating missing fields and snake_case variants). */
export function toTopicDetail(raw: unknown): TopicDetail | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  const name = typeof r.name === 'string' ? r.name : undefined;
  if (name === undefined) return undefined;
  const configs = configMap(r.configs);
  const assignments = Array.isArray(r.replicaAssignments) ? r.replicaAssignments : undefined;
  const detail: TopicDetail = {
    name,
    partitions: toInt(r.partitions) ?? toInt(r.partition_count) ?? assignments?.length ?? 0,
  };
  const rf = toInt(r.replicationFactor) ?? toInt(r.replication_factor);
  if (rf !== undefined) detail.replicationFactor = rf;
  const retention = toInt(r.retentionMs) ?? toInt(r.retention_ms) ?? toInt(configs?.['retention.ms']);
  if (retention !== undefined) detail.retentionMs = retention;
  const cleanup =
    typeof r.cleanupPolicy === 'string'
      ? r.cleanupPolicy
      : typeof r.cleanup_policy === 'string'
        ? r.cleanup_policy
        : configs?.['cleanup.policy'];
  if (cleanup !== undefined) detail.cleanupPolicy = cleanup;
  if (configs !== undefined) detail.configs = configs;
  if (assignments !== undefined) detail.replicaAssignments = assignments as TopicDetail['replicaAssignments'];
  return detail;
}

/** Converts configs given as an array of `{name, value}` or as a map into the array form the API takes. */
export function toConfigEntries(
  configs: TopicConfigEntry[] | Record<string, string | number> | undefined,
): TopicConfigEntry[] | undefined {
  if (configs === undefined || configs === null) return undefined;
  const out: TopicConfigEntry[] = [];
  if (Array.isArray(configs)) {
    for (const c of configs as unknown[]) {
      if (typeof c !== 'object' || c === null) {
        throw new ValidationError('Each topic config must be {name, value}.', 'VALIDATION');
      }
      const { name, value, reset_to_default: reset } = c as Record<string, unknown>;
      if (typeof name !== 'string' || name.length === 0) {
        throw new ValidationError('Each topic config needs a non-empty name.', 'VALIDATION');
      }
      const entry: TopicConfigEntry = { name };
      if (value !== undefined && value !== null) entry.value = String(value);
      if (reset === true) entry.reset_to_default = true;
      out.push(entry);
    }
  } else if (typeof configs === 'object') {
    for (const [name, value] of Object.entries(configs)) {
      if (value === undefined || value === null) continue;
      out.push({ name, value: String(value) });
    }
  } else {
    throw new ValidationError('configs must be an array of {name, value} or an object map.', 'VALIDATION');
  }
  return out;
}

function checkPartitions(n: unknown, field: string): number | undefined {
  if (n === undefined || n === null) return undefined;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new ValidationError(`${field} must be a positive integer.`, 'VALIDATION');
  }
  return n;
}

/**
 * Turns a list filter into a predicate, as IBM documents `topic_filter`: a glob (`*` any run, `?`
 * one character, whole name) or a `/regex/` matched in linear time by RE2 (lib/glob.ts). A filter
 * can come from a msg or the editor, so it never becomes a backtracking RegExp.
 */
export function topicFilter(filter: string | undefined): ((name: string) => boolean) | undefined {
  return compileFilter(filter, 'topic_filter');
}

function hasNextLink(link: string | undefined): boolean | undefined {
  if (link === undefined) return undefined;
  return /rel="?next"?/i.test(link);
}

/**
 * {@link TopicAdmin} over the Admin REST API. Every call authenticates like the producer (IAM
 * token, bearer, basic), retries retriable failures with the client's policy, and refreshes an
 * IAM token once on a 401.
 */
export class AdminRestClient implements TopicAdmin, ClusterAdmin {
  private readonly origin: string;
  private readonly basePath: string;
  private readonly transport: Transport;
  private readonly auth: AuthProvider;
  private readonly ownsTransport: boolean;
  private readonly rest: RestCall;

  constructor(init: AdminRestClientInit) {
    const url = parseBaseUrl(init.adminUrl, 'adminUrl');
    this.origin = url.origin;
    this.basePath = basePathOf(url);
    this.transport = init.transport;
    this.auth = init.auth;
    this.ownsTransport = init.ownsTransport === true;
    this.rest = new RestCall({ transport: init.transport, auth: init.auth, retry: init.retry });
  }

  /**
   * Lists topics. With `page`, returns that page only; without it, follows pages (per_page 100
   * unless given) until the Link header has no `next`, X-Total-Count is reached, a page adds
   * nothing new, or {@link MAX_PAGES} pages were read. The filter is sent as `topic_filter` and
   * also applied here, in case a server ignores it.
   */
  async listTopics(options: ListTopicsOptions = {}): Promise<ListTopicsResult> {
    const match = topicFilter(options.filter);
    const perPage = checkPartitions(options.perPage, 'perPage') ?? DEFAULT_PER_PAGE;
    const page = checkPartitions(options.page, 'page');
    const query = (p: number): string => {
      let q = `?per_page=${perPage}&page=${p}`;
      if (options.filter) q += `&topic_filter=${encodeURIComponent(options.filter)}`;
      return q;
    };
    const topics: TopicDetail[] = [];
    const seen = new Set<string>();
    let total: number | undefined;
    const first = page ?? 1;
    const last = page ?? MAX_PAGES;
    for (let p = first; p <= last; p++) {
      const res = await this.call('GET', `/admin/topics${query(p)}`, {
        op: 'List topics',
        notFoundIsApi: true,
      });
      const items = this.parseList(res);
      total = toInt(headerValue(res.headers, 'x-total-count')) ?? total;
      let added = 0;
      for (const raw of items) {
        const detail = toTopicDetail(raw);
        if (detail === undefined || seen.has(detail.name)) continue;
        seen.add(detail.name);
        added++;
        if (match === undefined || match(detail.name)) topics.push(detail);
      }
      if (page !== undefined || added === 0) break;
      if (total !== undefined && seen.size >= total) break;
      const next = hasNextLink(headerValue(res.headers, 'link'));
      if (next === false) break;
      if (next === undefined && total === undefined && items.length < perPage) break;
    }
    const out: ListTopicsResult = { topics };
    if (total !== undefined) out.total = total;
    return out;
  }

  /** One topic's details; TopicNotFoundError when it does not exist. */
  async getTopic(name: string): Promise<TopicDetail> {
    const topic = validateTopicName(name);
    const res = await this.call('GET', `/admin/topics/${topic}`, { op: `Get topic "${topic}"`, topic });
    const detail = toTopicDetail(this.json(res));
    if (detail === undefined) {
      throw new UnexpectedResponseError(`Get topic "${topic}": the response is not a topic description.`, {
        statusCode: res.statusCode,
        topic,
      });
    }
    return detail;
  }

  /** Creates a topic (202: the server finishes it asynchronously). TopicExistsError when it exists. */
  async createTopic(options: CreateTopicOptions): Promise<{ topic: string }> {
    if (typeof options !== 'object' || options === null) {
      throw new ValidationError('createTopic needs {name, partitions?, configs?}.', 'VALIDATION');
    }
    const topic = validateTopicName(options.name);
    const body: { name: string; partition_count?: number; configs?: TopicConfigEntry[] } = { name: topic };
    const partitions = checkPartitions(options.partitions, 'partitions');
    if (partitions !== undefined) body.partition_count = partitions;
    const configs = toConfigEntries(options.configs);
    if (configs !== undefined && configs.length > 0) body.configs = configs;
    await this.call('POST', '/admin/topics', { op: `Create topic "${topic}"`, topic, body });
    return { topic };
  }

  /** Creates the topic unless it exists; `created` says which. */
  async ensureTopic(options: CreateTopicOptions): Promise<EnsureTopicResult> {
    try {
      const { topic } = await this.createTopic(options);
      return { topic, created: true };
    } catch (err) {
      if ((err as { code?: unknown }).code === 'TOPIC_EXISTS') return { topic: options.name, created: false };
      throw err;
    }
  }

  /** Raises the partition count and/or changes configs (202). */
  async updateTopic(name: string, options: UpdateTopicOptions): Promise<{ topic: string }> {
    const topic = validateTopicName(name);
    const body: { new_total_partition_count?: number; configs?: TopicConfigEntry[] } = {};
    const partitions = checkPartitions(options?.partitions, 'partitions');
    if (partitions !== undefined) body.new_total_partition_count = partitions;
    const configs = toConfigEntries(options?.configs);
    if (configs !== undefined && configs.length > 0) body.configs = configs;
    if (body.new_total_partition_count === undefined && body.configs === undefined) {
      throw new ValidationError('updateTopic needs partitions or configs.', 'VALIDATION');
    }
    await this.call('PATCH', `/admin/topics/${topic}`, { op: `Update topic "${topic}"`, topic, body });
    return { topic };
  }

  /** Deletes a topic; `deleted: false` when it did not exist (404). */
  async deleteTopic(name: string): Promise<DeleteTopicResult> {
    const topic = validateTopicName(name);
    try {
      await this.call('DELETE', `/admin/topics/${topic}`, { op: `Delete topic "${topic}"`, topic });
      return { topic, deleted: true };
    } catch (err) {
      if ((err as { code?: unknown }).code === 'TOPIC_NOT_FOUND') return { topic, deleted: false };
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.ownsTransport) await this.transport.close();
  }

  // ---------------------------------------------------------------- cluster administration
  // IBM's adminrest.yaml v1.4.0: every path and body below is the spec's.

  /** `GET /admin/status`: available, degraded, offline or unknown. */
  async getStatus(): Promise<{ status: InstanceStatus }> {
    const res = await this.call('GET', '/admin/status', { op: 'Get status', notFoundIsApi: true });
    const status = (this.json(res) as { status?: unknown } | null)?.status;
    const known = ['available', 'degraded', 'offline', 'unknown'];
    return {
      status: typeof status === 'string' && known.includes(status) ? (status as InstanceStatus) : 'unknown',
    };
  }

  /**
   * `GET /admin/consumergroups`: group ids, filtered (glob or `/regex/`, sent as `group_filter`
   * and applied here too) and paged like {@link listTopics}.
   */
  async listGroups(options: ListGroupsOptions = {}): Promise<ListGroupsResult> {
    const match = compileFilter(options.filter, 'group_filter', 'any');
    const perPage = checkPartitions(options.perPage, 'perPage') ?? DEFAULT_PER_PAGE;
    const page = checkPartitions(options.page, 'page');
    const groups: string[] = [];
    const seen = new Set<string>();
    let total: number | undefined;
    for (let p = page ?? 1; p <= (page ?? MAX_PAGES); p++) {
      let q = `?per_page=${perPage}&page=${p}`;
      if (options.filter) q += `&group_filter=${encodeURIComponent(options.filter)}`;
      const res = await this.call('GET', `/admin/consumergroups${q}`, {
        op: 'List consumer groups',
        notFoundIsApi: true,
      });
      const body = this.json(res);
      if (!Array.isArray(body)) {
        throw new UnexpectedResponseError('List consumer groups: the response is not a list.', {
          statusCode: res.statusCode,
        });
      }
      total = toInt(headerValue(res.headers, 'x-total-count')) ?? total;
      let added = 0;
      for (const id of body) {
        if (typeof id !== 'string' || seen.has(id)) continue;
        seen.add(id);
        added++;
        if (!match || match(id)) groups.push(id);
      }
      if (page !== undefined || added === 0) break;
      if (total !== undefined && seen.size >= total) break;
      const next = hasNextLink(headerValue(res.headers, 'link'));
      if (next === false || (next === undefined && total === undefined && body.length < perPage)) break;
    }
    return total !== undefined ? { groups, total } : { groups };
  }

  /** `GET /admin/consumergroups/{id}`, with each partition's lag (`end_offset - current_offset`). */
  async describeGroup(groupId: string): Promise<GroupDetail> {
    const id = checkGroupId(groupId);
    const res = await this.call('GET', `/admin/consumergroups/${encodeURIComponent(id)}`, {
      op: `Describe consumer group "${id}"`,
      notFound: `consumer group "${id}" does not exist`,
    });
    const raw = (this.json(res) ?? {}) as Record<string, unknown>;
    const offsets = (Array.isArray(raw.offsets) ? raw.offsets : []).map((o: Record<string, unknown>) => {
      const current = toInt(o.current_offset) ?? -1;
      const end = toInt(o.end_offset) ?? -1;
      return {
        topic: String(o.topic),
        partition: toInt(o.partition) ?? 0,
        current_offset: current,
        end_offset: end,
        // IBM reports no log start here, so a partition without a commit counts from offset 0.
        lag: end < 0 ? 0 : Math.max(0, end - Math.max(current, 0)),
      };
    });
    return {
      group_id: typeof raw.group_id === 'string' ? raw.group_id : id,
      state: typeof raw.state === 'string' ? raw.state : 'Unknown',
      members: Array.isArray(raw.members) ? (raw.members as GroupDetail['members']) : [],
      offsets,
      lag: offsets.reduce((sum, o) => sum + o.lag, 0),
    };
  }

  /** `PATCH /admin/consumergroups/{id}`: earliest, latest or datetime; `execute:false` is a dry run. */
  async resetGroupOffsets(groupId: string, options: ResetOffsetsOptions): Promise<ResetOffsetsResult> {
    const id = checkGroupId(groupId);
    const plan = checkResetOptions(options, (t) => validateTopicName(t));
    const body: Record<string, unknown> = { mode: plan.mode, execute: plan.execute };
    if (plan.topic !== undefined) body.topic = plan.topic;
    if (plan.mode === 'datetime') body.value = new Date(plan.at!).toISOString();
    if (plan.mode === 'offset') body.value = String(plan.at);
    const res = await this.call('PATCH', `/admin/consumergroups/${encodeURIComponent(id)}`, {
      op: `Reset offsets of consumer group "${id}"`,
      notFound: `consumer group "${id}" does not exist`,
      body,
    });
    const out = this.json(res);
    return Array.isArray(out) ? (out as ResetOffsetsResult) : [];
  }

  /** `DELETE /admin/consumergroups/{id}`; `deleted: false` when it did not exist. */
  async deleteGroup(groupId: string): Promise<{ group_id: string; deleted: boolean }> {
    const id = checkGroupId(groupId);
    try {
      await this.call('DELETE', `/admin/consumergroups/${encodeURIComponent(id)}`, {
        op: `Delete consumer group "${id}"`,
        notFound: `consumer group "${id}" does not exist`,
      });
      return { group_id: id, deleted: true };
    } catch (err) {
      if ((err as { code?: unknown }).code === 'NOT_FOUND') return { group_id: id, deleted: false };
      throw err;
    }
  }

  /** `DELETE /admin/topics/{t}/records`: removes the records before each `before_offset`. */
  async deleteRecords(name: string, records: RecordsToDelete[]): Promise<{ topic: string }> {
    const topic = validateTopicName(name);
    const checked = checkRecordsToDelete(records);
    await this.call('DELETE', `/admin/topics/${topic}/records`, {
      op: `Delete records of topic "${topic}"`,
      topic,
      body: { records_to_delete: checked },
    });
    return { topic };
  }

  async getCluster(): Promise<ClusterInfo> {
    const res = await this.call('GET', '/admin/cluster', { op: 'Get cluster', notFoundIsApi: true });
    return this.json(res) as ClusterInfo;
  }

  async listBrokers(): Promise<BrokerSummary[]> {
    const res = await this.call('GET', '/admin/brokers', { op: 'List brokers', notFoundIsApi: true });
    const body = this.json(res);
    return Array.isArray(body) ? (body as BrokerSummary[]) : [];
  }

  async getBroker(id: number): Promise<BrokerDetail> {
    const b = checkBrokerId(id);
    const res = await this.call('GET', `/admin/brokers/${b}`, {
      op: `Get broker ${b}`,
      notFound: `broker ${b} does not exist`,
    });
    return this.json(res) as BrokerDetail;
  }

  /** `GET /admin/brokers/{id}/configs?config_filter&verbose`. */
  async getBrokerConfigs(
    id: number,
    options: { filter?: string; verbose?: boolean } = {},
  ): Promise<BrokerDetail> {
    const b = checkBrokerId(id);
    compileFilter(options.filter, 'config_filter', 'any');
    const q = new URLSearchParams();
    if (options.filter) q.set('config_filter', options.filter);
    if (options.verbose) q.set('verbose', 'true');
    const qs = q.toString();
    const res = await this.call('GET', `/admin/brokers/${b}/configs${qs ? `?${qs}` : ''}`, {
      op: `Get configs of broker ${b}`,
      notFound: `broker ${b} does not exist`,
    });
    return this.json(res) as BrokerDetail;
  }

  async listQuotas(): Promise<EntityQuota[]> {
    const res = await this.call('GET', '/admin/quotas', { op: 'List quotas', notFoundIsApi: true });
    const data = (this.json(res) as { data?: unknown } | null)?.data;
    return Array.isArray(data) ? (data as EntityQuota[]) : [];
  }

  async getQuota(entity: string): Promise<EntityQuota> {
    const name = checkEntityName(entity);
    const res = await this.call('GET', `/admin/quotas/${name}`, {
      op: `Get quota of "${name}"`,
      notFound: `no quota for "${name}"`,
    });
    return { entity_name: name, ...(this.json(res) as Quota) };
  }

  async createQuota(entity: string, quota: Quota): Promise<{ entity_name: string }> {
    const name = checkEntityName(entity);
    const body = checkQuota(quota);
    await this.call('POST', `/admin/quotas/${name}`, {
      op: `Create quota of "${name}"`,
      body,
      notFound: `no such entity "${name}"`,
    });
    return { entity_name: name };
  }

  async updateQuota(entity: string, quota: Quota): Promise<{ entity_name: string }> {
    const name = checkEntityName(entity);
    const body = checkQuota(quota);
    await this.call('PATCH', `/admin/quotas/${name}`, {
      op: `Update quota of "${name}"`,
      body,
      notFound: `no quota for "${name}"`,
    });
    return { entity_name: name };
  }

  async deleteQuota(entity: string): Promise<{ entity_name: string }> {
    const name = checkEntityName(entity);
    await this.call('DELETE', `/admin/quotas/${name}`, {
      op: `Delete quota of "${name}"`,
      notFound: `no quota for "${name}"`,
    });
    return { entity_name: name };
  }

  async getMirroringTopicSelection(): Promise<{ includes: string[] }> {
    const res = await this.call('GET', '/admin/mirroring/topic-selection', {
      op: 'Get mirroring topic selection',
      notFoundIsApi: true,
    });
    const includes = (this.json(res) as { includes?: unknown } | null)?.includes;
    return { includes: Array.isArray(includes) ? includes.map(String) : [] };
  }

  /** Replaces the whole selection (IBM: POST, 200 with the new selection). */
  async setMirroringTopicSelection(includes: string[]): Promise<{ includes: string[] }> {
    const checked = checkMirroringIncludes(includes);
    const res = await this.call('POST', '/admin/mirroring/topic-selection', {
      op: 'Replace mirroring topic selection',
      body: { includes: checked },
      notFoundIsApi: true,
    });
    const out = (this.json(res) as { includes?: unknown } | null)?.includes;
    return { includes: Array.isArray(out) ? out.map(String) : checked };
  }

  async getMirroringActiveTopics(): Promise<{ active_topics: string[] }> {
    const res = await this.call('GET', '/admin/mirroring/active-topics', {
      op: 'Get mirroring active topics',
      notFoundIsApi: true,
    });
    const topics = (this.json(res) as { active_topics?: unknown } | null)?.active_topics;
    return { active_topics: Array.isArray(topics) ? topics.map(String) : [] };
  }

  /** GET `path` with auth, returning any response (used by the client's connection check). */
  async probe(path: string, signal?: AbortSignal): Promise<HttpResponse> {
    const authorization = await this.auth.authorization();
    return this.transport.request(this.origin, {
      method: 'GET',
      path: `${this.basePath}${path}`,
      headers: this.headers(authorization, false),
      ...(signal !== undefined ? { signal } : {}),
    });
  }

  private headers(authorization: string | undefined, withBody: boolean): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json', 'user-agent': this.transport.userAgent };
    if (withBody) h['content-type'] = 'application/json';
    if (authorization !== undefined) h.authorization = authorization;
    return h;
  }

  private parseList(res: HttpResponse): unknown[] {
    const body = this.json(res);
    if (Array.isArray(body)) return body;
    if (typeof body === 'object' && body !== null) {
      for (const key of ['topics', 'data', 'items']) {
        const v = (body as Record<string, unknown>)[key];
        if (Array.isArray(v)) return v;
      }
    }
    throw new UnexpectedResponseError('List topics: the response is not a list of topics.', {
      statusCode: res.statusCode,
    });
  }

  private json(res: HttpResponse): unknown {
    try {
      return JSON.parse(res.text);
    } catch {
      throw new UnexpectedResponseError(
        `The Admin REST API answered HTTP ${res.statusCode} with a body that is not JSON.`,
        {
          statusCode: res.statusCode,
        },
      );
    }
  }

  private call(method: HttpMethod, path: string, options: CallOptions): Promise<HttpResponse> {
    return this.rest.call(this.origin, {
      method,
      path: `${this.basePath}${path}`,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      error: {
        api: 'admin',
        operation: options.op,
        baseUrl: `${this.origin}${this.basePath}`,
        ...(options.topic !== undefined ? { topic: options.topic } : {}),
        ...(options.notFoundIsApi ? { notFoundIsApi: true } : {}),
        ...(options.notFound !== undefined ? { notFound: options.notFound } : {}),
      },
    });
  }
}
