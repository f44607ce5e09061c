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
  let te: TestEndpoint | undefined;
  before(async () => {
    te = await startTestEndpoint({ apiKeys: [apiKey] });
  });
  after(async () => {
    await te?.stop();
  });
  afterEach(async () => {
    await helper.unload();
  });

  const self: TopicAdminFlow = {
    get endpoint(): LocalEndpoint {
      if (!te) throw new Error('the endpoint starts in the suite’s before hook');
      return te.endpoint;
    },
    flow(admin = {}) {
      return [
        TAB,
        endpointConfig(self.endpoint),
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
    },
    async load(admin = {}) {
      await helper.load(allNodes, self.flow(admin), { cfg: { apiKey, ca: self.endpoint.caPem } });
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
