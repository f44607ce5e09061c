// SPDX-License-Identifier: Apache-2.0
/**
 * The editor in a real browser: headless Chromium (Debian's, via playwright-core) against a
 * Node-RED 4 child process with this package installed, and the local endpoint over HTTPS with its
 * own CA. The tests are one user story in order (palette → config dialog → deploy → inject → help
 * → topic admin → example); each step asserts on what the user sees, and on the endpoint.
 *
 * Skipped, with a printed reason, when Chromium is not installed; REQUIRE_BROWSER=1 makes that a
 * failure. Screenshots go to artifacts/screenshots/ on every run, and the README's ones to
 * docs/screenshots/ with UPDATE_SCREENSHOTS=1.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { Locator, Page } from 'playwright-core';

import { startLocalEndpoint, type LocalEndpoint } from '../../gateway/server';
import { Client } from '../gateway/util';
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

// The editor's global, only ever touched inside page.evaluate callbacks.
declare const RED: any;

const PRODUCER = 'event-streams-producer';
const TOPIC_ADMIN = 'event-streams-topic-admin';
const ENDPOINT = 'event-streams-endpoint';
/** Bounded waits: generous because the machine is small and shared, never open-ended. */
const UI_TIMEOUT = 30_000;
/** Polls of the page cost a round trip to the browser: check every 100 ms, up to the UI timeout. */
const UI_WAIT = { timeoutMs: UI_TIMEOUT, intervalMs: 100 };

describe('editor in a real browser (Chromium + Node-RED)', function () {
  this.timeout(120_000);
  this.slow(20_000);

  const suffix = randomBytes(3).toString('hex');
  const TOPIC = `orders-${suffix}`;
  const OTHER_TOPICS = [`orders-eu-${suffix}`, `payments-${suffix}`];
  const CREATED_TOPIC = `created-in-editor-${suffix}`;
  /** The example imported from the menu; it produces to the topic `examples`. */
  const EXAMPLE = '01 - Produce text, JSON and binary';

  let stateDir: string | undefined;
  let endpoint: LocalEndpoint | undefined;
  let nodeRed: NodeRedProcess | undefined;
  let session: BrowserSession | undefined;
  let page: Page;

  before(async function () {
    // Starting Node-RED and Chromium on a busy 2-core machine: bounded, but not tight.
    this.timeout(180_000);
    if (!chromiumAvailable()) {
      const reason = `Chromium not found at ${CHROMIUM_PATH} (install Debian's chromium or set CHROMIUM_PATH)`;
      if (process.env.REQUIRE_BROWSER === '1') throw new Error(`${reason}; REQUIRE_BROWSER=1 needs it`);
      console.log(`      skipping the browser tests: ${reason}`);
      this.skip();
    }
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-browser-endpoint-'));
    endpoint = await startLocalEndpoint({
      port: 0,
      stateDir,
      topics: [
        { name: TOPIC, partitions: 1 },
        { name: 'examples', partitions: 1 },
        ...OTHER_TOPICS.map((name) => ({ name, partitions: 1 })),
      ],
    });
    // As `npm start` does: the examples' config node reads these.
    nodeRed = await startNodeRed({
      ES_URL: endpoint.url,
      ES_ADMIN_URL: endpoint.adminUrl,
      ES_API_KEY: endpoint.apiKey,
      ES_CA: endpoint.caPem!,
    });
    session = await launchBrowser();
    page = await session.context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT);
    await page.goto(`${nodeRed.url}/`);
    await page.locator(`.red-ui-palette-node[data-palette-type="${PRODUCER}"]`).waitFor();
  });

  after(async function () {
    await session?.close();
    await nodeRed?.stop();
    await endpoint?.stop();
    if (stateDir) await fs.rm(stateDir, { recursive: true, force: true });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) {
      const name = `failed-${this.currentTest.title.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`;
      for (const file of await screenshotPaths(name, false)) {
        await page.screenshot({ path: file }).catch(() => undefined);
      }
      // Leave the editor usable for the next step: close whatever dialog the failure left open.
      for (const id of ['#node-config-dialog-cancel', '#node-dialog-cancel']) {
        const cancel = page.locator(id);
        if (await cancel.isVisible().catch(() => false)) {
          await cancel.click({ timeout: 5000 }).catch(() => undefined);
          await cancel.waitFor({ state: 'detached', timeout: 5000 }).catch(() => undefined);
        }
      }
    }
  });

  async function screenshot(
    name: string,
    forDocs: boolean,
    clip?: Locator | { x: number; y: number; width: number; height: number },
  ): Promise<void> {
    // Toasts ("Successfully deployed") fade after a few seconds; keep them out of the pictures.
    await page
      .waitForFunction(() => (globalThis as any).$('.red-ui-notification:visible').length === 0, undefined, {
        timeout: 15_000,
      })
      .catch(() => undefined);
    for (const file of await screenshotPaths(name, forDocs)) {
      if (clip && 'screenshot' in clip) await clip.screenshot({ path: file });
      else await page.screenshot({ path: file, ...(clip ? { clip } : {}) });
    }
  }

  /** Ids of the nodes of a type on the current flow, in creation order. */
  function nodeIds(type: string): Promise<string[]> {
    return page.evaluate((t) => RED.nodes.filterNodes({ type: t }).map((n: any) => n.id), type);
  }

  function canvasNode(id: string): Locator {
    return page.locator(`#red-ui-workspace-chart g.red-ui-flow-node-group[id="${id}"]`);
  }

  /** Drags a palette entry onto the workspace at (x, y) in chart coordinates; returns the new node's id. */
  async function dropFromPalette(type: string, x: number, y: number): Promise<string> {
    const before = await nodeIds(type);
    await page.locator('#red-ui-palette-search input').fill('');
    const item = page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`);
    await item.scrollIntoViewIfNeeded();
    const from = (await item.boundingBox())!;
    const chart = (await page.locator('#red-ui-workspace-chart').boundingBox())!;
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    // jQuery UI's draggable needs several moves to start and follow the drag.
    await page.mouse.move(from.x + from.width / 2 + 30, from.y + from.height / 2, { steps: 5 });
    await page.mouse.move(chart.x + x, chart.y + y, { steps: 15 });
    await page.mouse.up();
    let added: string | undefined;
    await waitFor(
      async () => {
        const after = await nodeIds(type);
        added = after.find((id) => !before.includes(id));
        return added !== undefined;
      },
      `a ${type} node to appear on the workspace`,
      UI_WAIT,
    );
    await canvasNode(added!).waitFor();
    return added!;
  }

  /** Draws a wire from the output port of one node to the input port of another. */
  async function wire(fromId: string, toId: string): Promise<void> {
    const out = (await canvasNode(fromId).locator('.red-ui-flow-port-output').first().boundingBox())!;
    const inp = (await canvasNode(toId).locator('.red-ui-flow-port-input').first().boundingBox())!;
    await page.mouse.move(out.x + out.width / 2, out.y + out.height / 2);
    await page.mouse.down();
    await page.mouse.move(inp.x + inp.width / 2, inp.y + inp.height / 2, { steps: 10 });
    await page.mouse.up();
    await waitFor(
      () =>
        page.evaluate(
          ([a, b]) => RED.nodes.filterLinks({ source: { id: a }, target: { id: b } }).length === 1,
          [fromId, toId],
        ),
      `a wire from ${fromId} to ${toId}`,
      UI_WAIT,
    );
  }

  /**
   * Waits until the newest edit tray has finished opening: RED.tray focuses its first input 150 ms
   * after the slide starts, which would steal keystrokes typed before that.
   */
  async function trayReady(): Promise<void> {
    await page.waitForFunction(
      () => {
        const doc = (globalThis as any).document;
        const trays = doc.querySelectorAll('.red-ui-tray');
        const last = trays[trays.length - 1];
        return (
          !!last &&
          last.contains(doc.activeElement) &&
          (globalThis as any).getComputedStyle(last).right === '0px'
        );
      },
      undefined,
      { timeout: UI_TIMEOUT },
    );
  }

  /**
   * Clicks a canvas element at its centre with the mouse. Locator clicks scroll the workspace to
   * "reveal" SVG elements that are already visible, which moves the flow out of the screenshots.
   */
  async function clickOnCanvas(target: Locator, double = false): Promise<void> {
    await target.waitFor({ state: 'visible' });
    const box = (await target.boundingBox())!;
    const x = box.x + box.width / 2;
    const y = box.y + box.height / 2;
    // A closing tray's shade still covers the workspace while it fades out.
    await target.evaluate(
      (el, [px, py]) =>
        new Promise<void>((resolve, reject) => {
          const doc = (globalThis as any).document;
          const started = Date.now();
          const poll = (): void => {
            if (el.contains(doc.elementFromPoint(px, py))) resolve();
            else if (Date.now() - started > 15_000) reject(new Error('the element stays covered'));
            else setTimeout(poll, 50);
          };
          poll();
        }),
      [x, y],
    );
    if (double) await page.mouse.dblclick(x, y);
    else await page.mouse.click(x, y);
  }

  async function openEditor(id: string): Promise<void> {
    await clickOnCanvas(canvasNode(id).locator('.red-ui-flow-node').first(), true);
    await page.locator('#node-dialog-ok').waitFor({ state: 'visible' });
    await trayReady();
  }

  async function closeEditor(): Promise<void> {
    await page.locator('#node-dialog-ok').click();
    await page.locator('#node-dialog-ok').waitFor({ state: 'detached' });
  }

  async function deploy(): Promise<void> {
    const button = page.locator('#red-ui-header-button-deploy');
    await button.click();
    await page
      .locator('.red-ui-notification')
      .filter({ hasText: 'Successfully deployed' })
      .last()
      .waitFor({ state: 'visible' });
    await page.waitForFunction(() => !RED.nodes.dirty(), undefined, { timeout: UI_TIMEOUT });
  }

  async function pressInject(id: string): Promise<void> {
    await clickOnCanvas(canvasNode(id).locator('.red-ui-flow-node-button'));
  }

  function statusLabel(id: string): Locator {
    return canvasNode(id).locator('.red-ui-flow-node-status-label');
  }

  /** Opens a sidebar tab with its button in the sidebar's tab bar. */
  async function openSidebarTab(tab: 'debug' | 'help'): Promise<void> {
    await page.locator(`#red-ui-tab-${tab}-link-button`).click();
    await page.locator(`#red-ui-tab-${tab}.active`).waitFor();
  }

  /** Clicks Test connection in the open config dialog and returns the result box once it has an answer. */
  async function testConnection(): Promise<Locator> {
    const result = page.locator('#es-endpoint-test-result');
    await page.locator('#es-endpoint-test').click();
    await page.waitForFunction(
      () => {
        const el = (globalThis as any).document.querySelector('#es-endpoint-test-result');
        return el && el.querySelector('i.fa-check, i.fa-times');
      },
      undefined,
      { timeout: UI_TIMEOUT },
    );
    return result;
  }

  async function showConfigTab(tab: 'connection' | 'security' | 'kafka'): Promise<void> {
    const link = page.locator(`#es-endpoint-tabs a[href="#es-endpoint-tab-${tab}"]`);
    const content = page.locator(`#es-endpoint-tab-${tab}`);
    // RED.tabs reads two clicks on its tabs within 400 ms as a double click (rename), so a quick
    // second tab switch can be swallowed: click until the tab shows, bounded.
    await waitFor(
      async () => {
        if (await content.isVisible()) return true;
        await link.click();
        return content.isVisible();
      },
      `the ${tab} tab of the endpoint dialog`,
      UI_WAIT,
    );
  }

  /** The visible text box of a typedInput whose hidden value input has this id. */
  function typedInput(id: string): Locator {
    return page.locator(`#${id} + .red-ui-typedInput-container input.red-ui-typedInput-input`);
  }

  let producerId = '';
  let injectId = '';
  let debugId = '';

  it('drags the producer from the palette onto the workspace', async function () {
    producerId = await dropFromPalette(PRODUCER, 420, 220);
    await assert.doesNotReject(canvasNode(producerId).waitFor({ state: 'visible' }));
    // A new producer has no endpoint yet: the editor flags it as invalid until one is chosen.
    const valid = await page.evaluate((id) => RED.nodes.node(id).valid, producerId);
    assert.equal(valid, false);
  });

  it('Test connection explains an untrusted certificate and a wrong API key in plain words', async function () {
    assert.ok(producerId, 'needs the producer from the previous step');
    await openEditor(producerId);
    // The endpoint select offers "Add new ..."; the + next to it opens the config dialog.
    await page.locator('#node-input-btn-endpoint-add').click();
    await page.locator('#node-config-dialog-ok').waitFor({ state: 'visible' });
    await trayReady();
    // A friendly title, not the raw type name.
    const title = await page.locator('.red-ui-tray-titlebar').last().innerText();
    assert.match(title, /IBM Event Streams endpoint/);
    assert.doesNotMatch(title, /event-streams-endpoint/);
    await page.locator('#node-config-input-name').fill('Local endpoint');
    await page.locator('#node-config-input-url').fill(endpoint!.url);
    await page.locator('#node-config-input-adminUrl').fill(endpoint!.adminUrl);
    await page.locator('#node-config-input-apiKey').fill(endpoint!.apiKey);

    // No CA pasted: the local CA is not publicly trusted.
    let result = await testConnection();
    await result.getByText(/is not trusted: it is signed by an unknown certificate authority/).waitFor();
    assert.match(await result.innerText(), /Add the endpoint's CA certificate on the TLS tab/);
    assert.equal(await result.locator('i.fa-times').count(), 1);
    await screenshot('config-untrusted-certificate', false);

    // CA pasted, wrong key: the endpoint answers 401.
    await showConfigTab('security');
    // Switching verification off is possible, with a warning that says what it costs.
    const warning = page.locator('#es-endpoint-insecure-warning');
    assert.equal(await warning.isVisible(), false);
    await page.locator('#node-config-input-verifyTls').uncheck();
    await warning.getByText('the connection can be intercepted and the credentials stolen').waitFor();
    await page.locator('#node-config-input-verifyTls').check();
    await warning.waitFor({ state: 'hidden' });
    await page.locator('#node-config-input-ca').fill(endpoint!.caPem!);
    // Kafka tab: SASL "None" is a choice of its own, and the dialog says the credentials stay unsent.
    await showConfigTab('kafka');
    const saslNone = page.locator('.es-sasl-none-hint');
    assert.equal(await saslNone.isVisible(), false);
    await page.locator('#node-config-input-saslMechanism').selectOption('none');
    await saslNone.getByText('the brokers get no credentials from this endpoint').waitFor();
    await page.locator('#node-config-input-saslMechanism').selectOption('plain');
    await saslNone.waitFor({ state: 'hidden' });
    await showConfigTab('connection');
    const wrongKey = `wrong-${randomBytes(8).toString('hex')}`;
    await page.locator('#node-config-input-apiKey').fill(wrongKey);
    result = await testConnection();
    await result.getByText('The credentials were rejected (401). Check the API key').waitFor();
    const text = await result.innerText();
    assert.match(text, /The certificate of .* is trusted\./);
    assert.ok(!text.includes(wrongKey), 'the API key must not be echoed back');
    assert.equal(await result.locator('i.fa-times').count(), 1);
  });

  it('Test connection succeeds with the CA and the right API key; the config node is added', async function () {
    await page.locator('#node-config-input-apiKey').fill(endpoint!.apiKey);
    const result = await testConnection();
    await result.getByText('The credentials were accepted.').waitFor();
    assert.match(await result.innerText(), /is reachable\.[\s\S]*is trusted\./);
    assert.equal(await result.locator('i.fa-check').count(), 1);
    await screenshot('config-dialog-test-connection', true, page.locator('.red-ui-tray').last());

    await page.locator('#node-config-dialog-ok').click();
    await page.locator('#node-config-dialog-ok').waitFor({ state: 'detached' });
    // Back in the producer dialog with the new config selected.
    const selected = await page.locator('#node-input-endpoint').inputValue();
    assert.ok(selected && selected !== '_ADD_');
    await page.locator('#node-input-topic').fill(TOPIC);
    await closeEditor();
    const ids = await page.evaluate((t) => {
      const found: string[] = [];
      RED.nodes.eachConfig((n: any) => {
        if (n.type === t) found.push(n.id);
      });
      return found;
    }, ENDPOINT);
    assert.equal(ids.length, 1);
    assert.equal(await page.evaluate((id) => RED.nodes.node(id).valid, producerId), true);
  });

  it('deploys; an inject sends a record: success status, delivery report in the debug sidebar, record at the endpoint', async function () {
    assert.ok(producerId, 'needs the producer from the previous steps');
    injectId = await dropFromPalette('inject', 160, 220);
    debugId = await dropFromPalette('debug', 700, 220);
    await wire(injectId, producerId);
    await wire(producerId, debugId);
    // Show the delivery report, not the payload.
    await openEditor(debugId);
    await typedInput('node-input-typed-complete').fill('eventstreams');
    await closeEditor();

    await deploy();
    await openSidebarTab('debug');
    await pressInject(injectId);

    await statusLabel(producerId).filter({ hasText: 'connected' }).waitFor();
    const dot = canvasNode(producerId).locator('.red-ui-flow-node-status');
    assert.match((await dot.getAttribute('class')) ?? '', /red-ui-flow-node-status-dot-green/);

    const message = page.locator('.red-ui-debug-msg').last();
    await message.waitFor();
    await message.getByText('msg.eventstreams').waitFor();
    const shown = await message.innerText();
    assert.match(shown, new RegExp(TOPIC));
    assert.match(shown, /offset/);

    let records: Awaited<ReturnType<LocalEndpoint['readRecords']>> = [];
    await waitFor(
      async () => {
        records = await endpoint!.readRecords(TOPIC, { limit: 10 });
        return records.length > 0;
      },
      'the record at the endpoint',
      UI_WAIT,
    );
    assert.equal(records.length, 1);
    // The inject node's default payload is a timestamp.
    assert.match(records[0]!.value.toString(), /^\d{13}$/);
    // Deselect, so the picture shows the flow as it runs.
    const chart = (await page.locator('#red-ui-workspace-chart').boundingBox())!;
    await page.mouse.click(chart.x + 600, chart.y + 600);
    // The top of the editor: the flow with its status, and the debug sidebar.
    await screenshot('editor-flow-deployed', true, { x: 0, y: 0, width: 1400, height: 440 });
  });

  it('suggests existing topic names in the producer dialog once the endpoint is deployed', async function () {
    await openEditor(producerId);
    const topic = page.locator('#node-input-topic');
    await topic.fill('');
    await topic.pressSequentially('orders', { delay: 30 });
    assert.equal(await topic.inputValue(), 'orders');
    const menu = page.locator('.red-ui-autoComplete-container');
    await menu.getByText(TOPIC, { exact: true }).waitFor();
    await menu.getByText(OTHER_TOPICS[0]!, { exact: true }).waitFor();
    assert.equal(await menu.getByText(OTHER_TOPICS[1]!, { exact: true }).count(), 0);
    await screenshot('topic-autocomplete', false);
    await menu.getByText(TOPIC, { exact: true }).click();
    assert.equal(await topic.inputValue(), TOPIC);
    await page.locator('#node-dialog-cancel').click();
    await page.locator('#node-dialog-cancel').waitFor({ state: 'detached' });
  });

  it('shows each node’s help in the help sidebar', async function () {
    // The producer: select it on the canvas, open the help tab.
    await clickOnCanvas(canvasNode(producerId).locator('.red-ui-flow-node').first());
    await openSidebarTab('help');
    const help = page.locator('.red-ui-sidebar-help-stack .red-ui-help');
    await help.getByRole('heading', { name: 'Inputs' }).waitFor();
    await help.getByText('Publishes msg.payload as a record to an IBM Event Streams topic').waitFor();
    await screenshot('help-sidebar', true, page.locator('#red-ui-sidebar'));

    // Every type of this package is listed in the help index; pick the other two from there.
    const toc = page.locator('.red-ui-sidebar-help-toc');
    const moduleItem = toc.getByText('@esnodes/node-red-event-streams', { exact: true });
    await moduleItem.waitFor();
    await moduleItem.click();
    await toc.getByText('IBM Event Streams endpoint', { exact: true }).click();
    await help
      .getByText('Connection to an IBM Event Streams REST Producer and Admin REST endpoint')
      .waitFor();
    await help.getByRole('heading', { name: 'Details' }).first().waitFor();
    await toc.getByText('Event Streams Kafka admin', { exact: true }).click();
    await help.getByText('Administers IBM Event Streams (or any Kafka): topics, consumer groups').waitFor();
  });

  it('the topic-admin node creates a topic configured in its dialog', async function () {
    const adminId = await dropFromPalette(TOPIC_ADMIN, 420, 340);
    const trigger = await dropFromPalette('inject', 160, 340);
    const out = await dropFromPalette('debug', 700, 340);
    await wire(trigger, adminId);
    await wire(adminId, out);
    await openEditor(adminId);
    // The only endpoint config is chosen for a new node (not "none").
    const only = await page.evaluate((t) => {
      const found: string[] = [];
      RED.nodes.eachConfig((n: any) => {
        if (n.type === t) found.push(n.id);
      });
      return found;
    }, ENDPOINT);
    assert.equal(only.length, 1);
    await waitFor(
      async () => (await page.locator('#node-input-endpoint').inputValue()) === only[0],
      'the only endpoint preselected',
      UI_WAIT,
    );
    await page.locator('#node-input-operation').selectOption('create');
    await page.locator('#node-input-topic').fill(CREATED_TOPIC);
    await page.locator('#node-input-partitions').fill('2');
    await closeEditor();
    await deploy();
    assert.equal(await endpoint!.backend.getTopic(CREATED_TOPIC), undefined);
    await pressInject(trigger);
    await statusLabel(adminId).filter({ hasText: 'created' }).waitFor();
    let detail: Awaited<ReturnType<LocalEndpoint['backend']['getTopic']>>;
    await waitFor(
      async () => {
        detail = await endpoint!.backend.getTopic(CREATED_TOPIC);
        return detail !== undefined;
      },
      `topic ${CREATED_TOPIC} at the endpoint`,
      UI_WAIT,
    );
    assert.equal(detail!.partitions, 2);
  });

  it('the producer dialog: choosing Avro shows the schema box; a pasted schema is checked, saved and used', async function () {
    assert.ok(producerId && injectId, 'needs the producer flow from the earlier steps');
    // The endpoint here speaks v1, which names a registered schema: register it first.
    const schemaId = `browser-ts-${suffix}`;
    const registry = new Client(endpoint!);
    try {
      const res = await registry.req('POST', '/artifacts', {
        headers: { 'content-type': 'application/json', 'x-registry-artifactid': schemaId },
        body: '"long"',
      });
      assert.equal(res.status, 200, res.text);
    } finally {
      await registry.close();
    }
    await openEditor(producerId);
    const schemaBox = page.locator('#node-input-valueSchema');
    assert.equal(await schemaBox.isVisible(), false, 'no schema box with the automatic format');
    await page.locator('#node-input-valueFormat').selectOption('avro');
    await schemaBox.waitFor({ state: 'visible' });
    await page.locator('#node-input-valueSchemaSource').selectOption('registry');
    await schemaBox.waitFor({ state: 'hidden' });
    await page.locator('#node-input-valueSchemaSource').selectOption('inline');
    // Not JSON: the editor marks the field invalid.
    await schemaBox.fill('{"type": "long"');
    await schemaBox.dispatchEvent('change');
    await waitFor(
      async () => (await schemaBox.getAttribute('class'))?.includes('input-error') ?? false,
      'the schema box marked invalid',
      UI_WAIT,
    );
    // The inject's payload is a timestamp, so a long schema fits.
    await schemaBox.fill('{"type": "long"}');
    await schemaBox.dispatchEvent('change');
    await page.locator('#node-input-valueSchemaId').fill(schemaId);
    await screenshot('producer-avro-dialog', false);
    await closeEditor();
    const saved = await page.evaluate((id) => {
      const n = RED.nodes.node(id);
      return {
        valueFormat: n.valueFormat,
        valueSchema: n.valueSchema,
        valueSchemaId: n.valueSchemaId,
        valid: n.valid,
      };
    }, producerId);
    assert.deepEqual(saved, {
      valueFormat: 'avro',
      valueSchema: '{"type": "long"}',
      valueSchemaId: schemaId,
      valid: true,
    });

    await deploy();
    const before = (await endpoint!.readRecords(TOPIC, { limit: 100 })).length;
    await pressInject(injectId);
    let records: Awaited<ReturnType<LocalEndpoint['readRecords']>> = [];
    await waitFor(
      async () => {
        records = await endpoint!.readRecords(TOPIC, { limit: 100 });
        return records.length > before;
      },
      'the Avro record at the endpoint',
      UI_WAIT,
    );
    const record = records[records.length - 1]!;
    assert.match(record.value.toString(), /^\d{13}$/);
    const headers = new Map(record.headers.map(([k, v]) => [k, v.toString()]));
    assert.equal(headers.get('com.ibm.eventstreams.schemaregistry.schema.id'), schemaId);
  });

  it('imports an example through Menu → Import → Examples; unedited, it deploys and runs', async function () {
    await page.locator('#red-ui-header-button-sidemenu').click();
    await page.locator('#menu-item-import').click();
    const dialog = page.locator('#red-ui-clipboard-dialog');
    await dialog.waitFor({ state: 'visible' });
    await dialog.getByRole('link', { name: 'Examples' }).click();
    const moduleItem = dialog.getByText('@esnodes/node-red-event-streams', { exact: true });
    await moduleItem.click();
    await dialog.getByText(EXAMPLE, { exact: true }).click();
    // Into a new flow tab, so it does not land on top of the flow built above.
    await page.locator('#red-ui-clipboard-dialog-import-opt-new').click();
    await page.locator('#red-ui-clipboard-dialog-ok').click();
    await dialog.waitFor({ state: 'hidden' });
    // The dialog closes first; the editor then fetches the example and imports it. Placing it
    // with a click before it has arrived leaves it following the mouse (seen on a loaded machine).
    await page.waitForFunction(
      () =>
        RED.nodes.filterNodes({ type: 'event-streams-producer' }).some((n: any) => n.topic === 'examples'),
      undefined,
      { timeout: UI_TIMEOUT },
    );
    const chart = (await page.locator('#red-ui-workspace-chart').boundingBox())!;
    // Imported nodes follow the mouse until a click places them (their top left at the pointer).
    await page.mouse.move(chart.x + 160, chart.y + 40, { steps: 5 });
    await page.mouse.click(chart.x + 160, chart.y + 40);

    const imported = await page.evaluate(() => {
      const producer = RED.nodes
        .filterNodes({ type: 'event-streams-producer' })
        .find((n: any) => n.topic === 'examples');
      const text = RED.nodes.filterNodes({ type: 'inject' }).find((n: any) => n.name === 'text');
      return {
        producer: producer?.id as string | undefined,
        text: text?.id as string | undefined,
        endpoint: producer?.endpoint as string | undefined,
      };
    });
    assert.ok(
      imported.producer && imported.text && imported.endpoint,
      "the example's producer and inject are on the workspace",
    );
    await canvasNode(imported.producer).waitFor({ state: 'visible' });

    // The example's endpoint reads Node-RED's environment (set here as `npm start` sets it):
    // nothing to edit.
    const config = await page.evaluate((id) => {
      const n = RED.nodes.node(id);
      return { url: n.url, name: n.name };
    }, imported.endpoint!);
    assert.deepEqual(config, { url: '${ES_URL}', name: 'Event Streams (from environment)' });

    await deploy();
    await pressInject(imported.text);
    await statusLabel(imported.producer).filter({ hasText: 'connected' }).waitFor();
    let records: Awaited<ReturnType<LocalEndpoint['readRecords']>> = [];
    await waitFor(
      async () => {
        records = await endpoint!.readRecords('examples', { limit: 10 });
        return records.length > 0;
      },
      "the example's record at the endpoint",
      UI_WAIT,
    );
    assert.equal(records.length, 1);
    assert.equal(records[0]!.value.toString(), 'Hello from Node-RED');
    assert.equal(records[0]!.key?.toString(), 'greeting');
    assert.deepEqual(
      records[0]!.headers.map(([k, v]) => [k, v.toString()]),
      [
        ['source', 'node-red'],
        ['content', 'text'],
      ],
    );
    await screenshot('example-imported', false);
  });

  // Last, so that filtering the palette cannot disturb the drag-and-drop steps above.
  it('the palette filter finds both nodes by "kafka" and "event streams", with labels of three lines', async function () {
    // Three lines at most in the palette (issue 27: the long labels wrapped to four). Node-RED breaks
    // palette labels at 82 px, so "Event Streams" alone takes two: three is the least that keeps both
    // search words, "kafka" and "event streams", in the label.
    const measureHeights = (): Promise<number[]> =>
      page.evaluate(
        (types) =>
          types.map((t: string) => {
            const el = (globalThis as any).document.querySelector(
              `.red-ui-palette-node[data-palette-type="${t}"] .red-ui-palette-label`,
            );
            const line = parseFloat((globalThis as any).getComputedStyle(el).lineHeight);
            return Math.round(el.getBoundingClientRect().height / line);
          }),
        [PRODUCER, TOPIC_ADMIN],
      );
    // Measured while the filter shows both nodes (they are visible then, whatever the state of
    // their palette category once the filter is cleared).
    let heights: number[] | undefined;
    const search = page.locator('#red-ui-palette-search input');
    for (const term of ['kafka', 'event streams', 'Kafka']) {
      // Typed, as a user does: the palette filters on key presses.
      await search.fill('');
      await search.pressSequentially(term, { delay: 20 });
      for (const type of [PRODUCER, TOPIC_ADMIN]) {
        await page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`).waitFor({ state: 'visible' });
      }
      // The filter narrows: the core inject node does not match.
      await page.locator('.red-ui-palette-node[data-palette-type="inject"]').waitFor({ state: 'hidden' });
      heights ??= await measureHeights();
    }
    // Leave the palette unfiltered for the next steps: type and erase until no node is filtered out
    // (the filter follows key presses, and a busy machine can lose the last one).
    await waitFor(
      async () => {
        if ((await page.locator('.red-ui-palette-node[data-filter="true"]').count()) === 0) return true;
        await search.fill('');
        await search.press('x');
        await search.press('Backspace');
        return false;
      },
      'the palette filter cleared',
      UI_WAIT,
    );
    await page.locator('.red-ui-palette-node[data-palette-type="inject"]').waitFor({ state: 'visible' });
    const labels = await page.evaluate(
      (types) =>
        types.map((t: string) =>
          (globalThis as any).$(`.red-ui-palette-node[data-palette-type="${t}"]`).attr('data-palette-label'),
        ),
      [PRODUCER, TOPIC_ADMIN],
    );
    assert.deepEqual(labels, ['Event Streams Kafka out', 'Event Streams Kafka admin']);
    assert.deepEqual(heights, [3, 3]);
    for (const label of labels) assert.doesNotMatch(label, /\bes\b/);
  });
});
