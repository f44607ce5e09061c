// SPDX-License-Identifier: Apache-2.0
/**
 * Node status helpers: a throttle that keeps status updates to at most one per interval however
 * fast messages flow (every update crosses the editor websocket), and the status key of an error
 * (which the error model decides).
 */
import type { NodeStatus } from 'node-red';

import { rootCode as modelRootCode, statusKeyOf } from '../../lib/error-model';

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

/** The code that best explains an error (decided by the error model, lib/error-model.ts). */
export function rootCode(err: unknown): string | undefined {
  return modelRootCode(err);
}

/** Short status reason (an i18n key suffix under `<type>.status.`) for an error, from the error model. */
export function statusReason(err: unknown): string {
  return statusKeyOf(err);
}

/** Anything thrown, as an Error (Node-RED's done(err) and Catch expect one). */
export function asError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string') {
    return Object.assign(new Error((err as { message: string }).message), err);
  }
  return new Error(String(err));
}
