// SPDX-License-Identifier: Apache-2.0
/**
 * The diagnostics channels, subscribed for real: a produce through the client against the local
 * endpoint (HTTPS, verification on) shows up as a start and an end with the same id, and the
 * endpoint's own request as a gateway message; a 503 with Retry-After shows as a hold.
 */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { EventStreamsClient } from '../../lib/client';
import {
  CHANNEL_NAMES,
  type GatewayRequestMessage,
  type ProduceEndMessage,
  type ProduceRetryMessage,
  type ProduceStartMessage,
} from '../../lib/diagnostics';
import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';

const KEY = 'diagnostics-key-0123456789';

describe('diagnostics channels', () => {
  let dir: string;
  let ep: LocalEndpoint;
  let client: EventStreamsClient;
  const seen: Record<string, unknown[]> = {};
  const listeners = Object.fromEntries(
    Object.values(CHANNEL_NAMES).map((name) => [name, (m: unknown) => (seen[name] ??= []).push(m)]),
  );

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'es-diag-'));
    ep = await startLocalEndpoint({ port: 0, stateDir: dir, apiKeys: [KEY] });
    client = new EventStreamsClient({
      url: ep.url,
      auth: { mode: 'bearer', apiKey: KEY },
      tls: { ca: ep.caPem! },
      retry: { retries: 2, initialDelayMs: 1, maxDelayMs: 20 },
    });
    for (const [name, fn] of Object.entries(listeners)) subscribe(name, fn);
  });
  after(async () => {
    for (const [name, fn] of Object.entries(listeners)) unsubscribe(name, fn);
    await client.close({ deadlineMs: 0 });
    await ep.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a produce: start and end with the same id, topic, partition, offset, attempts, bytes and duration', async () => {
    const topic = `diag-${process.pid}`;
    await ep.backend.createTopic(topic, 1, []);
    const r = await client.produce(topic, { value: 'hello', key: 'k' });
    const start = (seen[CHANNEL_NAMES.produceStart] ?? []) as ProduceStartMessage[];
    const end = (seen[CHANNEL_NAMES.produceEnd] ?? []) as ProduceEndMessage[];
    assert.equal(start.length, 1);
    assert.equal(end.length, 1);
    assert.equal(end[0]!.id, start[0]!.id);
    assert.equal(start[0]!.topic, topic);
    assert.equal(start[0]!.transport, 'rest');
    assert.ok(start[0]!.bytes >= 5);
    assert.equal(end[0]!.partition, r.partition);
    assert.equal(end[0]!.offset, r.offset);
    assert.equal(end[0]!.attempts, 1);
    assert.equal(end[0]!.errorCode, undefined);
    assert.ok(end[0]!.durationMs >= 0);
    const gw = (seen[CHANNEL_NAMES.gatewayRequest] ?? []) as GatewayRequestMessage[];
    assert.ok(gw.some((m) => m.route === 'produce' && m.method === 'POST' && m.statusCode === 200));
  });

  it('a 429 with Retry-After: a hold on produce:retry, then the end after two attempts', async () => {
    const topic = `diag-hold-${process.pid}`;
    await ep.backend.createTopic(topic, 1, []);
    ep.setFaults([{ status429RetryAfterSec: 0, count: 1, route: 'produce' }]);
    await client.produce(topic, { value: 'again' });
    const retry = (seen[CHANNEL_NAMES.produceRetry] ?? []) as ProduceRetryMessage[];
    assert.equal(retry.length, 1);
    assert.equal(retry[0]!.disposition, 'hold');
    assert.equal(retry[0]!.errorCode, 'RATE_LIMITED');
    const end = (seen[CHANNEL_NAMES.produceEnd] ?? []) as ProduceEndMessage[];
    assert.equal(end.at(-1)!.attempts, 2);
  });
});
