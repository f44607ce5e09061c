// SPDX-License-Identifier: Apache-2.0
/**
 * The local endpoint's defaults and limits, in one place so the router and every route module read
 * the same numbers (server.ts re-exports the public ones, which the CLI and tests import from there).
 */

/** Defaults of the documented limits (IBM Cloud fixed values; on-prem MAX_KEY_SIZE/MAX_MESSAGE_SIZE). */
export const DEFAULT_MAX_KEY_BYTES = 4096;
export const DEFAULT_MAX_MESSAGE_BYTES = 65536;
export const DEFAULT_MAX_URI_BYTES = 10240;
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

export const ADMIN_MAX_BODY = 64 * 1024;
export const IAM_MAX_BODY = 16 * 1024;
export const LOCAL_READ_DEFAULT_LIMIT = 1000;
export const LOCAL_READ_MAX_LIMIT = 100_000;

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
