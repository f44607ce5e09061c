// SPDX-License-Identifier: Apache-2.0
/**
 * Maps an IBM Cloud Event Streams service key (the JSON of `ibmcloud resource service-key`, or the
 * "Service credentials" panel) onto endpoint fields.
 *
 * The editor (event-streams-endpoint.html) carries a copy of this function between
 * `service-key:begin` and `service-key:end` markers, because the editor cannot load compiled
 * runtime modules; test/nodes/shared.test.ts runs the same cases against both copies.
 */

export interface ServiceKeyFields {
  /**
   * `rest` when the key has `kafka_http_url` (the user may switch to `kafka`); `kafka` for a key
   * with brokers only (Enterprise Gen 2, which has no REST Producer API).
   */
  transport: 'rest' | 'kafka';
  /** Empty for a Kafka-only key. */
  url: string;
  adminUrl: string;
  apiKey?: string;
  username?: string;
  password?: string;
  /** Comma-separated, as typed into the brokers field. */
  brokers: string;
  authMode: 'iam' | 'bearer' | 'basic';
  flavour: 'v1' | 'v2';
}

export interface ServiceKeyPreferences {
  /** `iam` (default): IAM tokens and the v2 JSON API, IBM's recommendation. `bearer`: the API key as Bearer on v1. */
  auth?: 'iam' | 'bearer';
}

/**
 * Returns the endpoint fields described by a service key, or throws an Error whose message says
 * what is wrong (never including the key's secrets).
 */
export function mapServiceKey(input: unknown, prefs: ServiceKeyPreferences = {}): ServiceKeyFields {
  let data: unknown = input;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      throw new Error('The service key is not valid JSON');
    }
  }
  // `ibmcloud resource service-key --output json` prints an array of keys, each with `credentials`.
  if (Array.isArray(data)) data = data[0];
  if (data && typeof data === 'object' && 'credentials' in data) {
    data = (data as { credentials: unknown }).credentials;
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    throw new Error('The service key must be a JSON object');
  }
  const key = data as Record<string, unknown>;
  const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');

  const url = str(key.kafka_http_url) || str(key.kafka_rest_url);
  const adminUrl = str(key.kafka_admin_url) || url;

  let brokers = '';
  if (Array.isArray(key.kafka_brokers_sasl)) {
    brokers = key.kafka_brokers_sasl.map(str).filter(Boolean).join(',');
  }
  if (!brokers && typeof key.bootstrap_endpoints === 'string') {
    brokers = key.bootstrap_endpoints
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .join(',');
  }

  if (!brokers && typeof key.bootstrap_servers === 'string') {
    brokers = key.bootstrap_servers
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .join(',');
  }
  if (!url && !brokers) {
    throw new Error(
      'The service key has neither kafka_http_url nor kafka_brokers_sasl/bootstrap_endpoints: it is not an Event Streams key',
    );
  }

  const user = str(key.user);
  const password = str(key.password);
  const apiKey = str(key.api_key) || str(key.apikey) || (user === 'token' ? password : '');

  const result: ServiceKeyFields = {
    transport: url ? 'rest' : 'kafka',
    url,
    adminUrl,
    brokers,
    authMode: 'iam',
    flavour: 'v2',
  };
  if (apiKey) {
    result.apiKey = apiKey;
    if (prefs.auth === 'bearer') {
      result.authMode = 'bearer';
      result.flavour = 'v1';
    }
  } else if (user && password) {
    result.authMode = 'basic';
    result.flavour = 'v1';
    result.username = user;
    result.password = password;
  } else {
    throw new Error('The service key has no api_key, apikey or user/password');
  }
  return result;
}
