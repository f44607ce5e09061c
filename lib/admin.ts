// SPDX-License-Identifier: Apache-2.0
/**
 * Topic administration over IBM Event Streams' Admin REST API (`{kafka_admin_url}/admin/topics`).
 * On-prem Event Streams has no public Admin REST API; use lib/kafka-admin.ts there.
 *
 * Create, update and delete are asynchronous on the server (202): a topic may take a moment to
 * appear in list/get after creation, or to disappear after deletion.
 */
import { UnexpectedResponseError, ValidationError } from './errors';
import type { AuthProvider } from './auth';
import { headerValue } from './error-body';
import { RestCall } from './rest-call';
import { compileGlob } from './glob';
import type { RetryPolicy } from './retry';
import type { HttpMethod, HttpResponse, Transport } from './transport';
import type {
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
 * Turns a list filter into a predicate: a glob (lib/glob.ts) where `*` matches any run of
 * characters, `?` one, and the whole name must match. Anything else (including `/regex/`) is a
 * VALIDATION error: a filter can come from a msg or the editor, and must never become a regex.
 */
export function topicFilter(filter: string | undefined): ((name: string) => boolean) | undefined {
  return compileGlob(filter);
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
export class AdminRestClient implements TopicAdmin {
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
      },
    });
  }
}
