// SPDX-License-Identifier: Apache-2.0
/**
 * The REST sender's in-flight limit, sized to the work. One record is one POST and undici never
 * pipelines a POST, so throughput is at most limit ÷ round-trip time: 8 connections against an
 * endpoint 20 ms away give 400 msgs/s however deep the queue is. This controller raises the limit
 * while that bound is what holds records back, and lowers it when the server says so.
 *
 * - Grow: a success while records are queued and every slot is taken, and the smoothed round trip
 *   is still within {@link RTT_TOLERANCE}× the fastest seen (more requests are not just waiting in
 *   the server's own queue), adds one slot: the limit doubles per round trip up to the maximum.
 * - Never above what the configured rate limit can use: rate × RTT requests cover the plan's rate,
 *   so connections past that would only wait for the token bucket (see {@link AdaptiveLimit.rateCap}).
 * - Latency grows: the server is queueing, so give back one slot per round trip, down to the
 *   configured starting size (a local endpoint on the same cores stays where it started).
 * - 429/503 (a hold): halve, at most once per round trip, down to 1, and do not grow again for
 *   {@link HOLD_QUIET_MS}: the server asked for less, not for a retry storm.
 */

/** A round trip this many times the fastest one seen means requests queue at the server. */
export const RTT_TOLERANCE = 2;
/** After a 429/503 the limit does not grow for this long. */
export const HOLD_QUIET_MS = 1000;
/** Weight of a new sample in the smoothed round trip (TCP's 1/8). */
const RTT_GAIN = 1 / 8;

export interface AdaptiveLimitOptions {
  /** Starting limit, and the floor the latency rule shrinks to (the `connections` option). */
  initial: number;
  /** The ceiling (`maxConnections`); equal to `initial` turns adaptation off. */
  max: number;
  /** Requests per second allowed (0: none): the limit never grows past rate × RTT. */
  rateLimit: number;
  now?: () => number;
}

export class AdaptiveLimit {
  /** Requests allowed in flight now. */
  limit: number;
  readonly max: number;
  private readonly floor: number;
  private readonly rateLimit: number;
  private readonly now: () => number;
  /** Fractional growth and shrink accumulate here so that a step is one whole slot. */
  private credit = 0;
  private minRtt = Infinity;
  private srtt = 0;
  private lastHoldAt = -Infinity;
  private lastShrinkAt = -Infinity;

  constructor(o: AdaptiveLimitOptions) {
    this.floor = Math.max(1, Math.floor(o.initial));
    this.max = Math.max(this.floor, Math.floor(o.max));
    this.limit = this.floor;
    this.rateLimit = o.rateLimit > 0 ? o.rateLimit : 0;
    this.now = o.now ?? Date.now;
  }

  /** The smoothed round trip in ms (0 before the first sample). */
  get rtt(): number {
    return this.srtt;
  }

  /**
   * The most requests the rate limit can use (Infinity without one): rate × the longest round trip
   * the limit still grows at ({@link RTT_TOLERANCE} × the fastest), plus one. From the fastest
   * round trip, not the smoothed one, so a machine's momentary lag does not raise it.
   */
  get rateCap(): number {
    if (this.rateLimit === 0 || this.minRtt === Infinity) return Infinity;
    return Math.max(1, Math.ceil((this.rateLimit * RTT_TOLERANCE * this.minRtt) / 1000) + 1);
  }

  /**
   * A request succeeded after `rttMs`, with `queued` records waiting and `inFlight` requests out
   * (counting this one). Returns the new limit.
   */
  onSuccess(rttMs: number, queued: number, inFlight: number): number {
    if (!(rttMs >= 0)) return this.limit;
    const rtt = Math.max(rttMs, 0.01);
    if (rtt < this.minRtt) this.minRtt = rtt;
    this.srtt = this.srtt === 0 ? rtt : this.srtt + (rtt - this.srtt) * RTT_GAIN;
    if (this.max === this.floor) return this.limit;
    const now = this.now();
    const inflated = this.srtt > RTT_TOLERANCE * this.minRtt;
    if (inflated) {
      if (this.limit > this.floor && now - this.lastShrinkAt >= this.srtt) {
        this.lastShrinkAt = now;
        this.limit--;
      }
      this.credit = 0;
      return this.limit;
    }
    if (this.limit < this.floor && now - this.lastHoldAt >= HOLD_QUIET_MS) {
      // Back from a hold: recover towards the starting size one slot per round trip.
      this.credit += 1 / this.limit;
      if (this.credit >= 1) {
        this.credit = 0;
        this.limit++;
      }
      return this.limit;
    }
    const bound = Math.min(this.max, this.rateCap);
    if (
      queued > 0 &&
      inFlight >= this.limit &&
      this.limit < bound &&
      now - this.lastHoldAt >= HOLD_QUIET_MS
    ) {
      this.limit++;
    } else if (this.limit > bound && this.limit > this.floor) {
      this.limit = Math.max(this.floor, bound);
    }
    return this.limit;
  }

  /** The server answered 429 or 503: halve (once per round trip). Returns the new limit. */
  onHold(): number {
    if (this.max === this.floor) return this.limit;
    const now = this.now();
    if (now - this.lastHoldAt >= Math.max(this.srtt, 1)) this.limit = Math.max(1, Math.floor(this.limit / 2));
    this.lastHoldAt = now;
    this.credit = 0;
    return this.limit;
  }
}
