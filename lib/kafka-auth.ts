// SPDX-License-Identifier: Apache-2.0
/**
 * SASL/OAUTHBEARER for the Kafka-protocol clients: the API key is exchanged for an IBM IAM access
 * token by the same {@link IamAuth} the REST client uses (apikey grant, single-flight, refreshed in
 * the background once 80% of the lifetime has passed), and kafkajs presents the token whenever it
 * (re)authenticates a broker connection. IAM is reached through a short-lived undici pool per
 * exchange: exchanges are rare (one per token lifetime), and nothing stays open between them.
 */
import { IamAuth } from './auth';
import { DEFAULT_RETRY } from './retry';
import { buildTlsConnectOptions } from './tls';
import { Transport } from './transport';
import { DEFAULT_IAM_URL, type KafkaSaslConfig } from './types';

type OAuthSasl = Extract<KafkaSaslConfig, { mechanism: 'oauthbearer' }>;

/** What kafkajs's `oauthBearerProvider` returns. */
export interface OauthBearerToken {
  value: string;
}

/** A kafkajs `oauthBearerProvider` backed by an IAM API key exchange. */
export function iamTokenProvider(sasl: OAuthSasl): () => Promise<OauthBearerToken> {
  const tls = buildTlsConnectOptions(sasl.iamTls);
  const auth = new IamAuth({
    apiKey: sasl.apiKey,
    iamUrl: sasl.iamUrl || DEFAULT_IAM_URL,
    retry: { ...DEFAULT_RETRY, retries: Math.min(DEFAULT_RETRY.retries, 3) },
    request: async (origin, req) => {
      const transport = new Transport({
        tls,
        connections: 1,
        connectTimeoutMs: 10_000,
        requestTimeoutMs: 30_000,
        userAgent: 'node-red-event-streams (kafka oauthbearer)',
      });
      try {
        return await transport.request(origin, req);
      } finally {
        await transport.close();
      }
    },
  });
  return async () => {
    const header = await auth.authorization();
    return { value: (header ?? '').replace(/^Bearer /, '') };
  };
}
