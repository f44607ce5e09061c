// SPDX-License-Identifier: Apache-2.0
/**
 * Encode once: a JSON value is serialised exactly once on its way to the topic, sent directly or
 * through the durable outbox, v1 and v2, and that one encoding also gives the size the queue bound
 * and the metrics count. The value's toJSON counts the serialisations; the records are read back
 * from the real local endpoint (HTTPS, verification on).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { EventStreamsClient } from '../../lib/client';
import { DEFAULT_LIMITS, encodeRecord } from '../../lib/encode';
import { type LocalEndpoint, startLocalEndpoint } from '../../gateway/server';
import { Outbox } from '../../lib/outbox';
import type { ApiFlavour, ClientOptions, ProduceResult } from '../../lib/types';

const KEY = 'encode-once-test-key-0123456789';

/** A value whose every JSON serialisation is counted. */
function counted(payload: unknown): { value: { toJSON(): unknown }; calls: () => number } {
  let calls = 0;
  return {
    value: {
      toJSON() {
        calls++;
        return payload;
      },
    },
    calls: () => calls,
  };
}

describe('encode once', function () {
  this.timeout(60_000);
  let dir: string;
  let ep: LocalEndpoint;
  const clients: EventStreamsClient[] = [];
  const outboxes: Outbox[] = [];
  let n = 0;

  const make = (flavour: ApiFlavour, extra: Partial<ClientOptions> = {}): EventStreamsClient => {
    const c = new EventStreamsClient({
      url: ep.url,
      adminUrl: ep.adminUrl,
      flavour,
      auth:
        flavour === 'v2' ? { mode: 'iam', apiKey: KEY, iamUrl: ep.iamUrl } : { mode: 'bearer', apiKey: KEY },
      tls: { ca: ep.caPem! },
      ...extra,
    });
    clients.push(c);
    return c;
  };
  const topic = async (): Promise<string> => {
    const name = `once-${process.pid}-${++n}`;
    await ep.backend.createTopic(name, 1, []);
    return name;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'es-encode-once-'));
    ep = await startLocalEndpoint({ port: 0, stateDir: path.join(dir, 'ep'), apiKeys: [KEY] });
  });
  after(async () => {
    await ep.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const o of outboxes.splice(0)) await o.close(1000);
    await Promise.all(clients.splice(0).map((c) => c.close({ deadlineMs: 1000 })));
  });

  for (const flavour of ['v1', 'v2'] as const) {
    for (const size of ['small', '60 KB'] as const) {
      const payload = size === 'small' ? { a: 1, s: 'ok' } : { a: 1, s: 'x'.repeat(60_000) };
      const text = JSON.stringify(payload);

      it(`${flavour}, ${size}: a direct send serialises the value once; its size comes from that encoding`, async () => {
        const t = await topic();
        const client = make(flavour);
        const v = counted(payload);
        const r = await client.produce(t, { value: v.value, key: 'k' });
        assert.equal(v.calls(), 1);
        assert.equal(r.bytes, Buffer.byteLength(text) + 1, 'value bytes plus the key');
        const [rec] = await ep.readRecords(t);
        assert.equal(rec!.value.toString(), text);
      });

      it(`${flavour}, ${size}: through the outbox the value is serialised once, stored, and sent as the same bytes`, async () => {
        const t = await topic();
        const client = make(flavour, { retry: { retries: 0 } });
        const outbox = await Outbox.open(
          {
            dir: path.join(dir, `spool-${++n}`),
            maxBytes: 16 * 1024 * 1024,
            flavour,
            limits: DEFAULT_LIMITS,
            concurrency: 2,
            retryDelayMs: 100,
          },
          () => client.sender,
        );
        outboxes.push(outbox);
        const v = counted(payload);
        const delivered = new Promise<ProduceResult>((resolve, reject) => {
          void outbox.enqueue(t, { value: v.value, key: 'k' }, { delivered: resolve, dropped: reject });
        });
        const r = await delivered;
        assert.equal(v.calls(), 1);
        assert.equal(r.bytes, Buffer.byteLength(text) + 1);
        const [rec] = await ep.readRecords(t);
        assert.equal(rec!.value.toString(), text);
        assert.equal(rec!.key?.toString(), 'k');
      });
    }
  }

  it('a large JSON body is made bytes once: the buffer is the body and gives the size', () => {
    const value = { s: 'ü'.repeat(30_000) };
    const v1 = encodeRecord('v1', '', 't', { value });
    assert.ok(Buffer.isBuffer(v1.body), 'v1 body is a Buffer');
    assert.equal(v1.body.length, Buffer.byteLength(JSON.stringify(value)));
    assert.equal(v1.recordBytes, v1.body.length);
    const v2 = encodeRecord('v2', '', 't', { value });
    assert.ok(Buffer.isBuffer(v2.body), 'v2 body is a Buffer');
    assert.equal(v2.bytes, v2.body.length + '/v2/topics/t/records'.length);
    const small = encodeRecord('v1', '', 't', { value: { a: 1 } });
    assert.equal(small.body, '{"a":1}', 'a short body stays text (no byte count needed)');
  });
});
