// SPDX-License-Identifier: Apache-2.0
/**
 * SASL against the local broker's SASL_PLAINTEXT listener: PLAIN (as IBM Cloud uses it) and SCRAM
 * (as on-prem Event Streams uses it) must authenticate, and a wrong password must come back as
 * AuthenticationError without the password anywhere in the error.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { isEventStreamsError, type EventStreamsError } from '../../lib/errors';
import { KafkaTopicAdmin } from '../../lib/kafka-admin';
import { KafkaBackend } from '../../gateway/kafka-backend';
import { LOCAL_SASL_USER } from '../../scripts/kafka';
import { kafkaOrSkip, readAll, uniqueTopic, type KafkaHandle } from '../support/kafka';

describe('Kafka SASL (real Kafka)', function () {
  let kafka: KafkaHandle;
  let saslBrokers: string[];

  before(async function () {
    kafka = await kafkaOrSkip(this);
    if (!kafka.instance.saslBrokers) {
      console.log(
        '      SASL tests skipped: KAFKA_BROKERS is an external cluster without the local SASL listener',
      );
      this.skip();
    }
    saslBrokers = kafka.instance.saslBrokers!;
  });

  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
    it(`${mechanism}: admin and backend work with the right password, AuthenticationError with a wrong one`, async function () {
      this.timeout(30_000);
      const sasl = { mechanism, ...LOCAL_SASL_USER };
      const admin = new KafkaTopicAdmin({ brokers: saslBrokers, sasl });
      const backend = new KafkaBackend({ brokers: saslBrokers, sasl });
      const topic = uniqueTopic(`sasl-${mechanism}`);
      try {
        await admin.createTopic({ name: topic, partitions: 1 });
        await backend.connect();
        const r = await backend.produce(topic, {
          key: Buffer.from('k'),
          value: Buffer.from('over sasl'),
          headers: [],
        });
        assert.equal(r.offset, 0);
        const [read] = await readAll(kafka.brokers, topic, 1);
        assert.deepEqual(read!.value, Buffer.from('over sasl'));
        await admin.deleteTopic(topic);
      } finally {
        await backend.close();
        await admin.close();
      }

      const password = `wrong-${mechanism}-password`;
      const badAdmin = new KafkaTopicAdmin({ brokers: saslBrokers, sasl: { ...sasl, password } });
      const badBackend = new KafkaBackend({ brokers: saslBrokers, sasl: { ...sasl, password } });
      try {
        for (const attempt of [() => badAdmin.listTopics(), () => badBackend.connect()]) {
          const err = await attempt().then(
            () => assert.fail('a wrong password was accepted'),
            (e: unknown) => e as EventStreamsError,
          );
          assert.ok(isEventStreamsError(err));
          assert.equal(err.code, 'AUTHENTICATION_FAILED', err.message);
          assert.equal(err.retriable, false);
          for (const text of [err.message, JSON.stringify(err.toJSON()), inspect(err, { depth: 10 })]) {
            assert.ok(!text.includes(password), 'the password leaked into the error');
          }
        }
      } finally {
        await badBackend.close();
        await badAdmin.close();
      }
    });
  }
});
