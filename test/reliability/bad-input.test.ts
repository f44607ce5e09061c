// SPDX-License-Identifier: Apache-2.0
/**
 * Bad input: a few thousand generated messages (seeded PRNG, so a failure reproduces) through the
 * producer and topic-admin nodes: every payload type, sizes at the limits, unicode and lone
 * surrogates in keys and headers, circular objects, huge header sets, illegal topic names, wrong
 * operations and wrongly typed partitions/configs. Node-RED must not crash, every message gets
 * exactly one outcome (a delivery or an error whose code is in the generator's allowed set), and
 * the heap returns near its baseline. Then a burst of garbage over raw TLS and TCP sockets at the
 * local endpoint, which must still serve afterwards.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import v8 from 'node:v8';
import vm from 'node:vm';

import { request, Agent } from 'undici';

import { allNodes, helper, startTestEndpoint, topicAdminNode, type TestEndpoint } from '../nodes/support';
import { delay, waitFor } from '../support/wait';

void topicAdminNode;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { hooks } = require('@node-red/util') as {
  hooks: {
    add(
      id: string,
      fn: (e: { msg: { _msgid?: string }; error?: unknown; node: { id: string } }) => void,
    ): void;
    remove(id: string): void;
  };
};

const API_KEY = 'bad-input-key-4r5t6y7u8i';
const TOPIC = 'bad-input';
const VALUE_LIMIT = 65536;
const KEY_LIMIT = 4096;

/** mulberry32: tiny, fast, good enough for test data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Gen = { name: string; allowed: string[]; make: (r: () => number, i: number) => Record<string, unknown> };

const pick = <T>(r: () => number, list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
const UNICODE = ['héllo', '日本語', '🚀🔥', 'Ω≈ç√', 'zero\u0000byte', 'rtl\u202Etext', 'e\u0301'];
const LONE = ['\uD800', 'a\uDFFFb', '\uDBFFx', 'x\uD83D'];

function circular(): Record<string, unknown> {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
}

const SIZE_CODES = ['VALUE_TOO_LARGE', 'PAYLOAD_TOO_LARGE', 'KEY_TOO_LARGE', 'URI_TOO_LONG'];

const PRODUCER_GENS: Gen[] = [
  {
    name: 'payload types',
    // '' is sent and refused by the server (an empty body is a 400 on IBM Cloud).
    allowed: ['ok', 'INVALID_VALUE', 'BAD_REQUEST'],
    make: (r) => ({
      payload: pick(r, [
        'text',
        '',
        42,
        -0.5,
        Number.NaN,
        Infinity,
        true,
        false,
        { a: [1, { b: null }] },
        [],
        [1, 'x'],
        Buffer.from([0, 255, 1]),
        new Uint8Array([1, 2, 3]),
        new Date(0),
        null,
        undefined,
        BigInt(12345678901234567890n),
        Symbol('s'),
        () => 1,
        circular(),
        { deep: JSON.parse('['.repeat(200) + ']'.repeat(200)) },
        new Map([[1, 2]]),
      ]),
    }),
  },
  {
    name: 'value sizes at the limit',
    allowed: ['ok', ...SIZE_CODES],
    make: (r) => {
      const n = VALUE_LIMIT + pick(r, [-1, 0, 1, -100, 100]);
      return { payload: pick(r, ['a', 'é']).repeat(pick(r, [n, Math.floor(n / 2)])) };
    },
  },
  {
    name: 'buffer sizes at the limit',
    allowed: ['ok', ...SIZE_CODES],
    make: (r) => ({ payload: Buffer.alloc(VALUE_LIMIT + pick(r, [-1, 0, 1])) }),
  },
  {
    name: 'keys',
    allowed: ['ok', 'INVALID_KEY', ...SIZE_CODES],
    make: (r) => ({
      payload: 'v',
      key: pick(r, [
        pick(r, UNICODE),
        pick(r, LONE),
        'k'.repeat(KEY_LIMIT + pick(r, [-1, 0, 1])),
        Buffer.alloc(KEY_LIMIT + 1),
        12,
        true,
        { o: 1 },
        [1],
        circular(),
        Symbol('k'),
        '',
        null,
      ]),
    }),
  },
  {
    name: 'headers',
    allowed: ['ok', 'INVALID_HEADERS', ...SIZE_CODES],
    make: (r) => {
      const kind = Math.floor(r() * 8);
      let headers: unknown;
      if (kind === 0) headers = { [pick(r, UNICODE)]: pick(r, UNICODE) };
      else if (kind === 1) headers = { [pick(r, LONE)]: 'v' };
      else if (kind === 2) headers = { h: pick(r, LONE) };
      else if (kind === 3)
        headers = Object.fromEntries(Array.from({ length: 2000 }, (_, j) => [`h${j}`, 'v'.repeat(50)]));
      else if (kind === 4) headers = { c: circular() };
      else if (kind === 5) headers = [{ name: '', value: 'x' }, { nope: 1 }];
      else if (kind === 6) headers = pick(r, ['str', 5, true, Buffer.from('x')]);
      else headers = { n: 1, b: false, list: ['a', 'b'], nil: null, buf: Buffer.from([1]) };
      return { payload: 'v', headers };
    },
  },
  {
    name: 'topics',
    allowed: ['ok', 'INVALID_TOPIC', 'TOPIC_NOT_FOUND', ...SIZE_CODES],
    make: (r) => ({
      payload: 'v',
      topic: pick(r, [
        '',
        ' ',
        '.',
        '..',
        'a b',
        'a/b',
        '../etc',
        'x'.repeat(250),
        'ü',
        pick(r, LONE),
        'missing-topic-xyz',
        12,
        { t: 1 },
        ['a'],
        null,
        TOPIC,
      ]),
    }),
  },
];

const ADMIN_GENS: Gen[] = [
  {
    name: 'operations',
    allowed: ['ok', 'VALIDATION', 'INVALID_TOPIC', 'TOPIC_NOT_FOUND'],
    make: (r) => ({
      operation: pick(r, [
        'list',
        'LIST',
        'get',
        'nuke',
        '',
        42,
        null,
        { op: 1 },
        ['list'],
        'delete ',
        pick(r, LONE),
      ]),
      topic: 'bad-admin-missing',
      payload: {},
    }),
  },
  {
    name: 'partitions and configs',
    allowed: ['ok', 'VALIDATION', 'INVALID_TOPIC', 'TOPIC_EXISTS', 'BAD_REQUEST', 'TOPIC_NOT_FOUND'],
    make: (r, i) => ({
      operation: pick(r, ['create', 'ensure', 'update']),
      topic: pick(r, [`bad-admin-${i % 7}`, '', '..', 'a b', pick(r, LONE)]),
      payload: pick(r, [
        { partitions: pick(r, [1, 2, '3', 0, -1, 1.5, 'x', null, {}, [], true, 1e9, Number.NaN]) },
        {
          configs: pick(r, [
            { 'retention.ms': '1000' },
            { 'retention.ms': { x: 1 } },
            'str',
            [1],
            [{ name: '' }],
            5,
          ]),
        },
        { partitions: 1, configs: { 'cleanup.policy': ['a'] } },
        'not-an-object',
        null,
      ]),
    }),
  },
];

/**
 * A forced GC: global.gc under --expose-gc, else the V8 flag set at run time and gc taken from a
 * fresh context (mocha runs without --expose-gc by default). Undefined if neither works.
 */
function getGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}
const gc = getGc();

function heapMiB(): number {
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed / 1048576;
}

describe('reliability: bad input', function () {
  this.timeout(120000);
  let te: TestEndpoint;

  before(async () => {
    te = await startTestEndpoint({ apiKeys: [API_KEY], topics: [{ name: TOPIC, partitions: 2 }] });
  });
  after(async () => {
    await te?.stop();
  });
  afterEach(async () => {
    await helper.unload();
  });

  const flow = (): Array<Record<string, unknown>> => [
    { id: 'tab1', type: 'tab', label: 'bad' },
    {
      id: 'cfg',
      type: 'event-streams-endpoint',
      url: te.endpoint.url,
      authMode: 'bearer',
      verifyTls: true,
      connections: 8,
      requestTimeout: 5,
      retries: 1,
      retryDelay: 10,
      maxRetryTime: 5,
      queueMessages: 10000,
      queueBytes: 256 * 1024 * 1024,
      closeTimeout: 1,
    },
    { id: 'p1', z: 'tab1', type: 'event-streams-producer', endpoint: 'cfg', topic: '', wires: [[]] },
    { id: 'a1', z: 'tab1', type: 'event-streams-topic-admin', endpoint: 'cfg', backend: 'rest', wires: [[]] },
  ];

  it('thousands of generated messages: one outcome each, codes from the allowed set, heap back near baseline', async () => {
    await helper.load(allNodes, flow(), { cfg: { apiKey: API_KEY, ca: te.endpoint.caPem } });
    const outcomes = new Map<string, string[]>();
    hooks.add('onComplete.badinput', (e) => {
      if (e.node.id !== 'p1' && e.node.id !== 'a1') return;
      const id = String(e.msg._msgid);
      const code = e.error ? String((e.error as { code?: unknown }).code ?? 'NO_CODE') : 'ok';
      const root =
        e.error && (e.error as { code?: unknown }).code === 'RETRIES_EXHAUSTED'
          ? String(((e.error as { cause?: { code?: unknown } }).cause ?? {}).code)
          : code;
      outcomes.set(id, [...(outcomes.get(id) ?? []), root]);
    });
    const expected = new Map<string, Gen>();
    const r = prng(0xc0ffee);
    const send = async (node: string, gens: Gen[], count: number, prefix: string): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const gen = gens[i % gens.length]!;
        const id = `${prefix}${i}`;
        expected.set(id, gen);
        const msg = gen.make(r, i);
        if (node === 'p1' && msg.topic === undefined) msg.topic = TOPIC;
        helper.getNode(node).receive({ ...msg, _msgid: id });
        // Let the event loop breathe so sends do not pile up in one tick.
        if (i % 100 === 99) await delay(1);
      }
    };
    try {
      // Warm-up so the baseline includes the loaded modules and pools.
      await send('p1', PRODUCER_GENS, 60, 'w');
      await waitFor(() => outcomes.size === 60, 'warm-up', { timeoutMs: 20000 });
      const baseline = heapMiB();
      await send('p1', PRODUCER_GENS, 3000, 'p');
      await send('a1', ADMIN_GENS, 600, 'a');
      await waitFor(() => outcomes.size === expected.size, 'every outcome', { timeoutMs: 90000 });
      // Once the flows are stopped no node can report again: a second outcome would be counted now.
      await helper.clearFlows();
      const tally: Record<string, Record<string, number>> = {};
      for (const [id, gen] of expected) {
        const got = outcomes.get(id);
        assert.ok(got, `no outcome for ${id} (${gen.name})`);
        assert.equal(got.length, 1, `${id} (${gen.name}) has ${got.length} outcomes: ${got.join(',')}`);
        assert.ok(gen.allowed.includes(got[0]!), `${id} (${gen.name}): unexpected ${got[0]}`);
        const t = (tally[gen.name] ??= {});
        t[got[0]!] = (t[got[0]!] ?? 0) + 1;
      }
      console.log(
        Object.entries(tally)
          .map(
            ([g, t]) =>
              `      [${g}] ${Object.entries(t)
                .map(([c, n]) => `${c}×${n}`)
                .join(' ')}`,
          )
          .join('\n'),
      );
      // Every generator produced at least one specific error and (except for pure garbage) a delivery.
      for (const gen of [...PRODUCER_GENS, ...ADMIN_GENS]) {
        assert.ok(
          Object.keys(tally[gen.name] ?? {}).some((c) => c !== 'ok'),
          `${gen.name} produced no error`,
        );
      }
      const delivered = [...outcomes.entries()].filter(
        ([id, o]) => id.startsWith('p') && o[0] === 'ok',
      ).length;
      assert.ok(delivered > 300, `deliveries happened (${delivered})`);
      outcomes.clear();
      expected.clear();
      // The test helper's sinon spies keep every call's arguments until unload, and the endpoint's
      // memory backend keeps the delivered records: release both before measuring.
      await helper.unload();
      await te.endpoint.backend.deleteTopic(TOPIC);
      await te.endpoint.backend.createTopic(TOPIC, 2, []);
      await delay(200);
      // The helper's log spy (sinon) keeps an Error with a captured call stack per log call, and
      // those stacks hold the contexts of the messages being logged about: ~65 MiB here. That is
      // the test harness, not the nodes, so its history is reset before measuring.
      helper._logSpy?.resetHistory();
      const after = heapMiB();
      // With a forced GC the bound is tight; without one it only catches a gross leak.
      const bound = gc ? 16 : 96;
      console.log(
        `      heap: baseline ${baseline.toFixed(1)} MiB, after ${after.toFixed(1)} MiB (bound +${bound}, forced gc ${Boolean(gc)})`,
      );
      assert.ok(after - baseline < bound, `heap grew ${(after - baseline).toFixed(1)} MiB`);
    } finally {
      hooks.remove('onComplete.badinput');
    }
  });

  it('the local endpoint survives a burst of garbage over raw TLS and TCP and still serves', async () => {
    const r = prng(42);
    const url = new URL(te.endpoint.url);
    const port = Number(url.port);
    const garbage = (): Buffer => {
      const kind = Math.floor(r() * 5);
      const rand = Buffer.from(
        Array.from({ length: 1 + Math.floor(r() * 4000) }, () => Math.floor(r() * 256)),
      );
      if (kind === 0) return rand;
      if (kind === 1)
        return Buffer.concat([Buffer.from('POST /topics/x/records HTTP/1.1\r\nHost: a\r\n'), rand]);
      if (kind === 2) return Buffer.from(`GET /${'a'.repeat(70000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
      if (kind === 3)
        return Buffer.from(
          `POST /topics/${TOPIC}/records HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\nAuthorization: Bearer ${API_KEY}\r\n\r\nxx`,
        );
      return Buffer.from(
        `POST /admin/topics HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n${rand.toString('latin1')}`,
      );
    };
    const one = (useTls: boolean): Promise<void> =>
      new Promise((resolve) => {
        const socket = useTls
          ? tls.connect({ host: '127.0.0.1', port, ca: te.endpoint.caPem, servername: 'localhost' })
          : net.connect({ host: '127.0.0.1', port });
        const finish = (): void => {
          clearTimeout(timer);
          socket.destroy();
          resolve();
        };
        const timer = setTimeout(finish, 1500);
        socket.on('error', finish);
        socket.on('close', finish);
        socket.on('data', () => undefined);
        socket.once(useTls ? 'secureConnect' : 'connect', () => {
          socket.write(garbage());
          if (r() < 0.5) socket.end();
        });
      });
    const jobs: Array<Promise<void>> = [];
    for (let i = 0; i < 200; i++) jobs.push(one(i % 4 !== 0));
    await Promise.all(jobs);
    const agent = new Agent({ connect: { ca: te.endpoint.caPem } });
    try {
      const res = await request(`${te.endpoint.url}/topics/${TOPIC}/records`, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'text/plain' },
        body: 'still alive',
      });
      const body = await res.body.text();
      assert.equal(res.statusCode, 200, body);
    } finally {
      await agent.close();
    }
  });
});
