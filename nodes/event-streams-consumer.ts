// SPDX-License-Identifier: Apache-2.0
/**
 * `event-streams-consumer`: reads topics as one member of a Kafka consumer group, over the
 * endpoint config node's Kafka connection, and sends one msg per record. The core
 * (lib/consumer.ts) commits an offset only once this adapter acknowledged the record and all
 * before it on its partition.
 *
 * What "handled" (acknowledged) means is the node's `ack` setting:
 * - `delivered` (default): the msg has reached the input handlers of the nodes wired to the
 *   output. Node-RED delivers asynchronously (setImmediate per destination, queued by send()), so
 *   an ack queued with setImmediate right after send() runs after those handlers were called.
 *   What those nodes do later (an HTTP call, a write) is not waited for.
 * - `complete`: every node wired to the output called done() for the msg (Node-RED's onComplete
 *   hook, the event a Complete node listens to; an error passed to done(err) counts, since Catch
 *   has it). A node that never completes holds its msg in flight, and at the bound the consumer
 *   pauses: visible in the status, not silently skipped.
 */
import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow } from 'node-red';

import { CORE_DEFAULTS, ms } from '../lib/defaults';
import { ClosedError, ValidationError, isEventStreamsError } from '../lib/errors';
import { EventStreamsConsumer, VALUE_FORMATS, type ConsumedRecord, type LagReport } from '../lib/consumer';
import { numberOr } from '../lib/numbers';
import { StatusThrottle, asError } from './shared/status';
import type { ConsumerNodeDef, EndpointNode } from './shared/types';

const TYPE = 'event-streams-consumer';
const ACTIONS = ['pause', 'resume', 'commit', 'seek', 'lag'] as const;
type Action = (typeof ACTIONS)[number];

type Done = (err?: Error) => void;

interface Hooks {
  add(name: string, fn: (event: { msg?: { _msgid?: string }; node?: { id?: string } }) => void): void;
  remove(name: string): void;
}

/**
 * The `avro` format's schema lookup: the endpoint's Confluent-compatible registry (cached there
 * by id). Only Avro schemas decode; an id of a JSON or Protobuf schema is SCHEMA_MISMATCH.
 */
function avroSchemaById(
  endpoint: EndpointNode,
  t: (key: string, params?: Record<string, string | number>) => string,
): (id: number) => Promise<string> {
  return async (id) => {
    const registry = endpoint.getRegistry?.();
    if (registry === undefined) throw new ValidationError(t('errors.no-registry'), 'INVALID_CONFIG');
    const found = await registry.getSchemaById(id);
    if (found.schemaType !== 'AVRO') {
      throw new ValidationError(t('errors.not-avro', { id, type: found.schemaType }), 'SCHEMA_MISMATCH');
    }
    return found.schema;
  };
}

export = function (RED: NodeAPI): void {
  function EventStreamsConsumerNode(this: Node, def: ConsumerNodeDef): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const t = (key: string, params?: Record<string, string | number>): string =>
      RED._(`${TYPE}.${key}`, params);
    const status = new StatusThrottle((s) => node.status(s), 1000);
    const endpoint = RED.nodes.getNode(def.endpoint) as EndpointNode | null;
    const ackMode = def.ack === 'complete' ? 'complete' : 'delivered';
    const manualCommit = def.commit === 'manual';
    const wired = new Set<string>((def.wires?.[0] ?? []).filter((id) => typeof id === 'string'));
    let consumer: EventStreamsConsumer | undefined;
    let closing = false;
    let lag: number | undefined;
    let restartTimer: NodeJS.Timeout | undefined;

    const fail = (err: unknown): void => {
      const e = asError(err);
      node.error(e);
      status.set({
        fill: 'red',
        shape: 'ring',
        text: t('status.error', { code: isEventStreamsError(e) ? e.code : 'ERROR' }),
      });
    };

    if (!endpoint || typeof endpoint.getKafkaConfig !== 'function') {
      fail(new ValidationError(t('errors.missing-config'), 'INVALID_CONFIG'));
      node.on('input', (_msg: NodeMessageInFlow, _send: unknown, done: Done) =>
        done(new ValidationError(t('errors.missing-config'), 'INVALID_CONFIG')),
      );
      return;
    }
    const closeTimeoutMs = endpoint.closeTimeoutMs > 0 ? endpoint.closeTimeoutMs : 5000;

    // `complete` mode: msgs in flight by _msgid, each waiting for its wired nodes' done().
    const pending = new Map<string, { ack: (handled?: boolean) => void; remaining: number }>();
    const hookName = `onComplete.esConsumer${node.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const hooks = (RED as unknown as { hooks?: Hooks }).hooks;
    if (ackMode === 'complete' && !hooks) {
      // Node-RED's node API has had hooks since 2.0; a host without them (node-red-node-test-helper)
      // gets the default meaning of handled, said once.
      node.warn(t('errors.no-hooks'));
    }
    if (ackMode === 'complete' && wired.size > 0 && hooks) {
      hooks.add(hookName, (event) => {
        const id = event.msg?._msgid;
        if (id === undefined || !wired.has(event.node?.id ?? '')) return;
        const p = pending.get(id);
        if (!p) return;
        if (--p.remaining <= 0) {
          pending.delete(id);
          p.ack();
        }
      });
    }

    const showRunning = (): void => {
      if (!consumer) return;
      if (consumer.state === 'rebalancing') {
        status.set({ fill: 'yellow', shape: 'ring', text: t('status.rebalancing') });
      } else if (consumer.paused) {
        status.set({ fill: 'yellow', shape: 'dot', text: t('status.paused') });
      } else if (consumer.state === 'connected') {
        status.set({
          fill: 'green',
          shape: 'dot',
          text: lag === undefined ? t('status.connected') : t('status.lag', { lag }),
        });
      }
    };

    const deliver = (rec: ConsumedRecord, ack: (handled?: boolean) => void): void => {
      const msg: NodeMessage & Record<string, unknown> = {
        _msgid: RED.util.generateId(),
        payload: rec.value,
        topic: rec.topic,
        key: rec.key,
        eventstreams: {
          topic: rec.topic,
          partition: rec.partition,
          offset: rec.offset,
          timestamp: rec.timestamp,
          key: rec.key,
          headers: rec.headers,
        },
      };
      if (rec.decodeError) {
        // The record's one outcome: the error with the raw bytes as payload, for a Catch node.
        // Acknowledged (so committed): left open it would hold back every later offset of its
        // partition, and an undecodable record (or unknown schema id) would come back after
        // every redeploy. The Catch msg carries the bytes for whoever wants to keep them.
        node.error(rec.decodeError, msg);
        ack();
        return;
      }
      if (ackMode === 'complete' && wired.size > 0 && hooks) {
        pending.set(msg._msgid!, { ack, remaining: wired.size });
        node.send(msg);
      } else {
        node.send(msg);
        // Node-RED queued one delivery per wired node with setImmediate inside send(); this runs
        // after them. If the flow began stopping in between, the deliveries may have found
        // closed nodes (which drop msgs silently), so the record counts as not handled.
        setImmediate(() => ack(!closing));
      }
    };

    const start = (): void => {
      if (closing) return;
      status.set({ fill: 'yellow', shape: 'ring', text: t('status.connecting') });
      let c: EventStreamsConsumer;
      try {
        c = new EventStreamsConsumer(
          {
            kafka: endpoint.getKafkaConfig!(),
            groupId: def.groupId,
            topics: def.topics,
            fromBeginning: def.start !== 'latest',
            valueFormat: VALUE_FORMATS.includes(def.valueFormat) ? def.valueFormat : 'auto',
            ...(def.valueFormat === 'avro' ? { schemaById: avroSchemaById(endpoint, t) } : {}),
            maxInFlight: Math.floor(numberOr(def.maxInFlight, CORE_DEFAULTS.consumerMaxInFlight.value, 1)),
            commitIntervalMs: ms(CORE_DEFAULTS.consumerCommitInterval),
            manualCommit,
            lagIntervalMs: ms(CORE_DEFAULTS.consumerLagInterval),
            log: (line) => node.debug(line),
          },
          deliver,
        );
      } catch (err) {
        fail(err);
        return;
      }
      consumer = c;
      c.on('state', () => showRunning());
      c.on('lag', (r: LagReport) => {
        lag = r.total;
        showRunning();
      });
      c.on('error', (err: unknown) => fail(err));
      c.start().then(
        () => {
          c.lag().then(
            (r) => {
              lag = r.total;
              showRunning();
            },
            () => undefined,
          );
        },
        (err: unknown) => {
          fail(err);
          // A bad setting stays bad; anything else (a broker not up yet) is tried again.
          const permanent = err instanceof ValidationError;
          void c.close(0).catch(() => undefined);
          if (consumer === c) consumer = undefined;
          if (!permanent && !closing) {
            restartTimer = setTimeout(start, 5000);
            restartTimer.unref();
          }
        },
      );
    };
    start();

    node.on('input', (msg: NodeMessageInFlow, _send: unknown, done: Done) => {
      const m = msg as NodeMessageInFlow & { action?: unknown };
      const action = m.action as Action;
      if (!ACTIONS.includes(action)) {
        done(new ValidationError(t('errors.action', { actions: ACTIONS.join(', ') }), 'VALIDATION'));
        return;
      }
      const c = consumer;
      if (!c) {
        done(new ClosedError(t('errors.not-running')));
        return;
      }
      switch (action) {
        case 'pause':
          c.pause();
          showRunning();
          done();
          return;
        case 'resume':
          c.resume();
          showRunning();
          done();
          return;
        case 'commit':
          c.commit().then(
            () => done(),
            (err: unknown) => done(asError(err)),
          );
          return;
        case 'lag':
          c.lag().then(
            (r) => {
              lag = r.total;
              showRunning();
              node.send({ ...msg, payload: r } as NodeMessage);
              done();
            },
            (err: unknown) => done(asError(err)),
          );
          return;
        case 'seek': {
          const p = (msg.payload ?? {}) as { topic?: unknown; partition?: unknown; offset?: unknown };
          c.seek({
            topic: String(p.topic ?? ''),
            partition: Number(p.partition),
            offset: p.offset as number | string,
          }).then(
            () => done(),
            (err: unknown) => done(asError(err)),
          );
          return;
        }
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closing = true;
      clearTimeout(restartTimer);
      const c = consumer;
      consumer = undefined;
      const finish = (): void => {
        if (hooks && ackMode === 'complete') hooks.remove(hookName);
        pending.clear();
        status.stop({});
        done();
      };
      if (!c) {
        finish();
        return;
      }
      c.close(closeTimeoutMs).then(finish, (err: unknown) => {
        node.debug(`close: ${asError(err).message}`);
        finish();
      });
    });
  }

  RED.nodes.registerType(TYPE, EventStreamsConsumerNode);
};
