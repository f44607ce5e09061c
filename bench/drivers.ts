// SPDX-License-Identifier: Apache-2.0
/**
 * Load drivers, independent of what sends: a closed loop (a fixed window of outstanding messages,
 * each completion issues the next) for maximum throughput, and an open loop (scheduled arrivals at
 * a fixed rate, latency measured from each message's intended send time) for latency without
 * coordinated omission.
 */
import { CpuWindow, Samples, type LatencySummary } from './stats';

/** Sends one message and calls `done` exactly once when it is acknowledged (or failed). */
export interface Sender {
  send(done: (err?: unknown) => void): void;
}

export interface LoopResult {
  /** Messages acknowledged inside the measuring window. */
  messages: number;
  errors: number;
  firstError?: string;
  wallSeconds: number;
  msgsPerSec: number;
  latency: LatencySummary;
  cpuPct: number | null;
  endpointCpuPct: number | null;
  brokerCpuPct?: number | null;
}

export interface ClosedOptions {
  window: number;
  warmupMs: number;
  measureMs: number;
  /** The endpoint's pid, for its CPU over the same window. */
  endpointPid?: number;
  /** A further process behind the endpoint (the Kafka broker), for its CPU. */
  brokerPid?: number;
  /** Give up when more than this many sends failed (a broken scenario should not spin). */
  maxErrors?: number;
  /** Stop waiting for unanswered messages this long after the window ends. */
  drainTimeoutMs?: number;
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 300);
  return String(err).slice(0, 300);
}

/** The other processes whose CPU a run reports: the endpoint (always first) and a broker. */
function watched(opts: { endpointPid?: number; brokerPid?: number }): number[] {
  if (!opts.endpointPid) return [];
  return opts.brokerPid ? [opts.endpointPid, opts.brokerPid] : [opts.endpointPid];
}

/** Closed loop: `window` messages always outstanding; throughput = acks in the window / its length. */
export function runClosed(sender: Sender, opts: ClosedOptions): Promise<LoopResult> {
  const maxErrors = opts.maxErrors ?? 1000;
  return new Promise((resolve) => {
    let running = true;
    let measuring = false;
    let outstanding = 0;
    let completed = 0;
    let errors = 0;
    let firstError: string | undefined;
    const latency = new Samples(1 << 16);
    let cpu: CpuWindow | undefined;
    let startCount = 0;
    let result: Omit<LoopResult, 'errors' | 'firstError'> | undefined;

    const issue = (): void => {
      outstanding++;
      const t0 = performance.now();
      let called = false;
      sender.send((err) => {
        if (called) return;
        called = true;
        outstanding--;
        if (err) {
          errors++;
          firstError ??= describe(err);
          if (errors > maxErrors) running = false;
        } else {
          completed++;
          if (measuring) latency.add(performance.now() - t0);
        }
        if (running) {
          // A failing sender may fail synchronously; never recurse on errors.
          if (err) setImmediate(issue);
          else issue();
        } else if (outstanding === 0) finish();
      });
    };

    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      resolve({
        ...(result ?? {
          messages: 0,
          wallSeconds: 0,
          msgsPerSec: 0,
          latency: latency.summary(),
          cpuPct: null,
          endpointCpuPct: null,
        }),
        errors,
        ...(firstError ? { firstError } : {}),
      });
    };

    setTimeout(() => {
      measuring = true;
      startCount = completed;
      cpu = new CpuWindow(watched(opts));
      setTimeout(() => {
        measuring = false;
        const c = cpu!.finish();
        const messages = completed - startCount;
        result = {
          messages,
          wallSeconds: c.wallSeconds,
          msgsPerSec: messages / c.wallSeconds,
          latency: latency.summary(),
          cpuPct: c.selfPct,
          endpointCpuPct: c.othersPct[0] ?? null,
          ...(opts.brokerPid ? { brokerCpuPct: c.othersPct[1] ?? null } : {}),
        };
        running = false;
        if (outstanding === 0) finish();
        // A message the sender never answers must not hang the benchmark.
        else setTimeout(finish, opts.drainTimeoutMs ?? 10_000).unref();
      }, opts.measureMs);
    }, opts.warmupMs);

    for (let i = 0; i < opts.window; i++) issue();
  });
}

export interface OpenOptions {
  rate: number;
  warmupMs: number;
  measureMs: number;
  endpointPid?: number;
  brokerPid?: number;
  /** Stop waiting for stragglers after this long past the last scheduled send. */
  drainTimeoutMs?: number;
}

export interface OpenResult extends LoopResult {
  targetRate: number;
  /** How late sends were issued relative to their schedule (timer granularity), ms. */
  sendLag: LatencySummary;
  /** Messages still unanswered when the drain timed out. */
  unanswered: number;
}

/**
 * Open loop: message i is due at t0 + i/rate whatever happened to earlier ones. Latency runs from
 * the intended time, so a stalled client or timer is charged for every message it delayed. Sends
 * are issued from a timer; Node's 1 ms timer granularity is part of the measured latency (and is
 * reported separately as the send lag).
 */
export function runOpen(sender: Sender, opts: OpenOptions): Promise<OpenResult> {
  const interval = 1000 / opts.rate;
  const total = Math.ceil(((opts.warmupMs + opts.measureMs) / 1000) * opts.rate);
  const firstMeasured = Math.ceil((opts.warmupMs / 1000) * opts.rate);
  return new Promise((resolve) => {
    const latency = new Samples(Math.max(1024, total - firstMeasured));
    const lag = new Samples(Math.max(1024, total - firstMeasured));
    let i = 0;
    let outstanding = 0;
    let measuredAcked = 0;
    let errors = 0;
    let firstError: string | undefined;
    let cpu: CpuWindow | undefined;
    let finished = false;
    let drainTimer: NodeJS.Timeout | undefined;
    const t0 = performance.now();

    const complete = (): void => {
      if (finished) return;
      finished = true;
      if (drainTimer) clearTimeout(drainTimer);
      const c = cpu ? cpu.finish() : { wallSeconds: 0, selfPct: null, othersPct: [null] };
      const wallSeconds = c.wallSeconds;
      resolve({
        messages: measuredAcked,
        errors,
        ...(firstError ? { firstError } : {}),
        wallSeconds,
        msgsPerSec: wallSeconds > 0 ? measuredAcked / wallSeconds : 0,
        latency: latency.summary(),
        cpuPct: c.selfPct,
        endpointCpuPct: c.othersPct[0] ?? null,
        ...(opts.brokerPid ? { brokerCpuPct: c.othersPct[1] ?? null } : {}),
        targetRate: opts.rate,
        sendLag: lag.summary(),
        unanswered: outstanding,
      });
    };

    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - t0) / interval) + 1);
      while (i < due) {
        const index = i++;
        const intended = t0 + index * interval;
        const measured = index >= firstMeasured;
        if (index === firstMeasured) cpu = new CpuWindow(watched(opts));
        if (measured) lag.add(now - intended);
        outstanding++;
        let called = false;
        sender.send((err) => {
          if (called) return;
          called = true;
          outstanding--;
          if (measured) {
            if (err) {
              errors++;
              firstError ??= describe(err);
            } else {
              measuredAcked++;
              latency.add(performance.now() - intended);
            }
          }
          if (i >= total && outstanding === 0) complete();
        });
      }
      if (i < total) {
        setTimeout(tick, Math.max(0, t0 + i * interval - performance.now()));
      } else if (outstanding === 0) {
        complete();
      } else {
        drainTimer = setTimeout(complete, opts.drainTimeoutMs ?? 10_000);
      }
    };
    tick();
  });
}
