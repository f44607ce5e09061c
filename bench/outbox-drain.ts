// SPDX-License-Identifier: Apache-2.0
/**
 * The "outbox drain" row: how fast the durable outbox (lib/outbox.ts) empties a backlog, against
 * the direct path (EventStreamsClient.produce straight to the same endpoint), and what it does
 * to the event loop meanwhile.
 *
 * The package's local endpoint (memory backend, HTTPS with its own CA, verification on) runs in
 * its own process (the `event-streams-local` CLI); the clients run in a worker process of their
 * own, so the CPU per record is theirs. Rounds interleave direct and outbox runs of the same
 * records (same payloads, 50 keys plus 10% keyless); each outbox round first spools the backlog
 * (not measured), closes it, then measures from `Outbox.open` (recovery and indexing included)
 * until the outbox is empty. Reported: medians of records/s, the ratio outbox/direct, event-loop
 * delay p99 (perf_hooks.monitorEventLoopDelay) and CPU µs per record.
 *
 * Standalone: `node dist/bench/outbox-drain.js [--records 100000] [--rounds 3]`; `bench/run.ts`
 * calls {@link runOutboxDrain}.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const TOPIC = 'drain';
const CONNECTIONS = 8;

export interface DrainPhase {
  recordsPerSec: number;
  elapsedMs: number;
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  cpuUsPerRecord: number;
}

export interface OutboxDrainResult {
  records: number;
  rounds: number;
  direct: DrainPhase;
  outbox: DrainPhase;
  /** Median outbox throughput over median direct throughput. */
  ratio: number;
  targets: { ratio: number; eventLoopP99Ms: number };
  pass: boolean;
  rawRounds: Array<{ direct: DrainPhase; outbox: DrainPhase }>;
}

interface WorkerJob {
  url: string;
  apiKey: string;
  caPem: string;
  records: number;
  rounds: number;
  dir: string;
}

// ------------------------------------------------------------------------------------------------
// Worker: the measured side.

type ClientLike = {
  produce(topic: string, record: { value: string; key?: string }): Promise<unknown>;
  close(o?: { deadlineMs?: number }): Promise<void>;
  /** The delivery seam's face of the client, which the outbox drains through. */
  readonly sender: import('../lib/sender').Sender;
};

function record(i: number): { value: string; key?: string } {
  const value = JSON.stringify({ i, sensor: `s${i % 50}`, t: 1700000000000 + i, v: (i % 1000) / 10 });
  return i % 10 === 0 ? { value } : { value, key: `dev${i % 50}` };
}

async function measure(records: number, run: () => Promise<void>): Promise<DrainPhase> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  if (global.gc) global.gc();
  h.enable();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await run();
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  h.disable();
  return {
    recordsPerSec: Math.round((records * 1000) / elapsedMs),
    elapsedMs: Math.round(elapsedMs),
    eventLoopP99Ms: round1(h.percentile(99) / 1e6),
    eventLoopMaxMs: round1(h.max / 1e6),
    cpuUsPerRecord: round1((cpu.user + cpu.system) / records),
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

async function workerMain(job: WorkerJob): Promise<Array<{ direct: DrainPhase; outbox: DrainPhase }>> {
  const dist = path.resolve(__dirname, '..');
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { EventStreamsClient } = require(path.join(dist, 'lib', 'client.js')) as {
    EventStreamsClient: new (o: unknown) => ClientLike;
  };
  const outboxMod = require(path.join(dist, 'lib', 'outbox.js')) as typeof import('../lib/outbox');
  const { Spool } = require(path.join(dist, 'lib', 'spool.js')) as typeof import('../lib/spool');
  const codec = require(path.join(dist, 'lib', 'record-codec.js')) as typeof import('../lib/record-codec');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const base = {
    url: job.url,
    auth: { mode: 'bearer', apiKey: job.apiKey },
    tls: { ca: job.caPem },
    connections: CONNECTIONS,
  };
  const out: Array<{ direct: DrainPhase; outbox: DrainPhase }> = [];
  for (let round = 0; round < job.rounds; round++) {
    // Direct: the same records straight through the client, a window of outstanding produces
    // well inside its queue so the connections never wait for the caller.
    const direct = new EventStreamsClient(base);
    const d = await measure(job.records, async () => {
      let next = 0;
      let done = 0;
      await new Promise<void>((resolve, reject) => {
        const pump = (): void => {
          while (next < job.records && next - done < 256) {
            direct.produce(TOPIC, record(next++)).then(() => {
              if (++done === job.records) resolve();
              else pump();
            }, reject);
          }
        };
        pump();
      });
    });
    await direct.close({ deadlineMs: 1000 });

    // Outbox: spool the backlog (unmeasured), then time open-to-empty.
    const dir = path.join(job.dir, `spool-${round}`);
    const spool = await Spool.open({ dir, maxBytes: 1 << 30, fsync: false });
    const appends: Array<Promise<number>> = [];
    for (let i = 0; i < job.records; i++) appends.push(spool.append(codec.storeRecord(TOPIC, record(i))));
    await Promise.all(appends);
    await spool.close();
    const client = new EventStreamsClient(base as never);
    let outbox: import('../lib/outbox').Outbox | undefined;
    const o = await measure(job.records, async () => {
      const ob = await outboxMod.Outbox.open(
        {
          dir,
          maxBytes: 1 << 30,
          flavour: 'v1',
          limits: { maxKeyBytes: 4096, maxValueBytes: 65536, maxUriBytes: 10240 },
          concurrency: CONNECTIONS,
          retryDelayMs: 100,
        },
        () => client.sender,
      );
      outbox = ob;
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (ob.depth === 0) {
            ob.off('change', check);
            resolve();
          }
        };
        ob.on('change', check);
        check();
      });
    });
    if (outbox!.stats().delivered !== job.records) {
      throw new Error(`outbox delivered ${outbox!.stats().delivered} of ${job.records}`);
    }
    await outbox!.close(1000);
    await client.close({ deadlineMs: 1000 });
    await fs.rm(dir, { recursive: true, force: true });
    out.push({ direct: d, outbox: o });
    // Progress on the worker's stderr: a 100k round takes minutes on a busy machine.
    process.stderr.write(
      `  outbox drain round ${round + 1}/${job.rounds}: direct ${d.recordsPerSec}/s ` +
        `(loop p99 ${d.eventLoopP99Ms} ms, ${d.cpuUsPerRecord} µs/record), outbox ${o.recordsPerSec}/s ` +
        `(loop p99 ${o.eventLoopP99Ms} ms, max ${o.eventLoopMaxMs} ms, ${o.cpuUsPerRecord} µs/record)\n`,
    );
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Orchestration.

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function medianPhase(list: DrainPhase[]): DrainPhase {
  return {
    recordsPerSec: Math.round(median(list.map((p) => p.recordsPerSec))),
    elapsedMs: Math.round(median(list.map((p) => p.elapsedMs))),
    eventLoopP99Ms: round1(median(list.map((p) => p.eventLoopP99Ms))),
    eventLoopMaxMs: round1(Math.max(...list.map((p) => p.eventLoopMaxMs))),
    cpuUsPerRecord: round1(median(list.map((p) => p.cpuUsPerRecord))),
  };
}

async function startEndpoint(
  stateDir: string,
): Promise<{ child: ChildProcess; url: string; apiKey: string; caPem: string }> {
  const cli = path.resolve(__dirname, '..', 'gateway', 'cli.js');
  const child = spawn(
    process.execPath,
    [cli, '--port', '0', '--state-dir', stateDir, '--topic', `${TOPIC}:3`],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (l) => {
      if (l.trim().startsWith('{')) resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`the local endpoint exited (${code})`)));
  });
  const info = JSON.parse(line) as { url: string; apiKey: string; caFile: string };
  return { child, url: info.url, apiKey: info.apiKey, caPem: readFileSync(info.caFile, 'utf8') };
}

/** Runs the drain comparison: endpoint and measured clients each in their own process. */
export async function runOutboxDrain(
  options: { records?: number; rounds?: number } = {},
): Promise<OutboxDrainResult> {
  const records = options.records ?? 100_000;
  const rounds = options.rounds ?? 3;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'es-bench-drain-'));
  const ep = await startEndpoint(path.join(tmp, 'state'));
  try {
    const worker = fork(__filename, ['--worker'], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const job: WorkerJob = { url: ep.url, apiKey: ep.apiKey, caPem: ep.caPem, records, rounds, dir: tmp };
    const raw = await new Promise<Array<{ direct: DrainPhase; outbox: DrainPhase }>>((resolve, reject) => {
      worker.once(
        'message',
        (m: { ok: boolean; rounds?: Array<{ direct: DrainPhase; outbox: DrainPhase }>; error?: string }) =>
          m.ok ? resolve(m.rounds!) : reject(new Error(m.error)),
      );
      worker.once('exit', (code) => reject(new Error(`the drain worker exited (${code})`)));
      worker.send(job);
    });
    worker.kill();
    const direct = medianPhase(raw.map((r) => r.direct));
    const outbox = medianPhase(raw.map((r) => r.outbox));
    const ratio = Math.round((outbox.recordsPerSec / direct.recordsPerSec) * 100) / 100;
    const targets = { ratio: 0.8, eventLoopP99Ms: 50 };
    return {
      records,
      rounds,
      direct,
      outbox,
      ratio,
      targets,
      pass: ratio >= targets.ratio && outbox.eventLoopP99Ms <= targets.eventLoopP99Ms,
      rawRounds: raw,
    };
  } finally {
    ep.child.kill('SIGTERM');
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** One table row for the bench report. */
export function formatOutboxDrain(r: OutboxDrainResult): string {
  return (
    `outbox drain (${r.records} records backlog, local HTTPS, ${r.rounds} rounds): ` +
    `outbox ${r.outbox.recordsPerSec}/s vs direct ${r.direct.recordsPerSec}/s = ${r.ratio} ` +
    `(target >= ${r.targets.ratio}); event-loop p99 ${r.outbox.eventLoopP99Ms} ms ` +
    `(target <= ${r.targets.eventLoopP99Ms}; direct ${r.direct.eventLoopP99Ms}); ` +
    `CPU ${r.outbox.cpuUsPerRecord} µs/record (direct ${r.direct.cpuUsPerRecord}) ${r.pass ? 'PASS' : 'MISS'}`
  );
}

if (require.main === module) {
  if (process.argv[2] === '--worker') {
    process.once('message', (job: WorkerJob) => {
      workerMain(job).then(
        (rounds) => process.send!({ ok: true, rounds }),
        (err: unknown) => process.send!({ ok: false, error: err instanceof Error ? err.stack : String(err) }),
      );
    });
  } else {
    const { values } = parseArgs({
      options: { records: { type: 'string' }, rounds: { type: 'string' } },
    });
    runOutboxDrain({
      records: values.records ? Number(values.records) : undefined,
      rounds: values.rounds ? Number(values.rounds) : undefined,
    }).then(
      (r) => {
        console.log(formatOutboxDrain(r));
      },
      (err: unknown) => {
        console.error(err);
        process.exitCode = 1;
      },
    );
  }
}
