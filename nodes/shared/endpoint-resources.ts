// SPDX-License-Identifier: Apache-2.0
/**
 * What one endpoint config owns, as a plain class (no Node-RED imports): the REST session
 * (client: admin, registry), the transport {@link Sender} producers send through, the durable
 * outbox around it when the option is on, and the Kafka-protocol admin. Each is created on first
 * use (the outbox at once, so that what a previous run left starts flowing) and `close()` ends
 * them in order: the outbox first (it sends through the transport), then the transport, then
 * the session and the Kafka admin.
 *
 * The endpoint node (nodes/event-streams-endpoint.ts) is its adapter: it resolves the server's
 * settings (outbox directory, insecure-TLS policy) and hands them in.
 */
import { EventStreamsClient } from '../../lib/client';
import type { ConfluentRegistryClient } from '../../lib/confluent-registry';
import { DEFAULT_LIMITS } from '../../lib/encode';
import { ClosedError, ValidationError } from '../../lib/errors';
import { KafkaTopicAdmin } from '../../lib/kafka-admin';
import { MeteredSender } from '../../lib/metered-sender';
import { EndpointMetrics, type MetricsSnapshot } from '../../lib/metrics';
import { Outbox } from '../../lib/outbox';
import { OutboxSender } from '../../lib/outbox-sender';
import type { Sender } from '../../lib/sender';
import type { ClusterAdmin, ProxyOptions, TopicAdmin } from '../../lib/types';
import {
  buildClientOptions,
  buildRegistryClientOptions,
  type NormalizedEndpointOptions,
} from './endpoint-config';
import { buildKafkaClientConfig, buildKafkaSenderOptions } from './kafka-config';
import type { EndpointCredentials } from './types';

/** Where the outbox lives and how large it may grow, as the server's settings resolved them. */
export interface OutboxPlacement {
  dir: string;
  maxBytes: number;
}

export interface EndpointResourcesInit {
  options: NormalizedEndpointOptions;
  credentials: EndpointCredentials;
  proxy?: ProxyOptions;
  /** With the outbox option on: where it goes, or why it cannot be opened (a bad directory name). */
  outbox?: OutboxPlacement | Error;
  /** Set when the server refuses this configuration: every use throws the error it makes. */
  refused?: () => Error;
}

/** What the transport factory may build a sender from. */
export interface TransportContext {
  options: NormalizedEndpointOptions;
  credentials: EndpointCredentials;
  /** The endpoint's one REST session (built on first call). */
  client: () => EventStreamsClient;
  /** The Confluent-compatible registry (built on first call), undefined when none is configured. */
  registry: () => ConfluentRegistryClient | undefined;
}

/**
 * The one place the transport is chosen. REST: the session's own produce pipeline (one client
 * for produce, admin and registry). Kafka: a {@link KafkaSender} to the endpoint's brokers
 * (kafkajs is loaded only then).
 */
export function createTransportSender(ctx: TransportContext): Sender {
  if (ctx.options.transport === 'kafka') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { KafkaSender } = require('../../lib/kafka-sender') as typeof import('../../lib/kafka-sender');
    return new KafkaSender({
      ...buildKafkaSenderOptions(ctx.options, ctx.credentials),
      // Asked only when an Avro record arrives, so a registry-less endpoint works for the rest.
      schemaIds: (subject, schema) => {
        const registry = ctx.registry();
        if (registry === undefined) {
          return Promise.reject(
            new ValidationError(
              "Avro over the Kafka transport needs a schema registry: set the endpoint's schema registry URL.",
              'INVALID_CONFIG',
            ),
          );
        }
        return registry.idFor(subject, schema);
      },
    });
  }
  return ctx.client().sender;
}

export class EndpointResources {
  /** Delivered, failed, retried, latency and recent errors of what went through the transport. */
  readonly metrics = new EndpointMetrics();
  private session: EventStreamsClient | undefined;
  /** The session of a separate registry URL (`registryUrl`); the REST session serves otherwise. */
  private registrySession: EventStreamsClient | undefined;
  private transportSender: Sender | undefined;
  private outboxSender: OutboxSender | undefined;
  private kafka: (TopicAdmin & ClusterAdmin) | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly init: EndpointResourcesInit) {
    const placement = init.outbox;
    if (init.options.outbox && placement !== undefined) {
      const ready =
        placement instanceof Error
          ? Promise.reject(placement)
          : Outbox.open(
              {
                dir: placement.dir,
                maxBytes: placement.maxBytes,
                flavour: init.options.flavour,
                limits: {
                  maxKeyBytes: init.options.maxKeyBytes,
                  maxValueBytes: init.options.maxValueBytes,
                  maxUriBytes: DEFAULT_LIMITS.maxUriBytes,
                },
                concurrency: init.options.connections,
                retryDelayMs: Math.max(init.options.retryDelayMs, 100),
              },
              () => this.transport(),
            );
      // Callers see a failure through outbox()/send(); this only keeps it from being unhandled.
      ready.catch(() => undefined);
      // The transport is fixed by the options.
      this.outboxSender = new OutboxSender(
        init.options.transport,
        ready,
        () => this.transport(),
        init.options.closeTimeoutMs,
      );
    }
  }

  /** The REST session: produce pipeline, Admin REST and the registry. Throws for an unusable config. */
  client(): EventStreamsClient {
    this.check();
    this.session ??= new EventStreamsClient(
      buildClientOptions(this.init.options, this.init.credentials, this.init.proxy),
    );
    return this.session;
  }

  /**
   * The Confluent-compatible registry Avro over Kafka and the consumer use: at `registryUrl` (its
   * own session), else the REST session's `{url}/confluent`; undefined when neither URL is set.
   * Throws for an unusable config.
   */
  registry(): ConfluentRegistryClient | undefined {
    this.check();
    const { options, credentials, proxy } = this.init;
    if (options.registryUrl) {
      this.registrySession ??= new EventStreamsClient(
        buildRegistryClientOptions(options, credentials, proxy)!,
      );
      return this.registrySession.confluent;
    }
    return options.url ? this.client().confluent : undefined;
  }

  /** What producers send through: the outbox when it is on, else the transport itself. */
  sender(): Sender {
    if (this.outboxSender !== undefined) {
      this.check();
      return this.outboxSender;
    }
    return this.transport();
  }

  /** The outbox being opened, when the option is on. */
  outbox(): Promise<Outbox> | undefined {
    return this.outboxSender?.ready;
  }

  /** The Kafka-protocol topic admin (kafkajs, loaded on first use). */
  kafkaAdmin(): TopicAdmin & ClusterAdmin {
    this.check();
    this.kafka ??= new KafkaTopicAdmin(buildKafkaClientConfig(this.init.options, this.init.credentials));
    return this.kafka;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** The metrics with the transport's and the outbox's live counts, for the sidebar, flows and Prometheus. */
  snapshot(): MetricsSnapshot {
    const stats = this.transportSender?.stats();
    const backlog = this.outboxSender?.backlog?.();
    return this.metrics.snapshot({
      inFlight: stats?.inFlight ?? 0,
      queued: stats?.queued ?? 0,
      ...(stats?.holds !== undefined ? { transportHolds: stats.holds } : {}),
      ...(this.outboxSender !== undefined ? { outboxDepth: backlog?.depth ?? 0 } : {}),
    });
  }

  /**
   * Ends everything within `deadlineMs` overall: the outbox (in-flight records stay stored), then
   * the transport (in-flight and queued records finish or are rejected), then the session and the
   * Kafka admin. Idempotent.
   */
  close(deadlineMs: number): Promise<void> {
    this.closing ??= this.shutdown(deadlineMs);
    return this.closing;
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    const end = Date.now() + deadlineMs;
    const left = (): number => Math.max(0, end - Date.now());
    const errors: unknown[] = [];
    const attempt = async (task: (() => Promise<void>) | undefined): Promise<void> => {
      if (task === undefined) return;
      try {
        await task();
      } catch (err) {
        errors.push(err);
      }
    };
    const outbox = this.outboxSender;
    const transport = this.transportSender;
    const session = this.session;
    const registrySession = this.registrySession;
    const kafka = this.kafka;
    await attempt(outbox && (() => outbox.close({ deadlineMs: left() })));
    await attempt(transport && (() => transport.close({ deadlineMs: left() })));
    await Promise.all([
      attempt(session && (() => session.close({ deadlineMs: left() }))),
      attempt(registrySession && (() => registrySession.close({ deadlineMs: left() }))),
      attempt(kafka && (() => kafka.close())),
    ]);
    if (errors.length > 0) throw errors[0];
  }

  private transport(): Sender {
    this.check();
    // Metered here, under the outbox: a record counts as delivered when the broker has it.
    this.transportSender ??= new MeteredSender(
      createTransportSender({
        options: this.init.options,
        credentials: this.init.credentials,
        client: () => this.client(),
        registry: () => this.registry(),
      }),
      this.metrics,
    );
    return this.transportSender;
  }

  private check(): void {
    if (this.closing !== undefined) throw new ClosedError('The endpoint is being stopped');
    if (this.init.refused) throw this.init.refused();
  }
}
