// SPDX-License-Identifier: Apache-2.0
/**
 * Every kafkajs failure the Kafka transport can meet maps to a code and disposition of the one
 * error model. The errors are kafkajs's own classes built from the broker's error codes (what
 * kafkajs throws on those responses); the real-broker cases (SASL, TLS, unknown topic, too large,
 * unreachable) are in test/kafka/kafka-sender.test.ts.
 */
import assert from 'node:assert/strict';

import * as kafkajsTyped from 'kafkajs';

import { dispositionOf, fromKafka, isRecordRejection } from '../../lib/error-model';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as {
  createErrorFromCode: (code: number) => Error;
};
// kafkajs's typings lag its classes (constructor arguments, KafkaJSNoBrokerAvailableError).
const kafkajs = kafkajsTyped as unknown as Record<string, new (...args: unknown[]) => Error>;
const protocol = (code: number): Error => new kafkajs.KafkaJSProtocolError(createErrorFromCode(code));

describe('error model: kafkajs errors (Kafka transport)', function () {
  const cases: Array<[string, () => Error, string, string]> = [
    ['SASL authentication failed (58)', () => protocol(58), 'AUTHENTICATION_FAILED', 'fail'],
    [
      'SASL handshake refused',
      () => new kafkajs.KafkaJSSASLAuthenticationError('bad'),
      'AUTHENTICATION_FAILED',
      'fail',
    ],
    ['topic authorization (29)', () => protocol(29), 'AUTHORIZATION_FAILED', 'fail'],
    ['cluster authorization (31)', () => protocol(31), 'AUTHORIZATION_FAILED', 'fail'],
    ['unknown topic (3)', () => protocol(3), 'TOPIC_NOT_FOUND', 'fail'],
    ['record too large (10)', () => protocol(10), 'PAYLOAD_TOO_LARGE', 'fail'],
    ['invalid record (87)', () => protocol(87), 'BAD_REQUEST', 'fail'],
    ['not enough replicas (19)', () => protocol(19), 'UNAVAILABLE', 'hold'],
    ['not enough replicas after append (20)', () => protocol(20), 'UNAVAILABLE', 'hold'],
    // Produce quotas throttle by delaying answers (throttle_time_ms), not by an error; kafkajs 2.2.4
    // reports code 89 (THROTTLING_QUOTA_EXCEEDED, admin quotas) as an unknown code, so it cannot be mapped.
    [
      'broker unreachable',
      () => new kafkajs.KafkaJSConnectionError('refused', { code: 'ECONNREFUSED' } as never),
      'CONNECTION_FAILED',
      'retry',
    ],
    [
      'no broker available',
      () => new kafkajs.KafkaJSNoBrokerAvailableError('none'),
      'CONNECTION_FAILED',
      'retry',
    ],
    ['broker not found', () => new kafkajs.KafkaJSBrokerNotFound('gone'), 'CONNECTION_FAILED', 'retry'],
    ['request timeout', () => new kafkajs.KafkaJSRequestTimeoutError('slow'), 'TIMEOUT', 'retry'],
    [
      'retries exhausted around a connection error',
      () =>
        new kafkajs.KafkaJSNumberOfRetriesExceeded(
          new kafkajs.KafkaJSConnectionError('x', { code: 'ECONNRESET' } as never),
          { retryCount: 1, retryTime: 100 },
        ),
      'CONNECTION_FAILED',
      'retry',
    ],
  ];
  for (const [what, make, code, disposition] of cases) {
    it(`${what} → ${code} (${disposition})`, function () {
      const e = fromKafka(make(), { topic: 't', secrets: [] });
      assert.equal(e.code, code);
      assert.equal(dispositionOf(e), disposition);
    });
  }
  it('only record problems count as record rejections (the sender isolates them in a batch)', function () {
    assert.ok(isRecordRejection(fromKafka(protocol(10))));
    assert.ok(isRecordRejection(fromKafka(protocol(87))));
    assert.ok(!isRecordRejection(fromKafka(protocol(19))));
    assert.ok(!isRecordRejection(fromKafka(protocol(29))));
  });
});
