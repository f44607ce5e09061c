// SPDX-License-Identifier: Apache-2.0
/**
 * `node:diagnostics_channel` channels: what a metrics or tracing layer subscribes to, without
 * the core knowing about it. Every publisher checks `hasSubscribers` before it builds a payload,
 * so with nobody listening a channel costs one property read. Names and payloads are documented
 * in the README ("Diagnostics channels"); they are part of the public surface.
 *
 * Spans: `produce:start` and `produce:end` share `id` (per process); `durationMs` is from
 * acceptance (queue time included) to settlement. Counters: bytes, attempts, error codes on
 * `produce:end`; retries and holds on `produce:retry`; drops on `outbox:drop`; the local
 * endpoint's requests on `gateway:request`.
 */
import { channel } from 'node:diagnostics_channel';

export const CHANNEL_NAMES = {
  produceStart: 'esnodes:event-streams:produce:start',
  produceEnd: 'esnodes:event-streams:produce:end',
  produceRetry: 'esnodes:event-streams:produce:retry',
  outboxDrop: 'esnodes:event-streams:outbox:drop',
  gatewayRequest: 'esnodes:event-streams:gateway:request',
} as const;

/** A record was accepted by a sender (validated, encoded, queued or started). */
export interface ProduceStartMessage {
  id: number;
  transport: 'rest' | 'kafka';
  topic: string;
  /** Bytes the record holds while queued (REST: body plus request target). */
  bytes: number;
  /** One attempt only (the outbox's sends). */
  once: boolean;
}

/** A record settled: delivered (partition, offset) or failed (errorCode). */
export interface ProduceEndMessage {
  id: number;
  transport: 'rest' | 'kafka';
  topic: string;
  bytes: number;
  attempts: number;
  /** From acceptance to settlement, in milliseconds (queue and retries included). */
  durationMs: number;
  partition?: number;
  offset?: number;
  /** The error model's code when it failed (WITHDRAWN: handed to the next instance of a node). */
  errorCode?: string;
  statusCode?: number;
}

/** An attempt failed and the record will be sent again after `delayMs`. */
export interface ProduceRetryMessage {
  id: number;
  transport: 'rest' | 'kafka';
  topic: string;
  /** Attempts made so far. */
  attempt: number;
  delayMs: number;
  /** `retry` keeps the in-flight slot; `hold` (429/503) gives it back while waiting. */
  disposition: 'retry' | 'hold';
  errorCode: string;
  statusCode?: number;
}

/** The outbox removed a stored record it can never deliver (the server rejected the record). */
export interface OutboxDropMessage {
  topic: string;
  seq: number;
  errorCode: string;
  statusCode?: number;
}

/** The local endpoint answered a request. */
export interface GatewayRequestMessage {
  method: string;
  /** `produce`, `admin`, `iam`, `registry`, `local` or `other` (never the raw path). */
  route: string;
  statusCode: number;
  durationMs: number;
}

export const produceStart = channel(CHANNEL_NAMES.produceStart);
export const produceEnd = channel(CHANNEL_NAMES.produceEnd);
export const produceRetry = channel(CHANNEL_NAMES.produceRetry);
export const outboxDrop = channel(CHANNEL_NAMES.outboxDrop);
export const gatewayRequest = channel(CHANNEL_NAMES.gatewayRequest);

let lastId = 0;
/** The next span id (per process). */
export function nextProduceId(): number {
  lastId = lastId === Number.MAX_SAFE_INTEGER ? 1 : lastId + 1;
  return lastId;
}
