// SPDX-License-Identifier: Apache-2.0
/**
 * Plumbing for the reliability suites: a local endpoint that can be stopped and restarted on the
 * same port and state directory (keeping the records each instance stored, since the memory
 * backend forgets them on stop), and per-message outcome accounting over Node-RED's onComplete
 * hook, which sees every done()/done(err) of every node whatever the flow's wiring.
 */
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

// The runtime and the hook registry are one module instance (hoisted @node-red/util).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { hooks } = require('@node-red/util') as {
  hooks: { add(id: string, fn: (ev: CompleteEvent) => void): void; remove(id: string): void };
};

import { ensureLocalCertificates } from '../../gateway/certs';
import type { MemoryBackend } from '../../gateway/memory-backend';
import { startLocalEndpoint, type LocalEndpoint } from '../../gateway/server';
import type { LocalEndpointOptions, StoredRecord } from '../../gateway/types';
import { rootCode } from '../../nodes/shared/status';

interface CompleteEvent {
  msg: { payload?: unknown; _outcomeSeen?: boolean } & Record<string, unknown>;
  error?: unknown;
  node: { id: string };
}

/** A free TCP port on loopback (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A local endpoint on a fixed port and state directory that can be down at first, stopped and
 * restarted. Records stored by earlier instances are kept (read just before each backend closes).
 */
export class RestartableEndpoint {
  current: LocalEndpoint | undefined;
  caPem = '';
  private readonly archive = new Map<string, StoredRecord[]>();

  private constructor(
    readonly port: number,
    readonly stateDir: string,
    private readonly options: LocalEndpointOptions,
  ) {}

  /** Prepares the port and the CA (so the flow can trust it) without starting the server. */
  static async create(options: LocalEndpointOptions = {}): Promise<RestartableEndpoint> {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-rel-'));
    const ep = new RestartableEndpoint(await freePort(), stateDir, options);
    const certs = await ensureLocalCertificates(stateDir);
    ep.caPem = certs.ca.cert;
    return ep;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async start(extra: LocalEndpointOptions = {}): Promise<LocalEndpoint> {
    if (this.current) return this.current;
    // The port was free a moment ago; if something grabbed it in between, retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        this.current = await startLocalEndpoint({
          ...this.options,
          ...extra,
          port: this.port,
          stateDir: this.stateDir,
        });
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'EADDRINUSE' || attempt > 20) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const backend = this.current.backend as MemoryBackend;
    const close = backend.close.bind(backend);
    backend.close = async () => {
      for (const t of await backend.listTopics()) {
        const list = this.archive.get(t.name) ?? [];
        list.push(...backend.readRecordsSync(t.name));
        this.archive.set(t.name, list);
      }
      return close();
    };
    return this.current;
  }

  async stop(): Promise<void> {
    const ep = this.current;
    this.current = undefined;
    await ep?.stop();
  }

  /** Every record of `topic` stored by any instance so far. */
  async records(topic: string): Promise<StoredRecord[]> {
    const out = [...(this.archive.get(topic) ?? [])];
    if (this.current) {
      try {
        out.push(...(await this.current.readRecords(topic)));
      } catch {
        // The topic does not exist on the current instance (yet).
      }
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.stop();
    await fs.rm(this.stateDir, { recursive: true, force: true });
  }
}

export interface Outcome {
  kind: 'delivered' | 'failed';
  code?: string;
  /** The root cause's code (a RetriesExhaustedError explains itself through its cause). */
  rootCode?: string;
  message?: string;
}

/**
 * Counts the outcome of every message a given node completes, keyed by the unique `id` in its
 * payload. A second outcome for the same id is kept in `extra` so the invariant check fails.
 */
export class Accounting {
  readonly outcomes = new Map<string, Outcome>();
  readonly extra: Array<{ id: string; outcome: Outcome }> = [];
  readonly sent: string[] = [];
  private readonly hookId: string;

  constructor(
    private readonly nodeId: string,
    name = `acct${Math.random().toString(36).slice(2, 8)}`,
  ) {
    this.hookId = `onComplete.${name}`;
    hooks.add(this.hookId, (ev: CompleteEvent) => {
      if (ev.node.id !== this.nodeId) return;
      const id = idOf(ev.msg.payload);
      if (id === undefined) return;
      const outcome: Outcome =
        ev.error === undefined || ev.error === null
          ? { kind: 'delivered' }
          : {
              kind: 'failed',
              code: String((ev.error as { code?: unknown }).code),
              rootCode: String(rootCode(ev.error)),
              message: String((ev.error as Error).message),
            };
      if (this.outcomes.has(id)) this.extra.push({ id, outcome });
      else this.outcomes.set(id, outcome);
    });
  }

  dispose(): void {
    hooks.remove(this.hookId);
  }

  get settled(): number {
    return this.outcomes.size;
  }

  /** The figures of a run, checked against the records found at the endpoint. */
  reconcile(records: StoredRecord[]): Figures {
    const counts = new Map<string, number>();
    for (const r of records) {
      const id = idOf(safeJson(r.value));
      if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    let delivered = 0;
    let failed = 0;
    let duplicates = 0;
    let failedButWritten = 0;
    const missing: string[] = [];
    const codes: Record<string, number> = {};
    const noOutcome: string[] = [];
    for (const id of this.sent) {
      const o = this.outcomes.get(id);
      const n = counts.get(id) ?? 0;
      if (n > 1) duplicates += n - 1;
      if (!o) {
        noOutcome.push(id);
        continue;
      }
      if (o.kind === 'delivered') {
        delivered++;
        if (n === 0) missing.push(id);
      } else {
        failed++;
        const key = o.code === o.rootCode ? String(o.code) : `${o.code}(${o.rootCode})`;
        codes[key] = (codes[key] ?? 0) + 1;
        if (n > 0) failedButWritten++;
      }
    }
    const unknown = [...counts.keys()].filter((id) => !this.sent.includes(id)).length;
    return {
      sent: this.sent.length,
      delivered,
      failed,
      duplicates,
      failedButWritten,
      codes,
      missing,
      noOutcome,
      doubleOutcome: this.extra.length,
      unknownRecords: unknown,
    };
  }
}

export interface Figures {
  sent: number;
  delivered: number;
  failed: number;
  /** Extra copies at the endpoint (retried requests the server had already written). */
  duplicates: number;
  /** Failed to the flow (e.g. CLOSED "may or may not have been written") yet found at the endpoint. */
  failedButWritten: number;
  codes: Record<string, number>;
  /** Delivered ids with no record at the endpoint: must be empty. */
  missing: string[];
  /** Sent ids with no outcome: must be empty. */
  noOutcome: string[];
  doubleOutcome: number;
  unknownRecords: number;
}

export function idOf(payload: unknown): string | undefined {
  if (payload && typeof payload === 'object' && typeof (payload as { id?: unknown }).id === 'string') {
    return (payload as { id: string }).id;
  }
  return undefined;
}

function safeJson(value: Buffer): unknown {
  try {
    return JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** One line per case for the test output (and the final report). */
export function describeFigures(name: string, f: Figures): string {
  const codes = Object.entries(f.codes)
    .map(([c, n]) => `${c}×${n}`)
    .join(' ');
  return (
    `      [${name}] sent=${f.sent} delivered=${f.delivered} failed=${f.failed} duplicates=${f.duplicates}` +
    (f.failedButWritten ? ` failedButWritten=${f.failedButWritten}` : '') +
    (codes ? ` codes: ${codes}` : '')
  );
}
