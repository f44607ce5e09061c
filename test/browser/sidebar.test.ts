// SPDX-License-Identifier: Apache-2.0
/**
 * The editor's "Event Streams" sidebar under load, in a real browser: a deployed flow produces
 * about 20 records a second (and one producer fails on purpose), the tab shows each endpoint with
 * its sparklines, counts and last errors, and it stops asking the runtime once it is closed.
 *
 * Skipped, with a printed reason, when Chromium is not installed; REQUIRE_BROWSER=1 makes that a
 * failure. The screenshot goes to artifacts/screenshots/ (and docs/screenshots/ with
 * UPDATE_SCREENSHOTS=1).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { Page } from 'playwright-core';
import { request } from 'undici';

import { startLocalEndpoint, type LocalEndpoint } from '../../gateway/server';
import { waitFor } from '../support/wait';
import {
  chromiumAvailable,
  CHROMIUM_PATH,
  launchBrowser,
  screenshotPaths,
  startNodeRed,
  type BrowserSession,
  type NodeRedProcess,
} from './runtime';

declare const RED: any;

describe('editor sidebar: endpoint metrics under load (Chromium + Node-RED)', function () {
  this.timeout(180_000);
  this.slow(30_000);

  const suffix = randomBytes(3).toString('hex');
  const TOPIC = `sidebar-${suffix}`;
  let stateDir: string | undefined;
  let endpoint: LocalEndpoint | undefined;
  let nodeRed: NodeRedProcess | undefined;
  let session: BrowserSession | undefined;
  let page: Page;

  before(async function () {
    if (!chromiumAvailable()) {
      const reason = `Chromium not found at ${CHROMIUM_PATH} (install Debian's chromium or set CHROMIUM_PATH)`;
      if (process.env.REQUIRE_BROWSER === '1') throw new Error(`${reason}; REQUIRE_BROWSER=1 needs it`);
      console.log(`      skipping the sidebar test: ${reason}`);
      this.skip();
    }
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-sidebar-endpoint-'));
    endpoint = await startLocalEndpoint({ port: 0, stateDir, topics: [{ name: TOPIC, partitions: 2 }] });
    nodeRed = await startNodeRed({
      ES_URL: endpoint.url,
      ES_API_KEY: endpoint.apiKey,
      ES_CA: endpoint.caPem!,
    });
    const flows = [
      { id: 'sb-tab', type: 'tab', label: 'Sidebar' },
      {
        id: 'sb-endpoint',
        type: 'event-streams-endpoint',
        name: 'Sidebar endpoint',
        url: '${ES_URL}',
        flavour: 'v1',
        authMode: 'bearer',
        credentials: { apiKey: '${ES_API_KEY}', ca: '${ES_CA}' },
      },
      {
        id: 'sb-inject',
        type: 'inject',
        z: 'sb-tab',
        repeat: '0.05',
        once: true,
        onceDelay: '0.1',
        payload: 'reading',
        payloadType: 'str',
        topic: '',
        wires: [['sb-producer']],
      },
      {
        id: 'sb-producer',
        type: 'event-streams-producer',
        z: 'sb-tab',
        endpoint: 'sb-endpoint',
        topic: TOPIC,
        outputs: 0,
        wires: [],
      },
      {
        id: 'sb-inject-bad',
        type: 'inject',
        z: 'sb-tab',
        repeat: '1',
        once: true,
        onceDelay: '0.1',
        payload: 'lost',
        payloadType: 'str',
        wires: [['sb-producer-bad']],
      },
      {
        id: 'sb-producer-bad',
        type: 'event-streams-producer',
        z: 'sb-tab',
        endpoint: 'sb-endpoint',
        topic: `no-such-topic-${suffix}`,
        outputs: 0,
        wires: [],
      },
    ];
    const deployed = await request(`${nodeRed.url}/flows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'node-red-deployment-type': 'full' },
      body: JSON.stringify(flows),
    });
    assert.equal(deployed.statusCode, 204, await deployed.body.text());
    session = await launchBrowser();
    page = await session.context.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`${nodeRed.url}/`);
    await page.locator('.red-ui-palette-node[data-palette-type="event-streams-producer"]').waitFor();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) {
      for (const file of await screenshotPaths('failed-sidebar', false)) {
        await page.screenshot({ path: file }).catch(() => undefined);
      }
      console.log(
        await page
          .locator('.es-sidebar')
          .innerText()
          .catch(() => '(no sidebar)'),
      );
    }
  });

  after(async function () {
    await session?.close();
    await nodeRed?.stop();
    await endpoint?.stop();
    if (stateDir) await fs.rm(stateDir, { recursive: true, force: true });
  });

  it('shows the endpoint with throughput and latency sparklines, counts and the last errors; polls only while open', async function () {
    const statsRequests: number[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/event-streams/stats')) statsRequests.push(Date.now());
    });
    // The tab is listed among the sidebar's tabs, as a user finds it.
    // The editor may still be settling after loading the flows, and that selects the info tab
    // again: open ours until it is the one shown, as a user would click it again.
    const box = page.locator('.es-sidebar-endpoint[data-id="sb-endpoint"]');
    await waitFor(
      async () => {
        if (await box.isVisible()) return true;
        await page.evaluate(() => RED.sidebar.show('event-streams'));
        return false;
      },
      'the Event Streams sidebar tab shown with the endpoint',
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    // Deliveries and the failing producer's errors show up within a few polls.
    await page.waitForFunction(
      () => {
        const el = document.querySelector('.es-sidebar-endpoint[data-id="sb-endpoint"]');
        if (!el) return false;
        const counts = el.querySelector('.es-sidebar-counts')?.textContent ?? '';
        const delivered = Number(/(\d+) delivered/.exec(counts)?.[1] ?? 0);
        return delivered >= 100 && el.querySelectorAll('.es-sidebar-errors li').length > 0;
      },
      undefined,
      { timeout: 60_000 },
    );
    assert.match((await box.locator('.es-sidebar-errors li').first().textContent()) ?? '', /TOPIC_NOT_FOUND/);
    const rate = (await box.locator('.es-sidebar-rate').textContent()) ?? '';
    assert.ok(Number(/([\d.]+) records\/s/.exec(rate)?.[1]) > 0, rate);
    // The throughput sparkline has drawn a line that is not flat.
    const points = await box.locator('svg.es-spark polyline').first().getAttribute('points');
    const ys = new Set((points ?? '').split(' ').map((p) => p.split(',')[1]));
    assert.ok(ys.size > 1, `sparkline points: ${points}`);
    for (const file of await screenshotPaths('editor-sidebar-metrics', true)) {
      await page.locator('#red-ui-sidebar').screenshot({ path: file });
    }

    // Closed (another tab shown): no more requests, while the runtime keeps producing. Waiting for
    // 40 more deliveries at the endpoint spans several poll intervals, without guessing a sleep.
    await page.evaluate(() => RED.sidebar.show('info'));
    const askedWhenClosed = statsRequests.length;
    const stored = async (): Promise<number> =>
      (await endpoint!.backend.listTopics()).find((t) => t.name === TOPIC) ? countRecords() : 0;
    const countRecords = async (): Promise<number> => {
      let n = 0;
      for (const p of [0, 1])
        n += (await endpoint!.readRecords(TOPIC, { partition: p, limit: 100_000 })).length;
      return n;
    };
    const base = await stored();
    let latest = base;
    await waitFor(
      () => {
        void stored().then((n) => (latest = n));
        return latest >= base + 100;
      },
      '100 more records at the endpoint while the sidebar is closed',
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    assert.ok(
      statsRequests.length <= askedWhenClosed + 1,
      `stats requests while closed: ${statsRequests.length - askedWhenClosed}`,
    );
  });

  it('serves Prometheus text only when settings.js enables it (404 here)', async function () {
    const res = await request(`${nodeRed!.url}/event-streams/metrics`);
    assert.equal(res.statusCode, 404);
    assert.match(await res.body.text(), /eventStreamsEndpointMetrics/);
  });
});
