// SPDX-License-Identifier: Apache-2.0
/**
 * Retry policy, shared by the client's produce path, admin/IAM calls and the outbox: which errors
 * are retried (the error model's disposition, lib/error-model.ts), how long to wait (exponential
 * backoff with jitter, capped; a server's Retry-After honoured, with jitter too), and when to
 * give up.
 *
 * **At-least-once.** A produce is a POST, and a POST that timed out or lost its connection may
 * already have been written by the server. Retrying it can therefore write the record twice.
 * The REST Producer API has no idempotence key, so duplicates after timeouts and connection
 * failures are possible by design; consumers that cannot tolerate them must de-duplicate (for
 * example on a key or header the producer sets). Set `retry.retries: 0` for at-most-once.
 */
import { CORE_DEFAULTS, ENDPOINT_FIELD_DEFAULTS, ms } from './defaults';
import { dispositionOf } from './error-model';
import { ClosedError, type EventStreamsError, RetriesExhaustedError } from './errors';
import type { RetryOptions } from './types';
import { positiveInt } from './validate';

/** {@link RetryOptions} with every default filled in. */
export interface RetryPolicy {
  retries: number;
  initialDelayMs: number;
  maxDelayMs: number;
  maxRetryTimeMs: number;
}

/** The values and their reasons are in lib/defaults.ts. */
export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({
  retries: ENDPOINT_FIELD_DEFAULTS.retries.value,
  initialDelayMs: ms(ENDPOINT_FIELD_DEFAULTS.retryDelay),
  maxDelayMs: ms(CORE_DEFAULTS.maxRetryDelay),
  maxRetryTimeMs: ms(ENDPOINT_FIELD_DEFAULTS.maxRetryTime),
});

/**
 * Fills in defaults and checks the values (`INVALID_CONFIG`). Tests pass tiny delays here
 * (e.g. `{initialDelayMs: 1, maxDelayMs: 5}`); nothing else in the client sleeps.
 */
export function resolveRetryPolicy(options: RetryOptions | undefined): RetryPolicy {
  const o = options ?? {};
  const initialDelayMs = positiveInt(
    o.initialDelayMs,
    'retry.initialDelayMs',
    DEFAULT_RETRY.initialDelayMs,
    true,
  );
  return {
    retries: positiveInt(o.retries, 'retry.retries', DEFAULT_RETRY.retries, true),
    initialDelayMs,
    maxDelayMs: Math.max(
      initialDelayMs,
      positiveInt(o.maxDelayMs, 'retry.maxDelayMs', DEFAULT_RETRY.maxDelayMs, true),
    ),
    maxRetryTimeMs: positiveInt(o.maxRetryTimeMs, 'retry.maxRetryTimeMs', DEFAULT_RETRY.maxRetryTimeMs, true),
  };
}

/**
 * The wait before retry number `retry` (1 = first retry): `initial * 2^(retry-1)`, capped at
 * `maxDelayMs`, with "equal jitter" (half fixed, half random) so that many clients hit by the
 * same outage do not retry in lockstep. A server's Retry-After replaces the computed delay (with
 * up to 20% added at random, at most 1 s, so that requests held by the same 429 storm do not all
 * come back in the same millisecond) but is still capped by `maxDelayMs`, so one bad header
 * cannot stall a record for hours.
 */
export function backoffDelay(
  policy: RetryPolicy,
  retry: number,
  err: EventStreamsError | undefined,
  random: () => number = Math.random,
): number {
  const retryAfter = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  if (typeof retryAfter === 'number' && retryAfter >= 0) {
    const jitter = Math.min(retryAfter * 0.2, 1000) * random();
    return Math.round(Math.min(retryAfter + jitter, policy.maxDelayMs));
  }
  const exp = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(retry - 1, 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/**
 * The delay before the next attempt, or `undefined` when `err` must be final: its disposition is
 * `fail`, the retries are used up, or waiting would pass `maxRetryTimeMs` since `startedAt`.
 * `attempts` is the number of requests already made.
 */
export function nextRetryDelay(
  policy: RetryPolicy,
  err: EventStreamsError,
  attempts: number,
  startedAt: number,
  now: number = Date.now(),
): number | undefined {
  if (dispositionOf(err) === 'fail') return undefined;
  if (attempts > policy.retries) return undefined;
  const delay = backoffDelay(policy, attempts, err);
  if (now + delay - startedAt > policy.maxRetryTimeMs) return undefined;
  return delay;
}

/**
 * The error a caller sees when `err` is final after `attempts` requests: the error itself with
 * `attempts` set when it is not retriable, or a {@link RetriesExhaustedError} wrapping it.
 */
export function finalError(err: EventStreamsError, attempts: number): EventStreamsError {
  if (!err.retriable || attempts <= 1) {
    err.attempts = attempts;
    return err;
  }
  return new RetriesExhaustedError(`Gave up after ${attempts} attempts: ${err.message}`, err, attempts);
}

/** Resolves after `ms`, or rejects with `abortError()` when `signal` fires first. */
export function sleep(ms: number, signal?: AbortSignal, abortError?: () => Error): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError ? abortError() : new ClosedError('Aborted.'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError ? abortError() : new ClosedError('Aborted.'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryHooks {
  signal?: AbortSignal;
  /** Called before each wait, e.g. to count retries or mark a state. */
  onRetry?: (err: EventStreamsError, delayMs: number, attempt: number) => void;
  /** Turns anything thrown into an EventStreamsError (non-package errors are final). */
  normalize?: (err: unknown) => EventStreamsError;
}

/**
 * Runs `fn` until it succeeds or its error is final (see {@link nextRetryDelay}); used for
 * admin calls and IAM exchanges. The produce path has its own loop in the client so that it can
 * hold flow-control slots without a closure per record. The final error carries `attempts`.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  fn: (attempt: number) => Promise<T>,
  hooks: RetryHooks = {},
): Promise<T> {
  const startedAt = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (raw) {
      const err = hooks.normalize ? hooks.normalize(raw) : (raw as EventStreamsError);
      if (typeof (err as { retriable?: unknown }).retriable !== 'boolean') throw raw;
      const delay = nextRetryDelay(policy, err, attempt, startedAt);
      if (delay === undefined) throw finalError(err, attempt);
      hooks.onRetry?.(err, delay, attempt);
      await sleep(delay, hooks.signal);
    }
  }
}
