// SPDX-License-Identifier: Apache-2.0
/**
 * Shapes and constants shared by the benchmark's orchestrator (run.ts) and its child processes
 * (endpoints, client workers, heap probe). Everything here is plain data so it can cross IPC.
 */
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';

/** Root of the checkout (this file compiles to dist/bench/common.js). */
export const ROOT = path.resolve(__dirname, '..', '..');
export const DIST = path.join(ROOT, 'dist');

/** One API key for every endpoint, so the captured request template is identical everywhere. */
export const BENCH_API_KEY = 'bench-key-0123456789abcdef';
export const BENCH_TOPIC = 'bench';

/**
 * The record every scenario sends: a ~190-byte JSON reading with a key, like a typical IoT
 * message. The same object is reused for every send (no per-message allocation in any scenario);
 * the heap probe alone builds a fresh copy per message.
 */
export const BENCH_KEY = 'sensor-0042';
export const BENCH_PAYLOAD = {
  deviceId: 'sensor-0042',
  site: 'plant-7',
  line: 3,
  ts: 1764000000000,
  temperature: 21.5,
  humidity: 48.25,
  pressure: 1013.25,
  vibration: [0.012, 0.018, 0.011],
  status: 'ok',
  firmware: '2.4.1',
};
export const BENCH_PAYLOAD_BYTES = Buffer.byteLength(JSON.stringify(BENCH_PAYLOAD));

const bigPayloads = new Map<number, Record<string, unknown>>();

/**
 * The bench payload, or one grown to `valueBytes` of JSON by a text field (a camera frame's
 * metadata, a batch of readings): the large-value row. Built once per size and shared.
 */
export function benchPayload(valueBytes?: number): Record<string, unknown> {
  if (valueBytes === undefined || valueBytes <= BENCH_PAYLOAD_BYTES) return BENCH_PAYLOAD;
  let p = bigPayloads.get(valueBytes);
  if (p === undefined) {
    // `,"blob":""` is 10 bytes of JSON around the text.
    p = { ...BENCH_PAYLOAD, blob: 'x'.repeat(valueBytes - BENCH_PAYLOAD_BYTES - 10) };
    bigPayloads.set(valueBytes, p);
  }
  return p;
}

export type ClientKind =
  | 'ceiling'
  | 'dispatch'
  | 'core'
  | 'core-metered'
  | 'node'
  | 'httpreq'
  | 'kafkajs'
  | 'kafkajs-32'
  | 'kafkajs-batch'
  | 'gateway-batch'
  | 'node-kafka';
export type EndpointId = 'stub-http' | 'local-http' | 'local-https' | 'local-kafka';

export const CLIENT_LABEL: Record<ClientKind, string> = {
  ceiling: 'ceiling: bare undici request() loop',
  dispatch: 'ceiling: bare undici dispatch() loop',
  core: 'core: EventStreamsClient',
  'core-metered': 'core: EventStreamsClient with endpoint metrics (MeteredSender)',
  node: 'node: event-streams-producer',
  httpreq: 'node-red: http request',
  kafkajs: 'kafkajs direct: one awaited send per message',
  'kafkajs-32': 'kafkajs direct: 32 sends in flight, one message each',
  'kafkajs-batch': 'kafkajs direct: 100 messages per send',
  'gateway-batch': 'gateway batch route: bare undici, 100 v2 records per request',
  'node-kafka': 'node: event-streams-producer over the Kafka transport (no gateway)',
};

/** Sends in flight in the `kafkajs-32` row (the independent harness's figure). */
export const KAFKAJS_IN_FLIGHT = 32;
/** Batch requests in flight in the `gateway-batch` row (each {@link KAFKAJS_BATCH} records). */
export const GATEWAY_BATCHES_IN_FLIGHT = 4;

/** Messages per kafkajs send in the batched kafkajs row. */
export const KAFKAJS_BATCH = 100;

export const ENDPOINT_LABEL: Record<EndpointId, string> = {
  'stub-http': 'stub (HTTP)',
  'local-http': 'local memory (HTTP)',
  'local-https': 'local memory (HTTPS)',
  'local-kafka': 'local Kafka-backed (HTTP)',
};

export interface EndpointInfo {
  id: EndpointId;
  /** Base URL of the REST producer. */
  url: string;
  apiKey: string;
  /** CA PEM for HTTPS endpoints. */
  caPem?: string;
  /** The endpoint's process, for its CPU. */
  pid: number;
  /** The Kafka broker behind a Kafka-backed endpoint, when it runs on this machine. */
  brokerPid?: number;
  /** Kafka-backed endpoints: the broker, for the kafkajs-direct rows (same broker, same topic). */
  brokers?: string[];
  topic: string;
}

/** The exact request a v1 produce of the bench record makes, captured from our client at the stub. */
export interface RequestTemplate {
  /** Path plus query, e.g. `/topics/bench/records?key=sensor-0042`. */
  path: string;
  method: string;
  /** Request headers without host/content-length/connection (undici sets those). */
  headers: Record<string, string>;
  body: string;
  /** `captured` from EventStreamsClient, or `built` from the API reference when the client is absent. */
  source: 'captured' | 'built';
}

export interface LoadSettings {
  /** Keep-alive connections per origin (also the client's maxInFlight). */
  connections: number;
  /** Messages kept outstanding by the closed-loop source. */
  window: number;
  /**
   * The client's order per key (`--order-by-key`). Off by default here: every bench record has the
   * same key and the ceilings keep no order, so with it on ours would be one request at a time
   * against their eight; a run with the flag measures exactly that cost.
   */
  orderByKey?: boolean;
  /**
   * Distinct keys the Node-RED source cycles through (default 1: every record has BENCH_KEY). The
   * 20 ms rows compare one key with eight under order per key.
   */
  keys?: number;
  /** JSON bytes of each record's value (default: the ~220-byte sensor reading). */
  valueBytes?: number;
}

export interface ClosedJob {
  type: 'closed';
  endpoint: EndpointInfo;
  template: RequestTemplate;
  load: LoadSettings;
  warmupMs: number;
  measureMs: number;
  /** Write a V8 CPU profile of the run (warm-up included) to this file. */
  profileFile?: string;
  /**
   * Node-RED workers only: run `bench-source → bench-pass → bench-sink` (no HTTP at all) to
   * measure what Node-RED's own message delivery costs in this harness.
   */
  passOnly?: boolean;
}

export interface OpenJob {
  type: 'open';
  endpoint: EndpointInfo;
  template: RequestTemplate;
  load: LoadSettings;
  /** Scheduled arrivals per second. */
  rate: number;
  warmupMs: number;
  measureMs: number;
  /** A label for the result row, e.g. `open 1000/s`. */
  label: string;
  /**
   * Also run the same schedule with a sender that does nothing (acknowledges on the next turn of
   * the event loop) and report its CPU: the harness's own share of the figure.
   */
  harnessBaseline?: boolean;
}

export interface StallJob {
  type: 'stall';
  endpoint: EndpointInfo;
  template: RequestTemplate;
  load: LoadSettings;
  /** Steady input rate (msgs/s) throughout. */
  rate: number;
  latencyMs: number;
  preMs: number;
  stallMs: number;
  /** Longest wait for recovery after the stall is lifted. */
  postMs: number;
  queueMaxMessages: number;
  queueMaxBytes: number;
}

export type Job = ClosedJob | OpenJob | StallJob;

/** One row of the results: the common columns plus what a given measurement adds. */
export interface ScenarioResult {
  name: string;
  /** `nodered`: Node-RED alone (a reference row of the heap probe). */
  client: ClientKind | 'nodered';
  /** closed = max throughput; open = scheduled arrivals; heap = memory probe; stall = slowdown run. */
  mode: 'closed' | 'open' | 'heap' | 'stall';
  endpoint: EndpointId | 'stalled-stub' | 'none';
  msgsPerSec: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  p999Ms: number | null;
  /** Client process CPU, percent of one core. */
  cpuPct: number | null;
  heapBytesPerMessage: number | null;
  /** Endpoint process CPU, percent of one core. */
  endpointCpuPct?: number | null;
  /** Client CPU per acknowledged message, µs (cpuPct of a core ÷ msgs/s). */
  cpuUsPerMsg?: number | null;
  /** Endpoint CPU per record, µs. */
  endpointUsPerMsg?: number | null;
  /** Load average (1 min) just before and just after this row's runs (max over its rounds). */
  loadBefore?: number;
  loadAfter?: number;
  /** Open loop: the target rate. */
  targetRate?: number;
  /** Open loop: how late the harness issued sends (timer quantisation), p99 ms. */
  sendLagP99Ms?: number | null;
  messages?: number;
  errors?: number;
  /** Set when the scenario could not run. */
  skipped?: string;
  /** Extra figures of special runs (heap, stall). */
  details?: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// IPC: request/response over a forked child's channel.

interface IpcRequest {
  __req: number;
  body: unknown;
}
interface IpcReply {
  __res: number;
  ok: boolean;
  body?: unknown;
  error?: string;
}

/** Sends a request to a child and resolves with its reply; children answer with {@link serveIpc}. */
export function ipcCall<T>(child: ChildProcess, body: unknown, timeoutMs = 600_000): Promise<T> {
  const id = ++ipcSeq;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`IPC call timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: unknown): void => {
      const r = m as IpcReply;
      if (!r || r.__res !== id) return;
      cleanup();
      if (r.ok) resolve(r.body as T);
      else reject(new Error(r.error ?? 'child failed'));
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`child exited (code ${code}) before answering`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send({ __req: id, body } satisfies IpcRequest);
  });
}
let ipcSeq = 0;

/** In a child: answers every IPC request with the handler's result. */
export function serveIpc(handler: (body: unknown) => Promise<unknown> | unknown): void {
  process.on('message', (m: unknown) => {
    const req = m as IpcRequest;
    if (!req || typeof req.__req !== 'number') return;
    Promise.resolve()
      .then(() => handler(req.body))
      .then(
        (body) => process.send?.({ __res: req.__req, ok: true, body } satisfies IpcReply),
        (err: unknown) =>
          process.send?.({
            __res: req.__req,
            ok: false,
            error: err instanceof Error ? (err.stack ?? err.message) : String(err),
          } satisfies IpcReply),
      );
  });
}

/** Sends a request from a child to its parent (used by the stall run to switch endpoint faults). */
export function ipcCallParent<T>(body: unknown, timeoutMs = 30_000): Promise<T> {
  const id = ++ipcSeq + 1_000_000;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error(`IPC call to parent timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: unknown): void => {
      const r = m as IpcReply;
      if (!r || r.__res !== id) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      if (r.ok) resolve(r.body as T);
      else reject(new Error(r.error ?? 'parent failed'));
    };
    process.on('message', onMessage);
    process.send?.({ __req: id, body } satisfies IpcRequest);
  });
}

/** In the parent: answers requests a child makes with {@link ipcCallParent}. */
export function serveChildRequests(child: ChildProcess, handler: (body: unknown) => Promise<unknown>): void {
  child.on('message', (m: unknown) => {
    const req = m as IpcRequest;
    if (!req || typeof req.__req !== 'number') return;
    handler(req.body).then(
      (body) => child.send({ __res: req.__req, ok: true, body } satisfies IpcReply),
      (err: unknown) =>
        child.send({ __res: req.__req, ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

/** Loads a compiled module of another part of the package, or returns the reason it is missing. */
export function loadDist<T>(relative: string): { mod?: T; missing?: string } {
  const file = path.join(DIST, relative);
  try {
    // Loaded at run time on purpose (see above); a static import would make it a build dependency.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return { mod: require(file) as T };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(file)) {
      return { missing: `${path.relative(ROOT, file)} is not built` };
    }
    return { missing: `${path.relative(ROOT, file)} failed to load: ${e.message.split('\n')[0]}` };
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
