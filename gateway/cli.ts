#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * `event-streams-local`: runs the local Event Streams-compatible endpoint. Prints one JSON line
 * (`url`, `adminUrl`, `iamUrl`, `apiKey`, `caFile`) on stdout once it listens, so scripts can read
 * it; every log line goes to stderr.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { validateFaults } from './faults';
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
} from './limits';
import { DEFAULT_HOST, DEFAULT_PORT, defaultStateDir, startLocalEndpoint } from './server';
import type { FaultSpec, KafkaConnectionOptions, LocalEndpointOptions } from './types';

const USAGE = `Usage: event-streams-local [options]

Runs a local IBM Event Streams-compatible endpoint (REST Producer v1/v2, Admin REST, IAM token).

Options:
  --host HOST            Address to bind (default ${DEFAULT_HOST})
  --port PORT            Port (default ${DEFAULT_PORT}; 0 picks a free one)
  --no-tls               Plain HTTP instead of HTTPS with a local CA
  --api-key KEY          Manager API key: produce, topic admin, /local (repeatable; default: a
                         generated key kept in the state dir)
  --writer-key KEY       Writer API key: produce and read topics only; topic create/update/delete
                         and /local answer 403 (repeatable)
  --user USER            Username for Basic authentication (pair with --password; repeatable)
  --password PASSWORD    Password of the preceding --user
  --topic NAME[:N]       Create a topic with N partitions (default 1) at start (repeatable)
  --auto-create          Create unknown topics on first produce
  --kafka BROKERS        Store records in Kafka (comma-separated host:port) instead of memory
  --kafka-tls            TLS to the brokers (on by itself with --kafka-ca/--kafka-cert)
  --kafka-ca FILE        CA certificate(s) (PEM) the brokers' certificates are checked against
  --kafka-cert FILE      Client certificate (PEM) for mutual TLS; with --kafka-key FILE
  --kafka-key FILE       Its private key (PEM)
  --kafka-sasl MECH      plain | scram-sha-256 | scram-sha-512 | oauthbearer
  --kafka-user NAME      SASL username (plain/scram; IBM Cloud: token)
  --kafka-password-file FILE
                         SASL password (plain/scram), or the API key (oauthbearer); default: the
                         ES_LOCAL_KAFKA_PASSWORD environment variable. Never given on the command line.
  --kafka-iam-url URL    IAM token URL for oauthbearer (default IBM Cloud IAM)
  --iam-signing-key FILE RSA private key (PEM): IAM tokens become RS256 JWTs with a JWKS at
                         /identity/keys, for brokers validating OAUTHBEARER (default:
                         ES_LOCAL_IAM_SIGNING_KEY_FILE)
  --state-dir DIR        CA, certificates and API key (default ${defaultStateDir()})
  --hostname NAME        Extra DNS name or IP for the server certificate (repeatable)
  --token-lifetime SEC   IAM token lifetime in seconds (default 3600)
  --rate-limit N         Produce requests per second; more get 429 with Retry-After (default: none)
  --deployment cloud|onprem
                         IBM Cloud (v1 + v2) or on-prem (v1 only, 411 on empty bodies); default cloud
                         (--flavour is the old name and still works)
  --dev                  Development routes: GET /local/topics/T/records and /local/faults (manager
                         keys only); without it they answer 404. Never on a shared gateway.
  --metrics              Serve Prometheus metrics at GET /metrics to a Manager key, or only to
                         'Authorization: Bearer <key>' when ESNODES_METRICS_KEY is set
  --metrics-key-file FILE
                         Serve /metrics only to 'Authorization: Bearer <key>', the key in FILE
  --fault JSON           A fault spec or an array of them (repeatable), e.g. '{"status":503,"count":2}'
                         (applies to authenticated requests only)
  --max-connections N    Open sockets at most (default ${DEFAULT_MAX_CONNECTIONS}); idle sockets close
                         after ${DEFAULT_IDLE_TIMEOUT_MS / 1000} s (TLS handshake ${DEFAULT_HANDSHAKE_TIMEOUT_MS / 1000} s, keep-alive ${DEFAULT_KEEP_ALIVE_TIMEOUT_MS / 1000} s)
  -h, --help             Show this help

Several gateways started with the same --api-key/--writer-key set (and the same --kafka) accept
each other's IAM tokens, so they can sit behind one load balancer.

When ready, one JSON line is printed on stdout: {"url","adminUrl","iamUrl","apiKey","caFile"}.
SIGINT or SIGTERM stops the endpoint.
`;

class UsageError extends Error {}

function parsePositiveInt(text: string, what: string, allowZero = false): number {
  if (!/^\d+$/.test(text) || (!allowZero && Number(text) === 0))
    throw new UsageError(`Invalid ${what}: ${text}`);
  return Number(text);
}

function readKeyFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new UsageError(`Cannot read --metrics-key-file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (text === '') throw new UsageError('--metrics-key-file is empty');
  return text;
}

/** Turns command-line arguments into endpoint options; throws UsageError on bad input. */
export function parseCli(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): { help: true } | { help: false; options: LocalEndpointOptions } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'no-tls': { type: 'boolean' },
      'api-key': { type: 'string', multiple: true },
      'writer-key': { type: 'string', multiple: true },
      dev: { type: 'boolean' },
      'max-connections': { type: 'string' },
      user: { type: 'string', multiple: true },
      password: { type: 'string', multiple: true },
      topic: { type: 'string', multiple: true },
      'auto-create': { type: 'boolean' },
      kafka: { type: 'string' },
      'kafka-tls': { type: 'boolean' },
      'kafka-ca': { type: 'string' },
      'kafka-cert': { type: 'string' },
      'kafka-key': { type: 'string' },
      'kafka-sasl': { type: 'string' },
      'kafka-user': { type: 'string' },
      'kafka-password-file': { type: 'string' },
      'kafka-iam-url': { type: 'string' },
      'iam-signing-key': { type: 'string' },
      'state-dir': { type: 'string' },
      hostname: { type: 'string', multiple: true },
      'token-lifetime': { type: 'string' },
      deployment: { type: 'string' },
      // The old name of --deployment, still accepted.
      flavour: { type: 'string' },
      fault: { type: 'string', multiple: true },
      'rate-limit': { type: 'string' },
      metrics: { type: 'boolean' },
      'metrics-key-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return { help: true };
  const options: LocalEndpointOptions = {};
  if (values.host !== undefined) options.host = values.host;
  if (values.port !== undefined) {
    options.port = parsePositiveInt(values.port, 'port', true);
    if (options.port > 65535) throw new UsageError(`Invalid port: ${values.port}`);
  }
  if (values['no-tls']) options.tls = false;
  if (values['api-key']) options.apiKeys = values['api-key'];
  if (values['writer-key']) options.writerKeys = values['writer-key'];
  if (values.dev) options.dev = true;
  if (values['max-connections'] !== undefined) {
    options.connections = { maxConnections: parsePositiveInt(values['max-connections'], 'connection cap') };
  }
  const users = values.user ?? [];
  const passwords = values.password ?? [];
  if (users.length !== passwords.length) throw new UsageError('Each --user needs a --password');
  if (users.length > 0) options.users = users.map((username, i) => ({ username, password: passwords[i]! }));
  if (values.topic) {
    options.topics = values.topic.map((spec) => {
      const colon = spec.lastIndexOf(':');
      if (colon < 0) return { name: spec };
      return {
        name: spec.slice(0, colon),
        partitions: parsePositiveInt(spec.slice(colon + 1), 'partition count'),
      };
    });
  }
  if (values['auto-create']) options.autoCreateTopics = true;
  if (values.kafka) {
    options.kafka = {
      brokers: values.kafka
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
      ...kafkaSecurity(values, env),
    };
  } else if (Object.keys(values).some((k) => k.startsWith('kafka-'))) {
    throw new UsageError('--kafka-* options need --kafka BROKERS');
  }
  const signingKeyFile = values['iam-signing-key'] ?? env.ES_LOCAL_IAM_SIGNING_KEY_FILE;
  if (signingKeyFile) options.iamSigningKey = readFileOption(signingKeyFile, 'IAM signing key');
  if (values['state-dir']) options.stateDir = values['state-dir'];
  if (values.hostname) options.hostnames = values.hostname;
  if (values['token-lifetime'] !== undefined) {
    options.tokenLifetimeSec = parsePositiveInt(values['token-lifetime'], 'token lifetime');
  }
  const deployment = values.deployment ?? values.flavour;
  if (deployment !== undefined) {
    if (deployment !== 'cloud' && deployment !== 'onprem') {
      const flag = values.deployment !== undefined ? 'deployment' : 'flavour';
      throw new UsageError(`Invalid ${flag}: ${deployment} (cloud or onprem)`);
    }
    options.deployment = deployment;
  }
  if (values['rate-limit'] !== undefined) {
    options.rateLimit = parsePositiveInt(values['rate-limit'], 'rate limit');
  }
  // The scrape key comes from a file or the environment, never the command line, where any local
  // user could read it in the process list.
  if (values.metrics || values['metrics-key-file']) {
    const key = values['metrics-key-file']
      ? readKeyFile(values['metrics-key-file'])
      : process.env.ESNODES_METRICS_KEY?.trim() || undefined;
    options.metrics = key ? { key } : true;
  }
  if (values.fault) {
    const faults: FaultSpec[] = [];
    for (const text of values.fault) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new UsageError(`--fault is not valid JSON: ${text}`);
      }
      try {
        faults.push(...validateFaults(parsed));
      } catch (err) {
        throw new UsageError(`Invalid --fault: ${(err as Error).message}`);
      }
    }
    options.faults = faults;
  }
  return { help: false, options };
}

function readFileOption(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `Cannot read the ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

const KAFKA_SASL = ['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer'] as const;

/** TLS and SASL to the brokers; secrets come from a file or the environment, never from argv. */
function kafkaSecurity(
  values: Record<string, string | boolean | string[] | undefined>,
  env: Record<string, string | undefined>,
): Pick<KafkaConnectionOptions, 'ssl' | 'sasl'> {
  const str = (name: string): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };
  const out: Pick<KafkaConnectionOptions, 'ssl' | 'sasl'> = {};
  const ca = str('kafka-ca');
  const cert = str('kafka-cert');
  const key = str('kafka-key');
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError('--kafka-cert and --kafka-key go together');
  if (values['kafka-tls'] === true || ca !== undefined || cert !== undefined) {
    out.ssl = {
      ...(ca !== undefined ? { ca: readFileOption(ca, 'Kafka CA') } : {}),
      ...(cert !== undefined ? { cert: readFileOption(cert, 'Kafka client certificate') } : {}),
      ...(key !== undefined ? { key: readFileOption(key, 'Kafka client key') } : {}),
    };
  }
  const mech = str('kafka-sasl');
  if (mech === undefined) {
    if (str('kafka-user') !== undefined || str('kafka-password-file') !== undefined) {
      throw new UsageError('--kafka-user and --kafka-password-file need --kafka-sasl');
    }
    return out;
  }
  if (!(KAFKA_SASL as readonly string[]).includes(mech)) {
    throw new UsageError(`Invalid --kafka-sasl: ${mech} (${KAFKA_SASL.join(', ')})`);
  }
  const file = str('kafka-password-file');
  const secret = (
    file !== undefined ? readFileOption(file, 'Kafka password') : (env.ES_LOCAL_KAFKA_PASSWORD ?? '')
  ).trim();
  if (!secret) {
    throw new UsageError(`--kafka-sasl ${mech} needs --kafka-password-file FILE or ES_LOCAL_KAFKA_PASSWORD`);
  }
  if (mech === 'oauthbearer') {
    const iamUrl = str('kafka-iam-url');
    out.sasl = {
      mechanism: 'oauthbearer',
      apiKey: secret,
      ...(iamUrl !== undefined ? { iamUrl } : {}),
      ...(typeof out.ssl === 'object' && out.ssl.ca !== undefined ? { iamTls: { ca: out.ssl.ca } } : {}),
    };
  } else {
    const username = str('kafka-user') ?? env.ES_LOCAL_KAFKA_USER;
    if (!username) throw new UsageError(`--kafka-sasl ${mech} needs --kafka-user`);
    out.sasl = { mechanism: mech as 'plain' | 'scram-sha-256' | 'scram-sha-512', username, password: secret };
  }
  return out;
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseCli>;
  try {
    parsed = parseCli(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`event-streams-local: ${(err as Error).message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return;
  }
  const log = (line: string): void => {
    process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  };
  const endpoint = await startLocalEndpoint({ ...parsed.options, log });
  const info = {
    url: endpoint.url,
    adminUrl: endpoint.adminUrl,
    iamUrl: endpoint.iamUrl,
    apiKey: endpoint.apiKey,
    ...(endpoint.caFile ? { caFile: endpoint.caFile } : {}),
  };
  process.stdout.write(`${JSON.stringify(info)}\n`);
  if (!endpoint.backend.durable)
    log(
      'memory backend: topics and records are kept in memory only and are gone when this process stops (--kafka keeps them)',
    );
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log(`received ${signal}, stopping`);
    endpoint.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log(`error while stopping: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`event-streams-local: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
