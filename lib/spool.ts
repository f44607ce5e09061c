// SPDX-License-Identifier: Apache-2.0
/**
 * A small crash-safe, append-only spool (the producer's durable outbox).
 *
 * Layout of `dir`:
 * - `seg-<firstSeq>.log`: segments of framed records, rolled over at `segmentBytes`. A frame is
 *   `u32 length | u32 crc32 | u64 seq | payload` (big-endian); the CRC covers seq and payload.
 * - `checkpoint`: `{"through":N,"acked":[...]}`, every record with seq ≤ N is acknowledged, plus
 *   the acknowledged seqs above N (acks arrive out of order across keys). Written atomically:
 *   temporary file, fsync, rename, fsync of the directory.
 * - `lock`: the pid of the process that has the spool open (one writer per directory).
 *
 * Durability: appends made in the same tick are written with one write and one fdatasync
 * ("group commit"); {@link Spool.append} resolves only after that sync, so a record whose append
 * resolved survives `kill -9` and power loss (as far as the disk honours fsync). The cost is one
 * fsync per batch, so throughput depends on the disk's sync latency rather than on per-record
 * syncs; `fsync: false` trades that guarantee (records of the last moments may be lost on power
 * loss, not on a process crash) for speed.
 *
 * Acknowledgements are persisted lazily (`checkpointDelayMs`), so after a crash the records
 * acknowledged in the last moments are handed out again: delivery from the spool is
 * at-least-once, like the client's retries.
 *
 * Recovery reads every segment and stops a segment at its first bad frame (short header, length
 * beyond the file, CRC mismatch, non-increasing seq): a torn tail from a crash mid-write is cut
 * off there (the file is truncated) and nothing after it in that segment is trusted. Segments
 * whose records are all acknowledged are deleted once the checkpoint says so.
 *
 * Unacknowledged payloads are also kept in memory (the byte bound keeps that in check), so the
 * sender never reads the disk back while running.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';

import { QueueFullError, ValidationError } from './errors';

const HEADER_BYTES = 16;
const SEGMENT_RE = /^seg-(\d{16})\.log$/;
/** A single frame may not be larger than this (guards recovery against a garbage length). */
const MAX_FRAME_PAYLOAD = 64 * 1024 * 1024;

/** Options of {@link Spool.open}. */
export interface SpoolOptions {
  /** Directory of the spool; created if missing. */
  dir: string;
  /** Bound on the bytes of unacknowledged records (frames included). Appends past it are refused. */
  maxBytes: number;
  /** Segment size before rolling over to a new file. Default 4 MiB. */
  segmentBytes?: number;
  /** fdatasync each group commit (default true). */
  fsync?: boolean;
  /** How long an acknowledgement may wait before the checkpoint is written. Default 200 ms. */
  checkpointDelayMs?: number;
}

/** One unacknowledged record. */
export interface SpoolEntry {
  seq: number;
  data: Buffer;
}

/** What recovery found, for logs and tests. */
export interface SpoolRecovery {
  /** Unacknowledged records handed back. */
  records: number;
  /** Bytes cut off torn or corrupt segment tails. */
  truncatedBytes: number;
  /** Segments with a bad frame. */
  damagedSegments: number;
}

interface Segment {
  firstSeq: number;
  lastSeq: number;
  file: string;
  size: number;
}

interface Waiter {
  frame: Buffer;
  seq: number;
  resolve: (seq: number) => void;
  reject: (err: Error) => void;
}

const openDirs = new Set<string>();

/** Frames checked per turn of the event loop while recovering. */
const RECOVERY_SLICE_FRAMES = 2048;

function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function segName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, '0')}.log`;
}

function frame(seq: number, data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + data.length);
  out.writeUInt32BE(data.length, 0);
  out.writeBigUInt64BE(BigInt(seq), 8);
  data.copy(out, HEADER_BYTES);
  out.writeUInt32BE(crc32(out.subarray(8)), 4);
  return out;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

async function fsyncDir(dir: string): Promise<void> {
  // Directory fsync makes creations and renames durable; not supported everywhere (Windows).
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(dir, 'r');
    await fh.sync();
  } catch {
    // Best effort.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/**
 * The spool. Open with {@link Spool.open}; append, list what recovery handed back with
 * {@link Spool.seqs} and read it with {@link Spool.get}, acknowledge with {@link Spool.ack}
 * (O(1) each: records live in an insertion-ordered Map), close on shutdown.
 */
export class Spool {
  /** What the last recovery found. */
  recovery: SpoolRecovery = { records: 0, truncatedBytes: 0, damagedSegments: 0 };

  private readonly entries = new Map<number, Buffer>();
  private readonly segments: Segment[] = [];
  private readonly ackedAbove = new Set<number>();
  private through = 0;
  private nextSeq = 1;
  private unackedBytes = 0;
  private active: { seg: Segment; fh: fs.FileHandle } | undefined;
  private batch: Waiter[] = [];
  private flushing: Promise<void> | undefined;
  private flushScheduled = false;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private checkpointing: Promise<void> | undefined;
  private checkpointDirty = false;
  private closed = false;
  private readonly segmentBytes: number;
  private readonly fsync: boolean;
  private readonly checkpointDelayMs: number;

  private constructor(private readonly options: SpoolOptions) {
    this.segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024;
    this.fsync = options.fsync !== false;
    this.checkpointDelayMs = options.checkpointDelayMs ?? 200;
  }

  /** Opens (creating or recovering) the spool in `options.dir`. */
  static async open(options: SpoolOptions): Promise<Spool> {
    if (typeof options.dir !== 'string' || options.dir === '') {
      throw new ValidationError('The outbox needs a directory', 'INVALID_CONFIG');
    }
    if (!Number.isFinite(options.maxBytes) || options.maxBytes <= 0) {
      throw new ValidationError('The outbox size bound must be a positive number of bytes', 'INVALID_CONFIG');
    }
    const dir = path.resolve(options.dir);
    if (openDirs.has(dir)) {
      throw new ValidationError(
        `The outbox directory ${dir} is already open in this process`,
        'INVALID_CONFIG',
      );
    }
    openDirs.add(dir);
    const spool = new Spool({ ...options, dir });
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      await spool.lock();
      await spool.recover();
    } catch (err) {
      openDirs.delete(dir);
      throw err;
    }
    return spool;
  }

  /** Unacknowledged records. */
  get depth(): number {
    return this.entries.size;
  }

  /** Bytes of unacknowledged records (frames included). */
  get bytes(): number {
    return this.unackedBytes;
  }

  get maxBytes(): number {
    return this.options.maxBytes;
  }

  /**
   * The seqs of unacknowledged records in spool order: a snapshot of numbers, for a sender that
   * builds its own index at open (then reads payloads with {@link Spool.get}).
   */
  seqs(): number[] {
    return Array.from(this.entries.keys());
  }

  /** Unacknowledged records in spool order (a copy of all of them: for tests and tools). */
  pending(): SpoolEntry[] {
    const out: SpoolEntry[] = [];
    for (const [seq, data] of this.entries) out.push({ seq, data });
    return out;
  }

  /** The payload of an unacknowledged record. */
  get(seq: number): Buffer | undefined {
    return this.entries.get(seq);
  }

  /**
   * Appends one record. Resolves with its seq once it is on disk (after the group commit's
   * fsync); rejects with QueueFullError when it would pass `maxBytes` (nothing is evicted),
   * or with the I/O error.
   */
  append(data: Buffer): Promise<number> {
    if (this.closed) return Promise.reject(new ValidationError('The outbox is closed', 'INVALID_CONFIG'));
    const size = HEADER_BYTES + data.length;
    if (data.length > MAX_FRAME_PAYLOAD || this.unackedBytes + size > this.options.maxBytes) {
      return Promise.reject(
        new QueueFullError(
          `The outbox is full (${this.unackedBytes} of ${this.options.maxBytes} bytes used); this message was not stored`,
        ),
      );
    }
    const seq = this.nextSeq++;
    const f = frame(seq, data);
    // Counted (and kept) now so the bound holds for appends waiting on the same commit.
    this.entries.set(seq, data);
    this.unackedBytes += size;
    return new Promise<number>((resolve, reject) => {
      this.batch.push({ frame: f, seq, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          void this.flush();
        });
      }
    });
  }

  /** Marks a record delivered. Persisted with the next checkpoint. */
  ack(seq: number): void {
    const data = this.entries.get(seq);
    if (data === undefined) return;
    this.entries.delete(seq);
    this.unackedBytes -= HEADER_BYTES + data.length;
    this.settleSeq(seq);
    // Nothing left at all: everything up to the last appended seq is acknowledged.
    if (this.entries.size === 0 && this.batch.length === 0 && !this.flushing) {
      this.through = Math.max(this.through, this.nextSeq - 1);
      this.ackedAbove.clear();
    }
    this.checkpointDirty = true;
    if (this.checkpointTimer === undefined && !this.closed) {
      this.checkpointTimer = setTimeout(() => {
        this.checkpointTimer = undefined;
        void this.checkpoint().catch(() => undefined);
      }, this.checkpointDelayMs);
      this.checkpointTimer.unref?.();
    }
  }

  /**
   * Moves the checkpoint past `seq` (acknowledged, or never stored): `through` advances over
   * consecutive seqs, later ones wait in `ackedAbove`. A seq left out here would pin `through`
   * forever and grow every checkpoint after it.
   */
  private settleSeq(seq: number): void {
    if (seq === this.through + 1) {
      this.through = seq;
      while (this.ackedAbove.delete(this.through + 1)) this.through++;
    } else if (seq > this.through) {
      this.ackedAbove.add(seq);
    }
  }

  /** Writes pending appends and the checkpoint, then closes the files and the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.checkpointTimer) clearTimeout(this.checkpointTimer);
    this.checkpointTimer = undefined;
    try {
      while (this.flushing || this.batch.length > 0) await (this.flushing ?? this.flush());
      await this.checkpoint();
    } finally {
      await this.active?.fh.close().catch(() => undefined);
      this.active = undefined;
      await fs.rm(path.join(this.options.dir, 'lock'), { force: true });
      openDirs.delete(this.options.dir);
    }
  }

  // ---------------------------------------------------------------------------------------------

  private async lock(): Promise<void> {
    const file = path.join(this.options.dir, 'lock');
    try {
      const pid = Number((await fs.readFile(file, 'utf8')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new ValidationError(
          `The outbox directory ${this.options.dir} is in use by process ${pid}`,
          'INVALID_CONFIG',
        );
      }
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
    }
    await fs.writeFile(file, String(process.pid), { mode: 0o600 });
  }

  private async recover(): Promise<void> {
    const dir = this.options.dir;
    try {
      const cp = JSON.parse(await fs.readFile(path.join(dir, 'checkpoint'), 'utf8')) as {
        through?: unknown;
        acked?: unknown;
      };
      if (typeof cp.through === 'number' && Number.isSafeInteger(cp.through)) this.through = cp.through;
      if (Array.isArray(cp.acked)) {
        for (const s of cp.acked) if (typeof s === 'number' && s > this.through) this.ackedAbove.add(s);
      }
    } catch {
      // No checkpoint (or a torn temporary one never renamed): nothing acknowledged yet.
    }
    const names = (await fs.readdir(dir)).filter((n) => SEGMENT_RE.test(n)).sort();
    let maxSeq = this.through;
    let records = 0;
    let ascending = true;
    let lastKept = 0;
    for (const name of names) {
      const file = path.join(dir, name);
      const buf = await fs.readFile(file);
      let off = 0;
      let last = 0;
      let bad = false;
      const firstSeq = Number(SEGMENT_RE.exec(name)![1]);
      let frames = 0;
      while (off < buf.length) {
        // A full segment is tens of thousands of frames: let the event loop breathe between slices.
        if (++frames % RECOVERY_SLICE_FRAMES === 0) await yieldTurn();
        if (off + HEADER_BYTES > buf.length) {
          bad = true;
          break;
        }
        const len = buf.readUInt32BE(off);
        const end = off + HEADER_BYTES + len;
        if (len > MAX_FRAME_PAYLOAD || end > buf.length) {
          bad = true;
          break;
        }
        if (crc32(buf.subarray(off + 8, end)) !== buf.readUInt32BE(off + 4)) {
          bad = true;
          break;
        }
        const seq = Number(buf.readBigUInt64BE(off + 8));
        if (seq <= last) {
          bad = true;
          break;
        }
        last = seq;
        if (seq > this.through && !this.ackedAbove.has(seq)) {
          const data = Buffer.from(buf.subarray(off + HEADER_BYTES, end));
          if (!this.entries.has(seq)) {
            if (seq < lastKept) ascending = false;
            lastKept = seq;
            this.entries.set(seq, data);
            this.unackedBytes += HEADER_BYTES + len;
            records++;
          }
        }
        if (seq > maxSeq) maxSeq = seq;
        off = end;
      }
      if (bad) {
        this.recovery.damagedSegments++;
        this.recovery.truncatedBytes += buf.length - off;
        await fs.truncate(file, off);
      }
      if (off === 0) {
        // Empty (created just before a crash, or cut to nothing): a new segment may reuse its name.
        await fs.rm(file, { force: true });
        continue;
      }
      this.segments.push({ firstSeq, lastSeq: last, file, size: off });
    }
    // Segments are read in name (first seq) order, records come out in seq order from the Map
    // only if inserted in order: re-sort once in case a damaged middle segment shuffled them.
    if (!ascending) {
      const sorted = [...this.entries.entries()].sort((a, b) => a[0] - b[0]);
      this.entries.clear();
      for (const [s, d] of sorted) this.entries.set(s, d);
    }
    this.nextSeq = maxSeq + 1;
    this.recovery.records = records;
    await this.deleteAckedSegments();
  }

  private async openSegment(firstSeq: number): Promise<void> {
    const file = path.join(this.options.dir, segName(firstSeq));
    const fh = await fs.open(file, 'a', 0o600);
    const seg: Segment = { firstSeq, lastSeq: firstSeq - 1, file, size: (await fh.stat()).size };
    this.segments.push(seg);
    this.active = { seg, fh };
    if (this.fsync) await fsyncDir(this.options.dir);
  }

  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.batch.length === 0) return Promise.resolve();
    this.flushing = this.doFlush().finally(() => {
      this.flushing = undefined;
      if (this.batch.length > 0 && !this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          void this.flush();
        });
      }
    });
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    try {
      if (!this.active || this.active.seg.size >= this.segmentBytes) {
        if (this.active) await this.active.fh.close();
        this.active = undefined;
        // The new segment is named after the first seq it will hold.
        await this.openSegment(batch[0]!.seq);
      }
      const { seg, fh } = this.active!;
      const data = batch.length === 1 ? batch[0]!.frame : Buffer.concat(batch.map((w) => w.frame));
      let written = 0;
      while (written < data.length) {
        const r = await fh.write(data, written, data.length - written);
        written += r.bytesWritten;
      }
      if (this.fsync) await fh.datasync();
      seg.size += data.length;
      seg.lastSeq = batch[batch.length - 1]!.seq;
      for (const w of batch) w.resolve(w.seq);
    } catch (err) {
      // Not durable: take the records back out and tell each caller.
      for (const w of batch) {
        const d = this.entries.get(w.seq);
        if (d !== undefined) {
          this.entries.delete(w.seq);
          this.unackedBytes -= HEADER_BYTES + d.length;
        }
        // Never confirmed, so never to be sent: settled like an acknowledged seq.
        this.settleSeq(w.seq);
        w.reject(err as Error);
      }
      // The segment may now end in a partial frame; start a fresh one next time.
      await this.active?.fh.close().catch(() => undefined);
      this.active = undefined;
    }
  }

  private checkpoint(): Promise<void> {
    if (this.checkpointing) {
      return this.checkpointing.then(() => (this.checkpointDirty ? this.checkpoint() : undefined));
    }
    if (!this.checkpointDirty) return Promise.resolve();
    this.checkpointDirty = false;
    this.checkpointing = this.writeCheckpoint().finally(() => {
      this.checkpointing = undefined;
    });
    return this.checkpointing;
  }

  private async writeCheckpoint(): Promise<void> {
    const dir = this.options.dir;
    const tmp = path.join(dir, 'checkpoint.tmp');
    const body = JSON.stringify({ through: this.through, acked: [...this.ackedAbove].sort((a, b) => a - b) });
    const fh = await fs.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(body);
      if (this.fsync) await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, path.join(dir, 'checkpoint'));
    if (this.fsync) await fsyncDir(dir);
    await this.deleteAckedSegments();
  }

  /** Deletes non-active segments whose records are all covered by the checkpoint. */
  private async deleteAckedSegments(): Promise<void> {
    for (let i = 0; i < this.segments.length;) {
      const seg = this.segments[i]!;
      if (seg !== this.active?.seg && seg.lastSeq <= this.through) {
        await fs.rm(seg.file, { force: true });
        this.segments.splice(i, 1);
      } else {
        i++;
      }
    }
  }
}
