// SPDX-License-Identifier: Apache-2.0
import assert from 'node:assert/strict';

import { BadRequestError, RateLimitedError, UnavailableError } from '../../lib/errors';
import { FlowControl, type FlowJob, TokenBucket } from '../../lib/flow';
import { backoffDelay, finalError, nextRetryDelay, resolveRetryPolicy, withRetry } from '../../lib/retry';

describe('retry policy', () => {
  const policy = resolveRetryPolicy({
    retries: 3,
    initialDelayMs: 100,
    maxDelayMs: 1000,
    maxRetryTimeMs: 5000,
  });

  it('backs off exponentially with equal jitter, capped', () => {
    assert.equal(
      backoffDelay(policy, 1, undefined, () => 0),
      50,
    );
    assert.equal(
      backoffDelay(policy, 1, undefined, () => 1),
      100,
    );
    assert.equal(
      backoffDelay(policy, 3, undefined, () => 1),
      400,
    );
    assert.equal(
      backoffDelay(policy, 10, undefined, () => 1),
      1000,
    );
    assert.equal(
      backoffDelay(policy, 10, undefined, () => 0),
      500,
    );
  });

  it('uses Retry-After instead, with up to 20% jitter, capped by maxDelayMs', () => {
    const ra = new RateLimitedError('x', { retryAfterMs: 300 });
    assert.equal(
      backoffDelay(policy, 1, ra, () => 0),
      300,
    );
    assert.equal(
      backoffDelay(policy, 1, ra, () => 1),
      360,
    );
    assert.equal(backoffDelay(policy, 1, new RateLimitedError('x', { retryAfterMs: 60_000 })), 1000);
  });

  it('gives up on non-retriable errors, after the retries, and past the total time', () => {
    const now = 1_000_000;
    assert.equal(nextRetryDelay(policy, new BadRequestError('x'), 1, now, now), undefined);
    assert.ok(nextRetryDelay(policy, new UnavailableError('x'), 3, now, now) !== undefined);
    assert.equal(nextRetryDelay(policy, new UnavailableError('x'), 4, now, now), undefined);
    assert.equal(nextRetryDelay(policy, new UnavailableError('x'), 1, now - 4990, now), undefined);
  });

  it('wraps exhausted retriable errors and stamps attempts on final ones', () => {
    const last = new UnavailableError('down', { statusCode: 503 });
    const e = finalError(last, 4);
    assert.equal(e.code, 'RETRIES_EXHAUSTED');
    assert.equal(e.cause, last);
    assert.equal(e.attempts, 4);
    const bad = finalError(new BadRequestError('no'), 1);
    assert.equal(bad.code, 'BAD_REQUEST');
    assert.equal(bad.attempts, 1);
  });

  it('withRetry retries until success', async () => {
    let calls = 0;
    const out = await withRetry(resolveRetryPolicy({ initialDelayMs: 1, maxDelayMs: 2 }), async () => {
      if (++calls < 3) throw new UnavailableError('x');
      return 'ok';
    });
    assert.equal(out, 'ok');
    assert.equal(calls, 3);
  });

  it('rejects bad retry options', () => {
    assert.throws(() => resolveRetryPolicy({ retries: -1 }), { code: 'INVALID_CONFIG' });
    assert.throws(() => resolveRetryPolicy({ initialDelayMs: 1.5 }), { code: 'INVALID_CONFIG' });
  });
});

describe('flow control', () => {
  it('token bucket: a tenth of a second of burst, then the rate', () => {
    let now = 0;
    const b = new TokenBucket(100, () => now);
    for (let i = 0; i < 10; i++) assert.equal(b.take(), 0);
    assert.equal(b.take(), 10);
    now += 10;
    assert.equal(b.take(), 0);
    const lite = new TokenBucket(5, () => now);
    assert.equal(lite.take(), 0);
    assert.equal(lite.take(), 200);
  });

  interface J extends FlowJob {
    id: number;
  }
  const job = (id: number, bytes = 10): J => ({ id, bytes, queued: false });

  it('starts up to maxInFlight, queues the rest in order, frees slots on release', () => {
    const started: number[] = [];
    const flow = new FlowControl<J>(
      { maxInFlight: 2, maxQueuedMessages: 3, maxQueuedBytes: 1000, rateLimit: 0 },
      (j) => started.push(j.id),
    );
    for (let i = 1; i <= 5; i++) flow.submit(job(i));
    assert.deepEqual(started, [1, 2]);
    assert.equal(flow.queued, 3);
    assert.equal(flow.queuedBytes, 30);
    assert.throws(() => flow.submit(job(6)), { code: 'QUEUE_FULL' });
    assert.equal(flow.queued, 3);
    flow.release();
    assert.deepEqual(started, [1, 2, 3]);
    const j5 = job(7);
    flow.submit(j5);
    assert.equal(flow.remove(j5), true);
    assert.equal(flow.queued, 2);
    assert.deepEqual(
      flow.drain().map((j) => j.id),
      [4, 5],
    );
    assert.equal(flow.queued, 0);
    assert.equal(flow.queuedBytes, 0);
  });
});
