// SPDX-License-Identifier: Apache-2.0
/**
 * `event-streams-endpoint`: the config node. It owns one core client (and, when the topic-admin
 * node asks for the Kafka backend, one Kafka admin), created on first use and shared by every
 * node that points at it, and closes them on redeploy inside Node-RED's close window.
 *
 * It also serves two editor routes: "Test connection" and topic autocomplete.
 */
import os from 'node:os';
import path from 'node:path';

import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';

import { EventStreamsClient } from '../lib/client';
import { ClosedError, isEventStreamsError, ValidationError } from '../lib/errors';
import { KafkaTopicAdmin } from '../lib/kafka-admin';
import type { ConnectionCheck, TopicAdmin } from '../lib/types';
import { DEFAULT_LIMITS } from '../lib/encode';
import { Outbox } from './shared/outbox';
import {
  buildClientOptions,
  buildKafkaAdminOptions,
  DEFAULT_SERVER_OUTBOX_MAX_BYTES,
  normalizeEndpointOptions,
  outboxSubdirectory,
  proxyFromConfigNode,
  SERVER_SETTINGS,
  substituteEnv,
} from './shared/endpoint-config';
import type {
  EndpointCredentials,
  EndpointNode,
  EndpointNodeDef,
  EndpointOptions,
  TestConnectionResponse,
} from './shared/types';

const TYPE = 'event-streams-endpoint';

/** Credential schema; secrets are `password` so they never travel back to the editor. */
type CredentialName = keyof EndpointCredentials;
const CREDENTIALS: Record<CredentialName, { type: 'text' | 'password' }> = {
  apiKey: { type: 'password' },
  username: { type: 'text' },
  password: { type: 'password' },
  ca: { type: 'text' },
  clientCert: { type: 'text' },
  clientKey: { type: 'password' },
  pfx: { type: 'password' },
  passphrase: { type: 'password' },
};
const CREDENTIAL_NAMES = Object.keys(CREDENTIALS) as CredentialName[];

/** What the editor shows in place of a stored password credential it was not sent. */
const PASSWORD_PLACEHOLDER = '__PWRD__';

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
    node.closeTimeoutMs = options.closeTimeoutMs;
    let client: EventStreamsClient | undefined;
    let kafkaAdmin: TopicAdmin | undefined;
    let closing = false;

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

    // The durable outbox (off by default): opened now so that what a previous run left in the
    // spool starts flowing as soon as the flow is deployed, with or without new input. Where it
    // lives is the server owner's choice (settings.js); the editor names only a subdirectory.
    let outbox: Promise<Outbox> | undefined;
    if (options.outbox) {
      const userDir = (RED.settings as { userDir?: string }).userDir || path.join(os.homedir(), '.node-red');
      const configured = settings[SERVER_SETTINGS.outboxDir];
      const base =
        typeof configured === 'string' && configured
          ? configured
          : path.join(userDir, 'event-streams-outbox');
      const serverMax = Number(settings[SERVER_SETTINGS.outboxMaxBytes]);
      const cap = Number.isFinite(serverMax) && serverMax > 0 ? serverMax : DEFAULT_SERVER_OUTBOX_MAX_BYTES;
      let dir: string | undefined;
      try {
        dir = path.join(base, outboxSubdirectory(options.outboxDir, node.id));
      } catch (err) {
        outbox = Promise.reject(err as ValidationError);
      }
      if (dir !== undefined)
        outbox = Outbox.open(
          {
            dir,
            maxBytes: Math.min(options.outboxMaxBytes, cap),
            flavour: options.flavour,
            limits: {
              maxKeyBytes: options.maxKeyBytes,
              maxValueBytes: options.maxValueBytes,
              maxUriBytes: DEFAULT_LIMITS.maxUriBytes,
            },
            concurrency: options.connections,
            retryDelayMs: Math.max(options.retryDelayMs, 100),
          },
          () => node.getClient(),
        );
      outbox!.then(
        (o) => {
          if (o.recovered > 0)
            node.log(RED._('event-streams-endpoint.outbox.recovered', { count: o.recovered }));
          o.on('dropped', (_seq: number, err: Error) =>
            node.error(RED._('event-streams-endpoint.outbox.dropped', { reason: err.message })),
          );
        },
        (err: unknown) =>
          node.error(RED._('event-streams-endpoint.outbox.open-failed', { reason: (err as Error).message })),
      );
      // Callers see the failure through getOutbox(); this only keeps it from being unhandled.
      outbox!.catch(() => undefined);
    }
    node.getOutbox = () => outbox;

    // An optional core `http proxy` config node; without one, the environment's proxy variables.
    const proxy = proxyFromConfigNode(def.proxy ? (RED.nodes.getNode(def.proxy) as never) : null);

    node.getClient = (): EventStreamsClient => {
      if (closing) throw new ClosedError('The endpoint is being stopped');
      if (insecureRefused) {
        throw new ValidationError(
          `TLS verification is off, which ${SERVER_SETTINGS.allowInsecureTls}: false in settings.js forbids`,
          'INVALID_CONFIG',
        );
      }
      if (!client)
        client = new EventStreamsClient(buildClientOptions(options, node.credentials ?? {}, proxy));
      return client;
    };

    node.getKafkaAdmin = (): TopicAdmin => {
      if (closing) throw new ClosedError('The endpoint is being stopped');
      if (!kafkaAdmin)
        kafkaAdmin = new KafkaTopicAdmin(buildKafkaAdminOptions(options, node.credentials ?? {}));
      return kafkaAdmin;
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      closing = true;
      const tasks: Array<Promise<void>> = [];
      // Records the outbox has in flight stay in the spool until acknowledged: closing it loses
      // nothing, at worst a record is sent again after the restart.
      if (outbox) tasks.push(outbox.then((o) => o.close(options.closeTimeoutMs)));
      if (client) tasks.push(client.close({ deadlineMs: options.closeTimeoutMs }));
      if (kafkaAdmin) tasks.push(kafkaAdmin.close());
      client = undefined;
      kafkaAdmin = undefined;
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(guard);
        done();
      };
      // The client honours its deadline; this guard only protects Node-RED's 15 s close window
      // from a close() that misbehaves.
      const guard = setTimeout(finish, options.closeTimeoutMs + 2000);
      Promise.allSettled(tasks).then((results) => {
        for (const r of results) {
          if (r.status === 'rejected')
            node.debug(`close: ${String((r.reason as Error)?.message ?? r.reason)}`);
        }
        finish();
      }, finish);
    });
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
      },
    } as never,
  );

  /**
   * Credentials for a test: values typed in the dialog win; password fields the editor did not
   * resend (empty, or its `__PWRD__` placeholder) come from the stored credentials of that node.
   */
  function testCredentials(id: unknown, sent: unknown): EndpointCredentials {
    const given = sent && typeof sent === 'object' ? (sent as Record<string, unknown>) : {};
    const stored =
      typeof id === 'string' && id
        ? ((RED.nodes.getCredentials(id) as Record<string, unknown> | undefined) ?? {})
        : {};
    const out: EndpointCredentials = {};
    for (const name of CREDENTIAL_NAMES) {
      const value = given[name];
      let chosen: unknown;
      if (CREDENTIALS[name].type === 'password') {
        chosen = typeof value === 'string' && value !== PASSWORD_PLACEHOLDER ? value : stored[name];
      } else {
        chosen = typeof value === 'string' ? value : stored[name];
      }
      if (typeof chosen === 'string' && chosen !== '') out[name] = substituteEnv(chosen);
    }
    return out;
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
      const body = (req.body ?? {}) as Partial<Record<keyof EndpointOptions, unknown>> & {
        id?: unknown;
        credentials?: unknown;
      };
      const options = normalizeEndpointOptions(body);
      let host = '';
      try {
        host = new URL(options.url).host;
      } catch {
        // buildClientOptions reports the bad URL below.
      }
      let client: EventStreamsClient;
      try {
        // A deployed core `http proxy` node chosen in the dialog; otherwise the environment's.
        const proxyNode = typeof body.proxy === 'string' && body.proxy ? RED.nodes.getNode(body.proxy) : null;
        const clientOptions = buildClientOptions(
          options,
          testCredentials(body.id, body.credentials),
          proxyFromConfigNode(proxyNode as never),
        );
        // One attempt, bounded: the user is waiting on a button.
        clientOptions.retry = { retries: 0 };
        clientOptions.requestTimeoutMs = Math.min(options.requestTimeoutMs, 15_000);
        client = new EventStreamsClient(clientOptions);
      } catch (err) {
        const message = isEventStreamsError(err) ? err.message : 'Invalid configuration';
        res.status(400).json({
          ok: false,
          host,
          reachable: false,
          tlsTrusted: null,
          authenticated: null,
          insecure: !options.verifyTls,
          messages: [RED._('event-streams-endpoint.test.config', { reason: message })],
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
      const node = RED.nodes.getNode(String(req.params.id)) as EndpointNode | null;
      if (!node || node.type !== TYPE || typeof node.getClient !== 'function') {
        // Undeployed or unknown: the editor simply offers no suggestions.
        res.status(404).json([]);
        return;
      }
      const filter = typeof req.query.filter === 'string' && req.query.filter ? req.query.filter : undefined;
      let admin: TopicAdmin;
      try {
        admin = req.query.backend === 'kafka' ? node.getKafkaAdmin() : node.getClient().admin;
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
