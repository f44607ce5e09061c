// SPDX-License-Identifier: Apache-2.0
/**
 * Turns the endpoint config node's properties and credentials into core client options.
 * Pure functions, so the runtime node, the editor's "Test connection" route and the tests share
 * one translation.
 */
import {
  CORE_DEFAULTS,
  ENDPOINT_CHOICE_DEFAULTS as C,
  ENDPOINT_FIELD_DEFAULTS as F,
  ms,
  type Setting,
} from '../../lib/defaults';
import { ValidationError } from '../../lib/errors';
import { numberOr } from '../../lib/numbers';
import type { AuthOptions, ClientOptions, ProxyOptions, TlsOptions } from '../../lib/types';
import type { AuthMode, EndpointCredentials, EndpointOptions, SaslMechanism } from './types';

export const AUTH_MODES: readonly AuthMode[] = [
  'bearer',
  'basic-token',
  'iam',
  'basic',
  'client-cert',
  'none',
];
export const SASL_MECHANISMS: readonly SaslMechanism[] = [
  'plain',
  'scram-sha-512',
  'scram-sha-256',
  'oauthbearer',
  'none',
];

/** Node-RED's close handler is abandoned after 15 s; stay well inside it (see lib/defaults.ts). */
export const MAX_CLOSE_TIMEOUT_MS = ms(CORE_DEFAULTS.maxCloseTimeout);

/** Endpoint options with numbers parsed and defaults filled in. */
export interface NormalizedEndpointOptions {
  transport: 'rest' | 'kafka';
  url: string;
  adminUrl: string;
  /** The Confluent-compatible registry API as given; blank: `{url}/confluent` if `url` is set. */
  registryUrl: string;
  flavour: 'v1' | 'v2';
  authMode: AuthMode;
  iamUrl: string;
  verifyTls: boolean;
  brokers: string[];
  saslMechanism: SaslMechanism;
  brokersTls: boolean;
  connections: number;
  /** Ceiling of the adaptive in-flight limit, at least `connections`. */
  maxConnections: number;
  requestTimeoutMs: number;
  retries: number;
  retryDelayMs: number;
  maxRetryTimeMs: number;
  queueMessages: number;
  queueBytes: number;
  rateLimit: number;
  /** Keep records of one key in input order through retries (the client's `orderByKey`). */
  orderByKey: boolean;
  maxKeyBytes: number;
  maxValueBytes: number;
  closeTimeoutMs: number;
  outbox: boolean;
  outboxDir: string;
  outboxMaxBytes: number;
}

/** An endpoint field typed into the editor, read with its default and minimum from lib/defaults.ts. */
function num(value: unknown, setting: Setting): number {
  const n = numberOr(value, setting.value, setting.min);
  return setting.integer ? Math.floor(n) : n;
}

function bool(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  return value === true || value === 'true';
}

/** Splits a broker list typed as `a:9093, b:9093` or one per line. */
export function parseBrokers(value: unknown): string[] {
  if (Array.isArray(value))
    return value
      .map(String)
      .map((s) => s.trim())
      .filter(Boolean);
  if (typeof value !== 'string') return [];
  return value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Parses the (possibly partial, possibly string-typed) properties of an endpoint node. */
export function normalizeEndpointOptions(
  def: Partial<Record<keyof EndpointOptions, unknown>>,
): NormalizedEndpointOptions {
  const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');
  // An optional URL naming an unset variable counts as not given (IBM Cloud defaults apply). No
  // `${VAR}` is looked up here: stored values got Node-RED's env handling when the node was
  // created, and values from an editor request are used literally (nodes/shared/editor-request.ts).
  const optional = (v: unknown): string => {
    const s = str(v);
    return unsetEnvReference(s) ? '' : s;
  };
  const url = str(def.url);
  const authMode = AUTH_MODES.includes(def.authMode as AuthMode) ? (def.authMode as AuthMode) : C.authMode;
  const sasl = SASL_MECHANISMS.includes(def.saslMechanism as SaslMechanism)
    ? (def.saslMechanism as SaslMechanism)
    : C.saslMechanism;
  return {
    transport: def.transport === 'kafka' || def.transport === 'rest' ? def.transport : C.transport,
    url,
    adminUrl: optional(def.adminUrl) || url,
    registryUrl: optional(def.registryUrl),
    flavour: def.flavour === 'v1' || def.flavour === 'v2' ? def.flavour : C.flavour,
    authMode,
    iamUrl: optional(def.iamUrl),
    verifyTls: bool(def.verifyTls, C.verifyTls),
    brokers: parseBrokers(def.brokers),
    saslMechanism: sasl,
    brokersTls: bool(def.brokersTls, C.brokersTls),
    connections: num(def.connections, F.connections),
    maxConnections: Math.max(num(def.maxConnections, F.maxConnections), num(def.connections, F.connections)),
    requestTimeoutMs: num(def.requestTimeout, F.requestTimeout) * 1000,
    retries: num(def.retries, F.retries),
    retryDelayMs: num(def.retryDelay, F.retryDelay),
    maxRetryTimeMs: num(def.maxRetryTime, F.maxRetryTime) * 1000,
    queueMessages: num(def.queueMessages, F.queueMessages),
    queueBytes: num(def.queueBytes, F.queueBytes),
    rateLimit: num(def.rateLimit, F.rateLimit),
    orderByKey: bool(def.orderByKey, C.orderByKey),
    maxKeyBytes: num(def.maxKeyBytes, F.maxKeyBytes),
    maxValueBytes: num(def.maxValueBytes, F.maxValueBytes),
    closeTimeoutMs: Math.min(num(def.closeTimeout, F.closeTimeout) * 1000, MAX_CLOSE_TIMEOUT_MS),
    outbox: bool(def.outbox, C.outbox),
    outboxDir: str(def.outboxDir),
    outboxMaxBytes: num(def.outboxMaxBytes, F.outboxMaxBytes),
  };
}

/** A credential or field still reading `${VAR}`: VAR was not set when the flow started. */
function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && !unsetEnvReference(value) ? value : undefined;
}

/** TLS options for REST and Kafka alike; the same CA and client certificate serve both. */
export function buildTlsOptions(options: NormalizedEndpointOptions, creds: EndpointCredentials): TlsOptions {
  const tls: TlsOptions = { rejectUnauthorized: options.verifyTls };
  const ca = text(creds.ca)?.trim();
  if (ca) tls.ca = ca;
  if (options.authMode === 'client-cert') {
    const pfx = text(creds.pfx)?.trim();
    if (pfx) {
      tls.pfx = Buffer.from(pfx, 'base64');
    } else {
      const cert = text(creds.clientCert);
      const key = text(creds.clientKey);
      if (cert) tls.cert = cert;
      if (key) tls.key = key;
    }
    const passphrase = text(creds.passphrase);
    if (passphrase) tls.passphrase = passphrase;
  }
  return tls;
}

/** A credential the chosen auth mode needs; throws INVALID_CONFIG naming it when missing. */
export function requireCred(value: unknown, what: string): string {
  const v = text(value);
  const unset = unsetEnvReference(value);
  if (unset) {
    throw new ValidationError(
      `The endpoint's ${what} is \${${unset}}, but ${unset} is not set in Node-RED's environment`,
      'INVALID_CONFIG',
    );
  }
  if (!v) throw new ValidationError(`The endpoint configuration has no ${what}`, 'INVALID_CONFIG');
  return v;
}

/** The auth part of the client options; throws INVALID_CONFIG when a needed credential is missing. */
export function buildAuthOptions(
  options: NormalizedEndpointOptions,
  creds: EndpointCredentials,
): AuthOptions {
  switch (options.authMode) {
    case 'bearer':
      return { mode: 'bearer', apiKey: requireCred(creds.apiKey, 'API key') };
    case 'basic-token':
      return { mode: 'basic-token', apiKey: requireCred(creds.apiKey, 'API key') };
    case 'iam':
      return {
        mode: 'iam',
        apiKey: requireCred(creds.apiKey, 'API key'),
        ...(options.iamUrl ? { iamUrl: options.iamUrl } : {}),
      };
    case 'basic':
      return {
        mode: 'basic',
        username: requireCred(creds.username, 'username'),
        password: requireCred(creds.password, 'password'),
      };
    case 'client-cert':
      if (!text(creds.pfx) && !(text(creds.clientCert) && text(creds.clientKey))) {
        throw new ValidationError(
          'The endpoint configuration has no client certificate and key (or PKCS#12 bundle)',
          'INVALID_CONFIG',
        );
      }
      return { mode: 'client-cert' };
    default:
      return { mode: 'none' };
  }
}

/**
 * The proxy from Node-RED's core `http proxy` config node (its URL, no-proxy list and
 * credentials replace the environment, as for the core http request node); undefined to use
 * http_proxy/https_proxy/no_proxy.
 */
export function proxyFromConfigNode(
  node: { url?: unknown; noproxy?: unknown; credentials?: { username?: unknown; password?: unknown } } | null,
): ProxyOptions | undefined {
  if (!node || typeof node.url !== 'string' || !node.url.trim()) return undefined;
  const out: ProxyOptions = {
    url: node.url.trim(),
    noProxy: Array.isArray(node.noproxy) ? node.noproxy.map(String).filter(Boolean) : [],
  };
  const username = text(node.credentials?.username);
  const password = text(node.credentials?.password);
  if (username) out.username = username;
  if (password) out.password = password;
  return out;
}

/** Full core client options for an endpoint config. Throws INVALID_CONFIG for an unusable config. */
export function buildClientOptions(
  options: NormalizedEndpointOptions,
  creds: EndpointCredentials,
  proxy?: ProxyOptions,
): ClientOptions {
  if (!options.url) throw new ValidationError('The endpoint configuration has no URL', 'INVALID_CONFIG');
  const unsetUrl = unsetEnvReference(options.url);
  if (unsetUrl) {
    throw new ValidationError(
      `The endpoint URL is \${${unsetUrl}}, but ${unsetUrl} is not set in Node-RED's environment`,
      'INVALID_CONFIG',
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch {
    throw new ValidationError(`The endpoint URL is not a valid URL`, 'INVALID_CONFIG');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new ValidationError('The endpoint URL must start with https:// or http://', 'INVALID_CONFIG');
  }
  return {
    url: options.url,
    adminUrl: options.adminUrl || options.url,
    flavour: options.flavour,
    auth: buildAuthOptions(options, creds),
    tls: buildTlsOptions(options, creds),
    connections: options.connections,
    maxConnections: options.maxConnections,
    requestTimeoutMs: options.requestTimeoutMs,
    retry: {
      retries: options.retries,
      initialDelayMs: options.retryDelayMs,
      maxRetryTimeMs: options.maxRetryTimeMs,
    },
    queue: { maxMessages: options.queueMessages, maxBytes: options.queueBytes },
    rateLimit: options.rateLimit,
    orderByKey: options.orderByKey,
    limits: { maxKeyBytes: options.maxKeyBytes, maxValueBytes: options.maxValueBytes },
    ...(proxy ? { proxy } : {}),
  };
}

/**
 * Client options for the Confluent-compatible registry Avro over Kafka and the consumer use: the
 * endpoint's auth, TLS and retry settings against `registryUrl` (its own session, since that URL
 * is usually another host than the REST one), or undefined when it is blank, to use the REST
 * session's `{url}/confluent`. Throws INVALID_CONFIG for an unusable URL.
 */
export function buildRegistryClientOptions(
  options: NormalizedEndpointOptions,
  creds: EndpointCredentials,
  proxy?: ProxyOptions,
): ClientOptions | undefined {
  if (!options.registryUrl) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(options.registryUrl);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    throw new ValidationError(
      'The schema registry URL must be a URL starting with https:// or http://',
      'INVALID_CONFIG',
    );
  }
  const base = buildClientOptions(
    { ...options, url: options.registryUrl, adminUrl: options.registryUrl },
    creds,
    proxy,
  );
  return { ...base, confluentUrl: options.registryUrl };
}

/** Whole-string `${VAR}` substitution, as Node-RED does for credentials it attaches to nodes. */
export function substituteEnv(value: string | undefined): string | undefined {
  if (typeof value !== 'string') return value;
  const m = /^\$\{(\S+)\}$/.exec(value) ?? /^\$\((\S+)\)$/.exec(value);
  if (m && m[1] !== undefined && process.env[m[1]] !== undefined) return process.env[m[1]];
  return value;
}

/** The variable name when `value` is a whole-string `${VAR}` / `$(VAR)` reference left unresolved. */
export function unsetEnvReference(value: unknown): string | undefined {
  if (typeof value !== 'string' || value[0] !== '$') return undefined;
  const m = /^\$\{(\S+)\}$/.exec(value) ?? /^\$\((\S+)\)$/.exec(value);
  return m?.[1];
}

/**
 * Server-owned choices, from settings.js (declared with the endpoint type, so Node-RED knows
 * them; none is exported to the editor). One place for their names and defaults.
 */
export const SERVER_SETTINGS = {
  /** Base directory of every outbox; default `<userDir>/event-streams-outbox`. */
  outboxDir: 'eventStreamsEndpointOutboxDir',
  /** Upper bound of any one outbox in bytes; the editor's limit is capped to it. Default 1 GiB. */
  outboxMaxBytes: 'eventStreamsEndpointOutboxMaxBytes',
  /** false: configs that turn TLS verification off are refused. Default true. */
  allowInsecureTls: 'eventStreamsEndpointAllowInsecureTls',
} as const;
export const DEFAULT_SERVER_OUTBOX_MAX_BYTES = 1024 * 1024 * 1024;

/** What an outbox directory field may hold: one subdirectory name, never a path. */
const OUTBOX_SUBDIR = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

/**
 * The outbox subdirectory an editor user chose (blank: the config node id), validated so that
 * caller-supplied text never becomes a path: no separators, no `..`, no absolute paths.
 */
export function outboxSubdirectory(value: string, nodeId: string): string {
  const name = value.trim() || nodeId;
  if (!OUTBOX_SUBDIR.test(name)) {
    throw new ValidationError(
      `The outbox directory must be a subdirectory name (letters, digits, '.', '_' and '-', up to 64), not '${name.slice(0, 80)}'; ` +
        `its base directory is set in settings.js (${SERVER_SETTINGS.outboxDir})`,
      'INVALID_CONFIG',
    );
  }
  return name;
}
