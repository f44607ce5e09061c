// SPDX-License-Identifier: Apache-2.0
/**
 * `npm start` as a user runs it (scripts/demo.js, the local endpoint plus a Node-RED child), in a
 * directory of the test's choosing, and the HTTP calls a user's editor makes to it: GET/POST
 * /flows, the inject button, the debug sidebar's websocket, and reading records back with the
 * endpoint's CA and key.
 */
import { waitFor } from './wait';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { Agent, request, WebSocket } from 'undici';

const DEMO = path.resolve(__dirname, '..', '..', 'scripts', 'demo.js');

export interface RunningDemo {
  child: ChildProcess;
  dir: string;
  editorUrl: string;
  endpointUrl: string;
  output: () => string;
  stop(): Promise<void>;
}

/** Starts the demo in `dir` (Node-RED on a free port) and resolves once it printed its URLs. */
export async function startDemo(dir: string, extra: string[] = []): Promise<RunningDemo> {
  const child = spawn(process.execPath, [DEMO, '--port', '0', '--dir', dir, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
    if (stderr.length > 200_000) stderr = stderr.slice(-20_000);
  });
  const ready = new Promise<{ editorUrl: string; endpointUrl: string }>((resolve, reject) => {
    const guard = setTimeout(
      () => reject(new Error(`the demo did not start\n${stdout}\n${stderr.slice(-3000)}`)),
      60000,
    );
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
      const editor = /Node-RED editor:\s+(\S+?)\/?\s/.exec(stdout);
      const endpoint = /Local endpoint:\s+(\S+)/.exec(stdout);
      if (editor && endpoint && /Start over with/.test(stdout)) {
        clearTimeout(guard);
        resolve({ editorUrl: editor[1]!, endpointUrl: endpoint[1]! });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(guard);
      reject(new Error(`the demo exited (${code})\n${stdout}\n${stderr.slice(-3000)}`));
    });
  });
  const urls = await ready;
  // The demo prints its URLs when Node-RED listens; the admin API answers 400 for /flows until
  // the flows are loaded. A user opening the editor a moment later sees them; a test waits.
  await waitFor(
    async () => {
      const res = await request(`${urls.editorUrl}/flows`, { headers: { 'node-red-api-version': 'v1' } });
      await res.body.dump();
      return res.statusCode === 200;
    },
    'the demo flows loaded',
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  return {
    child,
    dir,
    ...urls,
    output: () => `${stdout}\n${stderr.slice(-3000)}`,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
    },
  };
}

export type FlowNode = Record<string, any> & { id: string; type: string };

export async function getFlows(demo: RunningDemo): Promise<FlowNode[]> {
  const res = await request(`${demo.editorUrl}/flows`, { headers: { 'node-red-api-version': 'v1' } });
  const body = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET /flows: ${res.statusCode} ${body}`);
  return JSON.parse(body) as FlowNode[];
}

export async function postFlows(demo: RunningDemo, flows: FlowNode[]): Promise<void> {
  const res = await request(`${demo.editorUrl}/flows`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'node-red-api-version': 'v1',
      'node-red-deployment-type': 'full',
    },
    body: JSON.stringify(flows),
  });
  const body = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`POST /flows: ${res.statusCode} ${body}`);
}

/** The inject node's button; a 404 while the deployed flows are still starting is waited out. */
export async function inject(demo: RunningDemo, id: string): Promise<void> {
  const end = Date.now() + 15000;
  for (;;) {
    const res = await request(`${demo.editorUrl}/inject/${encodeURIComponent(id)}`, { method: 'POST' });
    const body = await res.body.text();
    if (res.statusCode === 200) return;
    if (res.statusCode !== 404 || Date.now() > end)
      throw new Error(`inject ${id}: ${res.statusCode} ${body}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * What the editor's Import does with a flow file: its nodes go onto a new tab; a config node
 * whose id already exists is not added again (the editor reuses the existing one), others are
 * added with the credentials the file carries.
 */
export function importFlow(
  existing: FlowNode[],
  nodes: FlowNode[],
  tabId: string,
  label: string,
): FlowNode[] {
  const ids = new Set(existing.map((n) => n.id));
  const added: FlowNode[] = [{ id: tabId, type: 'tab', label, disabled: false, info: '' }];
  for (const n of nodes) {
    const isConfig = !('x' in n) && !('wires' in n);
    if (isConfig) {
      if (!ids.has(n.id)) added.push({ ...n });
    } else {
      added.push({ ...n, z: tabId });
    }
  }
  return [...existing, ...added];
}

/** The debug sidebar: every debug message published while connected. */
export async function debugSidebar(
  demo: RunningDemo,
): Promise<{ messages: Array<{ id: string; msg: string }>; close(): void }> {
  const ws = new WebSocket(`${demo.editorUrl.replace(/^http/, 'ws')}/comms`);
  const messages: Array<{ id: string; msg: string }> = [];
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error('the comms websocket failed')), { once: true });
  });
  ws.addEventListener('message', (ev) => {
    const batch = JSON.parse(String(ev.data)) as Array<{ topic: string; data: { id: string; msg: string } }>;
    for (const item of Array.isArray(batch) ? batch : [batch]) {
      if (item.topic === 'debug') messages.push({ id: item.data.id, msg: String(item.data.msg) });
    }
  });
  ws.send(JSON.stringify({ subscribe: 'debug' }));
  return { messages, close: () => ws.close() };
}

/** The local endpoint as a user's curl would reach it: its CA, its key. */
export async function endpointClient(demo: RunningDemo): Promise<{
  records(topic: string): Promise<Array<{ key: string | null; value: string; partition: number }>>;
  topicStatus(topic: string): Promise<number>;
  close(): Promise<void>;
}> {
  const ca = await fs.readFile(path.join(demo.dir, 'endpoint', 'ca.pem'), 'utf8');
  const apiKey = (await fs.readFile(path.join(demo.dir, 'endpoint', 'api-key'), 'utf8')).trim();
  const dispatcher = new Agent({ connect: { ca, rejectUnauthorized: true } });
  const headers = { authorization: `Bearer ${apiKey}` };
  return {
    async records(topic) {
      const res = await request(
        `${demo.endpointUrl}/local/topics/${encodeURIComponent(topic)}/records?limit=1000`,
        {
          headers,
          dispatcher,
        },
      );
      const body = await res.body.text();
      if (res.statusCode === 404) return [];
      if (res.statusCode !== 200) throw new Error(`records of ${topic}: ${res.statusCode} ${body}`);
      return JSON.parse(body);
    },
    async topicStatus(topic) {
      const res = await request(`${demo.endpointUrl}/admin/topics/${encodeURIComponent(topic)}`, {
        headers,
        dispatcher,
      });
      await res.body.dump();
      return res.statusCode;
    },
    close: () => dispatcher.close(),
  };
}
