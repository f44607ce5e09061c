// SPDX-License-Identifier: Apache-2.0
/**
 * The topic-admin node's cluster operations (consumer groups, records, cluster, brokers, quotas,
 * status, mirroring): one table of operations, each reading its input from the message and
 * checking it before any call, so a malformed message becomes a specific VALIDATION error for a
 * Catch node. The same request runs over Admin REST or the Kafka protocol (both are a
 * {@link ClusterAdmin}); the result, in the Admin REST spec's shapes, replaces `msg.payload`.
 */
import { checkBrokerId, checkEntityName, checkGroupId, checkRecordsToDelete } from '../../lib/cluster-admin';
import { ValidationError } from '../../lib/errors';
import type { ClusterAdmin, ResetOffsetsOptions } from '../../lib/types';
import { validateTopicName } from '../../lib/validate';

export const CLUSTER_OPERATIONS = [
  'group-list',
  'group-get',
  'group-reset',
  'group-delete',
  'records-delete',
  'cluster',
  'broker-list',
  'broker-get',
  'broker-configs',
  'quota-list',
  'quota-get',
  'quota-create',
  'quota-update',
  'quota-delete',
  'status',
  'mirroring-get',
  'mirroring-set',
  'mirroring-active',
] as const;

export type ClusterOperation = (typeof CLUSTER_OPERATIONS)[number];

export function isClusterOperation(op: unknown): op is ClusterOperation {
  return (
    typeof op === 'string' && (CLUSTER_OPERATIONS as readonly string[]).includes(op.trim().toLowerCase())
  );
}

/** What a cluster operation reads: the node's filter and topic settings, then the message. */
export interface ClusterRequestInput {
  /** The node's topic field (records-delete, group-reset), already trimmed; '' → msg.topic. */
  topic: string;
  /** The node's filter field (group-list, broker-configs), already trimmed; '' → msg.payload.filter. */
  filter: string;
  msg: { topic?: unknown; payload?: unknown; group?: unknown };
}

function payloadOf(payload: unknown): Record<string, unknown> {
  return payload && typeof payload === 'object' && !Array.isArray(payload) && !Buffer.isBuffer(payload)
    ? (payload as Record<string, unknown>)
    : {};
}

function optionalInt(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ValidationError(`${field} must be a positive integer`, 'VALIDATION');
  }
  return value;
}

function filterOf(input: ClusterRequestInput, p: Record<string, unknown>): string | undefined {
  const f = input.filter || p.filter;
  if (f === undefined || f === null || f === '') return undefined;
  if (typeof f !== 'string') throw new ValidationError('filter must be a string', 'VALIDATION');
  return f;
}

function groupOf(input: ClusterRequestInput, p: Record<string, unknown>, op: string): string {
  const g = p.group ?? p.group_id ?? input.msg.group;
  if (g === undefined || g === null || g === '') {
    throw new ValidationError(
      `Operation '${op}' needs msg.payload.group (the consumer group id)`,
      'VALIDATION',
    );
  }
  return checkGroupId(g);
}

function topicOf(input: ClusterRequestInput, op: string, required: boolean): string | undefined {
  const t = input.topic || input.msg.topic;
  if (t === undefined || t === null || t === '') {
    if (!required) return undefined;
    throw new ValidationError(
      `Operation '${op}' needs a topic (set it on the node or in msg.topic)`,
      'INVALID_TOPIC',
    );
  }
  return validateTopicName(t);
}

function entityOf(p: Record<string, unknown>, op: string): string {
  const e = p.entity ?? p.entity_name;
  if (e === undefined || e === null || e === '') {
    throw new ValidationError(
      `Operation '${op}' needs msg.payload.entity ('default' or an IAM service id)`,
      'VALIDATION',
    );
  }
  return checkEntityName(e);
}

function quotaOf(p: Record<string, unknown>): { producer_byte_rate?: number; consumer_byte_rate?: number } {
  const q: { producer_byte_rate?: number; consumer_byte_rate?: number } = {};
  if (p.producer_byte_rate !== undefined) q.producer_byte_rate = p.producer_byte_rate as number;
  if (p.consumer_byte_rate !== undefined) q.consumer_byte_rate = p.consumer_byte_rate as number;
  return q;
}

/**
 * Runs one cluster operation. Results (msg.payload): group-list → `{groups, total}`; group-get →
 * `{group_id, state, members, offsets[{topic, partition, current_offset, end_offset, lag}], lag}`;
 * group-reset → `[{topic, partition, offset}]` (with `execute:false`, the default, nothing changes);
 * group-delete → `{group_id, deleted}`; records-delete → `{topic}`; cluster → `{id, controller,
 * brokers}`; broker-list → `[{id, host, port, rack?}]`; broker-get/broker-configs → the broker (with
 * `configs`); quota-list → `[{entity_name, producer_byte_rate?, consumer_byte_rate?}]`; quota-get →
 * one of those; quota-create/update/delete → `{entity_name}`; status → `{status}`; mirroring-get/set
 * → `{includes}`; mirroring-active → `{active_topics}`.
 */
export async function runClusterOperation(
  admin: ClusterAdmin,
  operation: ClusterOperation,
  input: ClusterRequestInput,
): Promise<unknown> {
  const p = payloadOf(input.msg.payload);
  switch (operation) {
    case 'group-list': {
      const filter = filterOf(input, p);
      const page = optionalInt(p.page, 'page');
      const perPage = optionalInt(p.perPage ?? p.per_page, 'perPage');
      return admin.listGroups({
        ...(filter !== undefined ? { filter } : {}),
        ...(page !== undefined ? { page } : {}),
        ...(perPage !== undefined ? { perPage } : {}),
      });
    }
    case 'group-get':
      return admin.describeGroup(groupOf(input, p, operation));
    case 'group-reset': {
      const group = groupOf(input, p, operation);
      const topic = topicOf(input, operation, false);
      const options = { ...p, ...(topic !== undefined ? { topic } : {}) } as unknown as ResetOffsetsOptions;
      return admin.resetGroupOffsets(group, options);
    }
    case 'group-delete':
      return admin.deleteGroup(groupOf(input, p, operation));
    case 'records-delete': {
      const topic = topicOf(input, operation, true)!;
      const list = Array.isArray(input.msg.payload) ? input.msg.payload : (p.records_to_delete ?? [p]);
      return admin.deleteRecords(topic, checkRecordsToDelete(list));
    }
    case 'cluster':
      return admin.getCluster();
    case 'broker-list':
      return admin.listBrokers();
    case 'broker-get':
      return admin.getBroker(checkBrokerId(p.broker ?? p.id));
    case 'broker-configs': {
      const filter = filterOf(input, p);
      if (p.verbose !== undefined && typeof p.verbose !== 'boolean') {
        throw new ValidationError('verbose must be true or false', 'VALIDATION');
      }
      return admin.getBrokerConfigs(checkBrokerId(p.broker ?? p.id), {
        ...(filter !== undefined ? { filter } : {}),
        verbose: p.verbose === true,
      });
    }
    case 'quota-list':
      return admin.listQuotas();
    case 'quota-get':
      return admin.getQuota(entityOf(p, operation));
    case 'quota-create':
      return admin.createQuota(entityOf(p, operation), quotaOf(p));
    case 'quota-update':
      return admin.updateQuota(entityOf(p, operation), quotaOf(p));
    case 'quota-delete':
      return admin.deleteQuota(entityOf(p, operation));
    case 'status':
      return admin.getStatus();
    case 'mirroring-get':
      return admin.getMirroringTopicSelection();
    case 'mirroring-set': {
      const includes = Array.isArray(input.msg.payload) ? input.msg.payload : p.includes;
      return admin.setMirroringTopicSelection(includes as string[]);
    }
    case 'mirroring-active':
      return admin.getMirroringActiveTopics();
  }
}
