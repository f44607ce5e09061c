// SPDX-License-Identifier: Apache-2.0
/**
 * Cluster administration over the Kafka protocol (kafkajs admin): consumer groups (list, describe
 * with lag, reset offsets, delete), delete records, cluster and brokers, broker configs. Used by
 * {@link KafkaTopicAdmin} (lib/kafka-admin.ts) for the topic-admin node and by the local endpoint's
 * Kafka backend, so both answer in the Admin REST shapes of lib/types.ts.
 *
 * What kafkajs 2.2.4 cannot do: client quotas (no DescribeClientQuotas/AlterClientQuotas) and
 * Event Streams mirroring (an IBM service feature, not a Kafka API) reject with UNSUPPORTED.
 */
import type * as KafkaJs from 'kafkajs';
import type { Admin } from 'kafkajs';

import { checkResetOptions, lagOf, pageOf } from './cluster-admin';
import { NotFoundError, UnsupportedError, ValidationError } from './errors';
import { compileFilter } from './glob';
import type {
  BrokerConfig,
  BrokerDetail,
  BrokerSummary,
  ClusterInfo,
  GroupDetail,
  GroupMember,
  GroupOffset,
  ListGroupsOptions,
  ListGroupsResult,
  RecordsToDelete,
  ResetOffsetsOptions,
  ResetOffsetsResult,
} from './types';

type KafkaModule = typeof KafkaJs;

/** Kafka's group states that mean "no such group" when it also has no committed offsets. */
const GONE_STATES = new Set(['Dead', 'Unknown', '']);

const CONFIG_SOURCES: Record<number, string> = {
  0: 'UNKNOWN',
  1: 'DYNAMIC_TOPIC_CONFIG',
  2: 'DYNAMIC_BROKER_CONFIG',
  3: 'DYNAMIC_DEFAULT_BROKER_CONFIG',
  4: 'STATIC_BROKER_CONFIG',
  5: 'DEFAULT_CONFIG',
  6: 'DYNAMIC_BROKER_LOGGER_CONFIG',
};

export function quotasUnsupported(): never {
  throw new UnsupportedError(
    'Client quotas are not available over the Kafka protocol here: kafkajs 2.2.4 has no DescribeClientQuotas/AlterClientQuotas. Use the Admin REST backend (IBM Cloud) or kafka-configs.sh.',
  );
}

export function mirroringUnsupported(): never {
  throw new UnsupportedError(
    'Mirroring is an Event Streams Enterprise feature of the Admin REST API; it has no Kafka-protocol form. Use the Admin REST backend.',
  );
}

/** Group ids of the cluster, filtered (glob or `/regex/`) and sorted, one page or all. */
export async function listGroups(admin: Admin, options: ListGroupsOptions = {}): Promise<ListGroupsResult> {
  const match = compileFilter(options.filter, 'group_filter', 'any');
  const { groups } = await admin.listGroups();
  const ids = groups
    .map((g) => g.groupId)
    .filter((id) => !match || match(id))
    .sort();
  return { groups: pageOf(ids, options.page, options.perPage), total: ids.length };
}

function decodeAssignments(kafkajs: KafkaModule, buf: Buffer): Array<{ topic: string; partition: number }> {
  if (!buf || buf.length === 0) return [];
  try {
    const decoded = kafkajs.AssignerProtocol.MemberAssignment.decode(buf);
    const out: Array<{ topic: string; partition: number }> = [];
    for (const [topic, partitions] of Object.entries(decoded?.assignment ?? {})) {
      for (const partition of partitions) out.push({ topic, partition });
    }
    return out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  } catch {
    // A group of another protocol (e.g. Connect): its assignment is not a consumer assignment.
    return [];
  }
}

interface Committed {
  members: GroupMember[];
  state: string;
  /** topic → partition → committed offset (-1 for none). */
  committed: Map<string, Map<number, number>>;
}

async function readGroup(kafkajs: KafkaModule, admin: Admin, groupId: string): Promise<Committed> {
  const [described, fetched] = await Promise.all([
    admin.describeGroups([groupId]),
    admin.fetchOffsets({ groupId }),
  ]);
  const g = described.groups[0];
  const members: GroupMember[] = (g?.members ?? []).map((m) => ({
    consumer_id: m.memberId,
    client_id: m.clientId,
    host: m.clientHost.replace(/^\//, ''),
    assignments: decodeAssignments(kafkajs, m.memberAssignment),
  }));
  const committed = new Map<string, Map<number, number>>();
  for (const t of fetched) {
    for (const p of t.partitions) {
      const offset = Number(p.offset);
      if (offset < 0) continue;
      let byPart = committed.get(t.topic);
      if (!byPart) committed.set(t.topic, (byPart = new Map()));
      byPart.set(p.partition, offset);
    }
  }
  // Assigned partitions without a commit yet are reported too (current_offset -1).
  for (const m of members) {
    for (const a of m.assignments) {
      let byPart = committed.get(a.topic);
      if (!byPart) committed.set(a.topic, (byPart = new Map()));
      if (!byPart.has(a.partition)) byPart.set(a.partition, -1);
    }
  }
  const state = g?.state ?? 'Dead';
  if (GONE_STATES.has(state) && members.length === 0 && committed.size === 0) {
    throw new NotFoundError(`Consumer group '${groupId}' does not exist`);
  }
  return { members, state, committed };
}

type Watermarks = Map<number, { low: number; high: number }>;

async function watermarks(admin: Admin, topics: Iterable<string>): Promise<Map<string, Watermarks>> {
  const out = new Map<string, Watermarks>();
  await Promise.all(
    [...topics].map(async (topic) => {
      const marks: Watermarks = new Map();
      try {
        for (const p of await admin.fetchTopicOffsets(topic)) {
          marks.set(p.partition, { low: Number(p.low), high: Number(p.high) });
        }
      } catch {
        // A topic deleted since the group committed to it: its offsets stay, with no end.
      }
      out.set(topic, marks);
    }),
  );
  return out;
}

/** State, members with assignments, and per partition the committed and end offsets and the lag. */
export async function describeGroup(
  kafkajs: KafkaModule,
  admin: Admin,
  groupId: string,
): Promise<GroupDetail> {
  const { members, state, committed } = await readGroup(kafkajs, admin, groupId);
  const marks = await watermarks(admin, committed.keys());
  const offsets: GroupOffset[] = [];
  for (const [topic, byPart] of committed) {
    for (const [partition, current] of byPart) {
      const m = marks.get(topic)?.get(partition);
      const end = m?.high ?? -1;
      offsets.push({
        topic,
        partition,
        current_offset: current,
        end_offset: end,
        lag: m ? lagOf(current, m.high, m.low) : 0,
      });
    }
  }
  offsets.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  return {
    group_id: groupId,
    state,
    members,
    offsets,
    lag: offsets.reduce((sum, o) => sum + o.lag, 0),
  };
}

/**
 * Resets a group's committed offsets. Kafka accepts new offsets only from outside an active group,
 * so an executed reset of a group with members is refused (a dry run is always allowed). The
 * result is the offset of every partition that was (or would be) set.
 */
export async function resetGroupOffsets(
  kafkajs: KafkaModule,
  admin: Admin,
  groupId: string,
  options: ResetOffsetsOptions,
  topicCheck: (t: unknown) => string,
): Promise<ResetOffsetsResult> {
  const plan = checkResetOptions(options, topicCheck);
  const { members, committed } = await readGroup(kafkajs, admin, groupId);
  if (plan.execute && members.length > 0) {
    throw new ValidationError(
      `Consumer group '${groupId}' has ${members.length} active member(s): stop its consumers before resetting its offsets`,
      'VALIDATION',
    );
  }
  const topics = plan.topic !== undefined ? [plan.topic] : [...committed.keys()].sort();
  const result: ResetOffsetsResult = [];
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    let byTime: Map<number, number> | undefined;
    if (plan.mode === 'datetime') {
      byTime = new Map(
        (await admin.fetchTopicOffsetsByTimestamp(topic, plan.at)).map((p) => [
          p.partition,
          Number(p.offset),
        ]),
      );
    }
    const parts: Array<{ partition: number; offset: string }> = [];
    for (const p of [...ends].sort((a, b) => a.partition - b.partition)) {
      const low = Number(p.low);
      const high = Number(p.high);
      let offset: number;
      if (plan.mode === 'earliest') offset = low;
      else if (plan.mode === 'latest') offset = high;
      else if (plan.mode === 'datetime') {
        const t = byTime?.get(p.partition) ?? -1;
        offset = t < 0 ? high : t;
      } else offset = Math.min(Math.max(plan.at!, low), high);
      parts.push({ partition: p.partition, offset: String(offset) });
      result.push({ topic, partition: p.partition, offset });
    }
    if (plan.execute) await admin.setOffsets({ groupId, topic, partitions: parts });
  }
  return result;
}

/** Deletes a group; `deleted: false` when it did not exist. A group with members is refused by Kafka. */
export async function deleteGroup(
  kafkajs: KafkaModule,
  admin: Admin,
  groupId: string,
): Promise<{ group_id: string; deleted: boolean }> {
  try {
    await readGroup(kafkajs, admin, groupId);
  } catch (err) {
    if (err instanceof NotFoundError) return { group_id: groupId, deleted: false };
    throw err;
  }
  try {
    await admin.deleteGroups([groupId]);
  } catch (err) {
    const inner = (err as { groups?: Array<{ error?: { type?: string } }> }).groups?.[0]?.error?.type;
    if (inner === 'GROUP_ID_NOT_FOUND') return { group_id: groupId, deleted: false };
    if (inner === 'NON_EMPTY_GROUP') {
      throw new ValidationError(
        `Consumer group '${groupId}' has active members: stop its consumers before deleting it`,
        'VALIDATION',
      );
    }
    throw err;
  }
  return { group_id: groupId, deleted: true };
}

/** Deletes the records before `before_offset` in each listed partition (moves the log start). */
export async function deleteRecords(admin: Admin, topic: string, records: RecordsToDelete[]): Promise<void> {
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  for (const r of records) {
    const high = ends.get(r.partition);
    if (high === undefined) {
      throw new NotFoundError(`Topic '${topic}' has no partition ${r.partition}`, { topic });
    }
    if (r.before_offset > high) {
      throw new ValidationError(
        `before_offset ${r.before_offset} is past the end of partition ${r.partition} (${high})`,
        'VALIDATION',
        { topic },
      );
    }
  }
  await admin.deleteTopicRecords({
    topic,
    partitions: records.map((r) => ({ partition: r.partition, offset: String(r.before_offset) })),
  });
}

/** Brokers (with rack, from `broker.rack`), the controller and the cluster id. */
export async function getCluster(kafkajs: KafkaModule, admin: Admin): Promise<ClusterInfo> {
  const c = await admin.describeCluster();
  const racks = new Map<string, string>();
  try {
    const described = await admin.describeConfigs({
      resources: c.brokers.map((b) => ({
        type: kafkajs.ConfigResourceTypes.BROKER,
        name: String(b.nodeId),
        configNames: ['broker.rack'],
      })),
      includeSynonyms: false,
    });
    for (const r of described.resources) {
      const v = r.configEntries.find((e) => e.configName === 'broker.rack')?.configValue;
      if (v) racks.set(r.resourceName, v);
    }
  } catch {
    // Racks are optional: a principal without DescribeConfigs still sees the brokers.
  }
  const brokers: BrokerSummary[] = c.brokers
    .map((b) => {
      const s: BrokerSummary = { id: b.nodeId, host: b.host, port: b.port };
      const rack = racks.get(String(b.nodeId));
      if (rack) s.rack = rack;
      return s;
    })
    .sort((a, b) => a.id - b.id);
  const out: ClusterInfo = { id: c.clusterId, brokers };
  const controller = brokers.find((b) => b.id === c.controller);
  if (controller) out.controller = controller;
  return out;
}

export async function getBroker(kafkajs: KafkaModule, admin: Admin, id: number): Promise<BrokerDetail> {
  const broker = (await getCluster(kafkajs, admin)).brokers.find((b) => b.id === id);
  if (!broker) throw new NotFoundError(`Broker ${id} is not in the cluster`);
  return broker;
}

/** A broker's configs, filtered by name (glob or `/regex/`); `verbose` adds source and read-only. */
export async function getBrokerConfigs(
  kafkajs: KafkaModule,
  admin: Admin,
  id: number,
  options: { filter?: string; verbose?: boolean } = {},
): Promise<BrokerDetail> {
  const match = compileFilter(options.filter, 'config_filter', 'any');
  const broker = await getBroker(kafkajs, admin, id);
  const described = await admin.describeConfigs({
    resources: [{ type: kafkajs.ConfigResourceTypes.BROKER, name: String(id) }],
    includeSynonyms: false,
  });
  const configs: BrokerConfig[] = [];
  for (const e of described.resources[0]?.configEntries ?? []) {
    if (match && !match(e.configName)) continue;
    const c: BrokerConfig = {
      name: e.configName,
      value: e.isSensitive ? null : e.configValue,
      is_sensitive: e.isSensitive,
    };
    if (options.verbose) {
      const source = (e as { configSource?: number }).configSource;
      c.source = CONFIG_SOURCES[source ?? 0] ?? 'UNKNOWN';
      c.is_read_only = e.readOnly;
    }
    configs.push(c);
  }
  configs.sort((a, b) => a.name.localeCompare(b.name));
  return { ...broker, configs };
}

/** Answers that mean "not settled yet" right after a topic was created. */
const NOT_YET = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'REPLICA_NOT_AVAILABLE',
]);

function notYet(err: unknown): boolean {
  const e = err as { type?: string; originalError?: { type?: string } };
  return NOT_YET.has(e.type ?? '') || NOT_YET.has(e.originalError?.type ?? '');
}

/**
 * `admin.createTopics` with kafkajs's `waitForLeaders`, minus its races. After the controller has
 * created a topic, the broker kafkajs asks for metadata may not know it yet and answer
 * UNKNOWN_TOPIC_OR_PARTITION, which kafkajs's wait does not retry (only LEADER_NOT_AVAILABLE): the
 * call then fails as if the topic did not exist although it was just created. And a partition
 * whose leader the metadata already names may not take records yet: a produce request spanning it
 * fails for that partition, kafkajs retries the whole request, and a producer without idempotence
 * writes the other partitions' records twice. Both seen on a loaded machine.
 *
 * So the topics are created without kafkajs's wait; then metadata is read until every partition
 * of each has a leader, and each topic's offsets are read (a request every partition leader must
 * answer), retrying "not settled yet" answers until `timeout` ms (default 30 s). Resolves with
 * kafkajs's answer: false when every topic existed already.
 */
export async function createTopicsReady(
  admin: Admin,
  options: { topics: KafkaJs.ITopicConfig[]; timeout?: number },
): Promise<boolean> {
  const created = await admin.createTopics({
    topics: options.topics,
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
    waitForLeaders: false,
  });
  const names = options.topics.map((t) => t.topic);
  const deadline = Date.now() + (options.timeout ?? 30_000);
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    let last: unknown;
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: names });
      const led = names.every((name) => {
        const t = topics.find((x) => x.name === name);
        return (
          t !== undefined &&
          t.partitions.length > 0 &&
          t.partitions.every((p) => p.leader >= 0 && !p.partitionErrorCode)
        );
      });
      if (led) {
        for (const name of names) await admin.fetchTopicOffsets(name);
        return created;
      }
    } catch (err) {
      if (!notYet(err)) throw err;
      last = err;
    }
    if (Date.now() >= deadline) {
      throw last ?? new Error(`Timed out while waiting for the leaders of ${names.join(', ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
