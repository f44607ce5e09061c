// SPDX-License-Identifier: Apache-2.0
/**
 * Server-owned choices from settings.js: the outbox base directory (the editor names only a
 * subdirectory, validated against traversal) and refusing configs with TLS verification off.
 * Real Node-RED runtime (test helper), real local endpoint over HTTPS.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { outboxSubdirectory } from '../../nodes/shared/endpoint-config';
import {
  TAB,
  allNodes,
  endpointConfig,
  helper,
  startTestEndpoint,
  uniqueTopic,
  type TestEndpoint,
} from './support';
import { waitFor } from '../support/wait';

describe('settings.js: server-owned choices', function () {
  this.timeout(20000);
  let te: TestEndpoint;
  let base: string;

  before(async () => {
    te = await startTestEndpoint();
  });
  beforeEach(async () => {
    base = await fs.mkdtemp(path.join(os.tmpdir(), 'es-settings-'));
  });
  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    await fs.rm(base, { recursive: true, force: true });
  });
  after(async () => {
    await te.stop();
  });

  function flow(cfg: Record<string, unknown>, topic: string): object[] {
    return [
      TAB,
      endpointConfig(te.endpoint, cfg),
      { id: 'p', type: 'event-streams-producer', z: TAB.id, endpoint: 'cfg', topic, wires: [['out']] },
      { id: 'out', type: 'helper', z: TAB.id },
      { id: 'c', type: 'catch', z: TAB.id, scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper', z: TAB.id },
    ];
  }

  async function run(
    cfg: Record<string, unknown>,
    topic: string,
    waitOutcome = true,
  ): Promise<{ out: any[]; caught: any[] }> {
    await helper.load(allNodes, flow(cfg, topic), {
      cfg: { apiKey: te.endpoint.apiKey, ca: te.endpoint.caPem! },
    });
    const out: any[] = [];
    const caught: any[] = [];
    helper.getNode('out').on('input', (m: any) => out.push(m));
    helper.getNode('caught').on('input', (m: any) => caught.push(m));
    helper.getNode('p').receive({ payload: 'hello' });
    if (waitOutcome) await waitFor(() => out.length + caught.length > 0, 'an outcome', { timeoutMs: 10000 });
    return { out, caught };
  }

  it('accepts only a plain subdirectory name for the outbox', () => {
    assert.equal(outboxSubdirectory('', 'abc123'), 'abc123');
    assert.equal(outboxSubdirectory(' gateway-1 ', 'id'), 'gateway-1');
    for (const bad of ['..', '../x', '/etc', 'a/b', 'a\\b', '.hidden', 'x'.repeat(65), 'c:', '~']) {
      assert.throws(() => outboxSubdirectory(bad, 'id'), { code: 'INVALID_CONFIG' }, bad);
    }
  });

  it('puts the outbox under eventStreamsEndpointOutboxDir/<subdirectory>', async () => {
    const topic = uniqueTopic('settings');
    await te.endpoint.backend.createTopic(topic, 1, []);
    helper.settings({ eventStreamsEndpointOutboxDir: base });
    const { caught } = await run({ outbox: true, outboxDir: 'gateway-1' }, topic, false);
    await waitFor(async () => (await te.endpoint.readRecords(topic)).length === 1, 'the record', {
      timeoutMs: 10000,
    });
    assert.deepEqual(caught, []);
    const entries = await fs.readdir(path.join(base, 'gateway-1'));
    assert.ok(entries.length > 0, 'the spool lives in the subdirectory of the configured base');
  });

  it('refuses a path from the editor: the message fails INVALID_CONFIG and nothing is written outside the base', async () => {
    const outside = path.join(base, '..', `escaped-${path.basename(base)}`);
    helper.settings({ eventStreamsEndpointOutboxDir: path.join(base, 'inner') });
    const { caught } = await run(
      { outbox: true, outboxDir: `../${path.basename(outside)}` },
      uniqueTopic('x'),
    );
    assert.equal(caught.length, 1);
    assert.equal(caught[0].error.code, 'INVALID_CONFIG');
    assert.match(caught[0].error.message, /subdirectory name/);
    await assert.rejects(fs.access(outside));
  });

  it('eventStreamsEndpointAllowInsecureTls: false refuses a config with verification off', async () => {
    helper.settings({ eventStreamsEndpointAllowInsecureTls: false });
    const { caught } = await run({ verifyTls: false }, uniqueTopic('insecure'));
    assert.equal(caught.length, 1);
    assert.equal(caught[0].error.code, 'INVALID_CONFIG');
    assert.match(caught[0].error.message, /eventStreamsEndpointAllowInsecureTls/);
  });
});
