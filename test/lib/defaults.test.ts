// SPDX-License-Identifier: Apache-2.0
/** The one table of defaults and limits: the README shows it, and the runtime reads it. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { CORE_DEFAULTS, ENDPOINT_FIELD_DEFAULTS, ms } from '../../lib/defaults';
import { DEFAULT_LIMITS } from '../../lib/encode';
import {
  DEFAULT_MAX_KEY_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_URI_BYTES,
} from '../../gateway/limits';
import { DEFAULT_RETRY } from '../../lib/retry';
import { MAX_CLOSE_TIMEOUT_MS, normalizeEndpointOptions } from '../../nodes/shared/endpoint-config';
import { README, readmeDefaultsTable, renderDefaultsTable } from '../../scripts/defaults-table';

describe('defaults and limits (lib/defaults.ts)', () => {
  it("the README's table is the one rendered from lib/defaults.ts", () => {
    const shown = readmeDefaultsTable(readFileSync(README, 'utf8'));
    assert.ok(shown !== undefined, 'README.md has the defaults-table markers');
    assert.equal(
      shown,
      renderDefaultsTable(),
      'README.md differs from lib/defaults.ts: run `node dist/scripts/defaults-table.js --write`',
    );
  });

  it('an empty endpoint config gets exactly the table values', () => {
    const F = ENDPOINT_FIELD_DEFAULTS;
    const o = normalizeEndpointOptions({});
    assert.deepEqual(
      {
        connections: o.connections,
        maxConnections: o.maxConnections,
        requestTimeoutMs: o.requestTimeoutMs,
        retries: o.retries,
        retryDelayMs: o.retryDelayMs,
        maxRetryTimeMs: o.maxRetryTimeMs,
        queueMessages: o.queueMessages,
        queueBytes: o.queueBytes,
        rateLimit: o.rateLimit,
        maxKeyBytes: o.maxKeyBytes,
        maxValueBytes: o.maxValueBytes,
        closeTimeoutMs: o.closeTimeoutMs,
        outboxMaxBytes: o.outboxMaxBytes,
      },
      {
        connections: F.connections.value,
        maxConnections: F.maxConnections.value,
        requestTimeoutMs: ms(F.requestTimeout),
        retries: F.retries.value,
        retryDelayMs: ms(F.retryDelay),
        maxRetryTimeMs: ms(F.maxRetryTime),
        queueMessages: F.queueMessages.value,
        queueBytes: F.queueBytes.value,
        rateLimit: F.rateLimit.value,
        maxKeyBytes: F.maxKeyBytes.value,
        maxValueBytes: F.maxValueBytes.value,
        closeTimeoutMs: ms(F.closeTimeout),
        outboxMaxBytes: F.outboxMaxBytes.value,
      },
    );
    assert.equal(MAX_CLOSE_TIMEOUT_MS, ms(CORE_DEFAULTS.maxCloseTimeout));
  });

  it('the core client, the retry policy and the local endpoint read the same values', () => {
    assert.deepEqual(
      { ...DEFAULT_LIMITS },
      {
        maxKeyBytes: ENDPOINT_FIELD_DEFAULTS.maxKeyBytes.value,
        maxValueBytes: ENDPOINT_FIELD_DEFAULTS.maxValueBytes.value,
        maxUriBytes: CORE_DEFAULTS.maxUriBytes.value,
      },
    );
    assert.deepEqual(
      [DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_URI_BYTES],
      [DEFAULT_LIMITS.maxKeyBytes, DEFAULT_LIMITS.maxValueBytes, DEFAULT_LIMITS.maxUriBytes],
    );
    assert.deepEqual(
      { ...DEFAULT_RETRY },
      {
        retries: ENDPOINT_FIELD_DEFAULTS.retries.value,
        initialDelayMs: ms(ENDPOINT_FIELD_DEFAULTS.retryDelay),
        maxDelayMs: ms(CORE_DEFAULTS.maxRetryDelay),
        maxRetryTimeMs: ms(ENDPOINT_FIELD_DEFAULTS.maxRetryTime),
      },
    );
  });

  it('every value has a reason and sits at or above its own minimum', () => {
    for (const [name, s] of Object.entries({ ...ENDPOINT_FIELD_DEFAULTS, ...CORE_DEFAULTS })) {
      assert.ok(s.why.length > 20, `${name} says why`);
      assert.ok(s.value >= s.min, `${name} default is accepted by its own minimum`);
      if (s.integer) assert.ok(Number.isInteger(s.value), `${name} is an integer`);
    }
  });

  it("the endpoint's help shows the same defaults", () => {
    const help = readFileSync(
      path.join(__dirname, '..', '..', '..', 'nodes', 'locales', 'en-US', 'event-streams-endpoint.html'),
      'utf8',
    );
    const F = ENDPOINT_FIELD_DEFAULTS;
    const MiB = 1024 * 1024;
    const shown = (label: string, value: string): string =>
      `${label} <span class="property-type">${value}</span>`;
    for (const expected of [
      shown('Connections', `${F.connections.value}`),
      shown('Maximum connections', `${F.maxConnections.value}`),
      shown('Request timeout', `${F.requestTimeout.value} s`),
      shown('Retries', `${F.retries.value}`),
      shown('Max retry time', `${F.maxRetryTime.value} s`),
      shown('Queue limit', `${F.queueMessages.value} messages / ${F.queueBytes.value / MiB} MiB`),
      shown('Rate limit', `${F.rateLimit.value}`),
      shown('Max key / value size', `${F.maxKeyBytes.value} / ${F.maxValueBytes.value}`),
      shown('Shutdown wait', `${F.closeTimeout.value} s`),
      `at most ${CORE_DEFAULTS.maxCloseTimeout.value} s`,
    ]) {
      assert.ok(help.includes(expected), `the help shows "${expected}" (lib/defaults.ts)`);
    }
  });
});
