// SPDX-License-Identifier: Apache-2.0
/**
 * What `npm pack` ships, and that the tarball works as users get it: installed with npm into a
 * fresh Node-RED user directory, a real Node-RED (the one under test: node_modules/node-red, or
 * NODE_RED_MODULE) loads the three nodes, serves their editor HTML, help and icons, lists the
 * examples under Import → Examples, and logs no warning that an empty user directory does not.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promises as fs, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const ROOT = path.resolve(__dirname, '..', '..', '..');
const PKG = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  main: string;
  bin: Record<string, string>;
  'node-red': { nodes: Record<string, string> };
};
const NODE_RED_DIR = path.dirname(
  require.resolve(path.join(process.env.NODE_RED_MODULE || 'node-red', 'package.json')),
);
const NODE_RED_VERSION = (
  JSON.parse(readFileSync(path.join(NODE_RED_DIR, 'package.json'), 'utf8')) as { version: string }
).version;
const NODE_TYPES = Object.keys(PKG['node-red'].nodes).sort();
const EXAMPLES = readdirSync(path.join(ROOT, 'examples'))
  .filter((f) => f.endsWith('.json'))
  .sort();

/**
 * Everything users need and nothing else: compiled lib and nodes (with typings for the lib API),
 * the nodes' editor assets, the editor resource generated at build (resources/editor.js), the
 * examples, README, LICENSE, package.json. Source maps are left out:
 * they point at TypeScript sources the package does not ship.
 */
const ALLOWED =
  /^(package\.json|README\.md|LICENSE|resources\/editor\.js|examples\/\d\d - [^/]+\.json|dist\/index\.(js|d\.ts)|dist\/(lib|gateway)\/[\w/-]+\.(js|d\.ts)|dist\/nodes\/[\w/.-]+\.(js|d\.ts|html|json|svg))$/;

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string }>;
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, maxBuffer: 16 << 20, timeout: 120_000 });
  return stdout;
}

interface RunningNodeRed {
  child: ChildProcess;
  url: string;
  log: () => string;
  stop(): Promise<void>;
}

/** Starts Node-RED on a free loopback port with a user directory; resolves once flows started. */
async function startNodeRed(userDir: string): Promise<RunningNodeRed> {
  const settings = path.join(userDir, 'settings.js');
  await fs.writeFile(
    settings,
    `module.exports = {
  uiPort: 0,
  uiHost: '127.0.0.1',
  flowFile: 'flows.json',
  logging: { console: { level: 'info', metrics: false, audit: false } },
};
`,
  );
  await fs.writeFile(path.join(userDir, 'flows.json'), '[]');
  const child = spawn(
    process.execPath,
    [path.join(NODE_RED_DIR, 'red.js'), '--userDir', userDir, '--settings', settings],
    {
      cwd: userDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error('Node-RED did not start within 30 s')), 30_000);
    const poll = setInterval(() => {
      const m = /Server now running at (http:\/\/\S+?)\/?\s/.exec(output);
      if (m && /\[info\] Started flows/.test(output)) finish(undefined, m[1]);
    }, 50);
    const onExit = (code: number | null): void => finish(new Error(`Node-RED exited (${code})`));
    child.once('exit', onExit);
    function finish(err?: Error, found?: string): void {
      clearTimeout(timer);
      clearInterval(poll);
      child.off('exit', onExit);
      if (err) {
        void stop();
        reject(new Error(`${err.message}\n${output.slice(-3000)}`));
      } else {
        resolve(found!);
      }
    }
  });
  return { child, url, log: () => output, stop };
}

/** `[warn]` and `[error]` lines with their timestamps, ports and paths taken out, to compare runs. */
function complaints(log: string, userDir: string): string[] {
  return log
    .split('\n')
    .filter((line) => /\[(warn|error)\]/.test(line))
    .map((line) =>
      line
        .replace(/^.*?\[(warn|error)\]/, '[$1]')
        .replaceAll(userDir, '<userDir>')
        .trim(),
    );
}

async function getJson(url: string): Promise<any> {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  const body = await res.text();
  assert.equal(res.status, 200, `${url}: ${body.slice(0, 300)}`);
  return JSON.parse(body);
}

describe(`npm pack (installed into Node-RED ${NODE_RED_VERSION})`, function () {
  this.timeout(120000);
  let tmp: string;
  let packed: PackResult;
  const started: RunningNodeRed[] = [];

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'es-pack-'));
    // The build under test is already in dist/ (the suite runs from it): prepack would rebuild it
    // underneath the running tests. The fresh-copy case below runs prepack for real.
    const out = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], ROOT);
    packed = (JSON.parse(out) as PackResult[])[0]!;
  });

  after(async () => {
    for (const nr of started) await nr.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('contains only what users need, and all of it', () => {
    const files = packed.files.map((f) => f.path).sort();
    const unexpected = files.filter((f) => !ALLOWED.test(f));
    assert.deepEqual(unexpected, [], 'files outside the allowed set (tests, sources, maps, scripts, bench)');
    const required = [
      'package.json',
      'README.md',
      'LICENSE',
      PKG.main.replace(/^\.\//, ''),
      PKG.main.replace(/^\.\//, '').replace(/\.js$/, '.d.ts'),
      ...Object.values(PKG.bin).map((b) => b.replace(/^\.\//, '')),
      ...Object.values(PKG['node-red'].nodes).flatMap((js) => [js, js.replace(/\.js$/, '.html')]),
      ...NODE_TYPES.flatMap((t) => [
        `dist/nodes/locales/en-US/${t}.json`,
        `dist/nodes/locales/en-US/${t}.html`,
      ]),
      ...EXAMPLES.map((e) => `examples/${e}`),
      'resources/editor.js',
    ];
    for (const f of required) assert.ok(files.includes(f), `${f} is in the package`);
    assert.ok(files.some((f) => f.startsWith('dist/nodes/icons/') && f.endsWith('.svg')));
    // A budget, not a hard limit: 1,454,761 bytes once the Kafka transport, the consumer, the
    // whole Admin REST API, the outbox's recovery and the metrics had landed (all of it compiled
    // code, help and README); a jump past 1.6 MB means something shipped by mistake.
    assert.ok(packed.unpackedSize < 1_600_000, `unpacked size ${packed.unpackedSize}`);
  });

  it('installs with npm into a fresh user directory and loads every node without new warnings', async () => {
    // A user directory with nothing installed gives the warnings Node-RED itself logs there.
    const baseDir = path.join(tmp, 'baseline');
    await fs.mkdir(baseDir);
    const baseline = await startNodeRed(baseDir);
    started.push(baseline);
    await baseline.stop();

    const userDir = path.join(tmp, 'userdir');
    await fs.mkdir(userDir);
    await fs.writeFile(
      path.join(userDir, 'package.json'),
      JSON.stringify({ name: 'node-red-project', private: true, version: '0.0.1' }),
    );
    await npm(
      [
        'install',
        path.join(tmp, packed.filename),
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--omit=dev',
        '--no-package-lock',
      ],
      userDir,
    );
    const installed = JSON.parse(
      await fs.readFile(path.join(userDir, 'node_modules', PKG.name, 'package.json'), 'utf8'),
    ) as { version: string };
    assert.equal(installed.version, PKG.version);

    // The `exports` map: the package entry gives the public surface; internals are not reachable.
    const probe = `
      const api = require(${JSON.stringify(PKG.name)});
      const names = Object.keys(api).sort();
      let deep = 'reachable';
      try { require(${JSON.stringify(`${PKG.name}/dist/lib/client.js`)}); } catch (e) { deep = e.code; }
      const gateway = Object.keys(require(${JSON.stringify(`${PKG.name}/gateway`)})).sort();
      const kit = typeof require(${JSON.stringify(`${PKG.name}/server-kit`)}).kafkaKit().KafkaTopicAdmin;
      console.log(JSON.stringify({ names, deep, gateway, kit, version: require(${JSON.stringify(`${PKG.name}/package.json`)}).version }));`;
    const { stdout } = await run(process.execPath, ['-e', probe], { cwd: userDir });
    const surface = JSON.parse(stdout) as {
      names: string[];
      deep: string;
      gateway: string[];
      kit: string;
      version: string;
    };
    assert.deepEqual(surface.gateway, ['startLocalEndpoint'], 'the ./gateway subpath');
    assert.equal(surface.kit, 'function', 'the ./server-kit subpath');
    for (const name of [
      'EventStreamsClient',
      'createTopicAdmin',
      'AdminRestClient',
      'Outbox',
      'startLocalEndpoint',
    ]) {
      assert.ok(surface.names.includes(name), `the package entry exports ${name}`);
    }
    assert.ok(!surface.names.includes('encodeV1'), 'internals are not exported');
    assert.equal(surface.deep, 'ERR_PACKAGE_PATH_NOT_EXPORTED');
    assert.equal(surface.version, PKG.version);

    const nr = await startNodeRed(userDir);
    started.push(nr);

    const sets = (await getJson(`${nr.url}/nodes`)) as Array<Record<string, any>>;
    const ours = sets.filter((s) => s.module === PKG.name);
    assert.deepEqual(ours.flatMap((s) => s.types).sort(), NODE_TYPES);
    for (const set of ours) {
      assert.equal(set.enabled, true, `${set.id} enabled`);
      assert.equal(set.err, undefined, `${set.id} loaded without error: ${set.err}`);
      assert.equal(set.version, PKG.version);
    }

    const htmlRes = await fetch(`${nr.url}/nodes`, { headers: { accept: 'text/html' } });
    const html = await htmlRes.text();
    for (const type of NODE_TYPES) {
      assert.ok(html.includes(`data-template-name="${type}"`), `editor template of ${type}`);
      assert.ok(html.includes(`data-help-name="${type}"`), `help of ${type}`);
    }
    for (const icon of readdirSync(path.join(ROOT, 'nodes', 'icons'))) {
      const res = await fetch(`${nr.url}/icons/${PKG.name}/${icon}`);
      await res.arrayBuffer();
      assert.equal(res.status, 200, `icon ${icon}`);
    }

    // The editor resource the endpoint's .html loads with <script src="resources/<module>/editor.js">.
    const resource = await fetch(`${nr.url}/resources/${PKG.name}/editor.js`);
    const resourceText = await resource.text();
    assert.equal(resource.status, 200, 'resources/editor.js is served');
    assert.match(resourceText, /shared\.mapServiceKey = function mapServiceKey/);

    const listed = (await getJson(`${nr.url}/library/examples/flows/${PKG.name}/`)) as Array<{ fn?: string }>;
    assert.deepEqual(
      listed.map((e) => e.fn).sort(),
      EXAMPLES.map((e) => e.replace(/\.json$/, '')),
      'Import → Examples lists every example by its title',
    );
    const first = EXAMPLES[0]!.replace(/\.json$/, '');
    const served = await getJson(`${nr.url}/library/examples/flows/${PKG.name}/${encodeURIComponent(first)}`);
    assert.deepEqual(served, JSON.parse(readFileSync(path.join(ROOT, 'examples', EXAMPLES[0]!), 'utf8')));

    await nr.stop();
    const known = complaints(baseline.log(), baseDir);
    const added = complaints(nr.log(), userDir).filter((line) => !known.includes(line));
    assert.deepEqual(added, [], `warnings the package added:\n${nr.log().slice(-3000)}`);
    assert.doesNotMatch(nr.log(), /event-streams|esnodes/i, 'Node-RED logged nothing about the package');
  });

  it('a fresh copy of the sources (no dist/) packs a built package: prepack builds it', async function () {
    this.timeout(300_000);
    // What a user clones: the tracked and not-ignored files, without dist/ or any build output.
    const listed = (await run('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT })).stdout
      .split('\0')
      .filter((f) => f !== '' && !f.startsWith('dist/') && !f.startsWith('resources/'));
    const copy = path.join(tmp, 'fresh');
    for (const file of listed) {
      const from = path.join(ROOT, file);
      const stat = await fs.stat(from).catch(() => undefined);
      if (!stat?.isFile()) continue;
      await fs.mkdir(path.dirname(path.join(copy, file)), { recursive: true });
      await fs.copyFile(from, path.join(copy, file));
    }
    // The dependencies as `npm ci` installs them (the same tree; linked instead of installed again).
    await fs.symlink(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'junction');
    await assert.rejects(fs.access(path.join(copy, 'dist')), 'the copy starts without dist/');
    await fs.mkdir(path.join(tmp, 'fresh-out'));
    const out = await npm(['pack', '--json', '--pack-destination', path.join(tmp, 'fresh-out')], copy);
    // The build's own lines may come first; npm's JSON answer is the array at the end.
    const fresh = (JSON.parse(out.slice(out.search(/^\[\s*$/m))) as PackResult[])[0]!;
    const files = fresh.files.map((f) => f.path);
    for (const f of [PKG.main, ...Object.values(PKG['node-red'].nodes), 'resources/editor.js'])
      assert.ok(files.includes(f), `${f} is in the freshly packed package`);
    assert.deepEqual(
      files.filter((f) => !ALLOWED.test(f)),
      [],
      'the fresh pack ships only what users need',
    );
  });
});
