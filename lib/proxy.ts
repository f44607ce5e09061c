// SPDX-License-Identifier: Apache-2.0
/**
 * HTTP(S) proxies, chosen the way Node-RED's own http request node chooses them
 * (@node-red/nodes/core/network/lib/proxyHelper.js, "strict" mode): `https_proxy` / `http_proxy`
 * by the target's scheme, then `npm_config_proxy` and `all_proxy`, each also in upper case and as
 * `npm_config_*`; `no_proxy` (exact host, `.suffix` or `*suffix`, optional `:port`, or `*`)
 * exempts hosts. Loopback is not exempt unless listed, as in Node-RED. An explicit proxy (the
 * endpoint's reference to Node-RED's `http proxy` config node) replaces the environment.
 *
 * Requests to a proxied origin go through undici's ProxyAgent: an HTTP CONNECT tunnel, then TLS
 * to the target with the same CA, client certificate and verification as a direct connection.
 * The producer, the Admin REST API and IAM all reach their origins through this.
 */
import type { ConnectionOptions } from 'node:tls';

import { ProxyAgent, type Dispatcher } from 'undici';

import { ValidationError } from './errors';
import type { ProxyOptions } from './types';

export type { ProxyOptions };

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

function envValue(env: Record<string, string | undefined>, key: string): string {
  return env[key.toLowerCase()] || env[key.toUpperCase()] || '';
}

/** Whether `hostname:port` is not exempted by a no_proxy list (Node-RED's shouldProxy). */
export function shouldProxy(hostname: string, port: number, noProxy: string): boolean {
  const list = noProxy.toLowerCase();
  if (!list) return true;
  if (list === '*') return false;
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return list.split(/[,\s]/).every((entry) => {
    if (!entry) return true;
    const m = /^(.+):(\d+)$/.exec(entry);
    let name = m ? m[1]! : entry;
    const entryPort = m ? Number(m[2]) : 0;
    if (entryPort && entryPort !== port) return true;
    name = name.replace(/^\[(.*)\]$/, '$1');
    if (!/^[.*]/.test(name)) return host !== name;
    if (name.startsWith('*')) name = name.slice(1);
    return !host.endsWith(name);
  });
}

/** The proxy URL for `target`, or undefined to connect directly. */
export function proxyForUrl(target: string, options: ProxyOptions = {}): string | undefined {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return undefined;
  }
  const proto = url.protocol.replace(/:$/, '');
  if (!url.hostname || !(proto in DEFAULT_PORTS)) return undefined;
  const port = Number(url.port) || DEFAULT_PORTS[proto]!;
  let proxy: string;
  let noProxy: string;
  if (options.url) {
    proxy = options.url;
    noProxy = (options.noProxy ?? []).join(',');
  } else {
    if (options.env === false) return undefined;
    const env = options.env ?? process.env;
    noProxy = envValue(env, 'npm_config_no_proxy') || envValue(env, 'no_proxy');
    proxy =
      envValue(env, `npm_config_${proto}_proxy`) ||
      envValue(env, `${proto}_proxy`) ||
      envValue(env, 'npm_config_proxy') ||
      envValue(env, 'all_proxy');
  }
  if (!proxy || !shouldProxy(url.hostname, port, noProxy)) return undefined;
  return proxy.includes('://') ? proxy : `${proto}://${proxy}`;
}

/** Pool settings the proxied dispatcher shares with a direct one. */
export interface ProxiedPoolOptions {
  connections: number;
  headersTimeout: number;
  bodyTimeout: number;
  maxResponseSize: number;
  connectTimeoutMs: number;
}

/**
 * A dispatcher for `origin` through its proxy, or undefined when `origin` is reached directly.
 * Bound to `origin`, so callers use it like a Pool (`request({ path, ... })`).
 */
export function proxyDispatcher(
  origin: string,
  proxy: ProxyOptions | undefined,
  tls: ConnectionOptions,
  pool: ProxiedPoolOptions,
): Dispatcher | undefined {
  const proxyUrl = proxyForUrl(origin, proxy);
  if (!proxyUrl) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(proxyUrl);
  } catch {
    throw new ValidationError('The proxy URL is not a valid URL.', 'INVALID_CONFIG');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ValidationError('The proxy URL must start with http:// or https://.', 'INVALID_CONFIG');
  }
  const username = proxy?.url ? proxy.username : undefined;
  const password = proxy?.url ? proxy.password : undefined;
  const token =
    username || password
      ? `Basic ${Buffer.from(`${username ?? ''}:${password ?? ''}`).toString('base64')}`
      : undefined;
  const agent = new ProxyAgent({
    uri: parsed.href,
    ...(token ? { token } : {}),
    requestTls: { ...tls, timeout: pool.connectTimeoutMs },
    proxyTls: { timeout: pool.connectTimeoutMs },
    connections: pool.connections,
    pipelining: 1,
    headersTimeout: pool.headersTimeout,
    bodyTimeout: pool.bodyTimeout,
    maxResponseSize: pool.maxResponseSize,
  });
  return agent.compose((dispatch) => (opts, handler) => dispatch({ ...opts, origin }, handler)) as Dispatcher;
}

/** Where a proxy is in use for `origin`, its URL without credentials (for messages and logs). */
export function describeProxy(origin: string, proxy: ProxyOptions | undefined): string | undefined {
  const url = proxyForUrl(origin, proxy);
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return undefined;
  }
}
