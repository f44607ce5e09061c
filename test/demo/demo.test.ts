// SPDX-License-Identifier: Apache-2.0
/**
 * `npm start` headless: the demo (local endpoint + Node-RED child + demo flow) runs for a few
 * seconds in a temp directory, checks that keyed records with headers arrived, and exits 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { kafkaClient, kafkaOrSkip } from '../helpers/kafka';

const DEMO = path.resolve(__dirname, '..', '..', 'scripts', 'demo.js');

describe('demo (npm start --check)', function () {
  this.timeout(90000);
  let dir: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-demo-'));
  });

  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('runs the demo flow against the local endpoint and exits 0 with ok:true', async () => {
    await runDemo(['--dir', dir]);
  });

  it('runs the same demo on a Kafka-backed endpoint (npm start -- --kafka BROKERS)', async function () {
    const kafka = await kafkaOrSkip(this);
    // The demo always writes to the same topic: start from none so earlier runs cannot be counted.
    const admin = kafkaClient(kafka.brokers).admin();
    await admin.connect();
    try {
      if ((await admin.listTopics()).includes('sensor-readings')) {
        await admin.deleteTopics({ topics: ['sensor-readings'], timeout: 10000 });
      }
    } finally {
      await admin.disconnect();
    }
    await runDemo(['--dir', path.join(dir, 'kafka'), '--kafka', kafka.brokers.join(',')]);
  });

  async function runDemo(args: string[]): Promise<void> {
    const child = spawn(process.execPath, [DEMO, '--check', '--seconds', '5', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      const guard = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the demo did not exit within 60 s\n${stdout}\n${stderr.slice(-2000)}`));
      }, 60000);
      child.once('exit', (c) => {
        clearTimeout(guard);
        resolve(c);
      });
    });
    const detail = `exit ${code}\nstdout: ${stdout}\nstderr: ${stderr.slice(-2000)}`;
    assert.equal(code, 0, detail);
    const last = stdout.trim().split('\n').at(-1) ?? '';
    const result = JSON.parse(last) as { ok: boolean; records: number; topic: string };
    assert.equal(result.ok, true, detail);
    assert.equal(result.topic, 'sensor-readings');
    // One reading a second for five seconds, the first after about a second.
    assert.ok(result.records >= 3, detail);
  }
});
