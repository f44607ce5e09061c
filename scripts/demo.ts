// SPDX-License-Identifier: Apache-2.0
/**
 * `npm start`: the local endpoint plus a Node-RED with this package and a demo flow deployed.
 *
 *   npm start                         memory backend, HTTPS with the endpoint's generated CA
 *   npm start -- --kafka HOST:PORT    the same demo on a Kafka-backed endpoint, plus example 09's
 *                                     round trip (producer → topic → consumer → debug)
 *   npm start -- --check [--seconds N] headless: run N seconds, verify records arrived, exit 0/1
 *   npm start -- --port 1880          Node-RED's port (0 picks a free one)
 *   npm start -- --reset              forget flows, credentials, endpoint key, CA and port; start over
 *
 * Node-RED runs as a child process with its own user directory under .nr-demo/ (git-ignored). The
 * package is linked into that directory's node_modules so Node-RED loads it as an installed
 * module (examples, help and icons included) straight from this checkout's dist/.
 *
 * The demo keeps your work: the demo flow is deployed only into an empty user directory; after
 * that, flows.json and flows_cred.json (encrypted with a credentialSecret kept in
 * .credential-secret) are Node-RED's own, the endpoint keeps its CA and API key under endpoint/,
 * and its port is remembered in demo.json. The endpoint config node reads `${ES_URL}`,
 * `${ES_API_KEY}` and `${ES_CA}`, set here in Node-RED's environment, so flows and examples keep
 * working even when the remembered port was taken and another one had to be used.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { startLocalEndpoint, type LocalEndpoint, type LocalEndpointOptions } from '../gateway';
import { buildDemoFlow, DEMO_TOPIC, ROUND_TRIP_EXAMPLE, type DemoEnv } from './demo-flow';

const ROOT = path.resolve(__dirname, '..', '..');
const PKG = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string };

interface DemoOptions {
  kafka?: string;
  check: boolean;
  seconds: number;
  port: number;
  host: string;
  dir: string;
  reset: boolean;
}

/** What the demo remembers between runs, in <dir>/demo.json. */
interface DemoState {
  endpointPort?: number;
}

function parse(): DemoOptions {
  const { values } = parseArgs({
    options: {
      kafka: { type: 'string' },
      check: { type: 'boolean', default: false },
      seconds: { type: 'string', default: '6' },
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      dir: { type: 'string' },
      reset: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: npm start -- [--kafka BROKERS] [--check [--seconds N]] [--port 1880] [--dir .nr-demo] [--reset]',
    );
    process.exit(0);
  }
  return {
    ...(values.kafka ? { kafka: values.kafka } : {}),
    check: values.check === true,
    seconds: Number(values.seconds),
    port: values.port !== undefined ? Number(values.port) : values.check ? 0 : 1880,
    host: values.host ?? '127.0.0.1',
    dir: path.resolve(values.dir ?? path.join(ROOT, '.nr-demo')),
    reset: values.reset === true,
  };
}

/** The parts of <dir> the demo owns; --reset removes exactly these (never the directory itself). */
const STATE_ENTRIES = ['userdir', 'endpoint', 'demo.json'];

async function readState(dir: string): Promise<DemoState> {
  try {
    const parsed = JSON.parse(await fs.readFile(path.join(dir, 'demo.json'), 'utf8')) as DemoState;
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch {
    return {};
  }
}

async function writeState(dir: string, state: DemoState): Promise<void> {
  await fs.writeFile(path.join(dir, 'demo.json'), `${JSON.stringify(state, null, 2)}\n`);
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/** The remembered port when it is free; otherwise a new one (the flows follow through ES_URL). */
async function startEndpoint(
  options: LocalEndpointOptions,
  port: number | undefined,
  log: (line: string) => void,
): Promise<LocalEndpoint> {
  if (port) {
    try {
      return await startLocalEndpoint({ ...options, port });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      log(`port ${port} is taken; the endpoint moves to a new port (ES_URL follows it)`);
    }
  }
  return startLocalEndpoint({ ...options, port: 0 });
}

async function linkPackage(userDir: string): Promise<void> {
  const scopeDir = path.join(userDir, 'node_modules', path.dirname(PKG.name));
  const link = path.join(userDir, 'node_modules', PKG.name);
  await fs.mkdir(scopeDir, { recursive: true });
  await fs.rm(link, { recursive: true, force: true });
  await fs.symlink(ROOT, link, 'junction');
}

async function writeSettings(userDir: string, port: number, host: string): Promise<string> {
  const secretFile = path.join(userDir, '.credential-secret');
  let secret: string;
  try {
    secret = (await fs.readFile(secretFile, 'utf8')).trim();
  } catch {
    secret = randomBytes(24).toString('hex');
    await fs.writeFile(secretFile, secret, { mode: 0o600 });
  }
  const settingsFile = path.join(userDir, 'settings.js');
  const settings = `// Generated by npm start; edits are overwritten.
module.exports = {
  uiPort: ${port},
  uiHost: ${JSON.stringify(host)},
  flowFile: 'flows.json',
  credentialSecret: ${JSON.stringify(secret)},
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { tours: false, projects: { enabled: false } },
  externalModules: { autoInstall: false, palette: { allowInstall: false } },
  // No "check for updates?" prompt over the editor on first open; a demo has no use for it.
  telemetry: { enabled: false },
};
`;
  await fs.writeFile(settingsFile, settings, { mode: 0o600 });
  return settingsFile;
}

function startNodeRed(
  userDir: string,
  settingsFile: string,
  quiet: boolean,
  esEnv: DemoEnv,
): Promise<{ child: ChildProcess; url: string }> {
  const red = require.resolve('node-red/red.js', { paths: [ROOT] });
  const child = spawn(process.execPath, [red, '--userDir', userDir, '--settings', settingsFile], {
    cwd: userDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...esEnv, NODE_RED_ENABLE_PROJECTS: 'false' },
  });
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString();
      if (!quiet) process.stderr.write(text);
      buffered += text;
      const m = /Server now running at (\S+)/.exec(buffered);
      if (m) {
        child.stdout?.off('data', onData);
        if (!quiet) child.stdout?.on('data', (c: Buffer) => process.stderr.write(c));
        resolve({ child, url: m[1]!.replace(/\/$/, '') });
      }
      if (buffered.length > 1 << 20) buffered = buffered.slice(-4096);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => {
      if (!quiet) process.stderr.write(c);
    });
    child.once('exit', (code) =>
      reject(new Error(`Node-RED exited before it was ready (code ${code})\n${buffered.slice(-2000)}`)),
    );
  });
}

async function deploy(url: string, flow: object[]): Promise<void> {
  const { request } = await import('undici');
  const res = await request(`${url}/flows`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'node-red-deployment-type': 'full' },
    body: JSON.stringify(flow),
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`Deploying the demo flow failed: ${res.statusCode} ${text}`);
}

/** Records the demo wrote, and how many carry a key and headers (memory backend: as stored). */
async function countInMemory(endpoint: LocalEndpoint): Promise<{ records: number; keyed: number }> {
  const records = await endpoint.readRecords(DEMO_TOPIC, { limit: 1000 });
  return {
    records: records.length,
    keyed: records.filter((r) => r.key !== null && r.headers.length > 0).length,
  };
}

/** Kafka backend: Kafka's own count (the sum of the partitions' high watermarks); every demo record is keyed. */
async function countInKafka(brokers: string): Promise<{ records: number; keyed: number }> {
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(DEMO_TOPIC);
    const records = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
    return { records, keyed: records };
  } finally {
    await admin.disconnect();
  }
}

async function main(): Promise<void> {
  const opts = parse();
  const userDir = path.join(opts.dir, 'userdir');
  if (opts.reset) {
    for (const entry of STATE_ENTRIES)
      await fs.rm(path.join(opts.dir, entry), { recursive: true, force: true });
    if (!opts.check)
      console.error(`Reset: removed the demo's flows, credentials and endpoint state in ${opts.dir}`);
  }
  await fs.mkdir(userDir, { recursive: true });
  const log = opts.check ? () => undefined : (line: string) => process.stderr.write(`[endpoint] ${line}\n`);
  const state = await readState(opts.dir);

  const endpoint: LocalEndpoint = await startEndpoint(
    {
      stateDir: path.join(opts.dir, 'endpoint'),
      topics: [{ name: DEMO_TOPIC, partitions: 3 }],
      // Like a development Kafka (auto.create.topics.enable): a first flow delivers on its first
      // inject. IBM Cloud never does this; the examples ensure their topics so they run there too.
      autoCreateTopics: true,
      // The demo prints a /local/topics/.../records curl: the development routes are on here.
      dev: true,
      defaultPartitions: 3,
      log,
      ...(opts.kafka ? { kafka: { brokers: opts.kafka.split(',').map((b) => b.trim()) } } : {}),
    },
    state.endpointPort,
    log,
  );
  if (state.endpointPort !== endpoint.port)
    await writeState(opts.dir, { ...state, endpointPort: endpoint.port });
  const env: DemoEnv = {
    ES_URL: endpoint.url,
    ES_ADMIN_URL: endpoint.adminUrl,
    ES_IAM_URL: endpoint.iamUrl,
    ES_API_KEY: endpoint.apiKey,
    ES_CA: endpoint.caPem ?? '',
    ...(opts.kafka ? { ES_BROKERS: opts.kafka } : {}),
  };

  let child: ChildProcess | undefined;
  let stopping = false;
  const stop = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child!.once('exit', r));
        child.kill('SIGINT');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 8000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await endpoint.stop();
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    await linkPackage(userDir);
    // Only an empty user directory gets the demo flow; from then on the flows are the user's.
    const fresh = !(await exists(path.join(userDir, 'flows.json')));
    const settingsFile = await writeSettings(userDir, opts.port, opts.host);
    const started = await startNodeRed(userDir, settingsFile, opts.check, env);
    child = started.child;
    child.once('exit', (code) => {
      if (!stopping) {
        console.error(`Node-RED exited (code ${code})`);
        void stop(code ?? 1);
      }
    });
    if (fresh) {
      const roundTrip = opts.kafka
        ? (JSON.parse(await fs.readFile(path.join(ROOT, 'examples', ROUND_TRIP_EXAMPLE), 'utf8')) as Array<
            Record<string, unknown>
          >)
        : undefined;
      await deploy(
        started.url,
        buildDemoFlow({ kafka: opts.kafka !== undefined, ...(roundTrip ? { roundTrip } : {}) }),
      );
    }

    if (opts.check) {
      await new Promise((r) => setTimeout(r, opts.seconds * 1000));
      const count = opts.kafka ? await countInKafka(opts.kafka) : await countInMemory(endpoint);
      const ok = count.records >= 2 && count.keyed === count.records;
      console.log(JSON.stringify({ ok, records: count.records, topic: DEMO_TOPIC }));
      await stop(ok ? 0 : 1);
      return;
    }

    console.log('');
    console.log(`  Node-RED editor:  ${started.url}/`);
    console.log(
      `  Local endpoint:   ${endpoint.url}  (admin ${endpoint.adminUrl}, ${opts.kafka ? `Kafka backend at ${opts.kafka}` : 'memory backend'})`,
    );
    console.log(
      `  Records so far:   curl -s --cacert ${endpoint.caFile} -H "Authorization: Bearer $(cat ${path.join(opts.dir, 'endpoint', 'api-key')})" ${endpoint.url}/local/topics/${DEMO_TOPIC}/records`,
    );
    console.log(
      `                    (the demo's topic; put any other topic's name in place of ${DEMO_TOPIC})`,
    );
    console.log(
      `  Node-RED's environment: ES_URL=${env.ES_URL}  ES_API_KEY (in ${path.join(opts.dir, 'endpoint', 'api-key')})  ES_CA (${endpoint.caFile ?? 'none'})`,
    );
    console.log(
      fresh
        ? `  Deployed the demo flow into ${userDir}; your changes are kept across restarts.`
        : `  Kept your flows and credentials from ${userDir}.`,
    );
    if (!opts.kafka)
      console.log(
        '  Memory backend: topics and records live in memory and are gone when npm start stops (use --kafka to keep them).',
      );
    else if (fresh)
      console.log(
        `  Round trip: the tab "Round trip (Kafka)" (example 09) produces to round-trip and consumes it back from ${opts.kafka} (no SASL, no TLS); click "send" and watch the debug sidebar.`,
      );
    console.log('  Start over with: npm start -- --reset');
    console.log('');
    console.log('  Press Ctrl-C to stop.');
  } catch (err) {
    console.error((err as Error).message);
    await stop(1);
  }
}

void main();
