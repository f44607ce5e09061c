// SPDX-License-Identifier: Apache-2.0
import { strict as assert } from 'node:assert';

import {
  RULES,
  describeFailure,
  dispositionOf,
  failureReport,
  fromHttp,
  isRecordRejection,
  statusKeyOf,
  toEventStreamsError,
} from '../../lib/error-model';
import {
  RateLimitedError,
  RetriesExhaustedError,
  UnavailableError,
  isEventStreamsError,
} from '../../lib/errors';

describe('error model', () => {
  it('decides code and disposition of every HTTP status in one place', () => {
    const cases: Array<[number, string, string]> = [
      [400, 'BAD_REQUEST', 'fail'],
      [401, 'AUTHENTICATION_FAILED', 'fail'],
      [403, 'AUTHORIZATION_FAILED', 'fail'],
      [404, 'TOPIC_NOT_FOUND', 'fail'],
      [408, 'TIMEOUT', 'retry'],
      [413, 'PAYLOAD_TOO_LARGE', 'fail'],
      [429, 'RATE_LIMITED', 'hold'],
      [500, 'SERVER_ERROR', 'retry'],
      [503, 'UNAVAILABLE', 'hold'],
      [418, 'UNEXPECTED_RESPONSE', 'fail'],
    ];
    for (const [status, code, disposition] of cases) {
      const err = fromHttp(status, { 'retry-after': '2' }, '{"error_code":1,"message":"nope"}', {
        operation: 'Produce to topic "t"',
        topic: 't',
      });
      assert.equal(err.code, code, `HTTP ${status}`);
      assert.equal(dispositionOf(err), disposition, `HTTP ${status}`);
      assert.equal(err.retriable, disposition !== 'fail');
    }
  });

  it('maps a foreign error with a code (kafkajs KafkaJSConnectionError) instead of passing it through', () => {
    const foreign = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9'), {
      name: 'KafkaJSConnectionError',
      code: 'ECONNREFUSED',
      retriable: true,
    });
    const mapped = toEventStreamsError(foreign);
    assert.ok(isEventStreamsError(mapped));
    assert.equal(mapped.code, 'CONNECTION_FAILED');
    assert.equal(dispositionOf(foreign), 'retry');
    const socket = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    assert.equal(toEventStreamsError(socket, 'https://h').code, 'CONNECTION_FAILED');
  });

  it('reports code, HTTP status, server message and attempts for a flow, and a readable line', () => {
    const last = new RateLimitedError(
      'Produce to topic "t" failed: rate limit exceeded (HTTP 429): slow down',
      {
        statusCode: 429,
        serverMessage: 'slow down',
        topic: 't',
      },
    );
    const err = new RetriesExhaustedError(`Gave up after 4 attempts: ${last.message}`, last, 4);
    assert.deepEqual(failureReport(err), {
      code: 'RETRIES_EXHAUSTED',
      cause: 'RATE_LIMITED',
      disposition: 'fail',
      statusCode: 429,
      serverMessage: 'slow down',
      attempts: 4,
      topic: 't',
    });
    assert.match(describeFailure(err), /^RETRIES_EXHAUSTED \(RATE_LIMITED\): Gave up after 4 attempts/);
    assert.equal(statusKeyOf(err), 'throttled');
  });

  it('tells record rejections (never resent by the outbox) from endpoint trouble', () => {
    assert.equal(isRecordRejection(fromHttp(400, {}, '', { operation: 'x' })), true);
    assert.equal(isRecordRejection(fromHttp(401, {}, '', { operation: 'x' })), false);
    assert.equal(isRecordRejection(new UnavailableError('down')), false);
  });

  it('has a rule with a status key for every code', () => {
    for (const [code, rule] of Object.entries(RULES)) {
      assert.match(rule.status, /^[a-z-]+$/, code);
      assert.ok(['retry', 'hold', 'fail'].includes(rule.disposition), code);
    }
  });
});
