// SPDX-License-Identifier: Apache-2.0
import assert from 'node:assert/strict';

import { parseProduceSuccess } from '../../lib/encode';
import { scanProduceSuccess } from '../../lib/produce-scan';

/** The JSON.parse reading the scanner must reproduce (as parseProduceSuccess did before it). */
function reference(text: string, topic: string): Record<string, unknown> | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  const meta = b.metadata;
  const src = typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>) : b;
  const toInt = (v: unknown): number | undefined =>
    typeof v === 'number'
      ? Number.isFinite(v)
        ? v
        : undefined
      : typeof v === 'string' && v.length > 0 && v.length < 20 && /^-?\d+$/.test(v)
        ? Number(v)
        : undefined;
  const out: Record<string, unknown> = {
    topic: typeof src.topic === 'string' && src.topic.length > 0 ? src.topic : topic,
  };
  const partition = toInt(src.partition);
  const offset = toInt(src.offset);
  if (partition !== undefined) out.partition = partition;
  if (offset !== undefined) out.offset = offset;
  let ts = toInt(src.timestamp);
  if (ts === undefined && typeof src.timestamp === 'string' && src.timestamp.length > 0) {
    const d = Date.parse(src.timestamp);
    ts = Number.isNaN(d) ? undefined : d;
  }
  if (ts !== undefined) out.timestamp = ts;
  return out;
}

const SHAPES = [
  '{"metadata":{"topic":"orders","timestamp":"1700000000000","partition":0,"offset":12}}',
  '{"metadata":{"topic":"orders","timestamp":1700000000000,"partition":3,"offset":9007199254740991}}',
  '{"topic":"orders","partition":1,"offset":3,"timestamp":1700000000000}',
  ' { "metadata" : { "partition" : 2 , "offset" : 5 } , "Comment" : "ok" } ',
  '{"offset":7}',
  '{"metadata":{"topic":"","partition":0,"offset":1}}',
  '{"metadata":{"topic":"é✓","partition":"4","offset":"44"}}',
  '{"partition":-1,"offset":-0}',
  '{"metadata":{"offset":1},"metadata":{"offset":2}}',
  '{"offset":1,"offset":2,"topic":"a","topic":"b"}',
];

describe('scanProduceSuccess (the fixed-shape success body)', () => {
  it('reads every documented success shape exactly as JSON.parse does', () => {
    for (const body of SHAPES) {
      const scanned = scanProduceSuccess(body, 'fallback');
      assert.ok(scanned !== undefined, `scanner declined ${body}`);
      assert.deepEqual(scanned, reference(body, 'fallback'), body);
    }
  });

  it('declines what it does not know, and parseProduceSuccess still reads it', () => {
    const declined = [
      '',
      '{}',
      '{"metadata":{"topic":"a\\"b","partition":0,"offset":1}}',
      '{"partition":1.5,"offset":1}',
      '{"partition":1e2,"offset":1}',
      '{"partition":01,"offset":1}',
      '{"partition":0,"offset":1,"ok":true}',
      '{"partition":0,"offset":1,"list":[1]}',
      '{"partition":0,"offset":1,"timestamp":"2026-01-01T00:00:00Z"}',
      '{"partition":0,"offset":1} trailing',
      '{"partition":0,"offset":1',
      '{"metadata":5,"partition":0,"offset":1}',
      '{"metadata":{"metadata":{"offset":1}}}',
      '[{"offset":1}]',
    ];
    for (const body of declined) assert.equal(scanProduceSuccess(body, 't'), undefined, body);
    assert.deepEqual(parseProduceSuccess('v1', 't', 200, declined[3]!), {
      topic: 't',
      partition: 1.5,
      offset: 1,
    });
    assert.deepEqual(parseProduceSuccess('v1', 't', 200, declined[8]!), {
      topic: 't',
      partition: 0,
      offset: 1,
      timestamp: Date.parse('2026-01-01T00:00:00Z'),
    });
    assert.throws(() => parseProduceSuccess('v1', 't', 200, '{}'), { code: 'UNEXPECTED_RESPONSE' });
  });

  it('never disagrees with JSON.parse on mutated bodies', () => {
    // Deterministic mutations of the shapes: a character replaced, deleted or inserted.
    const alphabet = '{}[]":,0123456789-.eE \\atn';
    let seed = 17;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let accepted = 0;
    for (let i = 0; i < 20000; i++) {
      const base = SHAPES[rnd(SHAPES.length)]!;
      const at = rnd(base.length);
      const ch = alphabet[rnd(alphabet.length)]!;
      const op = rnd(3);
      const body =
        op === 0
          ? base.slice(0, at) + ch + base.slice(at + 1)
          : op === 1
            ? base.slice(0, at) + base.slice(at + 1)
            : base.slice(0, at) + ch + base.slice(at);
      const scanned = scanProduceSuccess(body, 'fb');
      if (scanned === undefined) continue;
      accepted++;
      assert.deepEqual(scanned, reference(body, 'fb'), body);
    }
    assert.ok(accepted > 1000, `only ${accepted} mutated bodies were scanned`);
  });
});
