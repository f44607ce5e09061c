// SPDX-License-Identifier: Apache-2.0
/**
 * Hand-over of records between two instances of the same producer node across a redeploy.
 *
 * Node-RED stops a flow's Catch, Status and debug nodes together with the producer (Flow.stop
 * runs every close handler concurrently), so an error raised while closing reaches nodes that no
 * longer listen and is lost. Instead, a producer closing on a redeploy parks here, under its
 * node id, what it has not sent yet and keeps what is on the wire running; the new instance with
 * the same id (Node-RED keeps ids across a deploy, and this module's state survives it) adopts
 * the parcel: it sends the parked records and reports every outcome, also of the records that
 * were on the wire, through its own wires and Catch nodes.
 *
 * When nobody adopts a parcel (the flow was stopped, or the runtime is shutting down), it
 * expires: every parked message is failed and one log line counts them per topic, as do lines
 * for reports and errors that had no live node to go to.
 */
import { ClosedError } from '../../lib/errors';
import { countsByTopic, failMessage, type Item, type Msg, type Route } from './producer-machine';

/** What the next instance offers: its own send and error, and a way to send parked records. */
export interface Adopter extends Route {
  adopt(items: Item[]): void;
}

export interface ParcelLog {
  error(text: string): void;
  warn(text: string): void;
}

/** How long a parcel waits for its next instance when no "flows started" event comes first. */
export const HANDOVER_WINDOW_MS = 5000;

export class Parcel {
  private adopter: Adopter | undefined;
  private expired = false;
  private readonly held: Array<{
    kind: 'send' | 'error';
    msg: Msg;
    err?: Error;
    topic: string;
    done?: (err?: Error) => void;
  }> = [];
  private timer: NodeJS.Timeout | undefined;

  /** The route the parked and in-flight items of the old instance report through. */
  readonly route: Route = {
    send: (msg, done) => this.forward('send', msg, undefined, done),
    error: (err, msg, done) => this.forward('error', msg, err, done),
  };

  constructor(
    readonly id: string,
    private unsent: Item[],
    private readonly log: ParcelLog,
    private readonly onGone: () => void,
    windowMs: number,
  ) {
    this.timer = setTimeout(() => this.expire('no new instance of the node started'), windowMs);
    this.timer.unref();
  }

  get waiting(): number {
    return this.unsent.length;
  }

  adopt(adopter: Adopter): void {
    if (this.expired) return;
    this.adopter = adopter;
    clearTimeout(this.timer);
    this.onGone();
    // The next tick: adoption happens as the new flows start, and a report sent from there
    // would overtake the wiring of the nodes after this one.
    setImmediate(() => this.handOver(adopter));
  }

  private handOver(adopter: Adopter): void {
    for (const h of this.held.splice(0)) {
      if (h.kind === 'send') adopter.send(h.msg);
      else adopter.error(h.err as Error, h.msg);
      h.done?.();
    }
    const items = this.unsent;
    this.unsent = [];
    if (items.length > 0) adopter.adopt(items);
  }

  /** Fails what is parked and logs what had nowhere to go. Idempotent. */
  expire(why: string, sync = false): void {
    if (this.expired || this.adopter) return;
    this.expired = true;
    clearTimeout(this.timer);
    this.onGone();
    const items = this.unsent;
    this.unsent = [];
    if (items.length > 0) {
      this.log.error(
        `${items.length} message(s) were not sent (${why}): ${countsByTopic(items)}. Each was failed with code CLOSED.`,
      );
      if (!sync) {
        for (const item of items) {
          if (item.abandon) {
            // A multi-record message: its parts on the wire still report; the parked ones fail.
            item.abandon(new ClosedError(`The record was not sent: ${why}.`, { topic: item.topic }));
            continue;
          }
          item.settled = true;
          item.done(
            failMessage(item, new ClosedError(`The record was not sent: ${why}.`, { topic: item.topic })),
          );
        }
      }
    }
    this.flushHeld(why);
  }

  private flushHeld(why: string): void {
    if (this.held.length === 0) return;
    const sends = this.held.filter((h) => h.kind === 'send');
    const errors = this.held.filter((h) => h.kind === 'error');
    const byTopic = (list: typeof this.held): string => {
      const counts = new Map<string, number>();
      for (const h of list) counts.set(h.topic, (counts.get(h.topic) ?? 0) + 1);
      return [...counts].map(([t, n]) => `${t}: ${n}`).join(', ');
    };
    if (sends.length > 0) {
      this.log.warn(
        `${sends.length} message(s) were written while the node was being stopped; their delivery reports had no node to go to (${why}): ${byTopic(sends)}.`,
      );
    }
    if (errors.length > 0) {
      this.log.error(
        `${errors.length} message(s) failed while the node was being stopped and no Catch node could receive them (${why}): ${byTopic(errors)}. First error: ${errors[0].err?.message ?? ''}`,
      );
    }
    // Node-RED's own completion for each, last: an error still goes to this flow's Catch nodes
    // where any are left running (a stopped Catch node swallows it, hence the lines above).
    for (const h of this.held.splice(0)) h.done?.(h.kind === 'error' ? h.err : undefined);
  }

  private forward(kind: 'send' | 'error', msg: Msg, err?: Error, done?: (err?: Error) => void): void {
    const topic =
      typeof msg.eventstreams === 'object' && msg.eventstreams !== null
        ? String((msg.eventstreams as { topic?: unknown }).topic ?? '(none)')
        : '(none)';
    if (this.adopter) {
      if (kind === 'send') this.adopter.send(msg);
      else this.adopter.error(err as Error, msg);
      done?.();
      return;
    }
    this.held.push({ kind, msg, topic, ...(err ? { err } : {}), ...(done ? { done } : {}) });
    if (this.expired) this.flushHeld('the node is gone');
  }
}

const parcels = new Map<string, Parcel>();
let exitHooked = false;

/** Parks a closing instance's records under its node id; the next instance takes them with {@link adopt}. */
export function park(id: string, unsent: Item[], log: ParcelLog, windowMs = HANDOVER_WINDOW_MS): Parcel {
  parcels.get(id)?.expire('replaced by a newer parcel');
  const parcel = new Parcel(
    id,
    unsent,
    log,
    () => {
      if (parcels.get(id) === parcel) parcels.delete(id);
    },
    windowMs,
  );
  parcels.set(id, parcel);
  if (!exitHooked) {
    exitHooked = true;
    // The runtime shutting down: nothing can send any more, but the log still counts them.
    process.once('exit', () => {
      for (const p of [...parcels.values()]) p.expire('Node-RED stopped', true);
    });
  }
  return parcel;
}

/** The parcel left for `id` by its previous instance, adopted by `adopter`. */
export function adopt(id: string, adopter: Adopter): boolean {
  const parcel = parcels.get(id);
  if (!parcel) return false;
  parcel.adopt(adopter);
  return true;
}

/** Expires every parcel nobody adopted (called once the new flows have started). */
export function expireUnadopted(why: string): void {
  for (const p of [...parcels.values()]) p.expire(why);
}

/** For tests. */
export function parcelCount(): number {
  return parcels.size;
}
