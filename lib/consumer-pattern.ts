// SPDX-License-Identifier: Apache-2.0
/**
 * The consumer's `/regex/` topic form, matched in linear time without `RegExp`.
 *
 * Why not hand the text to kafkajs as a RegExp (which is what it subscribes with): the pattern
 * comes from a flow author or an imported flow, and V8's backtracking engine makes `/(a+)+b/`
 * against a long topic name take exponential time on the Node-RED event loop. Instead the text is
 * parsed here into a small automaton (literals, `.`, classes, groups, `|`, `* + ?`, bounded
 * `{m,n}`, `^ $`; no backreferences or lookaround, which are what need backtracking) and run as a
 * Thompson/Pike simulation: one pass over the name with a set of states, so a match costs at most
 * O(name length × program size), both capped below. The consumer matches the cluster's topic list
 * with it and subscribes to the resulting names, as kafkajs does for a RegExp (also resolved when
 * the consumer starts).
 */
import { ValidationError } from './errors';

/** Longest accepted pattern text between the slashes. */
export const MAX_PATTERN_LENGTH = 255;
/** Upper bound on the compiled program (after `{m,n}` expansion): bounds the per-character work. */
const MAX_PROGRAM = 4000;
const MAX_REPEAT = 100;

type Test = (c: number) => boolean;
type Node =
  | { k: 'char'; t: Test }
  | { k: 'cat'; items: Node[] }
  | { k: 'alt'; items: Node[] }
  | { k: 'rep'; n: Node; min: number; max: number } // max -1: unbounded
  | { k: 'bol' }
  | { k: 'eol' };

type Inst =
  | { op: 'char'; t: Test; next: number }
  | { op: 'split'; a: number; b: number }
  | { op: 'jmp'; to: number }
  | { op: 'bol'; next: number }
  | { op: 'eol'; next: number }
  | { op: 'match' };

const isDigit: Test = (c) => c >= 48 && c <= 57;
const isWord: Test = (c) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isSpace: Test = (c) => c === 32 || (c >= 9 && c <= 13);
const any: Test = (c) => c !== 10 && c !== 13;

function fail(why: string): never {
  throw new ValidationError(`The topic pattern is not accepted: ${why}`, 'VALIDATION');
}

class Parser {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly fold: boolean,
  ) {}

  parse(): Node {
    const n = this.alt();
    if (this.i < this.s.length) fail(`unexpected "${this.s[this.i]}"`);
    return n;
  }

  private alt(): Node {
    const items = [this.cat()];
    while (this.s[this.i] === '|') {
      this.i++;
      items.push(this.cat());
    }
    return items.length === 1 ? items[0]! : { k: 'alt', items };
  }

  private cat(): Node {
    const items: Node[] = [];
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      items.push(this.repeat());
    }
    return { k: 'cat', items };
  }

  private repeat(): Node {
    let n = this.atom();
    for (;;) {
      const c = this.s[this.i];
      let min: number;
      let max: number;
      if (c === '*') [min, max] = [0, -1];
      else if (c === '+') [min, max] = [1, -1];
      else if (c === '?') [min, max] = [0, 1];
      else if (c === '{') {
        const m = /^\{(\d{1,3})(,(\d{0,3}))?\}/.exec(this.s.slice(this.i, this.i + 9));
        if (!m) fail('"{" must be a repetition like {2} or {1,3}');
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? -1 : Number(m[3]);
        if (min > MAX_REPEAT || max > MAX_REPEAT || (max !== -1 && max < min))
          fail(`repetition counts must be at most ${MAX_REPEAT} and in order`);
        this.i += m[0].length - 1;
      } else return n;
      this.i++;
      // A lazy suffix changes which match is found, not whether there is one.
      if (this.s[this.i] === '?') this.i++;
      if (n.k === 'bol' || n.k === 'eol') fail('an anchor cannot be repeated');
      n = { k: 'rep', n, min, max };
    }
  }

  private lit(code: number): Node {
    if (!this.fold) return { k: 'char', t: (c) => c === code };
    const lo = String.fromCharCode(code).toLowerCase().charCodeAt(0);
    const up = String.fromCharCode(code).toUpperCase().charCodeAt(0);
    return { k: 'char', t: (c) => c === lo || c === up };
  }

  private atom(): Node {
    const c = this.s[this.i]!;
    this.i++;
    switch (c) {
      case '(': {
        if (this.s[this.i] === '?') {
          if (this.s[this.i + 1] !== ':') fail('lookaround and named groups are not supported');
          this.i += 2;
        }
        const n = this.alt();
        if (this.s[this.i] !== ')') fail('a "(" is not closed');
        this.i++;
        return n;
      }
      case '[':
        return this.cls();
      case '.':
        return { k: 'char', t: any };
      case '^':
        return { k: 'bol' };
      case '$':
        return { k: 'eol' };
      case '\\':
        return this.escape(false) as Node;
      case '*':
      case '+':
      case '?':
      case '{':
        return fail(`"${c}" has nothing to repeat`);
      default:
        return this.lit(c.charCodeAt(0));
    }
  }

  /** `\x` outside or inside a class; inside, returns a test. */
  private escape(inClass: boolean): Node | Test {
    const e = this.s[this.i];
    if (e === undefined) fail('the pattern ends with "\\"');
    this.i++;
    const t: Test | undefined =
      e === 'd'
        ? isDigit
        : e === 'D'
          ? (c) => !isDigit(c)
          : e === 'w'
            ? isWord
            : e === 'W'
              ? (c) => !isWord(c)
              : e === 's'
                ? isSpace
                : e === 'S'
                  ? (c) => !isSpace(c)
                  : undefined;
    if (t) return inClass ? t : { k: 'char', t };
    if (/[0-9a-zA-Z]/.test(e)) fail(`"\\${e}" is not supported (no backreferences or special escapes)`);
    const code = e.charCodeAt(0);
    return inClass ? (c: number) => c === code : this.lit(code);
  }

  private cls(): Node {
    let negate = false;
    if (this.s[this.i] === '^') {
      negate = true;
      this.i++;
    }
    const tests: Test[] = [];
    let first = true;
    while (this.i < this.s.length && (this.s[this.i] !== ']' || first)) {
      first = false;
      let lo: number;
      if (this.s[this.i] === '\\') {
        this.i++;
        const t = this.escape(true) as Test;
        // A class escape like \d cannot start a range; a single escaped char can.
        const code = this.s.charCodeAt(this.i - 1);
        if (!/[dDwWsS]/.test(this.s[this.i - 1]!) && this.s[this.i] === '-' && this.s[this.i + 1] !== ']') {
          lo = code;
        } else {
          tests.push(t);
          continue;
        }
      } else {
        lo = this.s.charCodeAt(this.i);
        this.i++;
      }
      if (this.s[this.i] === '-' && this.i + 1 < this.s.length && this.s[this.i + 1] !== ']') {
        this.i++;
        let hi = this.s.charCodeAt(this.i);
        if (this.s[this.i] === '\\') {
          this.i++;
          hi = this.s.charCodeAt(this.i);
        }
        this.i++;
        if (hi < lo) fail('a class range is out of order');
        const [a, b] = [lo, hi];
        tests.push(this.fold ? foldRange(a, b) : (c) => c >= a && c <= b);
      } else {
        const v = lo;
        tests.push((this.lit(v) as { t: Test }).t);
      }
    }
    if (this.s[this.i] !== ']') fail('a "[" is not closed');
    this.i++;
    const inClass: Test = (c) => tests.some((t) => t(c));
    return { k: 'char', t: negate ? (c) => !inClass(c) : inClass };
  }
}

function foldRange(a: number, b: number): Test {
  return (c) => {
    const lo = String.fromCharCode(c).toLowerCase().charCodeAt(0);
    const up = String.fromCharCode(c).toUpperCase().charCodeAt(0);
    return (lo >= a && lo <= b) || (up >= a && up <= b) || (c >= a && c <= b);
  };
}

class Compiler {
  readonly prog: Inst[] = [];

  private emit(i: Inst): number {
    if (this.prog.length >= MAX_PROGRAM) fail('it is too large once repetitions are expanded');
    this.prog.push(i);
    return this.prog.length - 1;
  }

  /** Emits `n`; returns nothing, each instruction's `next` is the following index. */
  gen(n: Node): void {
    switch (n.k) {
      case 'char':
        this.emit({ op: 'char', t: n.t, next: this.prog.length + 1 });
        return;
      case 'bol':
        this.emit({ op: 'bol', next: this.prog.length + 1 });
        return;
      case 'eol':
        this.emit({ op: 'eol', next: this.prog.length + 1 });
        return;
      case 'cat':
        for (const item of n.items) this.gen(item);
        return;
      case 'alt': {
        // split L1, next-split ; L1: a ; jmp end ; ...
        const jumps: number[] = [];
        n.items.forEach((item, idx) => {
          if (idx < n.items.length - 1) {
            const split = this.emit({ op: 'split', a: 0, b: 0 });
            (this.prog[split] as { a: number }).a = this.prog.length;
            this.gen(item);
            jumps.push(this.emit({ op: 'jmp', to: 0 }));
            (this.prog[split] as { b: number }).b = this.prog.length;
          } else {
            this.gen(item);
          }
        });
        for (const j of jumps) (this.prog[j] as { to: number }).to = this.prog.length;
        return;
      }
      case 'rep': {
        for (let k = 0; k < n.min; k++) this.gen(n.n);
        if (n.max === -1) {
          // L: split body, end ; body ; jmp L
          const split = this.emit({ op: 'split', a: 0, b: 0 });
          (this.prog[split] as { a: number }).a = this.prog.length;
          this.gen(n.n);
          this.emit({ op: 'jmp', to: split });
          (this.prog[split] as { b: number }).b = this.prog.length;
        } else {
          const splits: number[] = [];
          for (let k = n.min; k < n.max; k++) {
            const split = this.emit({ op: 'split', a: 0, b: 0 });
            (this.prog[split] as { a: number }).a = this.prog.length;
            splits.push(split);
            this.gen(n.n);
          }
          for (const s of splits) (this.prog[s] as { b: number }).b = this.prog.length;
        }
        return;
      }
    }
  }
}

/** A compiled pattern: `test(name)` is true when the pattern occurs in `name` (like RegExp#test). */
export interface TopicPattern {
  readonly source: string;
  test(name: string): boolean;
}

/**
 * Compiles the text of a `/regex/` or `/regex/i` topic form (with the slashes). Throws a
 * VALIDATION error, naming the problem but not echoing the pattern, for anything outside the
 * supported subset.
 */
export function compileTopicPattern(text: string): TopicPattern {
  const m = /^\/(.*)\/(i?)$/s.exec(text);
  if (!m) fail('write it as /pattern/ or /pattern/i');
  const body = m[1]!;
  if (body.length === 0) fail('it is empty');
  if (body.length > MAX_PATTERN_LENGTH) fail(`it is longer than ${MAX_PATTERN_LENGTH} characters`);
  const ast = new Parser(body, m[2] === 'i').parse();
  const c = new Compiler();
  c.gen(ast);
  c.prog.push({ op: 'match' });
  const prog = c.prog;
  return { source: text, test: (name) => run(prog, name) };
}

/** Pike VM without captures: each state is visited at most once per input position. */
function run(prog: Inst[], s: string): boolean {
  const n = s.length;
  let cur: number[] = [];
  let next: number[] = [];
  const mark = new Int32Array(prog.length).fill(-1);
  let matched = false;
  const add = (list: number[], pc: number, pos: number): void => {
    // An explicit stack: epsilon chains can be as long as the program.
    const stack = [pc];
    while (stack.length > 0) {
      const p = stack.pop()!;
      if (mark[p] === pos) continue;
      mark[p] = pos;
      const inst = prog[p]!;
      switch (inst.op) {
        case 'jmp':
          stack.push(inst.to);
          break;
        case 'split':
          stack.push(inst.b, inst.a);
          break;
        case 'bol':
          if (pos === 0) stack.push(inst.next);
          break;
        case 'eol':
          if (pos === n) stack.push(inst.next);
          break;
        case 'match':
          matched = true;
          break;
        default:
          list.push(p);
      }
    }
  };
  for (let pos = 0; pos <= n; pos++) {
    // Unanchored search: a new attempt may start at every position.
    add(cur, 0, pos);
    if (matched) return true;
    if (pos === n) break;
    const c = s.charCodeAt(pos);
    for (const p of cur) {
      const inst = prog[p] as { op: 'char'; t: Test; next: number };
      if (inst.t(c)) add(next, inst.next, pos + 1);
    }
    if (matched) return true;
    [cur, next] = [next, cur];
    next.length = 0;
  }
  return matched;
}
