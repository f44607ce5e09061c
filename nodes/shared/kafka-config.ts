// SPDX-License-Identifier: Apache-2.0
/**
 * The endpoint config's Kafka-protocol side: brokers, TLS and SASL for any Kafka client the package
 * runs (the topic admin's Kafka backend today, a consumer node tomorrow). Pure, like
 * endpoint-config.ts, whose TLS and credential rules it shares.
 */
import { CORE_DEFAULTS, ms } from '../../lib/defaults';
import { ValidationError } from '../../lib/errors';
import type { KafkaSenderOptions } from '../../lib/kafka-sender';
import type { KafkaClientConfig } from '../../lib/types';
import { buildTlsOptions, type NormalizedEndpointOptions, requireCred } from './endpoint-config';
import type { EndpointCredentials } from './types';

/**
 * Kafka-protocol client config from the endpoint's settings: an API key becomes SASL PLAIN user
 * `token` (IBM Cloud) or, with mechanism `oauthbearer`, an IAM access token obtained from it
 * (`iam_token_only` instances, Gen 2); username/password go to the chosen mechanism (on-prem
 * SCRAM); a client certificate means mutual TLS without SASL. TLS is 1.2 or newer (Node's floor)
 * with SNI for host names (kafkajs sends it; IP literals cannot carry SNI). Mechanism `none` is
 * the user's explicit choice for PLAINTEXT or TLS-only listeners (self-hosted Kafka, the
 * Kafka-backed demo): no SASL, so no credential goes to the brokers, whatever the auth mode; a
 * client certificate still makes it mutual TLS. It is never inferred from a failed login, which
 * would turn a mistyped key into an unauthenticated connection. Throws INVALID_CONFIG for an
 * unusable config.
 */
export function buildKafkaClientConfig(
  options: NormalizedEndpointOptions,
  creds: EndpointCredentials,
): KafkaClientConfig {
  if (options.brokers.length === 0) {
    throw new ValidationError('The endpoint configuration has no Kafka brokers', 'INVALID_CONFIG');
  }
  const result: KafkaClientConfig = {
    brokers: options.brokers,
    clientId: 'node-red-event-streams',
    connectionTimeoutMs: Math.min(options.requestTimeoutMs, ms(CORE_DEFAULTS.kafkaMaxConnectTimeout)),
    requestTimeoutMs: options.requestTimeoutMs,
  };
  if (options.brokersTls) result.ssl = buildTlsOptions(options, creds);
  if (options.saslMechanism === 'none') return result;
  switch (options.authMode) {
    case 'bearer':
    case 'basic-token':
    case 'iam':
      if (options.saslMechanism === 'oauthbearer') {
        const tls = options.brokersTls ? buildTlsOptions(options, creds) : undefined;
        result.sasl = {
          mechanism: 'oauthbearer',
          apiKey: requireCred(creds.apiKey, 'API key'),
          ...(options.iamUrl ? { iamUrl: options.iamUrl } : {}),
          // A private IAM (the local endpoint) is trusted through the same CA field.
          ...(tls?.ca !== undefined ? { iamTls: { ca: tls.ca } } : {}),
        };
        break;
      }
      result.sasl = {
        mechanism: options.saslMechanism,
        username: 'token',
        password: requireCred(creds.apiKey, 'API key'),
      };
      break;
    case 'basic':
      if (options.saslMechanism === 'oauthbearer') {
        throw new ValidationError(
          'SASL OAUTHBEARER needs an API key (IAM); username/password work with PLAIN or SCRAM',
          'INVALID_CONFIG',
        );
      }
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

/**
 * The Kafka transport's options (lib/kafka-sender.ts): the connection above plus the endpoint's
 * retry, queue, size and order settings, read as the REST client reads them.
 */
export function buildKafkaSenderOptions(
  options: NormalizedEndpointOptions,
  creds: EndpointCredentials,
): KafkaSenderOptions {
  return {
    ...buildKafkaClientConfig(options, creds),
    retry: {
      retries: options.retries,
      initialDelayMs: options.retryDelayMs,
      maxRetryTimeMs: options.maxRetryTimeMs,
    },
    queue: { maxMessages: options.queueMessages, maxBytes: options.queueBytes },
    limits: { maxKeyBytes: options.maxKeyBytes, maxValueBytes: options.maxValueBytes },
    orderByKey: options.orderByKey,
  };
}
