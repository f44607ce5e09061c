// SPDX-License-Identifier: Apache-2.0
/**
 * `event-streams-producer`: publishes `msg.payload` as one record through the endpoint config
 * node's shared client. Every input has exactly one outcome: `send` + `done()` once the server has
 * the record, or `done(err)` (so Catch nodes see the original message) when it cannot be written.
 */
import { setMaxListeners } from 'node:events';

import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';

import type { EventStreamsClient } from '../lib/client';
import { ClosedError, ValidationError } from '../lib/errors';
import type { ProduceRecord, ProduceResult } from '../lib/types';
import { toRecordHeaders, toRecordKey, toRecordValue } from './shared/record';
import { applySchemaOptions, schemaDefaults, type SchemaDefaults } from './shared/schema-options';
import { StatusThrottle, asError, statusReason } from './shared/status';
import type { Outbox } from './shared/outbox';
import type { EndpointNode, ProducerNodeDef } from './shared/types';

const TYPE = 'event-streams-producer';

/** How often the busy status is refreshed from client.stats(); also the minimum gap between updates. */
const STATUS_INTERVAL_MS = 1000;

type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (err?: Error) => void;

interface Pending {
  msg: NodeMessageInFlow;
  done: Done;
  settled: boolean;
}

const SIMPLE_PROPERTY = /^[A-Za-z_$][\w$]*$/;

export = function (RED: NodeAPI): void {
  function EventStreamsProducerNode(this: Node, def: ProducerNodeDef): void {
    RED.nodes.createNode(this, def);
    // Node-RED constructors are plain functions; the callbacks below need the node itself.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const nodeTopic = typeof def.topic === 'string' ? def.topic.trim() : '';
    const keyType = def.keyType || 'msg';
    const keyValue = def.key ?? (keyType === 'msg' ? 'key' : '');
    const headersType = def.headersType || 'msg';
    const headersValue = def.headers ?? (headersType === 'msg' ? 'headers' : '');
    const hasOutput = Number(def.outputs ?? 1) !== 0;
    const endpoint = RED.nodes.getNode(def.endpoint) as EndpointNode | null;
    const closeTimeoutMs = endpoint?.closeTimeoutMs ?? 10_000;
    // Value/key format (Avro) settings are checked once; a bad schema fails each message clearly.
    let schemas: SchemaDefaults | Error;
    try {
      schemas = schemaDefaults(def);
    } catch (err) {
      schemas = asError(err);
      node.error(schemas);
    }

    const pending = new Set<Pending>();
    const abort = new AbortController();
    // One listener per record in flight; the queue bounds them, not an arbitrary 10.
    setMaxListeners(0, abort.signal);
    let warnedOverride = false;
    let closing = false;
    let lastOutcome: { ok: true } | { ok: false; reason: string } | undefined;
    let completedSinceTick = 0;
    let lastTickAt = Date.now();
    let ticker: NodeJS.Timeout | undefined;
    let onDrained: (() => void) | undefined;

    const throttle = new StatusThrottle((s) => node.status(s), STATUS_INTERVAL_MS);
    const statusText = (key: string, params?: Record<string, string | number>): string =>
      RED._(`${TYPE}.status.${key}`, params);

    if (!endpoint) {
      node.error(RED._(`${TYPE}.errors.missing-config`));
      node.status({ fill: 'red', shape: 'ring', text: `${TYPE}.status.missing-config` });
    }

    function currentClient(): EventStreamsClient | undefined {
      try {
        return endpoint?.getClient();
      } catch {
        return undefined;
      }
    }

    function computeStatus(): NodeStatus | undefined {
      if (watched) {
        const depth = watched.depth;
        const text = RED._('event-streams-endpoint.outbox.status', { depth });
        if (watched.lastError) {
          return {
            fill: 'yellow',
            shape: 'ring',
            text: `${text} (${statusText(statusReason(watched.lastError))})`,
          };
        }
        if (lastOutcome && !lastOutcome.ok && pending.size === 0) {
          return { fill: 'red', shape: 'ring', text: `${text} (${statusText(lastOutcome.reason)})` };
        }
        return { fill: depth > 0 ? 'blue' : 'green', shape: 'dot', text };
      }
      const stats = currentClient()?.stats();
      const now = Date.now();
      const elapsed = Math.max(now - lastTickAt, 1);
      const rate = Math.round((completedSinceTick * 1000) / elapsed);
      completedSinceTick = 0;
      lastTickAt = now;
      const inFlight = stats?.inFlight ?? pending.size;
      const queued = stats?.queued ?? 0;
      const busy = pending.size > 0;
      if (stats?.state === 'auth-failed')
        return { fill: 'red', shape: 'ring', text: statusText('auth-failed') };
      if (busy && stats?.state === 'throttled') {
        return { fill: 'yellow', shape: 'ring', text: statusText('throttled', { inFlight, queued }) };
      }
      if (busy && stats?.state === 'retrying') {
        return { fill: 'yellow', shape: 'ring', text: statusText('retrying', { inFlight, queued }) };
      }
      if (busy) return { fill: 'blue', shape: 'dot', text: statusText('busy', { inFlight, queued, rate }) };
      if (lastOutcome && !lastOutcome.ok) {
        return { fill: 'red', shape: 'ring', text: statusText(lastOutcome.reason) };
      }
      if (lastOutcome?.ok) return { fill: 'green', shape: 'dot', text: statusText('connected') };
      return undefined;
    }

    function refreshStatus(): void {
      if (closing) return;
      const status = computeStatus();
      if (status) throttle.set(status);
      if (pending.size === 0 && ticker) {
        clearInterval(ticker);
        ticker = undefined;
      }
    }

    function ensureTicking(): void {
      if (ticker || closing) return;
      lastTickAt = Date.now();
      completedSinceTick = 0;
      ticker = setInterval(refreshStatus, STATUS_INTERVAL_MS);
      ticker.unref?.();
      refreshStatus();
    }

    function deliveryReport(r: ProduceResult, viaOutbox: boolean): Record<string, unknown> {
      const report: Record<string, unknown> = { topic: r.topic, attempts: r.attempts };
      if (r.partition !== undefined) report.partition = r.partition;
      if (r.offset !== undefined) report.offset = r.offset;
      if (r.timestamp !== undefined) report.timestamp = r.timestamp;
      if (viaOutbox) report.outbox = true;
      return report;
    }

    let watched: Outbox | undefined;
    const onOutboxChange = (): void => refreshStatus();
    /** The status follows the outbox's depth, also long after the last input. */
    function watchOutbox(o: Outbox): void {
      if (watched || closing) return;
      watched = o;
      o.on('change', onOutboxChange);
    }

    function settle(
      entry: Pending,
      outcome: { result: ProduceResult } | { error: unknown } | { spooled: number },
      send?: Send,
    ): void {
      if (entry.settled) return;
      entry.settled = true;
      pending.delete(entry);
      completedSinceTick++;
      if ('spooled' in outcome) {
        // Outbox: durably stored is the node's completion; the delivery report (if any) follows.
        lastOutcome = { ok: true };
        entry.done();
      } else if ('result' in outcome) {
        entry.msg.eventstreams = deliveryReport(outcome.result, false);
        lastOutcome = { ok: true };
        if (hasOutput && send) send(entry.msg);
        entry.done();
      } else {
        const err = asError(outcome.error);
        lastOutcome = { ok: false, reason: statusReason(err) };
        entry.done(err);
        // Errors are shown at once (still throttled), not at the next tick.
        if (!closing) {
          const status = computeStatus();
          if (status) throttle.set(status);
        }
      }
      if (pending.size === 0 && onDrained) onDrained();
    }

    function dispatch(entry: Pending, send: Send, topic: string, keyRaw: unknown, headersRaw: unknown): void {
      try {
        if (!endpoint) throw new ValidationError(RED._(`${TYPE}.errors.missing-config`), 'INVALID_CONFIG');
        if (closing) throw new ClosedError('The node is being stopped', { topic });
        const record: ProduceRecord = { value: toRecordValue(entry.msg.payload) };
        if (schemas instanceof Error) throw schemas;
        const avroKey = applySchemaOptions(record, entry.msg as { schema?: unknown }, schemas, keyRaw);
        const key = avroKey ? undefined : toRecordKey(keyRaw);
        if (key !== undefined) record.key = key;
        const headers = toRecordHeaders(headersRaw);
        if (headers !== undefined) record.headers = headers;
        const outboxReady = endpoint.getOutbox?.();
        if (outboxReady) {
          const msg = entry.msg;
          const listener = hasOutput
            ? {
                delivered: (r: ProduceResult) => {
                  if (closing) return;
                  msg.eventstreams = deliveryReport(r, true);
                  send(msg);
                },
                dropped: (err: Error) => {
                  if (!closing) node.error(err, msg);
                },
              }
            : {
                delivered: () => undefined,
                dropped: (err: Error) => {
                  if (!closing) node.error(err, msg);
                },
              };
          outboxReady
            .then((o) => {
              watchOutbox(o);
              return o.enqueue(topic, record, listener);
            })
            .then(
              (seq) => settle(entry, { spooled: seq }),
              (error: unknown) => settle(entry, { error }),
            );
          return;
        }
        const client = endpoint.getClient();
        client.produce(topic, record, { signal: abort.signal }).then(
          (result) => settle(entry, { result }, send),
          (error: unknown) => settle(entry, { error }),
        );
      } catch (error) {
        settle(entry, { error });
      }
    }

    /** Synchronous for msg/str/json/env/flow/global so records keep their input order; JSONata is async. */
    function evaluate(value: string, type: string, msg: NodeMessageInFlow): unknown {
      if (type === 'none' || (type === 'msg' && !value)) return undefined;
      // The defaults (msg.key, msg.headers) are plain property names: read them directly instead
      // of letting Node-RED parse the property expression again for every message.
      if (type === 'msg' && SIMPLE_PROPERTY.test(value)) return (msg as Record<string, unknown>)[value];
      if (type === 'jsonata') {
        return new Promise((resolve, reject) => {
          RED.util.evaluateNodeProperty(value, type, node, msg, (err, result) =>
            err ? reject(err) : resolve(result),
          );
        });
      }
      return RED.util.evaluateNodeProperty(value, type, node, msg);
    }

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      const entry: Pending = { msg, done, settled: false };
      pending.add(entry);
      ensureTicking();
      try {
        let topic = nodeTopic;
        const msgTopic = typeof msg.topic === 'number' ? String(msg.topic) : msg.topic;
        if (topic) {
          if (typeof msgTopic === 'string' && msgTopic !== '' && msgTopic !== topic && !warnedOverride) {
            warnedOverride = true;
            node.warn(RED._(`${TYPE}.errors.nooverride`));
          }
        } else if (typeof msgTopic === 'string' && msgTopic.trim() !== '') {
          topic = msgTopic.trim();
        } else {
          throw new ValidationError(RED._(`${TYPE}.errors.no-topic`), 'INVALID_TOPIC');
        }
        const keyRaw = evaluate(keyValue, keyType, msg);
        const headersRaw = evaluate(headersValue, headersType, msg);
        if (keyRaw instanceof Promise || headersRaw instanceof Promise) {
          Promise.all([keyRaw, headersRaw]).then(
            ([k, h]) => dispatch(entry, send, topic, k, h),
            (error: unknown) => settle(entry, { error }),
          );
        } else {
          dispatch(entry, send, topic, keyRaw, headersRaw);
        }
      } catch (error) {
        settle(entry, { error });
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closing = true;
      watched?.off('change', onOutboxChange);
      if (ticker) clearInterval(ticker);
      ticker = undefined;
      throttle.stop({});
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(deadline);
        onDrained = undefined;
        done();
      };
      // In-flight records get the endpoint's close window to finish (the config node's
      // client.close() drains them on a full redeploy). Whatever is still open afterwards is
      // aborted and failed with a ClosedError, so no message is ever left without an outcome.
      const deadline = setTimeout(() => {
        abort.abort();
        for (const entry of [...pending]) {
          settle(entry, {
            error: new ClosedError(
              'The node was stopped before the record was acknowledged; it may or may not have been written',
            ),
          });
        }
        finish();
      }, closeTimeoutMs + 500);
      if (pending.size === 0) finish();
      else onDrained = finish;
    });
  }

  RED.nodes.registerType(TYPE, EventStreamsProducerNode);
};
