// SPDX-License-Identifier: Apache-2.0
/** The import graph of lib/ and nodes/ (scripts/check-imports.ts): no new cycle, no upward arrow. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { checkImports } from '../../scripts/check-imports';

const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('import graph (npm run check:imports)', () => {
  it('has no cycle outside the allow-list and no upward arrow', () => {
    const r = checkImports(ROOT);
    assert.ok(r.files > 30, `found ${r.files} source files`);
    assert.deepEqual(
      r.cycles.filter((c) => !c.allowedBy).map((c) => c.files.join(' ')),
      [],
      'new import cycles',
    );
    assert.deepEqual(r.violations, [], 'upward arrows');
  });

  it('catches a cycle and each kind of upward arrow (on a made-up tree)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'check-imports-'));
    try {
      const put = (file: string, text: string): void => {
        mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        writeFileSync(path.join(dir, file), text);
      };
      put('lib/a.ts', "import { b } from './b';\nimport type { N } from '../nodes/n';\n");
      put('lib/b.ts', "export { a } from './a';\nconst g = require('./local/gw');\n");
      put('lib/c.ts', "import RED from 'node-red';\n// import { x } from '../nodes/n'; (a comment)\n");
      put('lib/local/gw.ts', "import { a } from '../a';\n");
      put('lib/local/index.ts', "export * from './gw';\n");
      put('nodes/n.ts', "import { gw } from '../lib/local/gw';\nimport { e } from '../lib/local';\n");
      const r = checkImports(dir);
      assert.deepEqual(
        r.cycles.map((c) => c.files),
        [['lib/a.ts', 'lib/b.ts', 'lib/local/gw.ts', 'lib/local/index.ts', 'nodes/n.ts']],
      );
      assert.deepEqual(
        r.violations.map((v) => `${v.from} → ${v.to}`),
        [
          'lib/a.ts → nodes/n.ts',
          'lib/b.ts → lib/local/gw.ts',
          'lib/c.ts → node-red',
          'nodes/n.ts → lib/local/gw.ts',
        ],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
