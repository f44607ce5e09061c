// SPDX-License-Identifier: Apache-2.0
/**
 * Runs every test file (`dist/test/**\/*.test.js`) in a few mocha processes at once, so that
 * `npm test` takes the time of its longest shard instead of the sum of all of them.
 *
 * Why it pays: the suite mostly waits (a Kafka broker starting, a browser, redeploys, retries,
 * timers), not computes: a whole serial run used well under a third of one core. Three shards on
 * the 2-core machine finish in less than half the time, also with two busy loops beside them.
 *
 * Whole directories go to a shard (a directory's files share set-ups such as one Kafka broker per
 * process), longest first onto the least loaded shard. The weights are a balance hint measured on
 * the 2-core machine, not a correctness matter: an unknown directory weighs {@link DEFAULT_WEIGHT}.
 * Tests are already parallel-safe (ephemeral ports, unique topics, temporary directories); each
 * shard that needs Kafka starts its own broker.
 *
 * Each shard's output is printed as one block when it ends, then a summary; the exit code is 1
 * when any shard failed. `ESNODES_TEST_SHARDS=1` runs one mocha over everything, as before.
 *
 *   node dist/scripts/test-shards.js [dir ...]      (default: every directory under dist/test)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const TESTS = path.join(ROOT, 'dist', 'test');
const MOCHA = path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');

/** Seconds a directory took alone on the quiet 2-core machine (2026-12-04). */
const WEIGHTS: Record<string, number> = {
  kafka: 205,
  reliability: 90,
  browser: 80,
  security: 70,
  nodes: 56,
  lifecycle: 50,
  demo: 33,
  lib: 25,
  ecosystem: 19,
  gateway: 13,
  examples: 7,
  repo: 1,
  bench: 1,
};
const DEFAULT_WEIGHT = 30;

interface Shard {
  dirs: string[];
  weight: number;
}

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...testFiles(p));
    else if (entry.name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

/** Longest first onto the least loaded shard. */
export function plan(dirs: string[], count: number): Shard[] {
  const shards: Shard[] = Array.from({ length: Math.max(1, count) }, () => ({ dirs: [], weight: 0 }));
  const weight = (d: string): number => WEIGHTS[d] ?? DEFAULT_WEIGHT;
  for (const d of [...dirs].sort((a, b) => weight(b) - weight(a) || a.localeCompare(b))) {
    const target = shards.reduce((min, s) => (s.weight < min.weight ? s : min));
    target.dirs.push(d);
    target.weight += weight(d);
  }
  return shards.filter((s) => s.dirs.length > 0);
}

function run(files: string[], capture: boolean): Promise<{ code: number; output: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MOCHA, ...files], {
      cwd: ROOT,
      stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      env: process.env,
    });
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => chunks.push(b));
    child.stderr?.on('data', (b: Buffer) => chunks.push(b));
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 1 : 0),
        output: Buffer.concat(chunks).toString('utf8'),
        ms: Date.now() - t0,
      }),
    );
  });
}

/** mocha's own count lines (`12 passing`, `1 failing`, `3 pending`) from a shard's output. */
function counts(output: string): string {
  return ['passing', 'failing', 'pending']
    .map((word) => output.match(new RegExp(`^\\s*(\\d+) ${word}`, 'm'))?.[1] + ` ${word}`)
    .filter((x) => !x.startsWith('undefined'))
    .join(', ');
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const dirs = (wanted.length > 0 ? wanted : fs.readdirSync(TESTS))
    .filter((d) => d !== 'support' && fs.statSync(path.join(TESTS, d)).isDirectory())
    .filter((d) => testFiles(path.join(TESTS, d)).length > 0);
  const count = Number(process.env.ESNODES_TEST_SHARDS ?? 3);
  if (!Number.isInteger(count) || count < 1)
    throw new Error('ESNODES_TEST_SHARDS must be a whole number >= 1');
  const shards = plan(dirs, count);
  if (shards.length === 1) {
    const r = await run(
      shards[0]!.dirs.flatMap((d) => testFiles(path.join(TESTS, d))),
      false,
    );
    process.exitCode = r.code;
    return;
  }
  const t0 = Date.now();
  console.log(`test: ${shards.length} shards: ${shards.map((s) => s.dirs.join('+')).join(' | ')}`);
  // A line a minute so that a long shard does not look like a hang in a CI log.
  const running = new Set(shards.map((s) => s.dirs.join('+')));
  const beat = setInterval(
    () =>
      console.log(
        `test: ${Math.round((Date.now() - t0) / 1000)} s, still running: ${[...running].join(' | ')}`,
      ),
    60_000,
  );
  const results = await Promise.all(
    shards.map(async (s) => {
      const name = s.dirs.join('+');
      const r = await run(
        s.dirs.flatMap((d) => testFiles(path.join(TESTS, d))),
        true,
      );
      running.delete(name);
      console.log(`\n======== shard ${name} (exit ${r.code}, ${(r.ms / 1000).toFixed(0)} s) ========`);
      process.stdout.write(r.output);
      return { name, ...r };
    }),
  );
  clearInterval(beat);
  console.log(`\ntest: all shards done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  for (const r of results) {
    console.log(
      `  ${r.code === 0 ? 'ok  ' : 'FAIL'} ${r.name}: ${counts(r.output)} (${(r.ms / 1000).toFixed(0)} s)`,
    );
  }
  process.exitCode = results.some((r) => r.code !== 0) ? 1 : 0;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
