// SPDX-License-Identifier: Apache-2.0
/**
 * The registry's file log (issue 26): one appended line per change, folded into a snapshot every
 * N lines, replayed to the same ids after a restart and after a crash in the middle of a fold.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { SchemaRegistry, type VersionMeta } from '../../gateway/registry';
import { FileRegistryLog } from '../../gateway/registry-store';
import { openFilesUnder, removeDir, tempDir } from './util';

const schema = (i: number): string =>
  JSON.stringify({ type: 'record', name: `R${i}`, fields: [{ name: 'a', type: 'int' }] });

describe('local endpoint: the schema registry file log', function () {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('es-reglog-');
  });
  afterEach(() => removeDir(dir));

  async function fill(registry: SchemaRegistry, n: number): Promise<VersionMeta[]> {
    const out: VersionMeta[] = [];
    for (let i = 0; i < n; i++)
      out.push(await registry.register(i % 2 ? '__proto__' : `s${i % 5}`, schema(i)));
    return out;
  }

  it('appends, folds every N lines, and replays to the same ids and versions', async function () {
    const first = await SchemaRegistry.open(new FileRegistryLog(dir, 10));
    await first.setGlobalRule('NONE');
    const made = await fill(first, 25);
    await first.deleteVersion('s0', 1);
    await first.close();
    // 27 changes, folded at 10 and 20: a snapshot and a log of generation 2 with 7 lines.
    const snapshot = JSON.parse(fs.readFileSync(path.join(dir, 'schema-registry.json'), 'utf8'));
    assert.equal(snapshot.format, 2);
    assert.equal(snapshot.gen, 2);
    assert.equal(
      fs.readFileSync(path.join(dir, 'schema-registry.2.log'), 'utf8').trim().split('\n').length,
      7,
    );
    assert.ok(!fs.existsSync(path.join(dir, 'schema-registry.1.log')));

    const again = await SchemaRegistry.open(new FileRegistryLog(dir, 10));
    try {
      for (const v of made) {
        if (v.id === 's0' && v.version === 1) {
          assert.throws(() => again.get('s0', 1), /No version/);
          continue;
        }
        assert.equal(again.get(v.id, v.version).globalId, v.globalId);
        assert.equal(again.byId(v.globalId).schema, v.schema);
      }
      // The next id continues after the highest ever given.
      const next = await again.register('fresh', schema(99));
      assert.equal(next.globalId, Math.max(...made.map((v) => v.globalId)) + 1);
    } finally {
      await again.close();
    }
  });

  it('a crash after the snapshot was renamed but before the old log was removed replays each change once', async function () {
    const first = await SchemaRegistry.open(new FileRegistryLog(dir, 4));
    const made = await fill(first, 6);
    await first.close();
    // Simulate the crash: put a stale generation-0 log back next to the generation-1 snapshot.
    fs.writeFileSync(path.join(dir, 'schema-registry.0.log'), '{"t":"deleteArtifact","req":"x","id":"s0"}\n');
    // And a torn last line in the current log (a write cut short; never acknowledged).
    fs.appendFileSync(path.join(dir, 'schema-registry.1.log'), '{"t":"register","req":"y","id":"tor');
    const again = await SchemaRegistry.open(new FileRegistryLog(dir, 4));
    try {
      for (const v of made) assert.equal(again.get(v.id, v.version).globalId, v.globalId);
      assert.ok(!fs.existsSync(path.join(dir, 'schema-registry.0.log')));
      const more = await again.register('after-crash', schema(50));
      assert.equal(again.byId(more.globalId).id, 'after-crash');
    } finally {
      await again.close();
    }
    const third = await SchemaRegistry.open(new FileRegistryLog(dir, 4));
    try {
      assert.equal(third.get('after-crash').schema, schema(50));
    } finally {
      await third.close();
    }
  });

  it('closed while it is still opening: the file is closed before close() resolves, and stays closed', async function () {
    if (openFilesUnder(dir) === undefined) this.skip(); // no /proc/self/fd to list open files
    const store = new FileRegistryLog(dir);
    // The gateway closes its store this way when it stops, or fails to listen, right after starting.
    const opening = SchemaRegistry.open(store);
    await store.close();
    assert.deepEqual(openFilesUnder(dir), [], 'no file left open when close() resolves');
    const registry = await opening;
    await assert.rejects(registry.register('s', schema(1)), /closed/);
    assert.deepEqual(openFilesUnder(dir), [], 'the open that was under way did not leave one open either');
  });

  it('a start after close is refused and creates nothing', async function () {
    const store = new FileRegistryLog(path.join(dir, 'never'));
    await store.close();
    await assert.rejects(SchemaRegistry.open(store), /closed/);
    assert.ok(!fs.existsSync(path.join(dir, 'never')));
  });
});
