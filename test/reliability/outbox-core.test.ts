// SPDX-License-Identifier: Apache-2.0
/**
 * The outbox core (lib/outbox.ts) against the local endpoint over HTTPS with verification on:
 *
 * 1. Backlog drain: 20,000 records spooled while nothing sends, then drained by an outbox opened
 *    on them into the endpoint running in its own process (the package's CLI); every record
 *    arrives exactly once, in order per key, and the p99 of how long the process's own work holds
 *    the event loop (a timer's lateness, bounded by the CPU the process used meanwhile, so that
 *    waiting for a core on a shared machine does not count: test/support/loop-delay.ts) stays
 *    within 50 ms while it drains. (Throughput is claimed from `npm run bench`, not from this test.)
 * 2. Recovery: the endpoint goes away (stopped: connection refused; or answering 503 through its
 *    fault facility) long enough for backoff to grow; once it answers again the first record is
 *    written within 2 s (plus a margin for a busy machine), the backlog drains completely, and
 *    per-key order holds. While the server is down only one probe is in flight at a time.
 * 3. The classification and the shared, jittered retry policy in one place.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { Agent, request } from 'undici';

import { EventStreamsClient } from '../../lib/client';
import { BadRequestError, RetriesExhaustedError, UnavailableError, ValidationError } from '../../lib/errors';
import type { MemoryBackend } from '../../gateway/memory-backend';
import type { Backend, StoredRecord } from '../../gateway/types';
import { Outbox, outboxDisposition } from '../../lib/outbox';
import { LoopDelaySampler } from '../support/loop-delay';
import { storeRecord } from '../../lib/record-codec';
import { Spool } from '../../lib/spool';
import type { ClientOptions } from '../../lib/types';
import { RestartableEndpoint } from './harness';
import { waitFor } from '../support/wait';

const API_KEY = 'outbox-core-api-key-Hq3v8RtY2m';
const TOPIC = 'drain';
const LIMITS = { maxKeyBytes: 4096, maxValueBytes: 65536, maxUriBytes: 10240 };

interface Sent {
  i: number;
  key: string | null;
}

function parse(r: StoredRecord): Sent {
  const v = JSON.parse(r.value.toString()) as { i: number };
  return { i: v.i, key: r.key === null || r.key === undefined ? null : String(r.key) };
}

/** Every record exactly once, and per key in input order. */
function assertExactlyOnceInOrder(records: StoredRecord[], n: number): void {
  const seen = new Set<number>();
  for (const r of records) {
    const { i } = parse(r);
    assert.ok(!seen.has(i), `record ${i} written twice`);
    seen.add(i);
  }
  assert.equal(seen.size, n, `all ${n} records arrived (got ${seen.size})`);
  const last = new Map<string, number>();
  // By time, then offset: records of one key share a partition, and a restarted endpoint
  // (offsets from 0 again) stored its records later.
  const sorted = [...records].sort(
    (a, b) => a.timestamp - b.timestamp || a.partition - b.partition || a.offset - b.offset,
  );
  for (const r of sorted) {
    const { i, key } = parse(r);
    if (key === null) continue;
    const prev = last.get(key) ?? -1;
    assert.ok(i > prev, `key ${key}: record ${i} written after ${prev}`);
    last.set(key, i);
  }
}

const CONTROL_N = 5000;

/** Sends `n` control records (negative `i`, so the drain's check skips them) with a window of 256. */
async function directSend(c: EventStreamsClient, n: number): Promise<void> {
  let next = 0;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      while (next < n && next - done < 256) {
        const i = -1 - next++;
        c.produce(TOPIC, { value: JSON.stringify({ i }) }).then(() => {
          if (++done === n) resolve();
          else pump();
        }, reject);
      }
    };
    pump();
  });
}

/** The package's local endpoint CLI in a child process (HTTPS with its CA; memory backend). */
async function startChildEndpoint(stateDir: string): Promise<{
  url: string;
  apiKey: string;
  caPem: string;
  records(topic: string): Promise<StoredRecord[]>;
  stop(): Promise<void>;
}> {
  const cli = path.resolve(__dirname, '..', '..', 'gateway', 'cli.js');
  const child = spawn(
    process.execPath,
    [cli, '--port', '0', '--dev', '--state-dir', stateDir, '--api-key', API_KEY, '--topic', `${TOPIC}:3`],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (l) => {
      if (l.trim().startsWith('{')) resolve(l);
    });
    void exited.then(() => reject(new Error('the local endpoint exited')));
  });
  const info = JSON.parse(line) as { url: string; caFile: string };
  const caPem = await fs.readFile(info.caFile, 'utf8');
  const agent = new Agent({ connect: { ca: caPem } });
  return {
    url: info.url,
    apiKey: API_KEY,
    caPem,
    async records(topic: string): Promise<StoredRecord[]> {
      const out: StoredRecord[] = [];
      for (let partition = 0; partition < 3; partition++) {
        const res = await request(
          `${info.url}/local/topics/${topic}/records?partition=${partition}&limit=100000`,
          {
            headers: { authorization: `Bearer ${API_KEY}` },
            dispatcher: agent,
          },
        );
        assert.equal(res.statusCode, 200);
        const list = (await res.body.json()) as Array<{
          partition: number;
          offset: number;
          timestamp: number;
          key: string | null;
          value: string;
        }>;
        for (const r of list) {
          out.push({
            partition: r.partition,
            offset: r.offset,
            timestamp: r.timestamp,
            key: r.key === null ? null : Buffer.from(r.key),
            value: Buffer.from(r.value),
            headers: [],
          } as unknown as StoredRecord);
        }
      }
      return out;
    },
    async stop(): Promise<void> {
      await agent.close();
      child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('reliability: outbox core (lib/outbox.ts)', function () {
  this.timeout(120000);
  let ep: RestartableEndpoint;
  let tmp: string;
  const clients: EventStreamsClient[] = [];
  const outboxes: Outbox[] = [];

  beforeEach(async () => {
    ep = await RestartableEndpoint.create({
      apiKeys: [API_KEY],
      topics: [{ name: TOPIC, partitions: 3 }],
    });
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'es-outbox-core-'));
  });

  afterEach(async () => {
    for (const o of outboxes.splice(0)) await o.close(1000);
    for (const c of clients.splice(0)) await c.close({ deadlineMs: 1000 });
    await ep.dispose();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  function client(extra: Partial<ClientOptions> = {}): EventStreamsClient {
    const c = new EventStreamsClient({
      // One attempt per request, as the outbox sends (it is the retry loop).
      retry: { retries: 0 },
      url: ep.url,
      auth: { mode: 'bearer', apiKey: API_KEY },
      tls: { ca: ep.caPem },
      connections: 8,
      requestTimeoutMs: 5000,
      ...extra,
    });
    clients.push(c);
    return c;
  }

  async function open(
    getClient: () => EventStreamsClient,
    extra: Record<string, unknown> = {},
  ): Promise<Outbox> {
    const o = await Outbox.open(
      {
        dir: path.join(tmp, 'spool'),
        maxBytes: 256 * 1024 * 1024,
        flavour: 'v1',
        limits: LIMITS,
        concurrency: 8,
        retryDelayMs: 100,
        ...extra,
      },
      () => getClient().sender,
    );
    outboxes.push(o);
    return o;
  }

  /** Counts the records the backend stores and when the first one came. */
  function watchWrites(backend: Backend): { count: number; firstAt: number | undefined } {
    const w = { count: 0, firstAt: undefined as number | undefined };
    // The server stores into the memory backend synchronously (produceSync).
    const memory = backend as MemoryBackend;
    const produceSync = memory.produceSync.bind(memory);
    memory.produceSync = (topic, record) => {
      const r = produceSync(topic, record);
      w.count++;
      w.firstAt ??= Date.now();
      return r;
    };
    return w;
  }

  it('drains a 20,000-record backlog exactly once, in order per key, holding the event loop p99 <= 50 ms (direct path + 20 ms when the machine cannot hold 50 for it)', async function () {
    // Seconds on an idle machine; minutes when the machine is shared by several test runs.
    this.timeout(300000);
    const N = 20_000;
    // The backlog, spooled directly (as a long outage would leave it), with 50 keys and some keyless.
    const spool = await Spool.open({
      dir: path.join(tmp, 'spool'),
      maxBytes: 256 * 1024 * 1024,
      fsync: false,
    });
    const appends: Array<Promise<number>> = [];
    for (let i = 0; i < N; i++) {
      const key = i % 10 === 0 ? undefined : `dev${i % 50}`;
      appends.push(
        spool.append(storeRecord(TOPIC, { value: JSON.stringify({ i }), ...(key ? { key } : {}) })),
      );
    }
    await Promise.all(appends);
    await spool.close();

    // The endpoint in a process of its own (the package's CLI), as a real server would be, so
    // that the loop measured here is the outbox's and its client's, not the server's too.
    const child = await startChildEndpoint(path.join(tmp, 'child-state'));
    try {
      const c = new EventStreamsClient({
        // One attempt per request, as the outbox sends (it is the retry loop).
        retry: { retries: 0 },
        url: child.url,
        auth: { mode: 'bearer', apiKey: child.apiKey },
        tls: { ca: child.caPem },
        connections: 8,
      });
      clients.push(c);
      // Control: the same measure with the same traffic on the direct path, before and after the
      // drain (GC and TLS work on a small, busy machine hold the loop whatever the outbox does).
      const controlP99s: number[] = [];
      const measureControl = async (): Promise<void> => {
        const control = new LoopDelaySampler(10);
        control.start();
        await directSend(c, CONTROL_N);
        controlP99s.push(control.stop().heldP99);
      };
      await measureControl();
      const sampler = new LoopDelaySampler(10);
      sampler.start();
      const started = Date.now();
      const o = await open(() => c);
      assert.equal(o.recovered, N);
      await waitFor(() => o.depth === 0, 'the backlog drained', { timeoutMs: 240000 });
      const loop = sampler.stop();
      const ms = Date.now() - started;
      await measureControl();
      const controlP99 = Math.max(...controlP99s);
      console.log(
        `      [drain] ${N} records in ${ms} ms (${Math.round((N * 1000) / ms)}/s), ` +
          `loop held p99 ${loop.heldP99.toFixed(1)} ms; timer lateness p99 ${loop.lateP99.toFixed(1)} ms, ` +
          `max ${loop.lateMax.toFixed(1)} ms, ${loop.samples} ticks ` +
          `(direct path before and after: held p99 ${controlP99s.map((x) => x.toFixed(1)).join(' / ')} ms)`,
      );
      // The bound is 50 ms. Only where the machine cannot hold it even for the direct path is the
      // outbox held to "no worse than the direct path" (+20 ms) instead; the bench states both.
      const bound = Math.max(50, controlP99 + 20);
      assert.ok(
        loop.heldP99 <= bound,
        `event loop held p99 ${loop.heldP99.toFixed(1)} ms (bound ${bound.toFixed(1)} ms)`,
      );
      assert.equal(o.stats().delivered, N);
      const stored = (await child.records(TOPIC)).filter((r) => parse(r).i >= 0);
      assertExactlyOnceInOrder(stored, N);
    } finally {
      await child.stop();
    }
  });

  async function recovery(down: () => Promise<void>, up: () => Promise<number>): Promise<void> {
    await ep.start();
    const c = client({ requestTimeoutMs: 2000, connectTimeoutMs: 2000 });
    const o = await open(() => c, { retryDelayMs: 50 });
    let i = 0;
    const enqueue = (n: number): Promise<number[]> =>
      Promise.all(
        Array.from({ length: n }, () => {
          const n = i++;
          return o.enqueue(TOPIC, { value: JSON.stringify({ i: n }), key: `dev${n % 7}` });
        }),
      );
    await enqueue(100);
    await waitFor(() => o.depth === 0, 'the first 100 delivered', { timeoutMs: 20000 });
    await down();
    await enqueue(300);
    // Long enough for an uncapped backoff to have grown well past 2 s; meanwhile one probe at a time.
    let maxInFlight = 0;
    const end = Date.now() + 6000;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
      const s = o.stats();
      if (s.holding) maxInFlight = Math.max(maxInFlight, s.inFlight);
    }
    assert.ok(o.stats().holding, 'the outbox is holding while the server is away');
    assert.ok(o.stats().failures >= 3, `several probes failed (${o.stats().failures})`);
    assert.ok(maxInFlight <= 1, `one probe in flight while holding (saw ${maxInFlight})`);
    assert.equal(o.depth, 300);
    const answeringAt = await up();
    await waitFor(() => o.depth === 0, 'the backlog drained after recovery', { timeoutMs: 30000 });
    const firstAt = writes!.firstAt!;
    const delay = firstAt - answeringAt;
    console.log(`      [recovery] first record written ${delay} ms after the endpoint answered again`);
    // 2 s is the bound (the hold is capped at 1.5 s); 1 s of margin for a busy shared machine.
    assert.ok(delay <= 3000, `first write ${delay} ms after the endpoint answered again`);
    assertExactlyOnceInOrder(await ep.records(TOPIC), 400);
  }

  let writes: { count: number; firstAt: number | undefined } | undefined;

  it('writes the first record within 2 s of a stopped endpoint coming back, and drains in order', async () => {
    await recovery(
      () => ep.stop(),
      async () => {
        const started = await ep.start();
        writes = watchWrites(started.backend);
        return Date.now();
      },
    );
  });

  it('writes the first record within 2 s of a 503-answering endpoint recovering, and drains in order', async () => {
    await recovery(
      async () => {
        writes = watchWrites(ep.current!.backend);
        ep.current!.setFaults([{ route: 'produce', status: 503 }]);
        writes.firstAt = undefined;
        writes.count = 0;
      },
      async () => {
        ep.current!.clearFaults();
        return Date.now();
      },
    );
  });

  it('keeps records the server cannot take now, drops records it rejects for what they are', () => {
    assert.equal(outboxDisposition(new UnavailableError('503')), 'hold');
    assert.equal(outboxDisposition(Object.assign(new Error('x'), { code: 'AUTHENTICATION_FAILED' })), 'hold');
    assert.equal(outboxDisposition(Object.assign(new Error('x'), { code: 'TLS_FAILED' })), 'hold');
    assert.equal(outboxDisposition(new Error('no code')), 'hold');
    assert.equal(outboxDisposition(new ValidationError('bad', 'VALUE_TOO_LARGE')), 'drop');
    // Our errors are recognised by their brand, never by shape (lib/error-model.ts): a give-up
    // explains itself by its cause.
    assert.equal(
      outboxDisposition(new RetriesExhaustedError('gave up', new BadRequestError('400'), 3)),
      'drop',
    );
  });
});
