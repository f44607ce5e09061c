// SPDX-License-Identifier: Apache-2.0
/**
 * The one way tests wait: poll a condition against a deadline instead of sleeping for a guessed
 * time. A test that sleeps and then asserts fails on a busy machine (or, worse, passes because
 * nothing had happened yet); one that polls a condition does neither.
 */

export interface WaitOptions {
  /** How long before giving up. Generous on purpose: it only decides how long a failing test takes. */
  timeoutMs?: number;
  /** Pause between checks. Raise it for checks that cost a request (HTTP, Kafka, the browser). */
  intervalMs?: number;
}

/**
 * Resolves once `check()` is (or resolves to) true, polling every `intervalMs`; rejects naming
 * `what` when `timeoutMs` passes first. A check that throws fails the wait at once.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  { timeoutMs = 10_000, intervalMs = 10 }: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(intervalMs);
  }
}

/**
 * A plain pause, for pacing what a test sends (a steady rate, a gap between two bursts), never for
 * waiting on an outcome: wait for outcomes with `waitFor`.
 */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
