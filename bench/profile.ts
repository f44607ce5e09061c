// SPDX-License-Identifier: Apache-2.0
/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`) into hot spots with file:line, mapped
 * back to the TypeScript sources through the compiled files' source maps.
 *
 *   node dist/bench/profile.js <file.cpuprofile> [--top 25]
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ROOT } from './common';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
  positionTicks?: Array<{ line: number; ticks: number }>;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface HotSpot {
  /** `functionName (file:line)` with the file relative to the checkout and the line 1-based. */
  where: string;
  selfPct: number;
  totalPct: number;
  /** Hottest source lines inside the function, by self ticks. */
  lines: Array<{ where: string; pct: number }>;
}

export interface ProfileSummary {
  file: string;
  sampledMs: number;
  /** Self time by area: this package's lib/, nodes/, undici, node-red, node internals, GC, idle. */
  byArea: Record<string, number>;
  topSelf: HotSpot[];
  /** Only frames in this package's lib/ and nodes/. */
  project: HotSpot[];
}

const maps = new Map<string, SourceMap | null>();

function sourceMapFor(file: string): SourceMap | null {
  if (maps.has(file)) return maps.get(file)!;
  let map: SourceMap | null = null;
  try {
    const mapFile = `${file}.map`;
    if (existsSync(mapFile)) map = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')));
  } catch {
    map = null;
  }
  maps.set(file, map);
  return map;
}

/** file:line (1-based) for a profile position (0-based line/column), mapped to TS when possible. */
function locate(url: string, line0: number, col0: number): string {
  if (!url) return '(native)';
  let file = url;
  if (url.startsWith('file://')) file = fileURLToPath(url);
  if (file.startsWith(path.join(ROOT, 'dist'))) {
    const map = sourceMapFor(file);
    const entry = map?.findEntry(line0, Math.max(0, col0)) as
      { originalSource?: string; originalLine?: number } | undefined;
    if (entry && entry.originalSource !== undefined && entry.originalLine !== undefined) {
      const src = entry.originalSource.startsWith('file://')
        ? fileURLToPath(entry.originalSource)
        : path.resolve(path.dirname(file), entry.originalSource);
      return `${path.relative(ROOT, src)}:${entry.originalLine + 1}`;
    }
  }
  const rel = file.startsWith(ROOT) ? path.relative(ROOT, file) : file;
  return `${rel}:${line0 + 1}`;
}

function area(frame: CallFrame): string {
  const url = frame.url;
  const name = frame.functionName;
  if (name === '(garbage collector)') return 'gc';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'program';
  if (!url) return 'native';
  if (url.includes('/dist/lib/')) return 'lib (ours)';
  if (url.includes('/dist/gateway/')) return 'gateway (ours)';
  if (url.includes('/dist/nodes/')) return 'nodes (ours)';
  if (url.includes('/dist/bench/')) return 'bench harness';
  if (url.includes('/node_modules/undici/')) return 'undici';
  if (url.includes('/node_modules/@node-red/') || url.includes('/node_modules/node-red/')) return 'node-red';
  if (url.includes('/node_modules/')) return 'other deps';
  if (url.startsWith('node:')) return 'node internals';
  return 'other';
}

/** Reads and summarises one profile. */
export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Self time per node from the samples (timeDeltas[i] is the time since the previous sample).
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const dt = deltas[i + 1] ?? deltas[i] ?? 0;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, dt));
  }
  let total = 0;
  for (const v of selfUs.values()) total += v;
  const busy =
    total -
    [...selfUs.entries()]
      .filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)')
      .reduce((s, [, v]) => s + v, 0);

  const byArea: Record<string, number> = {};
  interface Agg {
    frame: CallFrame;
    self: number;
    total: number;
    lineTicks: Map<number, number>;
  }
  const aggs = new Map<string, Agg>();
  const keyOf = (f: CallFrame): string => `${f.functionName}|${f.url}|${f.lineNumber}|${f.columnNumber}`;
  for (const n of profile.nodes) {
    const key = keyOf(n.callFrame);
    let agg = aggs.get(key);
    if (!agg) aggs.set(key, (agg = { frame: n.callFrame, self: 0, total: 0, lineTicks: new Map() }));
    const s = selfUs.get(n.id) ?? 0;
    agg.self += s;
    byArea[area(n.callFrame)] = (byArea[area(n.callFrame)] ?? 0) + s;
    for (const pt of n.positionTicks ?? [])
      agg.lineTicks.set(pt.line, (agg.lineTicks.get(pt.line) ?? 0) + pt.ticks);
  }
  // Inclusive time: each sample counts once for every distinct function on its stack.
  for (const [id, s] of selfUs) {
    const seen = new Set<string>();
    let cur: number | undefined = id;
    while (cur !== undefined) {
      const n = byId.get(cur)!;
      const key = keyOf(n.callFrame);
      if (!seen.has(key)) {
        seen.add(key);
        aggs.get(key)!.total += s;
      }
      cur = parent.get(cur);
    }
  }

  const pct = (us: number): number => Math.round((us / Math.max(1, busy)) * 1000) / 10;
  const toHotSpot = (a: Agg): HotSpot => {
    const f = a.frame;
    const ticks = [...a.lineTicks.entries()].sort((x, y) => y[1] - x[1]);
    const tickSum = ticks.reduce((s, [, t]) => s + t, 0);
    return {
      where: `${f.functionName || '(anonymous)'} (${locate(f.url, f.lineNumber, f.columnNumber)})`,
      selfPct: pct(a.self),
      totalPct: pct(a.total),
      lines: ticks.slice(0, 3).map(([line, t]) => ({
        where: locate(f.url, line - 1, 0),
        pct: Math.round(((t / Math.max(1, tickSum)) * a.self * 1000) / Math.max(1, busy)) / 10,
      })),
    };
  };
  const all = [...aggs.values()].filter(
    (a) => !['(idle)', '(root)', '(program)'].includes(a.frame.functionName),
  );
  const topSelf = all
    .sort((a, b) => b.self - a.self)
    .slice(0, top)
    .map(toHotSpot);
  const project = all
    .filter((a) => /\/dist\/(lib|gateway|nodes)\//.test(a.frame.url))
    .sort((a, b) => b.total - a.total)
    .slice(0, top)
    .map(toHotSpot);
  const areas: Record<string, number> = {};
  for (const [k, v] of Object.entries(byArea)) if (k !== 'idle') areas[k] = pct(v);
  return {
    file: path.relative(ROOT, file),
    sampledMs: Math.round(busy / 1000),
    byArea: areas,
    topSelf,
    project,
  };
}

export function formatProfile(s: ProfileSummary): string {
  const lines: string[] = [];
  lines.push(`Profile ${s.file} (${s.sampledMs} ms busy)`);
  lines.push(
    '  self time by area: ' +
      Object.entries(s.byArea)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}%`)
        .join(', '),
  );
  lines.push('  top self time:');
  for (const h of s.topSelf) lines.push(`    ${h.selfPct.toFixed(1).padStart(5)}%  ${h.where}`);
  lines.push('  this package (inclusive / self, hottest lines):');
  for (const h of s.project) {
    const hot = h.lines.map((l) => `${l.where} ${l.pct}%`).join(', ');
    lines.push(
      `    ${h.totalPct.toFixed(1).padStart(5)}% / ${h.selfPct.toFixed(1).padStart(4)}%  ${h.where}${hot ? `  [${hot}]` : ''}`,
    );
  }
  return lines.join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node dist/bench/profile.js <file.cpuprofile> [--top N]');
    process.exit(2);
  }
  const i = process.argv.indexOf('--top');
  console.log(formatProfile(summarizeProfile(file, i > 0 ? Number(process.argv[i + 1]) : 25)));
}
