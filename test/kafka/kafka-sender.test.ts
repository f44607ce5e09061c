// SPDX-License-Identifier: Apache-2.0
/**
 * The Kafka transport (lib/kafka-sender.ts) against real brokers: what it reports equals what
 * Kafka holds (partition, offset, timestamp, key, headers), order per key, batching of records
 * that arrive while a send is in flight, gzip, the error model for broker refusals; then a second
 * broker with TLS listeners as IBM Event Streams has them: SASL_SSL with PLAIN (`token` + API
 * key), SCRAM-SHA-512 and OAUTHBEARER (RS256 JWTs from the local endpoint's IAM, validated by the
 * broker through the endpoint's JWKS), and SSL with client certificates; the consumer over each of them.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import type { Admin } from 'kafkajs';
import { isEventStreamsError, type EventStreamsError } from '../../lib/errors';
import {
  kafkajsProducerPort,
  KafkaSender,
  type KafkaProducerPort,
  type KafkaSenderOptions,
} from '../../lib/kafka-sender';
import { ensureLocalCertificates, issueCertificate } from '../../gateway/certs';
import { startLocalEndpoint, type LocalEndpoint } from '../../gateway/server';
import type { Receipt } from '../../lib/sender';
import type { KafkaClientConfig, ProduceResult } from '../../lib/types';
import { buildKafkaClientConfig } from '../../nodes/shared/kafka-config';
import { normalizeEndpointOptions } from '../../nodes/shared/endpoint-config';
import {
  kafkaPrerequisites,
  LOCAL_SASL_API_KEY,
  LOCAL_SASL_USER,
  startKafka,
  type KafkaInstance,
} from '../../scripts/kafka';
import { kafkaClient, kafkaOrSkip, readAll, uniqueTopic, type KafkaHandle } from '../support/kafka';
import { waitFor } from '../support/wait';
import { EventStreamsConsumer } from '../../lib/consumer';
import { createTopicsReady } from '../../lib/kafka-cluster';

async function rejection(p: Promise<unknown>): Promise<EventStreamsError> {
  return p.then(
    () => assert.fail('expected a rejection'),
    (err: unknown) => {
      assert.ok(isEventStreamsError(err), `not one of ours: ${inspect(err)}`);
      return err;
    },
  );
}

/** The real kafkajs port, counting the requests it is given (to see batching). */
function countingPort(config: KafkaClientConfig): { port: KafkaProducerPort; sends: number[] } {
  const real = kafkajsProducerPort(config, { idempotent: true });
  const sends: number[] = [];
  return {
    sends,
    port: {
      connect: () => real.connect(),
      check: (t) => real.check(t),
      disconnect: () => real.disconnect(),
      send: (batches, o) => {
        sends.push(batches.reduce((n, b) => n + b.records.length, 0));
        return real.send(batches, o);
      },
    },
  };
}

describe('KafkaSender (real Kafka)', function () {
  let kafka: KafkaHandle;
  let view: Admin;
  const senders: KafkaSender[] = [];
  const sender = (options: Partial<KafkaSenderOptions> = {}): KafkaSender => {
    const s = new KafkaSender({
      brokers: kafka.brokers,
      retry: { retries: 2, initialDelayMs: 50 },
      ...options,
    });
    senders.push(s);
    return s;
  };

  before(async function () {
    kafka = await kafkaOrSkip(this);
    view = kafkaClient(kafka.brokers).admin();
    await view.connect();
  });
  afterEach(async function () {
    await Promise.all(senders.splice(0).map((s) => s.close({ deadlineMs: 1000 })));
  });
  after(async function () {
    await view?.disconnect();
  });

  it('reports the partition, offset and timestamp Kafka holds; keys, headers and per-key order intact', async function () {
    this.timeout(60_000);
    const topic = uniqueTopic('ks-report');
    await createTopicsReady(view, { topics: [{ topic, numPartitions: 3 }] });
    const { port, sends } = countingPort({ brokers: kafka.brokers });
    const s = sender({ port });
    const n = 600;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        s.send(topic, {
          key: `device-${i % 7}`,
          value: { seq: i },
          headers: [
            { name: 'h', value: `v${i}` },
            { name: 'h', value: Buffer.from([i % 256]) },
          ],
        }),
      ),
    );
    const read = await readAll(kafka.brokers, topic, n);
    assert.equal(read.length, n);
    const byPos = new Map(read.map((r) => [`${r.partition}/${r.offset}`, r]));
    const lastSeq = new Map<string, number>();
    results.forEach((res, i) => {
      assert.equal(res.topic, topic);
      assert.equal(res.attempts, 1);
      const r = byPos.get(`${res.partition}/${res.offset}`);
      assert.ok(r, `no record at ${res.partition}/${res.offset}`);
      assert.deepEqual(JSON.parse(r.value!.toString()), { seq: i });
      assert.equal(r.key!.toString(), `device-${i % 7}`);
      assert.equal(r.timestamp, res.timestamp);
      assert.deepEqual(
        r.headers.map(([k, v]) => [k, v]),
        [
          ['h', Buffer.from(`v${i}`)],
          ['h', Buffer.from([i % 256])],
        ],
      );
    });
    // Per-key order: within a key, offsets grow with the input order.
    for (const r of read) {
      const key = r.key!.toString();
      const seq = (JSON.parse(r.value!.toString()) as { seq: number }).seq;
      assert.ok((lastSeq.get(key) ?? -1) < seq, `key ${key} out of order at seq ${seq}`);
      lastSeq.set(key, seq);
    }
    // Records arriving while a send was in flight went in few requests, not one each.
    assert.ok(sends.length < n / 10, `${sends.length} requests for ${n} records`);
    assert.equal(
      sends.reduce((a, b) => a + b, 0),
      n,
    );
    assert.equal(s.stats().delivered, n);
  });

  it('submit: each record reported once, to its receipt, with its own context; a receipt that throws spoils nothing', async function () {
    this.timeout(60_000);
    const topic = uniqueTopic('ks-receipt');
    await createTopicsReady(view, { topics: [{ topic, numPartitions: 1 }] });
    const s = sender();
    const n = 300;
    const seen = new Map<number, ProduceResult[]>();
    const failures: Array<[number, EventStreamsError]> = [];
    const receipt: Receipt<number> = {
      delivered(i, result) {
        seen.set(i, [...(seen.get(i) ?? []), result]);
        // A bug in the caller, in the middle of a batch.
        if (i === 7) throw new Error('receipt bug');
      },
      failed(i, err) {
        failures.push([i, err]);
      },
    };
    // The sender rethrows a receipt's exception on its own tick; mocha's handler would fail the test.
    const mochas = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const thrown: Error[] = [];
    process.on('uncaughtException', (e) => thrown.push(e));
    try {
      for (let i = 0; i < n; i++) s.submit(topic, { key: 'k', value: { i } }, undefined, receipt, i);
      // Refused at once, before it is queued: reported synchronously, once.
      s.submit('bad topic!', { value: 'x' }, undefined, receipt, -1);
      assert.equal(failures.length, 1);
      assert.equal(failures[0]![0], -1);
      assert.equal(failures[0]![1].code, 'INVALID_TOPIC');
      await waitFor(() => seen.size === n, `${n} receipts`, { timeoutMs: 30_000 });
      await waitFor(() => thrown.length === 1, 'the receipt bug thrown again');
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const l of mochas) process.on('uncaughtException', l);
    }
    assert.equal(thrown[0]!.message, 'receipt bug');
    assert.equal(failures.length, 1);
    for (let i = 0; i < n; i++) {
      const rs = seen.get(i)!;
      assert.equal(rs.length, 1, `record ${i} reported ${rs.length} times`);
      // One partition: offsets in submit order, none skipped by the exception.
      assert.equal(rs[0]!.offset, i);
    }
    // The sender goes on working.
    const after = await s.send(topic, { value: 'after' });
    assert.equal(after.offset, n);
  });

  it('gzip and a byte bound on batches still deliver every record', async function () {
    this.timeout(60_000);
    const topic = uniqueTopic('ks-gzip');
    await createTopicsReady(view, { topics: [{ topic, numPartitions: 1 }] });
    const { port, sends } = countingPort({ brokers: kafka.brokers });
    const s = sender({ port, compression: 'gzip', maxBatchBytes: 20_000 });
    const value = 'x'.repeat(1000);
    const results = await Promise.all(Array.from({ length: 200 }, () => s.send(topic, { value })));
    assert.deepEqual(
      results.map((r) => r.offset),
      Array.from({ length: 200 }, (_, i) => i),
    );
    assert.ok(Math.max(...sends) <= 20, `a batch of ${Math.max(...sends)} records broke the byte bound`);
    const read = await readAll(kafka.brokers, topic, 200);
    assert.ok(read.every((r) => r.value!.toString() === value));
  });

  it('maps broker refusals through the error model: unknown topic, too large (the rest of the batch still lands)', async function () {
    this.timeout(60_000);
    const missing = await rejection(sender().send(uniqueTopic('ks-missing'), { value: 'x' }));
    assert.equal(missing.code, 'TOPIC_NOT_FOUND');

    const topic = uniqueTopic('ks-large');
    await createTopicsReady(view, {
      topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '2000' }] }],
    });
    const s = sender({ limits: { maxValueBytes: 100_000 } });
    const outcomes = await Promise.allSettled([
      s.send(topic, { value: 'a' }),
      s.send(topic, { value: 'b'.repeat(50_000) }),
      s.send(topic, { value: 'c' }),
    ]);
    assert.equal(outcomes[0]!.status, 'fulfilled');
    assert.equal(outcomes[2]!.status, 'fulfilled');
    assert.equal(outcomes[1]!.status, 'rejected');
    assert.equal(
      ((outcomes[1] as PromiseRejectedResult).reason as EventStreamsError).code,
      'PAYLOAD_TOO_LARGE',
    );
    const read = await readAll(kafka.brokers, topic, 2);
    assert.deepEqual(
      read.map((r) => r.value!.toString()),
      ['a', 'c'],
    );

    const local = await rejection(s.send(topic, { value: 'd'.repeat(100_001) }));
    assert.equal(local.code, 'VALUE_TOO_LARGE');
  });

  it('withdraw takes back records not on the wire yet; close rejects what is left with CLOSED', async function () {
    this.timeout(30_000);
    const topic = uniqueTopic('ks-withdraw');
    await createTopicsReady(view, { topics: [{ topic, numPartitions: 1 }] });
    const s = sender();
    const signal = new AbortController().signal;
    const sent = Array.from({ length: 50 }, (_, i) =>
      s.send(topic, { value: `r${i}` }, { signal }).then(
        () => 'delivered',
        (e: EventStreamsError) => e.code,
      ),
    );
    const taken = s.withdraw(signal);
    const codes = await Promise.all(sent);
    assert.equal(taken, 50);
    assert.ok(codes.every((c) => c === 'WITHDRAWN'));
    await s.close();
    assert.equal((await rejection(s.send(topic, { value: 'late' }))).code, 'CLOSED');
    assert.equal(s.stats().state, 'closed');
  });

  it('an unreachable broker is CONNECTION_FAILED after the retries, counted in attempts', async function () {
    this.timeout(30_000);
    const s = new KafkaSender({
      brokers: ['127.0.0.1:1'],
      connectionTimeoutMs: 500,
      retry: { retries: 1, initialDelayMs: 50, maxRetryTimeMs: 5000 },
    });
    senders.push(s);
    const err = await rejection(s.send('t', { value: 'x' }));
    assert.equal(err.code, 'RETRIES_EXHAUSTED');
    assert.equal((err.cause as EventStreamsError).code, 'CONNECTION_FAILED');
    assert.equal(err.attempts, 2);
    const check = await s.testConnection();
    assert.equal(check.reachable, false);
  });
});

describe('KafkaSender over TLS and SASL_SSL (real Kafka with TLS listeners)', function () {
  let broker: KafkaInstance;
  let endpoint: LocalEndpoint;
  let twin: LocalEndpoint;
  let stateDir: string;
  let caPem: string;
  let client: { cert: string; key: string };
  let admin: Admin;
  let topic: string;
  const senders: KafkaSender[] = [];

  before(async function () {
    this.timeout(240_000);
    const prereq = await kafkaPrerequisites();
    if (!prereq.ok || process.env.KAFKA_BROKERS) {
      const reason = `TLS broker tests skipped: ${prereq.reason ?? 'KAFKA_BROKERS is an external cluster'}`;
      if (process.env.REQUIRE_KAFKA === '1' && !process.env.KAFKA_BROKERS) throw new Error(reason);
      console.log(`      ${reason}`);
      this.skip();
    }
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'esnodes-ks-tls-'));
    const certs = await ensureLocalCertificates(stateDir);
    caPem = certs.ca.cert;
    client = issueCertificate(certs.ca, { commonName: 'esnodes-client', client: true });
    const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    // Two gateways with the same API key and signing key: the broker knows only the first's JWKS.
    endpoint = await startLocalEndpoint({
      port: 0,
      stateDir,
      apiKeys: [LOCAL_SASL_API_KEY],
      iamSigningKey: signing,
    });
    twin = await startLocalEndpoint({
      port: 0,
      stateDir,
      apiKeys: [LOCAL_SASL_API_KEY],
      iamSigningKey: signing,
    });
    broker = await startKafka({
      security: { caPem, server: certs.server, jwksUrl: `${endpoint.url}/identity/keys` },
    });
    admin = kafkaClient(broker.brokers).admin();
    await admin.connect();
    topic = uniqueTopic('ks-tls');
    await createTopicsReady(admin, { topics: [{ topic, numPartitions: 2 }] });
  });
  afterEach(async function () {
    await Promise.all(senders.splice(0).map((s) => s.close({ deadlineMs: 1000 })));
  });
  after(async function () {
    this.timeout(60_000);
    await admin?.disconnect();
    await broker?.stop();
    await endpoint?.stop();
    await twin?.stop();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  });

  const tlsSender = (options: Partial<KafkaSenderOptions>): KafkaSender => {
    const s = new KafkaSender({
      brokers: broker.saslSslBrokers!,
      ssl: { ca: caPem },
      retry: { retries: 0 },
      ...options,
    });
    senders.push(s);
    return s;
  };

  async function sendAndRead(s: KafkaSender, value: string): Promise<void> {
    const res = await s.send(topic, { key: 'k', value });
    assert.equal(await readAt(res.partition!, res.offset!), value);
  }

  /** The value at one partition/offset, read over the plaintext listener by an independent consumer. */
  async function readAt(partition: number, offset: number): Promise<string> {
    const consumer = kafkaClient(broker.brokers).consumer({ groupId: uniqueTopic('g') });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      return await new Promise<string>((resolve, reject) => {
        consumer
          .run({
            eachMessage: async ({ partition: p, message }) => {
              if (p === partition && Number(message.offset) === offset) resolve(message.value!.toString());
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
  }

  /** The endpoint node's Kafka config, as nodes/shared/kafka-config.ts builds it for the node. */
  const nodeConfig = (saslMechanism: string, iamUrl?: string): KafkaClientConfig =>
    buildKafkaClientConfig(
      normalizeEndpointOptions({
        brokers: broker.saslSslBrokers!.join(','),
        authMode: 'iam',
        saslMechanism,
        ...(iamUrl ? { iamUrl } : {}),
      }),
      { apiKey: LOCAL_SASL_API_KEY, ca: caPem },
    );

  it('PLAIN with user token and the API key (IBM Cloud), from the endpoint config', async function () {
    this.timeout(60_000);
    await sendAndRead(tlsSender(nodeConfig('plain')), 'over PLAIN');
  });

  it('SASL none from the endpoint config: the PLAINTEXT listener, no SASL even with an API key set', async function () {
    this.timeout(60_000);
    const config = buildKafkaClientConfig(
      normalizeEndpointOptions({
        brokers: broker.brokers.join(','),
        authMode: 'bearer',
        saslMechanism: 'none',
        brokersTls: false,
      }),
      { apiKey: LOCAL_SASL_API_KEY },
    );
    assert.equal(config.sasl, undefined);
    const s = new KafkaSender({ ...config, retry: { retries: 0 } });
    senders.push(s);
    await sendAndRead(s, 'over PLAINTEXT without SASL');
  });

  it('SCRAM-SHA-512 with a username and password (on-prem)', async function () {
    this.timeout(60_000);
    await sendAndRead(tlsSender({ sasl: { mechanism: 'scram-sha-512', ...LOCAL_SASL_USER } }), 'over SCRAM');
  });

  it('OAUTHBEARER with an IAM token from the API key; a token from another gateway with the same keys works too', async function () {
    this.timeout(60_000);
    // From the endpoint config (mechanism oauthbearer, the gateway's IAM URL, the CA field).
    await sendAndRead(tlsSender(nodeConfig('oauthbearer', endpoint.iamUrl)), 'over OAUTHBEARER');
    await sendAndRead(
      tlsSender({
        sasl: {
          mechanism: 'oauthbearer',
          apiKey: LOCAL_SASL_API_KEY,
          iamUrl: twin.iamUrl,
          iamTls: { ca: caPem },
        },
      }),
      'over OAUTHBEARER from the twin gateway',
    );
  });

  it('mutual TLS on the SSL listener with a client certificate from the CA', async function () {
    this.timeout(60_000);
    await sendAndRead(tlsSender({ brokers: broker.sslBrokers!, ssl: { ca: caPem, ...client } }), 'over mTLS');
  });

  it('the consumer reads over every secured listener: PLAIN, SCRAM-SHA-512, OAUTHBEARER (IAM) and mutual TLS', async function () {
    this.timeout(180_000);
    // The consumer node builds its kafkajs client from the same endpoint config as the producer
    // (buildKafkaClientConfig); each mechanism must reach the records, not only produce them.
    const ctopic = uniqueTopic('ks-tls-consume');
    await createTopicsReady(admin, { topics: [{ topic: ctopic, numPartitions: 1 }] });
    const producer = tlsSender(nodeConfig('plain'));
    await producer.send(ctopic, { key: 'k', value: 'secured-0' });
    const configs: Array<[string, KafkaClientConfig]> = [
      ['PLAIN', nodeConfig('plain')],
      [
        'SCRAM-SHA-512',
        {
          brokers: broker.saslSslBrokers!,
          ssl: { ca: caPem },
          sasl: { mechanism: 'scram-sha-512', ...LOCAL_SASL_USER },
        },
      ],
      ['OAUTHBEARER', nodeConfig('oauthbearer', endpoint.iamUrl)],
      ['mTLS', { brokers: broker.sslBrokers!, ssl: { ca: caPem, ...client } }],
    ];
    for (const [name, kafka] of configs) {
      const seen: string[] = [];
      const consumer = new EventStreamsConsumer(
        {
          kafka,
          groupId: uniqueTopic(`g-${name}`),
          topics: ctopic,
          fromBeginning: true,
          valueFormat: 'string',
          maxInFlight: 10,
          commitIntervalMs: 1000,
          manualCommit: false,
          lagIntervalMs: 0,
        },
        (record, settle) => {
          seen.push(String(record.value));
          settle();
        },
      );
      try {
        await consumer.start();
        await waitFor(() => seen.includes('secured-0'), `the record read over ${name}`, {
          timeoutMs: 60_000,
        });
      } finally {
        await consumer.close(5000);
      }
    }
  });

  it('wrong password → AUTHENTICATION_FAILED, secret-free; wrong CA → TLS_FAILED; Test connection says which', async function () {
    this.timeout(60_000);
    const password = 'wrong-scram-password-xyz';
    const bad = tlsSender({
      sasl: { mechanism: 'scram-sha-512', username: LOCAL_SASL_USER.username, password },
    });
    const err = await rejection(bad.send(topic, { value: 'x' }));
    assert.equal(err.code, 'AUTHENTICATION_FAILED');
    assert.ok(!inspect(err).includes(password));
    const check = await bad.testConnection();
    assert.equal(check.authenticated, false);

    const foreign = await ensureLocalCertificates(path.join(stateDir, 'other-ca'));
    const untrusted = tlsSender({
      ssl: { ca: foreign.ca.cert },
      sasl: { mechanism: 'plain', username: 'token', password: LOCAL_SASL_API_KEY },
    });
    const tlsErr = await rejection(untrusted.send(topic, { value: 'x' }));
    assert.equal(tlsErr.code, 'TLS_FAILED');
    assert.equal((await untrusted.testConnection()).tlsTrusted, false);

    const badKey = tlsSender({
      sasl: { mechanism: 'oauthbearer', apiKey: 'not-a-key', iamUrl: endpoint.iamUrl, iamTls: { ca: caPem } },
    });
    const iamErr = await rejection(badKey.send(topic, { value: 'x' }));
    assert.equal(iamErr.code, 'AUTHENTICATION_FAILED');
  });
});
