// SPDX-License-Identifier: Apache-2.0
import assert from 'node:assert/strict';

import { AdaptiveLimit, HOLD_QUIET_MS } from '../../lib/adaptive-limit';
import { FlowControl, type FlowJob } from '../../lib/flow';

/** A controller on a hand-driven clock. */
function controller(initial: number, max: number, rateLimit = 0): { c: AdaptiveLimit; clock: { t: number } } {
  const clock = { t: 1_000_000 };
  const c = new AdaptiveLimit({ initial, max, rateLimit, now: () => clock.t });
  return { c, clock };
}

/** One round trip of completions at `rtt` ms with `queued` records waiting and every slot busy. */
function roundTrip(c: AdaptiveLimit, clock: { t: number }, rtt: number, queued: number): void {
  const n = c.limit;
  for (let i = 0; i < n; i++) {
    clock.t += rtt / n;
    c.onSuccess(rtt, queued, c.limit);
  }
}

describe('adaptive in-flight limit', () => {
  it('starts at the configured connections', () => {
    const { c } = controller(8, 32);
    assert.equal(c.limit, 8);
    assert.equal(c.max, 32);
  });

  it('grows while records queue behind a full limit and the round trip is flat, up to the maximum', () => {
    const { c, clock } = controller(8, 32);
    roundTrip(c, clock, 20, 500);
    assert.ok(c.limit > 8, `grew within one round trip (${c.limit})`);
    for (let i = 0; i < 10; i++) roundTrip(c, clock, 20, 500);
    assert.equal(c.limit, 32, 'stops at the maximum');
  });

  it('does not grow without a queue, or while slots are free', () => {
    const { c, clock } = controller(8, 32);
    for (let i = 0; i < 5; i++) roundTrip(c, clock, 20, 0);
    assert.equal(c.limit, 8, 'no queue');
    for (let i = 0; i < 50; i++) {
      clock.t += 5;
      c.onSuccess(20, 100, 3);
    }
    assert.equal(c.limit, 8, 'three of eight in flight: the limit is not what holds records back');
  });

  it('stays put when the maximum equals the start (adaptation off), even on holds', () => {
    const { c, clock } = controller(4, 4);
    for (let i = 0; i < 5; i++) roundTrip(c, clock, 20, 500);
    assert.equal(c.limit, 4);
    assert.equal(c.onHold(), 4);
  });

  it('stops growing and gives slots back to the start when the round trip inflates', () => {
    const { c, clock } = controller(8, 32);
    for (let i = 0; i < 3; i++) roundTrip(c, clock, 20, 500);
    const grown = c.limit;
    assert.ok(grown > 8);
    // The server starts queueing: round trips three times the fastest one.
    for (let i = 0; i < 200; i++) roundTrip(c, clock, 60, 500);
    assert.equal(c.limit, 8, 'back to Connections, never below it');
  });

  it('never grows past what the rate limit can use (rate × RTT)', () => {
    const { c, clock } = controller(2, 32, 100);
    for (let i = 0; i < 20; i++) roundTrip(c, clock, 80, 500);
    // 100/s at 80 ms needs 8 in flight; the cap allows for a round trip up to twice that, plus one.
    assert.equal(c.rateCap, 17);
    assert.equal(c.limit, 17);
  });

  it('does not shrink below the start because of the rate cap', () => {
    const { c, clock } = controller(8, 32, 100);
    for (let i = 0; i < 20; i++) roundTrip(c, clock, 20, 500);
    assert.equal(c.rateCap, 5);
    assert.equal(c.limit, 8);
  });

  it('halves on a 429/503 once per round trip, holds still for a while, then recovers', () => {
    const { c, clock } = controller(8, 32);
    for (let i = 0; i < 4; i++) roundTrip(c, clock, 20, 500);
    assert.equal(c.limit, 32);
    assert.equal(c.onHold(), 16);
    assert.equal(c.onHold(), 16, 'a burst of 429s in one round trip halves once');
    clock.t += 25;
    assert.equal(c.onHold(), 8);
    clock.t += 25;
    assert.equal(c.onHold(), 4, 'below Connections when the server keeps refusing');
    // Quiet period: successes with a deep queue do not grow the limit.
    roundTrip(c, clock, 20, 500);
    assert.equal(c.limit, 4);
    clock.t += HOLD_QUIET_MS;
    for (let i = 0; i < 40; i++) roundTrip(c, clock, 20, 500);
    assert.equal(c.limit, 32, 'recovered to Connections, then grew again with the queue');
  });

  it('moves a flow controller: a larger limit starts queued jobs at once', () => {
    const started: number[] = [];
    const flow = new FlowControl<FlowJob & { n: number }>(
      { maxInFlight: 2, maxQueuedMessages: 100, maxQueuedBytes: 1e6, rateLimit: 0 },
      (job) => started.push(job.n),
    );
    for (let n = 0; n < 6; n++) flow.submit({ n, bytes: 1, queued: false });
    assert.deepEqual(started, [0, 1]);
    flow.setLimit(5);
    assert.deepEqual(started, [0, 1, 2, 3, 4], 'in order');
    flow.setLimit(1);
    flow.release();
    flow.release();
    assert.equal(started.length, 5, 'a smaller limit lets slots drain first');
    flow.release();
    flow.release();
    flow.release();
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5]);
  });
});
