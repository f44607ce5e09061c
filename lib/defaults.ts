// SPDX-License-Identifier: Apache-2.0
/**
 * Every default and limit of the runtime, in one table, each with the reason for its value.
 *
 * Read by the endpoint config (nodes/shared/endpoint-config.ts), the core client (lib/client.ts,
 * lib/retry.ts, lib/encode.ts), the local endpoint (gateway/limits.ts), the editor (the build
 * writes `resources/editor.js` from this module, see scripts/copy-assets.js) and the README (its
 * "Defaults and limits" table is checked against this file by test/lib/defaults.test.ts).
 * Change a value here and nowhere else.
 */

export type Unit = 'count' | 'bytes' | 's' | 'ms' | 'per-second';

export interface Setting {
  /** The default, in `unit`. */
  readonly value: number;
  readonly unit: Unit;
  /** Smallest value accepted from the endpoint config; smaller or unparsable values give the default. */
  readonly min: number;
  /** Fractions are floored. */
  readonly integer: boolean;
  /** Name as the README and the editor show it. */
  readonly label: string;
  /** Why this value. */
  readonly why: string;
  /** The core client option that overrides it, for settings the endpoint config does not expose. */
  readonly option?: string;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * The endpoint config node's numeric fields, keyed by property name and in the units the editor
 * shows (seconds or milliseconds as labelled there). These are also the editor's `defaults`.
 */
export const ENDPOINT_FIELD_DEFAULTS = {
  connections: {
    value: 8,
    unit: 'count',
    min: 1,
    integer: true,
    label: 'Connections',
    why: 'Requests in flight to start with, one keep-alive connection each (POSTs are never pipelined), and the floor the adaptive limit returns to. 8 at 20 ms is 400 msgs/s, above the IBM Cloud plans’ rates.',
  },
  maxConnections: {
    value: 32,
    unit: 'count',
    min: 1,
    integer: true,
    label: 'Maximum connections',
    why: 'Ceiling of the adaptive in-flight limit, which grows past Connections only while records queue behind it and the round trip stays flat. 32 at 80 ms is 400 msgs/s, twice Enterprise’s 200/s; a rate limit caps it at rate × RTT.',
  },
  requestTimeout: {
    value: 30,
    unit: 's',
    min: 0.001,
    integer: false,
    label: 'Request timeout',
    why: 'Wait for response headers, then for the body. Event Streams answers in milliseconds; 30 s rides out a broker leader election.',
  },
  retries: {
    value: 5,
    unit: 'count',
    min: 0,
    integer: true,
    label: 'Retries',
    why: 'Retries after the first attempt for retriable errors: with the default delays, up to about 6 s of waiting. 0 gives at-most-once.',
  },
  retryDelay: {
    value: 200,
    unit: 'ms',
    min: 0,
    integer: false,
    label: 'First retry delay',
    why: 'First backoff, doubled per retry with jitter: long enough not to hammer a struggling server, short enough to hide a blip.',
  },
  maxRetryTime: {
    value: 60,
    unit: 's',
    min: 0,
    integer: false,
    label: 'Maximum retry time',
    why: 'Total time one record may spend including retries, so a message gets an outcome within a minute.',
  },
  queueMessages: {
    value: 1000,
    unit: 'count',
    min: 1,
    integer: true,
    label: 'Queue (messages)',
    why: 'Records waiting behind the in-flight cap. Bounded memory: past it new messages fail with QUEUE_FULL.',
  },
  queueBytes: {
    value: 16 * MiB,
    unit: 'bytes',
    min: 1,
    integer: true,
    label: 'Queue (bytes)',
    why: 'Bytes of keys and values waiting: 256 full-size records, small beside a Node-RED heap.',
  },
  rateLimit: {
    value: 0,
    unit: 'per-second',
    min: 0,
    integer: false,
    label: 'Rate limit',
    why: '0 is unlimited. IBM Cloud plans allow Standard 100/s and Enterprise 200/s (Lite 5/s where its REST producer answers; see Lite plan): set it under yours.',
  },
  maxKeyBytes: {
    value: 4 * KiB,
    unit: 'bytes',
    min: 1,
    integer: true,
    label: 'Key size',
    why: 'IBM Cloud’s fixed limit; on-prem MAX_KEY_SIZE. Checked before sending (KEY_TOO_LARGE).',
  },
  maxValueBytes: {
    value: 64 * KiB,
    unit: 'bytes',
    min: 1,
    integer: true,
    label: 'Value size',
    why: 'IBM Cloud’s fixed limit (v2: the whole JSON envelope); on-prem MAX_MESSAGE_SIZE. Checked before sending (VALUE_TOO_LARGE).',
  },
  closeTimeout: {
    value: 10,
    unit: 's',
    min: 0,
    integer: false,
    label: 'Shutdown wait',
    why: 'Time in-flight records get to finish on redeploy or stop before they fail with CLOSED; capped by the maximum shutdown wait below.',
  },
  outboxMaxBytes: {
    value: 64 * MiB,
    unit: 'bytes',
    min: 1,
    integer: true,
    label: 'Outbox size',
    why: 'Disk bound of the durable outbox: hours of sensor data at typical gateway rates; past it new messages fail with QUEUE_FULL, nothing is evicted.',
  },
} as const satisfies Record<string, Setting>;

/** Defaults and limits of the core that the endpoint config does not expose. */
export const CORE_DEFAULTS = {
  maxUriBytes: {
    value: 10 * KiB,
    unit: 'bytes',
    min: 1,
    integer: true,
    label: 'v1 request URI',
    option: 'limits.maxUriBytes',
    why: 'The on-prem spec’s request-URI limit; v1 sends the key and headers in the query string (URI_TOO_LONG).',
  },
  connectTimeout: {
    value: 10_000,
    unit: 'ms',
    min: 1,
    integer: true,
    label: 'Connect timeout',
    option: 'connectTimeoutMs',
    why: 'TCP and TLS handshake; a reachable endpoint needs far less, an unreachable one should fail fast.',
  },
  maxRetryDelay: {
    value: 10_000,
    unit: 'ms',
    min: 0,
    integer: true,
    label: 'Maximum retry delay',
    option: 'retry.maxDelayMs',
    why: 'Cap on one backoff and on an honoured Retry-After, so one bad header cannot stall a record.',
  },
  maxCloseTimeout: {
    value: 12,
    unit: 's',
    min: 0,
    integer: false,
    label: 'Maximum shutdown wait',
    why: 'Node-RED abandons a close handler after 15 s; stay well inside it so every record still gets its outcome.',
  },
  kafkaMaxConnectTimeout: {
    value: 10_000,
    unit: 'ms',
    min: 1,
    integer: true,
    label: 'Kafka connect timeout (at most)',
    why: 'The Kafka admin connects within the request timeout but never waits longer than this for a broker.',
  },
  consumerMaxInFlight: {
    value: 500,
    unit: 'count',
    min: 1,
    integer: true,
    label: 'Consumer: messages in flight',
    why: 'Consumed messages sent into the flow and not yet handled; at the bound the partitions pause. Bounds memory and the duplicates a crash can cause.',
    option: 'maxInFlight',
  },
  consumerCommitInterval: {
    value: 1000,
    unit: 'ms',
    min: 1,
    integer: true,
    label: 'Consumer: commit interval',
    why: 'Handled offsets are committed this often (and at stop); a crash re-reads at most this long of handled messages.',
  },
  consumerLagInterval: {
    value: 10_000,
    unit: 'ms',
    min: 1,
    integer: true,
    label: 'Consumer: lag refresh',
    why: 'The group lag in the status comes from two admin requests; every 10 s keeps the broker load negligible.',
  },
} as const satisfies Record<string, Setting>;

/**
 * The endpoint config node's choices that are not numbers, with why (the editor's `defaults` too).
 * - `flavour` v1: served by IBM Cloud and every on-prem release; v2 needs IAM on IBM Cloud.
 * - `authMode` bearer: the API key as Bearer works on IBM Cloud v1/admin and on-prem 2019.x.
 * - `saslMechanism` plain: IBM Cloud's Kafka listeners (user `token`, the API key as password).
 *   `none` (no SASL, for PLAINTEXT/TLS-only listeners) is only ever chosen explicitly.
 * - `verifyTls`, `brokersTls` true: TLS verification stays on unless a user turns it off, loudly.
 * - `outbox` false: the durable outbox writes to disk; opt in where a gateway goes offline.
 * - `orderByKey` true: like Kafka's idempotent producer, records of one key keep input order through
 *   retries; unkeyed records are never held back. Its cost over REST is one request at a time per
 *   key, about 1/RTT msgs/s for one key: the bench's `node-one-key-20ms` row did 46 msgs/s against
 *   366 for `node-8-keys-20ms` (load 4.6 on 2 cores; issue #25 measured 47 against 373 on a quiet
 *   machine), so one key is held to 1/RTT while eight keys reach the connections' ceiling. It stays on because lost order is silent and cannot be repaired downstream, while the
 *   cost is now visible (the status shows "N waiting behind key order") and has two fixes: order
 *   off for one-key-per-device flows, or the Kafka transport, whose idempotent producer keeps order
 *   with several requests in flight.
 * - `transport` rest: the REST Producer API, what every flow saved before the Kafka transport
 *   used; `kafka` (the Kafka protocol, lib/kafka-sender.ts) is chosen per endpoint.
 */
export const ENDPOINT_CHOICE_DEFAULTS = {
  transport: 'rest',
  flavour: 'v1',
  authMode: 'bearer',
  saslMechanism: 'plain',
  verifyTls: true,
  brokersTls: true,
  outbox: false,
  orderByKey: true,
} as const;

/**
 * How long every connection must stay busy with records queued behind them before the producer's
 * status says "all N connections busy: raise Maximum connections". Long enough that a burst filling the
 * queue for a moment does not flap the status; short enough to show within one status refresh
 * cycle of a sustained cap (throughput is then connections ÷ round-trip time).
 */
export const CONNECTIONS_BUSY_HINT_MS = 5000;

/** A setting's value in milliseconds (for `s` and `ms` settings). */
export function ms(setting: Setting): number {
  if (setting.unit === 's') return setting.value * 1000;
  if (setting.unit === 'ms') return setting.value;
  throw new TypeError(`${setting.label} is not a duration`);
}

/** Endpoint field name → default value: the editor's `defaults` values. */
export function endpointFieldValues(): Record<keyof typeof ENDPOINT_FIELD_DEFAULTS, number> {
  const out = {} as Record<keyof typeof ENDPOINT_FIELD_DEFAULTS, number>;
  for (const [name, s] of Object.entries(ENDPOINT_FIELD_DEFAULTS)) {
    out[name as keyof typeof ENDPOINT_FIELD_DEFAULTS] = s.value;
  }
  return out;
}
