// SPDX-License-Identifier: Apache-2.0
/**
 * A scanner for the fixed-shape produce success body, so the hot path does not build a JSON
 * object graph per record:
 *
 * - v1 `{"metadata":{"topic":"t","timestamp":"1700000000000","partition":0,"offset":12}}`
 * - v2 (our choice, the real one is a GAP) `{"topic":"t","partition":0,"offset":12,"timestamp":1700000000000}`
 *
 * It accepts only a JSON object whose values are strings without escapes, plain integers, or
 * (for `metadata` only) one nested object of the same kind, in any order and with whitespace.
 * Anything else (escapes, fractions, exponents, booleans, arrays, a non-numeric timestamp,
 * trailing text, neither partition nor offset) returns `undefined`, and the caller falls back to
 * `JSON.parse`, whose reading is the reference this scanner reproduces for the shapes it accepts.
 */

/** The fields the produce result reads, as JSON.parse followed by toInt/toTimestamp gives them. */
export interface ScannedSuccess {
  topic?: string;
  partition?: number;
  offset?: number;
  timestamp?: number;
}

interface Fields {
  topic: unknown;
  timestamp: unknown;
  partition: unknown;
  offset: unknown;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** Reads one object of the accepted kind; returns the index after its closing brace, or -1. */
class Scanner {
  i = 0;
  meta: Fields | undefined;
  constructor(readonly s: string) {}

  ws(): void {
    const s = this.s;
    let c = s.charCodeAt(this.i);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = s.charCodeAt(++this.i);
  }

  /** A string without escapes or control characters, or undefined. */
  str(): string | undefined {
    const s = this.s;
    if (s.charCodeAt(this.i) !== QUOTE) return undefined;
    const start = ++this.i;
    for (;;) {
      const c = s.charCodeAt(this.i);
      if (c === QUOTE) break;
      if (c === BACKSLASH || c < 0x20 || Number.isNaN(c)) return undefined;
      this.i++;
    }
    return s.slice(start, this.i++);
  }

  /** A JSON integer (no leading zeros, no fraction or exponent), or undefined. */
  int(): number | undefined {
    const s = this.s;
    const start = this.i;
    if (s.charCodeAt(this.i) === MINUS) this.i++;
    const first = this.i;
    let c = s.charCodeAt(this.i);
    while (c >= ZERO && c <= NINE) c = s.charCodeAt(++this.i);
    const digits = this.i - first;
    if (digits === 0 || digits > 19) return undefined;
    if (digits > 1 && s.charCodeAt(first) === ZERO) return undefined;
    if (c === 0x2e || c === 0x65 || c === 0x45) return undefined;
    return Number(s.slice(start, this.i));
  }

  /** An object into `out`; nested only for `metadata` at depth 0. */
  object(out: Fields, depth: number): boolean {
    const s = this.s;
    if (s.charCodeAt(this.i) !== 0x7b) return false;
    this.i++;
    this.ws();
    if (s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return true;
    }
    for (;;) {
      this.ws();
      const key = this.str();
      if (key === undefined) return false;
      this.ws();
      if (s.charCodeAt(this.i) !== 0x3a) return false;
      this.i++;
      this.ws();
      const c = s.charCodeAt(this.i);
      let value: unknown;
      if (c === QUOTE) {
        value = this.str();
        if (value === undefined) return false;
      } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
        value = this.int();
        if (value === undefined) return false;
      } else if (c === 0x7b && depth === 0 && key === 'metadata') {
        const meta: Fields = {
          topic: undefined,
          timestamp: undefined,
          partition: undefined,
          offset: undefined,
        };
        if (!this.object(meta, 1)) return false;
        this.meta = meta;
        value = undefined;
      } else {
        return false;
      }
      if (key === 'metadata') {
        // A non-object metadata is read as "no metadata" by the reference; keep it simple: fall back.
        if (depth !== 0 || value !== undefined) return false;
      } else if (key === 'topic') out.topic = value;
      else if (key === 'timestamp') out.timestamp = value;
      else if (key === 'partition') out.partition = value;
      else if (key === 'offset') out.offset = value;
      else if (key === '__proto__') return false;
      this.ws();
      const d = s.charCodeAt(this.i);
      this.i++;
      if (d === 0x7d) return true;
      if (d !== 0x2c) return false;
    }
  }
}

function intOf(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.length > 0 && v.length < 20 && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
}

/**
 * The success fields of a produce body of the fixed shape, or `undefined` when the body is
 * anything else (then parse it with JSON.parse). `topic` is the record's topic, used when the
 * body names none.
 */
export function scanProduceSuccess(text: string, topic: string): ScannedSuccess | undefined {
  if (text.length === 0 || text.length > 4096) return undefined;
  const sc = new Scanner(text);
  const top: Fields = { topic: undefined, timestamp: undefined, partition: undefined, offset: undefined };
  sc.ws();
  if (!sc.object(top, 0)) return undefined;
  sc.ws();
  if (sc.i !== text.length) return undefined;
  const src = sc.meta ?? top;
  const partition = intOf(src.partition);
  const offset = intOf(src.offset);
  if (partition === undefined && offset === undefined) return undefined;
  let timestamp: number | undefined;
  if (src.timestamp !== undefined) {
    timestamp = intOf(src.timestamp);
    // An ISO date or other text: leave it to the reference reading.
    if (timestamp === undefined && typeof src.timestamp === 'string' && src.timestamp.length > 0)
      return undefined;
  }
  const out: ScannedSuccess = {
    topic: typeof src.topic === 'string' && src.topic.length > 0 ? src.topic : topic,
  };
  if (partition !== undefined) out.partition = partition;
  if (offset !== undefined) out.offset = offset;
  if (timestamp !== undefined) out.timestamp = timestamp;
  return out;
}
