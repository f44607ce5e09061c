// SPDX-License-Identifier: Apache-2.0
/**
 * The set-up the gateway-on-Kafka suites share (test/kafka/batch-kafka, endpoint-kafka,
 * metrics-kafka): the shared broker, a topic of its own, the local endpoint on the Kafka backend in
 * a temp state dir, an HTTPS agent that trusts the endpoint's CA, and a kafkajs admin to look at
 * what really landed. `useKafkaGateway` registers the `before`/`after` hooks in the calling
 * `describe` and returns the object they fill in.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Admin } from 'kafkajs';
import { Agent } from 'undici';
import { startLocalEndpoint, type LocalEndpoint } from '../../gateway/server';
import type { LocalEndpointOptions } from '../../gateway/types';
import { ENDPOINT_KEY, type KafkaHandle, useKafkaView } from './kafka';

export interface KafkaGateway {
  kafka: KafkaHandle;
  /** A kafkajs admin of the test's own, for checking Kafka directly. */
  view: Admin;
  endpoint: LocalEndpoint;
  /** Trusts the endpoint's CA: verification stays on. */
  agent: Agent;
  /** Made (with its leaders elected) before the first test. */
  topic: string;
}

export interface KafkaGatewayOptions {
  /** Names the topic, the state dir and the backend's client id. */
  name: string;
  partitions: number;
  /** More endpoint options (e.g. `metrics: true`). */
  endpoint?: Partial<LocalEndpointOptions>;
  /** Connections per origin for the agent (undici's default when absent). */
  connections?: number;
}

export function useKafkaGateway(options: KafkaGatewayOptions): KafkaGateway {
  const kv = useKafkaView();
  const gw = {} as KafkaGateway;
  let stateDir: string | undefined;

  before(async function () {
    gw.kafka = kv.kafka;
    gw.view = kv.view;
    gw.topic = await kv.createTopic(options.name, options.partitions);
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `esnodes-${options.name}-kafka-`));
    gw.endpoint = await startLocalEndpoint({
      port: 0,
      stateDir,
      apiKeys: [ENDPOINT_KEY],
      ...options.endpoint,
      kafka: { brokers: gw.kafka.brokers, clientId: `${options.name}-test` },
    });
    gw.agent = new Agent({
      ...(options.connections ? { connections: options.connections } : {}),
      connect: { ca: gw.endpoint.caPem! },
    });
  });

  after(async function () {
    await gw.agent?.close();
    await gw.endpoint?.stop();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  });

  return gw;
}
