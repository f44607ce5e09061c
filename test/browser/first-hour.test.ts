// SPDX-License-Identifier: Apache-2.0
/**
 * The first hour of a new user (issue 27), in a real browser: `npm start` as a user runs it (the
 * local endpoint over HTTPS with its own CA, Node-RED with the demo flow), every example on its own
 * tab as the editor's import makes it, and headless Chromium (Debian's, via playwright-core)
 * driving the editor:
 *
 * - no "check for updates?" prompt over the editor on first open;
 * - opening every node of this package (and its config nodes) and pressing Done changes nothing;
 * - Test connection passes on the examples' own config node, whose CA is `${ES_CA}`;
 * - v2 with a Basic auth mode is refused in the dialog, with a reason;
 * - the service-key toggle is a button, and its result names the tray's own button;
 * - the nodes of each example do not overlap;
 * - Menu → Import → Examples into the demo: Node-RED says nodes exist (the shared config node),
 *   "Import copy" adds the example and keeps one config node, as the README says.
 *
 * Skipped, with a printed reason, when Chromium is not installed; REQUIRE_BROWSER=1 makes that a
 * failure. Screenshots go to artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { Page } from 'playwright-core';

import { getFlows, importFlow, postFlows, startDemo, type FlowNode, type RunningDemo } from '../support/demo';
import { SHARED_ENDPOINT_ID } from '../../scripts/demo-flow';
import {
  chromiumAvailable,
  CHROMIUM_PATH,
  launchBrowser,
  screenshotPaths,
  type BrowserSession,
} from './runtime';

// The editor's global, only ever touched inside page.evaluate callbacks.
declare const RED: any;

const ENDPOINT = 'event-streams-endpoint';
const OUR_TYPES = [ENDPOINT, 'event-streams-producer', 'event-streams-topic-admin'];
const UI_TIMEOUT = 30_000;
const EXAMPLES_DIR = path.resolve(__dirname, '..', '..', '..', 'examples');
const EXAMPLE_FILES = readdirSync(EXAMPLES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('editor: the first hour (npm start, the examples, Chromium)', function () {
  this.timeout(180_000);
  this.slow(30_000);

  let dir: string | undefined;
  let demo: RunningDemo | undefined;
  let session: BrowserSession | undefined;
  let page: Page;

  before(async function () {
    this.timeout(240_000);
    if (!chromiumAvailable()) {
      const reason = `Chromium not found at ${CHROMIUM_PATH} (install Debian's chromium or set CHROMIUM_PATH)`;
      if (process.env.REQUIRE_BROWSER === '1') throw new Error(`${reason}; REQUIRE_BROWSER=1 needs it`);
      console.log(`      skipping the browser tests: ${reason}`);
      this.skip();
    }
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-first-hour-'));
    demo = await startDemo(dir);
    let flows = await getFlows(demo);
    for (const [i, file] of EXAMPLE_FILES.entries()) {
      const nodes = JSON.parse(readFileSync(path.join(EXAMPLES_DIR, file), 'utf8')) as FlowNode[];
      flows = importFlow(flows, nodes, `tab-example-${i}`, file.replace(/\.json$/, ''));
    }
    await postFlows(demo, flows);
    session = await launchBrowser();
    page = await session.context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT);
    await page.goto(`${demo.editorUrl}/`);
    await page.locator('.red-ui-palette-node[data-palette-type="event-streams-producer"]').waitFor();
    await page.waitForFunction(() => RED.nodes.filterNodes({ type: 'event-streams-producer' }).length > 0);
  });

  after(async function () {
    await session?.close();
    await demo?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) {
      const name = `failed-first-hour-${this.currentTest.title.replace(/[^a-z0-9]+/gi, '-').slice(0, 50)}`;
      for (const file of await screenshotPaths(name, false)) {
        await page.screenshot({ path: file }).catch(() => undefined);
      }
      for (const id of ['#node-config-dialog-cancel', '#node-dialog-cancel']) {
        const cancel = page.locator(id);
        if (await cancel.isVisible().catch(() => false)) {
          await cancel.click({ timeout: 5000 }).catch(() => undefined);
          await cancel.waitFor({ state: 'detached', timeout: 5000 }).catch(() => undefined);
        }
      }
    }
  });

  async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = UI_TIMEOUT): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
      if (await check()) return;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** Waits until the newest edit tray has finished opening (it focuses its first input then). */
  async function trayReady(): Promise<void> {
    await page.waitForFunction(
      () => {
        const doc = (globalThis as any).document;
        const trays = doc.querySelectorAll('.red-ui-tray');
        const last = trays[trays.length - 1];
        return !!last && (globalThis as any).getComputedStyle(last).right === '0px';
      },
      undefined,
      { timeout: UI_TIMEOUT },
    );
  }

  /** Opens the edit tray of a config node, as its entry in the config sidebar does. */
  async function openConfig(id: string): Promise<void> {
    await page.evaluate((nodeId) => {
      const n = RED.nodes.node(nodeId);
      RED.editor.editConfig('', n.type, n.id);
    }, id);
    await page.locator('#node-config-dialog-ok').waitFor({ state: 'visible' });
    await trayReady();
  }

  async function cancelConfig(): Promise<void> {
    await page.locator('#node-config-dialog-cancel').click();
    await page.locator('#node-config-dialog-cancel').waitFor({ state: 'detached' });
  }

  async function testConnection(): Promise<string> {
    await page.locator('#es-endpoint-test').click();
    await page.waitForFunction(
      () =>
        !!(globalThis as any).document.querySelector(
          '#es-endpoint-test-result i.fa-check, #es-endpoint-test-result i.fa-times',
        ),
      undefined,
      { timeout: UI_TIMEOUT },
    );
    return page.locator('#es-endpoint-test-result').innerText();
  }

  /** The whole flow as the editor would deploy it, and whether the editor counts it as changed. */
  function snapshot(): Promise<{ nodes: string; dirty: boolean }> {
    return page.evaluate(() => ({
      nodes: JSON.stringify(RED.nodes.createCompleteNodeSet({ credentials: true })),
      dirty: RED.nodes.dirty(),
    }));
  }

  it('opens without the "check for updates?" prompt over the editor', async function () {
    const state = await page.evaluate(() => ({
      telemetry: RED.settings.telemetryEnabled,
      title: RED._('telemetry.settingsTitle'),
      shown: (globalThis as any).$('.red-ui-notification:visible').text() as string,
    }));
    assert.equal(state.telemetry, false);
    assert.ok(!state.shown.includes(state.title), `a prompt is shown: ${state.shown}`);
  });

  it('opening each node of this package in every example and pressing Done changes nothing', async function () {
    const before = await snapshot();
    assert.equal(before.dirty, false, 'the deployed flows start unchanged');
    const targets = await page.evaluate((types) => {
      const out: Array<{ id: string; type: string; config: boolean; z?: string }> = [];
      RED.nodes.eachConfig((n: any) => {
        if (types.includes(n.type)) out.push({ id: n.id, type: n.type, config: true });
      });
      RED.nodes.eachNode((n: any) => {
        if (types.includes(n.type)) out.push({ id: n.id, type: n.type, config: false, z: n.z });
      });
      return out;
    }, OUR_TYPES);
    assert.ok(targets.length >= 20, `found ${targets.length} nodes`);
    for (const t of targets) {
      if (t.config) {
        await openConfig(t.id);
        await page.locator('#node-config-dialog-ok').click();
        await page.locator('#node-config-dialog-ok').waitFor({ state: 'detached' });
      } else {
        await page.evaluate(
          ({ id, z }) => {
            RED.workspaces.show(z);
            RED.editor.edit(RED.nodes.node(id));
          },
          { id: t.id, z: t.z },
        );
        await page.locator('#node-dialog-ok').waitFor({ state: 'visible' });
        await trayReady();
        await page.locator('#node-dialog-ok').click();
        await page.locator('#node-dialog-ok').waitFor({ state: 'detached' });
      }
      const after = await snapshot();
      assert.equal(after.dirty, false, `the flow is marked changed after opening ${t.type} ${t.id}`);
      if (after.nodes !== before.nodes) {
        const a = JSON.parse(before.nodes) as FlowNode[];
        const b = JSON.parse(after.nodes) as FlowNode[];
        const was = a.find((n) => n.id === t.id);
        const now = b.find((n) => n.id === t.id);
        assert.deepEqual(now, was, `${t.type} ${t.id} changed by open and Done`);
        assert.fail(`the flow changed after opening ${t.type} ${t.id}`);
      }
    }
  });

  it('the config dialog shows the runtime default for a property the flow leaves out (Order per key: on)', async function () {
    const left = await page.evaluate((id) => RED.nodes.node(id).orderByKey, SHARED_ENDPOINT_ID);
    assert.equal(left, undefined, 'the demo config node leaves orderByKey out');
    await openConfig(SHARED_ENDPOINT_ID);
    assert.equal(await page.locator('#node-config-input-orderByKey').isChecked(), true);
    assert.equal(await page.locator('#node-config-input-brokersTls').isChecked(), true);
    await cancelConfig();
  });

  it("Test connection passes on the examples' own config node (its CA is ${ES_CA})", async function () {
    await openConfig(SHARED_ENDPOINT_ID);
    // The CA field holds the reference, not a PEM: the runtime resolves it.
    assert.equal(await page.locator('#node-config-input-ca').inputValue(), '${ES_CA}');
    const text = await testConnection();
    assert.match(text, /is trusted\./, text);
    assert.match(text, /The credentials were accepted\./, text);
    assert.equal(await page.locator('#es-endpoint-test-result i.fa-check').count(), 1, text);
    for (const file of await screenshotPaths('first-hour-example-test-connection', false)) {
      await page.locator('.red-ui-tray').last().screenshot({ path: file });
    }
    await cancelConfig();
  });

  it('v2 with the API key as Basic is refused in the dialog, with the reason, not "credentials accepted"', async function () {
    await openConfig(`${SHARED_ENDPOINT_ID}-iam`);
    assert.equal(await page.locator('#node-config-input-flavour').inputValue(), 'v2');
    const warning = page.locator('#es-endpoint-v2-basic');
    assert.equal(await warning.isVisible(), false);
    await page.locator('#node-config-input-authMode').selectOption('basic-token');
    await warning.getByText('The v2 API accepts only Bearer tokens').waitFor();
    const text = await testConnection();
    assert.match(text, /accepts only Bearer tokens/, text);
    assert.doesNotMatch(text, /credentials were accepted/, text);
    assert.doesNotMatch(text, /\[redacted\]/, text);
    await cancelConfig();
  });

  it('the "Paste service key" toggle is a button, and the result names the button the tray shows', async function () {
    const producer = await page.evaluate(
      () => RED.nodes.filterNodes({ type: 'event-streams-producer' }).find((n: any) => n.z === 'demo-tab').id,
    );
    await page.evaluate((id) => {
      RED.workspaces.show('demo-tab');
      RED.editor.edit(RED.nodes.node(id));
    }, producer);
    await page.locator('#node-dialog-ok').waitFor({ state: 'visible' });
    await trayReady();
    // "Add new IBM Event Streams endpoint…", then the button next to the select.
    await page.locator('#node-input-endpoint').selectOption('_ADD_');
    await page.locator('#node-input-btn-endpoint-add').click();
    await page.locator('#node-config-dialog-ok').waitFor({ state: 'visible' });
    await trayReady();
    const addLabel = (await page.locator('#node-config-dialog-ok').innerText()).trim();
    assert.equal(addLabel, 'Add');
    const toggle = page.locator('#es-endpoint-service-key-toggle');
    assert.equal(await toggle.evaluate((el) => el.tagName), 'BUTTON');
    assert.match((await toggle.getAttribute('class')) ?? '', /red-ui-button/);
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    await toggle.click();
    await page.locator('#es-endpoint-service-key-text').waitFor({ state: 'visible' });
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    // The shape of an IBM Cloud service key (made-up values).
    await page.locator('#es-endpoint-service-key-text').fill(
      JSON.stringify({
        api_key: 'made-up-key-for-the-browser-test-0123456789',
        kafka_http_url: 'https://es-abc.example.cloud',
        kafka_admin_url: 'https://es-abc-admin.example.cloud',
        kafka_brokers_sasl: ['broker-0.example.cloud:9093', 'broker-1.example.cloud:9093'],
        instance_id: 'abc',
      }),
    );
    await page.locator('#es-endpoint-service-key-apply').click();
    const result = page.locator('#es-endpoint-service-key-result');
    await result.getByText('Filled in from the service key').waitFor();
    const said = await result.innerText();
    assert.match(said, new RegExp(`press ${addLabel}\\.`), said);
    assert.doesNotMatch(said, /Update/, said);
    assert.equal(await page.locator('#node-config-input-url').inputValue(), 'https://es-abc.example.cloud');
    for (const file of await screenshotPaths('first-hour-service-key', false)) {
      await page.locator('.red-ui-tray').last().screenshot({ path: file });
    }
    await cancelConfig();
    await page.locator('#node-dialog-cancel').click();
    await page.locator('#node-dialog-cancel').waitFor({ state: 'detached' });
    assert.equal((await snapshot()).dirty, false);
  });

  it('every option of every select in the three dialogs fits its select (nothing truncated)', async function () {
    /** Options whose text is wider than the select that shows it, in the open tray. */
    const tooWide = (): Promise<string[]> =>
      page.evaluate(() => {
        const doc = (globalThis as any).document;
        const trays = doc.querySelectorAll('.red-ui-tray');
        const tray = trays[trays.length - 1];
        const canvas = doc.createElement('canvas').getContext('2d');
        const out: string[] = [];
        for (const select of tray.querySelectorAll('select')) {
          // Hidden rows (another tab, another format) are measured where they show.
          if (!select.id.startsWith('node-') || select.clientWidth === 0) continue;
          const style = (globalThis as any).getComputedStyle(select);
          canvas.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
          // The width a select gives its text: minus its padding and the drop-down arrow.
          const room =
            select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 4;
          for (const option of select.options) {
            const width = canvas.measureText(option.text).width;
            if (width > room)
              out.push(`${select.id}: "${option.text}" (${Math.round(width)} > ${Math.round(room)} px)`);
          }
        }
        return out;
      });
    const found: string[] = [];
    const producer = await page.evaluate(
      () => RED.nodes.filterNodes({ type: 'event-streams-producer' }).find((n: any) => n.z === 'demo-tab').id,
    );
    const admin = await page.evaluate(
      () =>
        RED.nodes.filterNodes({ type: 'event-streams-topic-admin' }).find((n: any) => n.z === 'demo-tab').id,
    );
    for (const id of [producer, admin]) {
      await page.evaluate((nodeId) => {
        RED.workspaces.show('demo-tab');
        RED.editor.edit(RED.nodes.node(nodeId));
      }, id);
      await page.locator('#node-dialog-ok').waitFor({ state: 'visible' });
      await trayReady();
      found.push(...(await tooWide()));
      if (id === producer) {
        // The Avro rows: shown once Avro is chosen (Cancel below keeps the node as it was).
        await page.locator('#node-input-valueFormat').selectOption('avro');
        await page.locator('#node-input-keyFormat').selectOption('avro');
        await page.locator('#node-input-valueStrategy').waitFor({ state: 'visible' });
        found.push(...(await tooWide()));
      }
      await page.locator('#node-dialog-cancel').click();
      await page.locator('#node-dialog-cancel').waitFor({ state: 'detached' });
    }
    await openConfig(SHARED_ENDPOINT_ID);
    for (const tab of ['connection', 'kafka']) {
      await waitFor(async () => {
        const content = page.locator(`#es-endpoint-tab-${tab}`);
        if (await content.isVisible()) return true;
        await page.locator(`#es-endpoint-tabs a[href="#es-endpoint-tab-${tab}"]`).click();
        return content.isVisible();
      }, `the ${tab} tab`);
      found.push(...(await tooWide()));
    }
    await cancelConfig();
    assert.deepEqual(found, []);
  });

  it('no two nodes of an example (or of the demo) overlap on the canvas', async function () {
    const tabs = await page.evaluate(() => {
      const out: Array<{ id: string; label: string }> = [];
      RED.nodes.eachWorkspace((w: any) => out.push({ id: w.id, label: w.label }));
      return out;
    });
    const overlaps: string[] = [];
    for (const tab of tabs) {
      await page.evaluate((id) => RED.workspaces.show(id), tab.id);
      // Node sizes are known once the tab has been drawn.
      await page.waitForFunction(
        (id) => RED.nodes.filterNodes({ z: id }).every((n: any) => n.w > 0 && n.h > 0),
        tab.id,
        { timeout: UI_TIMEOUT },
      );
      const boxes = await page.evaluate(
        (id) =>
          RED.nodes.filterNodes({ z: id }).map((n: any) => ({
            id: n.id,
            x0: n.x - n.w / 2,
            x1: n.x + n.w / 2,
            y0: n.y - n.h / 2,
            y1: n.y + n.h / 2,
          })),
        tab.id,
      );
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i]!;
          const b = boxes[j]!;
          // Touching counts too: a gap of less than 10 px reads as one blob.
          const gap = 10;
          if (a.x0 < b.x1 + gap && b.x0 < a.x1 + gap && a.y0 < b.y1 + gap && b.y0 < a.y1 + gap)
            overlaps.push(`${tab.label}: ${a.id} [${a.x0}..${a.x1}] and ${b.id} [${b.x0}..${b.x1}]`);
        }
      }
    }
    assert.deepEqual(overlaps, []);
    await page.evaluate(() => RED.workspaces.show('demo-tab'));
  });

  it('Menu → Import → Examples into the demo: "Import copy" adds the example and keeps one config node', async function () {
    const countEndpoints = (): Promise<string[]> =>
      page.evaluate((t) => {
        const found: string[] = [];
        RED.nodes.eachConfig((n: any) => {
          if (n.type === t) found.push(n.id);
        });
        return found.sort();
      }, ENDPOINT);
    const endpointsBefore = await countEndpoints();
    const producersBefore = await page.evaluate(
      () => RED.nodes.filterNodes({ type: 'event-streams-producer' }).length,
    );
    await page.locator('#red-ui-header-button-sidemenu').click();
    await page.locator('#menu-item-import').click();
    const dialog = page.locator('#red-ui-clipboard-dialog');
    await dialog.waitFor({ state: 'visible' });
    await dialog.getByRole('link', { name: 'Examples' }).click();
    await dialog.getByText('@esnodes/node-red-event-streams', { exact: true }).click();
    await dialog.getByText('01 - Produce text, JSON and binary', { exact: true }).click();
    await page.locator('#red-ui-clipboard-dialog-import-opt-new').click();
    await page.locator('#red-ui-clipboard-dialog-ok').click();
    await dialog.waitFor({ state: 'hidden' });
    // Node-RED asks, because the demo has the examples' config node (same id): as the README says.
    const notice = page.locator('.red-ui-notification').filter({
      hasText: 'Some of the nodes you are importing already exist in your workspace.',
    });
    await notice.waitFor({ state: 'visible' });
    for (const file of await screenshotPaths('first-hour-import-conflict', false)) {
      await page.screenshot({ path: file });
    }
    await notice.getByRole('button', { name: 'Import copy' }).click();
    const chart = (await page.locator('#red-ui-workspace-chart').boundingBox())!;
    await page.mouse.move(chart.x + 160, chart.y + 60, { steps: 5 });
    await page.mouse.click(chart.x + 160, chart.y + 60);
    await waitFor(
      async () =>
        (await page.evaluate(() => RED.nodes.filterNodes({ type: 'event-streams-producer' }).length)) ===
        producersBefore + 1,
      "the example's producer on the workspace",
    );
    assert.deepEqual(await countEndpoints(), endpointsBefore, 'no second config node');
    const endpointOfNew = await page.evaluate(() => {
      const all = RED.nodes.filterNodes({ type: 'event-streams-producer' });
      return all[all.length - 1].endpoint;
    });
    assert.equal(endpointOfNew, SHARED_ENDPOINT_ID);
  });
});
