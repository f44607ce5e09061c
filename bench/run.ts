// SPDX-License-Identifier: Apache-2.0
/**
 * `npm run bench [-- --quick | --profile] [--connections N] [--window N] [--no-kafka]`
 *
 * The orchestrator. It starts each endpoint in its own process (stub over HTTP; the package's local
 * endpoint with the memory backend over HTTP and HTTPS; the Kafka-backed local endpoint when a
 * broker is available), one client process per client kind (bare undici ceiling, core client,
 * producer node in Node-RED, Node-RED's http request node), runs every scenario against every
 * endpoint side by side, then a heap probe and a stall run, prints the table with PASS/MISS per
 * target and writes bench/results/latest.json.
 * Over 500 lines because it is the benchmark's one plan: scenarios, child processes and endpoints
 * in the order they run (a bench script, not shipped).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import {
  BENCH_API_KEY,
  BENCH_KEY,
  BENCH_PAYLOAD,
  BENCH_PAYLOAD_BYTES,
  BENCH_TOPIC,
  CLIENT_LABEL,
  ENDPOINT_LABEL,
  GATEWAY_BATCHES_IN_FLIGHT,
  KAFKAJS_BATCH,
  KAFKAJS_IN_FLIGHT,
  ROOT,
  ipcCall,
  loadDist,
  serveChildRequests,
  type ClientKind,
  type EndpointId,
  type EndpointInfo,
  type Job,
  type LoadSettings,
  type RequestTemplate,
  type ScenarioResult,
} from './common';
import { loadClient } from './core-client';
import { formatOutboxDrain, runOutboxDrain, type OutboxDrainResult } from './outbox-drain';
import type { LoopResult, OpenResult } from './drivers';
import { summarizeProfile, type ProfileSummary } from './profile';
import { computeRatios, evaluateTargets, renderReport, type BenchResults, type MachineInfo } from './report';
import { round } from './stats';

const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
const KINDS: ClientKind[] = ['ceiling', 'dispatch', 'core', 'node', 'httpreq'];
/** Clients that talk to Kafka directly: only in the Kafka-backed endpoint's rounds (same broker). */
const KAFKA_KINDS: ClientKind[] = ['kafkajs', 'kafkajs-32', 'kafkajs-batch', 'gateway-batch', 'node-kafka'];
/** The core client with endpoint metrics: only against the stub, beside `core`, for the cost of metrics. */
const STUB_KINDS: ClientKind[] = ['core-metered'];
/** The large-value row: the producer node with 60 KB JSON values into the stub. */
const LARGE_VALUE_ROW = 'node-60kb';
const LARGE_VALUE_BYTES = 60_000;
/** Records the closed loop keeps outstanding in the 20 ms rows: deeper than Maximum connections. */
const RTT20_WINDOW = 128;

/** The closed-loop window per kind: kafkajs "one awaited send" is a plain awaited loop (window 1). */
function loadFor(kind: ClientKind, load: LoadSettings): LoadSettings {
  if (kind === 'kafkajs') return { ...load, window: 1 };
  if (kind === 'kafkajs-32') return { ...load, window: KAFKAJS_IN_FLIGHT };
  if (kind === 'kafkajs-batch') return { ...load, window: KAFKAJS_BATCH };
  if (kind === 'gateway-batch') return { ...load, window: KAFKAJS_BATCH * GATEWAY_BATCHES_IN_FLIGHT };
  // The node against kafkajs 100 per send: a window of 32 would cap it at 32 records per round
  // trip, below the 100 kafkajs gets; a flow's source (MQTT in, a file) does not wait for delivery
  // reports, so the node gets the gateway-batch row's window (4 × 100) and batches what arrives.
  if (kind === 'node-kafka') return { ...load, window: KAFKAJS_BATCH * GATEWAY_BATCHES_IN_FLIGHT };
  return load;
}

/** Load average over the last minute: what each row records before and after its runs. */
function load1(): number {
  return Math.round(os.loadavg()[0]! * 100) / 100;
}

interface Plan {
  mode: 'quick' | 'full' | 'profile';
  load: LoadSettings;
  /** Per round: the first round of each kind warms up longer than the later ones. */
  closed: { warmupMs: number; roundWarmupMs: number; measureMs: number; rounds: number };
  /** Unrecorded load on each client process, then on each endpoint, before the first measurement. */
  endpointWarmupMs: number;
  open: { warmupMs: number; measureMs: number; rates: number[] };
  /** Endpoints the open-loop runs use. */
  openEndpoints: Array<{ id: EndpointId; kinds: ClientKind[] }>;
  lowRate: { rate: number; warmupMs: number; measureMs: number; kinds: ClientKind[] };
  heap: { messages: number; kinds: Array<'core' | 'node' | 'ceiling' | 'nodered-hold'> };
  stall: { rate: number; latencyMs: number; preMs: number; stallMs: number; postMs: number; queue: number };
  kafka: boolean;
  /** `--kafka-only`: only the Kafka-backed endpoint's rows (bare dispatch() and the Kafka kinds). */
  kafkaOnly: boolean;
  sections: Set<string>;
}

function plan(): Plan {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      connections: { type: 'string' },
      window: { type: 'string' },
      'no-kafka': { type: 'boolean', default: false },
      'kafka-only': { type: 'boolean', default: false },
      'order-by-key': { type: 'boolean', default: false },
      only: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: npm run bench -- [--quick] [--profile] [--connections 8] [--window 32] [--no-kafka]\n' +
        '  --quick    every scenario, short windows, no Kafka unless KAFKA_BROKERS is set (< 1 min)\n' +
        '  --profile  closed loop into the stub with --cpu-prof for the core client and the node; prints hot spots\n' +
        '             (with --kafka-only: the Kafka rows, node-kafka and kafkajs, on the Kafka-backed endpoint)\n' +
        '  --order-by-key  keep order per key on in our clients (every bench record has one key)\n' +
        '  --kafka-only  only the Kafka rows (gateway-single, gateway-batch, kafkajs 1/32 in flight, 100 per send); starts a broker\n' +
        '  --only     comma list of sections to run: closed,open,low,heap,stall,kafka,rtt20,drain (default all)\n' +
        '             rtt20: the producer node, order per key on, into an endpoint that answers after 20 ms, 1 key vs 8',
    );
    process.exit(0);
  }
  const connections = Number(values.connections ?? 8);
  const load = {
    connections,
    window: Number(values.window ?? connections * 4),
    orderByKey: values['order-by-key'] === true,
  };
  const mode = values.profile ? 'profile' : values.quick ? 'quick' : 'full';
  const kafkaOnly = values['kafka-only'] === true;
  const kafka = kafkaOnly || (!values['no-kafka'] && (mode === 'full' || Boolean(process.env.KAFKA_BROKERS)));
  const sections = new Set(
    (kafkaOnly ? 'kafka' : (values.only ?? 'closed,open,low,heap,stall,kafka,rtt20,drain'))
      .split(',')
      .map((x) => x.trim()),
  );
  if (mode === 'quick' || mode === 'profile') {
    return {
      mode,
      load,
      closed:
        mode === 'profile'
          ? { warmupMs: 1000, roundWarmupMs: 0, measureMs: 5000, rounds: 1 }
          : // Rounds of >= 5 s here too: shorter ones disagreed with independent harnesses.
            { warmupMs: 300, roundWarmupMs: 200, measureMs: 5000, rounds: 1 },
      endpointWarmupMs: 400,
      open: { warmupMs: 300, measureMs: 800, rates: [1000, 5000, 10000] },
      openEndpoints: [{ id: 'stub-http', kinds: ['core', 'node'] }],
      lowRate: { rate: 200, warmupMs: 300, measureMs: 1000, kinds: ['ceiling', 'dispatch', 'core', 'node'] },
      heap: { messages: 5000, kinds: ['core', 'node'] },
      stall: { rate: 1000, latencyMs: 50, preMs: 500, stallMs: 2500, postMs: 3000, queue: 1000 },
      // `--profile --kafka-only` profiles the Kafka rows (the node over the Kafka transport, kafkajs).
      kafka: (mode === 'quick' || kafkaOnly) && kafka,
      kafkaOnly,
      sections,
    };
  }
  return {
    mode,
    load,
    // Rounds of >= 5 s (MIN_ROUND_SECONDS): shorter ones give warnings, not figures.
    closed: { warmupMs: 1500, roundWarmupMs: 500, measureMs: 5000, rounds: 3 },
    endpointWarmupMs: 2000,
    open: { warmupMs: 1000, measureMs: 4000, rates: [1000, 5000, 10000] },
    openEndpoints: [
      { id: 'stub-http', kinds: ['ceiling', 'core', 'node', 'httpreq'] },
      { id: 'local-https', kinds: ['core', 'node'] },
    ],
    lowRate: { rate: 200, warmupMs: 1000, measureMs: 6000, kinds: KINDS },
    heap: { messages: 20000, kinds: ['core', 'node', 'ceiling', 'nodered-hold'] },
    stall: { rate: 1000, latencyMs: 50, preMs: 3000, stallMs: 60000, postMs: 20000, queue: 1000 },
    kafka,
    kafkaOnly,
    sections,
  };
}

// ---------------------------------------------------------------------------------------------
// Child processes

const children = new Set<ChildProcess>();

function forkChild(script: string, args: string[], execArgv: string[] = []): ChildProcess {
  const child = fork(path.join(__dirname, script), args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv,
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function waitReady<T>(child: ChildProcess, what: string, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} did not start within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (m: { ready?: boolean; error?: string; __res?: number }): void => {
      if (m.__res !== undefined || m.ready === undefined) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      if (m.ready) resolve(m as T);
      else reject(new Error(m.error ?? `${what} failed to start`));
    };
    child.on('message', onMessage);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (code ${code}) during start`));
    });
  });
}

function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (child.connected) child.disconnect();
    else child.kill('SIGTERM');
  });
}

interface Endpoint {
  info?: EndpointInfo;
  child?: ChildProcess;
  skipped?: string;
}

async function startStub(): Promise<Endpoint> {
  const child = forkChild('stub-endpoint.js', []);
  const ready = await waitReady<{ url: string; pid: number }>(child, 'stub endpoint');
  return {
    child,
    info: { id: 'stub-http', url: ready.url, apiKey: BENCH_API_KEY, pid: ready.pid, topic: BENCH_TOPIC },
  };
}

/** The Kafka backend's counters from the endpoint process (zeros when it has none). */
async function endpointStats(ep: Endpoint): Promise<{ sends: number; records: number; maxBatch: number }> {
  const st = await ipcCall<Partial<Record<'sends' | 'records' | 'maxBatch', number>>>(ep.child!, {
    cmd: 'stats',
  }).catch(() => ({}) as Partial<Record<'sends' | 'records' | 'maxBatch', number>>);
  return { sends: st.sends ?? 0, records: st.records ?? 0, maxBatch: st.maxBatch ?? 0 };
}

async function startLocal(id: EndpointId, tls: boolean, brokers?: string[]): Promise<Endpoint> {
  const stateDir = path.join(ROOT, '.state', `bench-${id}`);
  mkdirSync(stateDir, { recursive: true });
  const child = forkChild('endpoint-child.js', [
    tls ? 'tls' : 'http',
    stateDir,
    ...(brokers ? [brokers.join(',')] : []),
  ]);
  try {
    const ready = await waitReady<{ url: string; apiKey: string; caPem?: string; pid: number }>(
      child,
      id,
      180_000,
    );
    return {
      child,
      info: {
        id,
        url: ready.url,
        apiKey: ready.apiKey,
        ...(ready.caPem ? { caPem: ready.caPem } : {}),
        pid: ready.pid,
        topic: BENCH_TOPIC,
      },
    };
  } catch (err) {
    await stopChild(child);
    return { skipped: (err as Error).message };
  }
}

interface KafkaLike {
  brokers: string[];
  pid?: number;
  stop(): Promise<void>;
}

async function startKafkaIfAvailable(): Promise<{ kafka?: KafkaLike; skipped?: string }> {
  if (process.env.KAFKA_BROKERS) {
    return { kafka: { brokers: process.env.KAFKA_BROKERS.split(','), stop: async () => undefined } };
  }
  const loaded = loadDist<{
    startKafka?: (o?: Record<string, unknown>) => Promise<KafkaLike>;
    kafkaPrerequisites?: () => Promise<{ ok: boolean; reason?: string }>;
  }>('scripts/kafka.js');
  if (!loaded.mod?.startKafka) return { skipped: `no Kafka (${loaded.missing ?? 'startKafka missing'})` };
  if (loaded.mod.kafkaPrerequisites) {
    const pre = await loaded.mod.kafkaPrerequisites();
    if (!pre.ok) return { skipped: `no Kafka (${pre.reason})` };
  }
  try {
    return { kafka: await loaded.mod.startKafka({ startTimeoutMs: 120_000 }) };
  } catch (err) {
    return { skipped: `no Kafka (startKafka failed: ${(err as Error).message.split('\n')[0]})` };
  }
}

// ---------------------------------------------------------------------------------------------
// The request every scenario sends, captured from our client so that the ceiling and the http
// request node replay exactly the same path, query, headers and body.

const DROP_HEADERS = new Set(['host', 'content-length', 'connection', 'transfer-encoding', 'keep-alive']);

async function captureTemplate(
  stub: Endpoint,
  load: LoadSettings,
): Promise<{ template: RequestTemplate; note?: string }> {
  const built: RequestTemplate = {
    path: `/topics/${BENCH_TOPIC}/records?key=${encodeURIComponent(BENCH_KEY)}`,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      authorization: `Bearer ${BENCH_API_KEY}`,
    },
    body: JSON.stringify(BENCH_PAYLOAD),
    source: 'built',
  };
  try {
    const Client = loadClient();
    const { clientOptions } = await import('./core-client');
    await ipcCall(stub.child!, { cmd: 'capture' });
    const client = new Client(clientOptions(stub.info!, load, { maxMessages: 10, maxBytes: 1 << 20 }));
    try {
      await client.produce(BENCH_TOPIC, { key: BENCH_KEY, value: BENCH_PAYLOAD });
    } finally {
      await client.close({ deadlineMs: 1000 });
    }
    const last = await ipcCall<{
      method: string;
      url: string;
      headers: Record<string, string>;
      body: string;
    } | null>(stub.child!, { cmd: 'last' });
    if (!last)
      return { template: built, note: 'the core client sent nothing to the stub; using the built template' };
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(last.headers)) if (!DROP_HEADERS.has(k)) headers[k] = v;
    return {
      template: { path: last.url, method: last.method, headers, body: last.body, source: 'captured' },
    };
  } catch (err) {
    return {
      template: built,
      note: `request template built from the API reference (core client unavailable: ${(err as Error).message.split('\n')[0]})`,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Workers

class Worker {
  child?: ChildProcess;
  failed?: string;

  constructor(
    readonly kind: ClientKind,
    private readonly execArgv: string[],
    private readonly endpoints: Map<EndpointId, Endpoint>,
  ) {}

  async start(): Promise<void> {
    this.child = forkChild('worker.js', [this.kind], this.execArgv);
    serveChildRequests(this.child, async (body) => {
      const m = body as { cmd: string; endpoint: EndpointId; faults: Array<{ latencyMs?: number }> };
      if (m.cmd !== 'faults') throw new Error(`unknown request ${m.cmd}`);
      const ep = this.endpoints.get(m.endpoint);
      if (!ep?.child) throw new Error(`no endpoint ${m.endpoint}`);
      if (m.endpoint === 'stub-http') {
        return ipcCall(ep.child, { cmd: 'latency', ms: m.faults[0]?.latencyMs ?? 0 });
      }
      // A fault with neither count nor fraction applies to every request until cleared.
      return ipcCall(ep.child, { cmd: 'faults', faults: m.faults });
    });
    await waitReady(this.child, `${this.kind} worker`);
  }

  async run<T>(job: Job): Promise<T> {
    if (!this.child) await this.start();
    return ipcCall<T>(this.child!, { cmd: 'job', job });
  }

  async stop(): Promise<void> {
    if (!this.child) return;
    try {
      await ipcCall(this.child, { cmd: 'stop' }, 15_000);
    } catch {
      // It may already be gone.
    }
    await stopChild(this.child);
  }
}

function skippedReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const m = /skipped: ([^\n]*)/.exec(text);
  return m ? m[1]! : `failed: ${text.split('\n')[0]}`;
}

/** CPU µs per message from percent of a core and msgs/s. */
function usPerMsg(cpuPct: number | null | undefined, msgsPerSec: number): number | null {
  if (cpuPct == null || !(msgsPerSec > 0)) return null;
  return round((cpuPct / 100) * (1e6 / msgsPerSec), 1);
}

/** One measured closed-loop round, with the machine's load around it. */
type Round = LoopResult & {
  loadBefore: number;
  loadAfter: number;
  kafka?: { sends: number; records: number; maxBatch: number };
};

function closedRow(kind: ClientKind, endpoint: EndpointId, r: LoopResult): ScenarioResult {
  return {
    name: CLIENT_LABEL[kind],
    client: kind,
    mode: 'closed',
    endpoint,
    msgsPerSec: round(r.msgsPerSec, 0),
    p50Ms: round(r.latency.p50),
    p99Ms: round(r.latency.p99),
    p999Ms: round(r.latency.p999),
    cpuPct: round(r.cpuPct, 1),
    heapBytesPerMessage: null,
    endpointCpuPct: round(r.endpointCpuPct, 1),
    cpuUsPerMsg: usPerMsg(r.cpuPct, r.msgsPerSec),
    endpointUsPerMsg: usPerMsg(r.endpointCpuPct, r.msgsPerSec),
    messages: r.messages,
    errors: r.errors,
    ...(r.firstError || r.brokerCpuPct != null
      ? {
          details: {
            ...(r.firstError ? { firstError: r.firstError } : {}),
            ...(r.brokerCpuPct != null ? { brokerCpuPct: round(r.brokerCpuPct, 1) } : {}),
          },
        }
      : {}),
  };
}

function openRow(
  kind: ClientKind,
  endpoint: EndpointId,
  r: OpenResult & { harnessCpuPct?: number | null },
): ScenarioResult {
  const details: Record<string, unknown> = {};
  if (r.firstError) details.firstError = r.firstError;
  if (r.unanswered) details.unanswered = r.unanswered;
  if (r.harnessCpuPct !== undefined) details.harnessCpuPct = round(r.harnessCpuPct, 2);
  return {
    name: CLIENT_LABEL[kind],
    client: kind,
    mode: 'open',
    endpoint,
    msgsPerSec: round(r.msgsPerSec, 0),
    p50Ms: round(r.latency.p50),
    p99Ms: round(r.latency.p99),
    p999Ms: round(r.latency.p999),
    cpuPct: round(r.cpuPct, 2),
    heapBytesPerMessage: null,
    endpointCpuPct: round(r.endpointCpuPct, 1),
    targetRate: r.targetRate,
    sendLagP99Ms: round(r.sendLag.p99),
    messages: r.messages,
    errors: r.errors,
    ...(Object.keys(details).length ? { details } : {}),
  };
}

function skippedRow(
  kind: ClientKind,
  mode: ScenarioResult['mode'],
  endpoint: ScenarioResult['endpoint'],
  reason: string,
  rate?: number,
): ScenarioResult {
  return {
    name: CLIENT_LABEL[kind],
    client: kind,
    mode,
    endpoint,
    msgsPerSec: null,
    p50Ms: null,
    p99Ms: null,
    p999Ms: null,
    cpuPct: null,
    heapBytesPerMessage: null,
    ...(rate ? { targetRate: rate } : {}),
    skipped: reason,
  };
}

function progress(text: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

async function runHeapProbe(
  kind: 'core' | 'node' | 'ceiling' | 'nodered-hold',
  messages: number,
  connections: number,
): Promise<ScenarioResult> {
  const child = forkChild('heap-probe.js', [kind, String(messages), String(connections)], ['--expose-gc']);
  const result = await new Promise<Record<string, unknown>>((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, error: 'heap probe timed out' }), 120_000);
    child.once('message', (m: Record<string, unknown>) => {
      clearTimeout(timer);
      resolve(m);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ ok: false, error: `heap probe exited (code ${code})` });
    });
  });
  await stopChild(child);
  const client: ScenarioResult['client'] = kind === 'nodered-hold' ? 'nodered' : kind;
  const name =
    kind === 'ceiling'
      ? 'ceiling: bare undici Pool (reference)'
      : kind === 'nodered-hold'
        ? 'node-red: hold node only (reference)'
        : CLIENT_LABEL[kind];
  if (!result.ok) {
    const text = String(result.error);
    return {
      ...skippedRow('core', 'heap', 'stalled-stub', /skipped: (.*)/.exec(text)?.[1] ?? text),
      client,
      name,
    };
  }
  return {
    name,
    client,
    mode: 'heap',
    endpoint: 'stalled-stub',
    msgsPerSec: null,
    p50Ms: null,
    p99Ms: null,
    p999Ms: null,
    cpuPct: null,
    heapBytesPerMessage: round(result.heapBytesPerMessage as number, 0),
    messages,
    details: result,
  };
}

function machineInfo(): MachineInfo {
  const version = (pkg: string): string => {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return (require(path.join(ROOT, 'node_modules', pkg, 'package.json')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    totalMemGB: Math.round(os.totalmem() / 1073741824),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    undici: version('undici'),
    nodeRed: version('node-red'),
    loadAvgStart: os.loadavg(),
  };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const p = plan();
  const started = Date.now();
  const machine = machineInfo();
  const notes: string[] = [];
  const scenarios: ScenarioResult[] = [];
  progress(`mode ${p.mode}: ${p.load.connections} connections, window ${p.load.window}`);

  const endpoints = new Map<EndpointId, Endpoint>();
  const [stub, localHttp, localHttps] = await Promise.all([
    startStub(),
    startLocal('local-http', false),
    startLocal('local-https', true),
  ]);
  endpoints.set('stub-http', stub);
  endpoints.set('local-http', localHttp);
  endpoints.set('local-https', localHttps);
  const { template, note } = await captureTemplate(stub, p.load);
  if (note) notes.push(note);

  // Profiles sit beside the results as *.cpuprofile.json, which the results' git-ignore covers;
  // Chrome DevTools loads them as they are.
  const profileDir = RESULTS_DIR;
  const profileSuffix = '.cpuprofile.json';
  if (p.mode === 'profile') {
    mkdirSync(profileDir, { recursive: true });
    for (const f of readdirSync(profileDir)) if (f.endsWith(profileSuffix)) rmSync(path.join(profileDir, f));
  }
  const workers = new Map<ClientKind, Worker>();
  const kinds: ClientKind[] =
    p.mode === 'profile'
      ? p.kafkaOnly
        ? ['ceiling']
        : ['ceiling', 'core', 'node']
      : p.kafkaOnly
        ? ['ceiling', 'dispatch']
        : KINDS;
  if (p.mode === 'profile')
    notes.push(
      `CPU profiles (load them in Chrome DevTools): ${path.relative(ROOT, profileDir)}/profile-*${profileSuffix}`,
    );
  for (const kind of kinds) workers.set(kind, new Worker(kind, [], endpoints));
  await Promise.all(
    [...workers.values()].map((w) =>
      w.start().catch((err: unknown) => {
        w.failed = skippedReason(err);
      }),
    ),
  );

  const closedEndpoints: EndpointId[] =
    p.mode === 'profile' ? ['stub-http'] : ['stub-http', 'local-http', 'local-https'];
  const runClosedMatrix = async (endpointIds: EndpointId[]): Promise<void> => {
    for (const id of endpointIds) {
      const ep = endpoints.get(id);
      // Warm the endpoint (its JIT, its sockets) with an unrecorded ceiling run, so the first kind
      // measured against it is not charged for a cold server.
      const ceiling = workers.get('ceiling');
      if (ep?.info && ceiling && !ceiling.failed && !(id === 'stub-http' && clientsWarmed)) {
        progress(`warming ${id}`);
        await ceiling
          .run({
            type: 'closed',
            endpoint: ep.info,
            template,
            load: p.load,
            warmupMs: 0,
            measureMs: p.endpointWarmupMs,
          })
          .catch(() => undefined);
      }
      // Kinds take turns, round after round, so that a change in the machine's background load
      // hits every kind alike; each kind's figure is its median round.
      const rounds = new Map<ClientKind, Round[]>();
      const failures = new Map<ClientKind, string>();
      const roundKinds =
        id === 'local-kafka'
          ? [...kinds, ...KAFKA_KINDS]
          : id === 'stub-http'
            ? [...kinds, ...STUB_KINDS]
            : kinds;
      for (let round = 0; round < p.closed.rounds; round++) {
        for (const kind of roundKinds) {
          let w = workers.get(kind);
          if (!w) {
            w = new Worker(kind, [], endpoints);
            workers.set(kind, w);
          }
          const skip = !ep?.info ? (ep?.skipped ?? 'endpoint not started') : (w.failed ?? failures.get(kind));
          if (skip) {
            failures.set(kind, skip);
            continue;
          }
          progress(
            `closed loop: ${kind} -> ${id}${p.closed.rounds > 1 ? ` (round ${round + 1}/${p.closed.rounds})` : ''} [load ${load1()}]`,
          );
          try {
            const statsBefore = id === 'local-kafka' ? await endpointStats(ep!) : undefined;
            const loadBefore = load1();
            const r = await w.run<LoopResult>({
              type: 'closed',
              endpoint: ep!.info!,
              template,
              load: loadFor(kind, p.load),
              warmupMs: round === 0 ? p.closed.warmupMs : p.closed.roundWarmupMs,
              measureMs: p.closed.measureMs,
              ...(p.mode === 'profile'
                ? { profileFile: path.join(profileDir, `profile-${kind}-${id}${profileSuffix}`) }
                : {}),
            });
            const measured: Round = { ...r, loadBefore, loadAfter: load1() };
            const statsAfter = statsBefore ? await endpointStats(ep!) : undefined;
            if (statsBefore && statsAfter && !KAFKA_KINDS.includes(kind)) {
              measured.kafka = {
                sends: statsAfter.sends - statsBefore.sends,
                records: statsAfter.records - statsBefore.records,
                maxBatch: statsAfter.maxBatch,
              };
            }
            rounds.set(kind, [...(rounds.get(kind) ?? []), measured]);
          } catch (err) {
            failures.set(kind, skippedReason(err));
          }
        }
      }
      for (const kind of roundKinds) {
        const list = rounds.get(kind);
        if (!list?.length) {
          scenarios.push(skippedRow(kind, 'closed', id, failures.get(kind) ?? 'not run'));
          continue;
        }
        const sorted = [...list].sort((a, b) => a.msgsPerSec - b.msgsPerSec);
        const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
        const row = closedRow(kind, id, median);
        row.loadBefore = Math.max(...list.map((x) => x.loadBefore));
        row.loadAfter = Math.max(...list.map((x) => x.loadAfter));
        // Every round, in order: the report pairs rounds by index for its ratios.
        row.details = {
          ...row.details,
          roundsMsgsPerSec: list.map((x) => Math.round(x.msgsPerSec)),
          rounds: list.map((x) => ({
            msgsPerSec: Math.round(x.msgsPerSec),
            wallSeconds: round(x.wallSeconds, 2),
            cpuPct: round(x.cpuPct, 1),
            cpuUsPerMsg: usPerMsg(x.cpuPct, x.msgsPerSec),
            endpointUsPerMsg: usPerMsg(x.endpointCpuPct, x.msgsPerSec),
            loadBefore: x.loadBefore,
            loadAfter: x.loadAfter,
            ...(x.kafka ? { kafka: x.kafka } : {}),
          })),
        };
        const withKafka = list.filter((x) => x.kafka && x.kafka.sends > 0);
        if (withKafka.length) {
          const sends = withKafka.reduce((n, x) => n + x.kafka!.sends, 0);
          const records = withKafka.reduce((n, x) => n + x.kafka!.records, 0);
          row.details.kafkaRecordsPerBatch = round(records / sends, 1);
          row.details.kafkaMaxBatch = Math.max(...withKafka.map((x) => x.kafka!.maxBatch));
        }
        row.messages = list.reduce((n, x) => n + x.messages, 0);
        row.errors = list.reduce((n, x) => n + x.errors, 0);
        scenarios.push(row);
      }
    }
  };
  // Warm every client process once (JIT, Node-RED's first deploy) against the stub, unrecorded;
  // this also warms the stub.
  let clientsWarmed = false;
  const stubForWarmup = endpoints.get('stub-http')?.info;
  if (stubForWarmup) {
    for (const kind of kinds) {
      const w = workers.get(kind)!;
      if (w.failed) continue;
      progress(`warming ${kind}`);
      await w
        .run({
          type: 'closed',
          endpoint: stubForWarmup,
          template,
          load: p.load,
          warmupMs: 0,
          measureMs: p.endpointWarmupMs,
        })
        .catch(() => undefined);
    }
    clientsWarmed = true;
  }
  if (p.sections.has('closed')) {
    await runClosedMatrix(closedEndpoints);
    // Reference: Node-RED's own delivery over the same two hops (source → node → sink), no HTTP.
    const nodeWorker = workers.get('node');
    if (nodeWorker && !nodeWorker.failed && stubForWarmup && p.mode !== 'profile') {
      progress('closed loop: Node-RED pass-through (reference)');
      try {
        const r = await nodeWorker.run<LoopResult>({
          type: 'closed',
          endpoint: stubForWarmup,
          template,
          load: p.load,
          warmupMs: p.closed.warmupMs,
          measureMs: p.closed.measureMs,
          passOnly: true,
        });
        scenarios.push({
          ...closedRow('node', 'stub-http', r),
          name: 'node-red: pass-through only (reference)',
          client: 'nodered',
          endpoint: 'none',
          endpointCpuPct: null,
        });
      } catch (err) {
        notes.push(`Node-RED pass-through reference failed: ${skippedReason(err)}`);
      }
      // Large values: a 60 KB JSON value per record, where serialising it dominates the node's
      // CPU (issue #25 measured 0.75 of the ceiling here, JSON.stringify 26% of busy time).
      progress(`closed loop: ${LARGE_VALUE_ROW} [load ${load1()}]`);
      try {
        const loadBefore = load1();
        const r = await nodeWorker.run<LoopResult>({
          type: 'closed',
          endpoint: stubForWarmup,
          template,
          load: { ...p.load, valueBytes: LARGE_VALUE_BYTES },
          warmupMs: p.closed.warmupMs,
          measureMs: p.closed.measureMs,
        });
        scenarios.push({
          ...closedRow('node', 'stub-http', r),
          name: `${CLIENT_LABEL.node}: ${LARGE_VALUE_BYTES / 1000} KB JSON values`,
          loadBefore,
          loadAfter: load1(),
          details: { row: LARGE_VALUE_ROW, valueBytes: LARGE_VALUE_BYTES, connections: p.load.connections },
        });
      } catch (err) {
        notes.push(`${LARGE_VALUE_ROW} failed: ${skippedReason(err)}`);
      }
    }
  }

  if (p.mode !== 'profile') {
    // Open loop: scheduled arrivals. A kind whose closed-loop maximum is below a rate would only
    // measure its own overload, so that rate is skipped for it.
    for (const { id, kinds: openKinds } of p.sections.has('open') ? p.openEndpoints : []) {
      const ep = endpoints.get(id);
      for (const rate of p.open.rates) {
        for (const kind of openKinds) {
          const w = workers.get(kind)!;
          const closedMax = scenarios.find(
            (s) => s.client === kind && s.mode === 'closed' && s.endpoint === id,
          )?.msgsPerSec;
          let skip = !ep?.info ? (ep?.skipped ?? 'endpoint not started') : w.failed;
          if (!skip && closedMax != null && closedMax < rate * 1.25) {
            skip = `above its closed-loop capacity (${Math.round(closedMax)} msgs/s)`;
          }
          if (skip) {
            scenarios.push(skippedRow(kind, 'open', id, skip, rate));
            continue;
          }
          progress(`open loop ${rate}/s: ${kind} -> ${id}`);
          try {
            const r = await w.run<OpenResult>({
              type: 'open',
              endpoint: ep!.info!,
              template,
              load: p.load,
              rate,
              ...p.open,
              label: `open ${rate}/s`,
            });
            scenarios.push(openRow(kind, id, r));
          } catch (err) {
            scenarios.push(skippedRow(kind, 'open', id, skippedReason(err), rate));
          }
        }
      }
    }

    // CPU at 200 msgs/s (Event Streams Enterprise's REST producer limit).
    const stubInfo = endpoints.get('stub-http')!.info!;
    for (const kind of p.sections.has('low') ? p.lowRate.kinds : []) {
      const w = workers.get(kind)!;
      if (w.failed) {
        scenarios.push(skippedRow(kind, 'open', 'stub-http', w.failed, p.lowRate.rate));
        continue;
      }
      progress(`open loop ${p.lowRate.rate}/s (CPU): ${kind} -> stub-http`);
      try {
        const r = await w.run<OpenResult>({
          type: 'open',
          endpoint: stubInfo,
          template,
          load: p.load,
          rate: p.lowRate.rate,
          warmupMs: p.lowRate.warmupMs,
          measureMs: p.lowRate.measureMs,
          label: `open ${p.lowRate.rate}/s`,
          // The harness's own cost does not depend on the client kind: measure it once.
          harnessBaseline: kind === p.lowRate.kinds[0],
        });
        scenarios.push(openRow(kind, 'stub-http', r));
      } catch (err) {
        scenarios.push(skippedRow(kind, 'open', 'stub-http', skippedReason(err), p.lowRate.rate));
      }
    }

    // Heap per queued message, each kind in a fresh --expose-gc process.
    for (const kind of p.sections.has('heap') ? p.heap.kinds : []) {
      progress(`heap probe: ${kind}, ${p.heap.messages} messages`);
      scenarios.push(await runHeapProbe(kind, p.heap.messages, p.load.connections));
    }

    // Stall: the local HTTP endpoint (or the stub when the local endpoint is missing) slowed.
    const stallEndpoint = endpoints.get('local-http')?.info ?? stubInfo;
    const core = workers.get('core')!;
    if (!p.sections.has('stall')) {
      // Not asked for.
    } else if (core.failed) {
      scenarios.push(skippedRow('core', 'stall', stallEndpoint.id, core.failed));
    } else {
      progress(
        `stall: +${p.stall.latencyMs} ms for ${p.stall.stallMs / 1000} s at ${p.stall.rate} msgs/s -> ${stallEndpoint.id}`,
      );
      try {
        const d = await core.run<Record<string, unknown>>({
          type: 'stall',
          endpoint: stallEndpoint,
          template,
          load: p.load,
          rate: p.stall.rate,
          latencyMs: p.stall.latencyMs,
          preMs: p.stall.preMs,
          stallMs: p.stall.stallMs,
          postMs: p.stall.postMs,
          queueMaxMessages: p.stall.queue,
          queueMaxBytes: 16 * 1024 * 1024,
        });
        scenarios.push({
          name: `${CLIENT_LABEL.core} (stall)`,
          client: 'core',
          mode: 'stall',
          endpoint: stallEndpoint.id,
          msgsPerSec: round(d.stallThroughput as number, 0),
          p50Ms: round((d.latency as { stall: { p50: number } }).stall.p50),
          p99Ms: round((d.latency as { stall: { p99: number } }).stall.p99),
          p999Ms: round((d.latency as { stall: { p999: number } }).stall.p999),
          cpuPct: null,
          heapBytesPerMessage: null,
          details: d,
        });
      } catch (err) {
        scenarios.push(skippedRow('core', 'stall', stallEndpoint.id, skippedReason(err)));
      }
    }
  }

  // The producer node with order per key on into an endpoint that answers after 20 ms: one key
  // (a gateway keying by its own device id) against eight. The default of order per key rests on
  // these two rows.
  const nodeWorker = workers.get('node');
  if (p.mode !== 'profile' && p.sections.has('rtt20') && nodeWorker && !nodeWorker.failed && stub.child) {
    await ipcCall(stub.child, { cmd: 'latency', ms: 20 });
    // Order per key on: one key is one request at a time (1/RTT), eight keys at most eight. Order
    // off: nothing but the in-flight limit holds records back, so these rows show it adapting
    // past connections ÷ RTT (8 ÷ 20 ms = 400/s) towards Maximum connections ÷ RTT. The window
    // keeps the queue deeper than that maximum.
    for (const [keys, name, orderByKey] of [
      [1, 'node-one-key-20ms', true],
      [8, 'node-8-keys-20ms', true],
      [1, 'node-one-key-20ms-order-off', false],
      [8, 'node-8-keys-20ms-order-off', false],
    ] as const) {
      progress(`closed loop: ${name} [load ${load1()}]`);
      const loadBefore = load1();
      try {
        const r = await nodeWorker.run<LoopResult>({
          type: 'closed',
          endpoint: stub.info!,
          template,
          load: { ...p.load, orderByKey, keys, window: Math.max(p.load.window, RTT20_WINDOW) },
          warmupMs: p.closed.roundWarmupMs,
          measureMs: Math.max(5000, p.closed.measureMs),
        });
        scenarios.push({
          ...closedRow('node', 'stub-http', r),
          name: `${CLIENT_LABEL.node}: order per key ${orderByKey ? 'on' : 'off'}, ${keys} key${keys > 1 ? 's' : ''}, endpoint answers after 20 ms`,
          loadBefore,
          loadAfter: load1(),
          details: { row: name, keys, orderByKey, latencyMs: 20, connections: p.load.connections },
        });
      } catch (err) {
        notes.push(`${name} failed: ${skippedReason(err)}`);
      }
    }
    await ipcCall(stub.child, { cmd: 'latency', ms: 0 });
  }

  // The Kafka-backed endpoint last: the broker's JVM competes for the same two cores.
  let kafka: KafkaLike | undefined;
  const endpointList: EndpointId[] = [...closedEndpoints];
  if ((p.mode !== 'profile' || p.kafkaOnly) && p.sections.has('kafka')) {
    endpointList.push('local-kafka');
    let kafkaSkip: string | undefined;
    if (!p.kafka) {
      kafkaSkip = 'skipped: no Kafka (quick mode; set KAFKA_BROKERS to include it)';
    } else {
      progress('starting Kafka');
      const k = await startKafkaIfAvailable();
      kafka = k.kafka;
      kafkaSkip = k.skipped;
    }
    if (kafka) {
      const ep = await startLocal('local-kafka', false, kafka.brokers);
      if (ep.info && kafka.pid) ep.info.brokerPid = kafka.pid;
      if (ep.info) ep.info.brokers = kafka.brokers;
      endpoints.set('local-kafka', ep);
      await runClosedMatrix(['local-kafka']);
    } else {
      endpoints.set('local-kafka', { skipped: kafkaSkip! });
      for (const kind of kinds)
        scenarios.push(skippedRow(kind, 'closed', 'local-kafka', kafkaSkip!.replace(/^skipped: /, '')));
    }
  }

  await Promise.all([...workers.values()].map((w) => w.stop()));
  await Promise.all(
    [...endpoints.values()].map(async (ep) => {
      if (!ep.child) return;
      if (ep.info?.id !== 'stub-http')
        await ipcCall(ep.child, { cmd: 'stop' }, 10_000).catch(() => undefined);
      await stopChild(ep.child);
    }),
  );
  if (kafka) await kafka.stop().catch(() => undefined);

  // The outbox drain row (bench/outbox-drain.ts) brings its own endpoint and worker processes.
  let outboxDrain: OutboxDrainResult | undefined;
  if (p.mode !== 'profile' && p.sections.has('drain')) {
    progress('outbox drain');
    const size = p.mode === 'quick' ? { records: 20_000, rounds: 1 } : { records: 100_000, rounds: 3 };
    outboxDrain = await runOutboxDrain(size).catch((err: unknown) => {
      notes.push(`outbox drain skipped: ${skippedReason(err)}`);
      return undefined;
    });
    if (outboxDrain) notes.push(formatOutboxDrain(outboxDrain));
  }

  let profiles: ProfileSummary[] | undefined;
  if (p.mode === 'profile') {
    profiles = readdirSync(profileDir)
      .filter((f) => f.startsWith('profile-') && f.endsWith(profileSuffix))
      .sort()
      .map((f) => summarizeProfile(path.join(profileDir, f)));
  }

  machine.loadAvgEnd = os.loadavg();
  if (machine.loadAvgStart[0]! > machine.cpus * 0.5 || machine.loadAvgEnd[0]! > machine.cpus * 0.5) {
    notes.push(
      `the machine was busy (load average ${machine.loadAvgStart[0]!.toFixed(1)} at start, ${machine.loadAvgEnd[0]!.toFixed(1)} at end, on ${machine.cpus} cores): absolute figures are noisy`,
    );
  }
  const withErrors = scenarios.filter((x) => (x.errors ?? 0) > 0);
  if (withErrors.length) {
    notes.push(
      `some sends failed: ${withErrors.map((x) => `${x.client} ${x.mode} ${x.endpoint}: ${x.errors} (${String((x.details as { firstError?: string } | undefined)?.firstError ?? '')})`).join('; ')}`,
    );
  }
  const safeHeaders = { ...template.headers };
  if (safeHeaders.authorization)
    safeHeaders.authorization = safeHeaders.authorization.replace(/ .*/, ' [redacted]');
  const partial: Omit<BenchResults, 'targets'> = {
    version: 1,
    mode: p.mode,
    startedAt: new Date(started).toISOString(),
    durationSec: (Date.now() - started) / 1000,
    machine,
    settings: {
      connections: p.load.connections,
      window: p.load.window,
      orderByKey: p.load.orderByKey,
      payloadBytes: BENCH_PAYLOAD_BYTES,
      template: {
        path: template.path,
        headers: safeHeaders,
        bodyBytes: Buffer.byteLength(template.body),
        source: template.source,
      },
      closed: p.closed,
      open: p.open,
    },
    endpoints: [...endpoints.entries()].map(([id, ep]) => ({
      id,
      label: ENDPOINT_LABEL[id],
      ...(ep.skipped ? { skipped: ep.skipped } : {}),
    })),
    scenarios,
    ratios: computeRatios(scenarios, endpointList, machine.cpus),
    notes,
    ...(profiles ? { profiles } : {}),
  };
  const results: BenchResults = { ...partial, targets: evaluateTargets(partial), ...namedRows(scenarios) };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, p.mode === 'profile' ? 'profile.json' : 'latest.json');
  writeFileSync(file, `${JSON.stringify(outboxDrain ? { ...results, outboxDrain } : results, null, 2)}\n`);
  console.log(renderReport(results));
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
}

/**
 * The rows the issue tracker and the README quote, by name: records/s and CPU µs per record (the
 * client's process; the endpoint's beside it), with the load average around the run.
 */
function namedRows(scenarios: ScenarioResult[]): Pick<BenchResults, 'rows' | 'rowTargets'> {
  const kafkaRow = (kind: ClientKind): ScenarioResult | undefined =>
    scenarios.find(
      (s) => s.client === kind && s.mode === 'closed' && s.endpoint === 'local-kafka' && !s.skipped,
    );
  const rtt20 = (name: string): ScenarioResult | undefined =>
    scenarios.find((s) => (s.details as { row?: string } | undefined)?.row === name);
  const picked: Record<string, ScenarioResult | undefined> = {
    'gateway-batch': kafkaRow('gateway-batch'),
    'gateway-single': kafkaRow('dispatch'),
    'kafkajs-100': kafkaRow('kafkajs-batch'),
    'kafkajs-32': kafkaRow('kafkajs-32'),
    'kafkajs-1': kafkaRow('kafkajs'),
    'node-kafka': kafkaRow('node-kafka'),
    'node-one-key-20ms': rtt20('node-one-key-20ms'),
    'node-8-keys-20ms': rtt20('node-8-keys-20ms'),
    'node-one-key-20ms-order-off': rtt20('node-one-key-20ms-order-off'),
    'node-8-keys-20ms-order-off': rtt20('node-8-keys-20ms-order-off'),
    [LARGE_VALUE_ROW]: rtt20(LARGE_VALUE_ROW),
  };
  const rows: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(picked)) {
    rows[name] = s
      ? {
          recordsPerSec: s.msgsPerSec,
          cpuUsPerRecord: s.cpuUsPerMsg ?? null,
          endpointCpuUsPerRecord: s.endpointUsPerMsg ?? null,
          p50Ms: s.p50Ms,
          p99Ms: s.p99Ms,
          loadBefore: s.loadBefore ?? null,
          loadAfter: s.loadAfter ?? null,
          client: s.client,
          endpoint: s.endpoint,
        }
      : { skipped: 'not run' };
  }
  const rate = (n: string): number | null =>
    ((rows[n] as { recordsPerSec?: number | null }).recordsPerSec ?? null) || null;
  const ratio = (a: string, b: string): number | null => {
    const x = rate(a);
    const y = rate(b);
    return x != null && y != null ? round(x / y, 2) : null;
  };
  const rowTargets = {
    gatewayBatchVsKafkajs100: { value: ratio('gateway-batch', 'kafkajs-100'), goal: 0.41 },
    gatewaySingleVsKafkajs32: { value: ratio('gateway-single', 'kafkajs-32'), goal: 1.0 },
    oneKeyVs8Keys20ms: { value: ratio('node-one-key-20ms', 'node-8-keys-20ms'), goal: null },
    // Issue #22: the node over the Kafka transport against kafkajs on the same broker.
    nodeKafkaVsKafkajs100: { value: ratio('node-kafka', 'kafkajs-100'), goal: 0.8 },
    nodeKafkaVsKafkajs1: { value: ratio('node-kafka', 'kafkajs-1'), goal: 5 },
  };
  const judged: NonNullable<BenchResults['rowTargets']> = {};
  for (const [name, t] of Object.entries(rowTargets)) {
    judged[name] = {
      ...t,
      result: t.goal == null || t.value == null ? null : t.value >= t.goal ? 'PASS' : 'MISS',
    };
  }
  return { rows, rowTargets: judged };
}

function cleanup(): void {
  for (const child of children) child.kill('SIGKILL');
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    cleanup();
    process.exit(1);
  },
);
