// SPDX-License-Identifier: Apache-2.0
/**
 * An embedded Node-RED runtime for the benchmark: `require('node-red')`, `RED.init(server,
 * settings)`, `RED.start()`, flows deployed with `RED.nodes.setFlows` (full deploy). The editor and
 * the HTTP endpoints are off and the server never listens. This package's nodes are loaded the way
 * Node-RED loads any installed node: from `dist/nodes` via `nodesDir`, with their .html files.
 *
 * Two bench-only node types are registered programmatically (RED.nodes.registerType) and talk to
 * the driver through {@link hub}:
 * - `bench-source` emits messages when the driver asks (one per `hub.emit()`),
 * - `bench-sink` reports every message it receives (role `ok` or `error`).
 *
 * Message delivery is Node-RED's default (asynchronous, one setImmediate per hop): what users run.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  BENCH_KEY,
  BENCH_PAYLOAD,
  DIST,
  type EndpointInfo,
  type LoadSettings,
  type RequestTemplate,
} from './common';

type Msg = Record<string, unknown> & { _benchId?: number };

/** Connects the bench nodes of the deployed flow to the driver. */
export const hub = {
  source: undefined as { send(msg: Msg): void } | undefined,
  /** Called by a sink for every message; `ok` false for messages that arrived on the error path. */
  onSink: (_msg: Msg, _ok: boolean): void => undefined,
  /** Messages parked by `bench-hold` nodes. */
  held: [] as Array<{ msg: Msg; send: (msg: Msg) => void; done: () => void }>,
  /** Passes every held message on and completes it. */
  release(): void {
    const list = hub.held;
    hub.held = [];
    for (const h of list) {
      h.send(h.msg);
      h.done();
    }
  },
};

interface RuntimeApi {
  init(server: http.Server, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  version: string;
  events: { once(event: string, fn: () => void): void };
  nodes: {
    setFlows(flows: unknown[], credentials: unknown, type: string): Promise<unknown>;
    registerType(set: string, type: string, ctor: unknown, opts?: unknown): void;
    createNode(node: unknown, def: unknown): void;
    getType(type: string): unknown;
    getNode(id: string): unknown;
  };
}

interface BenchNode {
  on(event: 'input', fn: (msg: Msg, send: unknown, done: (err?: Error) => void) => void): void;
  send(msg: Msg): void;
}

export interface EmbeddedRuntime {
  RED: RuntimeApi;
  userDir: string;
  /** Which node types this runtime can deploy (e.g. whether our producer loaded). */
  hasType(type: string): boolean;
  deploy(flow: unknown[]): Promise<void>;
  stop(): Promise<void>;
}

/** Starts Node-RED in this process with a throwaway user directory. */
export async function startRuntime(): Promise<EmbeddedRuntime> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'esnodes-bench-nr-'));
  // Node-RED must be required lazily: loading it has side effects (logging, registry state).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RED = require('node-red') as RuntimeApi;
  const server = http.createServer();
  RED.init(server, {
    userDir,
    flowFile: 'flows.json',
    credentialSecret: false,
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    nodesDir: [path.join(DIST, 'nodes')],
    logging: { console: { level: 'error', metrics: false, audit: false } },
    editorTheme: { projects: { enabled: false } },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    functionExternalModules: false,
  });
  // RED.start() resolves before the (empty) initial flows are loaded and started; that load
  // replaces the credential cache, so a deploy racing it would lose its credentials.
  const initialFlowsStarted = new Promise<void>((resolve) =>
    RED.events.once('flows:started', () => resolve()),
  );
  await RED.start();
  await initialFlowsStarted;

  RED.nodes.registerType(
    'esnodes-bench',
    'bench-source',
    function BenchSource(this: BenchNode, def: unknown) {
      RED.nodes.createNode(this, def);
      hub.source = this;
    },
  );
  RED.nodes.registerType(
    'esnodes-bench',
    'bench-sink',
    function BenchSink(this: BenchNode, def: { role?: string }) {
      RED.nodes.createNode(this, def);
      const ok = def.role !== 'error';
      this.on('input', (msg, _send, done) => {
        hub.onSink(msg, ok);
        done();
      });
    },
  );

  // Passes each message straight on: a stand-in for a node that costs nothing.
  RED.nodes.registerType('esnodes-bench', 'bench-pass', function BenchPass(this: BenchNode, def: unknown) {
    RED.nodes.createNode(this, def);
    this.on('input', (msg, send, done) => {
      (send as (m: Msg) => void)(msg);
      done();
    });
  });

  // Holds every message (with its send and done) until released: the cost Node-RED itself
  // charges for a message a node has not finished yet, for the heap probe's attribution.
  RED.nodes.registerType('esnodes-bench', 'bench-hold', function BenchHold(this: BenchNode, def: unknown) {
    RED.nodes.createNode(this, def);
    this.on('input', (msg, send, done) => {
      hub.held.push({ msg, send: send as (m: Msg) => void, done });
    });
  });

  return {
    RED,
    userDir,
    hasType: (type) => Boolean(RED.nodes.getType(type)),
    deploy: async (flow) => {
      hub.source = undefined;
      // Credentials travel beside the flow, keyed by node id, as the editor's deploy sends them.
      const credentials: Record<string, unknown> = {};
      const nodes = (flow as Array<Record<string, unknown>>).map((n, i) => {
        const { credentials: creds, ...rest } = n;
        if (creds) credentials[rest.id as string] = creds;
        // Nodes without x/y are taken for config nodes; give flow nodes a position.
        return rest.z ? { x: 100 + 150 * i, y: 100, ...rest } : rest;
      });
      await RED.nodes.setFlows(nodes, credentials, 'full');
      // Flows start asynchronously after setFlows resolves; wait until the source exists.
      for (let i = 0; i < 500 && !hub.source; i++) await new Promise((r) => setTimeout(r, 10));
      if (!hub.source) throw new Error('the deployed flow did not start (no bench-source)');
    },
    stop: async () => {
      await RED.stop();
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}

const TAB = 'bench-tab';

/**
 * bench-source → event-streams-producer → bench-sink, plus catch → bench-sink(error).
 * The producer's output is the input message with `msg.eventstreams` added, after the ack.
 */
export function producerFlow(
  endpoint: EndpointInfo,
  load: LoadSettings,
  queueMessages: number,
  kafkaTransport = false,
): unknown[] {
  return [
    { id: TAB, type: 'tab', label: 'bench' },
    {
      id: 'bench-endpoint',
      type: 'event-streams-endpoint',
      name: 'bench',
      // The Kafka transport row: straight to the gateway's broker (same broker as the kafkajs rows),
      // whose listener is PLAINTEXT without SASL, as the kafkajs rows use it.
      ...(kafkaTransport
        ? {
            transport: 'kafka',
            brokers: (endpoint.brokers ?? []).join(','),
            brokersTls: false,
            saslMechanism: 'none',
          }
        : {}),
      url: endpoint.url,
      flavour: 'v1',
      authMode: 'bearer',
      verifyTls: true,
      connections: load.connections,
      orderByKey: load.orderByKey === true,
      queueMessages,
      queueBytes: 1024 * 1024 * 1024,
      // A benchmark must not hide failures behind retries.
      retries: 0,
      requestTimeout: 30,
      credentials: { apiKey: endpoint.apiKey, ...(endpoint.caPem ? { ca: endpoint.caPem } : {}) },
    },
    { id: 'src', z: TAB, type: 'bench-source', wires: [['prod']] },
    {
      id: 'prod',
      z: TAB,
      type: 'event-streams-producer',
      endpoint: 'bench-endpoint',
      topic: endpoint.topic,
      key: 'key',
      keyType: 'msg',
      headers: '',
      headersType: 'none',
      outputs: 1,
      wires: [['sink']],
    },
    { id: 'sink', z: TAB, type: 'bench-sink', role: 'ok', wires: [] },
    { id: 'bench-catch', z: TAB, type: 'catch', scope: ['prod'], uncaught: false, wires: [['sink-err']] },
    { id: 'sink-err', z: TAB, type: 'bench-sink', role: 'error', wires: [] },
  ];
}

/** bench-source → bench-pass → bench-sink: the cost of Node-RED's delivery over the same two hops. */
export function passFlow(): unknown[] {
  return [
    { id: TAB, type: 'tab', label: 'bench' },
    { id: 'src', z: TAB, type: 'bench-source', wires: [['pass']] },
    { id: 'pass', z: TAB, type: 'bench-pass', wires: [['sink']] },
    { id: 'sink', z: TAB, type: 'bench-sink', role: 'ok', wires: [] },
  ];
}

/** bench-source → bench-hold → bench-sink: Node-RED's own per-message cost, without our node. */
export function holdFlow(): unknown[] {
  return [
    { id: TAB, type: 'tab', label: 'bench' },
    { id: 'src', z: TAB, type: 'bench-source', wires: [['hold']] },
    { id: 'hold', z: TAB, type: 'bench-hold', wires: [['sink']] },
    { id: 'sink', z: TAB, type: 'bench-sink', role: 'ok', wires: [] },
  ];
}

/**
 * What a user would build without this package: bench-source → change (sets msg.url and
 * msg.headers; the payload is already msg.payload) → core `http request` (POST, keep-alive on,
 * tls-config with the CA for HTTPS) → bench-sink. The request is the captured template: same
 * path, query, headers and JSON body as our client sends.
 */
export function httpRequestFlow(
  endpoint: EndpointInfo,
  template: RequestTemplate,
  caFile?: string,
): unknown[] {
  const headers: Record<string, string> = { ...template.headers, authorization: `Bearer ${endpoint.apiKey}` };
  const https = endpoint.url.startsWith('https:');
  return [
    { id: TAB, type: 'tab', label: 'bench' },
    ...(https
      ? [
          {
            id: 'bench-tls',
            type: 'tls-config',
            name: 'bench CA',
            cert: '',
            key: '',
            ca: caFile ?? '',
            certname: '',
            keyname: '',
            caname: '',
            servername: '',
            verifyservercert: true,
            alpnprotocol: '',
          },
        ]
      : []),
    { id: 'src', z: TAB, type: 'bench-source', wires: [['chg']] },
    {
      id: 'chg',
      z: TAB,
      type: 'change',
      rules: [
        { t: 'set', p: 'url', pt: 'msg', to: endpoint.url + template.path, tot: 'str' },
        { t: 'set', p: 'headers', pt: 'msg', to: JSON.stringify(headers), tot: 'json' },
      ],
      wires: [['req']],
    },
    {
      id: 'req',
      z: TAB,
      type: 'http request',
      method: 'POST',
      ret: 'txt',
      paytoqs: 'ignore',
      url: '',
      tls: https ? 'bench-tls' : '',
      persist: true,
      proxy: '',
      insecureHTTPParser: false,
      authType: '',
      senderr: false,
      headers: [],
      wires: [['sink']],
    },
    { id: 'sink', z: TAB, type: 'bench-sink', role: 'ok', wires: [] },
    { id: 'bench-catch', z: TAB, type: 'catch', scope: ['req'], uncaught: false, wires: [['sink-err']] },
    { id: 'sink-err', z: TAB, type: 'bench-sink', role: 'error', wires: [] },
  ];
}

/** A fresh message as an inject or MQTT-in node would make it; the payload object is shared. */
export function benchMessage(id: number, keys = 1, payload: unknown = BENCH_PAYLOAD): Msg {
  const key = keys > 1 ? `${BENCH_KEY}-${id % keys}` : BENCH_KEY;
  return { _benchId: id, payload, key, topic: 'bench' };
}
