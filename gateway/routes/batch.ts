// SPDX-License-Identifier: Apache-2.0
/**
 * A gateway extension, not part of IBM's API: `POST /v2/topics/{topic}/batch`, a JSON array of v2
 * envelopes (the body of `POST /v2/topics/{topic}/records`, up to {@link MAX_BATCH_RECORDS}), each
 * written as its own record, answered with one result per record in the array's order.
 *
 * Why: one HTTP request per record caps a gateway at what one request costs (parsing, TLS, auth),
 * and the Kafka backend can only batch what arrives together. Every record of a batch is handed to
 * the backend in the same event-loop turn, so they leave in as few Kafka produce requests as the
 * backend's byte bound allows, with no linger.
 *
 * Answers: 200 when every record was written; 207 (Multi-Status) when any failed, with each
 * result's own status and, for a failure, the v2 error's code and message. A whole-request
 * problem (auth, permission, media type, not an array, too many records, body too large) is the
 * usual v2 error body with its status, and no record is written.
 */
import { MAX_BATCH_BODY, MAX_BATCH_RECORDS } from '../limits';
import { errorStatus, parseQuery, type RequestContext, send, v2CodeFor, v2Error } from '../http';
import { actorOf } from '../registry';
import { SchemaProduceError, serializeAvroPart } from '../registry-produce';
import type { RecordToStore } from '../types';
import {
  admitV2Produce,
  type ParsedEnvelope,
  parseEnvelope,
  readV2Json,
  store,
  type Stored,
} from './produce';

type Result =
  | { status: 200; partition: number; offset: number; timestamp: number }
  | { status: number; error: { code: string; message: string; target?: { type: string; name: string } } };

export function produceBatch(ctx: RequestContext, topic: string): void {
  const { res, deps, query } = ctx;
  const principal = admitV2Produce(ctx, topic);
  if (principal === undefined) return;
  // Schemas registered through a batch count against the caller, as on the records route: a
  // Writer gets its own registry queue, rate and schema budget here too.
  const actor = actorOf(principal);
  const confluent = parseQuery(query).get('serializer') === 'confluent';
  // The array adds one level to the envelopes' own nesting, within readV2Json's one depth bound.
  readV2Json(
    ctx,
    MAX_BATCH_BODY,
    () =>
      v2Error(res, 413, 'request_body_too_large', `A batch body is at most ${MAX_BATCH_BODY} bytes`, {
        type: 'field',
        name: 'body',
      }),
    (list) => {
      if (!Array.isArray(list) || list.length === 0 || list.length > MAX_BATCH_RECORDS) {
        return v2Error(
          res,
          400,
          'invalid_type',
          `The body must be a JSON array of 1 to ${MAX_BATCH_RECORDS} v2 record envelopes`,
          { type: 'field', name: 'body' },
        );
      }
      const results = new Array<Result>(list.length);
      const parsed: Array<ParsedEnvelope | undefined> = list.map((envelope, i) => {
        const p = parseEnvelope(envelope, confluent, deps.maxKeyBytes);
        if ('error' in p) {
          results[i] = {
            status: 400,
            error: { code: p.code, message: p.error, target: { type: 'field', name: p.field } },
          };
          return undefined;
        }
        if (p.value.length > deps.maxMessageBytes) {
          results[i] = {
            status: 400,
            error: {
              code: 'request_body_too_large',
              message: `The value is larger than ${deps.maxMessageBytes} bytes`,
            },
          };
          return undefined;
        }
        return p;
      });
      const needsRegistry = parsed.some((p) => p?.avroValue !== undefined || p?.avroKey !== undefined);
      if (!needsRegistry) return storeAll(ctx, topic, parsed as Array<RecordToStore | undefined>, results);
      if (deps.registry === undefined) {
        return v2Error(res, 400, 'invalid_value', 'This endpoint has no schema registry', {
          type: 'field',
          name: 'type',
        });
      }
      deps.registry
        .then((registry) =>
          Promise.all(
            parsed.map(async (p, i): Promise<RecordToStore | undefined> => {
              if (!p) return undefined;
              const { avroValue, avroKey, ...record } = p;
              try {
                const [value, key] = await Promise.all([
                  avroValue && serializeAvroPart(registry, topic, avroValue, false, actor),
                  avroKey && serializeAvroPart(registry, topic, avroKey, true, actor),
                ]);
                return { ...record, value: value ?? record.value, key: key ?? record.key };
              } catch (err) {
                if (!(err instanceof SchemaProduceError)) throw err;
                results[i] = {
                  status: err.status,
                  error: { code: err.code, message: err.message, target: { type: 'field', name: err.field } },
                };
                return undefined;
              }
            }),
          ),
        )
        .then(
          (records) => storeAll(ctx, topic, records, results),
          (err: unknown) =>
            answer(
              ctx,
              topic,
              results.map((r) => r ?? failure(err)),
            ),
        );
    },
  );
}

/** Hands every valid record to the backend in this turn, then answers once each has settled. */
function storeAll(
  ctx: RequestContext,
  topic: string,
  records: Array<RecordToStore | undefined>,
  results: Result[],
): void {
  let outstanding = 1;
  const settled = (): void => {
    if (--outstanding === 0) answer(ctx, topic, results);
  };
  records.forEach((record, i) => {
    if (!record) return;
    outstanding++;
    store(ctx.deps, ctx.res, topic, record, (err: unknown, r?: Stored) => {
      results[i] = err
        ? failure(err)
        : { status: 200, partition: r!.partition, offset: r!.offset, timestamp: r!.timestamp };
      settled();
    });
  });
  settled();
}

function failure(err: unknown): Result {
  const status = errorStatus(err);
  const message = status === 500 ? 'Internal server error' : err instanceof Error ? err.message : String(err);
  return { status, error: { code: status === 404 ? 'topic_not_found' : v2CodeFor(status), message } };
}

function answer(ctx: RequestContext, topic: string, results: Result[]): void {
  if (ctx.res.headersSent || ctx.res.destroyed) return;
  const allWritten = results.every((r) => r.status === 200);
  send(ctx.res, allWritten ? 200 : 207, JSON.stringify({ topic, results }));
}
