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
 * CLOSED is not counted as a failure: it is how a redeploy takes records back to hand them to the
 * next instance, which sends them again (and counts them then).
 */
import { performance } from 'node:perf_hooks';

import { dispositionOf } from './error-model';
import { isEventStreamsError } from './errors';
import type { EndpointMetrics } from './metrics';
import { outboxDisposition } from './outbox';
import type { Sender, SendOptions } from './sender';
import type { ClientStats, CloseOptions, ConnectionCheck, ProduceRecord, ProduceResult } from './types';

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
    const start = performance.now();
    return this.inner.send(topic, record, options).then(
      (result) => {
        // The size the transport's one encoding measured (lib/encode.ts, lib/kafka-sender.ts).
        this.metrics.delivery(result.bytes ?? 0, performance.now() - start, result.attempts);
        return result;
      },
      (err: unknown) => {
        const code = isEventStreamsError(err) ? err.code : 'ERROR';
        const message = err instanceof Error ? err.message : String(err);
        if (code === 'CLOSED') throw err;
        if (options?.once && outboxDisposition(err) === 'hold') {
          // The outbox's single attempt: the record stays stored and is tried again later.
          if (dispositionOf(err) === 'hold') this.metrics.hold();
          this.metrics.attemptFailed(code, message, topic);
        } else {
          this.metrics.failure(code, message, isEventStreamsError(err) ? (err.attempts ?? 1) : 1, topic);
        }
        throw err;
      },
    );
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
