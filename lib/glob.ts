// SPDX-License-Identifier: Apache-2.0
/**
 * Topic-name globs, matched without regular expressions.
 *
 * Filters and permissions come from callers (a `topic_filter` query, an editor request, a flow's
 * msg), so they must not become a `RegExp`: `*a*a*a*a*b` compiled to `.*a.*a.*a.*a.*b` backtracks
 * exponentially and froze the endpoint. The matcher below is the classic two-pointer glob match
 * with one backtrack point (the last `*` seen): each step either advances through the name or
 * moves the star's anchor one character on, so a match costs at most O(name × pattern) steps, and
 * with the length caps here, a few tens of thousands of comparisons at worst.
 *
 * Syntax: `*` matches any run of characters (also none), `?` exactly one; every other character is
 * literal. Only the characters Kafka allows in topic names (`A-Z a-z 0-9 . _ -`) plus the two
 * wildcards are accepted, so a pattern can never mean something else somewhere else.
 */
import type * as Re2Js from 're2js';

import { ValidationError } from './errors';

/** Longest accepted pattern (Kafka topic names are at most 249 characters). */
export const MAX_GLOB_LENGTH = 255;

const STAR = 42; // '*'
const QUESTION = 63; // '?'

function allowed(c: number): boolean {
  return (
    (c >= 48 && c <= 57) || // 0-9
    (c >= 65 && c <= 90) || // A-Z
    (c >= 97 && c <= 122) || // a-z
    c === 46 || // .
    c === 95 || // _
    c === 45 || // -
    c === STAR ||
    c === QUESTION
  );
}

/** Why a pattern is refused, or undefined when it is a valid glob. Never echoes the pattern. */
export function checkGlob(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string') return 'The topic filter must be a string.';
  if (pattern.length === 0) return 'The topic filter is empty.';
  if (pattern.length > MAX_GLOB_LENGTH)
    return `The topic filter is longer than ${MAX_GLOB_LENGTH} characters.`;
  for (let i = 0; i < pattern.length; i++) {
    if (!allowed(pattern.charCodeAt(i))) {
      return (
        'The topic filter may only contain letters, digits, ".", "_", "-" and the wildcards "*" ' +
        'and "?" (regular expressions are not accepted).'
      );
    }
  }
  return undefined;
}

/** Whether `name` matches the whole of `pattern`. The pattern is not validated here. */
export function globMatch(pattern: string, name: string): boolean {
  const pl = pattern.length;
  const nl = name.length;
  let p = 0;
  let n = 0;
  // Position after the last `*` seen, and the name position that star currently stops at.
  let starP = -1;
  let starN = 0;
  while (n < nl) {
    const c = p < pl ? pattern.charCodeAt(p) : -1;
    if (c === STAR) {
      // Consecutive stars are one star.
      while (p < pl && pattern.charCodeAt(p) === STAR) p++;
      if (p === pl) return true;
      starP = p;
      starN = n;
    } else if (c !== -1 && (c === QUESTION || c === name.charCodeAt(n))) {
      p++;
      n++;
    } else if (starP >= 0) {
      // Let the last star swallow one more character and retry from just after it. Earlier stars
      // never need revisiting: whatever they could absorb, the last one can too.
      starN++;
      n = starN;
      p = starP;
    } else {
      return false;
    }
  }
  while (p < pl && pattern.charCodeAt(p) === STAR) p++;
  return p === pl;
}

/**
 * A predicate for a validated glob; throws a VALIDATION error for anything else. `undefined`,
 * empty and `*` mean "everything" and give undefined (no filtering).
 */
export function compileGlob(pattern: string | undefined): ((name: string) => boolean) | undefined {
  if (pattern === undefined || pattern === '') return undefined;
  const problem = checkGlob(pattern);
  if (problem) throw new ValidationError(problem, 'VALIDATION');
  if (/^\*+$/.test(pattern)) return undefined;
  return (name) => globMatch(pattern, name);
}

// ---------------------------------------------------------------------------------------------
// Admin REST list filters: a glob, or a `/regex/` as IBM documents for topic_filter, group_filter
// and config_filter.

/** Longest accepted `/regex/` filter, delimiters included. */
export const MAX_REGEX_LENGTH = 255;

let re2jsModule: typeof Re2Js | undefined;
/**
 * re2js (a pure-JS port of RE2), loaded on the first `/regex/` filter. RE2 compiles a pattern to an
 * automaton and matches in time linear in the input, whatever the pattern: `(a+)+$` or
 * `(a|aa)*b` cost the same as `abc`. Node's own RegExp backtracks and must never see caller text.
 */
function re2js(): typeof Re2Js {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  re2jsModule ??= require('re2js') as typeof Re2Js;
  return re2jsModule;
}

/** Whether a filter is the `/regex/` form (at least one character between the slashes). */
export function isRegexFilter(filter: string): boolean {
  return filter.length >= 3 && filter.startsWith('/') && filter.endsWith('/');
}

/**
 * What the names being filtered may contain: `topic` (Kafka topic names: the glob may only use
 * their characters) or `any` (consumer group ids, config names: any printable text).
 */
export type FilterNames = 'topic' | 'any';

/** Why a list filter is refused, or undefined. `field` names it in the message (never echoes it). */
export function checkFilter(
  filter: unknown,
  field = 'filter',
  names: FilterNames = 'topic',
): string | undefined {
  if (typeof filter !== 'string') return `${field} must be a string.`;
  if (filter.length === 0) return `${field} is empty.`;
  if (isRegexFilter(filter)) {
    if (filter.length > MAX_REGEX_LENGTH) return `${field} is longer than ${MAX_REGEX_LENGTH} characters.`;
    try {
      re2js().RE2JS.compile(filter.slice(1, -1));
    } catch {
      return `${field} is not a valid regular expression (RE2 syntax; no backreferences or lookaround).`;
    }
    return undefined;
  }
  if (names === 'topic') {
    const problem = checkGlob(filter);
    return problem === undefined
      ? undefined
      : problem
          .replace('The topic filter', field)
          .replace(
            '(regular expressions are not accepted)',
            '(or a regular expression between slashes: /…/)',
          );
  }
  if (filter.length > MAX_GLOB_LENGTH) return `${field} is longer than ${MAX_GLOB_LENGTH} characters.`;
  for (let i = 0; i < filter.length; i++) {
    const c = filter.charCodeAt(i);
    if (c < 32 || c === 127) return `${field} contains a control character.`;
  }
  return undefined;
}

/**
 * A predicate for a list filter, IBM's way: `/regex/` is a regular expression (RE2 syntax, matched
 * against the whole name, in linear time); anything else is a glob (`*` any run, `?` one
 * character, whole name). `undefined`, empty and `*` mean everything (undefined: no filtering).
 * Throws a VALIDATION error for anything else.
 */
export function compileFilter(
  filter: string | undefined,
  field = 'filter',
  names: FilterNames = 'topic',
): ((name: string) => boolean) | undefined {
  if (filter === undefined || filter === '') return undefined;
  const problem = checkFilter(filter, field, names);
  if (problem) throw new ValidationError(problem, 'VALIDATION');
  if (isRegexFilter(filter)) {
    const re = re2js().RE2JS.compile(filter.slice(1, -1));
    return (name) => re.matches(name);
  }
  if (/^\*+$/.test(filter)) return undefined;
  return (name) => globMatch(filter, name);
}
