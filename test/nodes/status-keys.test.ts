// SPDX-License-Identifier: Apache-2.0
/**
 * No node status in any suite is a raw message key. test/nodes/support.ts records every status text
 * our nodes set while the other suites run; this root hook checks them all once the run is over.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { seenStatuses } from './support';

const TYPES = [
  'event-streams-endpoint',
  'event-streams-producer',
  'event-streams-topic-admin',
  'event-streams-consumer',
];

function catalog(type: string): Record<string, unknown> {
  const file = path.join(__dirname, '..', '..', '..', 'nodes', 'locales', 'en-US', `${type}.json`);
  return (JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>)[type]!;
}

/** The message keys in a status text: `type.a.b` alone or inside the text's parentheses. */
function keysIn(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of text.split(/[\s()]+/)) {
    const m = /^(event-streams-[a-z-]+)\.([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+)$/.exec(part);
    if (m) out.push([m[1]!, m[2]!]);
  }
  return out;
}

describe('node statuses', function () {
  it('recognises a raw key and its catalog (the check below relies on it)', function () {
    assert.deepEqual(keysIn('event-streams-endpoint.outbox.status'), [
      ['event-streams-endpoint', 'outbox.status'],
    ]);
    assert.deepEqual(keysIn('3 in flight, 0 queued, 2.5/s'), []);
    assert.equal(typeof catalog('event-streams-producer').status, 'object');
  });
});

// A root hook: it runs after every suite of this mocha run, whatever the file order.
after('no status any suite saw is an untranslated or foreign message key', function () {
  const catalogs = new Map(TYPES.map((t) => [t, catalog(t)]));
  const problems: string[] = [];
  let seen = 0;
  for (const [type, texts] of seenStatuses) {
    for (const text of texts) {
      seen++;
      for (const [owner, key] of keysIn(text)) {
        if (owner !== type) {
          problems.push(`${type} showed "${text}": a key of ${owner}'s catalog`);
          continue;
        }
        const value = key
          .split('.')
          .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], catalogs.get(owner));
        if (typeof value !== 'string') problems.push(`${type} showed "${text}": no such message`);
      }
    }
  }
  assert.deepEqual(problems, [], `${problems.length} of ${seen} status texts are raw message keys`);
});
