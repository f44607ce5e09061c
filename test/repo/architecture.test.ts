// SPDX-License-Identifier: Apache-2.0
/**
 * ARCHITECTURE.md is the newcomer's map: every path it names in backticks must exist. A path
 * under lib/, gateway/, nodes/, test/, scripts/, bench/, resources/ or examples/ is checked as written (a
 * `*` matches within one folder level, `<placeholder>` tokens are skipped); a bare file name
 * (`client.ts`, `routes/admin.ts`) must be the end of some file's path in those folders.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const TOP = ['lib', 'gateway', 'nodes', 'test', 'scripts', 'bench', 'resources', 'examples'];
/** Generated at build time, so absent from a fresh clone's source tree but named on purpose. */
const GENERATED = new Set(['resources/editor.js', 'resources/']);

function allFiles(dir: string): string[] {
  const out: string[] = [];
  const abs = path.join(ROOT, dir);
  if (!existsSync(abs)) return out;
  for (const name of readdirSync(abs)) {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(ROOT, rel)).isDirectory()) out.push(rel + '/', ...allFiles(rel));
    else out.push(rel);
  }
  return out;
}

/** Backticked tokens that look like paths, with the line they are on. */
export function pathTokens(markdown: string): Array<{ token: string; line: number }> {
  const out: Array<{ token: string; line: number }> = [];
  markdown.split('\n').forEach((text, i) => {
    for (const m of text.matchAll(/`([^`\s]+)`/g)) {
      const token = m[1]!;
      if (token.includes('<') || token.includes('{')) continue;
      const rooted = TOP.some((t) => token.startsWith(`${t}/`));
      const bare = /^[\w.*-]+(\/[\w.*-]+)*\.(ts|js|json|html|md)$/.test(token);
      if (rooted || bare) out.push({ token, line: i + 1 });
    }
  });
  return out;
}

function globRe(token: string): RegExp {
  const escaped = token.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*');
  return new RegExp(`^${escaped}$`);
}

describe('ARCHITECTURE.md', () => {
  const doc = readFileSync(path.join(ROOT, 'ARCHITECTURE.md'), 'utf8');
  const files = TOP.flatMap((t) => [`${t}/`, ...allFiles(t)]);

  it('names only paths that exist', () => {
    const tokens = pathTokens(doc);
    assert.ok(tokens.length > 40, `found ${tokens.length} path tokens`);
    const missing: string[] = [];
    for (const { token, line } of tokens) {
      if (GENERATED.has(token)) continue;
      const rooted = TOP.some((t) => token.startsWith(`${t}/`));
      const re = globRe(token);
      const depth = token.replace(/\/$/, '').split('/').length;
      const found = rooted
        ? files.some((f) => re.test(f))
        : files.some((f) => re.test(f.split('/').slice(-depth).join('/')));
      if (!found) missing.push(`line ${line}: \`${token}\``);
    }
    assert.deepEqual(missing, [], 'paths in ARCHITECTURE.md that do not exist');
  });

  it('would catch a path that does not exist', () => {
    assert.deepEqual(
      pathTokens('the codec is in `lib/avro.ts` and `avro.ts`; see `nodes/<type>.ts`').map((t) => t.token),
      ['lib/avro.ts', 'avro.ts'],
    );
    assert.ok(!files.some((f) => f === 'lib/avro.ts' || f.endsWith('/avro.ts')));
  });
});
