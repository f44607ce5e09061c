// SPDX-License-Identifier: Apache-2.0
/**
 * `event-streams-producer`: publishes `msg.payload` as one record through the endpoint config
 * node's {@link Sender} (direct, or the durable outbox: the endpoint decides, not this node).
 * Every input has exactly one outcome: `send` + `done()` once the server has the record (or, with
 * the outbox, `done()` once it is stored and the report when it is delivered), or `done(err)` (so
 * Catch nodes see the original message) when it cannot be written.
 *
 * A thin adapter: the decisions live in `ProducerMachine` (settling, status) and the shared
 * helpers (record mapping, hand-over); the functions here only connect them to Node-RED.
 */
import { setMaxListeners } from 'node:events';

import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';

import { PRODUCER_CHOICE_DEFAULTS } from '../lib/defaults';
import { ClosedError, ValidationError } from '../lib/errors';
import type { Receipt, Sender } from '../lib/sender';
import type { ProduceRecord, ProduceResult } from '../lib/types';
import { adopt, expireUnadopted, park } from './shared/handover';
import {
  countsByTopic,
  deliveryReport,
  type Item,
  type Msg,
  ProducerMachine,
  type Route,
  type StatusView,
} from './shared/producer-machine';
import { type MultiInput, multiInput, toParts } from './shared/multi-record';
import { contentTypeSetting, toRecordHeaders, toRecordKey, toRecordValue } from './shared/record';
import { handOver } from '../lib/record-codec';
import { applySchemaOptions, schemaDefaults, type SchemaDefaults } from './shared/schema-options';
import { StatusThrottle, asError } from './shared/status';
import type { EndpointNode, ProducerNodeDef } from './shared/types';

const TYPE = 'event-streams-producer';

/** How often the busy status is refreshed from the sender's stats(); also the minimum gap between updates. */
const STATUS_INTERVAL_MS = 1000;

type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (err?: Error) => void;

const SIMPLE_PROPERTY = /^[A-Za-z_$][\w$]*$/;

/** The runtimes' event buses this module listens on (one listener each, whatever the node count). */
const hooked = new WeakSet<object>();
/**
 * Producers waiting for the next `flows:started` before they adopt a parcel. One module-level
 * listener serves them all: a listener per instance passes the emitter's limit of 10 with the
 * eleventh producer and Node prints a MaxListenersExceededWarning on every start and deploy.
 */
const waitingForFlows = new Set<() => void>();

export = function (RED: NodeAPI): void {
  if (!hooked.has(RED.events)) {
    hooked.add(RED.events);
    // Once the new flows run, a parcel nobody adopted belongs to a node that no longer exists.
    RED.events.on('flows:started', () => {
      for (const takeOver of [...waitingForFlows]) takeOver();
      setImmediate(() => expireUnadopted('the node is no longer in the deployed flows'));
    });
  }

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
    const splitArray =
      def.splitArray === undefined ? PRODUCER_CHOICE_DEFAULTS.splitArray : String(def.splitArray) === 'true';
    const endpoint = RED.nodes.getNode(def.endpoint) as EndpointNode | null;
    // Value/key format (Avro) and content type settings are checked once; a bad one fails each
    // message clearly.
    let schemas: SchemaDefaults | Error;
    try {
      schemas = schemaDefaults(def);
    } catch (err) {
      schemas = asError(err);
      node.error(schemas);
    }
    let contentType: string | Error;
    try {
      contentType = contentTypeSetting(def.contentType);
    } catch (err) {
      contentType = asError(err);
      node.error(contentType);
    }

    const abort = new AbortController();
    // One listener per record in flight; the queue bounds them, not an arbitrary 10.
    setMaxListeners(0, abort.signal);
    let warnedOverride = false;
    let ticker: NodeJS.Timeout | undefined;
    /** The durable sender whose backlog the status follows, once a record went through it. */
    let watched: { sender: Sender; stop: () => void } | undefined;

    const throttle = new StatusThrottle((s) => node.status(s), STATUS_INTERVAL_MS);
    const statusText = (key: string, params?: Record<string, string | number>): string =>
      RED._(`${TYPE}.status.${key}`, params);
    const render = (v: StatusView): NodeStatus => ({
      fill: v.fill,
      shape: v.shape,
      text: v.reason
        ? `${statusText(v.key, v.params)} (${statusText(v.reason)})`
        : statusText(v.key, v.params),
    });

    /** Where reports and errors of this instance go; a hand-over points it at the next instance. */
    let output: Route = {
      send: (msg) => {
        if (hasOutput) node.send(msg as NodeMessage);
      },
      error: (err, msg) => node.error(err, msg),
    };

    function currentSender(): Sender | undefined {
      try {
        return endpoint?.getSender();
      } catch {
        return undefined;
      }
    }

    const machine = new ProducerMachine({
      status: (v) => throttle.set(render(v)),
      stats: () => currentSender()?.stats(),
      outbox: () => watched?.sender.backlog?.(),
      reportStored: (msg, err) => (err ? output.error(err, msg) : output.send(msg)),
    });

    if (!endpoint) {
      node.error(RED._(`${TYPE}.errors.missing-config`));
      node.status({ fill: 'red', shape: 'ring', text: statusText('missing-config') });
    }

    /** One tick when a record's red ring is due to give way (no input may come to tick). */
    let clearTimer: NodeJS.Timeout | undefined;
    function refreshStatus(): void {
      machine.tick();
      if (!machine.active && ticker) {
        clearInterval(ticker);
        ticker = undefined;
      }
      const wait = machine.statusClearsInMs;
      if (wait !== undefined && !clearTimer && !machine.closing) {
        clearTimer = setTimeout(() => {
          clearTimer = undefined;
          refreshStatus();
        }, wait + 50);
        clearTimer.unref?.();
      }
    }

    function ensureTicking(): void {
      if (ticker || machine.closing) return;
      ticker = setInterval(refreshStatus, STATUS_INTERVAL_MS);
      ticker.unref?.();
      refreshStatus();
    }

    /**
     * A record is in the durable sender's store: the status follows its backlog from now on, also
     * long after the last input.
     */
    function followBacklog(): void {
      const sender = currentSender();
      if (!sender || watched || machine.closing || !sender.watchBacklog) return;
      watched = { sender, stop: sender.watchBacklog(refreshStatus) };
    }

    /**
     * The outcome of a record the sender had already stored (the outbox): the input is complete,
     * so the report or error goes out through `output`, which after a redeploy is the next
     * instance of this node.
     */
    function reportStored(msg: Msg, outcome: { result: ProduceResult } | { error: unknown }): void {
      if ('result' in outcome) {
        msg.eventstreams = deliveryReport(outcome.result, true);
        output.send(msg);
      } else {
        output.error(outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error)), msg);
      }
    }

    /**
     * One receipt for every single-record message of this node (the item is its context): no
     * promise or closure per message. After `stored` (the outbox) the input is complete and the
     * outcome is a report through `output`.
     */
    const receipt: Receipt<Item> = {
      delivered: (item, result) =>
        item.stored ? reportStored(item.msg, { result }) : machine.delivered(item, result),
      failed: (item, error) =>
        item.stored ? reportStored(item.msg, { error }) : machine.outcome(item, { error }),
      stored: (item) => {
        item.stored = true;
        followBacklog();
        machine.outcome(item, { spooled: true });
      },
    };
    const sendOptions = { signal: abort.signal };

    /** The same for each record of a multi-record message: its context is the message and its index. */
    const partReceipt: Receipt<{ item: Item; index: number }> = {
      delivered: (p, result) => machine.part(p.item, p.index, { result }),
      failed: (p, error) => machine.part(p.item, p.index, { error }),
      stored: (p) => {
        followBacklog();
        machine.part(p.item, p.index, { spooled: true });
      },
    };

    /** Hands the record to the endpoint's sender; its outcome settles the item. */
    function dispatch(item: Item, record: ProduceRecord): void {
      let sender: Sender;
      try {
        if (!endpoint) throw new ValidationError(RED._(`${TYPE}.errors.missing-config`), 'INVALID_CONFIG');
        if (machine.closing) throw new ClosedError('The node is being stopped', { topic: item.topic });
        sender = endpoint.getSender();
      } catch (error) {
        machine.outcome(item, { error });
        return;
      }
      sender.submit(item.topic, record, sendOptions, receipt, item);
    }

    /**
     * Sends the given parts of a multi-record message, in order, in the same tick: the Kafka
     * sender puts records produced together into one batch, and both senders keep order per key.
     */
    function dispatchParts(item: Item, indices: number[]): void {
      const parts = item.parts ?? [];
      // Pending before any is sent, so that an early outcome cannot finish the message.
      for (const i of indices) if (parts[i]!.record) parts[i]!.state = 'pending';
      let sender: Sender;
      try {
        if (!endpoint) throw new ValidationError(RED._(`${TYPE}.errors.missing-config`), 'INVALID_CONFIG');
        if (machine.closing) throw new ClosedError('The node is being stopped', { topic: item.topic });
        sender = endpoint.getSender();
      } catch (error) {
        for (const i of indices) machine.part(item, i, { error });
        return;
      }
      for (const i of indices) {
        const record = parts[i]!.record;
        if (!record) {
          machine.part(item, i, { error: parts[i]!.error });
          continue;
        }
        sender.submit(parts[i]!.topic, record, sendOptions, partReceipt, { item, index: i });
      }
    }

    /** One record from a value, key and headers, with the node's content type and schemas. */
    function makeRecord(msg: Msg, value: unknown, keyRaw: unknown, headersRaw: unknown): ProduceRecord {
      const record: ProduceRecord = { value: toRecordValue(value) };
      if (schemas instanceof Error) throw schemas;
      if (contentType instanceof Error) throw contentType;
      if (contentType !== '') record.contentType = contentType;
      const avroKey = applySchemaOptions(record, msg as { schema?: unknown }, schemas, keyRaw);
      const key = avroKey ? undefined : toRecordKey(keyRaw);
      if (key !== undefined) record.key = key;
      const headers = toRecordHeaders(headersRaw);
      if (headers !== undefined) record.headers = headers;
      return record;
    }

    function build(item: Item, keyRaw: unknown, headersRaw: unknown, multi?: MultiInput): void {
      try {
        if (multi) {
          // Whole-message problems (bad schema setting) fail the message, not each record.
          if (schemas instanceof Error) throw schemas;
          if (contentType instanceof Error) throw contentType;
          item.parts = toParts(multi, {
            nodeTopic,
            msgTopic: item.topic,
            keyRaw,
            headersRaw,
            noTopic: RED._(`${TYPE}.errors.no-topic`),
            build: (value, k, h) => makeRecord(item.msg, value, k, h),
          });
          item.topic ||= item.parts[0]!.topic;
          item.abandon = (err) => machine.failWithdrawnParts(item, err);
          dispatchParts(
            item,
            item.parts.map((_, i) => i),
          );
          return;
        }
        const record = makeRecord(item.msg, item.msg.payload, keyRaw, headersRaw);
        // Kept with the item so that a hand-over can send it again unchanged.
        item.record = record;
        dispatch(item, record);
      } catch (error) {
        machine.outcome(item, { error });
      }
    }

    /**
     * How a key or headers setting is read from a message, decided once per node. Synchronous for
     * msg/str/json/env/flow/global so records keep their input order; JSONata is async. The
     * defaults (msg.key, msg.headers) are plain property names: read directly instead of letting
     * Node-RED parse the property expression again for every message.
     */
    function reader(value: string, type: string): (msg: NodeMessageInFlow) => unknown {
      if (type === 'none' || (type === 'msg' && !value)) return () => undefined;
      if (type === 'msg' && SIMPLE_PROPERTY.test(value)) {
        return (msg) => (msg as Record<string, unknown>)[value];
      }
      if (type === 'jsonata') {
        return (msg) =>
          new Promise((resolve, reject) => {
            RED.util.evaluateNodeProperty(value, type, node, msg, (err, result) =>
              err ? reject(err) : resolve(result),
            );
          });
      }
      return (msg) => RED.util.evaluateNodeProperty(value, type, node, msg);
    }
    const readKey = reader(keyValue, keyType);
    const readHeaders = reader(headersValue, headersType);

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      const item: Item = {
        msg: msg as unknown as Msg,
        topic: '',
        done,
        send: hasOutput ? (send as (msg: Msg) => void) : undefined,
        settled: false,
      };
      machine.begin(item);
      ensureTicking();
      try {
        const multi = multiInput(item.msg, splitArray);
        let topic = nodeTopic;
        const msgTopic = typeof msg.topic === 'number' ? String(msg.topic) : msg.topic;
        if (topic) {
          if (typeof msgTopic === 'string' && msgTopic !== '' && msgTopic !== topic && !warnedOverride) {
            warnedOverride = true;
            node.warn(RED._(`${TYPE}.errors.nooverride`));
          }
        } else if (typeof msgTopic === 'string' && msgTopic.trim() !== '') {
          topic = msgTopic.trim();
        } else if (!multi?.objects) {
          // (Without one here, msg.records may still name a topic per record.)
          throw new ValidationError(RED._(`${TYPE}.errors.no-topic`), 'INVALID_TOPIC');
        }
        item.topic = topic;
        const keyRaw = readKey(msg);
        const headersRaw = readHeaders(msg);
        if (keyRaw instanceof Promise || headersRaw instanceof Promise) {
          Promise.all([keyRaw, headersRaw]).then(
            ([k, h]) => build(item, k, h, multi),
            (error: unknown) => machine.outcome(item, { error }),
          );
        } else {
          build(item, keyRaw, headersRaw, multi);
        }
      } catch (error) {
        machine.outcome(item, { error });
      }
    });

    // A previous instance of this node (same id, before a redeploy) may have left records. They
    // are taken once the new flows run, so that reports reach wired nodes that exist by then.
    let adopted = false;
    const takeOver = (): void => {
      if (adopted || machine.closing) return;
      adopted = true;
      waitingForFlows.delete(takeOver);
      clearTimeout(adoptFallback);
      adoptNow();
    };
    waitingForFlows.add(takeOver);
    const adoptFallback = setTimeout(takeOver, 1000);
    adoptFallback.unref();
    const adoptNow = (): boolean =>
      adopt(node.id, {
        send: (msg) => output.send(msg),
        error: (err, msg) => output.error(err, msg),
        adopt: (items) => {
          node.log(
            `took over ${items.length} unsent message(s) from before the redeploy: ${countsByTopic(items)}`,
          );
          for (const item of items) {
            const record = item.record;
            machine.begin(item);
            ensureTicking();
            if (item.parts) {
              // The parts taken back from the previous instance; its parts on the wire report there.
              item.partsParked = false;
              item.abandon = (err) => machine.failWithdrawnParts(item, err);
              const withdrawn = item.parts.flatMap((p, i) => (p.state === 'withdrawn' ? [i] : []));
              for (const i of withdrawn) item.parts[i]!.record = handOver(item.parts[i]!.record!);
              dispatchParts(item, withdrawn);
            } else if (record) {
              dispatch(item, handOver(record));
            } else {
              machine.outcome(item, { error: new ClosedError('The record could not be handed over.') });
            }
          }
        },
      });

    node.on('close', (removed: boolean, done: () => void) => {
      takeOver();
      machine.closing = true;
      watched?.stop();
      if (ticker) clearInterval(ticker);
      if (clearTimer) clearTimeout(clearTimer);
      ticker = undefined;
      throttle.stop({});
      // Take back from the sender what is not on the wire yet; the rejections arrive as
      // microtasks, so by the next macrotask every taken record is parked in the machine.
      currentSender()?.withdraw(abort.signal);
      setImmediate(() => {
        if (removed) {
          // The node is gone: fail what it had not sent while this flow's Catch nodes may still
          // run (a modified-nodes deploy keeps them), and say so in the log in any case.
          const failed = machine.failParked('the node was removed before the record was sent');
          if (failed.length > 0) {
            node.error(
              `${failed.length} message(s) were not sent because the node was removed: ${countsByTopic(failed)}. Each was failed with code CLOSED.`,
            );
          }
          done();
          return;
        }
        // Redeploy (or stop): hand over. The next instance sends the parked records and reports
        // the outcome of those still on the wire.
        const unsent = machine.parked.splice(0);
        const parcel = park(node.id, unsent, {
          error: (text) => RED.log.error(`[${TYPE}:${node.id}] ${text}`),
          warn: (text) => RED.log.warn(`[${TYPE}:${node.id}] ${text}`),
        });
        output = parcel.route;
        for (const item of machine.pending) item.route = parcel.route;
        for (const item of unsent) item.route = parcel.route;
        done();
      });
    });
  }

  RED.nodes.registerType(TYPE, EventStreamsProducerNode);
};
