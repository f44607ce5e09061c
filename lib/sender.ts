// SPDX-License-Identifier: Apache-2.0
/**
 * The delivery seam: what a producer needs from whatever carries its records. One implementation
 * per way of carrying them (REST v1/v2 through undici, the Kafka protocol through kafkajs) and a
 * decorator for the durable outbox, so that nodes and tests talk to one interface whatever the
 * endpoint is configured for. No Node-RED imports; no transport details leak through it.
 */
import type { EventStreamsError } from './errors';
import type { ClientStats, CloseOptions, ConnectionCheck, ProduceRecord, ProduceResult } from './types';

export interface SendOptions {
  /** Aborting takes the record back if it is not on the wire yet (see {@link Sender.withdraw}). */
  signal?: AbortSignal;
}

/**
 * Carries records to a topic. Every `send()` settles exactly once: with the broker's report, or
 * with an {@link EventStreamsError} whose code and disposition come from the one error model.
 */
export interface Sender {
  /** `rest` (REST Producer API v1/v2) or `kafka` (the Kafka protocol). */
  readonly transport: 'rest' | 'kafka';
  send(topic: string, record: ProduceRecord, options?: SendOptions): Promise<ProduceResult>;
  /**
   * Rejects with code CLOSED every record sent with `signal` that is not on the wire yet, so that
   * a redeploy can hand it to the next instance; returns how many were taken back.
   */
  withdraw(signal: AbortSignal): number;
  /** Counters and state for the node status; cheap, called about once a second. */
  stats(): ClientStats;
  /** What the editor's Test connection button shows: reach, trust, credentials, and produce. */
  testConnection(): Promise<ConnectionCheck>;
  /** Lets in-flight and queued records finish within the deadline, then rejects the rest. */
  close(options?: CloseOptions): Promise<void>;
  readonly closed: boolean;
}

/** The failure a {@link Sender} rejects with. */
export type SendError = EventStreamsError;
