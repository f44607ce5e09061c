// SPDX-License-Identifier: Apache-2.0
/**
 * `node-red-dev validate` (the Node-RED flow library's scorecard) on the packed package.
 *
 * It reaches two hosts: the npm registry (P06/P07 Node-RED and Node versions, D02 dependency tree,
 * D03 latest versions), which this machine reaches, so those run for real; and the flow library
 * catalogue (P08 similar package names, N01 duplicate node types), which it cannot reach.
 * scripts/validate-offline.js answers the catalogue with an empty list, so P08 and N01 pass
 * vacuously here and need a networked run; a second run feeds it a catalogue with clashes to
 * show N01 still bites (P08 never does in node-red-dev 0.1.6, see below).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const ROOT = path.resolve(__dirname, '..', '..', '..');
const PKG = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  engines: { node: string };
};
const PRELOAD = path.join(ROOT, 'scripts', 'validate-offline.js');
const CLI = path.join(path.dirname(require.resolve('node-red-dev/package.json')), 'bin', 'run');
const CHECKS = ['P01', 'P03', 'P04', 'P05', 'P06', 'P07', 'P08', 'N01', 'N02', 'D01', 'D02', 'D03'];

interface Validation {
  code: number;
  stdout: string;
  stderr: string;
  score: Record<string, { test: boolean; packages?: string[] } & Record<string, unknown>>;
}

async function validate(dir: string, env: Record<string, string> = {}): Promise<Validation> {
  const scoreFile = path.join(dir, '..', `score-${Date.now()}.json`);
  let code = 0;
  let stdout = '';
  let stderr = '';
  try {
    ({ stdout, stderr } = await run(
      process.execPath,
      ['-r', PRELOAD, CLI, 'validate', '-p', dir, '-o', scoreFile],
      {
        cwd: ROOT,
        env: { ...process.env, VALIDATE_OFFLINE_TRACE: '1', ...env },
        timeout: 90_000,
        maxBuffer: 4 << 20,
      },
    ));
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    code = typeof e.code === 'number' ? e.code : 1;
    stdout = e.stdout ?? '';
    stderr = e.stderr ?? String(err);
  }
  const score = JSON.parse(await fs.readFile(scoreFile, 'utf8').catch(() => '{}'));
  return { code, stdout, stderr, score };
}

/** `>=X.Y.Z` → [X, Y, Z]; anything else is not understood (and gets no allowance). */
function minimum(range: string | undefined): number[] | undefined {
  const m = /^\s*>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(range ?? '');
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : undefined;
}

function greater(a: number[], b: number[]): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
}

/**
 * D03 flags a dependency that is not at its latest version. The one acceptable reason: the latest
 * version requires a newer Node.js than this package supports (undici 8 needs Node 22.19, and the
 * package supports Node 20 for Node-RED 4). Returns why a flagged package is allowed, or undefined.
 */
async function latestDropsOurNode(name: string): Promise<string | undefined> {
  const { stdout } = await run('npm', ['view', `${name}@latest`, 'version', 'engines.node', '--json'], {
    timeout: 60_000,
  });
  const info = JSON.parse(stdout) as { version: string; 'engines.node'?: string };
  const theirs = minimum(info['engines.node']);
  const ours = minimum(PKG.engines.node);
  if (theirs && ours && greater(theirs, ours)) {
    return `${name}@${info.version} needs Node ${info['engines.node']}, the package supports ${PKG.engines.node}`;
  }
  return undefined;
}

describe('node-red-dev validate (flow library scorecard)', function () {
  this.timeout(120000);
  let tmp: string;
  let dir: string;

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'es-validate-'));
    // --ignore-scripts: prepack would clean and rebuild dist/ underneath the suite that runs from
    // it (on a busy machine the 120 s limit then killed the build half-way, and every later test
    // that starts a child from dist/ failed). dist/ is already the build under test.
    const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], {
      cwd: ROOT,
      maxBuffer: 16 << 20,
      timeout: 120_000,
    });
    const filename = (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename;
    await run('tar', ['xzf', path.join(tmp, filename), '-C', tmp]);
    dir = path.join(tmp, 'package');
  });

  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('passes every check on the packed package, with no warning', async () => {
    const v = await validate(dir);
    const detail = `exit ${v.code}\n${v.stdout}\n${v.stderr}`;
    assert.equal(v.code, 0, detail);
    assert.match(v.stdout, /Complete/, detail);
    // The catalogue was answered locally (once for P08, once for N01), nothing else was stubbed.
    assert.equal(v.stderr.match(/validate-offline: answered/g)?.length, 2, detail);
    // P05's scorecard entry is true even when it warns (a node-red-dev quirk), so read its line.
    assert.match(v.stdout, /Node-RED Keyword Found/);

    const allowed: string[] = [];
    for (const check of CHECKS) {
      const entry = v.score[check];
      assert.ok(entry, `${check} ran\n${detail}`);
      if (check === 'D03' && !entry.test) {
        for (const name of entry.packages ?? []) {
          const why = await latestDropsOurNode(name);
          assert.ok(why, `D03: ${name} is not at its latest version\n${detail}`);
          allowed.push(name);
        }
        continue;
      }
      assert.equal(entry.test, true, `${check}: ${JSON.stringify(entry)}\n${detail}`);
    }
    assert.deepEqual(v.score.N02?.nodes, [
      'event-streams-producer',
      'event-streams-topic-admin',
      'event-streams-consumer',
    ]);

    const warnings = v.stderr
      .split('\n')
      .filter((line) => /Warning:/.test(line))
      .filter((line) => !allowed.some((name) => line.includes(`D03 ${name} is not at latest version`)));
    assert.deepEqual(warnings, [], detail);
  });

  it('still flags clashing node types when the catalogue has them', async () => {
    const catalogue = path.join(tmp, 'catalogue.json');
    const unscoped = PKG.name.split('/').at(-1)!;
    await fs.writeFile(
      catalogue,
      JSON.stringify({
        modules: [
          { id: `@someone-else/${unscoped}`, types: ['something-else'] },
          { id: 'node-red-contrib-other', types: ['event-streams-producer'] },
        ],
      }),
    );
    const v = await validate(dir, { VALIDATE_CATALOGUE_FILE: catalogue });
    // P08 cannot be shown to bite: node-red-dev 0.1.6 compares the unscoped name against each
    // catalogue id with Array.prototype.includes on two arrays, which is never true. It still
    // fetched the catalogue (asserted in the first test); a networked run sees the same outcome.
    assert.equal(v.stderr.match(/validate-offline: answered/g)?.length, 2);
    assert.equal(v.score.N01?.test, false, `${v.stdout}\n${v.stderr}`);
    assert.match(
      v.stderr,
      /Duplicate nodename event-streams-producer found in package node-red-contrib-other/,
    );
  });
});
