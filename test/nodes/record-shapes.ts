// SPDX-License-Identifier: Apache-2.0
/**
 * The record shapes of the round-trip matrix (test/nodes/record-roundtrip.test.ts over REST,
 * test/kafka/record-roundtrip-kafka.test.ts over the Kafka transport) and how their bytes compare.
 */
import { CONTENT_TYPES } from '../../nodes/shared/record';
import { outAndCatch, TAB } from './support';

export const READING = {
  type: 'record',
  name: 'Reading',
  namespace: 'iot',
  fields: [
    { name: 'sensor', type: 'string' },
    { name: 'celsius', type: 'double' },
  ],
};
export const DEVICE = {
  type: 'record',
  name: 'Device',
  namespace: 'iot',
  fields: [{ name: 'id', type: 'int' }],
};

export type Flavour = 'v1' | 'v2';
export type Path = 'direct' | 'outbox' | 'handover';

export interface Shape {
  name: string;
  /** The producer's content type setting ('' automatic). */
  contentType: string;
  msg: (registered: string) => Record<string, unknown>;
  /** Only over this flavour (v1 cannot send Avro keys; v1 Avro names a registered schema). */
  only?: Flavour;
}

export const HEADERS = [
  { name: 'bin', value: Buffer.from([0, 255, 128, 10]) },
  { name: 'ünïcødé', value: '✓ wörld' },
  { name: 'bin', value: 'repeated name' },
];

export const SHAPES: Shape[] = [
  { name: 'text', contentType: '', msg: () => ({ payload: 'hello wörld ✓', key: 'k1' }) },
  { name: 'json', contentType: '', msg: () => ({ payload: { a: 1, n: { b: [1, 2] }, s: 'ü' }, key: 'k2' }) },
  {
    name: 'buffer',
    contentType: '',
    msg: () => ({ payload: Buffer.from([0, 1, 2, 254, 255]), key: Buffer.from([0xca, 0xfe]) }),
  },
  { name: 'number', contentType: '', msg: () => ({ payload: 42 }) },
  { name: 'null key', contentType: '', msg: () => ({ payload: 'no key', key: null }) },
  { name: 'headers', contentType: '', msg: () => ({ payload: 'with headers', key: 'h', headers: HEADERS }) },
  {
    name: 'avro value (registered, v1)',
    contentType: '',
    only: 'v1',
    msg: (registered) => ({
      payload: { sensor: 'hall', celsius: 21.5 },
      schema: { format: 'avro', id: registered, version: 1 },
    }),
  },
  {
    name: 'avro value (inline, v2)',
    contentType: '',
    only: 'v2',
    msg: () => ({ payload: { sensor: 'hall', celsius: 21.5 }, schema: READING }),
  },
  {
    name: 'avro value (registered, v2)',
    contentType: '',
    only: 'v2',
    msg: (registered) => ({
      payload: { sensor: 'yard', celsius: -3 },
      schema: { format: 'avro', id: registered, version: 1 },
    }),
  },
  {
    name: 'avro key and value (v2)',
    contentType: '',
    only: 'v2',
    msg: () => ({
      payload: { sensor: 'roof', celsius: 9.25 },
      key: { id: 7 },
      schema: { value: { format: 'avro', schema: READING }, key: { format: 'avro', schema: DEVICE } },
    }),
  },
  ...CONTENT_TYPES.filter((ct) => ct !== '').map((ct): Shape => ({
    name: `content type ${ct}`,
    contentType: ct,
    msg: () => ({
      payload: ct.includes('json')
        ? { ct }
        : ct.includes('octet') || ct.includes('binary')
          ? Buffer.from([7, 0, 7])
          : ct.includes('xml')
            ? '<r a="ü">1</r>'
            : `text for ${ct}`,
      key: `key-${ct}`,
      headers: { 'content-kind': ct },
    }),
  })),
];

/**
 * The matrix's flow on config node `cfg` (either transport): producer `p<i>` for shape i on
 * `topics[i]`, and `blocker` on the last topic (the hand-over runs queue the shapes behind its
 * records), all reporting to `out`, with a Catch into `caught`.
 */
export function shapesFlow(cfg: Record<string, unknown>, topics: string[]): Array<Record<string, unknown>> {
  return [
    TAB,
    cfg,
    ...SHAPES.map((s, i) => ({
      id: `p${i}`,
      z: 'tab1',
      type: 'event-streams-producer',
      endpoint: 'cfg',
      topic: topics[i],
      contentType: s.contentType,
      wires: [['out']],
    })),
    {
      id: 'blocker',
      z: 'tab1',
      type: 'event-streams-producer',
      endpoint: 'cfg',
      topic: topics.at(-1),
      wires: [],
    },
    ...outAndCatch(),
  ];
}

/** The bytes a record has in the topic, comparable across runs and transports. */
export function bytesOf(r: {
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[string, Buffer]>;
}): unknown {
  return {
    key: r.key?.toString('base64') ?? null,
    value: r.value?.toString('base64') ?? null,
    headers: r.headers.map(([k, v]) => [k, v.toString('base64')]),
  };
}
