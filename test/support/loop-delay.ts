// SPDX-License-Identifier: Apache-2.0
/**
 * How long this process's own work holds the event loop, measured so that a shared machine does
 * not count. A timer that should fire every `intervalMs` fires late both when code holds the loop
 * and when the process waits for a core (two busy neighbours on 2 cores: tens of ms at a time,
 * whatever the code does). Per tick, `held` is the lateness, but no more than the CPU time the
 * process used meanwhile: waiting for a core uses none, so it is left out; a synchronous stretch
 * of our own uses CPU for its whole length, so it counts in full. The CPU time is the whole
 * process's (libuv's pool and the GC's helper threads too), so `held` can only over-count, never
 * hide a stretch. `late` is the plain lateness (what perf_hooks.monitorEventLoopDelay reports),
 * for the log.
 */
import { performance } from 'node:perf_hooks';

import { percentile } from '../../bench/stats';

export interface LoopDelay {
  /** p99 of the lateness bounded by the CPU used (ms). */
  heldP99: number;
  /** p99 and max of the plain lateness (ms). */
  lateP99: number;
  lateMax: number;
  samples: number;
}

export class LoopDelaySampler {
  private readonly late: number[] = [];
  private readonly held: number[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = 10) {}

  start(): void {
    let last = performance.now();
    let cpu = process.cpuUsage();
    const tick = (): void => {
      const now = performance.now();
      const used = process.cpuUsage(cpu);
      const late = Math.max(0, now - last - this.intervalMs);
      this.late.push(late);
      this.held.push(Math.min(late, (used.user + used.system) / 1000));
      last = now;
      cpu = process.cpuUsage();
      this.timer = setTimeout(tick, this.intervalMs);
    };
    this.timer = setTimeout(tick, this.intervalMs);
  }

  stop(): LoopDelay {
    clearTimeout(this.timer);
    this.timer = undefined;
    return {
      heldP99: p99(this.held),
      lateP99: p99(this.late),
      lateMax: this.late.reduce((a, b) => Math.max(a, b), 0),
      samples: this.late.length,
    };
  }
}

function p99(xs: number[]): number {
  return (
    percentile(
      [...xs].sort((a, b) => a - b),
      99,
    ) ?? 0
  );
}
