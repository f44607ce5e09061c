// SPDX-License-Identifier: Apache-2.0
/**
 * Small measuring helpers shared by the benchmark processes: latency samples with exact
 * percentiles, CPU of this process and of other processes, and number formatting.
 */
import { readFileSync } from 'node:fs';

/**
 * Latency samples in milliseconds. Every sample is kept (a few hundred thousand doubles at most per
 * run), so percentiles are exact rather than bucketed.
 */
export class Samples {
  private data: Float64Array;
  private n = 0;

  constructor(initialCapacity = 1024) {
    this.data = new Float64Array(Math.max(16, initialCapacity));
  }

  add(value: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.n++] = value;
  }

  get count(): number {
    return this.n;
  }

  /** Sorted copy of the samples. */
  sorted(): Float64Array {
    return this.data.slice(0, this.n).sort();
  }

  summary(): LatencySummary {
    return summarize(this.sorted());
  }
}

export interface LatencySummary {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
  mean: number | null;
}

/**
 * Nearest-rank percentile of an ascending array: the smallest value with at least p% of the
 * samples at or below it. `null` for no samples.
 */
export function percentile(sortedAscending: ArrayLike<number>, p: number): number | null {
  const n = sortedAscending.length;
  if (n === 0) return null;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  // The epsilon keeps float error (0.999 * 10000 = 9990.000000000002) from skipping a rank.
  const rank = Math.max(1, Math.ceil((p / 100) * n - 1e-9));
  return sortedAscending[Math.min(n, rank) - 1]!;
}

export function summarize(sortedAscending: ArrayLike<number>): LatencySummary {
  const n = sortedAscending.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sortedAscending[i]!;
  return {
    count: n,
    p50: percentile(sortedAscending, 50),
    p90: percentile(sortedAscending, 90),
    p99: percentile(sortedAscending, 99),
    p999: percentile(sortedAscending, 99.9),
    max: n ? sortedAscending[n - 1]! : null,
    mean: n ? sum / n : null,
  };
}

/** Clock ticks per second of /proc/<pid>/stat; 100 on every mainstream Linux build (USER_HZ). */
const CLK_TCK = 100;

/** User+system CPU seconds a process has used so far, from /proc; null where /proc is absent. */
export function procCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses; fields are counted after it.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
    return (utime + stime) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Own CPU seconds (user+system, all threads) via process.cpuUsage. */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** CPU share in percent of one core over a wall-clock interval. */
export function cpuPercent(cpuSeconds: number | null, wallSeconds: number): number | null {
  if (cpuSeconds === null || !(wallSeconds > 0)) return null;
  return (cpuSeconds / wallSeconds) * 100;
}

/** Watches the CPU of this process and, optionally, of other processes over one interval. */
export class CpuWindow {
  private readonly start: number;
  private readonly selfStart: number;
  private readonly othersStart: Array<number | null>;

  constructor(private readonly otherPids: number[] = []) {
    this.start = performance.now();
    this.selfStart = selfCpuSeconds();
    this.othersStart = otherPids.map(procCpuSeconds);
  }

  /** Percent of one core used by this process and by each other process since construction. */
  finish(): { wallSeconds: number; selfPct: number | null; othersPct: Array<number | null> } {
    const wallSeconds = (performance.now() - this.start) / 1000;
    const selfPct = cpuPercent(selfCpuSeconds() - this.selfStart, wallSeconds);
    const othersPct = this.otherPids.map((pid, i) => {
      const before = this.othersStart[i];
      const after = procCpuSeconds(pid);
      return before === null || before === undefined || after === null
        ? null
        : cpuPercent(after - before, wallSeconds);
    });
    return { wallSeconds, selfPct, othersPct };
  }
}

/** Formats a number for the table: thousands separators for large ones, 2-3 significant digits else. */
export function fmt(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 100) return value.toFixed(0);
  return value.toFixed(digits);
}

export function round(value: number | null | undefined, digits = 3): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
