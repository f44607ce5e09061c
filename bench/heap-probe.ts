// SPDX-License-Identifier: Apache-2.0
/**
 * Heap per queued or in-flight message, in a dedicated process started with `--expose-gc`.
 * argv: `<core|node|ceiling|nodered-hold> <messages> <connections>`.
 *
 * The probe starts its own stub endpoint (a separate process) and makes it hold every answer, so
 * `connections` requests sit in flight and the rest wait in the client's queue. It measures
 * heapUsed (and external memory) after a full GC before and after submitting N messages:
 *
 * - `withPayload`: every message carries a fresh payload object made inside the window (what a
 *   flow does); the brief's figure is this minus the payload's serialised size.
 * - `overheadOnly`: the payload objects are made before the baseline, so the delta is only what
 *   the client (or node) itself keeps per message, including its serialised copy of the body.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { Pool } from 'undici';

import {
  BENCH_API_KEY,
  BENCH_KEY,
  BENCH_PAYLOAD,
  BENCH_PAYLOAD_BYTES,
  BENCH_TOPIC,
  ipcCall,
  sleep,
  type EndpointInfo,
} from './common';
import { holdFlow, hub, producerFlow, startRuntime } from './nodered';
import { clientOptions, loadClient, type ClientLike } from './core-client';

const gc = (globalThis as { gc?: () => void }).gc;

function fullGc(): void {
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) gc();
}

interface Mem {
  heapUsed: number;
  external: number;
}
function mem(): Mem {
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external };
}

function freshPayload(i: number): Record<string, unknown> {
  // Equivalent to a payload parsed from the wire: a new object graph per message.
  const p = JSON.parse(JSON.stringify(BENCH_PAYLOAD)) as Record<string, unknown>;
  p.ts = 1764000000000 + i;
  return p;
}

async function startStub(): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(path.join(__dirname, 'stub-endpoint.js'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { ready?: boolean; url?: string }) =>
      m.ready ? resolve(m.url!) : reject(new Error('stub')),
    );
    child.once('exit', () => reject(new Error('stub exited')));
  });
  return { child, url };
}

interface Submitter {
  /** Submits one message; returns its promise when the API has one (the core client's does). */
  submit(payload: unknown): Promise<unknown> | undefined;
  /** Resolves when every submitted message has been answered. */
  settled(): Promise<void>;
  failures(): number;
  /** Messages submitted but not yet answered, as far as the client can tell. */
  pending(): { queued: number; inFlight: number } | undefined;
  /** Lets held messages go, for submitters that hold them themselves rather than at the stub. */
  release?(): void;
  close(): Promise<void>;
}

/**
 * Counts a promise API's outcomes with one shared pair of handlers: the only per-message cost is
 * the promise reaction that any caller of a promise API pays.
 */
function track(): {
  add<T>(p: Promise<T>): Promise<T>;
  settled(): Promise<void>;
  failures(): number;
} {
  let added = 0;
  let done = 0;
  let failed = 0;
  let wake: (() => void) | undefined;
  const ok = (): void => {
    done++;
    if (done >= added) wake?.();
  };
  const fail = (): void => {
    failed++;
    ok();
  };
  return {
    add(p) {
      added++;
      p.then(ok, fail);
      return p;
    },
    settled: () => (done >= added ? Promise.resolve() : new Promise<void>((resolve) => (wake = resolve))),
    failures: () => failed,
  };
}

async function makeSubmitter(
  kindArg: string,
  endpoint: EndpointInfo,
  connections: number,
  n: number,
): Promise<Submitter> {
  const load = { connections, window: connections };
  if (kindArg === 'core') {
    const Client = loadClient();
    const client = new Client(clientOptions(endpoint, load, { maxMessages: n * 2, maxBytes: 1 << 30 }));
    const tracker = track();
    return {
      ...tracker,
      submit: (payload) => tracker.add(client.produce(BENCH_TOPIC, { key: BENCH_KEY, value: payload })),
      pending: () => client.stats(),
      close: () => client.close({ deadlineMs: 1000 }),
    };
  }
  if (kindArg === 'ceiling') {
    const pool = new Pool(endpoint.url, { connections, pipelining: 1 });
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json',
      authorization: `Bearer ${BENCH_API_KEY}`,
    };
    const tracker = track();
    return {
      ...tracker,
      submit: (payload) =>
        tracker.add(
          pool
            .request({
              path: `/topics/${BENCH_TOPIC}/records?key=${BENCH_KEY}`,
              method: 'POST',
              headers,
              body: JSON.stringify(payload),
            })
            .then((res) => res.body.text()),
        ),
      pending: () => undefined,
      close: () => pool.close(),
    };
  }
  // The producer node (or, for `nodered-hold`, a node that only holds the message) in an embedded
  // Node-RED runtime. The harness keeps nothing per message
  // here (a counter, no promise or map entry), so the figure is Node-RED's and the node's own.
  const runtime = await startRuntime();
  const holdOnly = kindArg === 'nodered-hold';
  if (!holdOnly && !runtime.hasType('event-streams-producer')) {
    throw new Error('skipped: event-streams-producer is not built');
  }
  await runtime.deploy(holdOnly ? holdFlow() : producerFlow(endpoint, load, n * 2));
  let answered = 0;
  let failed = 0;
  const waiters: Array<{ target: number; resolve: () => void }> = [];
  hub.onSink = (_msg, ok) => {
    answered++;
    if (!ok) failed++;
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (answered >= waiters[i]!.target) waiters.splice(i, 1)[0]!.resolve();
    }
  };
  let submitted = 0;
  const endpointNode = runtime.RED.nodes.getNode('bench-endpoint') as { getClient?: () => ClientLike } | null;
  return {
    submit: (payload) => {
      submitted++;
      hub.source!.send({ payload, key: BENCH_KEY, topic: BENCH_TOPIC });
      return undefined;
    },
    settled: () =>
      answered >= submitted
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ target: submitted, resolve })),
    failures: () => failed,
    pending: () =>
      holdOnly ? { queued: hub.held.length, inFlight: 0 } : endpointNode?.getClient?.().stats(),
    ...(holdOnly ? { release: () => hub.release() } : {}),
    close: () => runtime.stop(),
  };
}

async function measure(
  submitter: Submitter,
  stub: ChildProcess,
  n: number,
  connections: number,
  preallocate: boolean,
): Promise<{ heapPerMessage: number; externalPerMessage: number }> {
  const payloads = preallocate ? Array.from({ length: n }, (_, i) => freshPayload(i)) : [];
  await ipcCall(stub, { cmd: 'hold', on: true });
  await sleep(50);
  fullGc();
  const before = mem();
  for (let i = 0; i < n; i++) submitter.submit(preallocate ? payloads[i] : freshPayload(i));
  // Let every message reach its resting place (socket or queue) before measuring.
  for (let i = 0; i < 200; i++) {
    await sleep(10);
    const p = submitter.pending();
    if (submitter.release) {
      if (p && p.queued >= n) break;
      continue;
    }
    const atStub = (await ipcCall<{ held: number }>(stub, { cmd: 'count' })).held;
    if (atStub >= connections && (!p || p.queued + p.inFlight >= n - connections)) break;
  }
  await sleep(100);
  fullGc();
  const after = mem();
  await ipcCall(stub, { cmd: 'hold', on: false });
  submitter.release?.();
  await submitter.settled();
  if (submitter.failures() > 0)
    throw new Error(`${submitter.failures()} messages failed during the heap probe`);
  return {
    heapPerMessage: (after.heapUsed - before.heapUsed) / n,
    externalPerMessage: (after.external - before.external) / n,
  };
}

async function main(): Promise<void> {
  const [kindArg = 'core', nArg = '10000', connArg = '8'] = process.argv.slice(2);
  const n = Number(nArg);
  const connections = Number(connArg);
  const stub = await startStub();
  const endpoint: EndpointInfo = {
    id: 'stub-http',
    url: stub.url,
    apiKey: BENCH_API_KEY,
    pid: stub.child.pid!,
    topic: BENCH_TOPIC,
  };
  try {
    const submitter = await makeSubmitter(kindArg, endpoint, connections, n);
    // Warm up: connections open, code paths optimised, lazily created state exists.
    for (let i = 0; i < 2000; i++) submitter.submit(freshPayload(i));
    await sleep(50);
    submitter.release?.();
    await submitter.settled();
    const withPayload = await measure(submitter, stub.child, n, connections, false);
    const overheadOnly = await measure(submitter, stub.child, n, connections, true);
    await submitter.close();
    process.send?.({
      ok: true,
      kind: kindArg,
      messages: n,
      connections,
      payloadBytes: BENCH_PAYLOAD_BYTES,
      withPayload,
      overheadOnly,
      heapBytesPerMessage: withPayload.heapPerMessage - BENCH_PAYLOAD_BYTES,
    });
  } catch (err) {
    process.send?.({ ok: false, error: err instanceof Error ? err.message : String(err) });
  } finally {
    stub.child.kill();
  }
  setTimeout(() => process.exit(0), 50);
}

void main();
