// SPDX-License-Identifier: Apache-2.0
/** The gateway's Prometheus metrics: off by default, protected, and counting exactly what was sent. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { parseCli } from '../../gateway/cli';
import { createGatewayMetrics, MAX_TOPIC_LABELS } from '../../gateway/metrics';
import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import { parseMetrics, sample } from '../support/metrics';
import { Client, removeDir, tempDir } from './util';

const KEY = 'metrics-manager-key-0123456789';
const WRITER = 'metrics-writer-key-0123456789';

describe('local endpoint: /metrics', function () {
  let dir: string;

  before(() => {
    dir = tempDir();
  });
  after(() => removeDir(dir));

  it('is off by default: /metrics answers 404', async function () {
    const ep = await startLocalEndpoint({ port: 0, stateDir: dir, apiKeys: [KEY] });
    const client = new Client(ep);
    try {
      const r = await client.req('GET', '/metrics');
      assert.equal(r.status, 404);
    } finally {
      await client.close();
      await ep.stop();
    }
  });

  describe('with metrics on (Manager key scrapes)', function () {
    let ep: LocalEndpoint;
    let client: Client;

    before(async function () {
      ep = await startLocalEndpoint({
        port: 0,
        stateDir: dir,
        apiKeys: [KEY],
        writerKeys: [WRITER],
        metrics: true,
        topics: [
          { name: 'm-one', partitions: 2 },
          { name: 'm-two', partitions: 1 },
        ],
      });
      client = new Client(ep);
    });
    after(async function () {
      await client.close();
      await ep.stop();
    });

    it('refuses a caller without a key (401) and a Writer key (403)', async function () {
      const anon = await client.req('GET', '/metrics', { auth: false });
      assert.equal(anon.status, 401);
      const writer = await client.req('GET', '/metrics', { auth: `Bearer ${WRITER}` });
      assert.equal(writer.status, 403);
      assert.doesNotMatch(writer.text, /esgw_/);
    });

    it('counts requests, records and bytes per topic equal to what was sent, also while producing', async function () {
      const before = parseMetrics((await client.req('GET', '/metrics')).text);
      const sent = { 'm-one': 0, 'm-two': 0 };
      let bytes = 0;
      const scrapes: Array<Promise<unknown>> = [];
      for (let round = 0; round < 10; round++) {
        const batch: Array<Promise<unknown>> = [];
        for (let i = 0; i < 20; i++) {
          const topic = i % 3 === 0 ? 'm-two' : 'm-one';
          const value = `value-${round}-${i}-${'x'.repeat(i)}`;
          bytes += Buffer.byteLength(value);
          sent[topic]++;
          batch.push(client.produce(topic, value).then((r) => assert.equal(r.status, 200, r.text)));
        }
        // A scrape in the middle of the run must answer and never block the produce path.
        scrapes.push(client.req('GET', '/metrics').then((r) => assert.equal(r.status, 200)));
        await Promise.all(batch);
      }
      await Promise.all(scrapes);
      const r = await client.req('GET', '/metrics');
      assert.equal(r.status, 200);
      assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      const after = parseMetrics(r.text);
      const delta = (name: string, labels: Record<string, string> = {}): number =>
        sample(after, name, labels) - sample(before, name, labels);
      assert.equal(delta('esgw_records_produced_total', { topic: 'm-one' }), sent['m-one']);
      assert.equal(delta('esgw_records_produced_total', { topic: 'm-two' }), sent['m-two']);
      assert.equal(delta('esgw_record_bytes_produced_total'), bytes);
      assert.equal(
        delta('esgw_http_requests_total', { route: 'produce_v1', method: 'POST', status: '200' }),
        200,
      );
      assert.equal(delta('esgw_http_request_duration_seconds_count', { route: 'produce_v1' }), 200);
      // Every scrape but the last one is counted by the time the last one is answered.
      assert.equal(delta('esgw_http_requests_total', { route: 'metrics', status: '200' }), 11);
      assert.ok(sample(after, 'esgw_open_connections') >= 1, 'open connections gauge');
      assert.ok(sample(after, 'esgw_process_resident_memory_bytes') > 0, 'process metrics');
    });

    it('counts auth failures by reason and registry operations', async function () {
      const before = parseMetrics((await client.req('GET', '/metrics')).text);
      assert.equal((await client.produce('m-one', 'x')).status, 200);
      const missing = await client.req('POST', '/topics/m-one/records', {
        auth: false,
        headers: { 'content-type': 'text/plain' },
        body: 'x',
      });
      assert.equal(missing.status, 401);
      const invalid = await client.req('POST', '/topics/m-one/records', {
        auth: 'Bearer not-a-key',
        headers: { 'content-type': 'text/plain' },
        body: 'x',
      });
      assert.equal(invalid.status, 401);
      const forbidden = await client.req('POST', '/admin/topics', {
        auth: `Bearer ${WRITER}`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'm-writer', partition_count: 1 }),
      });
      assert.equal(forbidden.status, 403);
      const subjects = await client.req('GET', '/confluent/subjects');
      assert.equal(subjects.status, 200, subjects.text);
      const after = parseMetrics((await client.req('GET', '/metrics')).text);
      const delta = (name: string, labels: Record<string, string>): number =>
        sample(after, name, labels) - sample(before, name, labels);
      assert.equal(delta('esgw_auth_failures_total', { reason: 'missing' }), 1);
      assert.equal(delta('esgw_auth_failures_total', { reason: 'invalid' }), 1);
      assert.equal(delta('esgw_auth_failures_total', { reason: 'forbidden' }), 1);
      assert.equal(delta('esgw_registry_operations_total', { operation: 'read', status: '200' }), 1);
    });
  });

  it('counts 429s from --rate-limit', async function () {
    const ep = await startLocalEndpoint({
      port: 0,
      stateDir: dir,
      apiKeys: [KEY],
      metrics: true,
      rateLimit: 5,
      topics: [{ name: 'm-rate' }],
    });
    const client = new Client(ep);
    try {
      const answers = await Promise.all(
        Array.from({ length: 30 }, () => client.produce('m-rate', 'x').then((r) => r.status)),
      );
      const refused = answers.filter((s) => s === 429).length;
      assert.ok(refused > 0, 'some requests were over the limit');
      const m = parseMetrics((await client.req('GET', '/metrics')).text);
      assert.equal(sample(m, 'esgw_rate_limited_total'), refused);
      assert.equal(sample(m, 'esgw_records_produced_total', { topic: 'm-rate' }), 30 - refused);
    } finally {
      await client.close();
      await ep.stop();
    }
  });

  it('with a scrape key answers only that key, not the Manager key', async function () {
    const ep = await startLocalEndpoint({
      port: 0,
      stateDir: dir,
      apiKeys: [KEY],
      metrics: { key: 'scrape-key-abcdef' },
    });
    const client = new Client(ep);
    try {
      assert.equal((await client.req('GET', '/metrics')).status, 401);
      assert.equal((await client.req('GET', '/metrics', { auth: 'Bearer scrape-key-abcdeX' })).status, 401);
      const ok = await client.req('GET', '/metrics', { auth: 'Bearer scrape-key-abcdef' });
      assert.equal(ok.status, 200);
      assert.match(ok.text, /esgw_http_requests_total/);
    } finally {
      await client.close();
      await ep.stop();
    }
  });

  it('bounds the topic label: past the cap, topics are summed under _other', async function () {
    const metrics = createGatewayMetrics(() => undefined);
    for (let i = 0; i < MAX_TOPIC_LABELS + 50; i++) metrics.produced(`t-${i}`, 10);
    const m = parseMetrics(await metrics.text());
    assert.equal(sample(m, 'esgw_records_produced_total', { topic: '_other' }), 50);
    assert.equal(sample(m, 'esgw_records_produced_total'), MAX_TOPIC_LABELS + 50);
  });

  it('CLI: --metrics, and the scrape key only from a file or the environment', function () {
    const on = parseCli(['--metrics']);
    assert.ok(!on.help && on.options.metrics === true);
    const file = path.join(dir, 'scrape-key');
    fs.writeFileSync(file, 'from-file-key\n', { mode: 0o600 });
    const keyed = parseCli(['--metrics-key-file', file]);
    assert.ok(!keyed.help);
    assert.deepEqual(keyed.options.metrics, { key: 'from-file-key' });
    process.env.ESNODES_METRICS_KEY = 'from-env-key';
    try {
      const env = parseCli(['--metrics']);
      assert.ok(!env.help);
      assert.deepEqual(env.options.metrics, { key: 'from-env-key' });
    } finally {
      delete process.env.ESNODES_METRICS_KEY;
    }
    assert.throws(() => parseCli(['--metrics-key-file', path.join(dir, 'absent')]), /Cannot read/);
    assert.throws(() => parseCli(['--metrics-key', 'x']), /Unknown option/);
  });
});
