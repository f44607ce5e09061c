// SPDX-License-Identifier: Apache-2.0
/**
 * The error model: the one place that decides, for every failure the package can meet, its
 * `code` and its disposition. Everything else reads it from here: the client's retry loop
 * (lib/retry.ts), the outbox, the node status (nodes/shared/status.ts) and what a Catch node
 * receives (the producer node).
 *
 * - {@link fromHttp}: a non-2xx response (status + body) of the REST Producer, Admin REST or IAM.
 * - {@link fromTransport}: undici/socket/TLS failures (TLS reasons come from lib/tls.ts).
 * - {@link fromKafka}: kafkajs errors (topic admin over the Kafka protocol, the Kafka backend).
 * - {@link toEventStreamsError}: anything at all; our own errors pass through, recognised by a
 *   brand (`Symbol.for`, so it also works across two copies of the package), never by shape:
 *   a kafkajs `KafkaJSConnectionError` with `code: 'ECONNREFUSED'` is mapped like any foreign
 *   error.
 *
 * Dispositions:
 * - `retry`: transient (connection refused/reset, timeout, 500): retry now with backoff. The
 *   request keeps its in-flight slot, so an outage becomes back-pressure instead of a storm.
 * - `hold`: the server asked us to wait (429, 502/503/504, usually with Retry-After): only this
 *   request is held for the server's delay (with jitter); it gives its slot back so the rest of
 *   the queue keeps flowing.
 * - `fail`: retrying the same request cannot succeed; the caller gets the error now.
 *
 * Over 500 lines on purpose: every failure's code, disposition and message is decided here, per
 * source (HTTP per API, transport, Kafka); splitting it would split that one decision.
 */
import {
  AbortedError,
  AuthenticationError,
  AuthorizationError,
  BadRequestError,
  ClosedError,
  ConnectionError,
  type ErrorCode,
  type ErrorDetails,
  EventStreamsError,
  KafkaError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  redact,
  ServerError,
  TimeoutError,
  type TlsFailureReason,
  TlsError,
  TopicExistsError,
  TopicNotFoundError,
  UnavailableError,
  UnexpectedResponseError,
  ValidationError,
  isEventStreamsError,
  registerDispositionRule,
} from './errors';
import {
  type ErrorContext,
  headerValue,
  parseErrorBody,
  parseRetryAfter,
  type ResponseHeaders,
} from './error-body';
import { errorCodes, stripCause, tlsErrorFrom } from './tls';
import { printable } from './validate';

const SCHEMA_FIELD = /"schema"\s*:\s*"/;

export type Disposition = 'retry' | 'hold' | 'fail';

/**
 * What a failure is about: `record` (this record can never be written as it is: the outbox
 * drops it), `topic`, `endpoint` (credentials, TLS, the service), `local` (queue, close, abort).
 */
export type Scope = 'record' | 'topic' | 'endpoint' | 'local';

export interface Rule {
  disposition: Disposition;
  scope: Scope;
  /** The status key suffix (under `<node-type>.status.`) a node shows for it. */
  status: string;
}

const rule = (disposition: Disposition, scope: Scope, status: string): Rule => ({
  disposition,
  scope,
  status,
});

/** Every code, once. Adding a code without a rule here does not compile. */
export const RULES: Readonly<Record<ErrorCode, Rule>> = Object.freeze({
  VALIDATION: rule('fail', 'record', 'invalid'),
  INVALID_TOPIC: rule('fail', 'record', 'invalid'),
  INVALID_KEY: rule('fail', 'record', 'invalid'),
  INVALID_VALUE: rule('fail', 'record', 'invalid'),
  INVALID_HEADERS: rule('fail', 'record', 'invalid'),
  KEY_TOO_LARGE: rule('fail', 'record', 'too-large'),
  VALUE_TOO_LARGE: rule('fail', 'record', 'too-large'),
  URI_TOO_LONG: rule('fail', 'record', 'invalid'),
  PAYLOAD_TOO_LARGE: rule('fail', 'record', 'too-large'),
  BAD_REQUEST: rule('fail', 'record', 'invalid'),
  UNSUPPORTED_MEDIA_TYPE: rule('fail', 'record', 'invalid'),
  INVALID_CONFIG: rule('fail', 'local', 'config'),
  AUTHENTICATION_FAILED: rule('fail', 'endpoint', 'auth-failed'),
  AUTHORIZATION_FAILED: rule('fail', 'endpoint', 'forbidden'),
  TOPIC_NOT_FOUND: rule('fail', 'topic', 'topic-not-found'),
  TOPIC_EXISTS: rule('fail', 'topic', 'topic-exists'),
  // Admin operations beyond topics: a missing group, broker or quota entity; an operation the
  // transport cannot do (quotas and mirroring over the Kafka protocol).
  NOT_FOUND: rule('fail', 'topic', 'not-found'),
  UNSUPPORTED: rule('fail', 'local', 'unsupported'),
  RATE_LIMITED: rule('hold', 'endpoint', 'throttled'),
  UNAVAILABLE: rule('hold', 'endpoint', 'unavailable'),
  SERVER_ERROR: rule('retry', 'endpoint', 'unavailable'),
  TIMEOUT: rule('retry', 'endpoint', 'timeout'),
  CONNECTION_FAILED: rule('retry', 'endpoint', 'unreachable'),
  TLS_FAILED: rule('fail', 'endpoint', 'tls-failed'),
  UNEXPECTED_RESPONSE: rule('fail', 'endpoint', 'error'),
  QUEUE_FULL: rule('fail', 'local', 'queue-full'),
  // The outbox's own disk (lib/spool.ts): the record was not stored, or stored records were lost.
  OUTBOX_FULL: rule('fail', 'local', 'outbox-full'),
  OUTBOX_IO: rule('fail', 'local', 'outbox-io'),
  OUTBOX_DAMAGED: rule('fail', 'local', 'outbox-damaged'),
  CLOSED: rule('fail', 'local', 'closed'),
  WITHDRAWN: rule('fail', 'local', 'closed'),
  RETRIES_EXHAUSTED: rule('fail', 'endpoint', 'error'),
  ABORTED: rule('fail', 'local', 'closed'),
  KAFKA_ERROR: rule('fail', 'endpoint', 'error'),
  // Schema-conforming produce (lib/avro.ts, the registry): a schema that does not parse is the
  // node's configuration; data that does not match it is the record; a missing or refused schema
  // is about the subject, which registering or fixing the schema resolves (the outbox holds it).
  INVALID_SCHEMA: rule('fail', 'local', 'config'),
  SCHEMA_MISMATCH: rule('fail', 'record', 'schema-mismatch'),
  SCHEMA_NOT_FOUND: rule('fail', 'topic', 'schema-not-found'),
  SCHEMA_CONFLICT: rule('fail', 'topic', 'error'),
  SCHEMA_INCOMPATIBLE: rule('fail', 'topic', 'error'),
});

const UNKNOWN_RULE: Rule = rule('fail', 'endpoint', 'error');

function ruleOf(code: unknown): Rule {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(RULES, code)
    ? RULES[code as ErrorCode]
    : UNKNOWN_RULE;
}

/** The code that explains an error best: a RETRIES_EXHAUSTED error explains itself by its cause. */
export function rootCode(err: unknown): ErrorCode | undefined {
  if (!isEventStreamsError(err)) return undefined;
  if (err.code === 'RETRIES_EXHAUSTED' && isEventStreamsError(err.cause)) {
    return rootCode(err.cause) ?? 'RETRIES_EXHAUSTED';
  }
  return err.code;
}

/** Retry now, hold and retry, or fail. Foreign errors are mapped first. */
export function dispositionOf(err: unknown): Disposition {
  const e = toEventStreamsError(err);
  // kafkajs says per error whether it is transient (leader elections and the like).
  if (e.code === 'KAFKA_ERROR') return (e as KafkaError).transient ? 'retry' : 'fail';
  return ruleOf(e.code).disposition;
}

// `err.retriable` (lib/errors.ts) is a view of this decision.
registerDispositionRule(dispositionOf);

/** True when the record itself was rejected: resending it unchanged can never succeed. */
export function isRecordRejection(err: unknown): boolean {
  return ruleOf(rootCode(toEventStreamsError(err))).scope === 'record';
}

/** The node status key suffix for an error (`auth-failed`, `throttled`, …; `error` otherwise). */
export function statusKeyOf(err: unknown): string {
  return ruleOf(rootCode(err)).status;
}

/**
 * Anything thrown, as one of ours: our own errors pass through; kafkajs errors (by their
 * `KafkaJS…` name) go through {@link fromKafka}; everything else through {@link fromTransport}.
 */
export function toEventStreamsError(
  err: unknown,
  origin = 'the server',
  signal?: AbortSignal,
): EventStreamsError {
  if (isEventStreamsError(err)) return err;
  const name = err instanceof Error ? err.name : '';
  if (name.startsWith('KafkaJS')) return fromKafka(err);
  return fromTransport(err, origin, signal);
}

/** What a Node-RED flow gets to see of a failure, on `msg.eventstreams.error`. */
export interface FailureReport {
  code: ErrorCode;
  /** The root code when `code` is RETRIES_EXHAUSTED. */
  cause?: ErrorCode;
  statusCode?: number;
  serverMessage?: string;
  attempts?: number;
  topic?: string;
  disposition: Disposition;
}

export function failureReport(err: unknown): FailureReport {
  const e = toEventStreamsError(err);
  const out: FailureReport = { code: e.code, disposition: dispositionOf(e) };
  const root = rootCode(e);
  if (root !== undefined && root !== e.code) out.cause = root;
  const inner = isEventStreamsError(e.cause) ? e.cause : undefined;
  const statusCode = e.statusCode ?? inner?.statusCode;
  if (statusCode !== undefined) out.statusCode = statusCode;
  const serverMessage = e.serverMessage ?? inner?.serverMessage;
  if (serverMessage !== undefined) out.serverMessage = serverMessage;
  if (e.attempts !== undefined) out.attempts = e.attempts;
  if (e.topic !== undefined) out.topic = e.topic;
  return out;
}

/**
 * A line that reads well in the debug sidebar and in `msg.error.message`: the code first, then
 * the sentence, e.g. `RATE_LIMITED: Produce to topic "t" failed: rate limit exceeded (HTTP 429)`.
 */
export function describeFailure(err: unknown): string {
  const e = toEventStreamsError(err);
  const root = rootCode(e);
  const code = root !== undefined && root !== e.code ? `${e.code} (${root})` : e.code;
  return e.message.startsWith(e.code) ? e.message : `${code}: ${e.message}`;
}

// -----------------------------------------------------------------------------------------------
// HTTP responses

const TOO_LARGE = /too large|too big|exceeds|max(imum)? (message|key|request)? ?size/i;

/**
 * Maps a non-2xx response to the error hierarchy by HTTP status (never by `error_code` digits,
 * whose last two digits are not reliably a Kafka code). 400 with a size message and 413 →
 * PayloadTooLarge; 400/411/414/422 → BadRequest; 415 → BadRequest(UNSUPPORTED_MEDIA_TYPE);
 * 401 → Authentication; 403 → Authorization; 404 → TopicNotFound; 408 → Timeout;
 * 429 → RateLimited; 500 → Server; 502/503/504 → Unavailable; anything else → UnexpectedResponse.
 */
export function fromHttp(
  statusCode: number,
  headers: ResponseHeaders,
  text: string,
  ctx: ErrorContext,
): EventStreamsError {
  const parsed = parseErrorBody(text);
  const secrets = ctx.secrets ?? [];
  const serverMessage =
    parsed.serverMessage === undefined ? undefined : redact(parsed.serverMessage, secrets);
  const incidentId = parsed.incidentId ?? headerValue(headers, 'x-global-transaction-id');
  const topic = parsed.topic ?? ctx.topic;
  const details: ErrorDetails = { statusCode };
  if (serverMessage !== undefined) details.serverMessage = serverMessage;
  if (incidentId !== undefined) details.incidentId = incidentId;
  if (parsed.serverCode !== undefined) details.serverCode = parsed.serverCode;
  if (parsed.kafkaErrorCode !== undefined) details.kafkaErrorCode = parsed.kafkaErrorCode;
  if (topic !== undefined) details.topic = topic;

  const msg = (what: string): string => {
    let m = `${ctx.operation} failed: ${what} (HTTP ${statusCode})`;
    if (serverMessage !== undefined) m += `: ${serverMessage}`;
    if (incidentId !== undefined) m += ` [incident ${incidentId}]`;
    return redact(m, secrets);
  };

  switch (statusCode) {
    case 400:
      if (serverMessage !== undefined && TOO_LARGE.test(serverMessage)) {
        return new PayloadTooLargeError(msg('the record is larger than the server accepts'), details);
      }
      return new BadRequestError(msg('the server rejected the request as invalid'), details);
    case 413:
      return new PayloadTooLargeError(msg('the record is larger than the server accepts'), details);
    case 411:
      return new BadRequestError(msg('the server requires a non-empty body'), details);
    case 414:
      return new BadRequestError(
        msg('the request URI is too long (v1 carries the key and headers in the query string)'),
        details,
      );
    case 415:
      return new BadRequestError(
        msg('the server does not accept this Content-Type'),
        details,
        'UNSUPPORTED_MEDIA_TYPE',
      );
    case 422:
      return new BadRequestError(msg('the server could not process the request'), details);
    case 401:
      return new AuthenticationError(
        msg('the credentials were not accepted; check the API key, token, password or client certificate'),
        details,
      );
    case 403:
      return new AuthorizationError(
        msg(
          'the credentials lack permission (producing needs the Writer role on the topic, topic administration needs Manager)',
        ),
        details,
      );
    case 404:
      // On-prem v1.1 names the schema in `error.schema` when schemaname/schemaversion is unknown.
      if (SCHEMA_FIELD.test(text)) {
        return new EventStreamsError(
          msg('the named schema or schema version does not exist'),
          'SCHEMA_NOT_FOUND',
          details,
        );
      }
      if (ctx.notFoundIsTopic !== false && ctx.topic !== undefined) {
        return new TopicNotFoundError(msg(`topic "${ctx.topic}" does not exist`), details);
      }
      return new TopicNotFoundError(msg('not found'), details);
    case 408:
      return new TimeoutError(msg('the server timed out'), details);
    case 429: {
      const retryAfterMs = parseRetryAfter(headerValue(headers, 'retry-after'));
      return new RateLimitedError(
        msg('rate limit exceeded'),
        retryAfterMs === undefined ? details : { ...details, retryAfterMs },
      );
    }
    case 500:
      return new ServerError(msg('the server had an internal error'), details);
    case 502:
    case 503:
    case 504: {
      const retryAfterMs = parseRetryAfter(headerValue(headers, 'retry-after'));
      return new UnavailableError(
        msg('the service is unavailable'),
        retryAfterMs === undefined ? details : { ...details, retryAfterMs },
      );
    }
    default:
      return new UnexpectedResponseError(msg(`unexpected HTTP status ${statusCode}`), details);
  }
}

/**
 * Which REST API answered: each has a few codes of its own on top of {@link fromHttp}.
 * `registry` is IBM's `/artifacts` API, `confluent` a Confluent-compatible registry API.
 */
export type RestApi = 'produce' | 'admin' | 'registry' | 'confluent';

/** {@link ErrorContext} plus what the per-API mappers need. */
export interface ApiErrorContext extends ErrorContext {
  api: RestApi;
  /** Admin: a 404 means the Admin REST API itself is missing (listing), not a topic. */
  notFoundIsApi?: boolean;
  /** Admin: where the API was looked for, for the message. */
  baseUrl?: string;
  /** Admin: a 404 means this (a group, broker, quota entity) does not exist: NOT_FOUND, saying what. */
  notFound?: string;
  /** Registry: the schema the request was about. */
  schemaId?: string;
}

const EXISTS = /exist/i;

function serverDetails(err: EventStreamsError, statusCode: number, topic?: string): ErrorDetails {
  return {
    statusCode,
    ...(err.serverMessage !== undefined ? { serverMessage: err.serverMessage } : {}),
    ...(err.incidentId !== undefined ? { incidentId: err.incidentId } : {}),
    ...(err.serverCode !== undefined ? { serverCode: err.serverCode } : {}),
    ...(topic !== undefined ? { topic } : {}),
  };
}

/**
 * A non-2xx answer of any REST API the package calls, as one error: {@link fromHttp} by status,
 * then the API's own codes — Admin REST: "already exists" (400/409/422 or Kafka code 36) →
 * TOPIC_EXISTS, a missing API → UNEXPECTED_RESPONSE naming the Kafka admin; registry: 404 →
 * SCHEMA_NOT_FOUND, 409 → SCHEMA_INCOMPATIBLE or SCHEMA_CONFLICT; Confluent-compatible registry:
 * 404xx (subject, version or schema id not found) → SCHEMA_NOT_FOUND, 409 (always "incompatible"
 * in that API) → SCHEMA_INCOMPATIBLE, 422xx (invalid schema, version or level) → INVALID_SCHEMA.
 */
export function fromApiResponse(
  statusCode: number,
  headers: ResponseHeaders,
  text: string,
  ctx: ApiErrorContext,
): EventStreamsError {
  const op = ctx.operation;
  if (ctx.api === 'confluent') return fromConfluentResponse(statusCode, headers, text, ctx);
  if (ctx.api === 'registry') {
    const err = fromHttp(statusCode, headers, text, { ...ctx, notFoundIsTopic: false });
    if (statusCode === 404) {
      return new EventStreamsError(
        `${op} failed: ${ctx.schemaId !== undefined ? `schema "${printable(ctx.schemaId)}"` : 'the schema registry'} was not found (HTTP 404)${
          err.serverMessage !== undefined ? `: ${err.serverMessage}` : ''
        }`,
        'SCHEMA_NOT_FOUND',
        { statusCode, ...(err.serverMessage !== undefined ? { serverMessage: err.serverMessage } : {}) },
      );
    }
    if (statusCode === 409) {
      const incompatible = err.serverMessage !== undefined && /compatib/i.test(err.serverMessage);
      return new EventStreamsError(
        `${op} failed: ${err.serverMessage ?? 'conflict'} (HTTP 409)`,
        incompatible ? 'SCHEMA_INCOMPATIBLE' : 'SCHEMA_CONFLICT',
        { statusCode, ...(err.serverMessage !== undefined ? { serverMessage: err.serverMessage } : {}) },
      );
    }
    return err;
  }
  const err = fromHttp(statusCode, headers, text, ctx);
  if (ctx.api !== 'admin') return err;
  const s = statusCode;
  if (
    (s === 422 || s === 409 || s === 400) &&
    ((err.serverMessage !== undefined && EXISTS.test(err.serverMessage)) || err.kafkaErrorCode === 36)
  ) {
    return new TopicExistsError(
      `${op} failed: the topic already exists (HTTP ${s}).`,
      serverDetails(err, s, ctx.topic),
    );
  }
  if (s === 404 && ctx.notFound !== undefined) {
    return new NotFoundError(`${op} failed: ${ctx.notFound} (HTTP 404).`, {
      statusCode: s,
      ...(err.serverMessage !== undefined ? { serverMessage: err.serverMessage } : {}),
      ...(err.incidentId !== undefined ? { incidentId: err.incidentId } : {}),
    });
  }
  if (s === 404 && (ctx.notFoundIsApi || ctx.topic === undefined)) {
    return new UnexpectedResponseError(
      `${op} failed: the Admin REST API was not found at ${ctx.baseUrl ?? 'the admin URL'}/admin (HTTP 404). On-prem Event Streams has no Admin REST API; use the Kafka topic admin instead.`,
      { statusCode: s, ...(err.incidentId !== undefined ? { incidentId: err.incidentId } : {}) },
    );
  }
  if (s === 404 && !(err instanceof TopicNotFoundError)) {
    return new TopicNotFoundError(err.message, { statusCode: s });
  }
  return err;
}

const CONFLUENT_CODES: Partial<Record<number, ErrorCode>> = {
  404: 'SCHEMA_NOT_FOUND',
  409: 'SCHEMA_INCOMPATIBLE',
  422: 'INVALID_SCHEMA',
};

function fromConfluentResponse(
  statusCode: number,
  headers: ResponseHeaders,
  text: string,
  ctx: ApiErrorContext,
): EventStreamsError {
  const err = fromHttp(statusCode, headers, text, { ...ctx, notFoundIsTopic: false });
  const code = CONFLUENT_CODES[statusCode];
  if (code === undefined) return err;
  const said = err.serverMessage !== undefined ? `: ${err.serverMessage}` : '';
  return new EventStreamsError(`${ctx.operation} failed (HTTP ${statusCode})${said}`, code, {
    statusCode,
    ...(err.serverMessage !== undefined ? { serverMessage: err.serverMessage } : {}),
    ...(err.serverCode !== undefined ? { serverCode: err.serverCode } : {}),
  });
}

// -----------------------------------------------------------------------------------------------
// Transport (undici, sockets, TLS)

const CONNECTION_CODES: Record<string, string> = {
  ECONNREFUSED: 'the connection was refused (is the endpoint running, and is the port right?)',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was closed while sending',
  ENOTFOUND: 'the host name could not be resolved',
  EAI_AGAIN: 'the host name could not be resolved (temporary DNS failure)',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  ECONNABORTED: 'the connection was aborted',
  UND_ERR_SOCKET: 'the connection was closed unexpectedly',
  UND_ERR_CLOSED: 'the connection was closed',
};

/**
 * Maps an undici or socket error (walking its `cause` chain, since undici wraps socket errors)
 * to the package's errors: timeouts → TimeoutError, refused/reset/DNS → ConnectionError with
 * `systemCode`, certificate problems → TlsError, aborts → AbortedError.
 */
export function fromTransport(err: unknown, origin: string, signal?: AbortSignal): EventStreamsError {
  if (isEventStreamsError(err)) return err;
  const tls = tlsErrorFrom(err, origin);
  if (tls !== undefined) return tls;
  const cause = stripCause(err);
  const codes = errorCodes(err);
  const name = err instanceof Error ? err.name : '';
  if (
    signal?.aborted === true ||
    name === 'AbortError' ||
    codes.includes('UND_ERR_ABORTED') ||
    codes.includes('ABORT_ERR')
  ) {
    return new AbortedError(`The request to ${origin} was aborted.`, { cause });
  }
  for (const code of codes) {
    switch (code) {
      case 'UND_ERR_CONNECT_TIMEOUT':
        return new TimeoutError(`Connecting to ${origin} timed out.`, { cause });
      case 'UND_ERR_HEADERS_TIMEOUT':
        return new TimeoutError(`${origin} did not answer in time (no response headers).`, { cause });
      case 'UND_ERR_BODY_TIMEOUT':
        return new TimeoutError(`${origin} stopped sending the response body.`, { cause });
      case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
        return new UnexpectedResponseError(
          `The response from ${origin} is larger than expected and was cut off.`,
          {
            cause,
          },
        );
      case 'UND_ERR_DESTROYED':
        return new ClosedError('The client was closed before the request finished.', { cause });
      default:
        break;
    }
  }
  // The innermost system code (ECONNRESET under UND_ERR_SOCKET) is the most useful one.
  const system = [...codes].reverse().find((c) => CONNECTION_CODES[c] !== undefined);
  if (system !== undefined) {
    return new ConnectionError(`Could not reach ${origin}: ${CONNECTION_CODES[system]} [${system}].`, {
      systemCode: system,
      cause,
    });
  }
  const sysLike = codes.find((c) => /^E[A-Z_]+$/.test(c));
  if (sysLike !== undefined) {
    return new ConnectionError(`Could not reach ${origin} [${sysLike}].`, { systemCode: sysLike, cause });
  }
  return new UnexpectedResponseError(
    `The request to ${origin} failed: ${cause?.message ?? String(err)}${codes[0] ? ` [${codes[0]}]` : ''}.`,
    { cause },
  );
}

// -----------------------------------------------------------------------------------------------
// kafkajs

const TLS_REASONS: Record<string, TlsFailureReason> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'UNKNOWN_CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'UNKNOWN_CA',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'UNKNOWN_CA',
  UNABLE_TO_GET_ISSUER_CERT: 'UNKNOWN_CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'UNKNOWN_CA',
  ERR_TLS_CERT_ALTNAME_INVALID: 'HOSTNAME_MISMATCH',
  CERT_HAS_EXPIRED: 'EXPIRED',
  CERT_NOT_YET_VALID: 'NOT_YET_VALID',
};

interface KafkaJsErrorShape {
  name?: string;
  message?: string;
  retriable?: boolean;
  type?: string;
  code?: number | string;
  cause?: unknown;
  errors?: unknown[];
}

const NOT_FOUND_TYPES = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_ID']);
const INVALID_TYPES: Record<string, 'INVALID_TOPIC' | 'INVALID_CONFIG' | 'VALIDATION'> = {
  INVALID_TOPIC_EXCEPTION: 'INVALID_TOPIC',
  INVALID_PARTITIONS: 'VALIDATION',
  INVALID_REPLICATION_FACTOR: 'VALIDATION',
  INVALID_REPLICA_ASSIGNMENT: 'VALIDATION',
  INVALID_CONFIG: 'INVALID_CONFIG',
  POLICY_VIOLATION: 'VALIDATION',
  INVALID_REQUEST: 'VALIDATION',
};
const AUTHZ_TYPES = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
]);
const AUTHN_TYPES = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
]);

/**
 * Maps a kafkajs failure to this package's error classes. `KafkaJSNumberOfRetriesExceeded` and
 * aggregate errors are unwrapped to the error that actually happened. Messages pass through
 * {@link redact} with the configured secrets; SASL failures never carry the raw kafkajs error.
 */
export function fromKafka(
  err: unknown,
  context: { topic?: string; secrets?: string[] } = {},
): EventStreamsError {
  if (isEventStreamsError(err)) return err;
  let e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as KafkaJsErrorShape;
  for (let depth = 0; depth < 5; depth++) {
    // kafkajs's retrier wraps the real error: exhausted retries, and bailed (non-retriable) errors.
    if (
      (e.name === 'KafkaJSNumberOfRetriesExceeded' || e.name === 'KafkaJSNonRetriableError') &&
      typeof e.cause === 'object' &&
      e.cause !== null &&
      e.cause !== e
    ) {
      e = e.cause as KafkaJsErrorShape;
    } else if (Array.isArray(e.errors) && e.errors.length > 0 && typeof e.errors[0] === 'object') {
      e = e.errors[0] as KafkaJsErrorShape;
    } else break;
  }
  const secrets = context.secrets ?? [];
  const message = redact(e.message ?? 'Kafka error', secrets);
  const topic = context.topic;
  const base = { ...(topic !== undefined ? { topic } : {}) };
  const kafkaErrorCode = typeof e.code === 'number' ? e.code : undefined;
  const withCode = { ...base, ...(kafkaErrorCode !== undefined ? { kafkaErrorCode } : {}) };
  const type = e.type ?? '';

  if (e.name === 'KafkaJSSASLAuthenticationError' || AUTHN_TYPES.has(type)) {
    return new AuthenticationError(`Kafka authentication failed: ${message}`, withCode);
  }
  if (AUTHZ_TYPES.has(type)) {
    const what = type === 'TOPIC_AUTHORIZATION_FAILED' && topic ? ` on topic '${topic}'` : '';
    return new AuthorizationError(
      `Kafka authorization failed${what} (producing needs the Writer role): ${message}`,
      withCode,
    );
  }
  if (NOT_FOUND_TYPES.has(type)) {
    return new TopicNotFoundError(topic ? `Topic '${topic}' does not exist` : message, withCode);
  }
  if (type === 'TOPIC_ALREADY_EXISTS') {
    return new TopicExistsError(topic ? `Topic '${topic}' already exists` : message, withCode);
  }
  if (type in INVALID_TYPES) return new ValidationError(message, INVALID_TYPES[type], withCode);
  if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') {
    return new PayloadTooLargeError(`The record is larger than the broker accepts: ${message}`, withCode);
  }
  // Produce over the Kafka protocol (lib/kafka-sender.ts).
  if (type === 'INVALID_RECORD' || type === 'CORRUPT_MESSAGE') {
    return new BadRequestError(`The broker rejected the record: ${message}`, withCode);
  }
  if (type === 'NOT_ENOUGH_REPLICAS' || type === 'NOT_ENOUGH_REPLICAS_AFTER_APPEND') {
    return new UnavailableError(`Too few in-sync replicas to write with acks=all: ${message}`, withCode);
  }
  // Admin quotas; produce quotas delay answers instead. kafkajs 2.2.4 does not know code 89 yet
  // (it reports KAFKAJS_UNKNOWN_ERROR_CODE), a newer client behind the port may.
  if (type === 'THROTTLING_QUOTA_EXCEEDED') {
    return new RateLimitedError(`The cluster's quota was exceeded: ${message}`, withCode);
  }
  if (
    e.name === 'KafkaJSBrokerNotFound' ||
    e.name === 'KafkaJSNoBrokerAvailableError' ||
    e.name === 'KafkaJSMetadataNotLoaded'
  ) {
    return new ConnectionError(`Kafka connection failed: no broker answered (${message})`, {
      ...base,
      cause: err,
    });
  }
  if (e.name === 'KafkaJSLockTimeout') {
    return new TimeoutError(`Kafka request timed out: ${message}`, { ...base, cause: err });
  }
  if (e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSConnectionClosedError') {
    const sys = typeof e.code === 'string' ? e.code : undefined;
    if (sys !== undefined && (sys in TLS_REASONS || sys.startsWith('ERR_SSL') || sys.startsWith('ERR_TLS'))) {
      return new TlsError(`Kafka TLS handshake failed: ${message}`, TLS_REASONS[sys] ?? 'OTHER', {
        ...base,
        tlsCode: sys,
      });
    }
    return new ConnectionError(`Kafka connection failed: ${message}`, {
      ...base,
      ...(sys !== undefined ? { systemCode: sys } : {}),
      cause: err,
    });
  }
  if (
    e.name === 'KafkaJSRequestTimeoutError' ||
    e.name === 'KafkaJSTimeout' ||
    type === 'REQUEST_TIMED_OUT'
  ) {
    return new TimeoutError(`Kafka request timed out: ${message}`, { ...withCode, cause: err });
  }
  if (e.name === 'KafkaJSNonRetriableError' && /^Invalid /.test(message)) {
    return new ValidationError(message, 'VALIDATION', base);
  }
  return new KafkaError(message, e.retriable === true, { ...withCode, cause: err });
}
