// SPDX-License-Identifier: Apache-2.0
/**
 * The development routes under /local (record read-back and fault injection) and the fault logic
 * every other route family runs through: a fault is taken per request, may delay, drop the
 * connection or answer in the family's own error shape, before the route's own code runs.
 */
import { isUtf8 } from 'node:buffer';
import type { OutgoingHttpHeaders } from 'node:http';

import { type FaultAction, type RouteKind, validateFaults } from '../faults';
import {
  adminError,
  authenticate,
  closeAfter,
  decodePathSegment,
  errorStatus,
  iamError,
  intParam,
  internalError,
  parseQuery,
  readRequestBody,
  type RequestContext,
  send,
  type Shape,
  statusMessage,
  TOO_LARGE_MESSAGE,
  v1Error,
  v2CodeFor,
  v2Error,
} from '../http';
import { ADMIN_MAX_BODY, LOCAL_READ_DEFAULT_LIMIT, LOCAL_READ_MAX_LIMIT } from '../limits';
import type { StoredRecord } from '../types';

/** Messages of the documented statuses a fault can answer with. */
function faultMessage(status: number): string {
  switch (status) {
    case 408:
      return 'Request timed out producing to Kafka';
    case 429:
      return 'Too many requests';
    case 500:
      return 'Internal server error';
    case 503:
      return 'Service unavailable: Kafka brokers are not available';
    default:
      return statusMessage(status);
  }
}

/**
 * Applies any matching fault to an authenticated request, then runs `next` (unless the fault
 * answered or dropped). A request without valid credentials never meets a fault: it goes straight
 * to its route, which answers 401, so nobody without a key can consume, trigger or observe one.
 */
export function withFault(
  ctx: RequestContext,
  kind: RouteKind,
  shape: Shape,
  next: () => void,
  bearerOnly = false,
): void {
  // The fast path (no fault, no plan limit) skips the extra authentication.
  if (!ctx.deps.faults.active && (kind !== 'produce' || ctx.deps.rateLimit === undefined)) return next();
  if (typeof authenticate(ctx, bearerOnly) === 'string') return next();
  applyFault(ctx, kind, shape, next);
}

/** Applies any matching fault to a request whose caller was already authenticated. */
export function applyFault(ctx: RequestContext, kind: RouteKind, shape: Shape, next: () => void): void {
  const { deps, req, res } = ctx;
  // --rate-limit: an over-quota plan answers 429 with Retry-After before anything else.
  if (kind === 'produce' && deps.rateLimit !== undefined) {
    const retryAfterSec = deps.rateLimit.take();
    if (retryAfterSec !== undefined) {
      deps.metrics?.rateLimitHit();
      return faultAnswer(ctx, shape, { latencyMs: 0, status: 429, retryAfterSec, drop: false });
    }
  }
  const fault = deps.faults.take(kind);
  if (!fault) return next();
  const apply = (): void => {
    if (res.destroyed) return;
    if (fault.drop) {
      req.socket.destroy();
      return;
    }
    if (fault.status === undefined) return next();
    faultAnswer(ctx, shape, fault);
  };
  if (fault.latencyMs > 0) {
    const timer = setTimeout(() => {
      deps.timers.delete(timer);
      try {
        apply();
      } catch (err) {
        internalError(deps, res, err);
      }
    }, fault.latencyMs);
    deps.timers.add(timer);
  } else {
    apply();
  }
}

function faultAnswer(ctx: RequestContext, shape: Shape, fault: FaultAction): void {
  const { res } = ctx;
  const status = fault.status!;
  const headers: OutgoingHttpHeaders = {};
  if (fault.retryAfterSec !== undefined) headers['retry-after'] = String(fault.retryAfterSec);
  const message = faultMessage(status);
  switch (shape) {
    case 'v1':
      return v1Error(res, status, message, undefined, headers);
    case 'v2':
      return v2Error(
        res,
        status,
        v2CodeFor(status),
        message,
        { type: 'parameter', name: 'topic_name' },
        headers,
      );
    case 'admin':
      // 50301 "Unknown Kafka Error" is the documented Admin REST 503 body.
      return adminError(
        ctx,
        status,
        status === 503 ? 1 : 0,
        status === 503 ? 'Unknown Kafka Error' : message,
        headers,
      );
    case 'iam':
      return iamError(res, status, 'BXNIM0001E', message, headers);
  }
}

/**
 * /local/topics/{topic}/records and /local/faults: only with `dev` (`--dev`), 404 otherwise, and
 * for manager credentials only (a writer key gets 403). They are not counted and take no faults:
 * tests and the demo use them to look at and steer the endpoint.
 */
export function routeLocal(ctx: RequestContext): void {
  const { req, res, seg, method, deps } = ctx;
  // Not counted either way (requestCount excludes /local), so turning --dev on changes no count.
  if (!deps.dev) return v1Error(res, 404, 'Not Found');
  let allow = '';
  let handler: (() => void) | undefined;
  if (seg.length === 5 && seg[2] === 'topics' && seg[4] === 'records') {
    allow = 'GET';
    const topic = decodePathSegment(seg[3]!);
    if (method === 'GET') handler = () => localRecords(ctx, topic);
  } else if (seg.length === 3 && seg[2] === 'faults') {
    allow = 'GET, POST, DELETE';
    if (method === 'GET') handler = () => send(res, 200, JSON.stringify(deps.faults.list()));
    else if (method === 'POST') handler = () => postFaults(ctx);
    else if (method === 'DELETE') {
      handler = () => {
        deps.faults.clear();
        send(res, 200, '[]');
      };
    }
  } else {
    return v1Error(res, 404, 'Not Found');
  }
  if (!handler) return v1Error(res, 405, 'Method Not Allowed', undefined, { allow });
  const principal = authenticate(ctx);
  if (typeof principal === 'string') {
    closeAfter(res, req);
    return v1Error(res, 401, 'Unauthorized');
  }
  if (principal.role !== 'manager') {
    closeAfter(res, req);
    return v1Error(res, 403, 'Forbidden: the /local routes need a manager key (--api-key)');
  }
  handler();
}

function recordJson(r: StoredRecord): Record<string, unknown> {
  // Text where it is UTF-8, so a test can compare strings; base64 otherwise, flagged per field.
  const enc = (b: Buffer): [string, 'utf8' | 'base64'] =>
    isUtf8(b) ? [b.toString('utf8'), 'utf8'] : [b.toString('base64'), 'base64'];
  const [value, valueEncoding] = enc(r.value);
  const key = r.key ? enc(r.key) : null;
  return {
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: key ? key[0] : null,
    keyEncoding: key ? key[1] : null,
    value,
    valueEncoding,
    headers: r.headers.map(([name, v]) => {
      const [hv, encoding] = enc(v);
      return { name, value: hv, encoding };
    }),
  };
}

function localRecords(ctx: RequestContext, topic: string): void {
  const { res, deps } = ctx;
  const params = parseQuery(ctx.query);
  const partition = intParam(params, 'partition');
  const from = intParam(params, 'from');
  const limit = intParam(params, 'limit') ?? LOCAL_READ_DEFAULT_LIMIT;
  if (Number.isNaN(partition) || Number.isNaN(from) || !(limit >= 0) || limit > LOCAL_READ_MAX_LIMIT) {
    return v1Error(
      res,
      400,
      `partition, from and limit must be non-negative integers (limit <= ${LOCAL_READ_MAX_LIMIT})`,
    );
  }
  deps.backend
    .readRecords(topic, {
      ...(partition !== undefined ? { partition } : {}),
      ...(from !== undefined ? { from } : {}),
      limit,
    })
    .then(
      (records) => send(res, 200, JSON.stringify(records.map(recordJson))),
      (err: unknown) => {
        const status = errorStatus(err);
        if (status === 404) {
          return v1Error(res, 404, `Topic '${topic}' does not exist`, { topic, kafka_error_code: 3 });
        }
        if (status === 501) return v1Error(res, 501, (err as Error).message);
        internalError(deps, res, err);
      },
    )
    .catch((err: unknown) => internalError(deps, res, err));
}

function postFaults(ctx: RequestContext): void {
  const { res, deps } = ctx;
  readRequestBody(
    ctx,
    ADMIN_MAX_BODY,
    () => v1Error(res, 400, TOO_LARGE_MESSAGE),
    (body) => {
      try {
        const faults = validateFaults(JSON.parse(body.toString('utf8')));
        deps.faults.set(faults);
      } catch (err) {
        return v1Error(
          res,
          400,
          err instanceof SyntaxError ? 'The body is not valid JSON' : (err as Error).message,
        );
      }
      send(res, 200, JSON.stringify(deps.faults.list()));
    },
  );
}
