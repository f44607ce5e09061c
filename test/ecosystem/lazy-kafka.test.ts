// SPDX-License-Identifier: Apache-2.0
/**
 * kafkajs is loaded only when a Kafka feature is used: loading the package's nodes (what
 * Node-RED does at start) and running REST work must not load it; creating a Kafka topic admin
 * does. Checked in a fresh Node process, where require.cache tells what was loaded.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const DIST = path.resolve(__dirname, '..', '..');

function loaded(script: string): { kafkajs: boolean; packages: string[] } {
  const out = execFileSync(
    process.execPath,
    [
      '-e',
      `${script};
const pk = new Set();
for (const k of Object.keys(require.cache)) {
  const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(k);
  if (m) pk.add(m[1]);
}
console.log(JSON.stringify({ kafkajs: pk.has('kafkajs'), packages: [...pk].sort() }));`,
    ],
    { cwd: DIST, encoding: 'utf8' },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

describe('lazy kafkajs', function () {
  this.timeout(30000);

  it('is not loaded with the nodes and the core (only undici is; avsc waits for a schema too)', () => {
    const r = loaded(
      ['endpoint', 'producer', 'topic-admin']
        .map((n) => `require('./nodes/event-streams-${n}.js')`)
        .concat("require('./lib/index.js')")
        .join(';'),
    );
    assert.equal(r.kafkajs, false, r.packages.join());
    assert.deepEqual(r.packages, ['undici']);
  });

  it('is loaded once a Kafka topic admin is created', () => {
    const r = loaded(
      "const { KafkaTopicAdmin } = require('./lib/kafka-admin.js'); new KafkaTopicAdmin({ brokers: ['127.0.0.1:1'] })",
    );
    assert.equal(r.kafkajs, true);
  });
});
