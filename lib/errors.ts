// SPDX-License-Identifier: Apache-2.0
/**
 * One error hierarchy for everything the core can fail with.
 *
 * Callers (the Node-RED nodes, user code) should switch on `code` (stable, SCREAMING_SNAKE) or
 * `name`, not on `instanceof`, because two copies of this package may be loaded side by side;
 * {@link isEventStreamsError} recognises ours by a `Symbol.for` brand, never by shape. What a
 * code means for retries, the outbox and the status is decided in lib/error-model.ts alone;
 * `retriable` is only a view of that decision.
 *
 * No error ever carries a secret: messages are built from status codes, server messages and
 * our own words, and server messages are passed through {@link redact} in case a server echoes a
 * credential back.
 */

/**
 * The error model's disposition of an error (lib/error-model.ts registers it when it loads).
 * Kept as a hook so that this file imports nothing: every module may import the classes without
 * pulling the model's rules, and the model may import the classes without a cycle.
 */
let dispositionRule: ((err: EventStreamsError) => 'retry' | 'hold' | 'fail') | undefined;

/** Called once by lib/error-model.ts; not for other callers. */
export function registerDispositionRule(rule: (err: EventStreamsError) => 'retry' | 'hold' | 'fail'): void {
  dispositionRule = rule;
}

export type ErrorCode =
  | 'VALIDATION'
  | 'INVALID_TOPIC'
  | 'INVALID_KEY'
  | 'INVALID_VALUE'
  | 'INVALID_HEADERS'
  | 'KEY_TOO_LARGE'
  | 'VALUE_TOO_LARGE'
  | 'URI_TOO_LONG'
  | 'INVALID_CONFIG'
  | 'INVALID_SCHEMA'
  | 'SCHEMA_MISMATCH'
  | 'SCHEMA_NOT_FOUND'
  | 'SCHEMA_CONFLICT'
  | 'SCHEMA_INCOMPATIBLE'
  | 'AUTHENTICATION_FAILED'
  | 'AUTHORIZATION_FAILED'
  | 'TOPIC_NOT_FOUND'
  | 'TOPIC_EXISTS'
  | 'NOT_FOUND'
  | 'UNSUPPORTED'
  | 'PAYLOAD_TOO_LARGE'
  | 'BAD_REQUEST'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'SERVER_ERROR'
  | 'TIMEOUT'
  | 'CONNECTION_FAILED'
  | 'TLS_FAILED'
  | 'UNEXPECTED_RESPONSE'
  | 'QUEUE_FULL'
  | 'OUTBOX_FULL'
  | 'OUTBOX_IO'
  | 'OUTBOX_DAMAGED'
  | 'CLOSED'
  | 'WITHDRAWN'
  | 'RETRIES_EXHAUSTED'
  | 'PARTIAL_FAILURE'
  | 'ABORTED'
  | 'KAFKA_ERROR';

export interface ErrorDetails {
  statusCode?: number;
  /** The server's own message, already redacted. */
  serverMessage?: string;
  /** `incident_id` (Admin REST, on-prem v1), `incident`, or v2 `trace`. */
  incidentId?: string;
  /** v2 error code string such as `invalid_type`, or the numeric `error_code` of v1/admin bodies. */
  serverCode?: string | number;
  /** Kafka protocol error code where the server reports one (`kafka_error_code`). */
  kafkaErrorCode?: number;
  topic?: string;
  /** Attempts made before this error was final (set by the retry loop). */
  attempts?: number;
  cause?: unknown;
}

const SECRET_PATTERNS: RegExp[] = [
  /(authorization\s*[:=]\s*)(bearer|basic)\s+[^\s,"']+/gi,
  // A credential after the scheme name: token-shaped (a digit or one of . _ ~ + / = -) or long.
  // Ordinary words ("Only Bearer authentication is accepted") stay readable.
  /\b((?:bearer|basic)\s+)(?:(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,}|[A-Za-z]{24,})/gi,
  /((?:api[_-]?key|apikey|password|passwd|secret|token|access_token|refresh_token|passphrase)["']?\s*[:=]\s*["']?)[^\s,"'&}]+/gi,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
];

/**
 * Removes anything that looks like a credential from a string. Used on every server message we
 * put into an error, because some servers echo request headers or form fields in their errors.
 */
export function redact(text: string, extraSecrets: readonly string[] = []): string {
  let out = text;
  for (const secret of extraSecrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  for (const pattern of SECRET_PATTERNS) {
    out = out.replace(pattern, (match, prefix: string | undefined) =>
      typeof prefix === 'string' && match.startsWith(prefix) ? `${prefix}[redacted]` : '[redacted]',
    );
  }
  return out;
}

/** The brand on every error of this package (shared across copies of it through Symbol.for). */
const BRAND = Symbol.for('esnodes.event-streams.error');

/** Root of every error thrown or rejected by this package. */
export class EventStreamsError extends Error {
  /** An own property, so Node-RED copies it into a Catch node's `msg.error.code`. */
  readonly code: ErrorCode;
  readonly statusCode?: number;
  readonly serverMessage?: string;
  readonly incidentId?: string;
  readonly serverCode?: string | number;
  readonly kafkaErrorCode?: number;
  readonly topic?: string;
  attempts?: number;

  constructor(message: string, code: ErrorCode, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
    // Only defined fields are set so that util.inspect(err) stays short and readable.
    if (details.statusCode !== undefined) this.statusCode = details.statusCode;
    if (details.serverMessage !== undefined) this.serverMessage = redact(details.serverMessage);
    if (details.incidentId !== undefined) this.incidentId = details.incidentId;
    if (details.serverCode !== undefined) this.serverCode = details.serverCode;
    if (details.kafkaErrorCode !== undefined) this.kafkaErrorCode = details.kafkaErrorCode;
    if (details.topic !== undefined) this.topic = details.topic;
    if (details.attempts !== undefined) this.attempts = details.attempts;
  }

  /**
   * The code, then the sentence: Node-RED builds a Catch node's `msg.error.message` (and its log
   * lines) from `toString()`, which would otherwise start with the class name.
   */
  override toString(): string {
    return this.message.startsWith(this.code) ? this.message : `${this.code}: ${this.message}`;
  }

  /** Whether repeating the request could succeed (the error model's disposition is not `fail`). */
  get retriable(): boolean {
    return dispositionRule !== undefined && dispositionRule(this) !== 'fail';
  }

  /** A plain, secret-free object for logs and `msg.error`-style payloads. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, code: this.code, message: this.message };
    for (const key of [
      'statusCode',
      'serverMessage',
      'incidentId',
      'serverCode',
      'kafkaErrorCode',
      'topic',
    ] as const) {
      if (this[key] !== undefined) out[key] = this[key];
    }
    out.retriable = this.retriable;
    if (this.attempts !== undefined) out.attempts = this.attempts;
    return out;
  }
}

/** Bad input caught before any network call. Never retriable. */
export class ValidationError extends EventStreamsError {
  constructor(
    message: string,
    code:
      | 'VALIDATION'
      | 'INVALID_TOPIC'
      | 'INVALID_KEY'
      | 'INVALID_VALUE'
      | 'INVALID_HEADERS'
      | 'KEY_TOO_LARGE'
      | 'VALUE_TOO_LARGE'
      | 'URI_TOO_LONG'
      | 'INVALID_CONFIG'
      | 'INVALID_SCHEMA'
      | 'SCHEMA_MISMATCH' = 'VALIDATION',
    details: ErrorDetails = {},
  ) {
    super(message, code, details);
  }
}

/** 401: credentials missing, wrong, or an expired token that could not be refreshed. */
export class AuthenticationError extends EventStreamsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, 'AUTHENTICATION_FAILED', details);
  }
}

/** 403: credentials are valid but lack the role (Writer on the topic, Manager for admin). */
export class AuthorizationError extends EventStreamsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, 'AUTHORIZATION_FAILED', details);
  }
}

/** 404 for a topic (IBM Cloud never auto-creates topics). */
export class TopicNotFoundError extends EventStreamsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, 'TOPIC_NOT_FOUND', details);
  }
}

/** 422 (or Kafka error 36) when creating a topic that exists. `ensureTopic` turns it into a result. */
export class TopicExistsError extends EventStreamsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, 'TOPIC_EXISTS', details);
  }
}

/** 404 for something other than a topic: a consumer group, broker, quota entity (admin). */
export class NotFoundError extends EventStreamsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, 'NOT_FOUND', details);
  }
}

/** An operation this transport or server cannot perform (e.g. quotas over kafkajs). */
export class UnsupportedError extends EventStreamsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, 'UNSUPPORTED', details);
  }
}

/** 400 "request body too large" or 413: the key or value is over the server's limit. */
export class PayloadTooLargeError extends EventStreamsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, 'PAYLOAD_TOO_LARGE', details);
  }
}

/** Any other 4xx the server rejected the request with (400, 411, 414, 415, 422). */
export class BadRequestError extends EventStreamsError {
  constructor(
    message: string,
    details: ErrorDetails = {},
    code: 'BAD_REQUEST' | 'UNSUPPORTED_MEDIA_TYPE' = 'BAD_REQUEST',
  ) {
    super(message, code, details);
  }
}

/** 429. `retryAfterMs` comes from the Retry-After header when the server sent one. */
export class RateLimitedError extends EventStreamsError {
  readonly retryAfterMs?: number;
  constructor(message: string, details: ErrorDetails & { retryAfterMs?: number } = {}) {
    super(message, 'RATE_LIMITED', details);
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }
}

/** 502, 503, 504: the service or its Kafka brokers are unavailable for now. */
export class UnavailableError extends EventStreamsError {
  readonly retryAfterMs?: number;
  constructor(message: string, details: ErrorDetails & { retryAfterMs?: number } = {}) {
    super(message, 'UNAVAILABLE', details);
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }
}

/** 500: an internal error on the server; retried because it is usually transient. */
export class ServerError extends EventStreamsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, 'SERVER_ERROR', details);
  }
}

/**
 * 408 from the server, or a connect/headers/body timeout on our side. Retriable, but a retried
 * produce after a timeout may write the record twice (at-least-once).
 */
export class TimeoutError extends EventStreamsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, 'TIMEOUT', details);
  }
}

/** The TCP connection could not be made or was reset. */
export class ConnectionError extends EventStreamsError {
  /** The system error code, e.g. ECONNREFUSED, ECONNRESET, ENOTFOUND. */
  readonly systemCode?: string;
  constructor(message: string, details: ErrorDetails & { systemCode?: string } = {}) {
    super(message, 'CONNECTION_FAILED', details);
    if (details.systemCode !== undefined) this.systemCode = details.systemCode;
  }
}

export type TlsFailureReason =
  'UNKNOWN_CA' | 'HOSTNAME_MISMATCH' | 'EXPIRED' | 'NOT_YET_VALID' | 'CLIENT_CERT' | 'OTHER';

/** The TLS handshake failed. Not retriable: the same certificate will fail the same way. */
export class TlsError extends EventStreamsError {
  readonly reason: TlsFailureReason;
  /** OpenSSL/Node code such as UNABLE_TO_VERIFY_LEAF_SIGNATURE or ERR_TLS_CERT_ALTNAME_INVALID. */
  readonly tlsCode?: string;
  constructor(message: string, reason: TlsFailureReason, details: ErrorDetails & { tlsCode?: string } = {}) {
    super(message, 'TLS_FAILED', details);
    this.reason = reason;
    if (details.tlsCode !== undefined) this.tlsCode = details.tlsCode;
  }
}

/** A response we cannot make sense of (unknown status, unparsable success body). */
export class UnexpectedResponseError extends EventStreamsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, 'UNEXPECTED_RESPONSE', details);
  }
}

/** The client's bounded queue is full; the new record was rejected, nothing already queued was dropped. */
export class QueueFullError extends EventStreamsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, 'QUEUE_FULL', details);
  }
}

/**
 * The durable outbox's disk: full (OUTBOX_FULL: the record was not stored), failing
 * (OUTBOX_IO), or found damaged at open (OUTBOX_DAMAGED: stored records were lost).
 */
export class OutboxStorageError extends EventStreamsError {
  constructor(
    message: string,
    code: 'OUTBOX_FULL' | 'OUTBOX_IO' | 'OUTBOX_DAMAGED',
    details: ErrorDetails = {},
  ) {
    super(message, code, details);
  }
}

/** The client was closed before the record could be sent, or a request was made after close(). */
export class ClosedError extends EventStreamsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, 'CLOSED', details);
  }
}

/**
 * The caller took the record back before it was sent (`client.withdraw`), e.g. to hand it to
 * the next instance of a producer node on a redeploy. Never reaches a flow as a failure.
 */
export class WithdrawnError extends EventStreamsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, 'WITHDRAWN', details);
  }
}

/** The caller aborted the request through its AbortSignal. */
export class AbortedError extends EventStreamsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, 'ABORTED', details);
  }
}

/** Retries (attempts or total time) ran out; `cause` is the last error. */
export class RetriesExhaustedError extends EventStreamsError {
  constructor(message: string, last: EventStreamsError, attempts: number) {
    super(message, 'RETRIES_EXHAUSTED', {
      cause: last,
      attempts,
      ...(last.statusCode !== undefined ? { statusCode: last.statusCode } : {}),
      ...(last.topic !== undefined ? { topic: last.topic } : {}),
      ...(last.incidentId !== undefined ? { incidentId: last.incidentId } : {}),
    });
  }
}

/**
 * Some records of a multi-record message (`msg.records`, or an array payload split into records)
 * failed while the others were written; `cause` is the first failure. The message's
 * `msg.eventstreams.records` says which.
 */
export class PartialFailureError extends EventStreamsError {
  constructor(message: string, first: EventStreamsError, details: ErrorDetails = {}) {
    super(message, 'PARTIAL_FAILURE', { ...details, cause: first });
  }
}

/** A Kafka protocol (kafkajs) failure in the topic-admin path. */
export class KafkaError extends EventStreamsError {
  /** kafkajs's own verdict (leader elections and the like are transient); read by the error model. */
  readonly transient: boolean;
  constructor(message: string, transient: boolean, details: ErrorDetails = {}) {
    super(message, 'KAFKA_ERROR', details);
    this.transient = transient;
  }
}

/**
 * True for errors created by this package, also by another copy of it (the brand is a
 * `Symbol.for`). Foreign errors with a `code` (kafkajs, undici, Node) are never mistaken for ours.
 */
export function isEventStreamsError(err: unknown): err is EventStreamsError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}
