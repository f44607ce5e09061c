// SPDX-License-Identifier: Apache-2.0
/** The `event-streams-local` command: ready line, the documented curl, flags, and clean shutdown. */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { parseCli } from '../../gateway/cli';
import { deploymentOf } from '../../gateway/server';
import { Client, removeDir, tempDir } from './util';

const CLI = path.join(__dirname, '..', '..', 'gateway', 'cli.js');
const HAS_CURL = spawnSync('curl', ['--version']).status === 0;

interface Running {
  child: ChildProcess;
  info: { url: string; adminUrl: string; iamUrl: string; apiKey: string; caFile?: string };
  stdout: () => string;
  stderr: () => string;
}

function start(args: string[]): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => (err += d));
    child.stdout!.on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        try {
          resolve({ child, info: JSON.parse(out.slice(0, nl)), stdout: () => out, stderr: () => err });
        } catch (e) {
          reject(e as Error);
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`cli exited early with ${code}: ${err}`)));
  });
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

describe('local endpoint: CLI', function () {
  let dir: string;
  let running: Running | undefined;

  beforeEach(function () {
    dir = tempDir();
  });

  afterEach(async function () {
    if (running && running.child.exitCode === null) {
      running.child.kill('SIGKILL');
      await exitCode(running.child);
    }
    running = undefined;
    removeDir(dir);
  });

  it('parses the secured-Kafka flags; secrets only from a file or the environment', function () {
    const dir = tempDir('cli-kafka-');
    try {
      const ca = path.join(dir, 'ca.pem');
      const pw = path.join(dir, 'pw');
      fs.writeFileSync(ca, 'CA-PEM');
      fs.writeFileSync(pw, 'scram-secret\n');
      const r = parseCli(
        [
          '--kafka',
          'b1:9093,b2:9093',
          '--kafka-ca',
          ca,
          '--kafka-sasl',
          'scram-sha-512',
          '--kafka-user',
          'u',
          '--kafka-password-file',
          pw,
        ],
        {},
      );
      assert.ok(!r.help);
      assert.deepEqual(r.options.kafka, {
        brokers: ['b1:9093', 'b2:9093'],
        ssl: { ca: 'CA-PEM' },
        sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'scram-secret' },
      });
      const o = parseCli(
        [
          '--kafka',
          'b:9093',
          '--kafka-tls',
          '--kafka-sasl',
          'oauthbearer',
          '--kafka-iam-url',
          'https://iam.example/identity/token',
        ],
        {
          ES_LOCAL_KAFKA_PASSWORD: 'api-key-from-env',
        },
      );
      assert.ok(!o.help);
      assert.deepEqual(o.options.kafka?.sasl, {
        mechanism: 'oauthbearer',
        apiKey: 'api-key-from-env',
        iamUrl: 'https://iam.example/identity/token',
      });
      assert.throws(
        () => parseCli(['--kafka', 'b:1', '--kafka-sasl', 'plain', '--kafka-user', 'u'], {}),
        /ES_LOCAL_KAFKA_PASSWORD/,
      );
      assert.throws(
        () => parseCli(['--kafka', 'b:1', '--kafka-sasl', 'kerberos'], {}),
        /Invalid --kafka-sasl/,
      );
      assert.throws(() => parseCli(['--kafka-tls'], {}), /need --kafka/);
      assert.throws(() => parseCli(['--kafka', 'b:1', '--kafka-password', 'x'], {}));
    } finally {
      removeDir(dir);
    }
  });

  it('prints one JSON ready line, serves the documented curl, and exits 0 on SIGTERM', async function () {
    running = await start(['--port', '0', '--state-dir', dir, '--topic', 'cli-t:2']);
    const { info } = running;
    assert.match(info.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(info.adminUrl, info.url);
    assert.equal(info.iamUrl, `${info.url}/identity/token`);
    assert.equal(info.caFile, path.join(dir, 'ca.pem'));
    assert.equal(fs.readFileSync(path.join(dir, 'api-key'), 'utf8').trim(), info.apiKey);

    let body: string;
    if (HAS_CURL) {
      const res = await new Promise<string>((resolve, reject) =>
        execFile(
          'curl',
          [
            '-sS',
            '-X',
            'POST',
            '-H',
            `Authorization: Bearer ${info.apiKey}`,
            '-H',
            'Content-Type: text/plain',
            '-H',
            'Accept: application/json',
            '-d',
            'test message',
            '--cacert',
            info.caFile!,
            `${info.url}/topics/cli-t/records`,
          ],
          (err, stdout) => (err ? reject(err) : resolve(stdout)),
        ),
      );
      body = res;
    } else {
      // curl is not installed here: the same request through undici with the CA file.
      const c = new Client({
        url: info.url,
        apiKey: info.apiKey,
        caPem: fs.readFileSync(info.caFile!, 'utf8'),
      });
      body = (await c.produce('cli-t', 'test message')).text;
      await c.close();
    }
    const parsed = JSON.parse(body);
    assert.equal(parsed.metadata.topic, 'cli-t');
    assert.equal(typeof parsed.metadata.offset, 'number');

    running.child.kill('SIGTERM');
    assert.equal(await exitCode(running.child), 0);
    assert.equal(running.stdout().trim().split('\n').length, 1, 'exactly one line on stdout');
    assert.ok(running.stderr().includes('listening'));
    assert.ok(!running.stderr().includes(info.apiKey), 'the API key is not logged');
  });

  it('honours --no-tls, --api-key, --flavour, --fault and exits 0 on SIGINT', async function () {
    running = await start([
      '--port',
      '0',
      '--state-dir',
      dir,
      '--no-tls',
      '--api-key',
      'cli-key-123456',
      '--flavour',
      'onprem',
      '--topic',
      'c2',
      '--fault',
      '{"status":503,"count":1}',
    ]);
    assert.match(running.info.url, /^http:\/\//);
    assert.equal(running.info.caFile, undefined);
    assert.equal(running.info.apiKey, 'cli-key-123456');
    const c = new Client({ url: running.info.url, apiKey: 'cli-key-123456' });
    assert.equal((await c.produce('c2', 'x')).status, 503);
    assert.equal((await c.produce('c2', 'x')).status, 200);
    assert.equal((await c.produce('c2', '')).status, 411);
    await c.close();
    running.child.kill('SIGINT');
    assert.equal(await exitCode(running.child), 0);
  });

  it('prints usage for --help and exits 2 on bad arguments', function () {
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: event-streams-local/);
    const bad = spawnSync(process.execPath, [CLI, '--port', 'abc'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /Invalid port/);
    const unknown = spawnSync(process.execPath, [CLI, '--nope'], { encoding: 'utf8' });
    assert.equal(unknown.status, 2);
  });

  it('starts with a shebang line', function () {
    assert.ok(fs.readFileSync(CLI, 'utf8').startsWith('#!/usr/bin/env node\n'));
  });

  it('parses every documented flag', function () {
    const r = parseCli([
      '--host',
      '0.0.0.0',
      '--port',
      '9444',
      '--api-key',
      'k1',
      '--api-key',
      'k2',
      '--user',
      'u',
      '--password',
      'p',
      '--topic',
      'a',
      '--topic',
      'b:4',
      '--auto-create',
      '--kafka',
      'h1:9092, h2:9092',
      '--state-dir',
      '/tmp/x',
      '--hostname',
      'es.local',
      '--token-lifetime',
      '60',
      '--flavour',
      'cloud',
      '--fault',
      '[{"latencyMs":5}]',
    ]);
    assert.equal(r.help, false);
    if (r.help) return;
    assert.deepEqual(r.options, {
      host: '0.0.0.0',
      port: 9444,
      apiKeys: ['k1', 'k2'],
      users: [{ username: 'u', password: 'p' }],
      topics: [{ name: 'a' }, { name: 'b', partitions: 4 }],
      autoCreateTopics: true,
      kafka: { brokers: ['h1:9092', 'h2:9092'] },
      stateDir: '/tmp/x',
      hostnames: ['es.local'],
      tokenLifetimeSec: 60,
      deployment: 'cloud',
      faults: [{ latencyMs: 5 }],
    });
    assert.throws(() => parseCli(['--user', 'u']), /password/);
    assert.throws(() => parseCli(['--flavour', 'moon']), /flavour/);
    assert.throws(() => parseCli(['--deployment', 'moon']), /deployment/);
    const renamed = parseCli(['--deployment', 'onprem']);
    assert.ok(
      !renamed.help && renamed.options.deployment === 'onprem',
      '--deployment is the new name of --flavour',
    );
    assert.throws(() => parseCli(['--fault', '{bad']), /fault/);
    assert.throws(() => parseCli(['--fault', '{"latencyMs":1e300}']), /latencyMs/);
  });

  it('parses the role, development and connection flags, and documents them in --help', function () {
    const r = parseCli([
      '--api-key',
      'm',
      '--writer-key',
      'w1',
      '--writer-key',
      'w2',
      '--dev',
      '--max-connections',
      '50',
    ]);
    assert.equal(r.help, false);
    if (r.help) return;
    assert.deepEqual(r.options, {
      apiKeys: ['m'],
      writerKeys: ['w1', 'w2'],
      dev: true,
      connections: { maxConnections: 50 },
    });
    assert.equal(
      (parseCli([]) as { options: { dev?: boolean } }).options.dev,
      undefined,
      '--dev is off by default',
    );
    assert.throws(() => parseCli(['--max-connections', '0']), /connection cap/);
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    for (const flag of ['--writer-key', '--dev', '--max-connections'])
      assert.ok(help.stdout.includes(flag), flag);
  });

  it('takes the deployment from `deployment`, or from its old name `flavour`; cloud by default', () => {
    assert.equal(deploymentOf({}), 'cloud');
    assert.equal(deploymentOf({ flavour: 'onprem' }), 'onprem');
    assert.equal(deploymentOf({ deployment: 'onprem' }), 'onprem');
    assert.equal(deploymentOf({ deployment: 'cloud', flavour: 'onprem' }), 'cloud');
  });
});
