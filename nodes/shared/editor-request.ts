// SPDX-License-Identifier: Apache-2.0
/**
 * The rules of the editor's "Test connection" request, as pure functions so the route and the
 * tests share them.
 *
 * A stored secret may only go where the node stored with it sends it. The editor resends every
 * property but not the password credentials (it shows `__PWRD__` for those), so the route fills
 * them in from the stored node, but only when the request names the same destinations as that
 * node: the same REST URL, admin URL, IAM URL, brokers and proxy node, and no weaker TLS. A request that
 * changes any of them must bring its own secrets. Values from the request are used literally:
 * `${VAR}` in a request is never looked up, otherwise any environment variable could be sent
 * anywhere. Stored values got Node-RED's own env handling when the node was created.
 */
import { normalizeEndpointOptions, parseBrokers, type NormalizedEndpointOptions } from './endpoint-config';
import type { EndpointCredentials, EndpointOptions } from './types';

/** What the editor shows in place of a stored password credential it was not sent. */
export const PASSWORD_PLACEHOLDER = '__PWRD__';

export type CredentialKind = 'text' | 'password';

/** The node as stored: its raw flow properties and its credentials as Node-RED resolved them. */
export interface StoredEndpoint {
  /** Flow properties as saved (before `${VAR}` substitution): what the editor sends back. */
  raw: Partial<Record<keyof EndpointOptions, unknown>>;
  /** The same properties as the running node uses them (after Node-RED's env handling). */
  resolved: NormalizedEndpointOptions;
  credentials: EndpointCredentials;
}

export interface TestRequestConfig {
  options: NormalizedEndpointOptions;
  credentials: EndpointCredentials;
  /** The request named other destinations than the stored node, so no stored secret was used. */
  destinationChanged: boolean;
  /** A password field asked for the stored value but none could be given. */
  withheld: Array<keyof EndpointCredentials>;
}

function trimmed(v: unknown): string {
  return typeof v === 'string' ? v.trim() : '';
}

/** A URL as compared: parsed and re-serialised when it parses (case of scheme and host, default port). */
function urlKey(v: string): string {
  if (!v) return '';
  try {
    return new URL(v).href;
  } catch {
    return v;
  }
}

/** The destination part of a set of raw properties, in a form two sets can be compared by. */
export function destinationKey(props: Partial<Record<keyof EndpointOptions, unknown>>): string {
  const url = urlKey(trimmed(props.url));
  const adminUrl = urlKey(trimmed(props.adminUrl)) || url;
  const iamUrl = urlKey(trimmed(props.iamUrl));
  const brokers = parseBrokers(props.brokers)
    .map((b) => b.toLowerCase())
    .sort();
  // The core `http proxy` node the requests go through: over plain http it sees the headers.
  const proxy = trimmed((props as { proxy?: unknown }).proxy);
  return JSON.stringify([url, adminUrl, iamUrl, brokers, proxy]);
}

/**
 * Options and credentials for one test request. `stored` is the node the request's id names, or
 * undefined when there is none (a node not deployed yet): then only the request's own values count.
 */
export function testRequestConfig(
  body: Partial<Record<keyof EndpointOptions, unknown>> & { credentials?: unknown },
  schema: Record<keyof EndpointCredentials, { type: CredentialKind }>,
  stored: StoredEndpoint | undefined,
): TestRequestConfig {
  const requested = normalizeEndpointOptions(body);
  const sameDestination =
    stored !== undefined &&
    destinationKey(body) === destinationKey(stored.raw) &&
    // Turning verification off would let whoever answers on the path read the secrets; so
    // would plaintext to the brokers (SASL PLAIN sends the API key as it is).
    !(stored.resolved.verifyTls && !requested.verifyTls) &&
    !(stored.resolved.brokersTls && !requested.brokersTls);
  const options: NormalizedEndpointOptions =
    stored && sameDestination
      ? {
          ...requested,
          // The stored destinations, as the running node resolved them.
          url: stored.resolved.url,
          adminUrl: stored.resolved.adminUrl,
          iamUrl: stored.resolved.iamUrl,
          brokers: stored.resolved.brokers,
        }
      : requested;
  const given =
    body.credentials && typeof body.credentials === 'object' && !Array.isArray(body.credentials)
      ? (body.credentials as Record<string, unknown>)
      : {};
  const credentials: EndpointCredentials = {};
  const withheld: Array<keyof EndpointCredentials> = [];
  for (const name of Object.keys(schema) as Array<keyof EndpointCredentials>) {
    const value = given[name];
    const fromStored = stored && sameDestination ? stored.credentials[name] : undefined;
    let chosen: unknown;
    if (schema[name].type === 'password') {
      const resent = typeof value === 'string' && value !== '' && value !== PASSWORD_PLACEHOLDER;
      chosen = resent ? value : fromStored;
      if (!resent && value === PASSWORD_PLACEHOLDER && chosen === undefined && stored?.credentials[name])
        withheld.push(name);
    } else {
      chosen = typeof value === 'string' ? value : fromStored;
    }
    if (typeof chosen === 'string' && chosen !== '') credentials[name] = chosen;
  }
  return { options, credentials, destinationChanged: stored !== undefined && !sameDestination, withheld };
}
