// SPDX-License-Identifier: Apache-2.0
/**
 * Root hook (loaded by .mocharc.json): the run must end by itself. Mocha's `exit: true` used to
 * kill the process after the last test, which hid sockets, servers, timers and child processes
 * that a suite left open. Now, once every suite's `after` hook has run, a watchdog that does not
 * itself keep the process alive waits a few seconds; if the process is still there, it prints
 * what keeps it alive and fails the run. A pending timer alone (no socket, server or child) is
 * reported and the run ends with mocha's code: it holds nothing, and the results are final.
 *
 * Timers are not among the handles Node lists, so a leaked one would show only as the word
 * `Timeout`. With ESNODES_TIMER_STACKS=1 an async hook records where each timer was made and the
 * report prints that stack for each timer still pending: the leak names its source. It is opt-in
 * because any enabled init hook turns on promise hooks, which make every await several times
 * slower: the whole suite and its timing-sensitive tests would run under a handicap.
 */
import { createHook } from 'node:async_hooks';
import type { Socket } from 'node:net';

import { prepareKafkajs } from '../../lib/kafkajs';

// Test files import kafkajs directly; in Node-RED the core loads it first (lib/kafkajs.ts), with
// its one-pass grouping. The tests run the product's kafkajs.
prepareKafkajs();

/** Time for closing sockets and unref'd work to wind down before it counts as a leak. */
const GRACE_MS = 5000;

interface TimerRecord {
  timer: { _destroyed?: boolean; hasRef?(): boolean; _idleTimeout?: number; _onTimeout?: unknown };
  made: { stack?: string };
}

/** Timers made since this module loaded and not yet known to be over (fired or cleared). */
const timers = new Set<TimerRecord>();
let madeSincePrune = 0;

const TRACK_TIMERS = process.env.ESNODES_TIMER_STACKS === '1';

const timerHook = createHook({
  init(_id, type, _trigger, resource) {
    if (type !== 'Timeout') return;
    const made: { stack?: string } = {};
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 24;
    Error.captureStackTrace(made);
    Error.stackTraceLimit = limit;
    timers.add({ timer: resource as TimerRecord['timer'], made });
    // No destroy hook (that would track every promise too): drop finished timers now and then.
    if (++madeSincePrune >= 10_000) {
      madeSincePrune = 0;
      for (const r of timers) if (r.timer._destroyed) timers.delete(r);
    }
  },
});
if (TRACK_TIMERS) timerHook.enable();

/** Where each still-pending timer (other than `except`) was made. */
export function pendingTimers(except?: unknown): string[] {
  const out: string[] = [];
  for (const r of timers) {
    if (r.timer._destroyed || r.timer === except) continue;
    const ref = r.timer.hasRef?.() === false ? 'unref' : 'ref';
    const frames = (r.made.stack ?? '')
      .split('\n')
      .slice(1)
      .map((line) => line.trim())
      .filter((line) => !/node:internal\/(async_hooks|timers)|node:timers|root-hooks/.test(line))
      .slice(0, 12);
    out.push(
      `Timeout ${r.timer._idleTimeout ?? '?'} ms (${ref}), made\n            ${frames.join('\n            ')}`,
    );
  }
  return out;
}

function describe(handle: unknown): string {
  const h = handle as Record<string, any>;
  const kind = h?.constructor?.name ?? typeof handle;
  if (kind === 'Socket' || kind === 'TLSSocket') {
    const s = handle as Socket;
    if (s.remotePort) return `${kind} ${s.localAddress}:${s.localPort} → ${s.remoteAddress}:${s.remotePort}`;
    if ((h as { fd?: number }).fd !== undefined) return `${kind} fd ${(h as { fd?: number }).fd}`;
    return `${kind} (unconnected)`;
  }
  if (kind === 'Server' && typeof h.address === 'function')
    return `${kind} listening on ${JSON.stringify(h.address())}`;
  if (kind === 'ChildProcess') return `${kind} pid ${h.pid} ${h.spawnfile ?? ''}`;
  if (kind === 'Timeout' || kind === 'Immediate')
    return `${kind} ${h._idleTimeout ?? ''} ms ${h._onTimeout?.name ?? ''}`;
  return kind;
}

/** What keeps the event loop busy, apart from this process's own stdio. */
export function activeHandles(): string[] {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles
    .filter((h) => h !== process.stdout && h !== process.stderr && h !== process.stdin)
    .map(describe);
}

export const mochaHooks = {
  afterAll(): void {
    const watchdog = setTimeout(() => {
      const left = activeHandles();
      const resources = process.getActiveResourcesInfo();
      const pending = pendingTimers(watchdog);
      const report =
        `  handles: ${left.length ? left.join('\n           ') : '(none listed)'}\n` +
        `  resources: ${resources.join(', ')}\n` +
        `  timers: ${pending.length ? pending.join('\n          ') : TRACK_TIMERS ? '(none recorded)' : '(run with ESNODES_TIMER_STACKS=1 to see where each was made)'}`;
      // PipeWrap/TTYWrap with no handle listed are this process's own stdio (a piped stdout).
      const ownOrTimer = new Set(['Timeout', 'Immediate', 'PipeWrap', 'TTYWrap']);
      if (left.length === 0 && resources.every((r) => ownOrTimer.has(r))) {
        // Only timers: nothing holds a port, a file or a process, and the results are final. It
        // is reported (a timer a suite forgot to clear) and the run ends with mocha's own code.
        console.error(`\nA timer was still pending ${GRACE_MS} ms after the last test:\n${report}`);
        process.exit();
      }
      console.error(
        `\nThe test run did not end by itself ${GRACE_MS} ms after the last test. Still open:\n${report}`,
      );
      // Mocha's own exit listener sets the exit code to the failure count; this one runs after it.
      process.on('exit', () => {
        process.exitCode = 1;
      });
      process.exit(1);
    }, GRACE_MS);
    watchdog.unref();
  },
};
