// SPDX-License-Identifier: Apache-2.0
/**
 * The durable outbox's spool (lib/spool.ts) on a real file system: round trip across reopen,
 * torn tails, CRC corruption, the byte bound, segment roll-over and deletion, group commit.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Spool } from '../../lib/spool';

describe('reliability: spool (durable outbox store)', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-spool-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const payload = (i: number): Buffer => Buffer.from(`record-${i}-${'x'.repeat(i % 50)}`);

  async function segments(): Promise<string[]> {
    return (await fs.readdir(dir)).filter((n) => n.startsWith('seg-')).sort();
  }

  it('keeps unacknowledged records across close and reopen, in order', async () => {
    const s = await Spool.open({ dir, maxBytes: 1 << 20 });
    const seqs = await Promise.all(Array.from({ length: 100 }, (_, i) => s.append(payload(i))));
    assert.deepEqual(
      seqs,
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    for (let i = 0; i < 40; i++) s.ack(seqs[i]!);
    s.ack(seqs[50]!); // out of order
    await s.close();
    const r = await Spool.open({ dir, maxBytes: 1 << 20 });
    const pending = r.pending();
    assert.equal(pending.length, 59);
    assert.equal(pending[0]!.seq, 41);
    assert.ok(!pending.some((e) => e.seq === 51), 'an out-of-order ack is kept');
    for (const e of pending) assert.deepEqual(e.data, payload(e.seq - 1));
    assert.equal(await r.append(Buffer.from('next')), 101, 'seqs continue');
    await r.close();
  });

  it('survives kill -9 of the writing process: confirmed appends are all there', async () => {
    // A real crash: a child process appends, acknowledges one record, and SIGKILLs itself
    // before the (delayed) checkpoint is written.
    const script = `
      const { Spool } = require(${JSON.stringify(require.resolve('../../lib/spool'))});
      (async () => {
        const s = await Spool.open({ dir: ${JSON.stringify(dir)}, maxBytes: 1 << 20, checkpointDelayMs: 60000 });
        const seqs = await Promise.all(Array.from({ length: 10 }, (_, i) => s.append(Buffer.from('r' + i))));
        s.ack(seqs[0]);
        process.kill(process.pid, 'SIGKILL');
      })();`;
    const code = await new Promise<string | null>((resolve) => {
      const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
      child.on('exit', (_c, signal) => resolve(signal));
    });
    assert.equal(code, 'SIGKILL');
    const r = await Spool.open({ dir, maxBytes: 1 << 20 });
    assert.equal(r.depth, 10, 'the unpersisted ack means seq 1 comes back (at-least-once), nothing lost');
    assert.deepEqual(
      r.pending().map((e) => e.data.toString()),
      Array.from({ length: 10 }, (_, i) => `r${i}`),
    );
    await r.close();
  });

  it('cuts a torn tail off at the first bad frame and keeps everything before it', async () => {
    const s = await Spool.open({ dir, maxBytes: 1 << 20 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.append(payload(i))));
    await s.close();
    const [seg] = await segments();
    const file = path.join(dir, seg!);
    const size = (await fs.stat(file)).size;
    await fs.truncate(file, size - 7); // half of the last frame
    const r = await Spool.open({ dir, maxBytes: 1 << 20 });
    assert.equal(r.depth, 19);
    assert.equal(r.recovery.damagedSegments, 1);
    assert.ok(r.recovery.truncatedBytes > 0);
    assert.equal(await r.append(Buffer.from('after')), 20, 'the lost seq is reused: it was never confirmed');
    await r.close();
    const again = await Spool.open({ dir, maxBytes: 1 << 20 });
    assert.equal(again.depth, 20);
    assert.equal(again.recovery.damagedSegments, 0, 'the file was truncated at the bad frame');
    await again.close();
  });

  it('stops at a CRC mismatch (a flipped bit in the middle)', async () => {
    const s = await Spool.open({ dir, maxBytes: 1 << 20 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => s.append(payload(i))));
    await s.close();
    const [seg] = await segments();
    const file = path.join(dir, seg!);
    const buf = await fs.readFile(file);
    // Frame 5 starts after four frames: corrupt a payload byte of it.
    let off = 0;
    for (let i = 0; i < 4; i++) off += 16 + buf.readUInt32BE(off);
    buf[off + 20] = buf[off + 20]! ^ 0xff;
    await fs.writeFile(file, buf);
    const r = await Spool.open({ dir, maxBytes: 1 << 20 });
    assert.deepEqual(
      r.pending().map((e) => e.seq),
      [1, 2, 3, 4],
    );
    assert.equal(r.recovery.damagedSegments, 1);
    await r.close();
  });

  it('treats a garbage length as a bad frame, not as a huge allocation', async () => {
    const s = await Spool.open({ dir, maxBytes: 1 << 20 });
    await s.append(payload(1));
    await s.close();
    const [seg] = await segments();
    await fs.appendFile(path.join(dir, seg!), Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]));
    const r = await Spool.open({ dir, maxBytes: 1 << 20 });
    assert.equal(r.depth, 1);
    await r.close();
  });

  it('refuses appends past the byte bound with QUEUE_FULL and accepts again after acks', async () => {
    const s = await Spool.open({ dir, maxBytes: 16 * 10 + 1000 });
    const data = Buffer.alloc(100, 1);
    const ok: number[] = [];
    const refused: string[] = [];
    await Promise.all(
      Array.from({ length: 12 }, () =>
        s.append(data).then(
          (seq) => ok.push(seq),
          (err: { code: string }) => refused.push(err.code),
        ),
      ),
    );
    assert.equal(ok.length, 10, '10 × 116 bytes fit in 1160 exactly');
    assert.deepEqual(refused, ['QUEUE_FULL', 'QUEUE_FULL']);
    assert.ok(s.bytes <= s.maxBytes);
    s.ack(ok[0]!);
    await s.append(data);
    await s.close();
  });

  it('rolls segments over and deletes them once fully acknowledged', async () => {
    const s = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 1024, checkpointDelayMs: 1 });
    const seqs: number[] = [];
    for (let i = 0; i < 10; i++) {
      seqs.push(...(await Promise.all(Array.from({ length: 10 }, (_, j) => s.append(payload(i * 10 + j))))));
    }
    assert.ok((await segments()).length >= 3, 'several segments');
    for (const seq of seqs.slice(0, 90)) s.ack(seq);
    await new Promise((r) => setTimeout(r, 50));
    const left = await segments();
    assert.ok(left.length <= 2, `acknowledged segments deleted (left: ${left.join(',')})`);
    await s.close();
    const r = await Spool.open({ dir, maxBytes: 1 << 20 });
    assert.deepEqual(
      r.pending().map((e) => e.seq),
      seqs.slice(90),
    );
    await r.close();
  });

  it('commits appends of one tick together (one write, one fsync)', async () => {
    const s = await Spool.open({ dir, maxBytes: 1 << 20 });
    // Count the calls on every FileHandle (the spool's segment and directory handles share the
    // prototype): 200 separate writes or syncs would fail this, whatever the file ends up holding.
    const probe = await fs.open(path.join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as Record<string, (...args: unknown[]) => Promise<unknown>>;
    await probe.close();
    const calls = { write: 0, datasync: 0, sync: 0 };
    const originals = { write: proto.write!, datasync: proto.datasync!, sync: proto.sync! };
    for (const name of Object.keys(calls) as Array<keyof typeof calls>) {
      proto[name] = function (this: unknown, ...args: unknown[]) {
        calls[name]++;
        return originals[name].apply(this, args);
      };
    }
    let seqs: number[];
    try {
      seqs = await Promise.all(Array.from({ length: 200 }, (_, i) => s.append(payload(i))));
    } finally {
      Object.assign(proto, originals);
    }
    assert.equal(seqs.length, 200);
    assert.equal(calls.write, 1, 'one write for the 200 appends');
    assert.equal(calls.datasync, 1, 'one fdatasync for the 200 appends');
    // The first append also creates the segment, whose directory entry is made durable once.
    assert.ok(calls.sync <= 1, `at most the directory's fsync besides (saw ${calls.sync})`);
    // And the segment holds all 200 frames.
    const [seg] = await segments();
    const size = (await fs.stat(path.join(dir, seg!))).size;
    assert.equal(
      size,
      seqs.reduce((n, q) => n + 16 + payload(q - 1).length, 0),
    );
    await s.close();
  });

  it('refuses a second open of the same directory', async () => {
    const s = await Spool.open({ dir, maxBytes: 1000 });
    await assert.rejects(Spool.open({ dir, maxBytes: 1000 }), /already open/);
    await s.close();
  });
});
