// SPDX-License-Identifier: Apache-2.0
/**
 * The consumer core's pure parts: the linear-time `/regex/` topic form (agreeing with RegExp on
 * the supported subset, refusing what needs backtracking, fast on catastrophic patterns), value,
 * key and header decoding, and the topic selection rules. The Kafka side is in
 * test/kafka/consumer-kafka.test.ts.
 */
import assert from 'node:assert/strict';

import { compileTopicPattern } from '../../lib/consumer-pattern';
import { checkGroupId, decodeHeaders, decodeValue, parseTopicSelection } from '../../lib/consumer';
import { isEventStreamsError } from '../../lib/errors';

const names = [
  'orders',
  'orders-eu',
  'orders-us-1',
  'ORDERS-EU',
  'payments',
  'a.b_c-d',
  'x',
  '',
  'ordersorders',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!',
];

describe('consumer topic patterns', () => {
  for (const src of [
    '/^orders/',
    '/^orders-.*$/',
    '/eu$/',
    '/orders-(eu|us)(-\\d+)?$/',
    '/^[a-z]+$/',
    '/^[^-]+$/',
    '/^orders-eu$/i',
    '/a.b/',
    '/^(orders){2}$/',
    '/^o(r|d)+ers/',
    '/\\./',
    '/^\\w+$/',
    '/^x?$/',
    '/^(?:a|b)*$/',
    '/^a{2,4}/',
    '/^[A-Z0-9._-]{3,}$/',
  ]) {
    it(`${src} agrees with RegExp`, () => {
      const p = compileTopicPattern(src);
      const m = /^\/(.*)\/(i?)$/.exec(src)!;
      // The reference RegExp is built from this file's constants, never from caller input.
      const re = new RegExp(m[1]!, m[2]);
      for (const n of names) assert.equal(p.test(n), re.test(n), `${src} on "${n}"`);
    });
  }

  for (const bad of [
    '/(a)\\1/',
    '/(?=a)/',
    '/(?<n>a)/',
    '/a{1000}/',
    '/[b-a]/',
    '/(a/',
    '/*a/',
    '//',
    'x',
    '/a{5,2}/',
  ]) {
    it(`refuses ${bad}`, () => {
      assert.throws(
        () => compileTopicPattern(bad),
        (err: unknown) => isEventStreamsError(err) && err.code === 'VALIDATION',
      );
    });
  }

  it('refuses a pattern over 255 characters', () => {
    assert.throws(() => compileTopicPattern(`/${'a'.repeat(256)}/`), /longer than 255/);
  });

  it('matches catastrophic patterns in linear time', () => {
    const name = `${'a'.repeat(249)}`;
    for (const src of ['/^(a+)+b$/', '/^(a|a)*b$/', '/^(a*)*b$/', '/(.*a){20}b/']) {
      const p = compileTopicPattern(src);
      const t0 = process.hrtime.bigint();
      assert.equal(p.test(name), false);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      assert.ok(ms < 200, `${src} took ${ms} ms`);
    }
  });
});

describe('consumer decoding', () => {
  it('auto: JSON objects and arrays, text when UTF-8, bytes otherwise', () => {
    assert.deepEqual(decodeValue(Buffer.from('{"a":1}'), 'auto'), { a: 1 });
    assert.deepEqual(decodeValue(Buffer.from(' [1,2]'), 'auto'), [1, 2]);
    assert.equal(decodeValue(Buffer.from('42'), 'auto'), '42');
    assert.equal(decodeValue(Buffer.from('{not json'), 'auto'), '{not json');
    assert.equal(decodeValue(Buffer.from('héllo'), 'auto'), 'héllo');
    const bin = Buffer.from([0xff, 0x00, 0x01]);
    assert.ok(Buffer.isBuffer(decodeValue(bin, 'auto')));
    assert.equal(decodeValue(null, 'auto'), null);
  });

  it('fixed formats', () => {
    assert.equal(decodeValue(Buffer.from('{"a":1}'), 'string'), '{"a":1}');
    assert.ok(Buffer.isBuffer(decodeValue(Buffer.from('x'), 'buffer')));
    assert.equal(decodeValue(Buffer.from('42'), 'json'), 42);
    assert.throws(
      () => decodeValue(Buffer.from('nope'), 'json'),
      (err: unknown) => isEventStreamsError(err) && err.code === 'INVALID_VALUE',
    );
  });

  it('headers: text when UTF-8, Buffer otherwise, arrays kept', () => {
    const h = decodeHeaders({
      a: Buffer.from('x'),
      b: Buffer.from([0xc3]),
      c: [Buffer.from('1'), Buffer.from('2')],
    });
    assert.equal(h.a, 'x');
    assert.ok(Buffer.isBuffer(h.b));
    assert.deepEqual(h.c, ['1', '2']);
  });

  it('topic selection and group id', () => {
    assert.deepEqual(parseTopicSelection(' a , b,a ,'), { topics: ['a', 'b'] });
    assert.ok('pattern' in parseTopicSelection('/^a/'));
    assert.throws(() => parseTopicSelection(''), /No topic/);
    assert.throws(() => parseTopicSelection('bad topic'), /invalid/);
    assert.throws(() => checkGroupId('  '), /empty/);
    assert.equal(checkGroupId(' g '), 'g');
  });
});
