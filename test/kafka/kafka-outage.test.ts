// SPDX-License-Identifier: Apache-2.0
/**
 * Kafka going away and coming back, for real: the shared broker is killed (SIGKILL, as a crash)
 * and started again on the same ports with the same data. The file name sorts after the other
 * Kafka suites, and the broker is always resumed, so the rest of the run is unaffected.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Admin } from 'kafkajs';
import { Agent } from 'undici';
import { isEventStreamsError } from '../../lib/errors';
import { KafkaBackend } from '../../gateway/kafka-backend';
import { startLocalEndpoint, type LocalEndpoint } from '../../gateway/server';
import {
  ENDPOINT_KEY,
  countRecords,
  kafkaClient,
  kafkaOrSkip,
  post,
  uniqueTopic,
  type KafkaHandle,
} from '../support/kafka';
import { createTopicsReady } from '../../lib/kafka-cluster';

describe('KafkaBackend during a Kafka outage (real Kafka)', function () {
  let kafka: KafkaHandle;
  let admin: Admin;
  let backend: KafkaBackend;
  let endpoint: LocalEndpoint | undefined;
  let agent: Agent | undefined;
  let stateDir: string | undefined;

  before(async function () {
    kafka = await kafkaOrSkip(this);
    if (!kafka.instance.kill || !kafka.instance.resume) {
      // KAFKA_BROKERS points at a cluster we must not stop.
      console.log('      outage test skipped: KAFKA_BROKERS is an external cluster');
      this.skip();
    }
    admin = kafkaClient(kafka.brokers).admin();
    await admin.connect();
  });

  after(async function () {
    this.timeout(120_000);
    await backend?.close();
    await agent?.close();
    await endpoint?.stop();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
    await admin?.disconnect().catch(() => {});
    // Whatever happened above, leave a running broker behind for later suites.
    if (kafka?.instance.thaw) await kafka.instance.thaw();
    if (kafka?.instance.resume) await kafka.instance.resume();
  });

  it('fails produce within its deadline when the broker hangs (SIGSTOP), and recovers after SIGCONT', async function () {
    this.timeout(60_000);
    const topic = uniqueTopic('hang');
    await createTopicsReady(admin, { topics: [{ topic, numPartitions: 1 }] });
    const hung = new KafkaBackend({ brokers: kafka.brokers, clientId: 'hang-test' }, undefined, {
      produceTimeoutMs: 2000,
    });
    try {
      await hung.connect();
      await hung.produce(topic, { key: null, value: Buffer.from('before'), headers: [] });
      await kafka.instance.freeze!();
      const t0 = Date.now();
      await assert.rejects(
        hung.produce(topic, { key: null, value: Buffer.from('during'), headers: [] }),
        (err: unknown) => isEventStreamsError(err) && err.code === 'UNAVAILABLE',
      );
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 1500 && elapsed < 5000, `failed after ${elapsed} ms, deadline 2000 ms`);
      await kafka.instance.thaw!();
      const t1 = Date.now();
      for (;;) {
        try {
          await hung.produce(topic, { key: null, value: Buffer.from('after'), headers: [] });
          break;
        } catch (err) {
          assert.ok(isEventStreamsError(err) && err.code === 'UNAVAILABLE', String(err));
          if (Date.now() - t1 > 30_000) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    } finally {
      await kafka.instance.thaw!();
      await hung.close();
    }
  });

  it('backend and HTTP endpoint fail fast (UNAVAILABLE / 503) while Kafka is down, lose nothing acknowledged, and resume by themselves', async function () {
    this.timeout(120_000);
    const topic = uniqueTopic('outage');
    const httpTopic = uniqueTopic('outage-http');
    await createTopicsReady(admin, {
      topics: [
        { topic, numPartitions: 2 },
        { topic: httpTopic, numPartitions: 2 },
      ],
    });
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'esnodes-outage-'));
    endpoint = await startLocalEndpoint({
      port: 0,
      stateDir,
      apiKeys: [ENDPOINT_KEY],
      kafka: { brokers: kafka.brokers, clientId: 'outage-endpoint' },
    });
    agent = new Agent({ connect: { ca: endpoint.caPem! } });
    const ep = endpoint;
    const httpAgent = agent;
    const produceHttp = (i: number) =>
      post(httpAgent, `${ep.url}/topics/${httpTopic}/records?key=h${i}`, `http ${i}`, 'text/plain');
    let httpAcknowledged = 0;
    for (let i = 0; i < 10; i++) {
      assert.equal((await produceHttp(i)).status, 200);
      httpAcknowledged++;
    }
    backend = new KafkaBackend({ brokers: kafka.brokers, clientId: 'outage-test' }, undefined, {
      produceTimeoutMs: 8000,
    });
    await backend.connect();
    const record = (i: number) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`), headers: [] });
    let acknowledged = 0;
    for (let i = 0; i < 10; i++) {
      await backend.produce(topic, record(i));
      acknowledged++;
    }

    await kafka.instance.kill!();
    const t0 = Date.now();
    const during = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => backend.produce(topic, record(100 + i))),
    );
    const elapsed = Date.now() - t0;
    for (const r of during) {
      assert.equal(r.status, 'rejected', 'nothing can be acknowledged while the broker is dead');
      const err = (r as PromiseRejectedResult).reason as unknown;
      assert.ok(
        isEventStreamsError(err) && err.code === 'UNAVAILABLE',
        `expected UNAVAILABLE, got ${String(err)}`,
      );
    }
    assert.ok(elapsed < 10_000, `produce took ${elapsed} ms to fail`);
    const t2 = Date.now();
    const httpDuring = await Promise.all(Array.from({ length: 10 }, (_, i) => produceHttp(100 + i)));
    assert.deepEqual(
      httpDuring.map((r) => r.status),
      new Array(10).fill(503),
      JSON.stringify(httpDuring[0]?.json),
    );
    assert.ok(Date.now() - t2 < 10_000, `HTTP produce took ${Date.now() - t2} ms to fail`);
    console.log(`      (20 produces failed with UNAVAILABLE within ${elapsed} ms)`);

    await kafka.instance.resume!();
    // Same backend object: no reconnect call from the test. The first produce after restart may
    // still meet a stale connection, so a few attempts are allowed.
    const t1 = Date.now();
    let attempts = 0;
    for (;;) {
      attempts++;
      try {
        await backend.produce(topic, record(1000));
        acknowledged++;
        break;
      } catch (err) {
        assert.ok(isEventStreamsError(err) && err.code === 'UNAVAILABLE', String(err));
        if (Date.now() - t1 > 30_000)
          throw new Error(`still failing ${Date.now() - t1} ms after restart: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    console.log(`      (produce resumed after restart in ${Date.now() - t1} ms, ${attempts} attempt(s))`);
    const more = await Promise.all(
      Array.from({ length: 50 }, (_, i) => backend.produce(topic, record(2000 + i))),
    );
    acknowledged += more.length;

    // The endpoint's own backend was never told about the restart either.
    let httpAttempts = 0;
    const t3 = Date.now();
    for (;;) {
      httpAttempts++;
      const r = await produceHttp(1000);
      if (r.status === 200) break;
      assert.equal(r.status, 503, JSON.stringify(r.json));
      if (Date.now() - t3 > 30_000) throw new Error('endpoint still answers 503 30 s after the restart');
      await new Promise((res) => setTimeout(res, 200));
    }
    httpAcknowledged++;
    const httpMore = await Promise.all(Array.from({ length: 30 }, (_, i) => produceHttp(2000 + i)));
    assert.deepEqual(new Set(httpMore.map((r) => r.status)), new Set([200]));
    httpAcknowledged += httpMore.length;
    const httpCounts = await countRecords(kafka.brokers, httpTopic);
    const httpTotal = [...httpCounts.values()].reduce((a, b) => a + b, 0);
    assert.ok(
      httpTotal >= httpAcknowledged && httpTotal <= httpAcknowledged + httpAttempts - 1,
      `Kafka holds ${httpTotal} HTTP records, ${httpAcknowledged} were acknowledged with 200`,
    );

    // Every acknowledged record survived the crash (a killed process loses nothing the kernel
    // already has). A failed attempt after the restart may still have landed (at-least-once).
    const counts = await countRecords(kafka.brokers, topic);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    assert.ok(
      total >= acknowledged && total <= acknowledged + attempts - 1,
      `Kafka holds ${total} records, ${acknowledged} were acknowledged`,
    );
  });
});
