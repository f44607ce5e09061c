// SPDX-License-Identifier: Apache-2.0
/**
 * Turns the endpoint config node's properties and credentials into core client options.
 * Pure functions, so the runtime node, the editor's "Test connection" route and the tests share
 * one translation.
 */
import { ValidationError } from '../../lib/errors';
import type {
  AuthOptions,
  ClientOptions,
  KafkaAdminOptions,
  ProxyOptions,
  TlsOptions,
} from '../../lib/types';
import type { AuthMode, EndpointCredentials, EndpointOptions, SaslMechanism } from './types';

export const AUTH_MODES: readonly AuthMode[] = [
  'bearer',
  'basic-token',
  'iam',
  'basic',
  'client-cert',
  'none',
];
export const SASL_MECHANISMS: readonly SaslMechanism[] = ['plain', 'scram-sha-512', 'scram-sha-256'];

/** Node-RED's close handler is abandoned after 15 s; stay well inside it. */
export const MAX_CLOSE_TIMEOUT_MS = 12_000;

/** Defaults of every endpoint property, also the editor's `defaults` values. */
export const ENDPOINT_DEFAULTS: EndpointOptions = {
  name: '',
  url: '',
  adminUrl: '',
  flavour: 'v1',
  authMode: 'bearer',
  iamUrl: '',
  verifyTls: true,
  brokers: '',
  saslMechanism: 'plain',
  brokersTls: true,
  connections: 8,
  requestTimeout: 30,
  retries: 5,
  retryDelay: 200,
  maxRetryTime: 60,
  queueMessages: 1000,
  queueBytes: 16 * 1024 * 1024,
  rateLimit: 0,
  maxKeyBytes: 4096,
  maxValueBytes: 65536,
  closeTimeout: 10,
  outbox: false,
  outboxDir: '',
  outboxMaxBytes: 64 * 1024 * 1024,
  proxy: '',
};

/** Endpoint options with numbers parsed and defaults filled in. */
export interface NormalizedEndpointOptions {
  url: string;
  adminUrl: string;
  flavour: 'v1' | 'v2';
  authMode: AuthMode;
  iamUrl: string;
  verifyTls: boolean;
  brokers: string[];
  saslMechanism: SaslMechanism;
  brokersTls: boolean;
  connections: number;
  requestTimeoutMs: number;
  retries: number;
  retryDelayMs: number;
  maxRetryTimeMs: number;
  queueMessages: number;
  queueBytes: number;
  rateLimit: number;
  maxKeyBytes: number;
  maxValueBytes: number;
  closeTimeoutMs: number;
  outbox: boolean;
  outboxDir: string;
  outboxMaxBytes: number;
}

function num(value: unknown, fallback: number, min: number): number {
  if (value === '' || value === null || value === undefined) return fallback;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  return Number.isFinite(n) && n >= min ? n : fallback;
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
  // The runtime has already replaced `${VAR}` where VAR is set; the editor's Test connection
  // sends the fields as typed, so they are resolved here the same way.
  const envStr = (v: unknown): string => substituteEnv(str(v)) ?? '';
  // An optional URL naming an unset variable counts as not given (IBM Cloud defaults apply).
  const optional = (v: unknown): string => {
    const s = envStr(v);
    return unsetEnvReference(s) ? '' : s;
  };
  const url = envStr(def.url);
  const authMode = AUTH_MODES.includes(def.authMode as AuthMode) ? (def.authMode as AuthMode) : 'bearer';
  const sasl = SASL_MECHANISMS.includes(def.saslMechanism as SaslMechanism)
    ? (def.saslMechanism as SaslMechanism)
    : 'plain';
  return {
    url,
    adminUrl: optional(def.adminUrl) || url,
    flavour: def.flavour === 'v2' ? 'v2' : 'v1',
    authMode,
    iamUrl: optional(def.iamUrl),
    verifyTls: bool(def.verifyTls, true),
    brokers: parseBrokers(def.brokers),
    saslMechanism: sasl,
    brokersTls: bool(def.brokersTls, true),
    connections: Math.floor(num(def.connections, 8, 1)),
    requestTimeoutMs: num(def.requestTimeout, 30, 0.001) * 1000,
    retries: Math.floor(num(def.retries, 5, 0)),
    retryDelayMs: num(def.retryDelay, 200, 0),
    maxRetryTimeMs: num(def.maxRetryTime, 60, 0) * 1000,
    queueMessages: Math.floor(num(def.queueMessages, 1000, 1)),
    queueBytes: Math.floor(num(def.queueBytes, 16 * 1024 * 1024, 1)),
    rateLimit: num(def.rateLimit, 0, 0),
    maxKeyBytes: Math.floor(num(def.maxKeyBytes, 4096, 1)),
    maxValueBytes: Math.floor(num(def.maxValueBytes, 65536, 1)),
    closeTimeoutMs: Math.min(num(def.closeTimeout, 10, 0) * 1000, MAX_CLOSE_TIMEOUT_MS),
    outbox: bool(def.outbox, false),
    outboxDir: str(def.outboxDir),
    outboxMaxBytes: Math.floor(num(def.outboxMaxBytes, 64 * 1024 * 1024, 1)),
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

function requireCred(value: unknown, what: string): string {
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
    requestTimeoutMs: options.requestTimeoutMs,
    retry: {
      retries: options.retries,
      initialDelayMs: options.retryDelayMs,
      maxRetryTimeMs: options.maxRetryTimeMs,
    },
    queue: { maxMessages: options.queueMessages, maxBytes: options.queueBytes },
    rateLimit: options.rateLimit,
    limits: { maxKeyBytes: options.maxKeyBytes, maxValueBytes: options.maxValueBytes },
    ...(proxy ? { proxy } : {}),
  };
}

/**
 * Kafka-protocol admin options from the same settings: an API key becomes SASL PLAIN user `token`
 * (IBM Cloud), username/password go to the chosen mechanism (on-prem SCRAM), a client certificate
 * means mutual TLS without SASL.
 */
export function buildKafkaAdminOptions(
  options: NormalizedEndpointOptions,
  creds: EndpointCredentials,
): KafkaAdminOptions {
  if (options.brokers.length === 0) {
    throw new ValidationError('The endpoint configuration has no Kafka brokers', 'INVALID_CONFIG');
  }
  const result: KafkaAdminOptions = {
    brokers: options.brokers,
    clientId: 'node-red-event-streams',
    connectionTimeoutMs: Math.min(options.requestTimeoutMs, 10_000),
    requestTimeoutMs: options.requestTimeoutMs,
  };
  if (options.brokersTls) result.ssl = buildTlsOptions(options, creds);
  switch (options.authMode) {
    case 'bearer':
    case 'basic-token':
    case 'iam':
      result.sasl = {
        mechanism: options.saslMechanism,
        username: 'token',
        password: requireCred(creds.apiKey, 'API key'),
      };
      break;
    case 'basic':
      result.sasl = {
        mechanism: options.saslMechanism,
        username: requireCred(creds.username, 'username'),
        password: requireCred(creds.password, 'password'),
      };
      break;
    default:
      break;
  }
  return result;
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
