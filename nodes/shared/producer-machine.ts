// SPDX-License-Identifier: Apache-2.0
/**
 * The producer node's state machine as a plain class (no Node-RED imports), so that settling,
 * status choice and close can be tested on their own. The node file is its adapter.
 *
 * Inputs: `begin` (a message came in), `outcome` (what the client or outbox said), `tick` (the
 * status timer), `close`. Outputs, through {@link MachineIO} and each item's own callbacks:
 * sends, dones and statuses.
 *
 * Every item has exactly one visible outcome: a delivery report (`send` + `done()`), or
 * `done(err)`; after a hand-over (see ./handover.ts) the same, through the next instance.
 */
import { CONNECTIONS_BUSY_HINT_MS as SATURATED_HINT_MS } from '../../lib/defaults';
import {
  describeFailure,
  failureReport,
  isRecordRejection,
  statusKeyOf,
  toEventStreamsError,
} from '../../lib/error-model';
import { ClosedError, isEventStreamsError, PartialFailureError } from '../../lib/errors';
import type { ClientStats, ProduceRecord, ProduceResult } from '../../lib/types';

export type Msg = Record<string, unknown> & { eventstreams?: unknown };

/** Where an item's outcome goes once its node has handed it over (the next instance). */
export interface Route {
  /** `done` is the original message's completion, called once the outcome has gone somewhere. */
  send(msg: Msg, done?: (err?: Error) => void): void;
  error(err: Error, msg: Msg, done?: (err?: Error) => void): void;
}

export interface Item {
  msg: Msg;
  /** Resolved topic; '' until known. */
  topic: string;
  done: (err?: Error) => void;
  /** The node's send for this message, or undefined when the node has no output. */
  send: ((msg: Msg) => void) | undefined;
  settled: boolean;
  /** The outbox has it stored: the input is complete and the outcome follows as a report. */
  stored?: boolean;
  /** Set on hand-over: the outcome is reported through the next instance. */
  route?: Route;
  /** The record as built, kept for a hand-over (the next instance sends it unchanged). */
  record?: ProduceRecord;
  /** A multi-record message: one part per record, in input order (see ./multi-record.ts). */
  parts?: Part[];
  /** Some parts were taken back on close: the item waits in `parked` for the next instance. */
  partsParked?: boolean;
  /** With the outbox: every part stored (or failed), so the input is complete; the report follows. */
  partsStored?: boolean;
  /** Fails the parts taken back on close (nobody will send them), through the instance that took them. */
  abandon?: (err: Error) => void;
}

/** One record of a multi-record message and what became of it. */
export interface Part {
  topic: string;
  /** Undefined when the element could not be made into a record (`error` says why). */
  record?: ProduceRecord;
  state: 'pending' | 'withdrawn' | 'stored' | 'done';
  /** Set once stored by the outbox: the report says `outbox: true`. */
  viaOutbox?: boolean;
  /** Its entry in `msg.eventstreams.records`, once done. */
  report?: Record<string, unknown>;
  error?: Error;
}

export type Outcome = { result: ProduceResult } | { spooled: true } | { error: unknown };

export interface StatusView {
  fill: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape: 'dot' | 'ring';
  /** Key under `<node-type>.status.`. */
  key: string;
  params?: Record<string, string | number>;
  /** A second status key shown in brackets (the reason). */
  reason?: string;
}

export interface MachineIO {
  status(view: StatusView): void;
  /** The shared client's counters, when there is a client. */
  stats(): ClientStats | undefined;
  /** The outbox's depth and last send error, when the outbox is on and open. */
  outbox(): { depth: number; lastError?: Error } | undefined;
  /**
   * The outcome of a multi-record message whose input already completed (every part stored by
   * the outbox): the node sends it on or raises it, as it does a stored single record's report.
   */
  reportStored?(msg: Msg, err?: Error): void;
  now?: () => number;
}

/** Counts per topic, for log lines: `orders: 3, telemetry: 12`. */
export function countsByTopic(items: Iterable<Item>): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item.topic || '(none)', (counts.get(item.topic || '(none)') ?? 0) + 1);
  return [...counts].map(([t, n]) => `${t}: ${n}`).join(', ');
}

/** The delivery report placed on `msg.eventstreams`. */
export function deliveryReport(r: ProduceResult, viaOutbox: boolean): Record<string, unknown> {
  if (!viaOutbox && r.partition !== undefined && r.offset !== undefined && r.timestamp !== undefined) {
    // The usual report, as one literal (one object shape, no growing it field by field).
    return {
      topic: r.topic,
      attempts: r.attempts,
      partition: r.partition,
      offset: r.offset,
      timestamp: r.timestamp,
    };
  }
  const report: Record<string, unknown> = { topic: r.topic, attempts: r.attempts };
  if (r.partition !== undefined) report.partition = r.partition;
  if (r.offset !== undefined) report.offset = r.offset;
  if (r.timestamp !== undefined) report.timestamp = r.timestamp;
  if (viaOutbox) report.outbox = true;
  return report;
}

/**
 * The error a flow gets: our own error with its `code` and `cause` as own properties (Node-RED
 * copies only those into `msg.error`) and a message that starts with the code; the details
 * (code, HTTP status, server message, attempts) go on `msg.eventstreams.error`, which every
 * Node-RED version passes on to Catch nodes with the rest of the message.
 */
export function failMessage(item: Item, raw: unknown): Error {
  const err = raw instanceof Error ? raw : new Error(String(raw));
  const report = isEventStreamsError(err) ? failureReport(err) : { code: 'ERROR', message: err.message };
  const prev = item.msg.eventstreams;
  item.msg.eventstreams = {
    ...(typeof prev === 'object' && prev !== null ? prev : {}),
    ...(item.topic ? { topic: item.topic } : {}),
    error: report,
  };
  if (isEventStreamsError(err)) {
    const text = describeFailure(err);
    if (text !== err.message) {
      err.message = text;
      err.stack = `${err.name}: ${text}`;
    }
  }
  return err;
}

/** The last outcome was a success (one shared object: it is set for every record). */
const OK = { ok: true } as const;

/** How long a record's own failure (not the connection's) shows as a red ring. */
export const RECORD_ERROR_STATUS_MS = 5000;

export class ProducerMachine {
  readonly pending = new Set<Item>();
  /** Items the client gave back while closing (not sent): for the next instance, or failed. */
  readonly parked: Item[] = [];
  closing = false;
  private lastOutcome:
    | { ok: true }
    | { ok: false; reason: string; /** When a record's own fault stops being shown. */ clearsAt?: number }
    | undefined;
  private completedSinceTick = 0;
  private lastTickAt: number;
  /** Since when every connection has been busy with records queued behind them. */
  private saturatedSince: number | undefined;
  private readonly now: () => number;

  constructor(private readonly io: MachineIO) {
    this.now = io.now ?? Date.now;
    this.lastTickAt = this.now();
  }

  /** A message came in (or was adopted from a previous instance). */
  begin(item: Item): void {
    this.pending.add(item);
  }

  /** `outcome(item, { result })` without the wrapper: the hot path of every delivered record. */
  delivered(item: Item, result: ProduceResult): void {
    if (item.settled) return;
    item.settled = true;
    this.pending.delete(item);
    this.completedSinceTick++;
    item.msg.eventstreams = deliveryReport(result, false);
    this.lastOutcome = OK;
    this.deliver(item);
  }

  /** What became of an item. Withdrawn items (closing) are parked, not settled. */
  outcome(item: Item, outcome: Outcome): void {
    if (item.settled) return;
    if ('error' in outcome && isEventStreamsError(outcome.error) && outcome.error.code === 'WITHDRAWN') {
      this.pending.delete(item);
      this.parked.push(item);
      return;
    }
    item.settled = true;
    this.pending.delete(item);
    this.completedSinceTick++;
    if ('spooled' in outcome) {
      // Outbox: durably stored is the node's completion; the delivery report (if any) follows.
      this.lastOutcome = OK;
      item.done();
    } else if ('result' in outcome) {
      item.msg.eventstreams = deliveryReport(outcome.result, false);
      this.lastOutcome = OK;
      this.deliver(item);
    } else {
      const err = failMessage(item, outcome.error);
      // A record's own fault (bad topic name, too large, schema mismatch) says nothing about the
      // connection: its red ring gives way to the healthy status after a few seconds.
      this.lastOutcome = isRecordRejection(err)
        ? { ok: false, reason: statusKeyOf(err), clearsAt: this.now() + RECORD_ERROR_STATUS_MS }
        : { ok: false, reason: statusKeyOf(err) };
      this.fail(item, err);
      // Errors are shown at once (the adapter throttles), not at the next tick.
      if (!this.closing) this.tick();
    }
  }

  /** Sends the report through the item's node (or its next instance after a hand-over). */
  deliver(item: Item): void {
    if (item.route) {
      item.route.send(item.msg, item.done);
    } else {
      item.send?.(item.msg);
      item.done();
    }
  }

  /** `done(err)` for Catch nodes, or through the next instance after a hand-over. */
  fail(item: Item, err: Error): void {
    if (item.route) {
      item.route.error(err, item.msg, item.done);
    } else {
      item.done(err);
    }
  }

  /** Fails every parked item (no next instance will take them); returns them for the log line. */
  failParked(reason: string): Item[] {
    const items = this.parked.splice(0);
    for (const item of items) {
      const closed = new ClosedError(reason, item.topic ? { topic: item.topic } : {});
      if (item.parts) {
        this.failWithdrawnParts(item, closed);
        continue;
      }
      item.settled = true;
      this.fail(item, failMessage(item, closed));
    }
    return items;
  }

  /** Parts taken back on close that nobody will send: each fails with `err` (one outcome for the message). */
  failWithdrawnParts(item: Item, err: Error): void {
    item.partsParked = false;
    item.parts?.forEach((p, i) => {
      if (p.state === 'withdrawn') this.part(item, i, { error: err });
    });
  }

  /**
   * What became of one record of a multi-record message. The message settles once, when every
   * part is done: one output message with `msg.eventstreams.records` in input order, or
   * `done(err)` with PARTIAL_FAILURE and the same records when any failed. With the outbox the
   * input completes when every part is stored, and the outcome follows through `reportStored`.
   */
  part(item: Item, index: number, outcome: Outcome): void {
    const parts = item.parts;
    const part = parts?.[index];
    if (!parts || !part || part.state === 'done' || (item.settled && !item.partsStored)) return;
    if ('error' in outcome && isEventStreamsError(outcome.error) && outcome.error.code === 'WITHDRAWN') {
      part.state = 'withdrawn';
      if (!item.partsParked) {
        item.partsParked = true;
        this.pending.delete(item);
        this.parked.push(item);
      }
      return;
    }
    if ('spooled' in outcome) {
      part.state = 'stored';
      part.viaOutbox = true;
    } else if ('result' in outcome) {
      part.state = 'done';
      part.report = deliveryReport(outcome.result, part.viaOutbox === true);
      this.completedSinceTick++;
    } else {
      part.state = 'done';
      const err = outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error));
      part.error = err;
      const report = isEventStreamsError(err) ? failureReport(err) : { code: 'ERROR' };
      part.report = { topic: part.topic, error: { ...report, message: describeFailure(err) } };
      this.completedSinceTick++;
    }
    const open = parts.some((p) => p.state === 'pending' || p.state === 'withdrawn');
    if (!open && !item.partsStored && parts.some((p) => p.state === 'stored')) {
      // Every record is on disk (or failed before): the input is complete, as for one record.
      item.partsStored = true;
      item.settled = true;
      this.pending.delete(item);
      this.lastOutcome = { ok: true };
      item.done();
    }
    if (open || parts.some((p) => p.state !== 'done')) return;
    this.finishParts(item, parts);
  }

  private finishParts(item: Item, parts: Part[]): void {
    const failed = parts.flatMap((p, i) => (p.error ? [{ i, err: p.error }] : []));
    const prev = item.msg.eventstreams;
    item.msg.eventstreams = {
      ...(typeof prev === 'object' && prev !== null ? prev : {}),
      records: parts.map((p) => p.report),
    };
    let err: Error | undefined;
    if (failed.length > 0) {
      const first = failed[0]!;
      const cause = toEventStreamsError(first.err);
      err = failMessage(
        item,
        new PartialFailureError(
          `${failed.length} of ${parts.length} records failed; the first, record ${first.i}: ${describeFailure(first.err)}`,
          cause,
          item.topic ? { topic: item.topic } : {},
        ),
      );
    }
    if (item.partsStored) {
      this.io.reportStored?.(item.msg, err);
      return;
    }
    item.settled = true;
    this.pending.delete(item);
    if (err) {
      this.lastOutcome = isRecordRejection(err)
        ? { ok: false, reason: statusKeyOf(err), clearsAt: this.now() + RECORD_ERROR_STATUS_MS }
        : { ok: false, reason: statusKeyOf(err) };
      this.fail(item, err);
      if (!this.closing) this.tick();
    } else {
      this.lastOutcome = { ok: true };
      this.deliver(item);
    }
  }

  /** The status for now; also resets the rate window. */
  computeStatus(): StatusView | undefined {
    // A multi-record message handed over may be finished by either instance's outcomes.
    for (const item of this.pending) if (item.settled) this.pending.delete(item);
    const outbox = this.io.outbox();
    if (outbox) {
      const params = { depth: outbox.depth };
      if (outbox.lastError && !isRecordRejection(outbox.lastError)) {
        return {
          fill: 'yellow',
          shape: 'ring',
          key: 'outbox',
          params,
          reason: statusKeyOf(outbox.lastError),
        };
      }
      if (this.lastOutcome && !this.lastOutcome.ok && this.pending.size === 0) {
        return { fill: 'red', shape: 'ring', key: 'outbox', params, reason: this.lastOutcome.reason };
      }
      return { fill: outbox.depth > 0 ? 'blue' : 'green', shape: 'dot', key: 'outbox', params };
    }
    const stats = this.io.stats();
    const now = this.now();
    const elapsed = Math.max(now - this.lastTickAt, 1);
    const rate = Math.round((this.completedSinceTick * 1000) / elapsed);
    this.completedSinceTick = 0;
    this.lastTickAt = now;
    const inFlight = stats?.inFlight ?? this.pending.size;
    const queued = stats?.queued ?? 0;
    const waiting = this.pending.size > 0;
    const busy = waiting && inFlight + queued > 0;
    if (stats?.state === 'auth-failed') return { fill: 'red', shape: 'ring', key: 'auth-failed' };
    // A held (429) or retrying record has given up its slot: it is still this node's work.
    if (waiting && stats?.state === 'throttled') {
      return { fill: 'yellow', shape: 'ring', key: 'throttled', params: { inFlight, queued } };
    }
    if (waiting && stats?.state === 'retrying') {
      return { fill: 'yellow', shape: 'ring', key: 'retrying', params: { inFlight, queued } };
    }
    if (busy) return this.busyStatus(stats, now, { inFlight, queued, rate });
    this.saturatedSince = undefined;
    if (this.lastOutcome && !this.lastOutcome.ok && this.lastOutcome.clearsAt !== undefined) {
      if (now >= this.lastOutcome.clearsAt) this.lastOutcome = { ok: true };
    }
    if (this.lastOutcome && !this.lastOutcome.ok) {
      return { fill: 'red', shape: 'ring', key: this.lastOutcome.reason };
    }
    // Idle: nothing in flight or queued is "connected", not "0 in flight, 0 queued, 0/s".
    if (this.lastOutcome?.ok || stats?.state === 'idle')
      return { fill: 'green', shape: 'dot', key: 'connected' };
    return undefined;
  }

  /**
   * Busy, with the two caps a user can act on: records held back by order per key (one key goes one
   * request at a time over REST, about 1/RTT msgs/s), and every connection busy with records queued
   * behind them for {@link SATURATED_HINT_MS} (throughput is then connections ÷ RTT).
   */
  private busyStatus(
    stats: ClientStats | undefined,
    now: number,
    params: { inFlight: number; queued: number; rate: number },
  ): StatusView {
    const chained = stats?.chained ?? 0;
    // The adaptive limit's ceiling: below it the limit is still growing (or held down by a 429).
    const cap = stats?.maxConnections ?? stats?.maxInFlight ?? 0;
    if (cap > 0 && params.inFlight >= cap && params.queued - chained > 0) this.saturatedSince ??= now;
    else this.saturatedSince = undefined;
    if (this.saturatedSince !== undefined && now - this.saturatedSince >= SATURATED_HINT_MS) {
      return {
        fill: 'blue',
        shape: 'ring',
        key: 'connections-busy',
        params: { ...params, connections: cap },
      };
    }
    if (chained > 0)
      return { fill: 'blue', shape: 'dot', key: 'busy-chained', params: { ...params, chained } };
    return { fill: 'blue', shape: 'dot', key: 'busy', params };
  }

  /** The status timer (and any change worth showing at once). */
  tick(): void {
    if (this.closing) return;
    const view = this.computeStatus();
    if (view) this.io.status(view);
  }

  /** Milliseconds until a record's red ring gives way (the adapter ticks then), or undefined. */
  get statusClearsInMs(): number | undefined {
    const last = this.lastOutcome;
    if (!last || last.ok || last.clearsAt === undefined) return undefined;
    return Math.max(last.clearsAt - this.now(), 0);
  }

  /** Whether the status timer is still needed. */
  get active(): boolean {
    for (const item of this.pending) if (item.settled) this.pending.delete(item);
    return this.pending.size > 0;
  }
}
