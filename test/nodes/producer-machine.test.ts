// SPDX-License-Identifier: Apache-2.0
import assert from 'node:assert/strict';

import {
  ClosedError,
  RateLimitedError,
  RetriesExhaustedError,
  ValidationError,
  WithdrawnError,
} from '../../lib/errors';
import type { ClientStats } from '../../lib/types';
import { Parcel } from '../../nodes/shared/handover';
import { type Item, type Part, ProducerMachine, type StatusView } from '../../nodes/shared/producer-machine';

function stats(over: Partial<ClientStats> = {}): ClientStats {
  return {
    state: 'idle',
    inFlight: 0,
    queued: 0,
    queuedBytes: 0,
    delivered: 0,
    failed: 0,
    retries: 0,
    insecure: false,
    ...over,
  };
}

function harness(current: () => ClientStats | undefined = () => stats()) {
  const statuses: StatusView[] = [];
  const sends: unknown[] = [];
  const dones: Array<Error | undefined> = [];
  const machine = new ProducerMachine({
    status: (s) => statuses.push(s),
    stats: current,
    outbox: () => undefined,
  });
  const item = (topic = 't'): Item => ({
    msg: { payload: 1 },
    topic,
    settled: false,
    send: (m) => sends.push(m),
    done: (err) => dones.push(err),
  });
  return { machine, statuses, sends, dones, item };
}

describe('ProducerMachine (no Node-RED)', () => {
  const parts = (n: number): Part[] =>
    Array.from({ length: n }, () => ({ topic: 't', state: 'pending' as const }));
  const result = (offset: number) => ({ result: { topic: 't', partition: 0, offset, attempts: 1 } });

  it('a multi-record message settles once, when every part is done, with the reports in input order', () => {
    const h = harness();
    const it1 = { ...h.item(), parts: parts(3) };
    h.machine.begin(it1);
    h.machine.part(it1, 2, result(12));
    h.machine.part(it1, 0, result(10));
    assert.equal(h.sends.length, 0, 'not before the last part');
    h.machine.part(it1, 1, result(11));
    h.machine.part(it1, 1, result(99));
    assert.equal(h.sends.length, 1);
    assert.deepEqual(h.dones, [undefined]);
    const records = (it1.msg.eventstreams as { records: Array<{ offset: number }> }).records;
    assert.deepEqual(
      records.map((r) => r.offset),
      [10, 11, 12],
    );
  });

  it('a partial failure is one done(err) with PARTIAL_FAILURE, its first cause, and every part’s entry', () => {
    const h = harness();
    const it1 = { ...h.item(), parts: parts(3) };
    h.machine.begin(it1);
    h.machine.part(it1, 0, result(1));
    h.machine.part(it1, 1, { error: new ValidationError('msg.records[1]: too big', 'VALUE_TOO_LARGE') });
    h.machine.part(it1, 2, result(2));
    assert.equal(h.sends.length, 0);
    assert.equal(h.dones.length, 1);
    const err = h.dones[0] as Error & { code: string };
    assert.equal(err.code, 'PARTIAL_FAILURE');
    assert.match(
      err.message,
      /^PARTIAL_FAILURE \(VALUE_TOO_LARGE\): 1 of 3 records failed; the first, record 1/,
    );
    const es = it1.msg.eventstreams as { records: any[]; error: { code: string; cause: string } };
    assert.equal(es.error.code, 'PARTIAL_FAILURE');
    assert.equal(es.error.cause, 'VALUE_TOO_LARGE');
    assert.equal(es.records[1].error.code, 'VALUE_TOO_LARGE');
    assert.equal(es.records[2].offset, 2);
  });

  it('withdrawn parts park the message; failing them settles it once, with the parts on the wire', () => {
    const h = harness();
    const it1 = { ...h.item(), parts: parts(3) };
    h.machine.begin(it1);
    h.machine.part(it1, 1, { error: new WithdrawnError('taken back') });
    h.machine.part(it1, 2, { error: new WithdrawnError('taken back') });
    assert.deepEqual(h.machine.parked, [it1]);
    h.machine.part(it1, 0, result(5));
    assert.equal(h.dones.length, 0, 'parked parts are still open');
    h.machine.failParked('the node was removed');
    assert.equal(h.dones.length, 1);
    assert.equal((h.dones[0] as Error & { code: string }).code, 'PARTIAL_FAILURE');
    assert.match(h.dones[0]!.message, /2 of 3 records failed/);
  });

  it('with the outbox the input completes when every part is stored; the report follows through reportStored', () => {
    const reported: Array<{ err?: Error }> = [];
    const dones: Array<Error | undefined> = [];
    const machine = new ProducerMachine({
      status: () => undefined,
      stats: () => undefined,
      outbox: () => undefined,
      reportStored: (_msg, err) => reported.push(err ? { err } : {}),
    });
    const it1: Item = {
      msg: {},
      topic: 't',
      settled: false,
      send: undefined,
      done: (e) => dones.push(e),
      parts: parts(2),
    };
    machine.begin(it1);
    machine.part(it1, 0, { spooled: true });
    assert.equal(dones.length, 0);
    machine.part(it1, 1, { spooled: true });
    assert.deepEqual(dones, [undefined]);
    machine.part(it1, 0, result(1));
    machine.part(it1, 1, { error: new ClosedError('dropped') });
    assert.equal(reported.length, 1);
    assert.equal((reported[0]!.err as Error & { code: string }).code, 'PARTIAL_FAILURE');
    assert.equal(((it1.msg.eventstreams as any).records[0] as { outbox: boolean }).outbox, true);
  });

  it('a delivery is one send and one done, with the report on msg.eventstreams', () => {
    const h = harness();
    const it1 = h.item();
    h.machine.begin(it1);
    h.machine.outcome(it1, { result: { topic: 't', partition: 0, offset: 7, attempts: 1 } });
    h.machine.outcome(it1, { result: { topic: 't', partition: 0, offset: 8, attempts: 1 } });
    assert.equal(h.sends.length, 1);
    assert.deepEqual(h.dones, [undefined]);
    assert.deepEqual(it1.msg.eventstreams, { topic: 't', partition: 0, offset: 7, attempts: 1 });
  });

  it('a failure is done(err) with code in the text and details on msg.eventstreams.error', () => {
    const h = harness();
    const it1 = h.item();
    h.machine.begin(it1);
    const last = new RateLimitedError('Produce failed (HTTP 429)', {
      statusCode: 429,
      serverMessage: 'slow',
    });
    h.machine.outcome(it1, { error: new RetriesExhaustedError('Gave up after 3 attempts', last, 3) });
    const err = h.dones[0] as Error & { code?: string };
    assert.equal(err.code, 'RETRIES_EXHAUSTED');
    assert.ok(Object.prototype.hasOwnProperty.call(err, 'code'), 'code is an own property');
    assert.match(err.message, /^RETRIES_EXHAUSTED \(RATE_LIMITED\): /);
    const report = (it1.msg.eventstreams as { error: Record<string, unknown> }).error;
    assert.equal(report.statusCode, 429);
    assert.equal(report.serverMessage, 'slow');
    assert.equal(report.attempts, 3);
    assert.equal(h.statuses.at(-1)?.key, 'throttled');
  });

  it('withdrawn records are parked, not settled; failParked fails each once', () => {
    const h = harness();
    const it1 = h.item();
    h.machine.begin(it1);
    h.machine.closing = true;
    h.machine.outcome(it1, { error: new WithdrawnError('taken back') });
    assert.equal(h.dones.length, 0);
    assert.equal(h.machine.parked.length, 1);
    const failed = h.machine.failParked('the node was removed');
    assert.equal(failed.length, 1);
    assert.equal((h.dones[0] as { code?: string }).code, 'CLOSED');
  });

  it('idle is green "connected", busy is blue with counts, a held record is yellow "throttled"', () => {
    let s = stats();
    const h = harness(() => s);
    const it1 = h.item();
    h.machine.begin(it1);
    s = stats({ state: 'busy', inFlight: 2, queued: 3 });
    assert.equal(h.machine.computeStatus()?.key, 'busy');
    s = stats({ state: 'throttled' });
    assert.equal(h.machine.computeStatus()?.key, 'throttled');
    h.machine.outcome(it1, { result: { topic: 't', attempts: 2 } });
    s = stats();
    assert.deepEqual(h.machine.computeStatus(), { fill: 'green', shape: 'dot', key: 'connected' });
  });

  it('a parcel hands reports and parked records to the next instance, or fails and logs them', async () => {
    const logs: string[] = [];
    const log = { error: (t: string) => logs.push(t), warn: (t: string) => logs.push(t) };
    const h = harness();
    const parked = h.item('orders');
    const inFlight = h.item('orders');
    const parcel = new Parcel('p1', [parked], log, () => undefined, 60_000);
    inFlight.route = parcel.route;
    h.machine.deliver(inFlight); // written during the close window: held for the next instance
    const sent: unknown[] = [];
    const adopted: Item[][] = [];
    parcel.adopt({
      send: (m) => sent.push(m),
      error: () => undefined,
      adopt: (items) => adopted.push(items),
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(sent.length, 1, 'the report came out of the new instance');
    assert.deepEqual(adopted, [[parked]]);
    assert.deepEqual(h.dones, [undefined]);

    const orphan = h.item('telemetry');
    const gone = new Parcel('p2', [orphan], log, () => undefined, 60_000);
    gone.expire('the node is no longer in the deployed flows');
    assert.match(logs.join('\n'), /1 message\(s\) were not sent .*telemetry: 1/);
    assert.equal((h.dones.at(-1) as unknown as { code?: string }).code, 'CLOSED');
  });
});
