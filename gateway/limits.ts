// SPDX-License-Identifier: Apache-2.0
/**
 * The local endpoint's defaults and limits, in one place so the router and every route module read
 * the same numbers (server.ts re-exports the public ones, which the CLI and tests import from there).
 */

import { CORE_DEFAULTS, ENDPOINT_FIELD_DEFAULTS } from '../lib/server-kit';

/** Defaults of the documented limits: the client's, from lib/defaults.ts (IBM Cloud fixed values). */
export const DEFAULT_MAX_KEY_BYTES = ENDPOINT_FIELD_DEFAULTS.maxKeyBytes.value;
export const DEFAULT_MAX_MESSAGE_BYTES = ENDPOINT_FIELD_DEFAULTS.maxValueBytes.value;
export const DEFAULT_MAX_URI_BYTES = CORE_DEFAULTS.maxUriBytes.value;
export const DEFAULT_PORT = 9443;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_TOKEN_LIFETIME_SEC = 3600;
/** OpenAPI `partition_count` maximum; IBM Cloud plans cap lower or higher, 422 past the cap. */
export const MAX_PARTITIONS = 1000;
/** Admin list page size when `per_page` is absent (undocumented by IBM; our choice). */
export const DEFAULT_PER_PAGE = 100;
export const MAX_PER_PAGE = 1000;
/** IBM Cloud allows topic names up to 200 characters (Kafka itself allows 249). */
export const MAX_TOPIC_NAME = 200;

/** Connection defaults: a socket that sends nothing is gone within 20 s (TLS: 10 s). */
export const DEFAULT_MAX_CONNECTIONS = 1024;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 20_000;
export const DEFAULT_HEADERS_TIMEOUT_MS = 20_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** Benchmarks keep connections idle between bursts; Node's 5 s default would churn them. */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 30_000;

export const ADMIN_MAX_BODY = 64 * 1024;
/**
 * The batch route (a gateway extension): records per request and bytes per request body. 1,000
 * records of a few hundred bytes fill a few Kafka produce requests of the Kafka backend's 768 KiB;
 * 8 MiB bounds what one request can make the gateway hold while it parses.
 */
export const MAX_BATCH_RECORDS = 1000;
export const MAX_BATCH_BODY = 8 * 1024 * 1024;
export const IAM_MAX_BODY = 16 * 1024;
export const LOCAL_READ_DEFAULT_LIMIT = 1000;
export const LOCAL_READ_MAX_LIMIT = 100_000;

/**
 * Schema registry fair use, per principal: new versions proposed per second (a token bucket with
 * this burst), artifacts one Writer may create through produce, and artifacts kept for Managers
 * however many Writers register. Re-sending a registered schema costs nothing.
 */
export const REGISTRY_PRINCIPAL_PER_SEC = 5;
export const REGISTRY_PRINCIPAL_BURST = 20;
export const REGISTRY_WRITER_MAX_ARTIFACTS = 100;
export const REGISTRY_MANAGER_RESERVED = 200;
/**
 * A Writer's registrations past its rate wait in its queue (a timer, no CPU) up to this long;
 * past that, or with more than REGISTRY_WRITER_QUEUE waiting, they are refused with 429.
 */
export const REGISTRY_MAX_WAIT_MS = 2000;
/**
 * A Writer's registrations may use this many milliseconds of the event loop per second (5% of
 * one core), measured (parsing, compatibility checks) and paid back by waiting before the next.
 */
export const REGISTRY_WRITER_CPU_MS_PER_SEC = 50;
export const REGISTRY_WRITER_CPU_BURST_MS = 250;
export const REGISTRY_WRITER_QUEUE = 8;
/** The file log is rewritten as a snapshot once it holds this many entries past the last one. */
export const REGISTRY_FILE_COMPACT_ENTRIES = 1000;

/**
 * Response bytes one connection may have waiting: a pipelined request is not handled until the
 * answers before it have been handed to the socket and the socket's buffer is below this, and
 * past {@link MAX_PIPELINED} waiting requests the connection is not read. A client that pipelines
 * and never reads holds about one answer plus this, not one answer per request.
 */
export const MAX_CONNECTION_BUFFERED_BYTES = 1024 * 1024;
export const MAX_PIPELINED = 16;
/**
 * After answering a request whose body we refused (413/400 for its size), the rest of a body up to
 * this many bytes is read and discarded so the client reads our answer instead of a reset; a
 * larger body (declared or streamed) closes the connection.
 */
export const DISCARD_BODY_MAX_BYTES = 16 * 1024 * 1024;
export const DISCARD_BODY_MAX_MS = 10_000;
export const DISCARD_IDLE_MS = 1000;

/**
 * TLS 1.2 suites: forward-secret AEAD only (ECDHE with AES-GCM or ChaCha20-Poly1305); TLS 1.3's
 * suites are all of that kind and are listed first, as Node's defaults.
 */
export const TLS_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

const TOPIC_NAME_RE = /^[a-zA-Z0-9._-]+$/;

/** The Admin REST topic-name rule; produce auto-creation applies it too, so both agree. */
export function validTopicName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= MAX_TOPIC_NAME &&
    name !== '.' &&
    name !== '..' &&
    TOPIC_NAME_RE.test(name)
  );
}

/** Deepest nesting of arrays and objects accepted in a JSON request body. */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether JSON text nests arrays/objects deeper than `max`, by one linear scan (strings skipped).
 * Checked before parsing: a deeply nested value parses, but re-serialising it overflows the stack.
 */
export function jsonTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \\ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > max) return true;
    } else if (c === 93 /* ] */ || c === 125 /* } */) {
      depth--;
    }
  }
  return false;
}
