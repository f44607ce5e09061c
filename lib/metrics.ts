// SPDX-License-Identifier: Apache-2.0
/**
 * Per-endpoint producer metrics: what IBM tells producers to watch (record error rate, request
 * latency, byte rate) plus the package's own queue, outbox and hold counts, for three readers: a
 * flow (the topic-admin node's `stats` operation), Prometheus (an opt-in route) and the editor's
 * sidebar (a sparkline of the last minute).
 *
 * Everything here is O(1) per record and allocation-free on the hot path: counters, a fixed
 * latency histogram, a 60-slot ring of per-second totals and a 10-entry ring of recent errors.
 * No prom-client here: the core stays on undici alone, and the text exposition of a handful of
 * counters and one histogram is a few lines (see {@link prometheusText}).
 */

/** Upper bounds (ms) of the produce-latency histogram: a LAN round trip up to a long hold. */
export const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000] as const;

/** Seconds of history the sparkline shows. */
export const SERIES_SECONDS = 60;

/** Recent errors kept for the sidebar. */
export const RECENT_ERRORS = 10;

export interface SeriesPoint {
  /** Start of the second, ms since the epoch. */
  t: number;
  delivered: number;
  failed: number;
  /** Mean produce latency of the records delivered in that second; null when none was. */
  latencyMs: number | null;
}

export interface RecentError {
  at: number;
  code: string;
  message: string;
  topic?: string;
}

/** The moving parts a snapshot reads from the sender and outbox at that moment. */
export interface LiveCounts {
  inFlight: number;
  queued: number;
  /** Records in the durable outbox; absent when the endpoint has none. */
  outboxDepth?: number;
  /** Holds the transport counted itself (REST's 429/503 waits), added to the ones seen here. */
  transportHolds?: number;
}

export interface MetricsSnapshot extends LiveCounts {
  at: number;
  /** Since the endpoint started (a redeploy of the endpoint starts again at 0). */
  since: number;
  delivered: number;
  failed: number;
  /** Attempts beyond the first, of delivered and failed records. */
  retried: number;
  /** Requests answered 429 or 503 that waited out Retry-After. */
  held: number;
  /** Value, key and header bytes of delivered records. */
  bytes: number;
  latency: { bucketsMs: readonly number[]; counts: number[]; sumMs: number; count: number };
  series: SeriesPoint[];
  lastErrors: RecentError[];
}

export class EndpointMetrics {
  private readonly started = Date.now();
  private delivered = 0;
  private failed = 0;
  private retried = 0;
  private held = 0;
  private bytes = 0;
  private readonly counts = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  private latencySum = 0;
  private latencyCount = 0;
  // The ring: slot i holds the second `seconds[i]`; a slot is reset when a new second lands on it.
  private readonly seconds = new Array<number>(SERIES_SECONDS).fill(-1);
  private readonly slotDelivered = new Array<number>(SERIES_SECONDS).fill(0);
  private readonly slotFailed = new Array<number>(SERIES_SECONDS).fill(0);
  private readonly slotLatency = new Array<number>(SERIES_SECONDS).fill(0);
  private readonly errors: RecentError[] = [];

  /** A record the broker acknowledged `latencyMs` after it was handed over, in `attempts` requests. */
  delivery(bytes: number, latencyMs: number, attempts: number): void {
    this.delivered++;
    this.bytes += bytes;
    if (attempts > 1) this.retried += attempts - 1;
    this.latencySum += latencyMs;
    this.latencyCount++;
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && latencyMs > LATENCY_BUCKETS_MS[i]!) i++;
    this.counts[i]!++;
    const slot = this.slot(Date.now());
    this.slotDelivered[slot]!++;
    this.slotLatency[slot]! += latencyMs;
  }

  /** A record that will not be delivered (its error went to the flow). */
  failure(code: string, message: string, attempts: number, topic?: string): void {
    this.failed++;
    if (attempts > 1) this.retried += attempts - 1;
    const now = Date.now();
    this.slotFailed[this.slot(now)]!++;
    this.remember(now, code, message, topic);
  }

  private remember(at: number, code: string, message: string, topic?: string): void {
    if (this.errors.length === RECENT_ERRORS) this.errors.shift();
    this.errors.push({ at, code, message: message.slice(0, 300), ...(topic ? { topic } : {}) });
  }

  /** An attempt that failed while its record is kept for another (the outbox's retry loop). */
  attemptFailed(code: string, message: string, topic?: string): void {
    this.retried++;
    this.remember(Date.now(), code, message, topic);
  }

  /** A request answered 429/503 whose record waits out Retry-After. */
  hold(): void {
    this.held++;
  }

  snapshot(live: LiveCounts): MetricsSnapshot {
    const now = Date.now();
    const nowSec = Math.floor(now / 1000);
    const series: SeriesPoint[] = [];
    for (let s = nowSec - SERIES_SECONDS + 1; s <= nowSec; s++) {
      const i = s % SERIES_SECONDS;
      const fresh = this.seconds[i] === s;
      const delivered = fresh ? this.slotDelivered[i]! : 0;
      series.push({
        t: s * 1000,
        delivered,
        failed: fresh ? this.slotFailed[i]! : 0,
        latencyMs: fresh && delivered > 0 ? this.slotLatency[i]! / delivered : null,
      });
    }
    return {
      at: now,
      since: this.started,
      delivered: this.delivered,
      failed: this.failed,
      retried: this.retried,
      held: this.held + (live.transportHolds ?? 0),
      bytes: this.bytes,
      inFlight: live.inFlight,
      queued: live.queued,
      ...(live.outboxDepth !== undefined ? { outboxDepth: live.outboxDepth } : {}),
      latency: {
        bucketsMs: LATENCY_BUCKETS_MS,
        counts: this.counts.slice(),
        sumMs: this.latencySum,
        count: this.latencyCount,
      },
      series,
      lastErrors: this.errors.slice(),
    };
  }

  private slot(now: number): number {
    const sec = Math.floor(now / 1000);
    const i = sec % SERIES_SECONDS;
    if (this.seconds[i] !== sec) {
      this.seconds[i] = sec;
      this.slotDelivered[i] = 0;
      this.slotFailed[i] = 0;
      this.slotLatency[i] = 0;
    }
    return i;
  }
}

/** Prometheus' label-value escaping: backslash, double quote and newline. */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * The text exposition (format 0.0.4) of several endpoints' snapshots, one `endpoint` label (the
 * config node's id) and a `name` label each.
 */
export function prometheusText(
  endpoints: Array<{ id: string; name: string; snapshot: MetricsSnapshot }>,
): string {
  const out: string[] = [];
  const family = (
    name: string,
    type: 'counter' | 'gauge',
    help: string,
    value: (s: MetricsSnapshot) => number | undefined,
  ): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const e of endpoints) {
      const v = value(e.snapshot);
      if (v !== undefined) out.push(`${name}{endpoint="${label(e.id)}",name="${label(e.name)}"} ${v}`);
    }
  };
  family(
    'esnodes_records_delivered_total',
    'counter',
    'Records the broker acknowledged.',
    (s) => s.delivered,
  );
  family('esnodes_records_failed_total', 'counter', 'Records failed to the flow (Catch).', (s) => s.failed);
  family('esnodes_records_retried_total', 'counter', 'Attempts beyond the first.', (s) => s.retried);
  family(
    'esnodes_holds_total',
    'counter',
    'Requests answered 429/503 that waited out Retry-After.',
    (s) => s.held,
  );
  family('esnodes_record_bytes_total', 'counter', 'Value, key and header bytes delivered.', (s) => s.bytes);
  family('esnodes_in_flight', 'gauge', 'Records on the wire now.', (s) => s.inFlight);
  family('esnodes_queued', 'gauge', 'Records waiting for a connection now.', (s) => s.queued);
  family('esnodes_outbox_depth', 'gauge', 'Records in the durable outbox now.', (s) => s.outboxDepth);
  const h = 'esnodes_produce_latency_seconds';
  out.push(
    `# HELP ${h} Time from hand-over to acknowledgement of delivered records.`,
    `# TYPE ${h} histogram`,
  );
  for (const e of endpoints) {
    const l = `endpoint="${label(e.id)}",name="${label(e.name)}"`;
    const { bucketsMs, counts, sumMs, count } = e.snapshot.latency;
    let cumulative = 0;
    bucketsMs.forEach((ms, i) => {
      cumulative += counts[i]!;
      out.push(`${h}_bucket{${l},le="${ms / 1000}"} ${cumulative}`);
    });
    out.push(
      `${h}_bucket{${l},le="+Inf"} ${count}`,
      `${h}_sum{${l}} ${sumMs / 1000}`,
      `${h}_count{${l}} ${count}`,
    );
  }
  return `${out.join('\n')}\n`;
}
