// SPDX-License-Identifier: Apache-2.0
/**
 * The long soak: a producer flow in Node-RED (node-red-node-test-helper) sending at a steady rate
 * to the local endpoint over HTTPS for minutes, with a 30 s outage (endpoint stopped, restarted
 * on the same port) in the middle, then the same per-message accounting as the fault suite:
 *
 *   node --expose-gc dist/scripts/soak.js [--seconds 150] [--rate 50] [--outage 30] [--outbox]
 *
 * Prints sent/delivered/failed/duplicates, the failure codes, and the heap before and after
 * (after a forced GC when --expose-gc is given). Exits 1 when the accounting does not add up.
 */
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { parseArgs } from 'node:util';

import { allNodes, helper } from '../test/nodes/support';
import { Accounting, RestartableEndpoint } from '../test/reliability/harness';
import { delay, waitFor } from '../test/support/wait';

const API_KEY = 'soak-api-key-0b1c2d3e4f';
const TOPIC = 'soak';

function heapMiB(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  return Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '150' },
      rate: { type: 'string', default: '50' },
      outage: { type: 'string', default: '30' },
      outbox: { type: 'boolean', default: false },
    },
  });
  const seconds = Number(values.seconds);
  const rate = Number(values.rate);
  const outageSec = Number(values.outage);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'es-soak-'));
  const ep = await RestartableEndpoint.create({
    apiKeys: [API_KEY],
    topics: [{ name: TOPIC, partitions: 3 }],
  });
  await ep.start();
  const flow = [
    { id: 'tab1', type: 'tab', label: 'soak' },
    {
      id: 'cfg',
      type: 'event-streams-endpoint',
      url: ep.url,
      authMode: 'bearer',
      verifyTls: true,
      connections: 8,
      requestTimeout: 5,
      // Enough retry time to ride out the outage: backoff doubles from 200 ms to 10 s.
      retries: 30,
      retryDelay: 200,
      maxRetryTime: outageSec + 60,
      queueMessages: Math.max(1000, rate * (outageSec + 20)),
      closeTimeout: 5,
      outbox: values.outbox === true,
      outboxDir: 'outbox',
    },
    { id: 'p1', z: 'tab1', type: 'event-streams-producer', endpoint: 'cfg', topic: TOPIC, wires: [[]] },
  ];
  helper.settings({ eventStreamsEndpointOutboxDir: tmp });
  await helper.load(allNodes, flow, { cfg: { apiKey: API_KEY, ca: ep.caPem } });
  const acct = new Accounting('p1', 'soak');
  const heapBefore = heapMiB();
  const started = Date.now();
  const outageAt = Math.max(5, (seconds - outageSec) / 3) * 1000;
  let outage: Promise<void> | undefined;
  const p1 = helper.getNode('p1');
  const interval = 1000 / rate;
  let next = Date.now();
  for (let i = 0; Date.now() - started < seconds * 1000; i++) {
    const id = `s${i}`;
    acct.sent.push(id);
    p1.receive({ payload: { id, i }, key: `k${i % 16}` });
    if (!outage && Date.now() - started >= outageAt) {
      outage = (async () => {
        console.log(`t=${Math.round((Date.now() - started) / 1000)}s endpoint down for ${outageSec}s`);
        await ep.stop();
        await delay(outageSec * 1000);
        await ep.start();
        console.log(`t=${Math.round((Date.now() - started) / 1000)}s endpoint back`);
      })();
    }
    next += interval;
    const wait = next - Date.now();
    if (wait > 0) await delay(wait);
  }
  await outage;
  // With the outbox on, done() means "spooled"; wait for the records themselves as well.
  await waitFor(() => acct.settled >= acct.sent.length, 'every outcome', { timeoutMs: 180_000 });
  if (values.outbox) {
    const end = Date.now() + 180_000;
    while ((await ep.records(TOPIC)).length < acct.sent.length && Date.now() < end) await delay(200);
  }
  const f = acct.reconcile(await ep.records(TOPIC));
  acct.dispose();
  acct.sent.length = 0;
  acct.outcomes.clear();
  await helper.unload();
  // The test helper's log spy keeps every log call with a captured stack (and so the messages it
  // mentions): harness memory, not the nodes', so its history is dropped before measuring.
  helper._logSpy?.resetHistory();
  await ep.dispose();
  await fs.rm(tmp, { recursive: true, force: true });
  // After the flow, the endpoint's stored records and the accounting are released; what is left
  // is what the runtime and this package keep (the test helper's sinon spies are restored by unload).
  await delay(500);
  const heapAfter = heapMiB();
  const ok =
    f.noOutcome.length === 0 &&
    f.doubleOutcome === 0 &&
    f.missing.length === 0 &&
    f.sent === f.delivered + f.failed;
  console.log(
    JSON.stringify(
      {
        ok,
        seconds,
        rate,
        outageSec,
        outbox: values.outbox === true,
        sent: f.sent,
        delivered: f.delivered,
        failed: f.failed,
        duplicates: f.duplicates,
        failedButWritten: f.failedButWritten,
        codes: f.codes,
        missing: f.missing.length,
        noOutcome: f.noOutcome.length,
        heapMiB: {
          before: heapBefore,
          after: heapAfter,
          gc: typeof (globalThis as { gc?: unknown }).gc === 'function',
        },
      },
      null,
      2,
    ),
  );
  process.exit(ok ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
