// SPDX-License-Identifier: Apache-2.0
/**
 * Turns the benchmark results into the stdout table, the targets (PASS/MISS) and Markdown.
 *
 *   node dist/bench/report.js [bench/results/latest.json] [--md]
 * Over 500 lines because every part of the report (table, targets, Markdown) reads the same ratios
 * (a bench script, not shipped).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import {
  CLIENT_LABEL,
  ENDPOINT_LABEL,
  ROOT,
  type ClientKind,
  type EndpointId,
  type ScenarioResult,
} from './common';
import { formatProfile, type ProfileSummary } from './profile';
import { fmt } from './stats';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  totalMemGB: number;
  platform: string;
  node: string;
  undici: string;
  nodeRed: string;
  loadAvgStart: number[];
  loadAvgEnd?: number[];
}

/**
 * Every ratio is the median of per-round ratios: the two clients of a ratio run in the same
 * round, one after the other, so a change of background load hits both.
 */
export interface Ratio {
  endpoint: EndpointId;
  /** Producer node msgs/s ÷ Node-RED http request msgs/s. */
  oursVsHttpRequest: number | null;
  /** Producer node msgs/s ÷ bare undici request() loop msgs/s (the historical "ceiling"). */
  oursVsCeiling: number | null;
  /** Core client msgs/s ÷ bare undici request() loop msgs/s. */
  coreVsCeiling: number | null;
  /** Same as oursVsCeiling, under its explicit name. */
  oursVsRequestLoop?: number | null;
  /** Producer node msgs/s ÷ bare undici dispatch() loop msgs/s. */
  oursVsDispatchLoop?: number | null;
  /** Kafka-backed endpoint only: bare dispatch() loop through the gateway ÷ kafkajs (one awaited send per message). */
  gatewayVsKafkajs?: number | null;
  /** Kafka-backed endpoint only: bare dispatch() loop through the gateway ÷ kafkajs batched (100 per send). */
  gatewayVsKafkajsBatch?: number | null;
  /** Kafka-backed endpoint only: producer node through the gateway ÷ kafkajs one awaited send. */
  oursViaGatewayVsKafkajs?: number | null;
  /** Producer node over the Kafka transport ÷ kafkajs 100 per send (same broker; target >= 0.8). */
  nodeKafkaVsKafkajsBatch?: number | null;
  /** Producer node over the Kafka transport ÷ kafkajs one awaited send (same broker; target >= 5). */
  nodeKafkaVsKafkajs?: number | null;
  /** Stub only: core client with endpoint metrics ÷ the same client without (the cost of metrics). */
  metricsOnVsOff?: number | null;
  /** Per ratio: the per-round ratios, their median and range. */
  spread?: Record<string, RatioSpread>;
  /** Per ratio: why its figure is not to be trusted (busy machine, short rounds). */
  warnings?: Record<string, string[]>;
}

export interface RatioSpread {
  median: number;
  min: number;
  max: number;
  rounds: number[];
}

/** A round shorter than this gives no figure, only a warning. */
export const MIN_ROUND_SECONDS = 5;

interface RoundInfo {
  msgsPerSec: number;
  wallSeconds: number;
  loadBefore: number;
  loadAfter: number;
}

function roundsOf(s: ScenarioResult): RoundInfo[] {
  const r = (s.details as { rounds?: RoundInfo[] } | undefined)?.rounds;
  if (r?.length) return r;
  return [
    {
      msgsPerSec: s.msgsPerSec ?? 0,
      wallSeconds: (s.details as { wallSeconds?: number } | undefined)?.wallSeconds ?? 0,
      loadBefore: s.loadBefore ?? 0,
      loadAfter: s.loadAfter ?? 0,
    },
  ];
}

function medianOf(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per-round ratio a/b (rounds paired by index), with the warnings that apply to those rounds. */
export function pairedRatio(
  a: ScenarioResult | undefined,
  b: ScenarioResult | undefined,
  cpus: number,
): { spread: RatioSpread; warnings: string[] } | undefined {
  if (!a?.msgsPerSec || !b?.msgsPerSec) return undefined;
  const ra = roundsOf(a);
  const rb = roundsOf(b);
  const n = Math.min(ra.length, rb.length);
  const ratios: number[] = [];
  let maxLoad = 0;
  let minWall = Infinity;
  for (let i = 0; i < n; i++) {
    const x = ra[i]!;
    const y = rb[i]!;
    if (x.msgsPerSec > 0 && y.msgsPerSec > 0)
      ratios.push(Math.round((x.msgsPerSec / y.msgsPerSec) * 1000) / 1000);
    maxLoad = Math.max(maxLoad, x.loadBefore, x.loadAfter, y.loadBefore, y.loadAfter);
    for (const w of [x.wallSeconds, y.wallSeconds]) if (w > 0) minWall = Math.min(minWall, w);
  }
  const warnings: string[] = [];
  if (maxLoad > cpus) warnings.push(`machine busy (load up to ${maxLoad.toFixed(1)} > ${cpus} cores)`);
  // The driver's window is the measured time; a round ends a few ms past it.
  if (minWall < MIN_ROUND_SECONDS - 0.05)
    warnings.push(`round too short (${minWall.toFixed(1)} s < ${MIN_ROUND_SECONDS} s)`);
  if (ratios.length === 0) return undefined;
  return {
    spread: {
      median: Math.round(medianOf(ratios) * 1000) / 1000,
      min: Math.min(...ratios),
      max: Math.max(...ratios),
      rounds: ratios,
    },
    warnings,
  };
}

export interface TargetResult {
  id: string;
  description: string;
  target: string;
  actual: string;
  pass: boolean | null;
  note?: string;
}

export interface BenchResults {
  version: 1;
  mode: 'quick' | 'full' | 'profile';
  startedAt: string;
  durationSec: number;
  machine: MachineInfo;
  settings: {
    connections: number;
    window: number;
    payloadBytes: number;
    orderByKey?: boolean;
    template: { path: string; headers: Record<string, string>; bodyBytes: number; source: string };
    closed: { warmupMs: number; roundWarmupMs?: number; measureMs: number; rounds?: number };
    open: { warmupMs: number; measureMs: number; rates: number[] };
  };
  endpoints: Array<{ id: EndpointId; label: string; skipped?: string }>;
  scenarios: ScenarioResult[];
  ratios: Ratio[];
  targets: TargetResult[];
  /** The named rows (`gateway-batch`, `gateway-single`, `kafkajs-100`, `kafkajs-32`, `node-one-key-20ms`, `node-8-keys-20ms`). */
  rows?: Record<string, unknown>;
  /** Ratios between the named rows against the issue's goals (judged by the reader: see the loads). */
  rowTargets?: Record<string, { value: number | null; goal: number | null; result?: 'PASS' | 'MISS' | null }>;
  profiles?: ProfileSummary[];
  notes: string[];
}

// ---------------------------------------------------------------------------------------------

function find(
  scenarios: ScenarioResult[],
  client: ClientKind,
  mode: ScenarioResult['mode'],
  endpoint?: string,
  rate?: number,
): ScenarioResult | undefined {
  return scenarios.find(
    (s) =>
      s.client === client &&
      s.mode === mode &&
      !s.skipped &&
      (endpoint === undefined || s.endpoint === endpoint) &&
      (rate === undefined || s.targetRate === rate),
  );
}

export function computeRatios(scenarios: ScenarioResult[], endpoints: EndpointId[], cpus = 2): Ratio[] {
  return endpoints.map((endpoint) => {
    const row = (k: ClientKind): ScenarioResult | undefined => find(scenarios, k, 'closed', endpoint);
    const spread: Record<string, RatioSpread> = {};
    const warnings: Record<string, string[]> = {};
    const ratio = (name: string, a: ClientKind, b: ClientKind): number | null => {
      const r = pairedRatio(row(a), row(b), cpus);
      if (!r) return null;
      spread[name] = r.spread;
      if (r.warnings.length) warnings[name] = r.warnings;
      return r.spread.median;
    };
    const out: Ratio = {
      endpoint,
      oursVsHttpRequest: ratio('oursVsHttpRequest', 'node', 'httpreq'),
      oursVsCeiling: ratio('oursVsCeiling', 'node', 'ceiling'),
      coreVsCeiling: ratio('coreVsCeiling', 'core', 'ceiling'),
    };
    const extra: Array<[keyof Ratio & string, ClientKind, ClientKind]> = [
      ['oursVsRequestLoop', 'node', 'ceiling'],
      ['oursVsDispatchLoop', 'node', 'dispatch'],
      ['gatewayVsKafkajs', 'dispatch', 'kafkajs'],
      ['gatewayVsKafkajsBatch', 'dispatch', 'kafkajs-batch'],
      ['oursViaGatewayVsKafkajs', 'node', 'kafkajs'],
      ['nodeKafkaVsKafkajsBatch', 'node-kafka', 'kafkajs-batch'],
      ['nodeKafkaVsKafkajs', 'node-kafka', 'kafkajs'],
      ['metricsOnVsOff', 'core-metered', 'core'],
    ];
    for (const [name, a, b] of extra) {
      const v = ratio(name, a, b);
      if (v !== null) (out as unknown as Record<string, number>)[name] = v;
    }
    if (Object.keys(spread).length) out.spread = spread;
    if (Object.keys(warnings).length) out.warnings = warnings;
    return out;
  });
}

/** A ratio as the report prints it: median (range), or a warning instead when it cannot be trusted. */
export function formatRatio(r: Ratio, name: string, asPercent: boolean, quick = false): string {
  const v = (r as unknown as Record<string, number | null | undefined>)[name];
  if (v == null) return '-';
  const f = (x: number): string =>
    asPercent ? `${(x * 100).toFixed(0)}%` : `${x < 0.95 ? x.toFixed(3) : x.toFixed(1)}x`;
  const sp = r.spread?.[name];
  const range = sp && sp.rounds.length > 1 ? ` (${f(sp.min)}-${f(sp.max)})` : '';
  const warn = r.warnings?.[name];
  if (warn?.length) return quick ? `~${f(v)} indicative` : `WARNING: ${warn.join('; ')} [indicative ${f(v)}]`;
  return `${f(v)}${range}`;
}

/** Why a throughput figure may be low, from the CPU figures measured alongside it. */
function boundBy(
  s: ScenarioResult | undefined,
  load: number[] | undefined,
  cpus: number,
  ceiling?: ScenarioResult,
): string {
  if (!s) return '';
  const parts: string[] = [];
  if (ceiling?.msgsPerSec && s.msgsPerSec && s.msgsPerSec >= 0.9 * ceiling.msgsPerSec) {
    parts.push(`endpoint-bound: bare undici gets only ${fmt(ceiling.msgsPerSec)} msgs/s from this endpoint`);
  }
  const broker = (s.details as { brokerCpuPct?: number } | undefined)?.brokerCpuPct;
  if (broker != null) parts.push(`Kafka broker at ${fmt(broker, 0)}% of a core`);
  if ((s.cpuPct ?? 0) >= 90) parts.push(`client process at ${fmt(s.cpuPct, 0)}% of a core (CPU-bound)`);
  if ((s.endpointCpuPct ?? 0) >= 90) parts.push(`endpoint at ${fmt(s.endpointCpuPct, 0)}% of a core`);
  if (load && load[0]! > cpus)
    parts.push(`machine load ${load[0]!.toFixed(1)} on ${cpus} cores (shared, noisy)`);
  return parts.join('; ');
}

function lowRateNote(
  row: ScenarioResult,
  ceiling: ScenarioResult | undefined,
  load: number[] | undefined,
  cpus: number,
  dispatch?: ScenarioResult,
): string {
  const parts = [`over by ${((row.cpuPct ?? 0) - 2).toFixed(2)} points of a core`];
  const harness = (ceiling?.details as { harnessCpuPct?: number } | undefined)?.harnessCpuPct;
  if (harness != null) parts.push(`the harness's own timer loop alone uses ${harness.toFixed(2)}%`);
  if (ceiling?.cpuPct != null)
    parts.push(
      `bare undici uses ${ceiling.cpuPct.toFixed(2)}% (request() loop)${dispatch?.cpuPct != null ? ` and ${dispatch.cpuPct.toFixed(2)}% (dispatch() loop)` : ''} at the same rate`,
    );
  if (load && load[0]! > cpus) parts.push(`machine load ${load[0]!.toFixed(1)} on ${cpus} cores`);
  return parts.join('; ');
}

export function evaluateTargets(r: Omit<BenchResults, 'targets'>): TargetResult[] {
  const out: TargetResult[] = [];
  const s = r.scenarios;
  const load = r.machine.loadAvgEnd ?? r.machine.loadAvgStart;
  const cpus = r.machine.cpus;

  const quick = r.mode === 'quick';
  /** A ratio target: PASS/MISS, or not judged when the ratio carries warnings. */
  const ratioTarget = (
    ratio: Ratio,
    name: string,
    id: string,
    description: string,
    goal: number,
    asPercent: boolean,
    why: () => string,
  ): void => {
    const v = (ratio as unknown as Record<string, number | null | undefined>)[name];
    if (v == null) return;
    const warn = ratio.warnings?.[name];
    const shown = formatRatio({ ...ratio, warnings: {} }, name, asPercent);
    const pass = v >= goal;
    const gap = asPercent ? `${((goal - v) * 100).toFixed(0)} points` : `${(goal / v).toFixed(2)}x`;
    out.push({
      id,
      description,
      target: asPercent ? `>= ${(goal * 100).toFixed(0)}%` : `>= ${goal}x`,
      actual: shown,
      pass: warn?.length || quick ? null : pass,
      ...(warn?.length || quick
        ? { note: `not judged: ${[...(quick ? ['quick mode'] : []), ...(warn ?? [])].join('; ')}` }
        : pass
          ? {}
          : { note: `short by ${gap}. ${why()}` }),
    });
  };
  for (const ratio of r.ratios) {
    const ep = ratio.endpoint;
    const node = find(s, 'node', 'closed', ep);
    const ceiling = find(s, 'ceiling', 'closed', ep);
    ratioTarget(
      ratio,
      'oursVsHttpRequest',
      `node-vs-http-request:${ep}`,
      `producer node vs Node-RED http request, ${ENDPOINT_LABEL[ep]}`,
      10,
      false,
      () => boundBy(node, load, cpus, ceiling),
    );
    if (ep === 'stub-http') {
      ratioTarget(
        ratio,
        'oursVsRequestLoop',
        `node-vs-ceiling:${ep}`,
        `producer node vs bare undici request() loop, ${ENDPOINT_LABEL[ep]}`,
        0.85,
        true,
        () => boundBy(node, load, cpus),
      );
      ratioTarget(
        ratio,
        'metricsOnVsOff',
        `metrics-cost:${ep}`,
        `core client with endpoint metrics vs without, ${ENDPOINT_LABEL[ep]} (cost of metrics <= 3%)`,
        0.97,
        true,
        () => 'the metered sender adds a clock read, a histogram bucket and ring-slot update per record',
      );
      ratioTarget(
        ratio,
        'oursVsDispatchLoop',
        `node-vs-dispatch:${ep}`,
        `producer node vs bare undici dispatch() loop, ${ENDPOINT_LABEL[ep]}`,
        0.7,
        true,
        () => boundBy(node, load, cpus),
      );
    }
    if (ep === 'local-kafka') {
      const gw = find(s, 'dispatch', 'closed', ep);
      ratioTarget(
        ratio,
        'gatewayVsKafkajs',
        'gateway-vs-kafkajs',
        'Kafka-backed endpoint (bare dispatch() loop, 8 connections) vs kafkajs one awaited send per message, same broker',
        1,
        false,
        () => boundBy(gw, load, cpus),
      );
      const nk = find(s, 'node-kafka', 'closed', ep);
      ratioTarget(
        ratio,
        'nodeKafkaVsKafkajsBatch',
        'node-kafka-vs-kafkajs-100',
        'producer node over the Kafka transport vs kafkajs 100 messages per send, same broker',
        0.8,
        false,
        () => boundBy(nk, load, cpus),
      );
      ratioTarget(
        ratio,
        'nodeKafkaVsKafkajs',
        'node-kafka-vs-kafkajs-1',
        'producer node over the Kafka transport vs kafkajs one awaited send per message, same broker',
        5,
        false,
        () => boundBy(nk, load, cpus),
      );
    }
  }

  const cpuTarget = (
    client: ClientKind,
    endpoint: EndpointId,
    field: 'cpuUsPerMsg' | 'endpointUsPerMsg',
    goal: number,
    description: string,
  ): void => {
    const row = find(s, client, 'closed', endpoint);
    const v = row?.[field];
    if (row === undefined || v == null) {
      out.push({
        id: `${field}:${client}:${endpoint}`,
        description,
        target: `<= ${goal} us`,
        actual: 'not measured',
        pass: null,
      });
      return;
    }
    const busy = Math.max(row.loadBefore ?? 0, row.loadAfter ?? 0) > cpus;
    out.push({
      id: `${field}:${client}:${endpoint}`,
      description,
      target: `<= ${goal} us`,
      actual: `${fmt(v, 1)} us`,
      pass: quick || busy ? null : v <= goal,
      ...(quick || busy
        ? {
            note: `not judged: ${quick ? 'quick mode' : `machine busy (load ${Math.max(row.loadBefore ?? 0, row.loadAfter ?? 0).toFixed(1)} > ${cpus} cores): CPU time per message grows on a contended CPU (cache, steal)`}`,
          }
        : v <= goal
          ? {}
          : { note: `over by ${(v - goal).toFixed(1)} us` }),
    });
  };
  cpuTarget(
    'node',
    'stub-http',
    'cpuUsPerMsg',
    45,
    'producer node: client CPU per message, closed loop into the stub',
  );
  if (find(s, 'dispatch', 'closed', 'local-kafka'))
    cpuTarget(
      'dispatch',
      'local-kafka',
      'endpointUsPerMsg',
      50,
      'Kafka-backed endpoint: endpoint CPU per record (8 connections)',
    );

  const nodeStub = find(s, 'node', 'closed', 'stub-http');
  out.push(
    nodeStub
      ? {
          id: 'node-throughput-stub',
          description: 'producer node into the stub endpoint over HTTP',
          target: '>= 25,000 msgs/s',
          actual: `${fmt(nodeStub.msgsPerSec)} msgs/s`,
          pass: quick ? null : (nodeStub.msgsPerSec ?? 0) >= 25_000,
          ...(quick
            ? { note: 'not judged: quick mode' }
            : (nodeStub.msgsPerSec ?? 0) >= 25_000
              ? {}
              : {
                  note: `${(((nodeStub.msgsPerSec ?? 0) / 25_000) * 100).toFixed(0)}% of target. ${boundBy(nodeStub, load, cpus)}`,
                }),
        }
      : {
          id: 'node-throughput-stub',
          description: 'producer node into the stub endpoint over HTTP',
          target: '>= 25,000 msgs/s',
          actual: 'not measured',
          pass: null,
        },
  );

  for (const client of ['node', 'core'] as const) {
    const open1k = find(s, client, 'open', 'stub-http', 1000);
    out.push({
      id: `${client}-p99-at-1k`,
      description: `${CLIENT_LABEL[client]}: open-loop p99 at 1,000 msgs/s (stub, HTTP)`,
      target: '<= 3 ms',
      actual: open1k ? `${fmt(open1k.p99Ms)} ms` : 'not measured',
      pass: open1k?.p99Ms == null ? null : open1k.p99Ms <= 3,
      ...(open1k?.p99Ms != null && open1k.p99Ms > 3
        ? {
            note: `over by ${(open1k.p99Ms - 3).toFixed(2)} ms; harness send lag p99 ${fmt(open1k.sendLagP99Ms)} ms is included. ${boundBy(open1k, load, cpus)}`,
          }
        : {}),
    });
  }

  for (const client of ['core', 'node'] as const) {
    const heap = find(s, client, 'heap');
    const v = heap?.heapBytesPerMessage;
    out.push({
      id: `${client}-heap-per-message`,
      description: `${CLIENT_LABEL[client]}: heap per queued/in-flight message beyond the payload`,
      target: '<= 2,048 B',
      actual: v == null ? 'not measured' : `${fmt(v, 0)} B`,
      pass: v == null ? null : v <= 2048,
      ...(v != null && v > 2048 ? { note: `over by ${fmt(v - 2048, 0)} B per message` } : {}),
    });
  }

  const ceilingIdle = find(s, 'ceiling', 'open', 'stub-http', 200);
  for (const client of ['node', 'core'] as const) {
    const idle = find(s, client, 'open', 'stub-http', 200);
    out.push({
      id: `${client}-cpu-at-200`,
      description: `${CLIENT_LABEL[client]}: CPU at 200 msgs/s`,
      target: '< 2% of a core',
      actual: idle?.cpuPct == null ? 'not measured' : `${fmt(idle.cpuPct)}%`,
      pass: idle?.cpuPct == null || quick ? null : idle.cpuPct < 2,
      ...(idle?.cpuPct != null && idle.cpuPct >= 2
        ? {
            note: `${quick ? 'not judged: quick mode; ' : ''}${lowRateNote(idle, ceilingIdle, load, cpus, find(s, 'dispatch', 'open', 'stub-http', 200))}`,
          }
        : {}),
    });
  }

  const stall = s.find((x) => x.mode === 'stall' && !x.skipped);
  if (stall?.details) {
    const d = stall.details as Record<string, number | null>;
    const bounded =
      (d.heapGrowthMB ?? Infinity) <= 30 && (d.maxQueued ?? Infinity) <= (d.queueMaxMessages ?? 0);
    out.push({
      id: 'stall-memory-bounded',
      description: 'stall: heap growth and queue stay within the limits',
      target: `queue <= ${d.queueMaxMessages}, heap +<= 30 MB`,
      actual: `queue max ${d.maxQueued}, heap +${fmt(d.heapGrowthMB)} MB`,
      pass: bounded,
    });
    const policy = (d.rejectedQueueFull ?? 0) > 0 && (d.otherErrors ?? 0) === 0;
    out.push({
      id: 'stall-overflow-policy',
      description: 'stall: overflow rejected with QueueFullError (counted), nothing else fails',
      target: 'QUEUE_FULL > 0, other errors 0',
      actual: `QUEUE_FULL ${fmt(d.rejectedQueueFull, 0)}, other ${fmt(d.otherErrors, 0)}`,
      pass: policy,
    });
    const ratio = d.throughputRatio ?? 0;
    out.push({
      id: 'stall-throughput',
      description: 'stall: throughput equals connections / latency',
      target: `${fmt(d.expectedThroughput)} msgs/s +-15%`,
      actual: `${fmt(d.stallThroughput)} msgs/s (${(ratio * 100).toFixed(0)}%)`,
      pass: ratio >= 0.85 && ratio <= 1.15,
    });
    out.push({
      id: 'stall-recovery',
      description: 'stall: time to recover (queue drained, no rejections) after the endpoint recovers',
      target: '<= 5 s',
      actual: d.recoveredMs == null ? 'did not recover in time' : `${fmt(d.recoveredMs, 0)} ms`,
      pass: d.recoveredMs != null && d.recoveredMs <= 5000,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

function table(headers: string[], rows: string[][], markdown: boolean): string {
  if (markdown) {
    const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
    return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function modeLabel(s: ScenarioResult): string {
  if (s.mode === 'open') return `open ${fmt(s.targetRate)}/s`;
  return s.mode;
}

export function renderReport(r: BenchResults, markdown = false): string {
  const out: string[] = [];
  const m = r.machine;
  const quick = r.mode === 'quick';
  if (quick) {
    out.push(
      `QUICK MODE: rounds of ${r.settings.closed?.measureMs ?? '?'} ms, one per client: every figure below is INDICATIVE only (ratios marked ~, no target judged). Run \`npm run bench\` for figures.`,
    );
    out.push('');
  }
  out.push(
    `${markdown ? '**Machine:** ' : 'Machine: '}${m.cpus} x ${m.cpuModel}, ${m.totalMemGB} GB, ${m.platform}, Node ${m.node}, undici ${m.undici}, Node-RED ${m.nodeRed}; load average at start ${m.loadAvgStart.map((x) => x.toFixed(2)).join(' ')}${m.loadAvgEnd ? `, at end ${m.loadAvgEnd.map((x) => x.toFixed(2)).join(' ')}` : ''}`,
  );
  if (markdown) out.push('');
  out.push(
    `${markdown ? '**Settings:** ' : 'Settings: '}mode ${r.mode}, ${r.settings.connections} connections (keep-alive, no pipelining), window ${r.settings.window} outstanding, order per key ${r.settings.orderByKey ? 'on (one key: one request at a time)' : 'off'}, payload ${r.settings.payloadBytes} B JSON + key, request template ${r.settings.template.source} (${r.settings.template.path}); closed loop ${r.settings.closed.rounds ?? 1} round(s) of ${r.settings.closed.measureMs} ms after ${r.settings.closed.warmupMs} ms warm-up (median round per row; ratios are medians of per-round ratios, range in brackets); open loop ${r.settings.open.warmupMs} + ${r.settings.open.measureMs} ms; run took ${r.durationSec.toFixed(0)} s`,
  );
  out.push('');
  const measured = r.scenarios.filter((s) => !s.skipped);
  const rows = measured.map((s) => [
    s.name,
    s.endpoint,
    modeLabel(s),
    fmt(s.msgsPerSec),
    fmt(s.p50Ms),
    fmt(s.p99Ms),
    fmt(s.p999Ms),
    fmt(s.cpuPct, 1),
    fmt(s.cpuUsPerMsg, 1),
    fmt(s.endpointCpuPct, 1),
    fmt(s.endpointUsPerMsg, 1),
    fmt(s.heapBytesPerMessage, 0),
    s.loadBefore == null
      ? '-'
      : `${s.loadBefore.toFixed(1)}->${(s.loadAfter ?? s.loadBefore).toFixed(1)}${Math.max(s.loadBefore, s.loadAfter ?? 0) > m.cpus ? ' BUSY' : ''}`,
  ]);
  out.push(
    table(
      [
        'scenario',
        'endpoint',
        'mode',
        'msgs/s',
        'p50 ms',
        'p99 ms',
        'p99.9 ms',
        'client CPU%',
        'client us/msg',
        'endpoint CPU%',
        'endpoint us/msg',
        'heap B/msg',
        'load before->after',
      ],
      rows,
      markdown,
    ),
  );
  const skipped = new Map<string, string[]>();
  for (const s of r.scenarios.filter((x) => x.skipped)) {
    const list = skipped.get(s.skipped!) ?? [];
    list.push(`${s.client} ${modeLabel(s)} ${s.endpoint}`);
    skipped.set(s.skipped!, list);
  }
  for (const [reason, list] of skipped) {
    out.push(`${markdown ? '- ' : ''}skipped (${reason}): ${list.join(', ')}`);
  }
  out.push('');
  out.push(
    table(
      [
        'endpoint',
        'ours / http request',
        'ours / request() loop',
        'ours / dispatch() loop',
        'core / request() loop',
      ],
      r.ratios.map((x) => [
        x.endpoint,
        formatRatio(x, 'oursVsHttpRequest', false, quick),
        formatRatio(x, 'oursVsCeiling', true, quick),
        formatRatio(x, 'oursVsDispatchLoop', true, quick),
        formatRatio(x, 'coreVsCeiling', true, quick),
      ]),
      markdown,
    ),
  );
  const kafkaRatio = r.ratios.find((x) => x.gatewayVsKafkajs != null || x.gatewayVsKafkajsBatch != null);
  if (kafkaRatio) {
    out.push('');
    out.push(
      table(
        [
          'same broker',
          'gateway (dispatch loop) / kafkajs 1 send',
          'producer node via gateway / kafkajs 1 send',
          'gateway / kafkajs 100 per send',
        ],
        [
          [
            kafkaRatio.endpoint,
            formatRatio(kafkaRatio, 'gatewayVsKafkajs', false, quick),
            formatRatio(kafkaRatio, 'oursViaGatewayVsKafkajs', false, quick),
            formatRatio(kafkaRatio, 'gatewayVsKafkajsBatch', false, quick),
          ],
        ],
        markdown,
      ),
    );
  }
  const batches = measured.filter(
    (x) => (x.details as { kafkaRecordsPerBatch?: number } | undefined)?.kafkaRecordsPerBatch != null,
  );
  if (batches.length) {
    out.push('');
    out.push(
      `Kafka records per batch (the endpoint's sends/records during each row): ${batches
        .map((x) => {
          const d = x.details as { kafkaRecordsPerBatch: number; kafkaMaxBatch?: number };
          return `${x.client} ${fmt(d.kafkaRecordsPerBatch, 1)}${d.kafkaMaxBatch ? ` (max ${d.kafkaMaxBatch})` : ''}`;
        })
        .join(', ')}`,
    );
  }
  const stall = r.scenarios.find((s) => s.mode === 'stall' && !s.skipped);
  if (stall?.details) {
    const d = stall.details as Record<string, unknown> & {
      latency?: Record<string, { p50: number; p99: number }>;
    };
    out.push('');
    out.push(
      `Stall: ${d.stallSeconds} s at +${d.latencyMs} ms per request, input ${d.rate} msgs/s, ${d.connections} connections, queue ${d.queueMaxMessages} msgs: ` +
        `throughput ${fmt(d.stallThroughput as number)} msgs/s (expected ${fmt(d.expectedThroughput as number)}), ` +
        `QUEUE_FULL rejections ${fmt(d.rejectedQueueFull as number, 0)}, other errors ${d.otherErrors}, queue max ${d.maxQueued}, in flight max ${d.maxInFlight}, ` +
        `heap ${fmt(d.heapBeforeMB as number, 1)} -> peak ${fmt(d.heapPeakMB as number, 1)} MB, ` +
        `recovered ${d.recoveredMs == null ? 'not within the wait' : `${fmt(d.recoveredMs as number, 0)} ms`} after the stall; ` +
        `p99 latency before/during/after ${fmt(d.latency?.pre?.p99)} / ${fmt(d.latency?.stall?.p99)} / ${fmt(d.latency?.post?.p99)} ms`,
    );
  }
  out.push('');
  out.push(
    table(
      ['target', 'goal', 'actual', 'result', 'note'],
      r.targets.map((t) => [
        t.description,
        t.target,
        t.actual,
        t.pass === null ? 'N/A' : t.pass ? 'PASS' : 'MISS',
        t.note ?? '',
      ]),
      markdown,
    ),
  );
  for (const note of r.notes) out.push(`${markdown ? '- ' : 'note: '}${note}`);
  if (r.profiles?.length) {
    out.push('');
    for (const p of r.profiles) out.push(markdown ? '```\n' + formatProfile(p) + '\n```' : formatProfile(p));
  }
  return out.join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--')) ?? path.join(ROOT, 'bench', 'results', 'latest.json');
  const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  // Targets are derived from the rows: judge them with this build's rules.
  results.targets = evaluateTargets(results);
  console.log(renderReport(results, args.includes('--md')));
}
