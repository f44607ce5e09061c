// SPDX-License-Identifier: Apache-2.0
/** lib/glob.ts: the regex-free topic glob every filter and permission goes through. */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';

import { MAX_GLOB_LENGTH, checkGlob, compileGlob, globMatch } from '../../lib/glob';

/** A reference matcher by plain recursion with memo, for short random cases only. */
function reference(p: string, s: string): boolean {
  const memo = new Map<string, boolean>();
  const go = (i: number, j: number): boolean => {
    const k = `${i},${j}`;
    const hit = memo.get(k);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (i === p.length) r = j === s.length;
    else if (p[i] === '*') r = go(i + 1, j) || (j < s.length && go(i, j + 1));
    else r = j < s.length && (p[i] === '?' || p[i] === s[j]) && go(i + 1, j + 1);
    memo.set(k, r);
    return r;
  };
  return go(0, 0);
}

describe('glob', function () {
  const cases: Array<[string, string, boolean]> = [
    ['orders-*', 'orders-eu', true],
    ['orders-*', 'orders-', true],
    ['orders-*', 'xorders-eu', false],
    ['*', '', true],
    ['*', 'anything', true],
    ['?', '', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['*-dlq', 'orders-dlq', true],
    ['*-dlq', 'orders-dlq-x', false],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'aXbY', false],
    ['a.b', 'axb', false],
    ['**a**', 'xax', true],
  ];
  for (const [p, s, expected] of cases) {
    it(`'${p}' ${expected ? 'matches' : 'does not match'} '${s}'`, function () {
      assert.equal(globMatch(p, s), expected);
    });
  }

  it('agrees with a reference matcher on random short patterns and names', function () {
    const alphabet = 'ab*?';
    for (let n = 0; n < 3000; n++) {
      const p = Array.from({ length: randomInt(0, 7) }, () => alphabet[randomInt(0, 4)]).join('');
      const s = Array.from({ length: randomInt(0, 9) }, () => 'ab'[randomInt(0, 2)]).join('');
      assert.equal(globMatch(p, s), reference(p, s), `'${p}' vs '${s}'`);
    }
  });

  it('refuses regex syntax, other characters, empty and over-long patterns', function () {
    for (const bad of ['/^a$/', '(a+)+', 'a[bc]', 'a|b', 'a b', 'ä', '', 'a'.repeat(MAX_GLOB_LENGTH + 1)]) {
      assert.ok(checkGlob(bad), `'${bad.slice(0, 20)}' is refused`);
      if (bad !== '') assert.throws(() => compileGlob(bad), { code: 'VALIDATION' });
    }
    assert.equal(checkGlob('Orders_1.eu-*?'), undefined);
    assert.equal(compileGlob('*'), undefined);
    assert.equal(compileGlob(''), undefined);
  });

  it('matches the worst case in bounded steps (a pattern that makes a backtracking regex explode)', function () {
    // `*a*a*...*b` against `aaaa...` takes exponential time as a regex; here it is one pass per
    // star position. Asserting the result (not a time) keeps the test meaningful on a busy machine;
    // the endpoint-level test in test/security shows /alive keeps answering meanwhile.
    const p = `${'*a'.repeat(120)}*b`;
    assert.equal(p.length <= MAX_GLOB_LENGTH, true);
    assert.equal(globMatch(p, 'a'.repeat(249)), false);
    assert.equal(globMatch(p, `${'a'.repeat(248)}b`), true);
  });
});
