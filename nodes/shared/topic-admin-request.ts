// SPDX-License-Identifier: Apache-2.0
/**
 * Validation of a topic-admin request, done before any network call so that a malformed message
 * becomes a specific error for Catch nodes and never an exception inside Node-RED.
 */
import { ValidationError } from '../../lib/errors';
import type { TopicConfigEntry } from '../../lib/types';
import { validateTopicName } from '../../lib/validate';
import type { TopicOperation } from './types';

export const OPERATIONS: readonly TopicOperation[] = ['list', 'get', 'create', 'ensure', 'update', 'delete'];

export interface AdminRequest {
  operation: TopicOperation;
  topic?: string;
  partitions?: number;
  configs?: TopicConfigEntry[];
  filter?: string;
}

/** Node-side settings, already trimmed; blank strings mean "take it from the message". */
export interface AdminNodeSettings {
  operation: string;
  topic: string;
  partitions: string;
  /** Parsed node configs, or undefined when the field is blank. */
  configs: unknown;
  filter: string;
}

export function parseOperation(value: unknown): TopicOperation {
  if (typeof value === 'string' && (OPERATIONS as readonly string[]).includes(value.trim().toLowerCase())) {
    return value.trim().toLowerCase() as TopicOperation;
  }
  const shown = typeof value === 'string' ? `'${value.slice(0, 40)}'` : typeof value;
  throw new ValidationError(
    `Unknown operation ${value === undefined ? '(none given)' : shown}: use list, get, create, ensure, update or delete`,
    'VALIDATION',
  );
}

export function parsePartitions(value: unknown): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value.trim()) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new ValidationError('partitions must be a positive integer', 'VALIDATION');
  }
  return n;
}

function configValue(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new ValidationError(`The value of config '${name}' must be a string or a number`, 'VALIDATION');
}

/** `{"retention.ms": "3600000"}` or `[{name, value}]` → `[{name, value}]`. */
export function parseConfigs(value: unknown): TopicConfigEntry[] {
  if (Array.isArray(value)) {
    return value.map((item) => {
      if (!item || typeof item !== 'object' || typeof (item as { name?: unknown }).name !== 'string') {
        throw new ValidationError('configs given as an array must hold {name, value} objects', 'VALIDATION');
      }
      const {
        name,
        value: v,
        reset_to_default,
      } = item as {
        name: string;
        value?: unknown;
        reset_to_default?: unknown;
      };
      if (!name) throw new ValidationError('A config name must not be empty', 'VALIDATION');
      if (reset_to_default === true) return { name, reset_to_default: true };
      return { name, value: configValue(name, v) };
    });
  }
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return Object.entries(value as Record<string, unknown>).map(([name, v]) => ({
      name,
      value: configValue(name, v),
    }));
  }
  throw new ValidationError(
    'configs must be an object of name/value or an array of {name, value}',
    'VALIDATION',
  );
}

/** Builds and validates the request from the node's settings, `msg.operation`, `msg.topic` and `msg.payload`. */
export function resolveAdminRequest(
  settings: AdminNodeSettings,
  msg: { operation?: unknown; topic?: unknown; payload?: unknown },
): AdminRequest {
  const operation = parseOperation(settings.operation || msg.operation);
  const payload =
    msg.payload &&
    typeof msg.payload === 'object' &&
    !Array.isArray(msg.payload) &&
    !Buffer.isBuffer(msg.payload)
      ? (msg.payload as Record<string, unknown>)
      : {};
  const request: AdminRequest = { operation };

  if (operation === 'list') {
    const filter = settings.filter || payload.filter;
    if (filter !== undefined && filter !== '') {
      if (typeof filter !== 'string') throw new ValidationError('filter must be a string', 'VALIDATION');
      request.filter = filter;
    }
    return request;
  }

  const topicRaw = settings.topic || msg.topic;
  if (topicRaw === undefined || topicRaw === null || topicRaw === '') {
    throw new ValidationError(
      `Operation '${operation}' needs a topic (set it on the node or in msg.topic)`,
      'INVALID_TOPIC',
    );
  }
  request.topic = validateTopicName(topicRaw);

  if (operation === 'create' || operation === 'ensure' || operation === 'update') {
    const partitions = settings.partitions !== '' ? settings.partitions : payload.partitions;
    if (partitions !== undefined && partitions !== null && partitions !== '') {
      request.partitions = parsePartitions(partitions);
    }
    const configs = settings.configs !== undefined ? settings.configs : payload.configs;
    if (configs !== undefined && configs !== null) request.configs = parseConfigs(configs);
    if (operation === 'update' && request.partitions === undefined && !request.configs?.length) {
      throw new ValidationError('update needs partitions or configs', 'VALIDATION');
    }
  }
  return request;
}
