// SPDX-License-Identifier: Apache-2.0
/**
 * Turns the benchmark results into the stdout table, the targets (PASS/MISS) and Markdown.
 *
 *   node dist/bench/report.js [bench/results/latest.json] [--md]
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
import { fmt, round } from './stats';

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

export interface Ratio {
  endpoint: EndpointId;
  /** Producer node msgs/s ÷ Node-RED http request msgs/s. */
  oursVsHttpRequest: number | null;
  /** Producer node msgs/s ÷ bare undici msgs/s. */
  oursVsCeiling: number | null;
  /** Core client msgs/s ÷ bare undici msgs/s. */
  coreVsCeiling: number | null;
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
    template: { path: string; headers: Record<string, string>; bodyBytes: number; source: string };
    closed: { warmupMs: number; roundWarmupMs?: number; measureMs: number; rounds?: number };
    open: { warmupMs: number; measureMs: number; rates: number[] };
  };
  endpoints: Array<{ id: EndpointId; label: string; skipped?: string }>;
  scenarios: ScenarioResult[];
  ratios: Ratio[];
  targets: TargetResult[];
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

export function computeRatios(scenarios: ScenarioResult[], endpoints: EndpointId[]): Ratio[] {
  const div = (a?: ScenarioResult, b?: ScenarioResult): number | null =>
    a?.msgsPerSec && b?.msgsPerSec ? round(a.msgsPerSec / b.msgsPerSec, 3) : null;
  return endpoints.map((endpoint) => {
    const node = find(scenarios, 'node', 'closed', endpoint);
    const core = find(scenarios, 'core', 'closed', endpoint);
    const ceiling = find(scenarios, 'ceiling', 'closed', endpoint);
    const httpreq = find(scenarios, 'httpreq', 'closed', endpoint);
    return {
      endpoint,
      oursVsHttpRequest: div(node, httpreq),
      oursVsCeiling: div(node, ceiling),
      coreVsCeiling: div(core, ceiling),
    };
  });
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
): string {
  const parts = [`over by ${((row.cpuPct ?? 0) - 2).toFixed(2)} points of a core`];
  const harness = (ceiling?.details as { harnessCpuPct?: number } | undefined)?.harnessCpuPct;
  if (harness != null) parts.push(`the harness's own timer loop alone uses ${harness.toFixed(2)}%`);
  if (ceiling?.cpuPct != null) parts.push(`bare undici uses ${ceiling.cpuPct.toFixed(2)}% at the same rate`);
  if (load && load[0]! > cpus) parts.push(`machine load ${load[0]!.toFixed(1)} on ${cpus} cores`);
  return parts.join('; ');
}

export function evaluateTargets(r: Omit<BenchResults, 'targets'>): TargetResult[] {
  const out: TargetResult[] = [];
  const s = r.scenarios;
  const load = r.machine.loadAvgEnd ?? r.machine.loadAvgStart;
  const cpus = r.machine.cpus;

  for (const ratio of r.ratios) {
    const node = find(s, 'node', 'closed', ratio.endpoint);
    const ceiling = find(s, 'ceiling', 'closed', ratio.endpoint);
    if (ratio.oursVsHttpRequest !== null) {
      const pass = ratio.oursVsHttpRequest >= 10;
      out.push({
        id: `node-vs-http-request:${ratio.endpoint}`,
        description: `producer node vs Node-RED http request, ${ENDPOINT_LABEL[ratio.endpoint]}`,
        target: '>= 10x',
        actual: `${ratio.oursVsHttpRequest.toFixed(1)}x`,
        pass,
        ...(pass
          ? {}
          : {
              note: `short by ${(10 / ratio.oursVsHttpRequest).toFixed(2)}x. ${boundBy(node, load, cpus, ceiling)}`,
            }),
      });
    }
    if (ratio.oursVsCeiling !== null) {
      const pass = ratio.oursVsCeiling >= 0.6;
      out.push({
        id: `node-vs-ceiling:${ratio.endpoint}`,
        description: `producer node vs bare undici ceiling, ${ENDPOINT_LABEL[ratio.endpoint]}`,
        target: '>= 60%',
        actual: `${(ratio.oursVsCeiling * 100).toFixed(0)}%`,
        pass,
        ...(pass
          ? {}
          : {
              note: `short by ${((0.6 - ratio.oursVsCeiling) * 100).toFixed(0)} points. ${boundBy(node, load, cpus)}`,
            }),
      });
    }
  }

  const nodeStub = find(s, 'node', 'closed', 'stub-http');
  out.push(
    nodeStub
      ? {
          id: 'node-throughput-stub',
          description: 'producer node into the stub endpoint over HTTP',
          target: '>= 25,000 msgs/s',
          actual: `${fmt(nodeStub.msgsPerSec)} msgs/s`,
          pass: (nodeStub.msgsPerSec ?? 0) >= 25_000,
          ...((nodeStub.msgsPerSec ?? 0) >= 25_000
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
      pass: idle?.cpuPct == null ? null : idle.cpuPct < 2,
      ...(idle?.cpuPct != null && idle.cpuPct >= 2
        ? { note: lowRateNote(idle, ceilingIdle, load, cpus) }
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
  out.push(
    `${markdown ? '**Machine:** ' : 'Machine: '}${m.cpus} x ${m.cpuModel}, ${m.totalMemGB} GB, ${m.platform}, Node ${m.node}, undici ${m.undici}, Node-RED ${m.nodeRed}; load average at start ${m.loadAvgStart.map((x) => x.toFixed(2)).join(' ')}${m.loadAvgEnd ? `, at end ${m.loadAvgEnd.map((x) => x.toFixed(2)).join(' ')}` : ''}`,
  );
  if (markdown) out.push('');
  out.push(
    `${markdown ? '**Settings:** ' : 'Settings: '}mode ${r.mode}, ${r.settings.connections} connections (keep-alive, no pipelining), window ${r.settings.window} outstanding, payload ${r.settings.payloadBytes} B JSON + key, request template ${r.settings.template.source} (${r.settings.template.path}); closed loop ${r.settings.closed.rounds ?? 1} round(s) of ${r.settings.closed.measureMs} ms after ${r.settings.closed.warmupMs} ms warm-up (median round reported); open loop ${r.settings.open.warmupMs} + ${r.settings.open.measureMs} ms; run took ${r.durationSec.toFixed(0)} s`,
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
    fmt(s.endpointCpuPct, 1),
    fmt(s.heapBytesPerMessage, 0),
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
        'endpoint CPU%',
        'heap B/msg',
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
      ['endpoint', 'ours / http request', 'ours / ceiling', 'core / ceiling'],
      r.ratios.map((x) => [
        x.endpoint,
        x.oursVsHttpRequest === null ? '-' : `${x.oursVsHttpRequest.toFixed(1)}x`,
        x.oursVsCeiling === null ? '-' : `${(x.oursVsCeiling * 100).toFixed(0)}%`,
        x.coreVsCeiling === null ? '-' : `${(x.coreVsCeiling * 100).toFixed(0)}%`,
      ]),
      markdown,
    ),
  );
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
  console.log(renderReport(results, args.includes('--md')));
}
