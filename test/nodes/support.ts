// SPDX-License-Identifier: Apache-2.0
/**
 * Shared plumbing for the node tests: the test helper pinned to the installed Node-RED, the three
 * node modules plus the core catch node, a local endpoint per test file, and small waits.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';

import rawHelper from 'node-red-node-test-helper';

import { startLocalEndpoint, type LocalEndpoint } from '../../gateway/server';
import type { LocalEndpointOptions } from '../../gateway/types';
import endpointNode from '../../nodes/event-streams-endpoint';
import producerNode from '../../nodes/event-streams-producer';
import topicAdminNode from '../../nodes/event-streams-topic-admin';
import { waitFor } from '../support/wait';

/**
 * The Node-RED installation under test: node_modules/node-red unless NODE_RED_MODULE names another
 * one (scripts/compat-nr5.sh points it at Node-RED 5 running under Node 22).
 */
export const NODE_RED_DIR = path.dirname(
  require.resolve(path.join(process.env.NODE_RED_MODULE || 'node-red', 'package.json')),
);
rawHelper.init(require.resolve(NODE_RED_DIR));

/** A core node module (e.g. `common/20-inject.js`) from the Node-RED installation under test. */
export function coreNode(file: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(require.resolve(`@node-red/nodes/core/${file}`, { paths: [NODE_RED_DIR] }));
}

/**
 * Every status text a node of ours shows, in every suite that loads this file, by node type:
 * test/nodes/status-keys.test.ts fails the run if one of them is a raw message key (a missing
 * translation, or a lookup into another node's catalog).
 */
export const seenStatuses = new Map<string, Set<string>>();
{
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RuntimeNode = require(
    require.resolve('@node-red/runtime/lib/nodes/Node', { paths: [NODE_RED_DIR] }),
  ) as {
    prototype: { status: (this: { type?: unknown }, status: unknown) => unknown };
  };
  const original = RuntimeNode.prototype.status;
  RuntimeNode.prototype.status = function (this: { type?: unknown }, status: unknown) {
    if (typeof this.type === 'string' && this.type.startsWith('event-streams-')) {
      const text = typeof status === 'string' ? status : (status as { text?: unknown } | undefined)?.text;
      if (text !== undefined && text !== null && text !== '') {
        let set = seenStatuses.get(this.type);
        if (!set) seenStatuses.set(this.type, (set = new Set()));
        set.add(String(text));
      }
    }
    return original.call(this, status);
  };
}

// Loosely typed on purpose: the helper's typings predate its promise API and the flow shapes used here.
export const helper: any = rawHelper;

// The helper does not load core nodes by itself (node-red-node-test-helper#48).
export const catchNode = coreNode('common/25-catch.js');

export { endpointNode, producerNode, topicAdminNode };
export const allNodes = [endpointNode, producerNode, topicAdminNode, catchNode];

export interface TestEndpoint {
  endpoint: LocalEndpoint;
  stateDir: string;
  stop(): Promise<void>;
}

/** One local HTTPS endpoint (verification on, its own CA) in a temp state dir. */
export async function startTestEndpoint(options: LocalEndpointOptions = {}): Promise<TestEndpoint> {
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-nodes-'));
  const endpoint = await startLocalEndpoint({ port: 0, stateDir, ...options });
  return {
    endpoint,
    stateDir,
    async stop() {
      await endpoint.stop();
      await fs.rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** What {@link useTestEndpoint} gives a suite: its endpoint, and the flows' credentials for it. */
export interface SuiteEndpoint {
  /** Started in the suite's `before` hook. */
  readonly endpoint: LocalEndpoint;
  readonly stateDir: string;
  /** A topic of its own (named from `prefix`) on the endpoint. */
  createTopic(prefix: string, partitions?: number): Promise<string>;
  /** Credentials of config node `cfg`: the suite's API key and the endpoint's CA (verification on). */
  creds(extra?: Record<string, unknown>): Record<string, Record<string, unknown>>;
}

/**
 * The set-up the producer suites share: one local endpoint (API key `apiKey`, more `options`) for
 * the `describe` block that calls this, and after each test its faults cleared and the flow
 * unloaded. With `settings`, a temp dir is made for the suite and handed to it to build the
 * runtime's settings (an outbox base dir, a userDir), which are reset afterwards.
 */
export function useTestEndpoint(
  apiKey: string,
  options: LocalEndpointOptions = {},
  settings?: (dir: string) => Record<string, unknown>,
): SuiteEndpoint {
  let te: TestEndpoint | undefined;
  let dir: string | undefined;
  before(async () => {
    te = await startTestEndpoint({ apiKeys: [apiKey], ...options });
    if (settings) {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-nodes-settings-'));
      helper.settings(settings(dir));
    }
  });
  after(async () => {
    if (settings) helper.settings({});
    await te?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    te?.endpoint.clearFaults();
    await helper.unload();
  });
  const started = (): TestEndpoint => {
    if (!te) throw new Error('the endpoint starts in the suite’s before hook');
    return te;
  };
  return {
    get endpoint() {
      return started().endpoint;
    },
    get stateDir() {
      return started().stateDir;
    },
    async createTopic(prefix, partitions = 1) {
      const name = uniqueTopic(prefix);
      await started().endpoint.backend.createTopic(name, partitions, []);
      return name;
    },
    creds(extra = {}) {
      return { cfg: { apiKey, ca: started().endpoint.caPem, ...extra } };
    },
  };
}

export function uniqueTopic(prefix = 't'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** An endpoint config node for the flow, with fast retries so the suite stays quick. */
export function endpointConfig(
  ep: LocalEndpoint,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id: 'cfg',
    type: 'event-streams-endpoint',
    name: 'local',
    url: ep.url,
    adminUrl: ep.adminUrl,
    flavour: 'v1',
    authMode: 'bearer',
    iamUrl: ep.iamUrl,
    verifyTls: true,
    connections: 4,
    requestTimeout: 5,
    retries: 3,
    retryDelay: 10,
    maxRetryTime: 5,
    closeTimeout: 5,
    ...overrides,
  };
}

/**
 * An endpoint config node on the Kafka transport to the plaintext test broker (no URL: the
 * transport needs none), with fast retries so a failing test fails quickly.
 */
export function kafkaEndpointConfig(
  brokers: string[],
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id: 'cfg',
    type: 'event-streams-endpoint',
    name: 'kafka',
    transport: 'kafka',
    brokers: brokers.join(','),
    brokersTls: false,
    authMode: 'none',
    requestTimeout: 5,
    retries: 3,
    retryDelay: 50,
    maxRetryTime: 10,
    closeTimeout: 5,
    ...overrides,
  };
}

export const TAB = { id: 'tab1', type: 'tab', label: 'test' };

/** Where a flow's node under test reports: helper `out`, and a Catch of the whole tab into helper `caught`. */
export function outAndCatch(): Array<Record<string, unknown>> {
  return [
    { id: 'out', z: 'tab1', type: 'helper' },
    { id: 'c1', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab1', type: 'helper' },
  ];
}

/**
 * The producer suites' flow: the config node `cfg` (REST or Kafka transport), producer `p1`
 * (overridden by `producer`) → helper `out`, and {@link outAndCatch}'s Catch → `caught`.
 */
export function producerFlow(
  cfg: Record<string, unknown>,
  producer: Record<string, unknown> = {},
): Array<Record<string, unknown>> {
  return [
    TAB,
    cfg,
    {
      id: 'p1',
      z: 'tab1',
      type: 'event-streams-producer',
      endpoint: 'cfg',
      topic: '',
      wires: [['out']],
      ...producer,
    },
    ...outAndCatch(),
  ];
}

/**
 * The topic-admin suites' flow: the config node `cfg`, topic-admin `a1` over REST (overridden by
 * `admin`) → helper `out`, and {@link outAndCatch}'s Catch → `caught`.
 */
export function topicAdminFlow(
  cfg: Record<string, unknown>,
  admin: Record<string, unknown> = {},
): Array<Record<string, unknown>> {
  return [
    TAB,
    cfg,
    {
      id: 'a1',
      z: 'tab1',
      type: 'event-streams-topic-admin',
      endpoint: 'cfg',
      backend: 'rest',
      operation: '',
      topic: '',
      partitions: '',
      configs: '',
      filter: '',
      wires: [['out']],
      ...admin,
    },
    ...outAndCatch(),
  ];
}

/**
 * Sends `msg` to producer `p1` of the loaded {@link producerFlow} and waits for its outcome: what
 * reached `out` and `caught` by then.
 */
export async function produce(
  msg: Record<string, unknown>,
  timeoutMs = 30_000,
): Promise<{ out: Array<Record<string, any>>; caught: Array<Record<string, any>> }> {
  const out = collect('out');
  const caught = collect('caught');
  helper.getNode('p1').receive(msg);
  await waitFor(() => out.length + caught.length > 0, 'the outcome', { timeoutMs });
  return { out, caught };
}

/**
 * Adds every message reaching `out` or `caught` of the flow running now to `into` (a caught one
 * has `error`). A redeploy makes new nodes: call it again after one.
 */
export function watchOutcomes(into: Array<Record<string, any>>): void {
  helper.getNode('out').on('input', (m: Record<string, any>) => into.push(m));
  helper.getNode('caught').on('input', (m: Record<string, any>) => into.push(m));
}

/** `count` records for {@link assertOrderPerKey}: key `dev<i % keys>`, value `r<i>`, header `seq` i. */
export function seqRecords(
  count: number,
  keys: number,
): Array<{ key: string; value: string; headers: { seq: string } }> {
  return Array.from({ length: count }, (_, i) => ({
    key: `dev${i % keys}`,
    value: `r${i}`,
    headers: { seq: String(i) },
  }));
}

/** A record as the endpoint or Kafka holds it, for checking what a producer reported. */
export interface HeldRecord {
  partition: number;
  offset: number | string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[string, Buffer]>;
}

/**
 * A multi-record message's `msg.eventstreams.records`: one report per element, each naming the
 * partition/offset where `held` has that element's value (and `topic`, when given).
 * `values[i]` undefined: element i failed, so its report must carry an error instead.
 */
export function assertReportsMatch(
  reports: Array<Record<string, any>>,
  held: HeldRecord[],
  values: Array<string | undefined>,
  topic?: string,
): void {
  const at = new Map(held.map((h) => [`${h.partition}/${Number(h.offset)}`, h.value?.toString()]));
  assert.equal(reports.length, values.length);
  for (const [i, r] of reports.entries()) {
    if (values[i] === undefined) {
      assert.ok(r.error, `record ${i} failed, so its report carries the error`);
      continue;
    }
    if (topic !== undefined) assert.equal(r.topic, topic, `record ${i}`);
    assert.equal(
      at.get(`${r.partition}/${r.offset}`),
      values[i],
      `record ${i} at ${r.partition}/${r.offset}`,
    );
  }
}

/**
 * Records whose values are `r<seq>` and whose `seq` header is that seq: each key's records are held
 * in the order they were given (rising seq per key, over every partition in `held`).
 * Returns how many keys there were.
 */
export function assertOrderPerKey(held: HeldRecord[]): number {
  const last = new Map<string, number>();
  for (const h of held) {
    const seq = Number(h.value!.toString().slice(1));
    const key = h.key!.toString();
    assert.ok((last.get(key) ?? -1) < seq, `key ${key} out of order`);
    assert.equal(h.headers.find(([n]) => n === 'seq')?.[1].toString(), String(seq));
    last.set(key, seq);
  }
  return last.size;
}

/** Collects messages arriving at a helper node. */
export function collect(nodeId: string): Array<Record<string, any>> {
  const got: Array<Record<string, any>> = [];
  helper.getNode(nodeId).on('input', (msg: Record<string, any>) => got.push(msg));
  return got;
}

/** Every string the helper's log spy saw, for "no secret leaked" checks. */
export function loggedText(): string {
  const log = helper.log();
  return log ? inspect(log.args, { depth: 6 }) : '';
}

/** Whether the log says a redeployed producer took over its predecessor's unsent messages. */
export function loggedTakeOver(): boolean {
  return (helper.log()?.args ?? []).some((c: any[]) =>
    /took over \d+ unsent message/.test(String(c[0]?.msg ?? c[0] ?? '')),
  );
}

/** What {@link useTopicAdminFlow} gives a suite. */
export interface TopicAdminFlow {
  /** The suite's local endpoint (memory backend), started in `before`. */
  readonly endpoint: LocalEndpoint;
  /** The flow: one topic-admin node `a1` (overridden by `admin`) → helper `out`, and a Catch → `caught`. */
  flow(admin?: Record<string, unknown>): Array<Record<string, unknown>>;
  /** Loads that flow with the endpoint's credentials. */
  load(admin?: Record<string, unknown>): Promise<void>;
  /** Sends one message to `a1` and resolves with whichever of output or Catch it reaches. */
  call(msg: Record<string, unknown>): Promise<{ out?: Record<string, any>; caught?: Record<string, any> }>;
}

/**
 * The set-up both topic-admin suites share (test/nodes/topic-admin and topic-admin-cluster): one
 * local endpoint for the `describe` block that calls this, and the flow unloaded after each test.
 */
export function useTopicAdminFlow(apiKey: string): TopicAdminFlow {
  const suite = useTestEndpoint(apiKey);

  const self: TopicAdminFlow = {
    get endpoint(): LocalEndpoint {
      return suite.endpoint;
    },
    flow(admin = {}) {
      return topicAdminFlow(endpointConfig(self.endpoint), admin);
    },
    async load(admin = {}) {
      await helper.load(allNodes, self.flow(admin), suite.creds());
    },
    async call(msg) {
      const out = collect('out');
      const caught = collect('caught');
      helper.getNode('a1').receive(msg);
      await waitFor(() => out.length + caught.length > 0, 'an outcome', { timeoutMs: 8000 });
      return { out: out[0], caught: caught[0] };
    },
  };
  return self;
}
