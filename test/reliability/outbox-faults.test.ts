// SPDX-License-Identifier: Apache-2.0
/**
 * The outbox against a damaged or failing disk, every record accounted for: sent = delivered (in
 * the topic on the local endpoint, over HTTPS with verification on, byte for byte) + caught (an
 * enqueue rejected with its code) + logged (counted lost by recovery).
 *
 * 1. Bit flips, cut files and holes at random frame positions (100 trials, seeded PRNG): every
 *    intact record is delivered, exactly the damaged ones are counted lost, once.
 * 2. A 1 MiB tmpfs filling mid-burst: rejected records get OUTBOX_FULL and never arrive; the
 *    backlog drains, the disk is freed, new records flow, a restart sends nothing again.
 * 3. kill -9 while a checkpoint slot is half written (child processes, 4 rounds): nothing lost,
 *    duplicates within the stated bound.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { EventStreamsClient } from '../../lib/client';
import type { StoredRecord } from '../../gateway/types';
import { OUTBOX_ACK_BACKLOG, Outbox } from '../../lib/outbox';
import { storeRecord } from '../../lib/record-codec';
import { Spool } from '../../lib/spool';
import { RestartableEndpoint } from './harness';
import { waitFor } from '../support/wait';

const API_KEY = 'outbox-faults-api-key-9Xk2PqLm4v';
const LIMITS = { maxKeyBytes: 4096, maxValueBytes: 65536, maxUriBytes: 10240 };
/** Fixed so that a failure replays; OUTBOX_FAULTS_SEED (hex) runs another sequence. */
const SEED = process.env.OUTBOX_FAULTS_SEED ? parseInt(process.env.OUTBOX_FAULTS_SEED, 16) : 0x5eed2107;

/** mulberry32: a small seeded PRNG, so a failing trial can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Frames of a segment as written (32-byte header, then magic | length | seq | crc | payload). */
function framesOf(buf: Buffer): Array<{ start: number; end: number; seq: number }> {
  const out: Array<{ start: number; end: number; seq: number }> = [];
  let off = 32;
  while (off < buf.length) {
    const end = off + 20 + buf.readUInt32BE(off + 4);
    out.push({ start: off, end, seq: Number(buf.readBigUInt64BE(off + 8)) });
    off = end;
  }
  return out;
}

function indexOf(r: StoredRecord): number {
  return (JSON.parse(r.value.toString('utf8')) as { i: number }).i;
}

describe('reliability: outbox faults (damaged and full disks, kill -9 during a checkpoint)', function () {
  this.timeout(180000);
  let ep: RestartableEndpoint;
  let tmp: string;
  let client: EventStreamsClient;
  const outboxes: Outbox[] = [];

  before(async () => {
    ep = await RestartableEndpoint.create({ apiKeys: [API_KEY], autoCreateTopics: true });
    await ep.start();
    client = new EventStreamsClient({
      // One attempt per request, as the outbox sends (it is the retry loop).
      retry: { retries: 0 },
      url: ep.url,
      auth: { mode: 'bearer', apiKey: API_KEY },
      tls: { ca: ep.caPem },
      connections: 8,
      requestTimeoutMs: 5000,
    });
  });
  after(async () => {
    await client.close({ deadlineMs: 1000 });
    await ep.dispose();
  });
  beforeEach(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'es-outbox-faults-'));
  });
  afterEach(async () => {
    for (const o of outboxes.splice(0)) await o.close(1000);
    await fs.rm(tmp, { recursive: true, force: true });
  });

  async function openOutbox(dir: string, extra: Record<string, unknown> = {}): Promise<Outbox> {
    const o = await Outbox.open(
      {
        dir,
        maxBytes: 64 * 1024 * 1024,
        flavour: 'v1',
        limits: LIMITS,
        concurrency: 8,
        retryDelayMs: 50,
        maxHoldMs: 200,
        ...extra,
      },
      () => client.sender,
    );
    outboxes.push(o);
    return o;
  }

  it('bit flips, cut files and holes at random frame positions (100 trials): every intact record sent, each lost one counted once', async () => {
    const rand = prng(SEED);
    const N = 24;
    const totals = { sent: 0, delivered: 0, lost: 0, flip: 0, cut: 0, hole: 0, headerHits: 0 };
    const run = `${Date.now().toString(36)}`;
    for (let trial = 0; trial < 100; trial++) {
      const dir = path.join(tmp, `t${trial}`);
      const topic = `faults-${run}-${trial}`;
      const values = Array.from({ length: N }, (_, i) =>
        JSON.stringify({ i, pad: 'é✓'.repeat(Math.floor(rand() * 40)) }),
      );
      const keys = values.map((_, i) => (i % 5 === 0 ? undefined : `k${i % 3}`));
      // Spooled in groups so that the records span several segments.
      const spool = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 600, fsync: false });
      for (let g = 0; g < N; g += 4) {
        await Promise.all(
          values.slice(g, g + 4).map((v, j) => {
            const key = keys[g + j];
            return spool.append(storeRecord(topic, { value: v, ...(key ? { key } : {}) }));
          }),
        );
      }
      await spool.close();

      // Damage one segment at a random place; note which records the damaged bytes belonged to.
      const segs = (await fs.readdir(dir)).filter((n) => n.startsWith('seg-')).sort();
      const seg = segs[Math.floor(rand() * segs.length)]!;
      const file = path.join(dir, seg);
      const buf = await fs.readFile(file);
      const frames = framesOf(buf);
      const mode = (['flip', 'cut', 'hole'] as const)[Math.floor(rand() * 3)]!;
      totals[mode]++;
      let pos = Math.floor(rand() * buf.length);
      // A quarter of the cuts fall exactly on a frame boundary: the file then ends cleanly, short.
      if (mode === 'cut' && rand() < 0.25) pos = frames[Math.floor(rand() * frames.length)]!.start;
      const expectLost = new Set<number>();
      if (mode === 'flip') {
        buf[pos] = buf[pos]! ^ (1 << Math.floor(rand() * 8));
        await fs.writeFile(file, buf);
        for (const f of frames) if (pos >= f.start && pos < f.end) expectLost.add(f.seq);
        if (pos < 32) totals.headerHits++;
      } else if (mode === 'cut') {
        await fs.truncate(file, pos);
        // A cut inside the segment header leaves no frame readable in it.
        for (const f of frames) if (f.end > pos || pos < 32) expectLost.add(f.seq);
      } else {
        const len = 1 + Math.floor(rand() * 60);
        const from = Math.max(32, pos);
        const to = Math.min(buf.length, from + len);
        await fs.writeFile(file, Buffer.concat([buf.subarray(0, from), buf.subarray(to)]));
        for (const f of frames) if (f.start < to && f.end > from) expectLost.add(f.seq);
      }

      const o = await openOutbox(dir);
      await waitFor(() => o.depth === 0, `trial ${trial}: the spool drained`, { timeoutMs: 30000 });
      const stored = await ep.records(topic);
      const seen = new Set<number>();
      for (const r of stored) {
        const i = indexOf(r);
        assert.ok(!seen.has(i), `trial ${trial}: record ${i} delivered twice`);
        seen.add(i);
        assert.deepEqual(r.value, Buffer.from(values[i]!), `trial ${trial}: record ${i} bytes`);
        assert.equal(
          r.key === null ? undefined : r.key.toString(),
          keys[i],
          `trial ${trial}: record ${i} key`,
        );
      }
      // Seq s holds record s - 1.
      const lostIdx = [...expectLost].map((s) => s - 1).sort((a, b) => a - b);
      for (let i = 0; i < N; i++) {
        assert.equal(
          seen.has(i),
          !expectLost.has(i + 1),
          `trial ${trial} (${mode} at ${pos} of ${seg}): record ${i}`,
        );
      }
      assert.equal(
        o.recovery.lost,
        expectLost.size,
        `trial ${trial} (${mode}): counted lost ${JSON.stringify(lostIdx)}`,
      );
      assert.equal(N, seen.size + o.recovery.lost, `trial ${trial}: sent = delivered + logged`);
      if (expectLost.size > 0) {
        assert.equal((o.lastError as { code?: string } | undefined)?.code, 'OUTBOX_DAMAGED');
        assert.ok(
          o.recovery.damage.some((d) => d.segment === seg && d.lost > 0),
          'where: segment and offsets',
        );
      } else {
        assert.equal(o.lastError, undefined);
      }
      totals.sent += N;
      totals.delivered += seen.size;
      totals.lost += o.recovery.lost;
      await o.close(1000);
      outboxes.splice(outboxes.indexOf(o), 1);
      // Reported once: the next open finds no damage.
      const again = await Spool.open({ dir, maxBytes: 1 << 20 });
      assert.equal(again.recovery.lost, 0, `trial ${trial}: the loss is not reported again`);
      assert.equal(again.recovery.damagedSegments, 0, `trial ${trial}: the damaged segment was rewritten`);
      assert.equal(again.depth, 0);
      await again.close();
    }
    console.log(
      `      [corruption] 100 trials (seed ${SEED.toString(16)}): ${totals.flip} bit flips (${totals.headerHits} in a segment header), ` +
        `${totals.cut} cut files, ${totals.hole} holes; sent ${totals.sent} = delivered ${totals.delivered} + logged lost ${totals.lost}`,
    );
    assert.equal(totals.sent, totals.delivered + totals.lost);
  });

  it('a 1 MiB tmpfs filling mid-burst: OUTBOX_FULL for what does not fit (never delivered later), the backlog drains, the disk is freed, a restart sends nothing again', async function () {
    const mnt = path.join(tmp, 'mnt');
    await fs.mkdir(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch (err) {
      if (process.env.CI === 'true') throw err;
      console.log(
        `      [tmpfs] skipped: mounting a tmpfs is not permitted here (${(err as Error).message.split('\n')[0]})`,
      );
      this.skip();
    }
    try {
      const topic = `tmpfs-${Date.now().toString(36)}`;
      const dir = path.join(mnt, 'outbox');
      let o = await openOutbox(dir, { segmentBytes: 64 * 1024 });
      // The endpoint refuses writes (503) while the burst starts, so the spool grows to the disk's size.
      ep.current!.setFaults([{ route: 'produce', status: 503 }]);
      const value = (i: number): string => JSON.stringify({ i, pad: 'x'.repeat(3000) });
      const ok = new Set<number>();
      const caught = new Map<number, string>();
      const M = 700; // about 2.1 MB: twice the disk
      let cleared = false;
      let freeAtRestart = -1;
      for (let w = 0; w < M; w += 10) {
        const wave = Array.from({ length: 10 }, (_, j) => w + j);
        const results = await Promise.allSettled(
          wave.map((i) => o.enqueue(topic, { value: value(i), key: `k${i % 4}` })),
        );
        results.forEach((r, j) => {
          if (r.status === 'fulfilled') ok.add(wave[j]!);
          else caught.set(wave[j]!, (r.reason as { code?: string }).code ?? String(r.reason));
        });
        if (!cleared && caught.size > 0) {
          // Mid-burst, the disk is full. A restart now must still open the outbox (its lock is
          // made from the space it kept aside) and hand back every stored record.
          await o.close(1000);
          outboxes.splice(outboxes.indexOf(o), 1);
          // Whatever space the failed write left, something else on the disk takes now.
          const filler = await fs.open(path.join(mnt, 'filler'), 'w');
          try {
            for (;;) await filler.write(Buffer.alloc(4096));
          } catch (err) {
            assert.equal((err as { code?: string }).code, 'ENOSPC');
          } finally {
            await filler.close();
          }
          const st0 = await fs.statfs(mnt);
          freeAtRestart = st0.bavail * st0.bsize;
          o = await openOutbox(dir, { segmentBytes: 64 * 1024 });
          assert.equal(
            o.recovered,
            ok.size,
            `every stored record back after a restart on a full disk (${freeAtRestart} bytes free)`,
          );
          await fs.rm(path.join(mnt, 'filler'));
          // Then the endpoint comes back and the drain frees space.
          cleared = true;
          ep.current!.clearFaults();
        }
      }
      assert.ok(cleared, 'the disk filled during the burst');
      await waitFor(() => o.depth === 0, 'the backlog drained', { timeoutMs: 60000 });
      const codes = new Set(caught.values());
      assert.deepEqual([...codes], ['OUTBOX_FULL'], `rejections: ${[...codes].join(',')}`);
      const stored = await ep.records(topic);
      const seen = new Map<number, number>();
      for (const r of stored) {
        const i = indexOf(r);
        seen.set(i, (seen.get(i) ?? 0) + 1);
        assert.deepEqual(r.value, Buffer.from(value(i)));
      }
      for (const i of caught.keys())
        assert.ok(!seen.has(i), `record ${i} was reported failed and then delivered`);
      for (const i of ok) assert.equal(seen.get(i), 1, `record ${i} delivered once`);
      assert.equal(M, ok.size + caught.size, 'sent = delivered + caught');
      assert.equal(seen.size, ok.size);

      // The drained outbox freed its disk: no segment left, the checkpoint (64 KiB) written.
      // The checkpoint (at most 200 ms after the last acknowledgement) deletes them.
      const deadline = Date.now() + 10000;
      let segs = ['?'];
      while (segs.length > 0) {
        assert.ok(Date.now() < deadline, `segments left after the drain: ${segs.join(', ')}`);
        segs = (await fs.readdir(dir)).filter((x) => x.startsWith('seg-'));
        if (segs.length > 0) await new Promise((r) => setTimeout(r, 20));
      }
      const st = await fs.statfs(mnt);
      const usedKiB = ((st.blocks - st.bfree) * st.bsize) / 1024;
      console.log(
        `      [tmpfs] ${M} sent: ${ok.size} delivered + ${caught.size} caught (OUTBOX_FULL); restarted on the full disk (${freeAtRestart} bytes free); disk used after the drain ${usedKiB} KiB of 1024`,
      );
      assert.ok(usedKiB <= 128, `disk used after the drain: ${usedKiB} KiB`);
      // Not wedged: new records are stored and delivered.
      const more = Array.from({ length: 20 }, (_, j) => M + j);
      await Promise.all(more.map((i) => o.enqueue(topic, { value: value(i), key: 'k0' })));
      await waitFor(() => o.depth === 0, 'the new records delivered', { timeoutMs: 20000 });
      await o.close(1000);
      outboxes.splice(outboxes.indexOf(o), 1);
      // A restart: nothing is left to send, so nothing already delivered goes out again.
      const again = await openOutbox(dir, { segmentBytes: 64 * 1024 });
      assert.equal(again.recovered, 0);
      assert.equal(again.recovery.lost, 0);
      assert.equal(again.depth, 0);
      await again.close(1000);
      outboxes.splice(outboxes.indexOf(again), 1);
      const final = await ep.records(topic);
      assert.equal(final.length, ok.size + more.length, 'every delivered record exactly once');
    } finally {
      ep.current?.clearFaults();
      for (const o of outboxes.splice(0)) await o.close(1000);
      execFileSync('umount', [mnt]);
    }
  });

  it('kill -9 while a checkpoint slot is half written (4 rounds): nothing lost, duplicates within the bound', async () => {
    const rand = prng(SEED + 1);
    const N = 1500;
    const topic = `killcp-${Date.now().toString(36)}`;
    const dir = path.join(tmp, 'spool');
    const spool = await Spool.open({ dir, maxBytes: 64 * 1024 * 1024, fsync: false });
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        spool.append(storeRecord(topic, { value: JSON.stringify({ i }), key: `k${i % 10}` })),
      ),
    );
    await spool.close();
    const caFile = path.join(tmp, 'ca.pem');
    await fs.writeFile(caFile, ep.caPem);
    const dist = path.resolve(__dirname, '..', '..', 'lib');
    // The child drains the outbox with a checkpoint every millisecond and kills itself in the
    // middle of its k-th checkpoint write, after half of the slot is written (a torn checkpoint).
    const script = `
      const fs = require('node:fs');
      const { Outbox } = require(${JSON.stringify(path.join(dist, 'outbox.js'))});
      const { EventStreamsClient } = require(${JSON.stringify(path.join(dist, 'client.js'))});
      const [dir, url, caFile, k] = process.argv.slice(1);
      (async () => {
        const probe = await fs.promises.open(caFile, 'r');
        const proto = Object.getPrototypeOf(probe);
        await probe.close();
        const write = proto.write;
        let seen = 0;
        proto.write = function (buf, offset, length, position) {
          if (Buffer.isBuffer(buf) && buf.length >= 4 && buf.readUInt32BE(0) === 0x45534350 && ++seen === Number(k)) {
            return write.call(this, buf, offset, Math.floor(length / 2), position).then(() => process.kill(process.pid, 'SIGKILL'));
          }
          return write.apply(this, arguments);
        };
        const client = new EventStreamsClient({ retry: { retries: 0 },
          url, auth: { mode: 'bearer', apiKey: ${JSON.stringify(API_KEY)} },
          tls: { ca: fs.readFileSync(caFile, 'utf8') }, connections: 8,
        });
        const o = await Outbox.open({ dir, maxBytes: 64 * 1024 * 1024, flavour: 'v1',
          limits: ${JSON.stringify(LIMITS)}, concurrency: 8, retryDelayMs: 50, checkpointDelayMs: 1 }, () => client.sender);
        console.log(JSON.stringify({ recovered: o.recovered, lost: o.recovery.lost }));
      })().catch((e) => { console.error(e); process.exit(3); });`;
    const rounds: Array<{ k: number; signal: string | null; recovered: number; storedAfter: number }> = [];
    for (let round = 0; round < 4; round++) {
      const k = 5 + Math.floor(rand() * 30);
      const child = spawn(process.execPath, ['-e', script, dir, ep.url, caFile, String(k)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const signal = await new Promise<string | null>((resolve) => child.on('exit', (_c, s) => resolve(s)));
      const info = JSON.parse(out.trim().split('\n')[0] ?? '{}') as { recovered?: number; lost?: number };
      assert.equal(info.lost, 0, 'nothing was lost to the kill');
      rounds.push({
        k,
        signal,
        recovered: info.recovered ?? -1,
        storedAfter: (await ep.records(topic)).length,
      });
      assert.equal(signal, 'SIGKILL', `round ${round}: the child died in its ${k}th checkpoint write`);
    }
    // Then a clean run drains the rest.
    const o = await openOutbox(dir);
    assert.equal(o.recovery.lost, 0);
    await waitFor(() => o.depth === 0, 'the rest drained', { timeoutMs: 60000 });
    const stored = await ep.records(topic);
    const counts = new Map<number, number>();
    for (const r of stored) counts.set(indexOf(r), (counts.get(indexOf(r)) ?? 0) + 1);
    for (let i = 0; i < N; i++) assert.ok(counts.has(i), `record ${i} was lost`);
    const duplicates = stored.length - N;
    const bound = OUTBOX_ACK_BACKLOG + 2 * 8;
    console.log(
      `      [kill -9 in checkpoint] ${N} records, 4 kills (at checkpoint writes ${rounds.map((r) => r.k).join(', ')}; ` +
        `recovered ${rounds.map((r) => r.recovered).join(' → ')}): all delivered, ${duplicates} duplicates (bound ${bound} per kill)`,
    );
    assert.ok(duplicates <= 4 * bound, `${duplicates} duplicates > 4 × ${bound}`);
  });
});
