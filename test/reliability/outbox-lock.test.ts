// SPDX-License-Identifier: Apache-2.0
/**
 * The outbox directory's lock (lib/spool.ts): held by process identity (pid, start time, boot id),
 * so a stale lock naming a reused, live pid does not block; and 20 openers in separate processes
 * at the same moment: exactly one wins, every time (20 trials, half of them racing to take over a
 * stale lock).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { bootId, processStartTime, Spool } from '../../lib/spool';

const linux = processStartTime(process.pid) !== undefined && bootId() !== undefined;

describe('reliability: outbox lock', function () {
  this.timeout(120000);
  let dir: string;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-outbox-lock-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const lockFile = (): string => path.join(dir, 'lock');

  /** A live process that is not this one: the test runner's parent (a shell, npm or the CI agent). */
  const livePid = process.ppid;

  it('takes over a stale lock naming a live pid with another start time (a pid reused after a restart)', async function () {
    if (!linux) {
      console.log('      [lock] skipped: needs /proc (start times and boot id) to tell a reused pid');
      this.skip();
    }
    await fs.writeFile(lockFile(), JSON.stringify({ pid: livePid, start: '1', boot: bootId() }));
    const s = await Spool.open({ dir, maxBytes: 1 << 20 });
    const owner = JSON.parse(await fs.readFile(lockFile(), 'utf8')) as { pid: number; start: string };
    assert.equal(owner.pid, process.pid);
    assert.equal(owner.start, processStartTime(process.pid));
    await s.close();
    await assert.rejects(fs.stat(lockFile()), /ENOENT/, 'close removes the lock');
  });

  it('takes over a lock of a live pid from another boot, and a bare-pid lock of an earlier version written before this boot', async function () {
    if (!linux) this.skip();
    await fs.writeFile(
      lockFile(),
      JSON.stringify({ pid: livePid, start: processStartTime(livePid), boot: 'another-boot' }),
    );
    await (await Spool.open({ dir, maxBytes: 1 << 20 })).close();
    await fs.writeFile(lockFile(), String(livePid));
    const beforeBoot = new Date(Date.now() - os.uptime() * 1000 - 3_600_000);
    await fs.utimes(lockFile(), beforeBoot, beforeBoot);
    await (await Spool.open({ dir, maxBytes: 1 << 20 })).close();
  });

  it('refuses a lock held by a live process with the same identity (and an earlier version’s lock of a live pid from this boot)', async () => {
    await fs.writeFile(
      lockFile(),
      JSON.stringify({ pid: livePid, start: processStartTime(livePid), boot: bootId() }),
    );
    await assert.rejects(
      Spool.open({ dir, maxBytes: 1 << 20 }),
      (err: { code?: string; message: string }) => {
        assert.equal(err.code, 'INVALID_CONFIG');
        assert.match(err.message, new RegExp(`in use by process ${livePid}`));
        return true;
      },
    );
    await fs.writeFile(lockFile(), String(livePid));
    await assert.rejects(Spool.open({ dir, maxBytes: 1 << 20 }), /in use by process/);
    // A dead pid's lock is stale whatever else it says.
    await fs.writeFile(lockFile(), JSON.stringify({ pid: 2 ** 22 + 12345, start: '1', boot: bootId() }));
    await (await Spool.open({ dir, maxBytes: 1 << 20 })).close();
  });

  it('20 openers in separate processes at once: exactly one wins, every time (20 trials, 10 racing over a stale lock)', async () => {
    const spoolJs = require.resolve('../../lib/spool');
    // Each child opens on "open <dir>", answers "won" or "lost <code>", and closes on "close".
    const script = `
      const { Spool } = require(${JSON.stringify(spoolJs)});
      const rl = require('node:readline').createInterface({ input: process.stdin });
      let s;
      rl.on('line', async (line) => {
        const [cmd, dir] = line.split(' ');
        if (cmd === 'open') {
          try { s = await Spool.open({ dir, maxBytes: 1 << 20 }); console.log('won'); }
          catch (e) { console.log('lost ' + (e.code || e.message)); }
        } else if (cmd === 'close') {
          if (s) await s.close();
          s = undefined;
          console.log('closed');
        } else process.exit(0);
      });
      console.log('ready');`;
    const children: Array<{ child: ChildProcess; next: () => Promise<string> }> = [];
    for (let i = 0; i < 20; i++) {
      const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
      const lines: string[] = [];
      const waiting: Array<(l: string) => void> = [];
      createInterface({ input: child.stdout! }).on('line', (l) => {
        const w = waiting.shift();
        if (w) w(l);
        else lines.push(l);
      });
      const next = (): Promise<string> =>
        lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise((resolve) => waiting.push(resolve));
      children.push({ child, next });
    }
    try {
      for (const c of children) assert.equal(await c.next(), 'ready');
      const wins: number[] = [];
      const codes = new Map<string, number>();
      for (let trial = 0; trial < 20; trial++) {
        const d = path.join(dir, `t${trial}`);
        await fs.mkdir(d);
        if (trial % 2 === 1) {
          // A stale lock naming a live pid with another start time: every opener tries to take it over.
          await fs.writeFile(
            path.join(d, 'lock'),
            JSON.stringify({ pid: livePid, start: '1', boot: bootId() }),
          );
        }
        for (const c of children) c.child.stdin!.write(`open ${d}\n`);
        const answers = await Promise.all(children.map((c) => c.next()));
        const winners = answers.filter((a) => a === 'won').length;
        wins.push(winners);
        for (const a of answers) if (a !== 'won') codes.set(a, (codes.get(a) ?? 0) + 1);
        assert.equal(
          winners,
          1,
          `trial ${trial}${trial % 2 ? ' (stale lock)' : ''}: ${winners} winners (${answers.join(', ')})`,
        );
        const winner = children[answers.indexOf('won')]!;
        winner.child.stdin!.write('close\n');
        assert.equal(await winner.next(), 'closed');
        // The winner's lock is gone; the losers left nothing behind either.
        const left = (await fs.readdir(d)).filter((n) => n.startsWith('lock'));
        assert.deepEqual(left, [], `trial ${trial}: lock files left: ${left.join(', ')}`);
      }
      console.log(
        `      [lock] 20 trials × 20 openers: winners per trial ${[...new Set(wins)].join('/')} (always 1); losers: ${[...codes].map(([k, v]) => `${v} ${k}`).join(', ')}`,
      );
    } finally {
      for (const c of children) {
        c.child.stdin!.end('exit\n');
        await new Promise((r) => (c.child.exitCode !== null ? r(undefined) : c.child.once('exit', r)));
      }
    }
  });
});
