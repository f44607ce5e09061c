// SPDX-License-Identifier: Apache-2.0
/**
 * Smoke tests of the benchmark's measuring helpers: percentiles, CPU accounting and the result
 * arithmetic (ratios, PASS/MISS). No timing assertions: the machine is shared.
 */
import assert from 'node:assert/strict';

import type { ScenarioResult } from '../../bench/common';
import { computeRatios, evaluateTargets, formatRatio } from '../../bench/report';
import { CpuWindow, percentile, procCpuSeconds, Samples, summarize } from '../../bench/stats';

describe('bench stats helpers', () => {
  it('computes nearest-rank percentiles', () => {
    const sorted = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
    assert.equal(percentile(sorted, 50), 500);
    assert.equal(percentile(sorted, 99), 990);
    assert.equal(percentile(sorted, 99.9), 999);
    assert.equal(percentile(sorted, 100), 1000);
    assert.equal(percentile(sorted, 0), 1);
    assert.equal(percentile([], 50), null);
    assert.equal(percentile([7], 99.9), 7);
    assert.throws(() => percentile(sorted, 101), RangeError);
  });

  it('keeps every sample across growth and summarises them sorted', () => {
    const s = new Samples(16);
    for (let i = 10_000; i >= 1; i--) s.add(i / 10);
    assert.equal(s.count, 10_000);
    const sum = s.summary();
    assert.equal(sum.p50, 500);
    assert.equal(sum.p99, 990);
    assert.equal(sum.p999, 999);
    assert.equal(sum.max, 1000);
    assert.ok(Math.abs(sum.mean! - 500.05) < 1e-9);
    assert.deepEqual(summarize([]), {
      count: 0,
      p50: null,
      p90: null,
      p99: null,
      p999: null,
      max: null,
      mean: null,
    });
  });

  it('reads its own CPU time from /proc and measures a busy loop', function () {
    if (process.platform !== 'linux') this.skip(); // /proc/<pid>/stat is Linux only
    assert.ok((procCpuSeconds(process.pid) ?? -1) >= 0);
    assert.equal(procCpuSeconds(2 ** 22 + 12345), null);
    const w = new CpuWindow([process.pid]);
    // Spin until this process has had 100 ms of CPU (not for a wall time: on a busy machine the
    // process gets only a slice of a core), then the two readings of the same process must agree.
    const cpu0 = process.cpuUsage();
    const cap = performance.now() + 20_000;
    const used = (): number => {
      const d = process.cpuUsage(cpu0);
      return (d.user + d.system) / 1000;
    };
    while (used() < 100 && performance.now() < cap) for (let i = 0; i < 1e4; i++) Math.sqrt(Math.random());
    const r = w.finish();
    assert.ok(r.selfPct! > 0, `busy loop used ${r.selfPct}% of a core`);
    const proc = r.othersPct[0];
    assert.ok(proc != null && proc > 0, 'the /proc reading of the same process saw CPU');
    // /proc counts in 10 ms ticks: over >= 100 ms of CPU the two agree within a factor of 2.
    assert.ok(
      proc <= r.selfPct! * 2 && proc >= r.selfPct! / 2,
      `process.cpuUsage ${r.selfPct}% vs /proc ${proc}%`,
    );
  });

  it('computes ratios and PASS/MISS from scenario rows', () => {
    const row = (client: ScenarioResult['client'], msgsPerSec: number): ScenarioResult => ({
      name: client,
      client,
      mode: 'closed',
      endpoint: 'stub-http',
      msgsPerSec,
      p50Ms: 1,
      p99Ms: 2,
      p999Ms: 3,
      cpuPct: 50,
      heapBytesPerMessage: null,
    });
    const scenarios = [
      row('ceiling', 40_000),
      row('core', 36_000),
      row('node', 30_000),
      row('httpreq', 2_000),
    ];
    const ratios = computeRatios(scenarios, ['stub-http']);
    assert.equal(ratios.length, 1);
    assert.equal(ratios[0]!.oursVsHttpRequest, 15);
    assert.equal(ratios[0]!.oursVsCeiling, 0.75);
    assert.equal(ratios[0]!.oursVsRequestLoop, 0.75);
    assert.equal(ratios[0]!.coreVsCeiling, 0.9);
    const targets = evaluateTargets({
      version: 1,
      mode: 'full',
      startedAt: '',
      durationSec: 1,
      machine: {
        cpus: 2,
        cpuModel: 'x',
        totalMemGB: 1,
        platform: 'x',
        node: 'x',
        undici: 'x',
        nodeRed: 'x',
        loadAvgStart: [0, 0, 0],
      },
      settings: {} as never,
      endpoints: [],
      scenarios,
      ratios,
      notes: [],
    });
    const byId = new Map(targets.map((t) => [t.id, t]));
    assert.equal(byId.get('node-vs-http-request:stub-http')?.pass, true);
    // 75% of the request() loop misses the 85% target.
    assert.equal(byId.get('node-vs-ceiling:stub-http')?.pass, false);
    assert.equal(byId.get('node-throughput-stub')?.pass, true);
    assert.equal(byId.get('node-p99-at-1k')?.pass, null);
  });

  it('pairs rounds for ratios, reports median and range, and warns instead of judging on a busy machine', () => {
    const row = (client: ScenarioResult['client'], perRound: number[], load: number): ScenarioResult => ({
      name: client,
      client,
      mode: 'closed',
      endpoint: 'stub-http',
      msgsPerSec: perRound[1]!,
      p50Ms: 1,
      p99Ms: 2,
      p999Ms: 3,
      cpuPct: 90,
      heapBytesPerMessage: null,
      loadBefore: load,
      loadAfter: load,
      details: {
        rounds: perRound.map((msgsPerSec) => ({
          msgsPerSec,
          wallSeconds: 5,
          loadBefore: load,
          loadAfter: load,
        })),
      },
    });
    // Round 2 was slow for both (background load): per-round ratios stay 0.9.
    const quiet = computeRatios(
      [row('node', [9000, 4500, 9000], 0.5), row('ceiling', [10000, 5000, 10000], 0.5)],
      ['stub-http'],
      2,
    );
    assert.equal(quiet[0]!.oursVsCeiling, 0.9);
    assert.deepEqual(quiet[0]!.spread?.oursVsCeiling, {
      median: 0.9,
      min: 0.9,
      max: 0.9,
      rounds: [0.9, 0.9, 0.9],
    });
    assert.equal(quiet[0]!.warnings, undefined);
    const busy = computeRatios(
      [row('node', [9000, 8000, 7000], 3.5), row('ceiling', [10000, 10000, 10000], 3.5)],
      ['stub-http'],
      2,
    );
    assert.equal(busy[0]!.oursVsCeiling, 0.8);
    assert.match(busy[0]!.warnings?.oursVsCeiling?.[0] ?? '', /machine busy \(load up to 3\.5 > 2 cores\)/);
    assert.match(formatRatio(busy[0]!, 'oursVsCeiling', true), /^WARNING: machine busy/);
    assert.equal(formatRatio(quiet[0]!, 'oursVsCeiling', true), '90% (90%-90%)');
  });
});
