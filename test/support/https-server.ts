// SPDX-License-Identifier: Apache-2.0
/**
 * A tiny HTTPS server for client tests that need status codes, body shapes, certificates or
 * timing the local endpoint does not produce. Certificates come from gateway/certs.ts with a CA
 * generated for the test run; clients verify against it (verification stays on).
 */
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ServerResponse } from 'node:http';

import { generateCa, issueCertificate, type KeyPairPem } from '../../gateway/certs';

export interface RecordedRequest {
  method: string;
  /** Request target as sent (path and query). */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The client certificate's subject CN when one was presented. */
  clientCn?: string;
}

export type Handler = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;

export interface TestPki {
  ca: KeyPairPem;
  /** Server certificate for localhost / 127.0.0.1 / ::1. */
  server: KeyPairPem;
  /** Client certificate (clientAuth) signed by the same CA. */
  client: KeyPairPem;
}

let shared: TestPki | undefined;

/** One CA with a server and a client certificate, generated once per test process. */
export function testPki(): TestPki {
  if (shared === undefined) {
    const ca = generateCa('client-tests CA');
    shared = {
      ca,
      server: issueCertificate(ca, { commonName: 'localhost', hostnames: ['localhost', '127.0.0.1', '::1'] }),
      client: issueCertificate(ca, { commonName: 'test-client', client: true }),
    };
  }
  return shared;
}

export interface TestServerOptions {
  /** Server certificate (default: testPki().server). */
  cert?: KeyPairPem;
  /** Ask for and verify client certificates against these CA PEMs. */
  requestCert?: { ca: string[] };
  handler?: Handler;
}

export interface TestServer {
  /** `https://127.0.0.1:<port>` */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Replace the handler (default answers a v1 success). */
  handler: Handler;
  /** Sockets accepted so far (connection reuse checks). */
  connections: number;
  close(): Promise<void>;
}

/** Writes a JSON (or text) answer. */
export function reply(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** The v1 success body the on-prem spec documents. */
export function v1Success(topic: string, partition = 0, offset = 0): unknown {
  return { metadata: { topic, timestamp: '1718900000000', partition, offset } };
}

export async function startHttpsServer(options: TestServerOptions = {}): Promise<TestServer> {
  const pki = testPki();
  const cert = options.cert ?? pki.server;
  const server = https.createServer({
    cert: cert.cert,
    key: cert.key,
    ...(options.requestCert
      ? { requestCert: true, rejectUnauthorized: true, ca: options.requestCert.ca }
      : {}),
  });
  const state: TestServer = {
    url: '',
    port: 0,
    requests: [],
    connections: 0,
    handler:
      options.handler ?? ((req, res) => reply(res, 200, v1Success(req.path.split('/')[2] ?? 'unknown'))),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('secureConnection', () => {
    state.connections++;
  });
  // Client-certificate failures happen in the handshake; keep them out of the test output.
  server.on('tlsClientError', () => undefined);
  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      const parsed = new URL(url, 'https://localhost');
      const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate?.();
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        url,
        path: parsed.pathname,
        query: parsed.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks),
        ...(peer && peer.subject ? { clientCn: String(peer.subject.CN) } : {}),
      };
      state.requests.push(recorded);
      Promise.resolve(state.handler(recorded, res)).catch((err: unknown) => {
        if (!res.headersSent) reply(res, 500, { error: String(err) });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.url = `https://127.0.0.1:${state.port}`;
  return state;
}
