// SPDX-License-Identifier: Apache-2.0
/**
 * The import graph of the shipped code (index.ts, lib/, gateway/, nodes/), checked: no cycles and
 * no upward arrows.
 *
 *   - the core (lib/) never imports the gateway, nodes/, the package entry or Node-RED;
 *   - the gateway (gateway/) never imports nodes/, the package entry or Node-RED, and reaches the
 *     core only through its public surface: lib/index.ts and lib/server-kit.ts (the package's
 *     "." and "./server-kit" exports);
 *   - nodes/ reaches the gateway only through its public entry (gateway/index.ts);
 *   - the package entry (index.ts) names only lib/index.ts and gateway/index.ts.
 *
 * Plain regular expressions over import lines (static `import`/`export … from`, `import()`,
 * `require()`), resolved to files: no compiler, no dependency, and fast enough for `npm test`.
 * Type-only imports count too: an arrow is an arrow, whether or not it survives compilation.
 *
 * `npm run check:imports` (after a build) prints the graph's size, every cycle and every upward
 * arrow, and exits 1 on any that is not allowed below; test/repo/imports.test.ts runs the same check.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Cycles known today and allowed until the work that removes them lands. A cycle passes when all
 * its files are in one allowed set, so it may shrink but not grow or appear elsewhere.
 * MERGER: remove this entry once the errors/error-model/encode rework (issue #20, i20) is in.
 */
// Empty: the errors ↔ error-model ↔ encode and client ↔ rest-sender cycles are gone (issue #20).
const ALLOWED_CYCLES: Array<{ why: string; files: string[] }> = [];

/** The gateway's public entry: the only file of gateway/ that nodes/ may import. */
const GATEWAY_ENTRY = 'gateway/index.ts';
/** The package's entry (package.json `exports` "."), above the core and the gateway. */
const PACKAGE_ENTRY = 'index.ts';
/** The core's public surface: the only files of lib/ that the gateway may import. */
const CORE_SURFACE = ['lib/index.ts', 'lib/server-kit.ts'];

export interface ImportCheck {
  files: number;
  edges: number;
  /** Every cycle (strongly connected component of two or more files, or a file importing itself). */
  cycles: Array<{ files: string[]; allowedBy?: string }>;
  /** Upward arrows: `from` imports `to`, which its layer may not. */
  violations: Array<{ from: string; to: string; rule: string }>;
}

const IMPORT_RE =
  /(?:\bimport\s+(?:type\s+)?(?:[\w*{}\s,]+?\s+from\s+)?|\bexport\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\})\s+from\s+|\bimport\s*\(\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;

function sourceFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const abs = path.join(root, dir);
  if (!existsSync(abs)) return out;
  for (const name of readdirSync(abs)) {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(root, rel)).isDirectory()) out.push(...sourceFiles(root, rel));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Strips comments so an import named in a comment is not an arrow. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

function resolve(root: string, from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  for (const candidate of [`${base}.ts`, `${base}/index.ts`, base]) {
    if (candidate.endsWith('.ts') && existsSync(path.join(root, candidate))) return candidate;
  }
  return undefined;
}

function layerRule(from: string, to: string | undefined, spec: string): string | undefined {
  const nodeRed = spec === 'node-red' || spec.startsWith('@node-red/') || spec.startsWith('node-red/');
  if (from === PACKAGE_ENTRY) {
    if (to && to !== CORE_SURFACE[0] && to !== GATEWAY_ENTRY) {
      return `the package entry names only ${CORE_SURFACE[0]} and ${GATEWAY_ENTRY}`;
    }
    return undefined;
  }
  for (const layer of ['lib/', 'gateway/']) {
    if (!from.startsWith(layer)) continue;
    if (nodeRed) return `${layer} never imports Node-RED`;
    if (to?.startsWith('nodes/')) return `${layer} never imports nodes/`;
    if (to === PACKAGE_ENTRY) return `${layer} never imports the package entry`;
  }
  if (from.startsWith('lib/') && to?.startsWith('gateway/')) {
    return 'the core (lib/) never imports the gateway (gateway/)';
  }
  if (from.startsWith('gateway/') && to?.startsWith('lib/') && !CORE_SURFACE.includes(to)) {
    return `the gateway reaches the core only through its public surface (${CORE_SURFACE.join(', ')})`;
  }
  if (from.startsWith('nodes/') && to?.startsWith('gateway/') && to !== GATEWAY_ENTRY) {
    return `nodes/ reaches the gateway only through ${GATEWAY_ENTRY}`;
  }
  return undefined;
}

/** Tarjan's strongly connected components. */
function components(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      out.push(comp.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

export function checkImports(root: string): ImportCheck {
  const files = [
    ...(existsSync(path.join(root, PACKAGE_ENTRY)) ? [PACKAGE_ENTRY] : []),
    ...sourceFiles(root, 'lib'),
    ...sourceFiles(root, 'gateway'),
    ...sourceFiles(root, 'nodes'),
  ];
  const graph = new Map<string, Set<string>>();
  const violations: ImportCheck['violations'] = [];
  let edges = 0;
  for (const file of files) {
    const deps = new Set<string>();
    graph.set(file, deps);
    for (const m of code(readFileSync(path.join(root, file), 'utf8')).matchAll(IMPORT_RE)) {
      const spec = m[1]!;
      const to = resolve(root, file, spec);
      const rule = layerRule(file, to, spec);
      if (rule) violations.push({ from: file, to: to ?? spec, rule });
      if (to && !deps.has(to)) {
        deps.add(to);
        edges++;
      }
    }
  }
  const cycles = components(graph)
    .filter((c) => c.length > 1 || graph.get(c[0]!)?.has(c[0]!))
    .map((c) => ({
      files: c,
      allowedBy: ALLOWED_CYCLES.find((a) => c.every((f) => a.files.includes(f)))?.why,
    }));
  return { files: files.length, edges, cycles, violations };
}

function main(): void {
  const root = path.resolve(__dirname, '..', '..');
  const r = checkImports(root);
  console.log(`import graph: ${r.files} files, ${r.edges} arrows (index.ts, lib/, gateway/, nodes/)`);
  for (const c of r.cycles) {
    console.log(
      `${c.allowedBy ? 'known cycle, allowed' : 'CYCLE'} (${c.files.length} files): ${c.files.join(' ')}`,
    );
    if (c.allowedBy) console.log(`  allowed until: ${c.allowedBy}`);
  }
  for (const v of r.violations) console.log(`UPWARD ARROW ${v.from} → ${v.to}: ${v.rule}`);
  const bad = r.cycles.filter((c) => !c.allowedBy).length + r.violations.length;
  if (bad > 0) {
    console.log(`check:imports: ${bad} problem(s)`);
    process.exitCode = 1;
  } else {
    console.log('check:imports: no new cycle, no upward arrow');
  }
}

if (require.main === module) main();
