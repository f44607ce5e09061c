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
import { waitFor } from '../support/wait';

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

  it('counts a cut-off confirmed record as lost, once, and rewrites the segment without the damage', async () => {
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
    assert.equal(r.recovery.lost, 1, 'its append had resolved: it is a lost record, not a torn write');
    assert.equal(r.recovery.tornBytes, 0);
    assert.ok(r.recovery.truncatedBytes > 0);
    assert.equal(await r.append(Buffer.from('after')), 21, 'the lost seq is not reused');
    await r.close();
    const again = await Spool.open({ dir, maxBytes: 1 << 20 });
    assert.equal(again.depth, 20);
    assert.equal(again.recovery.damagedSegments, 0, 'the segment was rewritten without the damage');
    assert.equal(again.recovery.lost, 0, 'reported once');
    await again.close();
  });

  it('cuts a torn tail past the last confirmed append without calling it a loss', async () => {
    const s = await Spool.open({ dir, maxBytes: 1 << 20 });
    await Promise.all(Array.from({ length: 5 }, (_, i) => s.append(payload(i))));
    await s.close();
    const [seg] = await segments();
    // The start of a frame whose write a crash interrupted: magic and part of a header.
    await fs.appendFile(path.join(dir, seg!), Buffer.from([0xe5, 0x5f, 0x0f, 0xa7, 0, 0, 1, 0, 0, 0]));
    const r = await Spool.open({ dir, maxBytes: 1 << 20 });
    assert.equal(r.depth, 5);
    assert.equal(r.recovery.lost, 0);
    assert.equal(r.recovery.tornBytes, 10);
    await r.close();
  });

  it('skips a frame with a flipped bit and keeps every frame after it', async () => {
    const s = await Spool.open({ dir, maxBytes: 1 << 20 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => s.append(payload(i))));
    await s.close();
    const [seg] = await segments();
    const file = path.join(dir, seg!);
    const buf = await fs.readFile(file);
    // Frame 5 starts after the 32-byte header and four frames: corrupt a payload byte of it.
    let off = 32;
    for (let i = 0; i < 4; i++) off += 20 + buf.readUInt32BE(off + 4);
    buf[off + 24] = buf[off + 24]! ^ 0x10;
    await fs.writeFile(file, buf);
    const r = await Spool.open({ dir, maxBytes: 1 << 20 });
    assert.deepEqual(
      r.pending().map((e) => e.seq),
      [1, 2, 3, 4, 6, 7, 8, 9, 10],
    );
    assert.equal(r.recovery.lost, 1);
    assert.equal(r.recovery.damage[0]!.start, off);
    assert.equal(r.recovery.damagedSegments, 1);
    await r.close();
  });

  it('reads segments and the checkpoint of the earlier format (no magic, no salt)', async () => {
    // Written as the previous version did: u32 length | u32 crc32(seq, payload) | u64 seq | payload.
    const { crc32 } = await import('node:zlib');
    const frames = Array.from({ length: 6 }, (_, i) => {
      const data = payload(i);
      const f = Buffer.alloc(16 + data.length);
      f.writeUInt32BE(data.length, 0);
      f.writeBigUInt64BE(BigInt(i + 1), 8);
      data.copy(f, 16);
      f.writeUInt32BE(crc32(f.subarray(8)), 4);
      return f;
    });
    await fs.writeFile(path.join(dir, 'seg-0000000000000001.log'), Buffer.concat(frames));
    await fs.writeFile(path.join(dir, 'checkpoint'), JSON.stringify({ through: 2, acked: [4] }));
    await fs.writeFile(path.join(dir, 'lock'), '999999999');
    const r = await Spool.open({ dir, maxBytes: 1 << 20 });
    assert.deepEqual(
      r.pending().map((e) => [e.seq, e.data.toString()]),
      [3, 5, 6].map((q) => [q, payload(q - 1).toString()]),
    );
    assert.equal(await r.append(Buffer.from('new')), 7);
    await r.close();
    await assert.rejects(fs.stat(path.join(dir, 'checkpoint')), /ENOENT/, 'the old checkpoint was migrated');
    const again = await Spool.open({ dir, maxBytes: 1 << 20 });
    assert.deepEqual(
      again.pending().map((e) => e.seq),
      [3, 5, 6, 7],
    );
    await again.close();
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
    const s = await Spool.open({ dir, maxBytes: 20 * 10 + 1000 });
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
    assert.equal(ok.length, 10, '10 × 120 bytes fit in 1200 exactly');
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
    // The deletions follow the (1 ms) checkpoint asynchronously: wait for them, not for a guess.
    let left = await segments();
    await waitFor(async () => (left = await segments()).length <= 2, 'acknowledged segments deleted', {
      timeoutMs: 10_000,
    }).catch(() => undefined);
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
    // The segment (header, directory entry) exists before the count starts.
    await s.append(payload(0));
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
      seqs = await Promise.all(Array.from({ length: 200 }, (_, i) => s.append(payload(i + 1))));
    } finally {
      Object.assign(proto, originals);
    }
    assert.equal(seqs.length, 200);
    assert.equal(calls.write, 1, 'one write for the 200 appends');
    assert.equal(calls.datasync, 1, 'one fdatasync for the 200 appends');
    assert.equal(calls.sync, 0, 'no other sync');
    // And the segment holds all 200 frames.
    const [seg] = await segments();
    const size = (await fs.stat(path.join(dir, seg!))).size;
    assert.equal(
      size,
      seqs.reduce((n, q) => n + 20 + payload(q - 1).length, 32 + 20 + payload(0).length),
    );
    await s.close();
  });

  it('a write the disk fails is never recovered: cut back off, or (if even the cut fails) settled in the checkpoint first', async () => {
    // EIO cannot be produced on demand by a real file system here (the tmpfs test in
    // outbox-faults.test.ts produces a real ENOSPC), so the segment handle's write, datasync and
    // truncate are made to fail: the write after putting half of its bytes on disk.
    const s = await Spool.open({ dir, maxBytes: 1 << 20 });
    assert.equal(await s.append(payload(0)), 1);
    const probe = await fs.open(path.join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as Record<string, (...args: unknown[]) => Promise<unknown>>;
    await probe.close();
    await fs.rm(path.join(dir, 'probe'));
    const originals = { write: proto.write!, truncate: proto.truncate! };
    const eio = (): Error => Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    let failTruncate = false;
    proto.write = async function (this: unknown, ...args: unknown[]) {
      const [buf, offset, length, position] = args as [Buffer, number, number, number];
      // Only the segment's frames (magic E5 5F 0F A7) fail; the checkpoint is written.
      if (Buffer.isBuffer(buf) && buf.readUInt32BE(offset) === 0xe55f0fa7) {
        await originals.write.call(this, buf, offset, Math.floor(length / 2), position);
        throw eio();
      }
      return originals.write.apply(this, args);
    };
    proto.truncate = function (this: unknown, ...args: unknown[]) {
      return failTruncate ? Promise.reject(eio()) : originals.truncate.apply(this, args);
    };
    try {
      // 1. The cut works: the failed records leave nothing, their seqs are reused.
      const first = await Promise.allSettled([s.append(payload(1)), s.append(payload(2))]);
      assert.deepEqual(
        first.map((r) => r.status === 'rejected' && (r.reason as { code: string }).code),
        ['OUTBOX_IO', 'OUTBOX_IO'],
      );
      // 2. The cut fails too: half a batch stays on disk, its seqs are settled.
      failTruncate = true;
      const second = await Promise.allSettled([s.append(payload(3)), s.append(payload(4))]);
      assert.ok(
        second.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'OUTBOX_IO'),
      );
    } finally {
      Object.assign(proto, originals);
    }
    // The disk is back: the next append goes through (after the checkpoint recorded the failure).
    const next = await s.append(payload(5));
    assert.equal(next, 4, 'seqs 2 and 3 (the failed, half-written batch) are not reused');
    assert.deepEqual(
      s.pending().map((e) => e.seq),
      [1, 4],
    );
    await s.close();
    const r = await Spool.open({ dir, maxBytes: 1 << 20 });
    assert.deepEqual(
      r.pending().map((e) => e.data.toString()),
      [payload(0).toString(), payload(5).toString()],
      'no record whose append was rejected comes back',
    );
    assert.equal(r.recovery.lost, 0, 'and the half-written batch is not reported as a loss');
    await r.close();
  });

  it('refuses a second open of the same directory', async () => {
    const s = await Spool.open({ dir, maxBytes: 1000 });
    await assert.rejects(Spool.open({ dir, maxBytes: 1000 }), /already open/);
    await s.close();
  });
});
