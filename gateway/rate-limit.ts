// SPDX-License-Identifier: Apache-2.0
/**
 * `--rate-limit N`: produce requests per second, as an over-quota Event Streams plan enforces
 * it. Requests past N in the current one-second window are answered 429 with Retry-After set to
 * the seconds left in the window (at least 1), like the service's own throttling.
 */
export class RateWindow {
  private windowStart = 0;
  private used = 0;

  constructor(
    readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Undefined when the request may go ahead, else the Retry-After in seconds. */
  take(): number | undefined {
    const t = this.now();
    if (t - this.windowStart >= 1000) {
      this.windowStart = t;
      this.used = 0;
    }
    if (this.used < this.perSecond) {
      this.used++;
      return undefined;
    }
    return Math.max(1, Math.ceil((this.windowStart + 1000 - t) / 1000));
  }
}
