// SPDX-License-Identifier: Apache-2.0
/**
 * Input checks that run before any network call. Each failure is a {@link ValidationError} with
 * its own code, so callers can tell a bad topic from an oversized value without parsing messages.
 */
import { ValidationError } from './errors';

/**
 * Longest topic name accepted client-side. Kafka's own limit is 249 characters; IBM Cloud's Admin
 * REST API further limits names to 200, but on-prem clusters accept up to 249, so the client
 * allows 249 and leaves the stricter IBM Cloud rule to the server (which answers 400/422).
 */
export const MAX_TOPIC_NAME_LENGTH = 249;

const TOPIC_CHARS = /^[a-zA-Z0-9._-]+$/;

/**
 * Returns `name` when it is a legal Kafka topic name: 1..249 characters from `[a-zA-Z0-9._-]`,
 * and neither `.` nor `..`. Throws `ValidationError('INVALID_TOPIC')` otherwise.
 */
export function validateTopicName(name: unknown): string {
  if (typeof name !== 'string') {
    throw new ValidationError(`The topic name must be a string, not ${describeType(name)}.`, 'INVALID_TOPIC');
  }
  if (name.length === 0) throw new ValidationError('The topic name is empty.', 'INVALID_TOPIC');
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    throw new ValidationError(
      `The topic name is ${name.length} characters long; the limit is ${MAX_TOPIC_NAME_LENGTH}.`,
      'INVALID_TOPIC',
    );
  }
  if (name === '.' || name === '..') {
    throw new ValidationError(`"${name}" is not allowed as a topic name.`, 'INVALID_TOPIC');
  }
  if (!TOPIC_CHARS.test(name)) {
    throw new ValidationError(
      `The topic name "${printable(name)}" contains characters Kafka does not allow; use only letters, digits, ".", "_" and "-".`,
      'INVALID_TOPIC',
      { topic: printable(name) },
    );
  }
  return name;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * True when `s` is valid UTF-16 (no unpaired surrogate halves). Such strings cannot be encoded as
 * UTF-8 without silently turning the half into U+FFFD, which would corrupt keys and headers.
 */
export function isWellFormedString(s: string): boolean {
  // String.prototype.isWellFormed exists from Node 20 (V8 11.1), but the TypeScript lib is ES2022.
  const native = (s as unknown as { isWellFormed?: () => boolean }).isWellFormed;
  return typeof native === 'function' ? native.call(s) : !LONE_SURROGATE.test(s);
}

/** A short description of a value's type for error messages (never the value itself). */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (Buffer.isBuffer(value)) return 'a Buffer';
  const t = typeof value;
  return t === 'object' ? 'an object' : `a ${t}`;
}

/** Keeps user input out of messages at a readable length and without control characters. */
export function printable(s: string, max = 80): string {
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/**
 * A REST base URL (producer, admin, registry), checked once for every API: http(s), no
 * credentials, no query or fragment. Its path is kept as the API's prefix ({@link basePathOf}).
 */
export function parseBaseUrl(value: unknown, field: string): URL {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ValidationError(`${field} is required (the REST endpoint's https:// URL).`, 'INVALID_CONFIG');
  }
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ValidationError(`${field} is not a valid URL.`, 'INVALID_CONFIG');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ValidationError(
      `${field} must start with https:// (or http:// for a plain local endpoint).`,
      'INVALID_CONFIG',
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new ValidationError(
      `${field} must not contain credentials; use the auth options.`,
      'INVALID_CONFIG',
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw new ValidationError(`${field} must not contain a query string or fragment.`, 'INVALID_CONFIG');
  }
  return url;
}

/** The path prefix of a base URL, without a trailing slash (usually empty). */
export function basePathOf(url: URL): string {
  return url.pathname.replace(/\/+$/, '');
}

/** Kept here for the modules that import it from validate; the number parsers live in lib/numbers.ts. */
export { positiveInt } from './numbers';
