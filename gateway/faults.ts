// SPDX-License-Identifier: Apache-2.0
/**
 * Fault injection for the local endpoint: latency, 429 with Retry-After, any error status, or a
 * dropped connection, for the next N matching requests or a fraction of them. Off unless asked.
 *
 * Faults apply to the API routes only (produce v1/v2, admin incl. /admin/status, IAM) and only to
 * requests with valid credentials (routes/dev.ts withFault), so an anonymous caller can neither
 * trigger nor use one up; `/alive` and the `/local/*` control routes are never faulted, so a test
 * can always clear its faults and a health probe never consumes a fault meant for the API. Every
 * parameter is bounded (latency at most a minute).
 */
import { ValidationError } from '../lib/server-kit';
import type { FaultSpec } from './types';

export type RouteKind = 'produce' | 'admin' | 'iam';

/** What to do with one request; merged from every fault that matched it. */
export interface FaultAction {
  latencyMs: number;
  /** 429 (with retryAfterSec) or another status; undefined means answer normally. */
  status?: number;
  retryAfterSec?: number;
  drop: boolean;
}

interface ActiveFault {
  spec: FaultSpec;
  remaining: number;
}

const ROUTES = new Set(['produce', 'admin', 'iam', 'all']);
const KEYS = new Set([
  'latencyMs',
  'status429RetryAfterSec',
  'status',
  'dropConnection',
  'count',
  'fraction',
  'route',
]);

/** Bounds of fault parameters: a fault may slow the endpoint down, never park it indefinitely. */
export const MAX_FAULT_LATENCY_MS = 60_000;
export const MAX_FAULT_RETRY_AFTER_SEC = 3600;
export const MAX_FAULT_COUNT = 1_000_000;
export const MAX_FAULTS = 100;

function nonNegative(value: unknown, name: string, max: number): void {
  if (
    value !== undefined &&
    (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max)
  ) {
    throw new ValidationError(`Fault ${name} must be a number from 0 to ${max}`);
  }
}

/** Checks an untrusted fault list (CLI flag, `POST /local/faults`) and returns it typed. */
export function validateFaults(input: unknown): FaultSpec[] {
  const list = Array.isArray(input) ? input : [input];
  if (list.length > MAX_FAULTS) throw new ValidationError(`At most ${MAX_FAULTS} faults at a time`);
  return list.map((item): FaultSpec => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new ValidationError('A fault must be a JSON object');
    }
    const f = item as Record<string, unknown>;
    for (const k of Object.keys(f)) if (!KEYS.has(k)) throw new ValidationError(`Unknown fault field '${k}'`);
    nonNegative(f.latencyMs, 'latencyMs', MAX_FAULT_LATENCY_MS);
    nonNegative(f.status429RetryAfterSec, 'status429RetryAfterSec', MAX_FAULT_RETRY_AFTER_SEC);
    nonNegative(f.count, 'count', MAX_FAULT_COUNT);
    if (f.count !== undefined && !Number.isInteger(f.count))
      throw new ValidationError('Fault count must be an integer');
    if (
      f.fraction !== undefined &&
      (typeof f.fraction !== 'number' || !(f.fraction >= 0 && f.fraction <= 1))
    ) {
      throw new ValidationError('Fault fraction must be between 0 and 1');
    }
    if (
      f.status !== undefined &&
      (!Number.isInteger(f.status) || (f.status as number) < 100 || (f.status as number) > 599)
    ) {
      throw new ValidationError('Fault status must be an HTTP status code');
    }
    if (f.dropConnection !== undefined && typeof f.dropConnection !== 'boolean') {
      throw new ValidationError('Fault dropConnection must be a boolean');
    }
    if (f.route !== undefined && !ROUTES.has(f.route as string)) {
      throw new ValidationError("Fault route must be 'produce', 'admin', 'iam' or 'all'");
    }
    return f as FaultSpec;
  });
}

/**
 * The active faults. A fault with `count` applies to that many matching requests and then
 * removes itself; one with `fraction` applies at random to that share of them; one with neither
 * applies to every matching request until cleared.
 */
export class FaultInjector {
  private faults: ActiveFault[] = [];
  private readonly random: () => number;

  constructor(random: () => number = Math.random) {
    this.random = random;
  }

  set(faults: FaultSpec[]): void {
    this.faults = validateFaults(faults).map((spec) => ({ spec, remaining: spec.count ?? Infinity }));
  }

  clear(): void {
    this.faults = [];
  }

  /** Whether any fault is set (the common case is none: then requests skip fault handling). */
  get active(): boolean {
    return this.faults.length > 0;
  }

  list(): FaultSpec[] {
    return this.faults.map((f) =>
      f.spec.count !== undefined ? { ...f.spec, count: f.remaining } : { ...f.spec },
    );
  }

  /** The fault to apply to a request of this kind, or undefined (the common, fast case). */
  take(route: RouteKind): FaultAction | undefined {
    if (this.faults.length === 0) return undefined;
    let action: FaultAction | undefined;
    for (const f of this.faults) {
      const r = f.spec.route ?? 'produce';
      if (r !== 'all' && r !== route) continue;
      if (f.remaining <= 0) continue;
      if (f.spec.fraction !== undefined && this.random() >= f.spec.fraction) continue;
      f.remaining--;
      action ??= { latencyMs: 0, drop: false };
      action.latencyMs += f.spec.latencyMs ?? 0;
      if (action.status === undefined && !action.drop) {
        if (f.spec.dropConnection) action.drop = true;
        else if (f.spec.status429RetryAfterSec !== undefined) {
          action.status = 429;
          action.retryAfterSec = f.spec.status429RetryAfterSec;
        } else if (f.spec.status !== undefined) action.status = f.spec.status;
      }
    }
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return action;
  }
}
