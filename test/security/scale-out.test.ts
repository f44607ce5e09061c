// SPDX-License-Identifier: Apache-2.0
/**
 * Two gateways (`--kafka`, the same broker, the same keys) behind an imagined round-robin load
 * balancer: every request alternates between them. An IAM token issued by one must be accepted by
 * the other (it used to get 401, so v2 clients failed at random), topics created through one are
 * seen through the other, records through both land in Kafka with each key on one partition, and
 * a writer key's token is a writer on both.
 */
import assert from 'node:assert/strict';

import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import { kafkaOrSkip, readAll, uniqueTopic, type KafkaHandle } from '../support/kafka';
import { Client, removeDir, tempDir } from '../gateway/util';

const MANAGER = 'scale-out-manager-key-0123456789';
const WRITER = 'scale-out-writer-key-0123456789';

describe('security: two gateways on one Kafka accept each other’s IAM tokens', function () {
  this.timeout(180_000);
  let kafka: KafkaHandle;
  const gateways: Array<{ ep: LocalEndpoint; client: Client; dir: string }> = [];
  let n = 0;
  /** The "load balancer": each call goes to the next gateway. */
  const next = (): Client => gateways[n++ % gateways.length]!.client;

  before(async function () {
    kafka = await kafkaOrSkip(this);
    for (const name of ['a', 'b']) {
      const dir = tempDir(`es-scale-${name}-`);
      const ep = await startLocalEndpoint({
        port: 0,
        // Separate state dirs: separate CAs and certificates, nothing shared but keys and broker.
        stateDir: dir,
        apiKeys: [MANAGER],
        writerKeys: [WRITER],
        tokenLifetimeSec: 600,
        kafka: { brokers: kafka.brokers, clientId: `scale-out-${name}` },
      });
      gateways.push({ ep, client: new Client(ep), dir });
    }
  });

  after(async function () {
    for (const g of gateways) {
      await g.client.close();
      await g.ep.stop();
      removeDir(g.dir);
    }
  });

  async function token(client: Client, key: string): Promise<string> {
    const r = await client.req('POST', '/identity/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=${key}`,
      auth: false,
    });
    assert.equal(r.status, 200, r.text);
    return r.json.access_token as string;
  }

  it('alternates v1, v2 with IAM and admin between the gateways without a single 401', async function () {
    const topic = uniqueTopic('scale');
    // Admin through A, visible through B.
    const created = await gateways[0]!.client.req('POST', '/admin/topics', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: topic, partition_count: 3 }),
    });
    assert.equal(created.status, 202, created.text);
    // Creation is asynchronous (202): wait until the other gateway's metadata has the topic.
    let seen = await gateways[1]!.client.req('GET', `/admin/topics/${topic}`);
    const deadline = Date.now() + 30_000;
    while (seen.status === 404 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen = await gateways[1]!.client.req('GET', `/admin/topics/${topic}`);
    }
    assert.equal(seen.status, 200, seen.text);
    assert.equal(seen.json.partitions, 3);

    // Tokens from each gateway, each used on both (and admin with a token from the other one).
    const tokens = [await token(gateways[0]!.client, MANAGER), await token(gateways[1]!.client, MANAGER)];
    for (const t of tokens) {
      for (const g of gateways) {
        const r = await g.client.req('GET', `/admin/topics/${topic}`, { auth: `Bearer ${t}` });
        assert.equal(r.status, 200, r.text);
      }
    }

    const keys = ['k0', 'k1', 'k2', 'k3', 'k4'];
    const partitionOf = new Map<string, Set<number>>();
    const total = 120;
    for (let i = 0; i < total; i++) {
      const key = keys[i % keys.length]!;
      const client = next();
      let r;
      if (i % 2 === 0) {
        r = await client.req('POST', `/topics/${topic}/records?key=${key}`, {
          headers: { 'content-type': 'text/plain' },
          body: `v1-${i}`,
        });
        assert.equal(r.status, 200, r.text);
        const p = r.json.metadata.partition as number;
        (partitionOf.get(key) ?? partitionOf.set(key, new Set()).get(key)!).add(p);
      } else {
        // The token of whichever gateway did not get this request.
        r = await client.req('POST', `/v2/topics/${topic}/records`, {
          auth: `Bearer ${tokens[(n + 1) % 2]}`,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            key: { type: 'text', data: key },
            value: { type: 'text', data: `v2-${i}` },
          }),
        });
        assert.equal(r.status, 200, r.text);
        const p = r.json.partition as number;
        (partitionOf.get(key) ?? partitionOf.set(key, new Set()).get(key)!).add(p);
      }
    }
    for (const [key, parts] of partitionOf) assert.equal(parts.size, 1, `key ${key} on one partition`);
    const landed = await readAll(kafka.brokers, topic, total);
    assert.equal(landed.length, total);

    // A writer's token from A is a writer on B too: no admin writes there.
    const writerToken = await token(gateways[0]!.client, WRITER);
    const del = await gateways[1]!.client.req('DELETE', `/admin/topics/${topic}`, {
      auth: `Bearer ${writerToken}`,
    });
    assert.equal(del.status, 403);
    const ok = await gateways[1]!.client.req('POST', `/v2/topics/${topic}/records`, {
      auth: `Bearer ${writerToken}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: { type: 'text', data: 'writer' } }),
    });
    assert.equal(ok.status, 200, ok.text);
    // And the manager deletes the topic through B with A's token.
    const cleanup = await gateways[1]!.client.req('DELETE', `/admin/topics/${topic}`, {
      auth: `Bearer ${tokens[0]}`,
    });
    assert.equal(cleanup.status, 202, cleanup.text);
  });
});
