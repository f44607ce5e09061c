// SPDX-License-Identifier: Apache-2.0
/**
 * Input rules of the cluster administration operations (consumer groups, records, brokers, quotas,
 * mirroring), shared by the Admin REST client (lib/admin.ts), the Kafka-protocol admin
 * (lib/kafka-cluster.ts) and the local endpoint's routes, so every path refuses the same input
 * with the same VALIDATION error before anything goes on the wire.
 */
import { ValidationError } from './errors';
import { checkFilter } from './glob';
import type { Quota, RecordsToDelete, ResetOffsetsOptions } from './types';

/** Longest accepted consumer group id (Kafka has no limit; this keeps paths and logs bounded). */
export const MAX_GROUP_ID = 255;
/** Most patterns in a mirroring topic selection. */
export const MAX_MIRRORING_PATTERNS = 100;
/** Most partitions in one delete-records request. */
export const MAX_RECORDS_TO_DELETE = 10_000;

const ENTITY_RE = /^[A-Za-z0-9._-]{1,255}$/;
const INTEGER_RE = /^\d{1,16}$/;
/** ISO 8601 date-time as IBM's `datetime` mode takes it, with an optional zone (default UTC). */
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?$/;

function fail(message: string): never {
  throw new ValidationError(message, 'VALIDATION');
}

/** A consumer group id: 1–255 characters, no control characters. */
export function checkGroupId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0) fail('The consumer group id must be a non-empty string');
  if (id.length > MAX_GROUP_ID) fail(`The consumer group id is longer than ${MAX_GROUP_ID} characters`);
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 32 || c === 127) fail('The consumer group id contains a control character');
  }
  return id;
}

/** A quota entity: `default` or an IAM service id (`iam-ServiceId-…`); letters, digits, `._-`. */
export function checkEntityName(entity: unknown): string {
  if (typeof entity !== 'string' || !ENTITY_RE.test(entity)) {
    fail("The quota entity must be 'default' or a service id of letters, digits, '.', '_' and '-'");
  }
  return entity;
}

/** A broker id: a non-negative integer (a numeric string is accepted). */
export function checkBrokerId(id: unknown): number {
  const n = typeof id === 'string' && INTEGER_RE.test(id.trim()) ? Number(id.trim()) : id;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    fail('The broker id must be a non-negative integer');
  }
  return n;
}

function byteRate(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    fail(`${field} must be a positive integer (bytes per second)`);
  }
  return value;
}

/** `producer_byte_rate` and/or `consumer_byte_rate`, positive integers; at least one. */
export function checkQuota(quota: unknown): Quota {
  if (typeof quota !== 'object' || quota === null || Array.isArray(quota)) {
    fail('A quota must be an object {producer_byte_rate?, consumer_byte_rate?}');
  }
  const q = quota as Record<string, unknown>;
  const out: Quota = {};
  const p = byteRate(q.producer_byte_rate, 'producer_byte_rate');
  const c = byteRate(q.consumer_byte_rate, 'consumer_byte_rate');
  if (p !== undefined) out.producer_byte_rate = p;
  if (c !== undefined) out.consumer_byte_rate = c;
  if (p === undefined && c === undefined) fail('A quota needs producer_byte_rate or consumer_byte_rate');
  return out;
}

/** Epoch milliseconds of a `datetime` reset value: ISO 8601 (UTC unless a zone is given) or epoch ms. */
export function parseDatetime(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const v = value.trim();
    if (INTEGER_RE.test(v)) return Number(v);
    if (DATETIME_RE.test(v)) {
      const zoned = /(?:Z|[+-]\d{2}:?\d{2})$/.test(v) ? v : `${v}Z`;
      const ms = Date.parse(zoned);
      if (Number.isFinite(ms)) return ms;
    }
  }
  return fail("mode 'datetime' needs value as an ISO 8601 time (e.g. 2026-01-31T12:00:00Z) or epoch ms");
}

/** A normalised reset request: `at` is epoch ms (datetime) or the offset (offset). */
export interface ResetPlan {
  topic?: string;
  mode: ResetOffsetsOptions['mode'];
  at?: number;
  execute: boolean;
}

const MODES = new Set(['earliest', 'latest', 'datetime', 'offset']);

/** Checks IBM's `group_reset_request` (plus mode `offset`). `execute` defaults to false: a dry run. */
export function checkResetOptions(options: unknown, topicCheck: (t: unknown) => string): ResetPlan {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    fail('A reset needs {mode, topic?, value?, execute?}');
  }
  const o = options as Record<string, unknown>;
  const mode = typeof o.mode === 'string' ? o.mode.trim().toLowerCase() : o.mode;
  if (typeof mode !== 'string' || !MODES.has(mode)) {
    fail("mode must be 'earliest', 'latest', 'datetime' or 'offset'");
  }
  if (o.execute !== undefined && typeof o.execute !== 'boolean') fail('execute must be true or false');
  const plan: ResetPlan = { mode: mode as ResetPlan['mode'], execute: o.execute === true };
  if (o.topic !== undefined && o.topic !== null && o.topic !== '') plan.topic = topicCheck(o.topic);
  if (mode === 'datetime') plan.at = parseDatetime(o.value);
  if (mode === 'offset') {
    const v = typeof o.value === 'string' && INTEGER_RE.test(o.value.trim()) ? Number(o.value) : o.value;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      fail("mode 'offset' needs value as a non-negative integer offset");
    }
    plan.at = v;
  }
  return plan;
}

/** IBM's `records_to_delete`: a non-empty array of `{partition, before_offset}`, one per partition. */
export function checkRecordsToDelete(records: unknown): RecordsToDelete[] {
  if (!Array.isArray(records) || records.length === 0) {
    fail('records_to_delete must be a non-empty array of {partition, before_offset}');
  }
  if (records.length > MAX_RECORDS_TO_DELETE) fail(`At most ${MAX_RECORDS_TO_DELETE} partitions per request`);
  const seen = new Set<number>();
  return records.map((r: unknown) => {
    const e = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>;
    const { partition, before_offset: before } = e;
    if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0) {
      fail('Each records_to_delete entry needs partition, a non-negative integer');
    }
    if (typeof before !== 'number' || !Number.isSafeInteger(before) || before < 0) {
      fail('Each records_to_delete entry needs before_offset, a non-negative integer');
    }
    if (seen.has(partition)) fail(`Partition ${partition} is given twice in records_to_delete`);
    seen.add(partition);
    return { partition, before_offset: before };
  });
}

/** Mirroring topic selection patterns (regular expressions in RE2 syntax, as IBM's `^prefix_.*`). */
export function checkMirroringIncludes(includes: unknown): string[] {
  if (!Array.isArray(includes)) fail('includes must be an array of topic patterns');
  if (includes.length > MAX_MIRRORING_PATTERNS) fail(`At most ${MAX_MIRRORING_PATTERNS} patterns`);
  return includes.map((p: unknown) => {
    if (typeof p !== 'string' || p.length === 0) fail('Each mirroring pattern must be a non-empty string');
    // Checked as the `/regex/` form so the same RE2 rules and length cap apply.
    const problem = checkFilter(`/${p}/`, 'A mirroring pattern', 'any');
    if (problem) fail(problem);
    return p;
  });
}

/**
 * Lag of one partition: `end - committed`. With nothing committed (-1) the group would start at
 * the log start under `auto.offset.reset=earliest`, so the lag is the records still held
 * (`end - low`); a committed offset below the log start (records deleted) counts from the log start.
 */
export function lagOf(current: number, end: number, low: number): number {
  const from = current < 0 ? low : Math.max(current, low);
  return Math.max(0, end - from);
}

/** One page of `items` (1-based), as Admin REST pages lists. */
export function pageOf<T>(items: T[], page: number | undefined, perPage: number | undefined): T[] {
  if (page === undefined) return items;
  const size = perPage ?? 100;
  return items.slice((page - 1) * size, page * size);
}
