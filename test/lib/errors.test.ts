import assert from 'node:assert/strict';
import { inspect } from 'node:util';

import {
  AuthenticationError,
  EventStreamsError,
  isEventStreamsError,
  RateLimitedError,
  redact,
  RetriesExhaustedError,
  UnavailableError,
  ValidationError,
} from '../../lib/errors';

describe('errors', () => {
  it('gives every error a stable name, code and retriable flag', () => {
    const v = new ValidationError('bad topic', 'INVALID_TOPIC');
    assert.equal(v.name, 'ValidationError');
    assert.equal(v.code, 'INVALID_TOPIC');
    assert.equal(v.retriable, false);
    assert.ok(v instanceof EventStreamsError);
    const r = new RateLimitedError('slow down', { statusCode: 429, retryAfterMs: 1000 });
    assert.equal(r.retriable, true);
    assert.equal(r.retryAfterMs, 1000);
    assert.ok(isEventStreamsError(r));
    // Recognised by its brand, never by shape: a JSON copy or a foreign error with a code is not ours.
    assert.equal(isEventStreamsError(JSON.parse(JSON.stringify(r))), false);
    const foreign = Object.assign(new Error('connect ECONNREFUSED'), {
      name: 'KafkaJSConnectionError',
      code: 'ECONNREFUSED',
      retriable: true,
    });
    assert.equal(isEventStreamsError(foreign), false);
  });

  it('keeps the last error as native cause when retries run out', () => {
    const last = new UnavailableError('brokers down', { statusCode: 503, topic: 't' });
    const e = new RetriesExhaustedError('gave up after 3 attempts', last, 3);
    assert.equal(e.cause, last);
    assert.equal(e.attempts, 3);
    assert.equal(e.statusCode, 503);
    assert.equal(e.retriable, false);
  });

  it('redacts credentials that a server echoes back, in the message and in inspect()', () => {
    const secret = 'sEcReT-ApIkEy-1234567890';
    const e = new AuthenticationError('Unauthorized', {
      statusCode: 401,
      serverMessage: `bad header Authorization: Bearer ${secret} and apikey=${secret}`,
    });
    assert.ok(!inspect(e, { depth: 10 }).includes(secret));
    assert.ok(!JSON.stringify(e).includes(secret));
    assert.equal(redact(`token ${secret}`, [secret]), 'token [redacted]');
    assert.ok(!redact('Basic dG9rZW46c2VjcmV0LWtleQ==').includes('dG9rZW46'));
  });

  it('leaves ordinary words after Bearer and Basic readable (issue 27)', () => {
    assert.equal(
      redact('Only Bearer authentication (an IAM access token) is accepted'),
      'Only Bearer authentication (an IAM access token) is accepted',
    );
    assert.equal(
      redact('Basic authentication is not accepted here'),
      'Basic authentication is not accepted here',
    );
    assert.equal(redact('Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl'), 'Bearer [redacted]');
    assert.equal(redact('Bearer abcdefghijklmnopqrstuvwxyzABCDEF'), 'Bearer [redacted]');
  });
});
