// SPDX-License-Identifier: Apache-2.0
/**
 * Shared plumbing for the node tests: the test helper pinned to the installed Node-RED, the three
 * node modules plus the core catch node, a local endpoint per test file, and small waits.
 */
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

export const TAB = { id: 'tab1', type: 'tab', label: 'test' };

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
