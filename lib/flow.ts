// SPDX-License-Identifier: Apache-2.0
/**
 * Flow control for the produce path: a cap on requests in flight, a queue bounded by messages
 * and bytes in front of it, and an optional token-bucket rate limit.
 *
 * Overflow policy: when the queue is full the NEW record is rejected at once with
 * {@link QueueFullError}; nothing already queued is ever dropped. Records that wait to be
 * retried after a transient failure keep their in-flight slot, so the in-flight cap also bounds
 * retries and an outage turns into back-pressure on the queue (and then QueueFullError) instead
 * of unbounded memory. A record the server asked to hold (429, 503) gives its slot back and
 * re-enters at the front of the queue ({@link FlowControl.requeue}) when its wait is over, so one
 * throttled request never stops the others.
 */
import { QueueFullError } from './errors';

/** What the flow controller needs from a job; the client's record jobs extend it. */
export interface FlowJob {
  /** Bytes counted against the queue's byte bound while the job waits. */
  bytes: number;
  /** Set while the job sits in the queue. */
  queued: boolean;
}

export interface FlowOptions {
  /** The starting cap on requests in flight ({@link FlowControl.setLimit} moves it). */
  maxInFlight: number;
  maxQueuedMessages: number;
  maxQueuedBytes: number;
  /** Messages (requests) per second; 0 means unlimited. */
  rateLimit: number;
  now?: () => number;
}

/**
 * A token bucket: `rate` tokens per second, holding at most `burst`. The burst is a tenth of a
 * second's worth (at least 1), so a Lite plan (5/s) is paced one request per 200 ms and
 * Standard (100/s) allows short bursts of 10 while never exceeding the rate over a second.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly burst: number;
  constructor(
    private readonly rate: number,
    private readonly now: () => number = Date.now,
  ) {
    this.burst = Math.max(1, rate / 10);
    this.tokens = this.burst;
    this.last = now();
  }

  /** Takes one token: returns 0 when granted, otherwise the milliseconds until one is available. */
  take(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate));
  }
}

/** In-flight slots, the bounded FIFO in front of them, and the rate limit. */
export class FlowControl<J extends FlowJob> {
  inFlight = 0;
  queuedBytes = 0;
  /** Requests allowed in flight now (lib/adaptive-limit.ts moves it). */
  limit: number;
  private queuedCount = 0;
  private items: Array<J | undefined> = [];
  private head = 0;
  private readonly bucket: TokenBucket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly pumpBound = (): void => {
    this.timer = undefined;
    this.pump();
  };

  constructor(
    readonly options: FlowOptions,
    private readonly start: (job: J) => void,
  ) {
    this.limit = options.maxInFlight;
    this.bucket = options.rateLimit > 0 ? new TokenBucket(options.rateLimit, options.now) : undefined;
  }

  get queued(): number {
    return this.queuedCount;
  }

  /**
   * Starts `job` now when a slot (and a rate token) is free, else queues it. Throws
   * {@link QueueFullError} without queuing when the queue is at its message or byte bound.
   */
  submit(job: J): void {
    if (this.queuedCount === 0 && this.inFlight < this.limit && this.takeToken() === 0) {
      this.inFlight++;
      this.start(job);
      return;
    }
    const o = this.options;
    if (this.queuedCount >= o.maxQueuedMessages) {
      throw new QueueFullError(
        `The send queue is full (${this.queuedCount} records waiting, limit ${o.maxQueuedMessages}); this record was not queued.`,
      );
    }
    // A single record larger than the whole byte bound still gets in when the queue is empty.
    if (this.queuedBytes + job.bytes > o.maxQueuedBytes && this.queuedCount > 0) {
      throw new QueueFullError(
        `The send queue is full (${this.queuedBytes} bytes waiting, limit ${o.maxQueuedBytes}); this record was not queued.`,
      );
    }
    job.queued = true;
    this.items.push(job);
    this.queuedCount++;
    this.queuedBytes += job.bytes;
    this.pump();
  }

  /**
   * Puts a job that was already accepted (a held retry, or the next record of a key) back at the
   * front: it is not subject to the queue bound, which it was counted against when it came in.
   */
  requeue(job: J): void {
    if (this.queuedCount === 0 && this.inFlight < this.limit && this.takeToken() === 0) {
      this.inFlight++;
      this.start(job);
      return;
    }
    job.queued = true;
    if (this.head > 0) this.items[--this.head] = job;
    else this.items.unshift(job);
    this.queuedCount++;
    this.queuedBytes += job.bytes;
    this.pump();
  }

  /** A new in-flight cap: a larger one starts queued jobs now, a smaller one lets slots drain. */
  setLimit(limit: number): void {
    const grew = limit > this.limit;
    this.limit = limit;
    if (grew && this.queuedCount > 0) this.pump();
  }

  /** A started job is done with its slot. */
  release(): void {
    this.inFlight--;
    if (this.queuedCount > 0) this.pump();
  }

  /**
   * Takes a rate token for a request about to be sent (including a retry): 0 when granted,
   * otherwise the milliseconds to wait.
   */
  takeToken(): number {
    return this.bucket === undefined ? 0 : this.bucket.take();
  }

  /** Takes a queued job out (its caller aborted). */
  remove(job: J): boolean {
    if (!job.queued) return false;
    const i = this.items.indexOf(job, this.head);
    if (i < 0) return false;
    this.items[i] = undefined;
    this.dequeued(job);
    return true;
  }

  /** Empties the queue and returns what was in it, oldest first. */
  drain(): J[] {
    const out: J[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const job = this.items[i];
      if (job !== undefined) {
        this.dequeued(job);
        out.push(job);
      }
    }
    this.items = [];
    this.head = 0;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    return out;
  }

  private dequeued(job: J): void {
    job.queued = false;
    this.queuedCount--;
    this.queuedBytes -= job.bytes;
  }

  private shift(): J | undefined {
    while (this.head < this.items.length) {
      const job = this.items[this.head];
      this.items[this.head++] = undefined;
      if (job !== undefined) {
        if (this.head > 1024 && this.head * 2 > this.items.length) {
          this.items = this.items.slice(this.head);
          this.head = 0;
        }
        return job;
      }
    }
    this.items = [];
    this.head = 0;
    return undefined;
  }

  private pump(): void {
    while (this.queuedCount > 0 && this.inFlight < this.limit) {
      if (this.timer !== undefined) return;
      const wait = this.takeToken();
      if (wait > 0) {
        this.timer = setTimeout(this.pumpBound, wait);
        return;
      }
      const job = this.shift();
      if (job === undefined) return;
      this.dequeued(job);
      this.inFlight++;
      this.start(job);
    }
  }
}
