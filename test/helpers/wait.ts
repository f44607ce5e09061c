// SPDX-License-Identifier: Apache-2.0
/**
 * Waiting for a condition instead of sleeping for a guessed time: a test that sleeps and then
 * asserts fails on a busy machine, one that polls a condition against a deadline does not.
 */

/**
 * Resolves once `check()` is true, polling every `intervalMs`; rejects naming `what` when
 * `timeoutMs` passes first. The deadline is generous on purpose: it only decides how long a
 * failing test takes, never whether a passing one passes.
 */
export async function waitFor(
  check: () => boolean,
  what: string,
  { timeoutMs = 10_000, intervalMs = 2 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
