// SPDX-License-Identifier: Apache-2.0
/**
 * One key at a real 20 ms broker round trip over the Kafka transport (issue #22): is the sender
 * still capped at one request per round trip, as the REST path with order per key is?
 *
 *   node dist/bench/kafka-rtt.js [--rtt 20] [--seconds 10]     (KAFKA_BROKERS or a local broker)
 *
 * The round trip is real TCP delay, not a stub: a TCP proxy written in Node (in this process)
 * sits in front of the broker and holds every chunk rtt/2 ms in each direction before forwarding
 * it, order kept. Kafka clients connect to the addresses the broker advertises after bootstrap,
 * so this process sends its connections to the broker's port through the proxy by wrapping
 * `net.connect` (kafkajs's socket factory calls it); every request, metadata and produce alike,
 * pays the round trip. Rows, one key throughout, order per key on:
 * - `kafkajs-1-rtt`: kafkajs, one awaited send (the 1/RTT reference);
 * - `sender-one-key-rtt`: lib/kafka-sender.ts (idempotent, batching what arrives while a batch is
 *   on the wire, no linger), closed loop with 400 records outstanding; offsets must ascend in
 *   send order (order per key kept).
 */
import net from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';

import { Kafka, logLevel } from 'kafkajs';

import { KafkaSender } from '../lib/kafka-sender';
import { startKafka } from '../scripts/kafka';
import { BENCH_KEY, BENCH_PAYLOAD } from './common';

/** net.connect before the redirect below: the proxy's own connection to the broker. */
const rawConnect = net.connect;

function delayedPipe(from: net.Socket, to: net.Socket, delayMs: number): void {
  from.on('data', (chunk: Buffer) => {
    // Timers of equal delay fire in the order they were set: the byte stream stays in order.
    setTimeout(() => to.writable && to.write(chunk), delayMs);
  });
  from.on('end', () => setTimeout(() => to.end(), delayMs));
  from.on('error', () => to.destroy());
}

async function startDelayProxy(
  target: { host: string; port: number },
  oneWayMs: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = rawConnect(target);
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    delayedPipe(client, upstream, oneWayMs);
    delayedPipe(upstream, client, oneWayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rtt: { type: 'string', default: '20' }, seconds: { type: 'string', default: '10' } },
  });
  const rttMs = Number(values.rtt);
  const seconds = Number(values.seconds);
  const started = process.env.KAFKA_BROKERS ? undefined : await startKafka({ startTimeoutMs: 120_000 });
  const brokers = process.env.KAFKA_BROKERS?.split(',') ?? started!.brokers;
  const [host, portText] = brokers[0]!.split(':');
  const brokerPort = Number(portText);
  const topic = `bench-rtt-${Date.now().toString(36)}`;
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();

  const proxy = await startDelayProxy({ host: host!, port: brokerPort }, rttMs / 2);
  // Every client connection to the broker's port goes through the proxy.
  (net as { connect: unknown }).connect = (...args: unknown[]) => {
    const o = args[0] as { port?: number } | undefined;
    if (typeof o === 'object' && o !== null && Number(o.port) === brokerPort) {
      args[0] = { ...o, host: '127.0.0.1', port: proxy.port };
    }
    return (rawConnect as (...a: unknown[]) => net.Socket)(...args);
  };
  const value = JSON.stringify(BENCH_PAYLOAD);
  const rows: Record<string, unknown> = {};
  try {
    // kafkajs, one awaited send: one record per round trip.
    const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: BENCH_KEY, value }] });
    let n = 0;
    const end1 = Date.now() + Math.min(seconds, 5) * 1000;
    const t1 = process.hrtime.bigint();
    while (Date.now() < end1) {
      await producer.send({ topic, acks: -1, messages: [{ key: BENCH_KEY, value }] });
      n++;
    }
    const s1 = Number(process.hrtime.bigint() - t1) / 1e9;
    await producer.disconnect();
    rows['kafkajs-1-rtt'] = { recordsPerSec: Math.round(n / s1), oneOverRtt: Math.round(1000 / rttMs) };

    // The Kafka transport's sender, order per key on, one key, 400 outstanding.
    const sender = new KafkaSender({ brokers, clientId: 'bench-rtt', orderByKey: true });
    await sender.send(topic, { key: BENCH_KEY, value });
    let delivered = 0;
    let failed = 0;
    let lastOffset = -1;
    let outOfOrder = 0;
    let seq = 0;
    let nextToSettle = 0;
    const settled = new Map<number, number>();
    const endAt = Date.now() + seconds * 1000;
    const t2 = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      let outstanding = 0;
      const pump = (): void => {
        while (outstanding < 400 && Date.now() < endAt) {
          const mine = seq++;
          outstanding++;
          sender.send(topic, { key: BENCH_KEY, value }).then(
            (r) => {
              delivered++;
              settled.set(mine, r.offset ?? -1);
              // Offsets in send order: one key, one partition, so they must ascend.
              while (settled.has(nextToSettle)) {
                const off = settled.get(nextToSettle)!;
                settled.delete(nextToSettle++);
                if (off <= lastOffset) outOfOrder++;
                lastOffset = off;
              }
              outstanding--;
              if (Date.now() < endAt) pump();
              else if (outstanding === 0) resolve();
            },
            () => {
              failed++;
              outstanding--;
              if (outstanding === 0 && Date.now() >= endAt) resolve();
            },
          );
        }
      };
      pump();
    });
    const s2 = Number(process.hrtime.bigint() - t2) / 1e9;
    await sender.close({ deadlineMs: 5000 });
    rows['sender-one-key-rtt'] = {
      recordsPerSec: Math.round(delivered / s2),
      failed,
      outOfOrder,
      vsOneOverRtt: Math.round((delivered / s2 / (1000 / rttMs)) * 10) / 10,
    };
  } finally {
    (net as { connect: unknown }).connect = rawConnect;
    await proxy.close();
    await started?.stop();
  }
  console.log(
    JSON.stringify(
      { rttMs, seconds, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100), rows },
      null,
      2,
    ),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
