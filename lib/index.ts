// SPDX-License-Identifier: Apache-2.0
/**
 * The core's public API: the client, the topic admin, the durable outbox, the error classes and
 * codes, the option and result types, and the Sender seam. The package entry (../index.ts) adds the
 * gateway's start function; the README's "Using the core from code" lists exactly both. The core
 * never imports the gateway (scripts/check-imports.ts). The nodes and tests import modules by path.
 */
export * from './errors';
export * from './types';
export { EventStreamsClient, createTopicAdmin } from './client';
export { AdminRestClient, type AdminRestClientInit } from './admin';
export { Outbox, type OutboxOptions, type OutboxListener, type OutboxStats } from './outbox';
export type { Backlog, Receipt, Sender, SendError, SendOptions } from './sender';
