// SPDX-License-Identifier: Apache-2.0
/**
 * `event-streams-endpoint`: the config node. Its {@link EndpointResources} own the REST session,
 * the sender producers use (with the durable outbox around it when that option is on) and the
 * Kafka admin, created on first use and shared by every node that points at it, and closed in
 * order on redeploy inside Node-RED's close window.
 *
 * It also serves two editor routes: "Test connection" and topic autocomplete.
 * Over 500 lines because the config node also serves the editor's routes (Test connection, topics,
 * metrics), which need its credentials; what it owns is in nodes/shared/endpoint-resources.ts.
 */
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';

import { EventStreamsClient } from '../lib/client';
import { ClosedError, isEventStreamsError, ValidationError } from '../lib/errors';
import type { ConnectionCheck, TopicAdmin } from '../lib/types';
import type { Sender } from '../lib/sender';
import { checkGlob } from '../lib/glob';
import { type CredentialName, ENDPOINT_CREDENTIALS } from './shared/credentials';
import {
  buildClientOptions,
  DEFAULT_SERVER_OUTBOX_MAX_BYTES,
  normalizeEndpointOptions,
  outboxSubdirectory,
  proxyFromConfigNode,
  SERVER_SETTINGS,
  substituteEnv,
  type NormalizedEndpointOptions,
} from './shared/endpoint-config';
import { refusedCombination, testRequestConfig, type StoredEndpoint } from './shared/editor-request';
import { EndpointResources, type OutboxPlacement } from './shared/endpoint-resources';
import { buildKafkaClientConfig, buildKafkaSenderOptions } from './shared/kafka-config';
import {
  METRICS_SETTING,
  registerMetricsRoutes,
  trackMetrics,
  untrackMetrics,
} from './shared/metrics-routes';
import type {
  EndpointCredentials,
  EndpointNode,
  EndpointNodeDef,
  EndpointOptions,
  TestConnectionResponse,
} from './shared/types';

const TYPE = 'event-streams-endpoint';

/** Credential schema (nodes/shared/credentials.ts; the editor gets the same from resources/). */
const CREDENTIALS = ENDPOINT_CREDENTIALS;

/**
 * The options each running endpoint node resolved (after Node-RED's `${VAR}` handling), for the
 * Test connection route: the stored destinations a stored secret may be sent to.
 */
const resolvedOptions = new WeakMap<object, NormalizedEndpointOptions>();
/** Each running endpoint node's flow properties after Node-RED's env handling (its `def`). */
const resolvedDefs = new WeakMap<object, Record<string, unknown>>();

/**
 * The editor routes take JSON only. A cross-site page can send a form or `text/plain` without a
 * CORS preflight, but not `application/json`, so this keeps other sites' pages out even when
 * adminAuth is off (Node-RED's default).
 */
function refuseNonJson(req: Request, res: Response): boolean {
  const hasBody =
    req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  if (req.method === 'GET' && !hasBody && req.headers['content-type'] === undefined) return false;
  if (req.is('application/json') === 'application/json') return false;
  res.status(415).json({ ok: false, code: 'UNSUPPORTED_MEDIA_TYPE', messages: ['Send application/json'] });
  return true;
}

/**
 * Whether host:port completes a TLS handshake, for the hint "use https://" when an http:// URL
 * finds no HTTP there. Only a ClientHello is sent (no request, no credential), to the host the
 * user is testing; certificates are not checked because only the protocol is in question.
 */
function speaksTls(url: URL, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: url.hostname,
      port: Number(url.port || 80),
      ...(/^[\d.]+$|:/.test(url.hostname) ? {} : { servername: url.hostname }),
      rejectUnauthorized: false,
    });
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('secureConnect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

interface EndpointNodeImpl extends EndpointNode {
  closeTimeoutMs: number;
}

export = function (RED: NodeAPI): void {
  function EventStreamsEndpointNode(this: EndpointNodeImpl, def: EndpointNodeDef): void {
    RED.nodes.createNode(this, def);
    // Node-RED constructors are plain functions; the callbacks below need the node itself.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const options = normalizeEndpointOptions(def);
    resolvedOptions.set(node, options);
    resolvedDefs.set(node, { ...(def as unknown as Record<string, unknown>) });
    node.closeTimeoutMs = options.closeTimeoutMs;

    const settings = RED.settings as unknown as Record<string, unknown>;
    const insecureRefused = !options.verifyTls && settings[SERVER_SETTINGS.allowInsecureTls] === false;
    if (insecureRefused) {
      node.error(
        RED._('event-streams-endpoint.errors.insecure-refused', {
          setting: SERVER_SETTINGS.allowInsecureTls,
        }),
      );
    } else if (!options.verifyTls) {
      node.warn(RED._('event-streams-endpoint.warn.insecure', { url: options.url }));
    }

    // An optional core `http proxy` config node; without one, the environment's proxy variables.
    const proxy = proxyFromConfigNode(def.proxy ? (RED.nodes.getNode(def.proxy) as never) : null);

    const resources = new EndpointResources({
      options,
      credentials: node.credentials ?? {},
      ...(proxy ? { proxy } : {}),
      ...(options.outbox ? { outbox: outboxPlacement(options, node.id) } : {}),
      ...(insecureRefused
        ? {
            refused: () =>
              new ValidationError(
                `TLS verification is off, which ${SERVER_SETTINGS.allowInsecureTls}: false in settings.js forbids`,
                'INVALID_CONFIG',
              ),
          }
        : {}),
    });

    const outbox = resources.outbox();
    outbox?.then(
      (o) => {
        if (o.recovered > 0)
          node.log(RED._('event-streams-endpoint.outbox.recovered', { count: o.recovered }));
        // Damage found at open is reported here once (the spool rewrites it away) and on the
        // producers' status through the outbox's lastError (OUTBOX_DAMAGED).
        const r = o.recovery;
        if (r.lost > 0) {
          const where = r.damage
            .filter((d) => d.lost > 0)
            .map((d) => `${d.segment} bytes ${d.start}-${d.end}: ${d.lost}`)
            .join('; ');
          node.error(RED._('event-streams-endpoint.outbox.lost', { count: r.lost, where }));
        }
        if (r.tornBytes > 0) node.warn(RED._('event-streams-endpoint.outbox.torn', { bytes: r.tornBytes }));
        o.on('dropped', (_seq: number, err: Error) =>
          node.error(RED._('event-streams-endpoint.outbox.dropped', { reason: err.message })),
        );
      },
      (err: unknown) =>
        node.error(RED._('event-streams-endpoint.outbox.open-failed', { reason: (err as Error).message })),
    );

    // The sidebar, the topic-admin `stats` operation and Prometheus read this endpoint's metrics.
    const metricsSource = {
      name: def.name || options.url || options.brokers.join(',') || node.id,
      snapshot: () => resources.snapshot(),
    };
    trackMetrics(node.id, metricsSource);
    node.getMetrics = () => resources.snapshot();

    node.getOutbox = () => resources.outbox();
    node.getSender = () => resources.sender();
    node.getClient = () => resources.client();
    node.getKafkaAdmin = () => resources.kafkaAdmin();
    node.getRegistry = () => resources.registry();
    // A consumer runs its own kafkajs client (group membership is per client) on this connection.
    node.getKafkaConfig = () => {
      if (resources.closed) throw new ClosedError('The endpoint is being stopped');
      if (insecureRefused)
        throw new ValidationError(
          `TLS verification is off, which ${SERVER_SETTINGS.allowInsecureTls}: false in settings.js forbids`,
          'INVALID_CONFIG',
        );
      return buildKafkaClientConfig(options, node.credentials ?? {});
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      untrackMetrics(node.id, metricsSource);
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(guard);
        done();
      };
      // The resources honour the deadline; this guard only protects Node-RED's 15 s close window
      // from a close() that misbehaves.
      const guard = setTimeout(finish, options.closeTimeoutMs + 2000);
      resources.close(options.closeTimeoutMs).then(finish, (err: unknown) => {
        node.debug(`close: ${String((err as Error)?.message ?? err)}`);
        finish();
      });
    });

    /**
     * Where this endpoint's outbox goes: the server owner's base directory (settings.js) and the
     * subdirectory the editor names; its size capped by the server's limit.
     */
    function outboxPlacement(o: NormalizedEndpointOptions, id: string): OutboxPlacement | Error {
      const userDir = (RED.settings as { userDir?: string }).userDir || path.join(os.homedir(), '.node-red');
      const configured = settings[SERVER_SETTINGS.outboxDir];
      const base =
        typeof configured === 'string' && configured
          ? configured
          : path.join(userDir, 'event-streams-outbox');
      const serverMax = Number(settings[SERVER_SETTINGS.outboxMaxBytes]);
      const cap = Number.isFinite(serverMax) && serverMax > 0 ? serverMax : DEFAULT_SERVER_OUTBOX_MAX_BYTES;
      try {
        return {
          dir: path.join(base, outboxSubdirectory(o.outboxDir, id)),
          maxBytes: Math.min(o.outboxMaxBytes, cap),
        };
      } catch (err) {
        return err as Error;
      }
    }
  }

  RED.nodes.registerType<EndpointNodeImpl, EndpointNodeDef, object, EndpointCredentials>(
    TYPE,
    EventStreamsEndpointNode,
    {
      credentials: CREDENTIALS,
      // Server-owned choices; paths and limits stay on the server (exportable: false).
      settings: {
        [SERVER_SETTINGS.outboxDir]: { value: '', exportable: false },
        [SERVER_SETTINGS.outboxMaxBytes]: { value: DEFAULT_SERVER_OUTBOX_MAX_BYTES, exportable: false },
        [SERVER_SETTINGS.allowInsecureTls]: { value: true, exportable: false },
        [METRICS_SETTING]: { value: false, exportable: false },
      },
    } as never,
  );
  registerMetricsRoutes(RED);

  /**
   * The stored node a test request names: its saved properties (what the editor sends back), the
   * same as the running node resolved them, and its credentials. `undefined` when there is no such
   * node (a new one not deployed yet); `'other-type'` when the id names a node of another type,
   * whose credentials are never used.
   */
  function storedEndpoint(id: unknown): StoredEndpoint | undefined | 'other-type' {
    if (typeof id !== 'string' || id === '') return undefined;
    let raw: Record<string, unknown> | undefined;
    RED.nodes.eachNode((n) => {
      if (n.id === id) raw = n as unknown as Record<string, unknown>;
    });
    const running = RED.nodes.getNode(id) as (EndpointNode & object) | null;
    if (!raw) return running ? 'other-type' : undefined;
    if (raw.type !== TYPE || (running && running.type !== TYPE)) return 'other-type';
    const resolved = running ? resolvedOptions.get(running) : undefined;
    const storedCreds = (RED.nodes.getCredentials(id) as Record<string, unknown> | undefined) ?? {};
    if (running && resolved) {
      return {
        raw,
        resolved,
        resolvedRaw: resolvedDefs.get(running),
        rawCredentials: { ...storedCreds },
        credentials: { ...(running.credentials ?? {}) },
      };
    }
    // Saved but not running (e.g. on a disabled flow): the stored values with env substitution.
    const substituted: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw)) substituted[k] = typeof v === 'string' ? substituteEnv(v) : v;
    const credentials: EndpointCredentials = {};
    for (const name of Object.keys(CREDENTIALS) as CredentialName[]) {
      const v = storedCreds[name];
      if (typeof v === 'string' && v !== '') credentials[name] = substituteEnv(v);
    }
    return {
      raw,
      resolved: normalizeEndpointOptions(substituted),
      resolvedRaw: substituted,
      rawCredentials: { ...storedCreds },
      credentials,
    };
  }

  function describe(check: ConnectionCheck, host: string, insecure: boolean): TestConnectionResponse {
    const messages: string[] = [];
    const err = check.error;
    const code = err?.code;
    const tlsReason =
      err && err.code === 'TLS_FAILED' ? String((err as { reason?: unknown }).reason ?? 'OTHER') : undefined;
    const reason = err ? err.message : '';
    if (!check.reachable) {
      if (tlsReason) {
        messages.push(RED._('event-streams-endpoint.test.reachable', { host }));
      } else {
        messages.push(RED._('event-streams-endpoint.test.unreachable', { host, reason }));
      }
    } else {
      messages.push(RED._('event-streams-endpoint.test.reachable', { host }));
    }
    if (check.tlsTrusted === true) {
      messages.push(RED._('event-streams-endpoint.test.tls-trusted', { host }));
    } else if (check.tlsTrusted === false || tlsReason) {
      switch (tlsReason) {
        case 'UNKNOWN_CA':
          messages.push(RED._('event-streams-endpoint.test.tls-unknown-ca', { host }));
          break;
        case 'HOSTNAME_MISMATCH':
          messages.push(RED._('event-streams-endpoint.test.tls-hostname', { host }));
          break;
        case 'EXPIRED':
        case 'NOT_YET_VALID':
          messages.push(RED._('event-streams-endpoint.test.tls-expired', { host }));
          break;
        case 'CLIENT_CERT':
          messages.push(RED._('event-streams-endpoint.test.tls-client-cert', { host }));
          break;
        default:
          messages.push(RED._('event-streams-endpoint.test.tls-other', { host, reason }));
      }
    }
    if (check.authenticated === true) {
      messages.push(RED._('event-streams-endpoint.test.auth-ok'));
    } else if (check.authenticated === false) {
      messages.push(
        RED._(
          code === 'AUTHORIZATION_FAILED'
            ? 'event-streams-endpoint.test.auth-forbidden'
            : 'event-streams-endpoint.test.auth-rejected',
        ),
      );
    } else if (check.reachable && check.tlsTrusted !== false) {
      messages.push(RED._('event-streams-endpoint.test.auth-unknown', { reason }));
    }
    if (insecure) messages.push(RED._('event-streams-endpoint.warn.insecure-short'));
    const ok = check.reachable && check.tlsTrusted !== false && check.authenticated !== false && !err;
    const out: TestConnectionResponse = {
      ok,
      host,
      reachable: check.reachable,
      tlsTrusted: check.tlsTrusted,
      authenticated: check.authenticated,
      insecure,
      messages,
    };
    if (code) out.code = code;
    if (tlsReason) out.tlsReason = tlsReason;
    return out;
  }

  RED.httpAdmin.post(
    '/event-streams-endpoint/test',
    RED.auth.needsPermission('event-streams-endpoint.write'),
    (req: Request, res: Response) => {
      if (refuseNonJson(req, res)) return;
      const rawBody: unknown = req.body;
      const body = (
        rawBody && typeof rawBody === 'object' && !Array.isArray(rawBody) ? rawBody : {}
      ) as Partial<Record<keyof EndpointOptions, unknown>> & {
        id?: unknown;
        credentials?: unknown;
      };
      const stored = storedEndpoint(body.id);
      if (stored === 'other-type') {
        res.status(400).json({
          ok: false,
          reachable: false,
          tlsTrusted: null,
          authenticated: null,
          insecure: false,
          host: '',
          messages: [RED._('event-streams-endpoint.test.not-endpoint')],
          code: 'INVALID_CONFIG',
        } satisfies TestConnectionResponse);
        return;
      }
      const request = testRequestConfig(body, CREDENTIALS, stored);
      const options = request.options;
      let host = '';
      try {
        host = options.transport === 'kafka' ? (options.brokers[0] ?? '') : new URL(options.url).host;
      } catch {
        // buildClientOptions reports the bad URL below.
      }
      // v2 + Basic concerns the REST producer only; the Kafka transport has no API flavour.
      if (options.transport !== 'kafka' && refusedCombination(options)) {
        res.status(400).json({
          ok: false,
          host,
          reachable: false,
          tlsTrusted: null,
          authenticated: null,
          insecure: !options.verifyTls,
          messages: [RED._('event-streams-endpoint.test.v2-basic')],
          code: 'INVALID_CONFIG',
        } satisfies TestConnectionResponse);
        return;
      }
      let client: Pick<Sender, 'testConnection' | 'close'>;
      try {
        if (options.transport === 'kafka') {
          // The Kafka transport: bootstrap metadata over the endpoint's TLS and SASL settings.
          const kafkaOptions = buildKafkaSenderOptions(options, request.credentials);
          kafkaOptions.retry = { retries: 0 };
          kafkaOptions.requestTimeoutMs = Math.min(options.requestTimeoutMs, 15_000);
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const { KafkaSender } = require('../lib/kafka-sender') as typeof import('../lib/kafka-sender');
          client = new KafkaSender(kafkaOptions);
        } else {
          // A core `http proxy` node named by the request (part of the destination the secrets
          // were compared against); otherwise the environment's proxy variables.
          const proxyNode =
            typeof body.proxy === 'string' && body.proxy ? RED.nodes.getNode(body.proxy) : null;
          const proxyOk = !proxyNode || (proxyNode as { type?: string }).type === 'http proxy';
          const clientOptions = buildClientOptions(
            options,
            request.credentials,
            proxyOk ? proxyFromConfigNode(proxyNode as never) : undefined,
          );
          // One attempt, bounded: the user is waiting on a button.
          clientOptions.retry = { retries: 0 };
          clientOptions.requestTimeoutMs = Math.min(options.requestTimeoutMs, 15_000);
          client = new EventStreamsClient(clientOptions);
        }
      } catch (err) {
        const message = isEventStreamsError(err) ? err.message : 'Invalid configuration';
        // A secret left as stored while a destination changed: say why, not just "no API key".
        const withheld = request.destinationChanged && request.withheld.length > 0;
        res.status(400).json({
          ok: false,
          host,
          reachable: false,
          tlsTrusted: null,
          authenticated: null,
          insecure: !options.verifyTls,
          messages: [
            withheld
              ? RED._('event-streams-endpoint.test.secrets-required')
              : RED._('event-streams-endpoint.test.config', { reason: message }),
          ],
          code: isEventStreamsError(err) ? err.code : 'INVALID_CONFIG',
        } satisfies TestConnectionResponse);
        return;
      }
      client
        .testConnection()
        .then(
          (check) => describe(check, host, !options.verifyTls),
          (err: unknown) =>
            describe(
              {
                reachable: false,
                tlsTrusted: null,
                authenticated: null,
                ...(isEventStreamsError(err) ? { error: err } : {}),
              },
              host,
              !options.verifyTls,
            ),
        )
        .then(async (result) => {
          await client.close({ deadlineMs: 0 }).catch(() => undefined);
          if (!result.reachable && !result.tlsTrusted) {
            // http:// to a port that speaks TLS: the server drops the plain request, which reads
            // as "unreachable". Say what would work instead.
            let url: URL | undefined;
            try {
              url = new URL(options.url);
            } catch {
              url = undefined;
            }
            if (url?.protocol === 'http:' && (await speaksTls(url, 3000)))
              result.messages.push(RED._('event-streams-endpoint.test.use-https', { host }));
          }
          res.json(result);
        })
        .catch(() => {
          if (!res.headersSent) res.status(500).json({ ok: false, messages: ['internal error'] });
        });
    },
  );

  RED.httpAdmin.get(
    '/event-streams-endpoint/:id/topics',
    RED.auth.needsPermission('event-streams-endpoint.read'),
    (req: Request, res: Response) => {
      if (refuseNonJson(req, res)) return;
      const node = RED.nodes.getNode(String(req.params.id)) as EndpointNode | null;
      if (!node || node.type !== TYPE || typeof node.getClient !== 'function') {
        // Undeployed or unknown: the editor simply offers no suggestions.
        res.status(404).json([]);
        return;
      }
      const rawFilter = req.query.filter;
      if (rawFilter !== undefined && typeof rawFilter !== 'string') {
        res.status(400).json({ error: 'filter must be a single glob' });
        return;
      }
      const filter = rawFilter ? rawFilter : undefined;
      const problem = filter === undefined ? undefined : checkGlob(filter);
      if (problem) {
        res.status(400).json({ error: problem, code: 'VALIDATION' });
        return;
      }
      const backend = req.query.backend;
      if (backend !== undefined && backend !== 'kafka' && backend !== 'rest') {
        res.status(400).json({ error: 'backend must be rest or kafka', code: 'VALIDATION' });
        return;
      }
      let admin: TopicAdmin;
      try {
        admin = backend === 'kafka' ? node.getKafkaAdmin() : node.getClient().admin;
      } catch (err) {
        res.status(409).json({ error: isEventStreamsError(err) ? err.message : 'unavailable' });
        return;
      }
      admin
        .listTopics(filter ? { filter } : {})
        .then((result) => res.json(result.topics.map((t) => t.name).sort()))
        .catch((err: unknown) => {
          res.status(502).json({
            error: isEventStreamsError(err) ? err.message : 'failed',
            code: isEventStreamsError(err) ? err.code : undefined,
          });
        });
    },
  );
};
