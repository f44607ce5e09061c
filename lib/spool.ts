// SPDX-License-Identifier: Apache-2.0
/**
 * A small crash-safe, append-only spool (the producer's durable outbox).
 *
 * Layout of `dir`:
 * - `seg-<firstSeq>.log`: segments of framed records, rolled over at `segmentBytes`, named after
 *   the lowest seq they may hold. A segment starts with a 32-byte header, two copies of
 *   `"ESSPOOL2" | u32 salt | u32 crc32`; a frame is
 *   `u32 magic E5 5F 0F A7 | u32 length | u64 seq | u32 crc32 | payload` (big-endian), whose CRC
 *   covers length, seq and payload and starts from the segment's random salt. The magic makes
 *   frames self-delimiting: recovery resyncs past a damaged region by looking for the next magic
 *   whose frame checks out. The salt means a record whose payload happens to contain a well-formed
 *   frame (a user can send any bytes) is never mistaken for a frame of this spool: its CRC would
 *   need the salt, which never leaves the disk. Segments written by earlier versions (no header:
 *   `u32 length | u32 crc32 | u64 seq | payload`) are still read, and rewritten in this format
 *   only if damaged.
 * - `checkpoint2`: two fixed 32 KiB slots written in place, alternately, each
 *   `u32 magic | u32 length | u64 generation | u32 crc32 | JSON`; recovery takes the valid slot of
 *   the highest generation. The JSON is `{"through":N,"appended":A,"acked":[[from,to],...]}`: every
 *   seq ≤ N is settled (delivered, dropped, lost or never stored), `acked` lists settled runs
 *   above N (acks arrive out of order across keys), and A is the highest seq known durable. The
 *   file is allocated once, when the spool is created, so writing a checkpoint never needs new
 *   disk space: a full disk cannot keep a drained outbox from recording that it is drained. (A
 *   copy-on-write file system, btrfs or ZFS, may still need space for an in-place write.) The JSON
 *   `checkpoint` of earlier versions is read once and removed.
 * - `lock`: `{"pid","start","boot"}` of the process that has the spool open (see {@link Spool.open}).
 * - `reserve`: 16 KiB kept aside, given up when the lock cannot be created on a full disk (so a
 *   restart on a full disk still opens and drains), made again after the next checkpoint.
 *
 * Durability: appends made in the same tick are written with one write and one fdatasync
 * ("group commit"); {@link Spool.append} resolves only after that sync, so a record whose append
 * resolved survives `kill -9` and power loss (as far as the disk honours fsync). Seqs are given
 * out at write time, so a write that fails (a full disk, an I/O error) is cut back off the
 * segment and its seqs are reused: a record whose append was rejected never reaches the disk in
 * a form recovery would send. If even the cut fails, its seqs are written to the checkpoint as
 * settled before anything else is appended (until that succeeds every append is refused).
 *
 * Acknowledgements are persisted lazily: the checkpoint is written {@link SpoolOptions.checkpointDelayMs}
 * after an acknowledgement, or at once when {@link CHECKPOINT_ACKS} are waiting; so after a crash
 * the records acknowledged since the last durable checkpoint are handed out again
 * ({@link Spool.uncheckpointedAcks} says how many that is now; the outbox bounds it).
 *
 * Recovery reads every segment frame by frame. A damaged region (bad magic, length, CRC or seq
 * order) is skipped up to the next good frame; every intact record is kept. The records the
 * region held are counted from the seqs around it (the next good frame, the next segment's name
 * or, at the very end, the checkpoint's `appended`) and reported in {@link Spool.recovery}
 * (`lost`, with byte offsets). A damaged segment is then rewritten without the damage and the
 * lost seqs settled in the checkpoint, so the loss is reported once, not on every start. A torn
 * tail past the last seq known durable is the write a crash interrupted (its appends never
 * resolved): cut off and counted in `tornBytes`, not as lost. Segments whose records are all
 * settled are deleted, before the checkpoint is written, so space comes back first.
 *
 * Unacknowledged payloads are also kept in memory (the byte bound keeps that in check), so the
 * sender never reads the disk back while running.
 * Over 500 lines because the segment log, its recovery, the checkpoint and the lock share one
 * on-disk format and its invariants; apart, each would need the others' internals.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';

import { type ErrorCode, OutboxStorageError, QueueFullError, ValidationError } from './errors';

const SEGMENT_RE = /^seg-(\d{16})\.log$/;
/** A single frame may not be larger than this (guards recovery against a garbage length). */
const MAX_FRAME_PAYLOAD = 64 * 1024 * 1024;

const SEG_MAGIC = Buffer.from('ESSPOOL2', 'latin1');
const SEG_HEADER_COPY = 16;
const SEG_HEADER_BYTES = 2 * SEG_HEADER_COPY;
const FRAME_MAGIC = Buffer.from([0xe5, 0x5f, 0x0f, 0xa7]);
const FRAME_MAGIC_U32 = FRAME_MAGIC.readUInt32BE(0);
const FRAME_HEADER = 20;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
/** Frames of segments written before the format had a magic and a salt. */
const LEGACY_FRAME_HEADER = 16;

const CHECKPOINT_FILE = 'checkpoint2';
const LEGACY_CHECKPOINT_FILE = 'checkpoint';
const SLOT_BYTES = 32 * 1024;
const SLOT_HEADER = 20;
const SLOT_MAGIC = 0x45534350; // "ESCP"

/** A checkpoint is written at once when this many acknowledgements wait for one. */
export const CHECKPOINT_ACKS = 256;

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

/** A damaged region of a segment found by recovery. */
export interface SpoolDamage {
  segment: string;
  /** Byte offsets in the segment as found: [start, end). */
  start: number;
  end: number;
  /** Records the region held that were neither delivered nor dropped (lost). */
  lost: number;
}

/** What recovery found, for logs, the status and tests. */
export interface SpoolRecovery {
  /** Unacknowledged records handed back. */
  records: number;
  /** Records that were durably stored and not yet delivered, lost to damage. */
  lost: number;
  /** Where: one entry per damaged region (bounded: the first 100). */
  damage: SpoolDamage[];
  /** Bytes of damaged regions, torn tails included. */
  truncatedBytes: number;
  /** Bytes of a torn last write (a crash mid-append; those appends never resolved). */
  tornBytes: number;
  /** Segments with a damaged region or torn tail. */
  damagedSegments: number;
  /** Damaged segments that could not be rewritten (they are reported again at the next open). */
  rewriteFailures: number;
}

interface Segment {
  firstSeq: number;
  lastSeq: number;
  file: string;
  size: number;
  salt: number;
}

interface Waiter {
  data: Buffer;
  resolve: (seq: number) => void;
  reject: (err: Error) => void;
}

interface Region {
  start: number;
  end: number;
  /** The last intact seq before it (or the segment's first seq - 1). */
  prev: number;
  /** The first intact seq after it in the same segment, if any. */
  next: number | undefined;
}

interface ScannedSegment {
  name: string;
  file: string;
  firstSeq: number;
  size: number;
  salt: number;
  legacy: boolean;
  frames: Array<{ seq: number; data: Buffer }>;
  regions: Region[];
}

const openDirs = new Set<string>();

/** Frames checked per turn of the event loop while recovering. */
const RECOVERY_SLICE_FRAMES = 2048;
const MAX_DAMAGE_ENTRIES = 100;

function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function segName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, '0')}.log`;
}

function segHeader(salt: number): Buffer {
  const copy = Buffer.alloc(SEG_HEADER_COPY);
  SEG_MAGIC.copy(copy, 0);
  copy.writeUInt32BE(salt, 8);
  copy.writeUInt32BE(crc32(copy.subarray(0, 12)), 12);
  return Buffer.concat([copy, copy]);
}

function frame(salt: number, seq: number, data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER + data.length);
  out.writeUInt32BE(FRAME_MAGIC_U32, 0);
  out.writeUInt32BE(data.length, 4);
  out.writeBigUInt64BE(BigInt(seq), 8);
  data.copy(out, FRAME_HEADER);
  out.writeUInt32BE(crc32(data, crc32(out.subarray(4, 16), salt)), 16);
  return out;
}

/** The frame at `off` if it is intact and its seq follows `last`. */
function parseFrame(
  buf: Buffer,
  off: number,
  salt: number,
  last: number,
): { seq: number; end: number } | undefined {
  if (off + FRAME_HEADER > buf.length || buf.readUInt32BE(off) !== FRAME_MAGIC_U32) return undefined;
  const len = buf.readUInt32BE(off + 4);
  const end = off + FRAME_HEADER + len;
  if (len > MAX_FRAME_PAYLOAD || end > buf.length) return undefined;
  const big = buf.readBigUInt64BE(off + 8);
  if (big > MAX_SAFE_BIG) return undefined;
  const seq = Number(big);
  if (seq <= last) return undefined;
  const crc = crc32(buf.subarray(off + FRAME_HEADER, end), crc32(buf.subarray(off + 4, off + 16), salt));
  if (crc !== buf.readUInt32BE(off + 16)) return undefined;
  return { seq, end };
}

/**
 * The segment's salt: from the first header copy whose CRC holds, else (both damaged) the
 * candidate that makes the first frame check out.
 */
function readSalt(buf: Buffer): number | undefined {
  const candidates: number[] = [];
  for (let c = 0; c < 2; c++) {
    const at = c * SEG_HEADER_COPY;
    if (buf.length < at + SEG_HEADER_COPY) break;
    const salt = buf.readUInt32BE(at + 8);
    if (crc32(buf.subarray(at, at + 12)) === buf.readUInt32BE(at + 12)) return salt;
    candidates.push(salt);
  }
  const first = buf.indexOf(FRAME_MAGIC, SEG_HEADER_BYTES);
  if (first < 0) return candidates[0];
  for (const salt of candidates) if (parseFrame(buf, first, salt, 0)) return salt;
  return candidates[0];
}

function isV2(buf: Buffer): boolean {
  // Either header copy's magic is enough (a flipped bit may have hit the other one); a legacy
  // segment starts with a frame length, never with these bytes (it would be over 1 GB).
  return (
    buf.length >= 8 &&
    (buf.subarray(0, 8).equals(SEG_MAGIC) ||
      (buf.length >= SEG_HEADER_COPY + 8 &&
        buf.subarray(SEG_HEADER_COPY, SEG_HEADER_COPY + 8).equals(SEG_MAGIC)))
  );
}

function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A file-system failure as the outbox reports it: OUTBOX_FULL for a full disk, else OUTBOX_IO. */
export function storageError(err: unknown, dir: string, what: string, record = false): OutboxStorageError {
  if (err instanceof OutboxStorageError) return err;
  const errno = errnoOf(err) ?? 'EIO';
  const full = errno === 'ENOSPC' || errno === 'EDQUOT' || errno === 'EFBIG';
  const code: ErrorCode = full ? 'OUTBOX_FULL' : 'OUTBOX_IO';
  const tail = record ? '; this message was not stored' : '';
  return new OutboxStorageError(
    full
      ? `The outbox's disk is full (${errno} ${what} in ${dir})${tail}`
      : `The outbox's disk failed (${errno} ${what} in ${dir})${tail}`,
    code,
    { cause: err },
  );
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

async function writeAll(fh: fs.FileHandle, data: Buffer, position?: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const r = await fh.write(
      data,
      written,
      data.length - written,
      position === undefined ? null : position + written,
    );
    written += r.bytesWritten;
  }
}

// ---- lock identity ------------------------------------------------------------------------------

/** Who holds (or held) a lock: pid plus, where the OS tells, the process's start time and boot id. */
export interface LockOwner {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot): a reused pid has another. */
  start?: string;
  /** /proc/sys/kernel/random/boot_id: pids and start times only mean something within one boot. */
  boot?: string;
}

/** Start time of a process (Linux), or undefined where /proc does not say. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself contain spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

let cachedBootId: string | null | undefined;
export function bootId(): string | undefined {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      cachedBootId = null;
    }
  }
  return cachedBootId ?? undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === 'EPERM';
  }
}

function self(): LockOwner {
  const start = processStartTime(process.pid);
  const boot = bootId();
  return { pid: process.pid, ...(start ? { start } : {}), ...(boot ? { boot } : {}) };
}

/** Parses a lock file's content: ours (JSON) or an earlier version's (a bare pid). */
function parseOwner(text: string): LockOwner | undefined {
  const t = text.trim();
  if (/^\d{1,10}$/.test(t)) return { pid: Number(t) };
  try {
    const o = JSON.parse(t) as Record<string, unknown>;
    if (typeof o.pid !== 'number' || !Number.isInteger(o.pid) || o.pid <= 0) return undefined;
    return {
      pid: o.pid,
      ...(typeof o.start === 'string' ? { start: o.start } : {}),
      ...(typeof o.boot === 'string' ? { boot: o.boot } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Whether the process a lock names still holds it: same boot, pid alive, same start time. A lock
 * of an earlier version (a bare pid) written before this boot is stale whatever its pid.
 */
export function ownerIsLive(owner: LockOwner | undefined, mtimeMs: number): boolean {
  if (!owner) return false;
  const boot = bootId();
  if (owner.boot !== undefined && boot !== undefined && owner.boot !== boot) return false;
  if (owner.boot === undefined && mtimeMs < Date.now() - os.uptime() * 1000 - 1000) return false;
  if (!isAlive(owner.pid)) return false;
  if (owner.start !== undefined) {
    const start = processStartTime(owner.pid);
    if (start !== undefined && start !== owner.start) return false;
  }
  if (owner.pid === process.pid) {
    // Ours, from an open in this process that never closed (the in-process guard is openDirs).
    return false;
  }
  return true;
}

function uniqueSuffix(): string {
  return `${process.pid}-${randomBytes(6).toString('hex')}`;
}

const RESERVE_FILE = 'reserve';
/** Space kept aside so that the lock can be created on a full disk (the backlog must still drain). */
const RESERVE_BYTES = 16 * 1024;

/** Writes a small file; on a full disk, gives up the reserve once and tries again. */
async function writeSmall(dir: string, file: string, body: string): Promise<void> {
  try {
    await fs.writeFile(file, body, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = errnoOf(err);
    if (code !== 'ENOSPC' && code !== 'EDQUOT') throw err;
    await fs.rm(file, { force: true });
    try {
      await fs.unlink(path.join(dir, RESERVE_FILE));
    } catch {
      throw err; // no reserve left to give up
    }
    await fs.writeFile(file, body, { mode: 0o600, flag: 'wx' });
  }
}

/** Writes `body` to `file` so that it appears complete or not at all (temporary file, rename). */
async function writeAtomically(dir: string, file: string, body: string): Promise<void> {
  const tmp = path.join(dir, `lock.tmp-${uniqueSuffix()}`);
  try {
    await writeSmall(dir, tmp, body);
    await fs.rename(tmp, file);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

async function readOwner(
  file: string,
): Promise<{ body: string; owner: LockOwner | undefined; mtimeMs: number }> {
  const [body, st] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
  return { body, owner: parseOwner(body), mtimeMs: st.mtimeMs };
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- checkpoint encoding ------------------------------------------------------------------------

interface CheckpointState {
  through: number;
  appended: number;
  acked: number[];
}

function encodeRanges(sorted: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s === last[1] + 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

function decodeCheckpoint(json: unknown): CheckpointState | undefined {
  const cp = json as { through?: unknown; appended?: unknown; acked?: unknown } | null;
  if (!cp || typeof cp.through !== 'number' || !Number.isSafeInteger(cp.through)) return undefined;
  const acked: number[] = [];
  if (Array.isArray(cp.acked)) {
    for (const a of cp.acked) {
      if (typeof a === 'number') acked.push(a);
      else if (Array.isArray(a) && typeof a[0] === 'number' && typeof a[1] === 'number') {
        for (let s = a[0]; s <= a[1] && s - a[0] < 10_000_000; s++) acked.push(s);
      }
    }
  }
  const appended = typeof cp.appended === 'number' && Number.isSafeInteger(cp.appended) ? cp.appended : 0;
  return { through: cp.through, appended, acked };
}

function readSlot(buf: Buffer, at: number): { gen: bigint; state: CheckpointState } | undefined {
  if (buf.length < at + SLOT_HEADER || buf.readUInt32BE(at) !== SLOT_MAGIC) return undefined;
  const len = buf.readUInt32BE(at + 4);
  if (len > SLOT_BYTES - SLOT_HEADER || at + SLOT_HEADER + len > buf.length) return undefined;
  const body = buf.subarray(at + SLOT_HEADER, at + SLOT_HEADER + len);
  const crc = crc32(body, crc32(buf.subarray(at + 4, at + 16)));
  if (crc !== buf.readUInt32BE(at + 16)) return undefined;
  try {
    const state = decodeCheckpoint(JSON.parse(body.toString('utf8')));
    return state ? { gen: buf.readBigUInt64BE(at + 8), state } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The spool. Open with {@link Spool.open}; append, list what recovery handed back with
 * {@link Spool.seqs} and read it with {@link Spool.get}, acknowledge with {@link Spool.ack}
 * (O(1) each: records live in an insertion-ordered Map), close on shutdown.
 */
export class Spool {
  /** What the last recovery found. */
  recovery: SpoolRecovery = {
    records: 0,
    lost: 0,
    damage: [],
    truncatedBytes: 0,
    tornBytes: 0,
    damagedSegments: 0,
    rewriteFailures: 0,
  };

  private readonly entries = new Map<number, Buffer>();
  private readonly segments: Segment[] = [];
  private readonly ackedAbove = new Set<number>();
  private through = 0;
  private nextSeq = 1;
  /** Highest seq whose write was synced. */
  private durableSeq = 0;
  private unackedBytes = 0;
  /** Bytes of appends waiting for their group commit. */
  private pendingBytes = 0;
  private active: { seg: Segment; fh: fs.FileHandle } | undefined;
  private batch: Waiter[] = [];
  private flushing: Promise<void> | undefined;
  private flushScheduled = false;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private checkpointing: Promise<void> | undefined;
  private checkpointDirty = false;
  /** Seqs of a failed write that could not be cut off: the checkpoint must settle them first. */
  private mustCheckpoint = false;
  private acksSinceCheckpoint = 0;
  private checkpointFh: fs.FileHandle | undefined;
  private checkpointGen = 0n;
  private lockBody: string | undefined;
  private hasReserve = false;
  private closed = false;
  private readonly segmentBytes: number;
  private readonly fsync: boolean;
  private readonly checkpointDelayMs: number;

  private constructor(private readonly options: SpoolOptions) {
    this.segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024;
    this.fsync = options.fsync !== false;
    this.checkpointDelayMs = options.checkpointDelayMs ?? 200;
  }

  /**
   * Opens (creating or recovering) the spool in `options.dir`.
   *
   * One process per directory: the lock file is created exclusively (a complete file linked into
   * place, so no opener ever sees it half written). A lock naming a process that is gone, or a
   * live pid whose start time or boot id differ (the pid was reused after a restart), is stale
   * and taken over; takers first register in `lock.takeover-*` files and proceed only when no
   * other live taker is registered, so two openers never both win.
   */
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
      await spool.checkpointFh?.close().catch(() => undefined);
      await spool.unlock();
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

  /** Acknowledgements not yet covered by a durable checkpoint (sent again after a crash). */
  get uncheckpointedAcks(): number {
    return this.acksSinceCheckpoint;
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
   * or with OUTBOX_FULL / OUTBOX_IO when the disk refuses it (then nothing of it is kept).
   */
  append(data: Buffer): Promise<number> {
    if (this.closed) return Promise.reject(new ValidationError('The outbox is closed', 'INVALID_CONFIG'));
    const size = FRAME_HEADER + data.length;
    if (
      data.length > MAX_FRAME_PAYLOAD ||
      this.unackedBytes + this.pendingBytes + size > this.options.maxBytes
    ) {
      return Promise.reject(
        new QueueFullError(
          `The outbox is full (${this.unackedBytes + this.pendingBytes} of ${this.options.maxBytes} bytes used); this message was not stored`,
        ),
      );
    }
    // Counted now so the bound holds for appends waiting on the same commit.
    this.pendingBytes += size;
    return new Promise<number>((resolve, reject) => {
      this.batch.push({ data, resolve, reject });
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
    this.unackedBytes -= FRAME_HEADER + data.length;
    this.settleSeq(seq);
    // Nothing left at all: everything up to the last appended seq is acknowledged.
    if (this.entries.size === 0 && this.batch.length === 0 && !this.flushing) {
      this.through = Math.max(this.through, this.nextSeq - 1);
      this.ackedAbove.clear();
    }
    this.acksSinceCheckpoint++;
    this.checkpointDirty = true;
    if (this.acksSinceCheckpoint >= CHECKPOINT_ACKS && !this.closed) {
      if (this.checkpointTimer) clearTimeout(this.checkpointTimer);
      this.checkpointTimer = undefined;
      if (!this.checkpointing) void this.checkpoint().catch(() => undefined);
      return;
    }
    this.scheduleCheckpoint();
  }

  /** Writes the checkpoint now (and whatever it covers); resolves even if it failed. */
  async flushCheckpoint(): Promise<boolean> {
    try {
      await this.checkpoint();
      return true;
    } catch {
      return false;
    }
  }

  private scheduleCheckpoint(): void {
    if (this.checkpointTimer === undefined && !this.closed) {
      this.checkpointTimer = setTimeout(() => {
        this.checkpointTimer = undefined;
        void this.checkpoint().catch(() => undefined);
      }, this.checkpointDelayMs);
      this.checkpointTimer.unref?.();
    }
  }

  /**
   * Moves the checkpoint past `seq` (acknowledged, lost, or never stored): `through` advances
   * over consecutive seqs, later ones wait in `ackedAbove`. A seq left out here would pin
   * `through` forever and grow every checkpoint after it.
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
      this.checkpointDirty = true;
      await this.checkpoint();
    } finally {
      await this.active?.fh.close().catch(() => undefined);
      this.active = undefined;
      await this.checkpointFh?.close().catch(() => undefined);
      this.checkpointFh = undefined;
      await this.unlock();
      openDirs.delete(this.options.dir);
    }
  }

  // ---- lock -------------------------------------------------------------------------------------

  private async lock(): Promise<void> {
    const dir = this.options.dir;
    const file = path.join(dir, 'lock');
    const body = JSON.stringify(self());
    const deadline = Date.now() + 10_000;
    for (let round = 0; ; round++) {
      // The lock appears complete or not at all: written aside, then linked (fails if present).
      const tmp = path.join(dir, `lock.tmp-${uniqueSuffix()}`);
      try {
        await writeSmall(dir, tmp, body);
        await fs.link(tmp, file);
        this.lockBody = body;
        return;
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw storageError(err, dir, 'creating the lock');
      } finally {
        await fs.rm(tmp, { force: true });
      }
      let held: Awaited<ReturnType<typeof readOwner>>;
      try {
        held = await readOwner(file);
      } catch (err) {
        if (errnoOf(err) === 'ENOENT') continue;
        throw storageError(err, dir, 'reading the lock');
      }
      if (ownerIsLive(held.owner, held.mtimeMs)) {
        throw new ValidationError(
          `The outbox directory ${dir} is in use by process ${held.owner!.pid}`,
          'INVALID_CONFIG',
        );
      }
      const took = await this.takeOver(file, held.body, body);
      if (took) {
        this.lockBody = body;
        return;
      }
      if (Date.now() > deadline) {
        throw new ValidationError(
          `The outbox directory ${dir} could not be locked: other processes keep competing for it`,
          'INVALID_CONFIG',
        );
      }
      // Back off by a random, growing delay so that competing takers stop colliding.
      await sleepMs(Math.random() * Math.min(200, 5 * 2 ** Math.min(round, 6)));
    }
  }

  /**
   * Replaces the stale lock whose content is `staleBody`, if this process is the only live taker
   * registered: registering before looking means that of two takers at least one sees the other.
   */
  private async takeOver(file: string, staleBody: string, body: string): Promise<boolean> {
    const dir = this.options.dir;
    const mine = `lock.takeover-${uniqueSuffix()}`;
    await writeAtomically(dir, path.join(dir, mine), body);
    try {
      for (const name of await fs.readdir(dir)) {
        if (!name.startsWith('lock.takeover-') || name === mine) continue;
        let other: Awaited<ReturnType<typeof readOwner>>;
        try {
          other = await readOwner(path.join(dir, name));
        } catch {
          continue; // gone meanwhile
        }
        if (ownerIsLive(other.owner, other.mtimeMs)) return false;
        // Its taker is dead: safe to remove, whoever does it.
        await fs.rm(path.join(dir, name), { force: true });
      }
      let current: string;
      try {
        current = await fs.readFile(file, 'utf8');
      } catch {
        return false; // removed meanwhile: the next round tries a fresh lock
      }
      if (current !== staleBody) return false;
      await fs.unlink(file);
      const tmp = path.join(dir, `lock.tmp-${uniqueSuffix()}`);
      try {
        await writeSmall(dir, tmp, body);
        await fs.link(tmp, file);
        return true;
      } catch (err) {
        if (errnoOf(err) === 'EEXIST') return false; // a fresh opener was quicker
        throw err;
      } finally {
        await fs.rm(tmp, { force: true });
      }
    } finally {
      await fs.rm(path.join(dir, mine), { force: true });
    }
  }

  private async unlock(): Promise<void> {
    if (this.lockBody === undefined) return;
    const file = path.join(this.options.dir, 'lock');
    try {
      if ((await fs.readFile(file, 'utf8')) === this.lockBody) await fs.rm(file, { force: true });
    } catch {
      // Gone already.
    }
    this.lockBody = undefined;
  }

  // ---- recovery ---------------------------------------------------------------------------------

  private async readCheckpoint(): Promise<CheckpointState | undefined> {
    const dir = this.options.dir;
    const file = path.join(dir, CHECKPOINT_FILE);
    let best: { gen: bigint; state: CheckpointState } | undefined;
    try {
      const buf = await fs.readFile(file);
      for (const at of [0, SLOT_BYTES]) {
        const slot = readSlot(buf, at);
        if (slot && (!best || slot.gen > best.gen)) best = slot;
      }
      this.checkpointGen = best?.gen ?? 0n;
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw storageError(err, dir, 'reading the checkpoint');
    }
    if (best) return best.state;
    try {
      return decodeCheckpoint(JSON.parse(await fs.readFile(path.join(dir, LEGACY_CHECKPOINT_FILE), 'utf8')));
    } catch {
      return undefined;
    }
  }

  /**
   * Removes what a crash may have left: temporary files of a rewrite or of the checkpoint file,
   * and lock candidates of processes that are gone (those of live openers are theirs).
   */
  private async sweepLeftovers(names: string[]): Promise<void> {
    for (const name of names) {
      const m = /^lock\.(?:tmp|takeover)-(\d+)-[0-9a-f]+$/.exec(name);
      const dead = m !== null && Number(m[1]) !== process.pid && !isAlive(Number(m[1]));
      const tmp =
        /^seg-\d{16}\.log\.tmp$/.test(name) ||
        name === `${CHECKPOINT_FILE}.tmp` ||
        name === `${RESERVE_FILE}.tmp`;
      if (dead || tmp) {
        await fs.rm(path.join(this.options.dir, name), { force: true });
      }
    }
  }

  /** Creates the checkpoint file at its full size once, so writing it later needs no new space. */
  private async openCheckpointFile(): Promise<void> {
    const dir = this.options.dir;
    const file = path.join(dir, CHECKPOINT_FILE);
    let size = -1;
    try {
      size = (await fs.stat(file)).size;
    } catch {
      // Absent.
    }
    if (size < 2 * SLOT_BYTES) {
      const tmp = path.join(dir, `${CHECKPOINT_FILE}.tmp`);
      try {
        const fh = await fs.open(tmp, 'w', 0o600);
        try {
          const old = size > 0 ? await fs.readFile(file) : Buffer.alloc(0);
          const init = Buffer.alloc(2 * SLOT_BYTES);
          old.copy(init, 0, 0, Math.min(old.length, init.length));
          await writeAll(fh, init, 0);
          if (this.fsync) await fh.sync();
        } finally {
          await fh.close();
        }
        await fs.rename(tmp, file);
        if (this.fsync) await fsyncDir(dir);
      } catch (err) {
        await fs.rm(tmp, { force: true });
        throw storageError(err, dir, 'creating the checkpoint file');
      }
    }
    this.checkpointFh = await fs.open(file, 'r+');
  }

  private async scanSegment(name: string): Promise<ScannedSegment> {
    const file = path.join(this.options.dir, name);
    const buf = await fs.readFile(file);
    const firstSeq = Number(SEGMENT_RE.exec(name)![1]);
    const out: ScannedSegment = {
      name,
      file,
      firstSeq,
      size: buf.length,
      salt: 0,
      legacy: false,
      frames: [],
      regions: [],
    };
    let last = firstSeq - 1;
    let steps = 0;
    if (buf.length > 0 && !isV2(buf)) {
      // An earlier version's segment: no magic to resync on, so it is read up to its first bad frame.
      out.legacy = true;
      let off = 0;
      while (off < buf.length) {
        if (++steps % RECOVERY_SLICE_FRAMES === 0) await yieldTurn();
        if (off + LEGACY_FRAME_HEADER > buf.length) break;
        const len = buf.readUInt32BE(off);
        const end = off + LEGACY_FRAME_HEADER + len;
        if (len > MAX_FRAME_PAYLOAD || end > buf.length) break;
        if (crc32(buf.subarray(off + 8, end)) !== buf.readUInt32BE(off + 4)) break;
        const seq = Number(buf.readBigUInt64BE(off + 8));
        if (seq <= last) break;
        out.frames.push({ seq, data: Buffer.from(buf.subarray(off + LEGACY_FRAME_HEADER, end)) });
        last = seq;
        off = end;
      }
      if (off < buf.length) out.regions.push({ start: off, end: buf.length, prev: last, next: undefined });
      return out;
    }
    if (buf.length < SEG_HEADER_BYTES) {
      // Created, and a crash came before its header was synced: no frame was ever confirmed in it.
      if (buf.length > 0) out.regions.push({ start: 0, end: buf.length, prev: last, next: undefined });
      return out;
    }
    out.salt = readSalt(buf) ?? 0;
    let off = SEG_HEADER_BYTES;
    let regionStart = -1;
    while (off < buf.length) {
      if (++steps % RECOVERY_SLICE_FRAMES === 0) await yieldTurn();
      const f = parseFrame(buf, off, out.salt, last);
      if (f) {
        if (regionStart >= 0) {
          out.regions.push({ start: regionStart, end: off, prev: last, next: f.seq });
          regionStart = -1;
        }
        out.frames.push({ seq: f.seq, data: Buffer.from(buf.subarray(off + FRAME_HEADER, f.end)) });
        last = f.seq;
        off = f.end;
        continue;
      }
      if (regionStart < 0) regionStart = off;
      const next = buf.indexOf(FRAME_MAGIC, off + 1);
      off = next < 0 ? buf.length : next;
    }
    if (regionStart >= 0)
      out.regions.push({ start: regionStart, end: buf.length, prev: last, next: undefined });
    return out;
  }

  private async recover(): Promise<void> {
    const dir = this.options.dir;
    const cp = await this.readCheckpoint();
    const settled = new Set<number>(cp?.acked ?? []);
    const cpThrough = cp?.through ?? 0;
    const isSettled = (s: number): boolean => s <= cpThrough || settled.has(s);
    const highWater = Math.max(cp?.appended ?? 0, cpThrough);

    const all = await fs.readdir(dir);
    await this.sweepLeftovers(all);
    const names = all.filter((n) => SEGMENT_RE.test(n)).sort();
    const scanned: ScannedSegment[] = [];
    for (const name of names) scanned.push(await this.scanSegment(name));

    let maxSeq = highWater;
    const lost: number[] = [];
    let ascending = true;
    let lastKept = 0;
    let steps = 0;
    for (let i = 0; i < scanned.length; i++) {
      const seg = scanned[i]!;
      for (const f of seg.frames) {
        if (++steps % RECOVERY_SLICE_FRAMES === 0) await yieldTurn();
        if (f.seq > maxSeq) maxSeq = f.seq;
        if (isSettled(f.seq) || this.entries.has(f.seq)) continue;
        if (f.seq < lastKept) ascending = false;
        lastKept = f.seq;
        this.entries.set(f.seq, f.data);
        this.unackedBytes += FRAME_HEADER + f.data.length;
      }
      if (seg.regions.length > 0) this.recovery.damagedSegments++;
      // A segment cut exactly at a frame boundary ends cleanly but short of the seqs that follow:
      // checked as an empty region at its end (which needs no rewrite).
      const regions = [...seg.regions];
      const tail = regions[regions.length - 1];
      if (!tail || tail.next !== undefined) {
        const lastFrame = seg.frames[seg.frames.length - 1];
        regions.push({
          start: seg.size,
          end: seg.size,
          prev: lastFrame ? lastFrame.seq : seg.firstSeq - 1,
          next: undefined,
        });
      }
      for (const r of regions) {
        this.recovery.truncatedBytes += r.end - r.start;
        // The seqs the region held lie between its neighbours; at the end of the last segment the
        // checkpoint's `appended` says how far confirmed appends reached.
        const isLast = i === scanned.length - 1;
        const bound = r.next ?? (isLast ? highWater + 1 : scanned[i + 1]!.firstSeq);
        let count = 0;
        for (let s = r.prev + 1; s < bound; s++) {
          if (!isSettled(s)) {
            lost.push(s);
            count++;
          }
        }
        if (r.next === undefined && isLast && count === 0) this.recovery.tornBytes += r.end - r.start;
        if (bound - 1 > maxSeq) maxSeq = bound - 1;
        if (r.start === r.end && count === 0) continue;
        if (r.start === r.end) this.recovery.damagedSegments++;
        if (this.recovery.damage.length < MAX_DAMAGE_ENTRIES) {
          this.recovery.damage.push({ segment: seg.name, start: r.start, end: r.end, lost: count });
        }
      }
    }
    this.recovery.lost = lost.length;

    // Segments come in seq order, so records normally do too; sort only if damage shuffled them.
    if (!ascending) {
      const sorted = [...this.entries.entries()].sort((a, b) => a[0] - b[0]);
      this.entries.clear();
      for (const [s, d] of sorted) this.entries.set(s, d);
    }
    this.recovery.records = this.entries.size;

    // Everything below the oldest pending record is settled; above it, what is not pending.
    this.nextSeq = maxSeq + 1;
    this.durableSeq = maxSeq;
    const oldest = this.entries.keys().next();
    this.through = oldest.done ? maxSeq : oldest.value - 1;
    for (let s = this.through + 1; s <= maxSeq; s++) {
      if (s % RECOVERY_SLICE_FRAMES === 0) await yieldTurn();
      if (!this.entries.has(s)) this.ackedAbove.add(s);
    }

    await this.openCheckpointFile();

    // Damaged segments are rewritten without the damage, so it is reported once.
    for (const seg of scanned) {
      let size = seg.size;
      let salt = seg.salt;
      let lastSeq = seg.frames.length > 0 ? seg.frames[seg.frames.length - 1]!.seq : seg.firstSeq - 1;
      if (seg.regions.length > 0) {
        const kept = seg.frames.filter((f) => this.entries.has(f.seq));
        if (kept.length === 0) {
          await fs.rm(seg.file, { force: true });
          continue;
        }
        try {
          salt = randomBytes(4).readUInt32BE(0);
          const parts = [segHeader(salt)];
          for (const f of kept) {
            if (parts.length % RECOVERY_SLICE_FRAMES === 0) await yieldTurn();
            parts.push(frame(salt, f.seq, f.data));
          }
          const body = Buffer.concat(parts);
          const tmp = `${seg.file}.tmp`;
          const fh = await fs.open(tmp, 'w', 0o600);
          try {
            await writeAll(fh, body, 0);
            if (this.fsync) await fh.sync();
          } finally {
            await fh.close();
          }
          await fs.rename(tmp, seg.file);
          size = body.length;
          lastSeq = kept[kept.length - 1]!.seq;
        } catch {
          this.recovery.rewriteFailures++;
          await fs.rm(`${seg.file}.tmp`, { force: true });
        }
      }
      if (lastSeq < seg.firstSeq) {
        // No frame in it (a header at most): removed now, since a new segment may take its name.
        await fs.rm(seg.file, { force: true });
        continue;
      }
      this.segments.push({ firstSeq: seg.firstSeq, lastSeq, file: seg.file, size, salt });
    }
    if (this.fsync) await fsyncDir(dir);

    // The lost seqs, the normalised state and (once) a migrated legacy checkpoint go to disk now.
    this.checkpointDirty = true;
    await this.checkpoint();
    await fs.rm(path.join(dir, LEGACY_CHECKPOINT_FILE), { force: true });
  }

  // ---- appending --------------------------------------------------------------------------------

  private async openSegment(firstSeq: number): Promise<void> {
    const dir = this.options.dir;
    const file = path.join(dir, segName(firstSeq));
    const salt = randomBytes(4).readUInt32BE(0);
    // 'w': a file of this name can only be left over from a write that never resolved.
    const fh = await fs.open(file, 'w', 0o600);
    try {
      await writeAll(fh, segHeader(salt), 0);
      if (this.fsync) await fh.datasync();
      if (this.fsync) await fsyncDir(dir);
    } catch (err) {
      await fh.close().catch(() => undefined);
      await fs.rm(file, { force: true }).catch(() => undefined);
      throw err;
    }
    const seg: Segment = { firstSeq, lastSeq: firstSeq - 1, file, size: SEG_HEADER_BYTES, salt };
    this.segments.push(seg);
    this.active = { seg, fh };
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
    const dir = this.options.dir;
    const first = this.nextSeq;
    let before: number | undefined;
    try {
      if (this.mustCheckpoint) {
        // A failed write is still on disk: settle it in the checkpoint before anything follows.
        this.checkpointDirty = true;
        await this.checkpoint();
        if (this.mustCheckpoint) throw new Error('the checkpoint of a failed write is not on disk');
      }
      if (!this.active || this.active.seg.size >= this.segmentBytes) {
        if (this.active) await this.active.fh.close();
        this.active = undefined;
        // The new segment is named after the first seq it will hold.
        await this.openSegment(first);
      }
      const { seg, fh } = this.active!;
      before = seg.size;
      const frames = batch.map((w, i) => frame(seg.salt, first + i, w.data));
      const data = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
      await writeAll(fh, data, seg.size);
      if (this.fsync) await fh.datasync();
      seg.size += data.length;
      seg.lastSeq = first + batch.length - 1;
      this.nextSeq = first + batch.length;
      this.durableSeq = seg.lastSeq;
      for (let i = 0; i < batch.length; i++) {
        const w = batch[i]!;
        this.pendingBytes -= FRAME_HEADER + w.data.length;
        this.entries.set(first + i, w.data);
        this.unackedBytes += FRAME_HEADER + w.data.length;
      }
      // The checkpoint also records how far confirmed appends reach (for counting a lost tail).
      this.checkpointDirty = true;
      this.scheduleCheckpoint();
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(first + i);
    } catch (err) {
      for (const w of batch) this.pendingBytes -= FRAME_HEADER + w.data.length;
      if (before !== undefined && this.active) {
        // Cut the failed write off (a full disk always allows this: it frees space) so that no
        // frame of it is ever recovered and sent; then its seqs are free again.
        try {
          await this.active.fh.truncate(before);
          if (this.fsync) await this.active.fh.datasync();
          if (before === SEG_HEADER_BYTES) {
            // A segment with no frame left is removed here, inside the flush (no other flush can
            // be opening a segment of the same name now), so a full disk keeps no empty file.
            const { seg, fh } = this.active;
            this.active = undefined;
            this.segments.splice(this.segments.indexOf(seg), 1);
            await fh.close().catch(() => undefined);
            await fs.rm(seg.file, { force: true }).catch(() => undefined);
          }
        } catch {
          // Still on disk, possibly in part: its seqs are settled and recorded before the next
          // append (mustCheckpoint), and this segment is not written to again.
          for (let i = 0; i < batch.length; i++) this.settleSeq(first + i);
          this.nextSeq = first + batch.length;
          this.mustCheckpoint = true;
          this.checkpointDirty = true;
          if (this.active) {
            this.active.seg.lastSeq = first + batch.length - 1;
            await this.active.fh.close().catch(() => undefined);
            this.active = undefined;
          }
        }
      }
      const e = storageError(err, dir, 'writing a record', true);
      for (const w of batch) w.reject(e);
    }
  }

  // ---- checkpoint -------------------------------------------------------------------------------

  private checkpoint(): Promise<void> {
    if (this.checkpointing) {
      return this.checkpointing.then(() => (this.checkpointDirty ? this.checkpoint() : undefined));
    }
    if (!this.checkpointDirty) return Promise.resolve();
    this.checkpointDirty = false;
    this.checkpointing = this.writeCheckpoint()
      .catch((err: unknown) => {
        this.checkpointDirty = true;
        throw err;
      })
      .finally(() => {
        this.checkpointing = undefined;
      });
    return this.checkpointing;
  }

  private async writeCheckpoint(): Promise<void> {
    const dir = this.options.dir;
    // Space first: segments already fully acknowledged go before the checkpoint is written (a
    // crash in between loses nothing: their records were delivered).
    await this.deleteAckedSegments();
    const fh = this.checkpointFh;
    if (!fh) return;
    const covered = this.acksSinceCheckpoint;
    const settledPoison = this.mustCheckpoint;
    const ranges = encodeRanges([...this.ackedAbove].sort((a, b) => a - b));
    let json = JSON.stringify({ through: this.through, appended: this.durableSeq, acked: ranges });
    // A slot holds about 1,600 runs of acknowledged seqs above the oldest pending one; past that
    // the highest runs are left out (those records may be sent again after a crash).
    while (Buffer.byteLength(json) > SLOT_BYTES - SLOT_HEADER && ranges.length > 0) {
      ranges.splice(Math.floor(ranges.length / 2));
      json = JSON.stringify({ through: this.through, appended: this.durableSeq, acked: ranges });
    }
    const body = Buffer.from(json);
    const gen = this.checkpointGen + 1n;
    const slot = Buffer.alloc(SLOT_HEADER + body.length);
    slot.writeUInt32BE(SLOT_MAGIC, 0);
    slot.writeUInt32BE(body.length, 4);
    slot.writeBigUInt64BE(gen, 8);
    body.copy(slot, SLOT_HEADER);
    slot.writeUInt32BE(crc32(body, crc32(slot.subarray(4, 16))), 16);
    try {
      // The older slot is overwritten; the newer one stays valid if this write is torn.
      await writeAll(fh, slot, Number(gen % 2n) * SLOT_BYTES);
      if (this.fsync) await fh.datasync();
    } catch (err) {
      throw storageError(err, dir, 'writing the checkpoint');
    }
    this.checkpointGen = gen;
    this.acksSinceCheckpoint -= covered;
    if (settledPoison) this.mustCheckpoint = false;
    await this.deleteAckedSegments();
    if (!this.hasReserve) await this.makeReserve();
  }

  /** (Re)creates the reserve the next open may give up; best effort (a full disk retries later). */
  private async makeReserve(): Promise<void> {
    const file = path.join(this.options.dir, RESERVE_FILE);
    try {
      const st = await fs.stat(file).catch(() => undefined);
      if (!st || st.size < RESERVE_BYTES) {
        const tmp = `${file}.tmp`;
        try {
          await fs.writeFile(tmp, Buffer.alloc(RESERVE_BYTES), { mode: 0o600 });
          await fs.rename(tmp, file);
        } finally {
          await fs.rm(tmp, { force: true });
        }
      }
      this.hasReserve = true;
    } catch {
      // Tried again after the next checkpoint.
    }
  }

  /** Deletes segments whose records are all settled; the active one too once nothing is pending. */
  private async deleteAckedSegments(): Promise<void> {
    const idle = this.entries.size === 0 && this.batch.length === 0 && !this.flushing;
    for (let i = 0; i < this.segments.length;) {
      const seg = this.segments[i]!;
      const isActive = seg === this.active?.seg;
      // An active segment without a frame shares its name with the next one it would roll to.
      if (seg.lastSeq <= this.through && (!isActive || (idle && seg.lastSeq >= seg.firstSeq))) {
        this.segments.splice(i, 1);
        if (isActive) {
          // A drained outbox keeps no segment: the next append starts a new one.
          const fh = this.active!.fh;
          this.active = undefined;
          await fh.close().catch(() => undefined);
        }
        try {
          await fs.rm(seg.file, { force: true });
        } catch {
          // Tried again with the next checkpoint only if still listed; a leftover is harmless
          // (its seqs are settled) and removed at the next open.
        }
      } else {
        i++;
      }
    }
  }
}
