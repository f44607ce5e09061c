// SPDX-License-Identifier: Apache-2.0
/**
 * The minimal stub endpoint, run as its own process (`fork`): a bare node:http server that reads
 * each request body and answers the v1 success body. It does no auth, routing or JSON parsing, so
 * the client's cost is what a run against it measures.
 *
 * Control over IPC: `{cmd:'latency', ms}` delays every answer, `{cmd:'hold', on}` keeps answers
 * back until hold is switched off (the heap probe's stalled endpoint), `{cmd:'last'}` returns the
 * most recent request (method, url, headers, body) so other scenarios can replay it exactly.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import { serveIpc } from './common';

interface LastRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

let latencyMs = 0;
let hold = false;
let held: Array<() => void> = [];
let offset = 0;
let last: LastRequest | undefined;
let captureNext = true;

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (captureNext) {
      captureNext = false;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      last = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers,
        body: Buffer.concat(chunks).toString(),
      };
    }
    const body = `{"metadata":{"topic":"bench","timestamp":"${Date.now()}","partition":0,"offset":${offset++}}}`;
    const answer = (): void => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (hold) held.push(answer);
    else if (latencyMs > 0) setTimeout(answer, latencyMs);
    else answer();
  });
});
// Held requests may wait minutes; keep-alive sockets must outlive the client's idle timeout.
server.requestTimeout = 0;
server.headersTimeout = 0;
server.keepAliveTimeout = 120_000;
server.maxRequestsPerSocket = 0;

serveIpc((body) => {
  const m = body as { cmd: string; ms?: number; on?: boolean };
  switch (m.cmd) {
    case 'latency':
      latencyMs = m.ms ?? 0;
      return { latencyMs };
    case 'hold': {
      hold = m.on === true;
      if (!hold) {
        const release = held;
        held = [];
        for (const answer of release) answer();
      }
      return { hold, held: held.length };
    }
    case 'capture':
      captureNext = true;
      last = undefined;
      return {};
    case 'last':
      return last ?? null;
    case 'count':
      return { offset, held: held.length };
    default:
      throw new Error(`unknown stub command ${m.cmd}`);
  }
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ ready: true, url: `http://127.0.0.1:${port}`, pid: process.pid });
});
process.on('disconnect', () => process.exit(0));
