// SPDX-License-Identifier: Apache-2.0
/** Helpers shared by the local endpoint tests: temp state dirs and an HTTPS client with the local CA. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

import { Agent, request } from 'undici';

import type { LocalEndpoint } from '../../gateway/server';

export function tempDir(prefix = 'esl-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * The files under `dir` this process holds open (Linux's /proc/self/fd), or undefined where the
 * system does not list them.
 */
export function openFilesUnder(dir: string): string[] | undefined {
  const fdDir = '/proc/self/fd';
  if (!fs.existsSync(fdDir)) return undefined;
  const out: string[] = [];
  for (const fd of fs.readdirSync(fdDir)) {
    let target: string;
    try {
      target = fs.readlinkSync(path.join(fdDir, fd));
    } catch {
      continue; // closed between the listing and the read (the listing's own fd)
    }
    if (target.startsWith(dir + path.sep)) out.push(target);
  }
  return out;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** An undici Agent trusting only the endpoint's CA (verification on). */
export class Client {
  readonly agent: Agent;

  constructor(
    readonly endpoint: Pick<LocalEndpoint, 'url' | 'caPem' | 'apiKey'>,
    connect: Record<string, unknown> = {},
  ) {
    this.agent = new Agent({
      connections: 4,
      connect: endpoint.caPem ? { ca: endpoint.caPem, ...connect } : connect,
    });
  }

  async req(
    method: string,
    urlPath: string,
    options: { headers?: Record<string, string>; body?: string | Buffer; auth?: string | false } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (options.auth !== false && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
      headers.authorization = options.auth ?? `Bearer ${this.endpoint.apiKey}`;
    }
    const res = await request(this.endpoint.url + urlPath, {
      method: method as 'GET',
      headers,
      ...(options.body !== undefined ? { body: options.body } : {}),
      dispatcher: this.agent,
    });
    const text = await res.body.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers as Reply['headers'], text, json };
  }

  /** POST /topics/{topic}/records with a text body. */
  produce(topic: string, body: string | Buffer, contentType = 'text/plain', query = ''): Promise<Reply> {
    return this.req('POST', `/topics/${encodeURIComponent(topic)}/records${query}`, {
      headers: { 'content-type': contentType },
      body,
    });
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/**
 * Sends raw bytes over a TLS connection that trusts the endpoint's CA and collects everything
 * the server writes until it closes the connection (or `timeoutMs` passes).
 */
export function rawTls(
  endpoint: Pick<LocalEndpoint, 'port' | 'caPem'>,
  write: (socket: tls.TLSSocket) => void,
  timeoutMs = 5000,
): Promise<{ data: string; closed: boolean; elapsedMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = tls.connect({
      host: '127.0.0.1',
      port: endpoint.port,
      ca: endpoint.caPem,
      servername: 'localhost',
    });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ data, closed: false, elapsedMs: Date.now() - started });
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after the server answered is expected when it stops reading an oversize body.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ data, closed: true, elapsedMs: Date.now() - started });
    });
    socket.once('secureConnect', () => write(socket));
  });
}

export function statusOf(raw: string): number {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(raw);
  return m ? Number(m[1]) : 0;
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
