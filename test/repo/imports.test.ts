// SPDX-License-Identifier: Apache-2.0
/** The import graph of index.ts, lib/, gateway/ and nodes/ (scripts/check-imports.ts): no new cycle, no upward arrow. */
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
      put('index.ts', "export * from './lib';\nexport * from './gateway';\nimport { b } from './lib/b';\n");
      put('lib/index.ts', "export * from './a';\n");
      put('lib/server-kit.ts', "export { c } from './c';\n");
      put('lib/a.ts', "import { b } from './b';\nimport type { N } from '../nodes/n';\n");
      put('lib/b.ts', "export { a } from './a';\nconst g = require('../gateway/gw');\n");
      put('lib/c.ts', "import RED from 'node-red';\n// import { x } from '../nodes/n'; (a comment)\n");
      // The gateway may name the core's public surface, not a module behind it.
      put(
        'gateway/gw.ts',
        "import { c } from '../lib/server-kit';\nimport { a } from '../lib/a';\nimport type { E } from '../index';\n",
      );
      put('gateway/index.ts', "export * from './gw';\nexport * from '../lib';\n");
      put('nodes/n.ts', "import { gw } from '../gateway/gw';\nimport { e } from '../gateway';\n");
      const r = checkImports(dir);
      assert.deepEqual(
        r.cycles.map((c) => c.files),
        [
          [
            'gateway/gw.ts',
            'gateway/index.ts',
            'index.ts',
            'lib/a.ts',
            'lib/b.ts',
            'lib/index.ts',
            'nodes/n.ts',
          ],
        ],
      );
      assert.deepEqual(
        r.violations.map((v) => `${v.from} → ${v.to}`),
        [
          'index.ts → lib/b.ts',
          'lib/a.ts → nodes/n.ts',
          'lib/b.ts → gateway/gw.ts',
          'lib/c.ts → node-red',
          'gateway/gw.ts → lib/a.ts',
          'gateway/gw.ts → index.ts',
          'nodes/n.ts → gateway/gw.ts',
        ],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
