// SPDX-License-Identifier: Apache-2.0
/**
 * The REST transport as a {@link Sender}: records go through the client's produce pipeline
 * (REST Producer API v1 or v2). The client keeps the session (credentials, connection pools,
 * admin, registry); this is the face the delivery seam shows of it.
 */
import type { EventStreamsClient } from './client';
import type { SendOptions, Sender } from './sender';
import type { ClientStats, CloseOptions, ConnectionCheck, ProduceRecord, ProduceResult } from './types';

export class RestSender implements Sender {
  readonly transport = 'rest' as const;

  constructor(private readonly client: EventStreamsClient) {}

  send(topic: string, record: ProduceRecord, options?: SendOptions): Promise<ProduceResult> {
    return this.client.produce(topic, record, options);
  }

  withdraw(signal: AbortSignal): number {
    return this.client.withdraw(signal);
  }

  stats(): ClientStats {
    return this.client.stats();
  }

  testConnection(): Promise<ConnectionCheck> {
    return this.client.testConnection();
  }

  /** Closes the client (its session and pools): a REST sender is its client's only producer. */
  close(options?: CloseOptions): Promise<void> {
    return this.client.close(options);
  }

  get closed(): boolean {
    return this.client.closed;
  }
}
