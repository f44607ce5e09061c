// SPDX-License-Identifier: Apache-2.0
/**
 * What the admin route modules share (admin.ts, admin-groups.ts, admin-cluster.ts): turning a
 * backend outcome or a refused input into the Admin REST answer, and the paging headers of a list.
 */
import { isEventStreamsError } from '../../lib/server-kit';
import { type RequestContext, adminError, adminSend, errorStatus, internalError } from '../http';
import type { Principal } from '../auth';

/** A route's handler for one method, run after authentication and the role check. */
export type AdminHandler = (principal: Principal) => void;

/** A matched admin path: the methods it allows, the handler for this request's method (if any). */
export interface AdminRoute {
  allow: string;
  handler?: AdminHandler;
  /** The area a non-GET request changes (checked against the principal's role). */
  area?: 'groups' | 'records' | 'quotas' | 'mirroring';
}

/**
 * The admin answer to a failure. Input refused before the backend ran is the route's own 400;
 * here a VALIDATION error from the backend is semantic (a group with members, an offset past the
 * end): 422, as the spec's "semantically invalid".
 */
export function adminFailure(ctx: RequestContext, err: unknown): void {
  if (isEventStreamsError(err)) {
    switch (err.code) {
      case 'NOT_FOUND':
        return adminError(ctx, 404, 0, err.message);
      case 'TOPIC_NOT_FOUND':
        return adminError(ctx, 404, 3, err.message);
      case 'VALIDATION':
        return adminError(ctx, 422, 0, err.message);
      case 'UNSUPPORTED':
        return adminError(ctx, 501, 0, err.message);
      default:
    }
  }
  adminFailureByStatus(ctx, errorStatus(err), err);
}

/**
 * The admin answer to a failure by its HTTP status, for the statuses a route does not word itself:
 * a 500 is logged and answered without its message (it may name internals), a 503 is Kafka's.
 */
export function adminFailureByStatus(ctx: RequestContext, status: number, err: unknown): void {
  if (status === 500) {
    ctx.deps.log(
      `local endpoint: admin operation failed: ${err instanceof Error ? err.message : String(err)}`,
    );
    return adminError(ctx, 500, 0, 'Internal server error');
  }
  if (status === 503) return adminError(ctx, 503, 1, 'Unknown Kafka Error');
  adminError(ctx, status, 0, (err as Error).message);
}

/**
 * Runs an input check of lib/cluster-admin.ts before the backend is asked: its value, or undefined
 * once its refusal was answered (400 with the check's own words, the client's; anything else it
 * throws is answered like a backend failure).
 */
export function checkInput<T>(ctx: RequestContext, check: () => T): T | undefined {
  try {
    return check();
  } catch (err) {
    badInput(ctx, err);
    return undefined;
  }
}

/** A refused input (a lib/cluster-admin.ts check): 400 with its message. */
export function badInput(ctx: RequestContext, err: unknown): void {
  if (isEventStreamsError(err) && err.code === 'VALIDATION') return adminError(ctx, 400, 0, err.message);
  adminFailure(ctx, err);
}

/**
 * Every admin operation ends the same way: `op`'s value goes to `ok`, its rejection to `failed`
 * ({@link adminFailure} unless the route words its own), a throw from either to a 500.
 */
export function settle<T>(
  ctx: RequestContext,
  op: Promise<T>,
  ok: (value: T) => void,
  failed: (err: unknown) => void = (err) => adminFailure(ctx, err),
): void {
  op.then(ok, failed).catch((err: unknown) => internalError(ctx.deps, ctx.res, err));
}

/** A JSON 200 (or `status`) admin answer. */
export function sendJson(ctx: RequestContext, value: unknown, status = 200): void {
  adminSend(ctx, status, JSON.stringify(value));
}

/**
 * X-Total-Count and the four Link relations (first, last, next, prev) of one page of a list at
 * `path`, carrying the list's other query parameters.
 */
export function pagingHeaders(
  ctx: RequestContext,
  path: string,
  params: Record<string, string | undefined>,
  page: number,
  perPage: number,
  total: number,
): Record<string, string> {
  const last = Math.max(1, Math.ceil(total / perPage));
  const link = (p: number, rel: string): string => {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) qs.set(k, v);
    qs.set('per_page', String(perPage));
    qs.set('page', String(p));
    return `<${ctx.deps.baseUrl}${path}?${qs.toString()}>; rel="${rel}"`;
  };
  const links = [link(1, 'first'), link(last, 'last')];
  if (page < last) links.push(link(page + 1, 'next'));
  if (page > 1) links.push(link(Math.min(page - 1, last), 'prev'));
  return { 'x-total-count': String(total), link: links.join(', ') };
}
