// SPDX-License-Identifier: Apache-2.0
/**
 * REST Producer v1 (POST /topics/{topic}/records) and v2 (POST /v2/topics/{topic}/records, cloud
 * deployment only): authentication and produce permission, key/header/envelope parsing, and storing.
 *
 * v1 on the memory backend is the benchmarks' hot path: it stays callback-based and synchronous
 * (no promise per record) and builds its success body by concatenation.
 */
import type { ServerResponse } from 'node:http';

import type { EventStreamsError } from '../../lib/server-kit';
import type { Principal } from '../auth';
import {
  authenticate,
  closeAfter,
  errorStatus,
  internalError,
  mediaType,
  parseQuery,
  readRequestBody,
  type RequestContext,
  send,
  type ServerDeps,
  TOO_LARGE_MESSAGE,
  v1Error,
  v2CodeFor,
  v2Error,
} from '../http';
import { jsonTooDeep, MAX_JSON_DEPTH, validTopicName } from '../limits';

import { actorOf } from '../registry';
import { type AvroPart, SchemaProduceError, serializeAvroPart, v1SchemaHeaders } from '../registry-produce';
import type { RecordToStore, StoredAt } from '../types';

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;

type BodyKind = 'json' | 'binary' | 'text' | 'xml';
/** v1 content types, bare and with `application/` for the vendor types (both forms are seen in the wild). */
const CONTENT_TYPES = new Map<string, BodyKind>([
  ['text/plain', 'text'],
  ['application/json', 'json'],
  ['application/octet-stream', 'binary'],
  ['text/xml', 'xml'],
  ['application/xml', 'xml'],
  ['vnd.ibm-event-streams.json.v1', 'json'],
  ['vnd.ibm-event-streams.binary.v1', 'binary'],
  ['vnd.ibm-event-streams.text.v1', 'text'],
  ['application/vnd.ibm-event-streams.json.v1', 'json'],
  ['application/vnd.ibm-event-streams.binary.v1', 'binary'],
  ['application/vnd.ibm-event-streams.text.v1', 'text'],
]);

function bodyKind(header: string | undefined): BodyKind | undefined {
  if (header === undefined) return undefined;
  return CONTENT_TYPES.get(header) ?? CONTENT_TYPES.get(mediaType(header)!);
}

export type Stored = StoredAt;
type FieldError = { error: string; code: string; field: string };

// ---------------------------------------------------------------- REST Producer v1

export function produceV1(ctx: RequestContext, topic: string): void {
  const { req, res, deps, query } = ctx;
  const principal = authenticate(ctx);
  if (typeof principal === 'string') {
    closeAfter(res, req);
    return v1Error(res, 401, 'Unauthorized');
  }
  if (!deps.auth.mayProduce(principal, topic)) {
    closeAfter(res, req);
    return v1Error(res, 403, `Not authorized to produce to topic '${topic}'`, { topic });
  }
  const kind = bodyKind(req.headers['content-type']);
  if (kind === undefined) {
    closeAfter(res, req);
    return v1Error(res, 415, 'Unsupported content type');
  }
  let key: Buffer | null = null;
  let headers: Array<[string, Buffer]> = [];
  let params: Map<string, string> | undefined;
  if (query) {
    params = parseQuery(query);
    const keyText = params.get('key');
    const keyType = params.get('keyType') ?? 'text';
    if (keyType !== 'text' && keyType !== 'binary') {
      closeAfter(res, req);
      return v1Error(res, 400, `Invalid keyType '${keyType}': must be text or binary`);
    }
    if (keyText) {
      if (keyType === 'binary') {
        if (!HEX_RE.test(keyText)) {
          closeAfter(res, req);
          return v1Error(res, 400, 'A binary key must be base16 (hex) encoded');
        }
        key = Buffer.from(keyText, 'hex');
      } else {
        key = Buffer.from(keyText, 'utf8');
      }
      if (key.length > deps.maxKeyBytes) {
        closeAfter(res, req);
        return v1Error(res, 400, TOO_LARGE_MESSAGE);
      }
    }
    const headerText = params.get('headers');
    if (headerText) {
      const parsed = parseV1Headers(headerText);
      if (typeof parsed === 'string') {
        closeAfter(res, req);
        return v1Error(res, 400, parsed);
      }
      headers = parsed;
    }
  }
  readRequestBody(
    ctx,
    deps.maxMessageBytes,
    () => v1Error(res, 400, TOO_LARGE_MESSAGE),
    (body) => {
      if (body.length === 0) {
        return deps.cloud
          ? v1Error(res, 400, 'The request body is empty')
          : v1Error(res, 411, 'The request did not contain any data');
      }
      if (kind === 'json') {
        try {
          JSON.parse(body.toString('utf8'));
        } catch {
          return v1Error(res, 400, 'Error parsing JSON message: invalid JSON');
        }
      }
      if (params !== undefined && deps.registry !== undefined && params.has('schemaname')) {
        const p = params;
        deps.registry
          .then((registry) => v1SchemaHeaders(registry, p, body, kind === 'json'))
          .then(
            (schemaHeaders) =>
              storeV1(deps, res, topic, {
                key,
                value: body,
                headers: [...headers, ...(schemaHeaders ?? [])],
              }),
            (err: unknown) => schemaError(deps, res, 'v1', err),
          );
        return;
      }
      storeV1(deps, res, topic, { key, value: body, headers });
    },
  );
}

function storeV1(deps: ServerDeps, res: ServerResponse, topic: string, record: RecordToStore): void {
  store(deps, res, topic, record, (err, r) => {
    if (err) return produceError(deps, res, 'v1', topic, err);
    const json =
      '{"metadata":{"topic":' +
      JSON.stringify(topic) +
      ',"timestamp":"' +
      r!.timestamp +
      '","partition":' +
      r!.partition +
      ',"offset":' +
      r!.offset +
      '}}';
    send(res, 200, json);
  });
}

/** `name:hexvalue,...`; returns an error message on failure. */
function parseV1Headers(text: string): Array<[string, Buffer]> | string {
  const out: Array<[string, Buffer]> = [];
  for (const item of text.split(',')) {
    if (!item) continue;
    const colon = item.indexOf(':');
    if (colon <= 0) return `Invalid header '${item}': expected name:hexvalue`;
    const value = item.slice(colon + 1);
    if (!HEX_RE.test(value))
      return `Invalid header '${item.slice(0, colon)}': the value must be base16 (hex) encoded`;
    out.push([item.slice(0, colon), Buffer.from(value, 'hex')]);
  }
  return out;
}

function recordBytes(record: RecordToStore): number {
  let bytes = record.value.length + (record.key?.length ?? 0);
  for (const [name, value] of record.headers) bytes += Buffer.byteLength(name) + value.length;
  return bytes;
}

/** Stores a record through the backend (synchronously where it can), with auto-creation when enabled. */
export function store(
  deps: ServerDeps,
  res: ServerResponse,
  topic: string,
  record: RecordToStore,
  done: (err: unknown, result?: Stored) => void,
): void {
  const finish = (err: unknown, result?: Stored): void => {
    if (deps.metrics && !err) deps.metrics.produced(topic, recordBytes(record));
    try {
      done(err, result);
    } catch (e) {
      internalError(deps, res, e);
    }
  };
  const autoCreate = deps.autoCreate && validTopicName(topic) ? deps.defaultPartitions : undefined;
  deps.backend.store(topic, record, autoCreate, finish);
}

function produceError(
  deps: ServerDeps,
  res: ServerResponse,
  shape: 'v1' | 'v2',
  topic: string,
  err: unknown,
): void {
  const status = errorStatus(err);
  if (status === 500)
    deps.log(`local endpoint: produce failed: ${err instanceof Error ? err.message : String(err)}`);
  if (shape === 'v1') {
    if (status === 404) {
      return v1Error(res, 404, `Topic '${topic}' does not exist`, { topic, kafka_error_code: 3 });
    }
    return v1Error(
      res,
      status,
      status === 500 ? 'Internal server error' : (err as EventStreamsError).message,
    );
  }
  if (status === 404) {
    return v2Error(res, 404, 'topic_not_found', `Topic '${topic}' does not exist`, {
      type: 'parameter',
      name: 'topic_name',
    });
  }
  const message = status === 500 ? 'Internal server error' : (err as EventStreamsError).message;
  v2Error(res, status, v2CodeFor(status), message, { type: 'field', name: 'value' });
}

// ---------------------------------------------------------------- REST Producer v2

/**
 * What every v2 produce route (records, and the gateway's batch extension) checks before it reads
 * the body, so that both refuse a request with the same status, error body and headers: a Bearer
 * credential (401), produce permission on the topic (403), a JSON body (415). Answers the refusal
 * itself and returns undefined; otherwise returns who is asking.
 */
export function admitV2Produce(ctx: RequestContext, topic: string): Principal | undefined {
  const { req, res, deps } = ctx;
  const principal = authenticate(ctx, true);
  if (typeof principal === 'string') {
    closeAfter(res, req);
    const message =
      principal === 'scheme'
        ? 'Only Bearer authentication (an IAM access token) is accepted'
        : principal === 'missing'
          ? 'Missing Authorization header'
          : 'Invalid or expired token';
    v2Error(res, 401, 'unauthorized', message, { type: 'header', name: 'Authorization' });
    return undefined;
  }
  if (!deps.auth.mayProduce(principal, topic)) {
    closeAfter(res, req);
    v2Error(res, 403, 'forbidden', `Not authorized to produce to topic '${topic}'`, {
      type: 'parameter',
      name: 'topic_name',
    });
    return undefined;
  }
  if (mediaType(req.headers['content-type']) !== 'application/json') {
    closeAfter(res, req);
    v2Error(res, 415, 'unsupported_media_type', 'Content-Type must be application/json', {
      type: 'header',
      name: 'Content-Type',
    });
    return undefined;
  }
  return principal;
}

/**
 * Reads the JSON body of a v2 produce route (records, batch), at most `limit` bytes (else
 * `tooLarge()`), and hands the parsed value to `next`. A body nested deeper than MAX_JSON_DEPTH
 * or not JSON is answered 400 invalid_json in the v2 shape; the depth is checked first because
 * such a value parses but overflows the stack when it is serialised again.
 */
export function readV2Json(
  ctx: RequestContext,
  limit: number,
  tooLarge: () => void,
  next: (value: unknown) => void,
): void {
  const { res } = ctx;
  readRequestBody(ctx, limit, tooLarge, (body) => {
    const text = body.toString('utf8');
    if (jsonTooDeep(text)) {
      return v2Error(
        res,
        400,
        'invalid_json',
        `The request body nests deeper than ${MAX_JSON_DEPTH} levels`,
        {
          type: 'field',
          name: 'body',
        },
      );
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return v2Error(res, 400, 'invalid_json', 'The request body is not valid JSON', {
        type: 'field',
        name: 'body',
      });
    }
    next(value);
  });
}

export function produceV2(ctx: RequestContext, topic: string): void {
  const { res, deps, query } = ctx;
  const principal = admitV2Produce(ctx, topic);
  if (principal === undefined) return;
  const params = parseQuery(query);
  const confluent = params.get('serializer') === 'confluent';
  readV2Json(
    ctx,
    deps.maxMessageBytes,
    () =>
      v2Error(res, 400, 'request_body_too_large', 'The request body is larger than 64 KB', {
        type: 'field',
        name: 'value',
      }),
    (envelope) => {
      const parsed = parseEnvelope(envelope, confluent, deps.maxKeyBytes);
      if ('error' in parsed) {
        return v2Error(res, 400, parsed.code, parsed.error, { type: 'field', name: parsed.field });
      }
      if (parsed.avroValue !== undefined || parsed.avroKey !== undefined) {
        if (deps.registry === undefined) {
          return v2Error(res, 400, 'invalid_value', 'This endpoint has no schema registry', {
            type: 'field',
            name: 'type',
          });
        }
        const { avroValue, avroKey, ...record } = parsed;
        const actor = actorOf(principal);
        deps.registry
          .then((registry) =>
            Promise.all([
              avroValue && serializeAvroPart(registry, topic, avroValue, false, actor),
              avroKey && serializeAvroPart(registry, topic, avroKey, true, actor),
            ]),
          )
          .then(
            ([value, key]) =>
              storeV2(ctx, topic, { ...record, value: value ?? record.value, key: key ?? record.key }),
            (err: unknown) => schemaError(deps, res, 'v2', err),
          );
        return;
      }
      storeV2(ctx, topic, parsed);
    },
  );
}

/** v2 schema-conforming produce failures: the documented error shapes with our codes. */
function schemaError(deps: ServerDeps, res: ServerResponse, shape: 'v1' | 'v2', err: unknown): void {
  if (!(err instanceof SchemaProduceError)) return internalError(deps, res, err);
  const retry = err.retryAfter !== undefined ? { 'retry-after': String(err.retryAfter) } : undefined;
  if (shape === 'v2') {
    return v2Error(res, err.status, err.code, err.message, { type: 'field', name: err.field }, retry);
  }
  // On-prem v1.1 error body: top-level copies plus the schema name.
  const inner: Record<string, unknown> = { error_code: err.status, message: err.message };
  if (err.schema !== undefined) inner.schema = err.schema;
  send(
    res,
    err.status,
    JSON.stringify({ error_code: err.status, message: err.message, error: inner }),
    retry,
  );
}

function storeV2(ctx: RequestContext, topic: string, record: RecordToStore): void {
  const { res, deps } = ctx;
  store(deps, res, topic, record, (err, r) => {
    if (err) return produceError(deps, res, 'v2', topic, err);
    // The real v2 success body is undocumented (GAP); this shape is our choice.
    send(
      res,
      200,
      '{"topic":' +
        JSON.stringify(topic) +
        ',"partition":' +
        r!.partition +
        ',"offset":' +
        r!.offset +
        ',"timestamp":' +
        r!.timestamp +
        '}',
    );
  });
}

export type ParsedEnvelope = RecordToStore & { avroValue?: AvroPart; avroKey?: AvroPart };

export function parseEnvelope(
  envelope: unknown,
  confluent: boolean,
  maxKeyBytes: number,
): ParsedEnvelope | FieldError {
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) {
    return { error: 'The request body must be a JSON object', code: 'invalid_type', field: 'body' };
  }
  const env = envelope as Record<string, unknown>;
  if (env.value === undefined || env.value === null) {
    return { error: "'value' field is required", code: 'invalid_type', field: 'value' };
  }
  const value = parseTypedData(env.value, 'value', confluent);
  if ('error' in value) return value;
  let key: Buffer | null = null;
  let avroKey: AvroPart | undefined;
  if (env.key !== undefined && env.key !== null) {
    const k = parseTypedData(env.key, 'key', confluent);
    if ('error' in k) return k;
    avroKey = k.avro;
    if (k.data.length > maxKeyBytes) {
      return {
        error: `The key is larger than ${maxKeyBytes} bytes`,
        code: 'invalid_value',
        field: 'key',
      };
    }
    key = k.data;
  }
  const headers: Array<[string, Buffer]> = [];
  if (env.headers !== undefined && env.headers !== null) {
    if (!Array.isArray(env.headers)) {
      return {
        error: "'headers' must be an array of {name, value}",
        code: 'invalid_type',
        field: 'headers',
      };
    }
    for (const h of env.headers as unknown[]) {
      const item = h as { name?: unknown; value?: unknown } | null;
      if (typeof item !== 'object' || item === null || typeof item.name !== 'string' || !item.name) {
        return { error: "Each header needs a string 'name'", code: 'invalid_type', field: 'name' };
      }
      const v = item.value ?? '';
      if (typeof v !== 'string' || !BASE64_RE.test(v)) {
        return {
          error: `Header '${item.name}' value must be base64`,
          code: 'invalid_value',
          field: 'value',
        };
      }
      headers.push([item.name, Buffer.from(v, 'base64')]);
    }
  }
  const out: ParsedEnvelope = { key, value: value.data, headers };
  if (value.avro !== undefined) out.avroValue = value.avro;
  if (avroKey !== undefined) out.avroKey = avroKey;
  return out;
}

/** One `{type, data}` object of the v2 envelope. */
function parseTypedData(
  raw: unknown,
  field: 'key' | 'value',
  confluent: boolean,
): { data: Buffer; avro?: AvroPart } | FieldError {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { error: `'${field}' must be an object with 'type' and 'data'`, code: 'invalid_type', field };
  }
  const { type, data } = raw as { type?: unknown; data?: unknown };
  if (type === undefined || type === null) {
    return { error: `'type' field in '${field}' object is required`, code: 'invalid_type', field: 'type' };
  }
  const t = typeof type === 'string' ? type.toLowerCase() : '';
  if (data === undefined || data === null) {
    return { error: `'data' field in '${field}' object is required`, code: 'invalid_type', field: 'data' };
  }
  switch (t) {
    case 'text':
      if (typeof data !== 'string')
        return { error: `'data' of a text ${field} must be a string`, code: 'invalid_type', field: 'data' };
      return { data: Buffer.from(data, 'utf8') };
    case 'binary':
      if (typeof data !== 'string' || !BASE64_RE.test(data)) {
        return {
          error: `'data' of a binary ${field} must be base64`,
          code: 'invalid_value',
          field: 'data',
        };
      }
      return { data: Buffer.from(data, 'base64') };
    case 'json':
      // Documented as a string holding JSON; a JSON value given directly is accepted too (lenient).
      if (typeof data === 'string') {
        try {
          JSON.parse(data);
        } catch {
          return {
            error: `'data' of a json ${field} is not valid JSON`,
            code: 'invalid_value',
            field: 'data',
          };
        }
        return { data: Buffer.from(data, 'utf8') };
      }
      return { data: Buffer.from(JSON.stringify(data), 'utf8') };
    case 'avro':
      if (!confluent) {
        return {
          error: "Avro data needs the query parameter 'serializer=confluent'",
          code: 'invalid_value',
          field: 'type',
        };
      }
      // Serialised later (registry-produce.ts): registered, validated, Confluent wire format.
      return { data: Buffer.alloc(0), avro: raw as AvroPart };
    default:
      return {
        error: `'type' of '${field}' must be one of text, binary, json, avro`,
        code: 'invalid_type',
        field: 'type',
      };
  }
}
