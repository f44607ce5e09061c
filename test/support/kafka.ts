// SPDX-License-Identifier: Apache-2.0
/**
 * One real Kafka broker per mocha run, shared by every Kafka test file and started on first use.
 *
 * - `KAFKA_BROKERS=host:port,...` uses an existing cluster (outage tests then skip).
 * - Otherwise scripts/kafka.ts starts a single-node KRaft broker (Java 17 + Maven or KAFKA_HOME).
 * - Without prerequisites the suites skip with the reason printed, unless `REQUIRE_KAFKA=1`, in which
 *   case they fail so that CI cannot silently lose the suite.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Consumer, type KafkaMessage } from 'kafkajs';
import { request, type Agent } from 'undici';
import { kafkaPrerequisites, startKafka, type KafkaInstance } from '../../scripts/kafka';
import { createTopicsReady } from '../../lib/kafka-cluster';

export interface KafkaHandle {
  brokers: string[];
  instance: KafkaInstance;
}

let starting: Promise<KafkaHandle | undefined> | undefined;
let started: KafkaInstance | undefined;
let unavailableReason = '';

/** The shared broker, or undefined when Kafka cannot be had here (see {@link kafkaUnavailableReason}). */
export function getKafka(): Promise<KafkaHandle | undefined> {
  starting ??= (async () => {
    const prereq = await kafkaPrerequisites();
    if (!prereq.ok) {
      unavailableReason = prereq.reason ?? 'prerequisites missing';
      return undefined;
    }
    const t0 = Date.now();
    const instance = await startKafka({
      log: (line) => {
        if (process.env.KAFKA_TEST_LOG === '1' || /download/.test(line)) console.log(`      ${line}`);
      },
    });
    started = instance;
    if (!instance.external)
      console.log(`      (kafka broker ${instance.brokers.join(',')} up in ${Date.now() - t0} ms)`);
    return { brokers: instance.brokers, instance };
  })();
  return starting;
}

export function kafkaUnavailableReason(): string {
  return unavailableReason;
}

/**
 * For a `before` hook: the shared broker, or `this.skip()` with the reason printed (a failure
 * instead when REQUIRE_KAFKA=1).
 */
export async function kafkaOrSkip(ctx: Mocha.Context): Promise<KafkaHandle> {
  ctx.timeout(240_000); // the first run may download the broker's jars
  const kafka = await getKafka();
  if (kafka) return kafka;
  const reason = `Kafka suite skipped: ${unavailableReason}`;
  if (process.env.REQUIRE_KAFKA === '1') throw new Error(`${reason} — but REQUIRE_KAFKA=1`);
  console.log(`      ${reason}`);
  ctx.skip();
  throw new Error('unreachable');
}

// Root-level hook: registered when a test file imports this module during mocha's loading phase.
if (typeof after === 'function') {
  after(async function () {
    this.timeout(60_000);
    if (started) {
      const s = started;
      started = undefined;
      await s.stop();
    }
  });
}

/** What {@link useKafkaView} gives a suite. */
export interface KafkaView {
  /** The shared broker, from the suite's `before` hook. */
  readonly kafka: KafkaHandle;
  /** A kafkajs admin of the suite's own, for making topics and checking Kafka directly. */
  readonly view: Admin;
  /** A topic of its own (named from `prefix`), returned once its leaders are elected. */
  createTopic(prefix: string, partitions: number): Promise<string>;
}

/**
 * The set-up the suites against the real broker share: the broker (or the suite skipped, see
 * {@link kafkaOrSkip}) and a connected admin, from `before` hooks registered in the calling
 * `describe` (so they run ahead of the suite's own), the admin disconnected in `after`.
 */
export function useKafkaView(): KafkaView {
  let kafka: KafkaHandle | undefined;
  let view: Admin | undefined;
  before(async function () {
    kafka = await kafkaOrSkip(this);
    view = kafkaClient(kafka.brokers).admin();
    await view.connect();
  });
  after(async () => {
    await view?.disconnect();
  });
  const self: KafkaView = {
    get kafka(): KafkaHandle {
      if (!kafka) throw new Error('the broker is found in the suite’s before hook');
      return kafka;
    },
    get view(): Admin {
      if (!view) throw new Error('the admin connects in the suite’s before hook');
      return view;
    },
    async createTopic(prefix, partitions) {
      const topic = uniqueTopic(prefix);
      await createTopicsReady(self.view, { topics: [{ topic, numPartitions: partitions }] });
      return topic;
    },
  };
  return self;
}

/** A topic name no other test (or earlier run against the same cluster) uses. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** A quiet kafkajs client for checking what really landed in Kafka. */
export function kafkaClient(brokers: string[]): Kafka {
  return new Kafka({
    clientId: 'esnodes-test-reader',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

export interface ReadRecord {
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[string, Buffer]>;
  timestamp: number;
}

function headersOf(message: KafkaMessage): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) if (v !== undefined) out.push([name, Buffer.isBuffer(v) ? v : Buffer.from(v)]);
  }
  return out;
}

/**
 * Reads a topic from the beginning with an independent kafkajs consumer until `count` records
 * arrived (or `timeoutMs` passed), and returns them sorted by partition and offset.
 */
export async function readAll(
  brokers: string[],
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<ReadRecord[]> {
  const consumer: Consumer = kafkaClient(brokers).consumer({
    groupId: `reader-${randomBytes(6).toString('hex')}`,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    maxWaitTimeInMs: 100,
    retry: { retries: 3 },
  });
  const records: ReadRecord[] = [];
  const seen = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      if (count === 0) {
        resolve();
        return;
      }
      timer = setTimeout(
        () =>
          reject(new Error(`read ${records.length} of ${count} records from ${topic} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            // A rebalance while joining can deliver a record twice; keep each offset once.
            const id = `${partition}/${message.offset}`;
            if (seen.has(id)) return;
            seen.add(id);
            records.push({
              partition,
              offset: Number(message.offset),
              key: message.key,
              value: message.value,
              headers: headersOf(message),
              timestamp: Number(message.timestamp),
            });
            if (records.length >= count) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    // Cleared on every way out: a failed run would otherwise leave it pending for `timeoutMs`.
    clearTimeout(timer);
    await consumer.disconnect().catch(() => {});
  }
  return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** Sum of (high watermark - low watermark) over a topic's partitions: the records Kafka holds. */
export async function countRecords(brokers: string[], topic: string): Promise<Map<number, number>> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, Number(o.high) - Number(o.low)]));
  } finally {
    await admin.disconnect();
  }
}

/** API key the Kafka endpoint tests start the local endpoint with. */
export const ENDPOINT_KEY = 'kafka-endpoint-test-key';

/** POST with the test API key; the response body is always consumed. */
export async function post(
  agent: Agent,
  url: string,
  body: Buffer | string,
  contentType: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(url, {
    method: 'POST',
    dispatcher: agent,
    headers: {
      authorization: `Bearer ${ENDPOINT_KEY}`,
      'content-type': contentType,
      accept: 'application/json',
    },
    body,
  });
  const text = await res.body.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { raw: text };
  }
  return { status: res.statusCode, json };
}
