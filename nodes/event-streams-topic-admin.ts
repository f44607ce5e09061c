// SPDX-License-Identifier: Apache-2.0
/**
 * `event-streams-topic-admin`: list, get, create, ensure, update and delete topics, over the
 * Admin REST API (the endpoint's shared client) or the Kafka protocol (the endpoint's brokers).
 * Input is validated before any call; the result replaces `msg.payload`; errors go to Catch.
 */
import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow } from 'node-red';

import { ClosedError, ValidationError } from '../lib/errors';
import type { TopicAdmin } from '../lib/types';
import { isClusterOperation, runClusterOperation } from './shared/cluster-admin-request';
import { isSchemaOperation, runSchemaOperation } from './shared/schema-admin';
import { StatusThrottle, asError, statusReason } from './shared/status';
import { type AdminNodeSettings, type AdminRequest, resolveAdminRequest } from './shared/topic-admin-request';
import type { EndpointNode, TopicAdminNodeDef } from './shared/types';

const TYPE = 'event-streams-topic-admin';

type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (err?: Error) => void;

async function run(admin: TopicAdmin, req: AdminRequest): Promise<unknown> {
  const topic = req.topic as string;
  switch (req.operation) {
    case 'list':
      return (await admin.listTopics(req.filter ? { filter: req.filter } : {})).topics;
    case 'get':
      return admin.getTopic(topic);
    case 'create': {
      const r = await admin.createTopic({
        name: topic,
        ...(req.partitions !== undefined ? { partitions: req.partitions } : {}),
        ...(req.configs ? { configs: req.configs } : {}),
      });
      return { topic: r.topic };
    }
    case 'ensure': {
      const r = await admin.ensureTopic({
        name: topic,
        ...(req.partitions !== undefined ? { partitions: req.partitions } : {}),
        ...(req.configs ? { configs: req.configs } : {}),
      });
      return { topic: r.topic, created: r.created };
    }
    case 'update': {
      const r = await admin.updateTopic(topic, {
        ...(req.partitions !== undefined ? { partitions: req.partitions } : {}),
        ...(req.configs ? { configs: req.configs } : {}),
      });
      return { topic: r.topic };
    }
    case 'delete': {
      const r = await admin.deleteTopic(topic);
      return { topic: r.topic, deleted: r.deleted };
    }
  }
}

export = function (RED: NodeAPI): void {
  function EventStreamsTopicAdminNode(this: Node, def: TopicAdminNodeDef): void {
    RED.nodes.createNode(this, def);
    // Node-RED constructors are plain functions; the callbacks below need the node itself.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const endpoint = RED.nodes.getNode(def.endpoint) as EndpointNode | null;
    const backend = def.backend === 'kafka' ? 'kafka' : 'rest';
    const throttle = new StatusThrottle((s) => node.status(s), 1000);
    const statusText = (key: string, params?: Record<string, string | number>): string =>
      RED._(`${TYPE}.status.${key}`, params);
    let closing = false;
    const warned = { topic: false, operation: false };

    // A bad configs field is reported at deploy and again with every message it would affect.
    let nodeConfigs: unknown;
    let configsError: ValidationError | undefined;
    const configsText = typeof def.configs === 'string' ? def.configs.trim() : '';
    if (configsText) {
      try {
        nodeConfigs = JSON.parse(configsText);
      } catch {
        configsError = new ValidationError(RED._(`${TYPE}.errors.configs-json`), 'VALIDATION');
        node.error(configsError.message);
      }
    }
    const settings: AdminNodeSettings = {
      operation: typeof def.operation === 'string' ? def.operation.trim() : '',
      topic: typeof def.topic === 'string' ? def.topic.trim() : '',
      partitions:
        def.partitions === undefined || def.partitions === null ? '' : String(def.partitions).trim(),
      configs: nodeConfigs,
      filter: typeof def.filter === 'string' ? def.filter.trim() : '',
    };

    if (!endpoint) {
      node.error(RED._(`${TYPE}.errors.missing-config`));
      node.status({ fill: 'red', shape: 'ring', text: `${TYPE}.status.missing-config` });
    }

    function warnOverride(msg: NodeMessageInFlow): void {
      if (
        settings.topic &&
        !warned.topic &&
        typeof msg.topic === 'string' &&
        msg.topic &&
        msg.topic !== settings.topic
      ) {
        warned.topic = true;
        node.warn(RED._(`${TYPE}.errors.nooverride`, { property: 'topic' }));
      }
      if (
        settings.operation &&
        !warned.operation &&
        typeof msg.operation === 'string' &&
        msg.operation &&
        msg.operation !== settings.operation
      ) {
        warned.operation = true;
        node.warn(RED._(`${TYPE}.errors.nooverride`, { property: 'operation' }));
      }
    }

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      let request: AdminRequest;
      let admin: TopicAdmin;
      try {
        if (!endpoint) throw new ValidationError(RED._(`${TYPE}.errors.missing-config`), 'INVALID_CONFIG');
        if (closing) throw new ClosedError('The node is being stopped');
        if (configsError) throw configsError;
        warnOverride(msg);
        // Schema registry operations always use the REST client (the registry has no Kafka API).
        const op = settings.operation || msg.operation;
        if (typeof op === 'string' && op.trim().toLowerCase() === 'stats') {
          // Counted in this runtime by the endpoint (lib/metrics.ts): no request, no transport.
          const snapshot = endpoint.getMetrics?.();
          if (!snapshot) throw new ValidationError('This endpoint has no metrics yet', 'INVALID_CONFIG');
          msg.payload = snapshot;
          throttle.set({ fill: 'green', shape: 'dot', text: statusText('done-get') });
          send(msg);
          done();
          return;
        }
        if (isSchemaOperation(op)) {
          const schemaOp = op.trim().toLowerCase() as Parameters<typeof runSchemaOperation>[1];
          const { schemas, confluent } = endpoint.getClient();
          throttle.set({ fill: 'blue', shape: 'dot', text: statusText('running', { operation: schemaOp }) });
          runSchemaOperation(schemas, schemaOp, msg.payload, confluent).then(
            (result) => {
              msg.payload = result;
              if (!closing) throttle.set({ fill: 'green', shape: 'dot', text: statusText('done-get') });
              send(msg);
              done();
            },
            (error: unknown) => {
              const err = asError(error);
              if (!closing) throttle.set({ fill: 'red', shape: 'ring', text: statusText(statusReason(err)) });
              done(err);
            },
          );
          return;
        }
        if (isClusterOperation(op)) {
          // Groups, records, cluster, brokers, quotas, status, mirroring: the same request over
          // either transport (lib/types.ts ClusterAdmin); what one cannot do is UNSUPPORTED.
          const clusterOp = op.trim().toLowerCase() as Parameters<typeof runClusterOperation>[1];
          const clusterAdmin = backend === 'kafka' ? endpoint.getKafkaAdmin() : endpoint.getClient().admin;
          throttle.set({ fill: 'blue', shape: 'dot', text: statusText('running', { operation: clusterOp }) });
          runClusterOperation(clusterAdmin, clusterOp, {
            topic: settings.topic,
            filter: settings.filter,
            msg: msg as { topic?: unknown; payload?: unknown; group?: unknown },
          }).then(
            (result) => {
              msg.payload = result;
              if (!closing) throttle.set({ fill: 'green', shape: 'dot', text: statusText('done-get') });
              send(msg);
              done();
            },
            (error: unknown) => {
              const err = asError(error);
              if (!closing) throttle.set({ fill: 'red', shape: 'ring', text: statusText(statusReason(err)) });
              done(err);
            },
          );
          return;
        }
        request = resolveAdminRequest(settings, msg);
        admin = backend === 'kafka' ? endpoint.getKafkaAdmin() : endpoint.getClient().admin;
      } catch (error) {
        const err = asError(error);
        throttle.set({ fill: 'red', shape: 'ring', text: statusText(statusReason(err)) });
        done(err);
        return;
      }
      throttle.set({
        fill: 'blue',
        shape: 'dot',
        text: statusText('running', { operation: request.operation }),
      });
      run(admin, request).then(
        (result) => {
          msg.payload = result;
          const created = (result as { created?: unknown } | undefined)?.created;
          const key =
            request.operation === 'ensure' ? (created ? 'created' : 'exists') : `done-${request.operation}`;
          if (!closing) throttle.set({ fill: 'green', shape: 'dot', text: statusText(key) });
          send(msg);
          done();
        },
        (error: unknown) => {
          const err = asError(error);
          if (!closing) throttle.set({ fill: 'red', shape: 'ring', text: statusText(statusReason(err)) });
          done(err);
        },
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closing = true;
      throttle.stop({});
      // Admin calls are single requests bounded by the endpoint's request timeout; the endpoint
      // closes the client and Kafka admin they use, which settles anything still running.
      done();
    });
  }

  RED.nodes.registerType(TYPE, EventStreamsTopicAdminNode);
};
