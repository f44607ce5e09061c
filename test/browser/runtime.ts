// SPDX-License-Identifier: Apache-2.0
/**
 * Plumbing for the browser tests: a Node-RED child process with this package installed (linked,
 * like `npm start` does), a headless Chromium driven by playwright-core, and the screenshot folders.
 *
 * scripts/demo.ts runs its launcher on import, so the few lines it shares with this file (link the
 * package, write settings, wait for "Server now running") are repeated here rather than imported.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { BrowserContext } from 'playwright-core';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
const PKG = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string };

/** Debian's Chromium; the tests never download a browser. `CHROMIUM_PATH` overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export const ARTIFACTS_DIR = path.join(ROOT, 'artifacts', 'screenshots');
export const DOCS_SCREENSHOTS_DIR = path.join(ROOT, 'docs', 'screenshots');

export interface NodeRedProcess {
  url: string;
  userDir: string;
  /** Everything Node-RED printed, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** Starts Node-RED 4 on a free port of 127.0.0.1 with an empty flow and this package installed. */
/** `env` is added to Node-RED's environment (the ES_* variables the examples read). */
export async function startNodeRed(env: Record<string, string> = {}): Promise<NodeRedProcess> {
  const userDir = await fs.mkdtemp(path.join(os.tmpdir(), 'es-browser-nr-'));
  const scopeDir = path.join(userDir, 'node_modules', path.dirname(PKG.name));
  await fs.mkdir(scopeDir, { recursive: true });
  await fs.symlink(ROOT, path.join(userDir, 'node_modules', PKG.name), 'junction');
  await fs.writeFile(path.join(userDir, 'flows.json'), '[]');
  const settingsFile = path.join(userDir, 'settings.js');
  await fs.writeFile(
    settingsFile,
    `module.exports = {
  uiPort: 0,
  uiHost: '127.0.0.1',
  flowFile: 'flows.json',
  credentialSecret: ${JSON.stringify(randomBytes(16).toString('hex'))},
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { tours: false, projects: { enabled: false } },
  externalModules: { autoInstall: false, palette: { allowInstall: false } },
  telemetry: { enabled: false },
};
`,
  );

  const red = require.resolve('node-red/red.js', { paths: [ROOT] });
  const child: ChildProcess = spawn(
    process.execPath,
    [red, '--userDir', userDir, '--settings', settingsFile],
    {
      cwd: userDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, NODE_RED_ENABLE_PROJECTS: 'false' },
    },
  );
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
    if (output.length > 1 << 20) output = output.slice(-65536);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await fs.rm(userDir, { recursive: true, force: true });
  };

  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('Node-RED did not start within 60 s')), 60_000);
      const check = (): void => {
        const m = /Server now running at (\S+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          child.stdout?.off('data', check);
          child.off('exit', onExit);
          resolve(m[1]!.replace(/\/$/, ''));
        }
      };
      const onExit = (code: number | null): void => {
        clearTimeout(timer);
        reject(new Error(`Node-RED exited before it was ready (code ${code})`));
      };
      child.stdout?.on('data', check);
      child.once('exit', onExit);
    });
    return { url, userDir, log: () => output, stop };
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${output.slice(-3000)}`);
  }
}

export interface BrowserSession {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless Chromium with a throwaway profile, quiet about updates, sync and first-run screens. */
export async function launchBrowser(): Promise<BrowserSession> {
  const { chromium } = await import('playwright-core');
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'es-browser-profile-'));
  // A persistent context is the only way to give Chromium a chosen --user-data-dir.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1400, height: 860 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      await fs.rm(profile, { recursive: true, force: true });
    },
  };
}

/** Where a screenshot goes: always artifacts/screenshots/, and docs/screenshots/ when asked to. */
export async function screenshotPaths(name: string, forDocs: boolean): Promise<string[]> {
  await fs.mkdir(ARTIFACTS_DIR, { recursive: true });
  const out = [path.join(ARTIFACTS_DIR, `${name}.png`)];
  if (forDocs && process.env.UPDATE_SCREENSHOTS === '1') {
    await fs.mkdir(DOCS_SCREENSHOTS_DIR, { recursive: true });
    out.push(path.join(DOCS_SCREENSHOTS_DIR, `${name}.png`));
  }
  return out;
}
