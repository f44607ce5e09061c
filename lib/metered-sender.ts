// SPDX-License-Identifier: Apache-2.0
/**
 * A {@link Sender} decorator that feeds {@link EndpointMetrics}: latency from hand-over to
 * acknowledgement, bytes, retries and failures, per endpoint. It wraps the transport's sender
 * (REST or Kafka), under the outbox when there is one, so that a record counts as delivered when
 * the broker has it, not when it was spooled.
 *
 * Under the outbox (`once` sends) a failed attempt whose record stays stored is a retry, not a
 * failure; only a record the outbox drops is one.
 *
 * CLOSED and WITHDRAWN are not counted as failures: they are how a redeploy takes records back to
 * hand them to the next instance, which sends them again (and counts them then).
 */
import { performance } from 'node:perf_hooks';

import { dispositionOf } from './error-model';
import { type EventStreamsError, isEventStreamsError } from './errors';
import type { EndpointMetrics } from './metrics';
import { outboxDisposition } from './outbox';
import { type Receipt, type Sender, type SendOptions, sendBySubmit } from './sender';
import type { ClientStats, CloseOptions, ConnectionCheck, ProduceRecord, ProduceResult } from './types';

/** One record on its way through the decorator: what its outcome needs to be counted. */
interface Metered<C> {
  metrics: EndpointMetrics;
  topic: string;
  once: boolean;
  start: number;
  receipt: Receipt<C>;
  ctx: C;
}

/** Counts the outcome, then passes it on (one receipt for every record: no closure per record). */
const METERED: Receipt<Metered<unknown>> = {
  delivered(m, result) {
    // The size the transport's one encoding measured (lib/encode.ts, lib/kafka-sender.ts).
    m.metrics.delivery(result.bytes ?? 0, performance.now() - m.start, result.attempts);
    m.receipt.delivered(m.ctx, result);
  },
  failed(m, err: EventStreamsError) {
    const code = isEventStreamsError(err) ? err.code : 'ERROR';
    if (code !== 'CLOSED' && code !== 'WITHDRAWN') {
      const message = err instanceof Error ? err.message : String(err);
      if (m.once && outboxDisposition(err) === 'hold') {
        // The outbox's single attempt: the record stays stored and is tried again later.
        if (dispositionOf(err) === 'hold') m.metrics.hold();
        m.metrics.attemptFailed(code, message, m.topic);
      } else {
        m.metrics.failure(code, message, isEventStreamsError(err) ? (err.attempts ?? 1) : 1, m.topic);
      }
    }
    m.receipt.failed(m.ctx, err);
  },
  stored(m) {
    m.receipt.stored?.(m.ctx);
  },
};

export class MeteredSender implements Sender {
  constructor(
    private readonly inner: Sender,
    readonly metrics: EndpointMetrics,
  ) {}

  get transport(): Sender['transport'] {
    return this.inner.transport;
  }

  get closed(): boolean {
    return this.inner.closed;
  }

  send(topic: string, record: ProduceRecord, options?: SendOptions): Promise<ProduceResult> {
    return sendBySubmit(this, topic, record, options);
  }

  submit<C>(
    topic: string,
    record: ProduceRecord,
    options: SendOptions | undefined,
    receipt: Receipt<C>,
    ctx: C,
  ): void {
    const m: Metered<C> = {
      metrics: this.metrics,
      topic,
      once: options?.once === true,
      start: performance.now(),
      receipt,
      ctx,
    };
    this.inner.submit(topic, record, options, METERED as Receipt<Metered<C>>, m);
  }

  withdraw(signal: AbortSignal): number {
    return this.inner.withdraw(signal);
  }

  stats(): ClientStats {
    return this.inner.stats();
  }

  testConnection(): Promise<ConnectionCheck> {
    return this.inner.testConnection();
  }

  close(options?: CloseOptions): Promise<void> {
    return this.inner.close(options);
  }
}
