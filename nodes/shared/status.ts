// SPDX-License-Identifier: Apache-2.0
/**
 * Node status helpers: a throttle that keeps status updates to at most one per interval however
 * fast messages flow (every update crosses the editor websocket), and the mapping from core error
 * codes to short i18n status keys.
 */
import type { NodeStatus } from 'node-red';

/**
 * Coalesces status updates: the first one goes out at once, later ones within `intervalMs` of the
 * previous are held and only the newest is shown when the interval has passed. Identical
 * consecutive statuses are dropped.
 */
export class StatusThrottle {
  private last = '';
  private lastAt = -Infinity;
  private pending: NodeStatus | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly emit: (status: NodeStatus) => void,
    private readonly intervalMs = 1000,
  ) {}

  set(status: NodeStatus): void {
    if (this.stopped) return;
    const key = JSON.stringify(status);
    if (key === this.last && this.pending === undefined) return;
    const wait = this.lastAt + this.intervalMs - Date.now();
    if (wait <= 0 && this.timer === undefined) {
      this.flush(status, key);
      return;
    }
    this.pending = status;
    if (this.timer === undefined) {
      this.timer = setTimeout(
        () => {
          this.timer = undefined;
          const next = this.pending;
          this.pending = undefined;
          if (next !== undefined && !this.stopped) {
            const nextKey = JSON.stringify(next);
            if (nextKey !== this.last) this.flush(next, nextKey);
          }
        },
        Math.max(wait, 0),
      );
    }
  }

  /** Stops all updates; `final` (e.g. `{}` to clear) is emitted once, unthrottled. */
  stop(final?: NodeStatus): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
    if (final) this.emit(final);
  }

  private flush(status: NodeStatus, key: string): void {
    this.last = key;
    this.lastAt = Date.now();
    this.emit(status);
  }
}

/** The code that best explains an error: a RetriesExhaustedError explains itself through its cause. */
export function rootCode(err: unknown): string | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; cause?: unknown };
  if (e.code === 'RETRIES_EXHAUSTED' && e.cause) return rootCode(e.cause) ?? 'RETRIES_EXHAUSTED';
  return typeof e.code === 'string' ? e.code : undefined;
}

/** Short status reason (an i18n key suffix under `<type>.status.`) for an error. */
export function statusReason(err: unknown): string {
  switch (rootCode(err)) {
    case 'AUTHENTICATION_FAILED':
      return 'auth-failed';
    case 'AUTHORIZATION_FAILED':
      return 'forbidden';
    case 'TOPIC_NOT_FOUND':
      return 'topic-not-found';
    case 'TOPIC_EXISTS':
      return 'topic-exists';
    case 'RATE_LIMITED':
      return 'throttled';
    case 'TLS_FAILED':
      return 'tls-failed';
    case 'CONNECTION_FAILED':
      return 'unreachable';
    case 'TIMEOUT':
      return 'timeout';
    case 'UNAVAILABLE':
    case 'SERVER_ERROR':
      return 'unavailable';
    case 'QUEUE_FULL':
      return 'queue-full';
    case 'CLOSED':
    case 'ABORTED':
      return 'closed';
    case 'PAYLOAD_TOO_LARGE':
    case 'KEY_TOO_LARGE':
    case 'VALUE_TOO_LARGE':
      return 'too-large';
    case 'VALIDATION':
    case 'INVALID_TOPIC':
    case 'INVALID_KEY':
    case 'INVALID_VALUE':
    case 'INVALID_HEADERS':
    case 'URI_TOO_LONG':
    case 'BAD_REQUEST':
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 'invalid';
    case 'INVALID_CONFIG':
      return 'config';
    default:
      return 'error';
  }
}

/** Anything thrown, as an Error (Node-RED's done(err) and Catch expect one). */
export function asError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string') {
    return Object.assign(new Error((err as { message: string }).message), err);
  }
  return new Error(String(err));
}
