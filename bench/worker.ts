// SPDX-License-Identifier: Apache-2.0
/**
 * A client process of the benchmark (`fork`ed by run.ts, one per client kind): it runs the jobs it
 * is sent over IPC one after another and returns their results. argv: the client kind
 * (`ceiling|dispatch|core|node|httpreq|kafkajs|kafkajs-32|kafkajs-batch|gateway-batch|node-kafka`).
 *
 * Every kind sends the same request (the captured template: same path and query, headers and
 * body) with the same connection settings, so the kinds differ only in the code in between.
 * Over 500 lines because every client kind's rig sits side by side so all are measured the same way
 * (a bench script, not shipped).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Producer } from 'kafkajs';
import { Pool, type Dispatcher } from 'undici';

import {
  BENCH_KEY,
  BENCH_PAYLOAD,
  benchPayload,
  KAFKAJS_BATCH,
  ipcCallParent,
  loadDist,
  serveIpc,
  sleep,
  type ClientKind,
  type EndpointInfo,
  type Job,
  type LoadSettings,
  type RequestTemplate,
  type StallJob,
} from './common';
import { clientOptions, loadClient } from './core-client';
import { runClosed, runOpen, type LoopResult, type OpenResult, type Sender } from './drivers';
import {
  benchMessage,
  httpRequestFlow,
  hub,
  passFlow,
  producerFlow,
  startRuntime,
  type EmbeddedRuntime,
} from './nodered';
import { Samples } from './stats';

const kind = process.argv[2] as ClientKind;

// ---------------------------------------------------------------------------------------------
// CPU profile of one run only (not of start-up and module loading, as --cpu-prof would give).

async function startProfiler(): Promise<{ stop(file: string): Promise<void> }> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) =>
      session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))),
    );
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Senders per kind. Each returns a Sender plus a cleanup.

interface Rig {
  sender: Sender;
  close(): Promise<void>;
}

/** The ceilings' Pool: the same connection settings as the client (keep-alive, no pipelining). */
function ceilingPool(
  endpoint: EndpointInfo,
  load: LoadSettings,
): { origin: URL; pool: Pool; basePath: string } {
  const origin = new URL(endpoint.url);
  const pool = new Pool(origin.origin, {
    connections: load.connections,
    pipelining: 1,
    ...(endpoint.caPem ? { connect: { ca: endpoint.caPem } } : {}),
  });
  return { origin, pool, basePath: origin.pathname.replace(/\/$/, '') };
}

function ceilingRig(endpoint: EndpointInfo, template: RequestTemplate, load: LoadSettings): Rig {
  const { pool, basePath } = ceilingPool(endpoint, load);
  const headers = { ...template.headers, authorization: `Bearer ${endpoint.apiKey}` };
  const opts = { path: basePath + template.path, method: 'POST' as const, headers, body: template.body };
  return {
    sender: {
      send(done) {
        pool
          .request(opts)
          .then(
            (res) =>
              res.body
                .text()
                .then(
                  () => done(res.statusCode === 200 ? undefined : new Error(`status ${res.statusCode}`)),
                  done,
                ),
            done,
          );
      },
    },
    close: () => pool.close(),
  };
}

/**
 * The best a single process does with undici: `dispatch()` with a handler object and a flat
 * header list (no body stream, no promise), draining the response.
 */
function dispatchRig(endpoint: EndpointInfo, template: RequestTemplate, load: LoadSettings): Rig {
  const { origin, pool, basePath } = ceilingPool(endpoint, load);
  const headers: string[] = [];
  for (const [k, v] of Object.entries({ ...template.headers, authorization: `Bearer ${endpoint.apiKey}` }))
    headers.push(k, v);
  const opts: Dispatcher.DispatchOptions = {
    origin: origin.origin,
    path: basePath + template.path,
    method: 'POST',
    headers,
    body: template.body,
  };
  class Handler implements Dispatcher.DispatchHandler {
    status = 0;
    constructor(private readonly done: (err?: unknown) => void) {}
    onConnect(): void {}
    onHeaders(statusCode: number): boolean {
      this.status = statusCode;
      return true;
    }
    onData(): boolean {
      return true;
    }
    onComplete(): void {
      this.done(this.status === 200 ? undefined : new Error(`status ${this.status}`));
    }
    onError(err: Error): void {
      this.done(err);
    }
  }
  return {
    sender: {
      send(done) {
        pool.dispatch(opts, new Handler(done));
      },
    },
    close: () => pool.close(),
  };
}

/**
 * kafkajs straight to the endpoint's broker, same topic, key and value, acks=-1 like the Kafka
 * backend. `batch`: messages are collected until {@link KAFKAJS_BATCH} are waiting (the driver's
 * window equals that), then sent with one awaited `send`; otherwise one awaited send per message.
 */
async function kafkajsRig(endpoint: EndpointInfo, template: RequestTemplate, batch: boolean): Promise<Rig> {
  if (!endpoint.brokers?.length) throw new Error('skipped: kafkajs direct needs a Kafka-backed endpoint');
  // Loaded here, not at the top: the kafkajs rows are kafkajs as published, while in the
  // node-kafka worker the producer node loads it through lib/kafkajs.ts as it does in Node-RED.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs');
  const kafka = new Kafka({
    clientId: 'esnodes-bench-kafkajs',
    brokers: endpoint.brokers,
    logLevel: logLevel.NOTHING,
  });
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false });
  await producer.connect();
  const key = Buffer.from(BENCH_KEY);
  const value = Buffer.from(template.body);
  const topic = endpoint.topic;
  let waiting: Array<(err?: unknown) => void> = [];
  const message = { key, value };
  return {
    sender: {
      send(done) {
        if (!batch) {
          producer.send({ topic, acks: -1, messages: [message] }).then(() => done(), done);
          return;
        }
        waiting.push(done);
        if (waiting.length < KAFKAJS_BATCH) return;
        const dones = waiting;
        waiting = [];
        producer.send({ topic, acks: -1, messages: dones.map(() => message) }).then(
          () => {
            for (const d of dones) d();
          },
          (err: unknown) => {
            for (const d of dones) d(err);
          },
        );
      },
    },
    close: async () => {
      for (const d of waiting) d(new Error('closed'));
      await producer.disconnect();
    },
  };
}

/**
 * The gateway's batch route (`POST /v2/topics/{topic}/batch`, a gateway extension) with a bare undici
 * Pool: messages are collected until {@link KAFKAJS_BATCH} are waiting, then posted as one JSON
 * array of v2 envelopes (the same key and value as every other row); each record counts as one
 * message and completes with its own result. The window allows a few batch requests in flight.
 */
function gatewayBatchRig(endpoint: EndpointInfo, template: RequestTemplate, load: LoadSettings): Rig {
  const { pool, basePath } = ceilingPool(endpoint, load);
  const envelope = JSON.stringify({
    key: { type: 'text', data: BENCH_KEY },
    value: { type: 'text', data: template.body },
  });
  const body = `[${new Array<string>(KAFKAJS_BATCH).fill(envelope).join(',')}]`;
  const opts = {
    path: `${basePath}/v2/topics/${encodeURIComponent(endpoint.topic)}/batch`,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${endpoint.apiKey}` },
    body,
  };
  let waiting: Array<(err?: unknown) => void> = [];
  return {
    sender: {
      send(done) {
        waiting.push(done);
        if (waiting.length < KAFKAJS_BATCH) return;
        const dones = waiting;
        waiting = [];
        pool.request(opts).then(
          (res) =>
            res.body.json().then(
              (answer) => {
                const results = (answer as { results?: Array<{ status: number }> }).results ?? [];
                dones.forEach((d, i) => {
                  const st = results[i]?.status ?? res.statusCode;
                  d(st === 200 ? undefined : new Error(`status ${st}`));
                });
              },
              (err: unknown) => {
                for (const d of dones) d(err);
              },
            ),
          (err: unknown) => {
            for (const d of dones) d(err);
          },
        );
      },
    },
    close: async () => {
      for (const d of waiting) d(new Error('closed'));
      waiting = [];
      await pool.close();
    },
  };
}

function coreRig(endpoint: EndpointInfo, load: LoadSettings, metered = false): Rig {
  const Client = loadClient();
  const client = new Client(clientOptions(endpoint, load, { maxMessages: 1_000_000, maxBytes: 1 << 30 }));
  const record = { key: BENCH_KEY, value: BENCH_PAYLOAD };
  if (metered) {
    // The same client with the endpoint metrics the nodes always have (lib/metered-sender.ts):
    // the pair of rows is the cost of metrics on the produce path.
    const { mod: m } = loadDist<{ MeteredSender: new (inner: unknown, metrics: unknown) => SenderLike }>(
      'lib/metered-sender.js',
    );
    const { mod: metricsMod } = loadDist<{ EndpointMetrics: new () => unknown }>('lib/metrics.js');
    if (!m || !metricsMod) throw new Error('skipped: lib/metered-sender.js or lib/metrics.js missing');
    const sender = new m.MeteredSender(
      (client as unknown as { sender: unknown }).sender,
      new metricsMod.EndpointMetrics(),
    );
    return {
      sender: {
        send(done) {
          sender.send(endpoint.topic, record).then(() => done(), done);
        },
      },
      close: () => client.close({ deadlineMs: 2000 }),
    };
  }
  return {
    sender: {
      send(done) {
        client.produce(endpoint.topic, record).then(() => done(), done);
      },
    },
    close: () => client.close({ deadlineMs: 2000 }),
  };
}

interface SenderLike {
  send(topic: string, record: unknown): Promise<unknown>;
}

let runtime: EmbeddedRuntime | undefined;
let caFile: string | undefined;

async function nodeRedRig(
  endpoint: EndpointInfo,
  template: RequestTemplate,
  load: LoadSettings,
  passOnly: boolean,
): Promise<Rig> {
  runtime ??= await startRuntime();
  if (passOnly) {
    await runtime.deploy(passFlow());
  } else if (kind === 'node' || kind === 'node-kafka') {
    for (const t of ['event-streams-endpoint', 'event-streams-producer']) {
      if (!runtime.hasType(t)) throw new Error(`skipped: node type ${t} is not built/loaded`);
    }
    if (kind === 'node-kafka' && !endpoint.brokers?.length) {
      throw new Error('skipped: the Kafka transport row needs a Kafka-backed endpoint (its broker)');
    }
    await runtime.deploy(producerFlow(endpoint, load, 1_000_000, kind === 'node-kafka'));
  } else {
    if (endpoint.caPem) {
      caFile = path.join(runtime.userDir, 'bench-ca.pem');
      writeFileSync(caFile, endpoint.caPem);
    }
    await runtime.deploy(httpRequestFlow(endpoint, template, caFile));
  }
  // Messages are matched to their callbacks by id; the producer and the http request node both
  // pass the input message on, so the id survives.
  const pending = new Map<number, (err?: unknown) => void>();
  let seq = 0;
  hub.onSink = (msg, ok) => {
    const id = msg._benchId;
    const done = id === undefined ? undefined : pending.get(id);
    if (!done) return;
    pending.delete(id!);
    if (!ok) done(new Error(`error path: ${JSON.stringify(msg.error ?? null).slice(0, 200)}`));
    else if (kind === 'httpreq' && msg.statusCode !== 200)
      done(new Error(`status ${String(msg.statusCode)}`));
    else done();
  };
  const source = hub.source!;
  const payload = benchPayload(load.valueBytes);
  return {
    sender: {
      send(done) {
        const id = ++seq;
        pending.set(id, done);
        source.send(benchMessage(id, load.keys ?? 1, payload));
      },
    },
    close: async () => {
      // Redeploying an empty flow closes the producer and its endpoint (and its client).
      await runtime!.deploy([
        { id: 'bench-tab', type: 'tab', label: 'idle' },
        { id: 'src', z: 'bench-tab', type: 'bench-source', wires: [] },
      ]);
      for (const done of pending.values()) done(new Error('closed'));
      pending.clear();
    },
  };
}

async function rigFor(
  endpoint: EndpointInfo,
  template: RequestTemplate,
  load: LoadSettings,
  passOnly = false,
): Promise<Rig> {
  if (passOnly) return nodeRedRig(endpoint, template, load, true);
  switch (kind) {
    case 'ceiling':
      return ceilingRig(endpoint, template, load);
    case 'dispatch':
      return dispatchRig(endpoint, template, load);
    case 'gateway-batch':
      return gatewayBatchRig(endpoint, template, load);
    case 'kafkajs':
    case 'kafkajs-32':
    case 'kafkajs-batch':
      return kafkajsRig(endpoint, template, kind === 'kafkajs-batch');
    case 'core':
      return coreRig(endpoint, load);
    case 'core-metered':
      return coreRig(endpoint, load, true);
    default:
      return nodeRedRig(endpoint, template, load, false);
  }
}

// ---------------------------------------------------------------------------------------------
// The stall run (core client only): steady input, the endpoint slowed for a while, then normal.

interface StallSample {
  tMs: number;
  phase: 'pre' | 'stall' | 'post';
  delivered: number;
  rejected: number;
  otherErrors: number;
  queued: number;
  inFlight: number;
  heapMB: number;
}

async function runStall(job: StallJob): Promise<Record<string, unknown>> {
  const Client = loadClient();
  const client = new Client({
    ...clientOptions(job.endpoint, job.load, {
      maxMessages: job.queueMaxMessages,
      maxBytes: job.queueMaxBytes,
    }),
    requestTimeoutMs: 30_000,
  });
  const record = { key: BENCH_KEY, value: BENCH_PAYLOAD };
  let delivered = 0;
  let rejected = 0;
  let otherErrors = 0;
  let firstOtherError: string | undefined;
  let phase: StallSample['phase'] = 'pre';
  const latency = { pre: new Samples(), stall: new Samples(), post: new Samples() };
  const samples: StallSample[] = [];
  const t0 = performance.now();
  const interval = 1000 / job.rate;
  let i = 0;
  let sending = true;
  let lastRejectAt = 0;
  let maxQueued = 0;
  let maxInFlight = 0;

  // Paced like the open loop: message i is due at t0 + i/rate.
  const tick = (): void => {
    if (!sending) return;
    const now = performance.now();
    const due = Math.floor((now - t0) / interval) + 1;
    while (i < due) {
      const intended = t0 + i++ * interval;
      const at = phase;
      client.produce(job.endpoint.topic, record).then(
        () => {
          delivered++;
          latency[at].add(performance.now() - intended);
        },
        (err: { code?: string; message?: string }) => {
          if (err?.code === 'QUEUE_FULL') {
            rejected++;
            lastRejectAt = performance.now();
          } else {
            otherErrors++;
            firstOtherError ??= `${err?.code ?? ''} ${err?.message ?? String(err)}`.slice(0, 200);
          }
        },
      );
    }
    setTimeout(tick, Math.max(0, t0 + i * interval - performance.now()));
  };
  const sampler = setInterval(() => {
    const s = client.stats();
    maxQueued = Math.max(maxQueued, s.queued);
    maxInFlight = Math.max(maxInFlight, s.inFlight);
    samples.push({
      tMs: Math.round(performance.now() - t0),
      phase,
      delivered,
      rejected,
      otherErrors,
      queued: s.queued,
      inFlight: s.inFlight,
      heapMB: Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10,
    });
  }, 100);

  tick();
  await sleep(job.preMs);
  const heapBefore = process.memoryUsage().heapUsed;
  const deliveredAtStall = delivered;
  phase = 'stall';
  await ipcCallParent({ cmd: 'faults', endpoint: job.endpoint.id, faults: [{ latencyMs: job.latencyMs }] });
  const stallStart = performance.now();
  // Throughput during the stall is measured after the queue has filled (the first second).
  await sleep(Math.min(1000, job.stallMs / 4));
  const steadyStart = performance.now();
  const deliveredSteady0 = delivered;
  let heapPeak = process.memoryUsage().heapUsed;
  const heapWatch = setInterval(() => {
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  }, 50);
  await sleep(job.stallMs - (steadyStart - stallStart));
  const stallThroughput = (delivered - deliveredSteady0) / ((performance.now() - steadyStart) / 1000);
  const deliveredDuringStall = delivered - deliveredAtStall;
  const rejectedDuringStall = rejected;
  await ipcCallParent({ cmd: 'faults', endpoint: job.endpoint.id, faults: [] });
  const liftedAt = performance.now();
  phase = 'post';
  // Recovered: the backlog is gone (queue empty, at most `connections` in flight) and no record
  // has been rejected since; the time is the later of the drain and the last rejection.
  let recoveredMs: number | null = null;
  let drainedAt: number | undefined;
  while (performance.now() - liftedAt < job.postMs) {
    await sleep(2);
    const s = client.stats();
    const now = performance.now();
    if (s.queued === 0 && s.inFlight <= job.load.connections) drainedAt ??= now;
    else drainedAt = undefined;
    if (drainedAt !== undefined && now - Math.max(drainedAt, lastRejectAt) >= 200) {
      recoveredMs = Math.max(0, Math.max(drainedAt, lastRejectAt) - liftedAt);
      break;
    }
  }
  // Keep sending briefly after recovery, to show post-stall latency is back to normal.
  await sleep(Math.min(1000, job.postMs / 4));
  sending = false;
  clearInterval(heapWatch);
  clearInterval(sampler);
  await client.close({ deadlineMs: 5000 }).catch(() => undefined);
  const expected = job.load.connections / (job.latencyMs / 1000);
  return {
    rate: job.rate,
    connections: job.load.connections,
    latencyMs: job.latencyMs,
    stallSeconds: job.stallMs / 1000,
    queueMaxMessages: job.queueMaxMessages,
    queueMaxBytes: job.queueMaxBytes,
    sent: i,
    delivered,
    rejectedQueueFull: rejected,
    rejectedDuringStall,
    deliveredDuringStall,
    otherErrors,
    ...(firstOtherError ? { firstOtherError } : {}),
    maxQueued,
    maxInFlight,
    stallThroughput,
    expectedThroughput: expected,
    throughputRatio: stallThroughput / expected,
    heapBeforeMB: heapBefore / 1048576,
    heapPeakMB: heapPeak / 1048576,
    heapGrowthMB: (heapPeak - heapBefore) / 1048576,
    recoveredMs,
    latency: {
      pre: latency.pre.summary(),
      stall: latency.stall.summary(),
      post: latency.post.summary(),
    },
    timeline: samples.filter((_, idx) => idx % 5 === 0),
  };
}

// ---------------------------------------------------------------------------------------------

async function runJob(job: Job): Promise<LoopResult | OpenResult | Record<string, unknown>> {
  if (job.type === 'stall') return runStall(job);
  const rig = await rigFor(
    job.endpoint,
    job.template,
    job.load,
    job.type === 'closed' && job.passOnly === true,
  );
  try {
    if (job.type === 'closed') {
      const profiler = job.profileFile ? await startProfiler() : undefined;
      const result = await runClosed(rig.sender, {
        window: job.load.window,
        warmupMs: job.warmupMs,
        measureMs: job.measureMs,
        endpointPid: job.endpoint.pid,
        ...(job.endpoint.brokerPid ? { brokerPid: job.endpoint.brokerPid } : {}),
      });
      if (profiler) await profiler.stop(job.profileFile!);
      return result;
    }
    const schedule = {
      rate: job.rate,
      warmupMs: job.warmupMs,
      measureMs: job.measureMs,
      endpointPid: job.endpoint.pid,
    };
    const result = await runOpen(rig.sender, schedule);
    if (!job.harnessBaseline) return result;
    const noop: Sender = { send: (done) => setImmediate(done) };
    const baseline = await runOpen(noop, { ...schedule, endpointPid: undefined });
    return { ...result, harnessCpuPct: baseline.cpuPct };
  } finally {
    await rig.close().catch(() => undefined);
  }
}

serveIpc(async (body) => {
  const m = body as { cmd: string; job?: Job };
  if (m.cmd === 'job') return runJob(m.job!);
  if (m.cmd === 'stop') {
    if (runtime) await runtime.stop().catch(() => undefined);
    setImmediate(() => process.exit(0));
    return {};
  }
  throw new Error(`unknown worker command ${m.cmd}`);
});
process.send?.({ ready: true, kind, pid: process.pid, cpus: os.cpus().length });
process.on('disconnect', () => process.exit(0));
