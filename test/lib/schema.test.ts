// SPDX-License-Identifier: Apache-2.0
import assert from 'node:assert/strict';

import { encodeV1, encodeV2 } from '../../lib/encode';
import { fromHttp } from '../../lib/error-model';
import { ValidationError } from '../../lib/errors';
import {
  fromAvroJson,
  incompatibility,
  normaliseFormat,
  parseSchema,
  parseStrategy,
  subjectFor,
} from '../../lib/schema';

const READING = {
  type: 'record',
  name: 'Reading',
  namespace: 'iot',
  fields: [
    { name: 'sensor', type: 'string' },
    { name: 'celsius', type: 'double' },
    { name: 'where', type: { type: 'record', name: 'Where', fields: [{ name: 'room', type: 'string' }] } },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
};
const GOOD = { sensor: 's1', celsius: 21.5, where: { room: 'lab' }, note: 'ok' };

function fails(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ValidationError');
}

describe('Avro schemas (lib/schema)', () => {
  it("rejects invalid schemas with INVALID_SCHEMA and avsc's reason", () => {
    assert.equal(fails(() => parseSchema('{"type":"record","name":"X"}')).code, 'INVALID_SCHEMA');
    assert.equal(fails(() => parseSchema('{not json')).code, 'INVALID_SCHEMA');
    assert.equal(fails(() => parseSchema(42)).code, 'INVALID_SCHEMA');
    assert.equal(parseSchema('string').typeName, 'string');
  });

  it('names the mismatching field path, and sends nothing (v2)', () => {
    const err = fails(() =>
      encodeV2('', 'readings', {
        value: { ...GOOD, where: { room: 7 } },
        valueSchema: { format: 'avro', schema: READING },
      }),
    );
    assert.equal(err.code, 'SCHEMA_MISMATCH');
    assert.match(err.message, /field "where\.room" must be string, got number 7/);
    assert.match(err.message, /"iot\.Reading"/);
  });

  it('v2: sends the documented envelope with serializer=confluent and Avro JSON data', () => {
    const req = encodeV2('', 'readings', {
      value: GOOD,
      key: 'k1',
      valueSchema: { format: 'avro', schema: JSON.stringify(READING), strategy: 'topic_record' },
    });
    assert.equal(req.path, '/v2/topics/readings/records?serializer=confluent');
    const env = JSON.parse(req.body as string);
    assert.deepEqual(env.key, { type: 'text', data: 'k1' });
    assert.equal(env.value.type, 'avro');
    assert.equal(env.value.schema_name_strategy, 'topic_record');
    assert.deepEqual(JSON.parse(env.value.schema), READING);
    // Avro JSON encoding wraps the union branch.
    assert.deepEqual(JSON.parse(env.value.data).note, { string: 'ok' });
    assert.deepEqual(
      JSON.parse(JSON.stringify(fromAvroJson(parseSchema(env.value.schema), env.value.data))),
      GOOD,
    );
  });

  it('v2: an Avro key, and JSON text payloads are parsed before checking', () => {
    const req = encodeV2('', 't', {
      value: JSON.stringify(GOOD),
      key: 'abc',
      valueSchema: { format: 'avro', schema: READING },
      keySchema: { format: 'avro', schema: '"string"' },
    });
    const env = JSON.parse(req.body as string);
    assert.deepEqual(env.key, { type: 'avro', data: '"abc"', schema: '"string"' });
    assert.equal(env.value.type, 'avro');
  });

  it('v2 without the schema text says the client must fetch it', () => {
    const err = fails(() => encodeV2('', 't', { value: GOOD, valueSchema: { format: 'avro', id: 'x' } }));
    assert.equal(err.code, 'INVALID_SCHEMA');
  });

  it('v1: schemaname/schemaversion/schemavalidation in the query, Avro JSON as application/json', () => {
    const req = encodeV1('', 'readings', {
      value: GOOD,
      key: 'k',
      valueSchema: {
        format: 'avro',
        id: 'readings-value',
        version: 2,
        schema: READING,
        serverValidation: true,
      },
    });
    assert.equal(
      req.path,
      '/topics/readings/records?key=k&schemaname=readings-value&schemaversion=2&schemavalidation=true',
    );
    assert.equal(req.contentType, 'application/json');
    assert.equal(JSON.parse(req.body as string).note.string, 'ok');
    assert.equal(
      fails(() =>
        encodeV1('', 't', {
          value: { sensor: 1 },
          valueSchema: { format: 'avro', id: 'a', schema: READING },
        }),
      ).code,
      'SCHEMA_MISMATCH',
    );
    assert.equal(
      fails(() => encodeV1('', 't', { value: GOOD, valueSchema: { format: 'avro', schema: READING } })).code,
      'INVALID_SCHEMA',
    );
    assert.equal(
      fails(() =>
        encodeV1('', 't', {
          value: GOOD,
          key: 'x',
          valueSchema: { format: 'avro', id: 'a' },
          keySchema: { format: 'avro', schema: '"string"' },
        }),
      ).code,
      'INVALID_SCHEMA',
    );
  });

  it('a v1 404 naming a schema is SCHEMA_NOT_FOUND, not a missing topic', () => {
    const body = JSON.stringify({
      error_code: 404,
      message: 'Schema not found',
      error: { error_code: 404, message: 'Schema not found', schema: 'x' },
    });
    assert.equal(fromHttp(404, {}, body, { operation: 'Produce', topic: 't' }).code, 'SCHEMA_NOT_FOUND');
    assert.equal(
      fromHttp(404, {}, '{"error":{"error_code":404}}', { operation: 'Produce', topic: 't' }).code,
      'TOPIC_NOT_FOUND',
    );
  });

  it('subject names per naming strategy', () => {
    const t = parseSchema(READING);
    assert.equal(subjectFor('topic', 'readings', t, false), 'readings-value');
    assert.equal(subjectFor('record', 'readings', t, true), 'iot.Reading-key');
    assert.equal(subjectFor('topic_record', 'readings', t, false), 'readings-iot.Reading-value');
    assert.equal(fails(() => subjectFor('record', 'x', parseSchema('"long"'), false)).code, 'INVALID_SCHEMA');
    assert.equal(parseStrategy('TopicRecord'), 'topic_record');
    assert.equal(parseStrategy('Topic'), 'topic');
  });

  it('normalises msg-style format options and refuses bad ones', () => {
    assert.equal(normaliseFormat('auto'), undefined);
    assert.deepEqual(normaliseFormat({ format: 'avro', subject: 's', version: '3' }), {
      format: 'avro',
      id: 's',
      version: 3,
    });
    assert.equal(fails(() => normaliseFormat({ format: 'avro' })).code, 'INVALID_SCHEMA');
    assert.equal(
      fails(() => normaliseFormat({ format: 'avro', id: 's', version: 0 })).code,
      'INVALID_SCHEMA',
    );
    assert.equal(fails(() => normaliseFormat({ format: 'protobuf', id: 's' })).code, 'INVALID_SCHEMA');
  });

  describe('compatibility rules', () => {
    const v1 = parseSchema({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'int' }] });
    const addOptional = parseSchema({
      type: 'record',
      name: 'R',
      fields: [
        { name: 'a', type: 'int' },
        { name: 'b', type: 'string', default: '' },
      ],
    });
    const addRequired = parseSchema({
      type: 'record',
      name: 'R',
      fields: [
        { name: 'a', type: 'int' },
        { name: 'b', type: 'string' },
      ],
    });
    const dropA = parseSchema({ type: 'record', name: 'R', fields: [] });

    it('NONE accepts anything', () => assert.equal(incompatibility('NONE', dropA, [addRequired]), undefined));
    it('BACKWARD: new reads old', () => {
      assert.equal(incompatibility('BACKWARD', addOptional, [v1]), undefined);
      assert.equal(incompatibility('BACKWARD', dropA, [v1]), undefined);
      assert.match(incompatibility('BACKWARD', addRequired, [v1]) ?? '', /cannot read/);
    });
    it('FORWARD: old reads new', () => {
      assert.equal(incompatibility('FORWARD', addRequired, [v1]), undefined);
      assert.match(incompatibility('FORWARD', dropA, [v1]) ?? '', /existing version cannot read/);
    });
    it('FULL: both ways', () => {
      assert.equal(incompatibility('FULL', addOptional, [v1]), undefined);
      assert.ok(incompatibility('FULL', addRequired, [v1]));
      assert.ok(incompatibility('FULL', dropA, [v1]));
    });
    it('*_TRANSITIVE checks every version, plain rules only the latest', () => {
      assert.equal(incompatibility('BACKWARD', addRequired, [v1, addRequired]), undefined);
      assert.ok(incompatibility('BACKWARD_TRANSITIVE', addRequired, [v1, addRequired]));
    });
  });
});
