// SPDX-License-Identifier: Apache-2.0
/**
 * The record codec on its own: a stored record reads back as a record that both REST flavours
 * encode into the same request as the original (pure functions, no I/O). The end-to-end matrix
 * through the local endpoint is test/nodes/record-roundtrip.test.ts.
 */
import assert from 'node:assert/strict';

import { encodeRecord } from '../../lib/encode';
import { handOver, loadRecord, orderKeyOf, RECORD_FIELDS, storeRecord } from '../../lib/record-codec';
import type { ProduceRecord } from '../../lib/types';

const READING = {
  type: 'record',
  name: 'Reading',
  fields: [
    { name: 'sensor', type: 'string' },
    { name: 'raw', type: 'bytes' },
  ],
};

const SHAPES: Array<[string, ProduceRecord]> = [
  ['text', { value: 'hello wörld ✓' }],
  ['json', { value: { a: 1, nested: { b: [1, 2] }, s: 'ü', '\u0000b': 'not a tag' } }],
  ['buffer', { value: Buffer.from([0, 1, 2, 255]), key: Buffer.from([0xca, 0xfe]) }],
  ['uint8array', { value: new Uint8Array([9, 8, 7]) }],
  ['number', { value: 42, key: 'k' }],
  [
    'headers',
    {
      value: 'h',
      headers: [
        { name: 'bin', value: Buffer.from([0, 255, 128]) },
        { name: 'ünï', value: '✓ text' },
        { name: 'bin', value: 'repeat' },
      ],
    },
  ],
  ['xml', { value: '<a>1</a>', contentType: 'application/xml' }],
  ['vnd', { value: { j: 1 }, contentType: 'application/vnd.ibm-event-streams.json.v1' }],
  ['valueType', { value: 'text as binary', valueType: 'binary' }],
  [
    'avro',
    {
      value: { sensor: 'hall', raw: Buffer.from([1, 2]) },
      valueSchema: { format: 'avro', schema: READING },
      key: { id: 7 },
      keySchema: {
        format: 'avro',
        schema: { type: 'record', name: 'K', fields: [{ name: 'id', type: 'int' }] },
      },
    },
  ],
];

describe('record codec', () => {
  it('has a rule for every field of ProduceRecord (the compiler checks; this names them)', () => {
    assert.deepEqual(Object.keys(RECORD_FIELDS).sort(), [
      'contentType',
      'headers',
      'key',
      'keySchema',
      'value',
      'valueSchema',
      'valueType',
    ]);
  });

  for (const [name, record] of SHAPES) {
    it(`${name}: the stored form reads back into the same v2 request, and v1 where v1 can send it`, () => {
      const loaded = loadRecord(storeRecord('t', record));
      assert.equal(loaded.topic, 't');
      assert.deepEqual(encodeRecord('v2', '', 't', loaded.record), encodeRecord('v2', '', 't', record));
      if (record.keySchema === undefined && record.valueSchema === undefined) {
        const v1 = encodeRecord('v1', '', 't', record);
        assert.deepEqual(encodeRecord('v1', '', 't', loadRecord(storeRecord('t', record)).record), v1);
        // Stored as the body v1 encoded (one serialisation): the same request again, and on v2 the same bytes.
        const once = loadRecord(storeRecord('t', record, { body: v1.body, contentType: v1.contentType }));
        assert.deepEqual(encodeRecord('v1', '', 't', once.record), v1);
        const v2a = JSON.parse(String(encodeRecord('v2', '', 't', record).body)) as {
          value: { type: string; data: string };
        };
        const v2b = JSON.parse(String(encodeRecord('v2', '', 't', once.record).body)) as {
          value: { type: string; data: string };
        };
        const bytes = (v: { type: string; data: string }): Buffer =>
          v.type === 'binary' ? Buffer.from(v.data, 'base64') : Buffer.from(v.data, 'utf8');
        assert.deepEqual(bytes(v2b.value), bytes(v2a.value));
      }
      assert.deepEqual(encodeRecord('v2', '', 't', handOver(record)), encodeRecord('v2', '', 't', record));
    });
  }

  it('keeps the schema fields and a typed key through the outbox (not "[object Object]")', () => {
    const [, avro] = SHAPES.find(([n]) => n === 'avro')!;
    const { record, orderKey } = loadRecord(storeRecord('t', avro));
    assert.deepEqual(record.valueSchema, avro.valueSchema);
    assert.deepEqual(record.keySchema, avro.keySchema);
    assert.deepEqual(record.key, { id: 7 });
    assert.ok(Buffer.isBuffer((record.value as { raw: unknown }).raw));
    assert.equal(orderKey, orderKeyOf('t', { id: 7 }));
  });

  it('orders by topic and key: the same key on two topics is two chains; text and bytes differ', () => {
    assert.notEqual(orderKeyOf('a', 'k'), orderKeyOf('b', 'k'));
    assert.notEqual(orderKeyOf('a', 'k'), orderKeyOf('a', Buffer.from('k')));
    assert.equal(orderKeyOf('a', Buffer.from('k')), orderKeyOf('a', new Uint8Array(Buffer.from('k'))));
    assert.equal(orderKeyOf('a', undefined), undefined);
  });

  it('reads what earlier versions stored', () => {
    const old = Buffer.from(
      JSON.stringify({ t: 'x', v: { j: { a: 1 } }, k: { b: 'yv4=' }, h: [{ n: 'h', s: 'v' }] }),
    );
    const { record } = loadRecord(old);
    assert.deepEqual(record, {
      value: { a: 1 },
      key: Buffer.from([0xca, 0xfe]),
      headers: [{ name: 'h', value: 'v' }],
    });
  });
});
