// SPDX-License-Identifier: Apache-2.0
/**
 * A single-node Apache Kafka 3.9 (KRaft, no ZooKeeper) on 127.0.0.1 for the Kafka test suite and for
 * users who want the local endpoint backed by a real broker.
 *
 *   node dist/scripts/kafka.js start [--state-dir DIR]   # prints {"brokers":"127.0.0.1:P","pid":…,"stateDir":…}
 *   node dist/scripts/kafka.js status [--state-dir DIR]
 *   node dist/scripts/kafka.js stop [--state-dir DIR]
 *
 * Where the broker comes from, in order:
 * 1. `KAFKA_BROKERS` (comma-separated host:port): an existing cluster; nothing is started or stopped.
 * 2. `KAFKA_HOME`: the jars of an unpacked Kafka distribution (`$KAFKA_HOME/libs`).
 * 3. Maven Central: `mvn dependency:copy-dependencies` of `org.apache.kafka:kafka_2.13` into a cache
 *    outside the repository (`${XDG_CACHE_HOME:-~/.cache}/esnodes-kafka/<version>/libs`), downloaded
 *    once and reused. Needs Java 17 and Maven.
 * Over 500 lines because fetching the jars, configuring KRaft (plain, SASL, TLS) and starting and
 * stopping the broker are the steps of one launcher (not shipped).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';

/** The Kafka release fetched from Maven Central (3.9.1 is the newest 3.9.x there). */
export const KAFKA_VERSION = process.env.ESNODES_KAFKA_VERSION || '3.9.1';
const SCALA_VERSION = '2.13';
// Pinned so that a fresh machine resolves the same plugin every time.
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.6.1';

export interface StartKafkaOptions {
  /** Where server.properties, the data directory and the logs go. Default: a new temporary directory. */
  stateDir?: string;
  log?: (line: string) => void;
  /** How long to wait for the broker to answer. Default 90 s. */
  startTimeoutMs?: number;
  /** Leave the broker running when this process exits (the CLI's `start`). Default false. */
  detached?: boolean;
  /** Add TLS listeners (SASL_SSL, SSL with client certificates). */
  security?: KafkaSecurityOptions;
}

/**
 * The SASL user of the local test broker (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 on the
 * SASL_PLAINTEXT listener). A fixed, public credential: the broker binds loopback only and also
 * has an unauthenticated PLAINTEXT listener.
 */
export const LOCAL_SASL_USER = { username: 'esnodes', password: 'esnodes-local-secret' } as const;

/**
 * The API key the secured listeners accept as SASL PLAIN user `token` (IBM Cloud's form); tests
 * start the local endpoint with the same key so that its IAM exchange yields OAUTHBEARER tokens.
 */
export const LOCAL_SASL_API_KEY = 'esnodes-local-kafka-api-key';

/**
 * TLS listeners as IBM Event Streams has them: SASL_SSL (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER)
 * and SSL with required client certificates (mutual TLS), certificates from the project's CA
 * (gateway/certs.ts).
 */
export interface KafkaSecurityOptions {
  /** PEM of the CA that signed `server` and accepted client certificates. */
  caPem: string;
  server: { cert: string; key: string };
  /**
   * JWKS of the OAUTHBEARER token issuer (the local endpoint's `/identity/keys`); https URLs are
   * trusted through `caPem`. Without it the SASL_SSL listener has no OAUTHBEARER.
   */
  jwksUrl?: string;
  /** Expected `iss` of the tokens. Default: IBM IAM's. */
  issuer?: string;
}

export interface KafkaInstance {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  /** Bootstrap brokers of the SASL_PLAINTEXT listener (local broker only), see {@link LOCAL_SASL_USER}. */
  saslBrokers?: string[];
  /** With {@link StartKafkaOptions.security}: the SASL_SSL listener. */
  saslSslBrokers?: string[];
  /** With {@link StartKafkaOptions.security}: the SSL listener requiring a client certificate. */
  sslBrokers?: string[];
  /** Undefined for an external cluster (`KAFKA_BROKERS`). */
  pid?: number;
  stateDir?: string;
  /** True when the cluster came from `KAFKA_BROKERS`: the outage helpers below are then absent. */
  external: boolean;
  /** Stops the broker for good and removes a temporary state directory. */
  stop(): Promise<void>;
  /** Stops the broker gracefully (SIGTERM) but keeps ports and data, for outage tests. */
  pause?(): Promise<void>;
  /** Kills the broker (SIGKILL), as a crash would, keeping ports and data. */
  kill?(): Promise<void>;
  /** Starts the broker again on the same ports with the same data after pause() or kill(). */
  resume?(): Promise<void>;
  /** pause() then resume(). */
  restart?(): Promise<void>;
  /** SIGSTOP: the broker keeps its sockets open but answers nothing (a hung broker). */
  freeze?(): Promise<void>;
  /** SIGCONT after freeze(). */
  thaw?(): Promise<void>;
}

interface InstanceFile {
  pid: number;
  port: number;
  controllerPort: number;
  saslPort: number;
  brokers: string;
  stateDir: string;
  version: string;
  startedAt: string;
}

// ---------------------------------------------------------------------------------------------
// Prerequisites and jars

function commandWorks(cmd: string, args: string[]): boolean {
  try {
    const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
    return r.status === 0;
  } catch {
    return false;
  }
}

/** Root of the jar cache; never inside the repository so `npm pack` and git never see 50 MB of jars. */
export function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'esnodes-kafka', KAFKA_VERSION);
}

function cachedLibs(): string {
  return path.join(cacheRoot(), 'libs');
}

function hasJars(dir: string): boolean {
  try {
    return fs.readdirSync(dir).some((f) => /^kafka_2\.1[23]-.*\.jar$/.test(f));
  } catch {
    return false;
  }
}

/**
 * Whether a broker can be had: an external one (`KAFKA_BROKERS`), a distribution (`KAFKA_HOME`
 * plus java), cached jars plus java, or java plus mvn to fetch them.
 */
export async function kafkaPrerequisites(): Promise<{ ok: boolean; reason?: string }> {
  if (process.env.KAFKA_BROKERS) return { ok: true };
  const java = commandWorks('java', ['-version']);
  if (!java) return { ok: false, reason: 'java not found (set KAFKA_BROKERS or install Java 17 + Maven)' };
  if (process.env.KAFKA_HOME) {
    return hasJars(path.join(process.env.KAFKA_HOME, 'libs'))
      ? { ok: true }
      : { ok: false, reason: `KAFKA_HOME=${process.env.KAFKA_HOME} has no libs/kafka_2.13-*.jar` };
  }
  if (hasJars(cachedLibs())) return { ok: true };
  if (!commandWorks('mvn', ['-v'])) {
    return {
      ok: false,
      reason: 'mvn not found (set KAFKA_BROKERS or KAFKA_HOME, or install Java 17 + Maven)',
    };
  }
  return { ok: true };
}

function pomXml(): string {
  // reload4j + its slf4j binding: kafka.Kafka logs through log4j 1.x APIs, which the published
  // kafka_2.13 pom does not bring at runtime scope.
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>esnodes.local</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_${SCALA_VERSION}</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
`;
}

function run(cmd: string, args: string[], options: { cwd?: string; timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${out.slice(-4000)}`));
    });
  });
}

/**
 * Returns the directory whose `*` is the broker classpath, downloading the jars on first use.
 * The download goes to a temporary sibling and is renamed into place, so an interrupted or
 * concurrent download never leaves a half-filled cache behind.
 */
export async function ensureKafkaJars(log: (line: string) => void = () => {}): Promise<string> {
  if (process.env.KAFKA_HOME) return path.join(process.env.KAFKA_HOME, 'libs');
  const libs = cachedLibs();
  if (hasJars(libs)) return libs;
  const root = cacheRoot();
  fs.mkdirSync(root, { recursive: true });
  const work = fs.mkdtempSync(path.join(root, 'download-'));
  try {
    fs.writeFileSync(path.join(work, 'pom.xml'), pomXml());
    const started = Date.now();
    log(`kafka: downloading Kafka ${KAFKA_VERSION} jars from Maven Central into ${libs}`);
    await run(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        path.join(work, 'pom.xml'),
        `${DEPENDENCY_PLUGIN}:copy-dependencies`,
        `-DoutputDirectory=${path.join(work, 'libs')}`,
        '-DincludeScope=runtime',
      ],
      { cwd: work, timeoutMs: 15 * 60_000 },
    );
    if (!hasJars(path.join(work, 'libs'))) throw new Error('mvn finished but no kafka jar was copied');
    try {
      fs.renameSync(path.join(work, 'libs'), libs);
    } catch (err) {
      // Another process won the race; its copy is as good as ours.
      if (!hasJars(libs)) throw err;
    }
    log(`kafka: jars downloaded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return libs;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Broker process

/** A port that was free a moment ago (listen on 0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** A Kafka `Uuid` string: 16 random bytes, base64url without padding, not starting with '-'. */
function kafkaUuid(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

interface SecureListeners {
  saslSslPort: number;
  sslPort: number;
  caFile: string;
  keystoreFile: string;
  security: KafkaSecurityOptions;
}

/** Properties-file escaping for a value inside a JAAS option string. */
function jaasQuote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function secureProperties(l: SecureListeners): string[] {
  const { username, password } = LOCAL_SASL_USER;
  const mechanisms = [
    'PLAIN',
    'SCRAM-SHA-256',
    'SCRAM-SHA-512',
    ...(l.security.jwksUrl ? ['OAUTHBEARER'] : []),
  ];
  const lines = [
    'ssl.keystore.type=PEM',
    `ssl.keystore.location=${l.keystoreFile}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${l.caFile}`,
    'ssl.enabled.protocols=TLSv1.2,TLSv1.3',
    'listener.name.ssl.ssl.client.auth=required',
    `listener.name.sasl_ssl.sasl.enabled.mechanisms=${mechanisms.join(',')}`,
    `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${username}="${password}" user_token="${LOCAL_SASL_API_KEY}";`,
    'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
  ];
  if (l.security.jwksUrl) {
    // The validator fetches the JWKS itself; for an https URL its trust comes from the JAAS
    // options (ssl.truststore.*), not from the JVM's default trust store. The broker's own login
    // (unused: inter-broker traffic is PLAINTEXT) still needs a subject for its unsecured token.
    lines.push(
      `listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker" ssl.truststore.type="PEM" ssl.truststore.location=${jaasQuote(l.caFile)};`,
      // 3.9 and 4.x: the class outside `secured` (the `secured` alias is gone in 4.0).
      'listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler',
      `sasl.oauthbearer.jwks.endpoint.url=${l.security.jwksUrl}`,
      `sasl.oauthbearer.expected.issuer=${l.security.issuer ?? 'https://iam.cloud.ibm.com/identity'}`,
    );
  }
  return lines;
}

function serverProperties(
  dir: string,
  port: number,
  controllerPort: number,
  saslPort: number,
  secure?: SecureListeners,
): string {
  const { username, password } = LOCAL_SASL_USER;
  const listeners = [`PLAINTEXT://127.0.0.1:${port}`, `SASL_PLAINTEXT://127.0.0.1:${saslPort}`];
  if (secure)
    listeners.push(`SASL_SSL://127.0.0.1:${secure.saslSslPort}`, `SSL://127.0.0.1:${secure.sslPort}`);
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=${[...listeners, `CONTROLLER://127.0.0.1:${controllerPort}`].join(',')}`,
    `advertised.listeners=${listeners.join(',')}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL',
    ...(secure ? secureProperties(secure) : []),
    // SASL as IBM Cloud (PLAIN) and on-prem Event Streams (SCRAM) use it; the SCRAM credentials
    // are written into the metadata log when the storage is formatted.
    'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${username}="${password}";`,
    'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    `log.dirs=${path.join(dir, 'data')}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'auto.create.topics.enable=false',
    'delete.topic.enable=true',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=3',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=3',
    'group.initial.rebalance.delay.ms=0',
    // A 2-core machine shared with other work: few threads, small segments, short retention.
    'num.network.threads=2',
    'num.io.threads=2',
    'background.threads=2',
    'num.recovery.threads.per.data.dir=1',
    'log.cleaner.threads=1',
    'log.cleaner.dedupe.buffer.size=8388608',
    'log.segment.bytes=16777216',
    'log.retention.ms=3600000',
    'log.retention.check.interval.ms=60000',
    'log.flush.interval.ms=1000',
    'controlled.shutdown.enable=true',
    // After a crash (SIGKILL) the old registration blocks the restarted broker until its session
    // expires (default 9 s); a short session keeps outage tests quick.
    'broker.heartbeat.interval.ms=500',
    'broker.session.timeout.ms=3000',
    '',
  ].join('\n');
}

function log4jProperties(logDir: string): string {
  return [
    'log4j.rootLogger=INFO, file',
    'log4j.appender.file=org.apache.log4j.RollingFileAppender',
    `log4j.appender.file.File=${path.join(logDir, 'server.log')}`,
    'log4j.appender.file.MaxFileSize=10MB',
    'log4j.appender.file.MaxBackupIndex=2',
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    'log4j.logger.kafka.request.logger=WARN',
    'log4j.logger.state.change.logger=WARN',
    'log4j.logger.org.apache.kafka.raft=WARN',
    'log4j.logger.kafka.log.LogCleaner=WARN',
    '',
  ].join('\n');
}

function jvmArgs(): string[] {
  const heap = (process.env.KAFKA_HEAP_OPTS || '-Xms128m -Xmx512m').split(/\s+/).filter(Boolean);
  // Serial GC: fewer GC threads on a 2-core box and the heap is small anyway. C1 only: the broker
  // starts noticeably faster and a test broker never runs long enough to profit from C2.
  const perf = (process.env.KAFKA_JVM_PERFORMANCE_OPTS ?? '-XX:+UseSerialGC -XX:TieredStopAtLevel=1')
    .split(/\s+/)
    .filter(Boolean);
  return [...heap, ...perf, '-Djava.awt.headless=true', '-Dfile.encoding=UTF-8'];
}

function tail(file: string, lines = 40): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** True when `pid` is alive and is a Kafka broker (guards against a reused pid). */
function isBrokerProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kafka.Kafka');
  } catch {
    // No /proc (macOS): trust kill(0).
    return true;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isBrokerProcess(pid) || isZombie(pid)) return true;
    await sleep(100);
  }
  return !isBrokerProcess(pid);
}

function isZombie(pid: number): boolean {
  try {
    return /\)\s+Z\s/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. */
async function stopPid(pid: number, graceMs = 30_000): Promise<void> {
  if (!isBrokerProcess(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitForExit(pid, graceMs)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitForExit(pid, 5_000);
}

/** Retries admin connect + describeCluster until the broker answers, the process dies, or time is up. */
async function waitUntilReady(
  brokers: string[],
  alive: () => boolean,
  timeoutMs: number,
  logFile: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`Kafka exited during start-up. Log tail:\n${tail(logFile)}`);
    const admin = new Kafka({
      clientId: 'esnodes-kafka-probe',
      brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 3000,
      retry: { retries: 0 },
    }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length > 0 && cluster.controller !== null) return;
    } catch (err) {
      lastError = (err as Error).message;
    } finally {
      await admin.disconnect().catch(() => {});
    }
    await sleep(250);
  }
  throw new Error(
    `Kafka did not answer within ${timeoutMs} ms (last error: ${lastError}). Log tail:\n${tail(logFile)}`,
  );
}

function readInstance(stateDir: string): InstanceFile | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, 'instance.json'), 'utf8')) as InstanceFile;
  } catch {
    return undefined;
  }
}

function externalInstance(): KafkaInstance {
  const brokers = (process.env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  return { brokers, external: true, stop: async () => {} };
}

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

// Non-detached brokers die with the process that started them, even when mocha exits abruptly.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Starts (or, for `KAFKA_BROKERS`, just describes) a single-node KRaft broker and resolves once it
 * answers admin requests. Running it again on a state directory with a live broker returns that
 * broker instead of starting a second one.
 */
export async function startKafka(options: StartKafkaOptions = {}): Promise<KafkaInstance> {
  const log = options.log ?? (() => {});
  if (process.env.KAFKA_BROKERS) return externalInstance();

  const temporary = options.stateDir === undefined;
  const stateDir = path.resolve(options.stateDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'esnodes-kafka-')));
  fs.mkdirSync(path.join(stateDir, 'logs'), { recursive: true });

  const existing = readInstance(stateDir);
  if (existing && isBrokerProcess(existing.pid)) {
    log(`kafka: already running (pid ${existing.pid}) at ${existing.brokers}`);
    return {
      brokers: [existing.brokers],
      ...(existing.saslPort ? { saslBrokers: [`127.0.0.1:${existing.saslPort}`] } : {}),
      pid: existing.pid,
      stateDir,
      external: false,
      stop: () => stopPid(existing.pid),
    };
  }

  const libs = await ensureKafkaJars(log);
  const propsFile = path.join(stateDir, 'server.properties');
  const log4jFile = path.join(stateDir, 'log4j.properties');
  const logDir = path.join(stateDir, 'logs');
  const logFile = path.join(logDir, 'server.log');
  const outFile = path.join(logDir, 'broker.out');
  const ports = new Set<number>();
  while (ports.size < (options.security ? 5 : 3)) ports.add(await freePort());
  const [port, controllerPort, saslPort, saslSslPort, sslPort] = [...ports] as number[] as [
    number,
    number,
    number,
    number,
    number,
  ];
  const brokers = [`127.0.0.1:${port}`];
  const saslBrokers = [`127.0.0.1:${saslPort}`];
  let secure: SecureListeners | undefined;
  if (options.security) {
    const dir = path.join(stateDir, 'tls');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const caFile = path.join(dir, 'ca.pem');
    const keystoreFile = path.join(dir, 'server.pem');
    fs.writeFileSync(caFile, options.security.caPem);
    // Kafka's PEM key store wants a PKCS#8 key followed by the certificate chain.
    const pkcs8 = createPrivateKey(options.security.server.key).export({ type: 'pkcs8', format: 'pem' });
    fs.writeFileSync(keystoreFile, `${String(pkcs8)}${options.security.server.cert}`, { mode: 0o600 });
    secure = { saslSslPort, sslPort, caFile, keystoreFile, security: options.security };
  }

  // Ports change per start, so the properties are rewritten; the formatted data dir is kept.
  fs.writeFileSync(propsFile, serverProperties(stateDir, port, controllerPort, saslPort, secure));
  fs.writeFileSync(log4jFile, log4jProperties(logDir));
  const classpath = path.join(libs, '*');
  const common = [...jvmArgs(), `-Dlog4j.configuration=file:${log4jFile}`, `-Dkafka.logs.dir=${logDir}`];
  // Kafka 3.9.1+/4.x fetch a JWKS only from URLs on this list (CVE-2025-27817).
  if (options.security?.jwksUrl) {
    common.push(`-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${options.security.jwksUrl}`);
  }

  if (!fs.existsSync(path.join(stateDir, 'data', 'meta.properties'))) {
    await run(
      'java',
      [
        ...common,
        '-cp',
        classpath,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        kafkaUuid(),
        '-c',
        propsFile,
        '--ignore-formatted',
        '--add-scram',
        `SCRAM-SHA-256=[name=${LOCAL_SASL_USER.username},password=${LOCAL_SASL_USER.password}]`,
        '--add-scram',
        `SCRAM-SHA-512=[name=${LOCAL_SASL_USER.username},password=${LOCAL_SASL_USER.password}]`,
      ],
      { timeoutMs: 120_000 },
    );
  }

  let child: ChildProcess | undefined;
  let pid = 0;
  const launch = async (): Promise<void> => {
    const out = fs.openSync(outFile, 'a');
    try {
      child = spawn('java', [...common, '-cp', classpath, 'kafka.Kafka', propsFile], {
        cwd: stateDir,
        detached: options.detached === true,
        stdio: ['ignore', out, out],
      });
    } finally {
      fs.closeSync(out);
    }
    const c = child;
    pid = c.pid ?? 0;
    let exited = false;
    c.on('exit', () => {
      exited = true;
      liveChildren.delete(c);
    });
    if (options.detached) c.unref();
    else {
      liveChildren.add(c);
      installExitHook();
    }
    const info: InstanceFile = {
      pid,
      port,
      controllerPort,
      saslPort,
      brokers: brokers[0]!,
      stateDir,
      version: KAFKA_VERSION,
      startedAt: new Date().toISOString(),
    };
    fs.writeFileSync(path.join(stateDir, 'instance.json'), JSON.stringify(info, null, 2) + '\n');
    const started = Date.now();
    try {
      await waitUntilReady(brokers, () => !exited, options.startTimeoutMs ?? 90_000, logFile);
    } catch (err) {
      await stopPid(pid, 5_000);
      throw err;
    }
    log(`kafka: broker ${brokers[0]} ready in ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${pid})`);
  };

  const halt = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    if (!pid) return;
    try {
      process.kill(pid, 'SIGCONT'); // a frozen broker cannot handle SIGTERM
    } catch {
      // already gone
    }
    if (signal === 'SIGKILL') {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await waitForExit(pid, 10_000);
    } else {
      await stopPid(pid);
    }
    pid = 0;
    fs.rmSync(path.join(stateDir, 'instance.json'), { force: true });
  };

  try {
    await launch();
  } catch (err) {
    if (temporary) fs.rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
  return {
    brokers,
    saslBrokers,
    ...(secure ? { saslSslBrokers: [`127.0.0.1:${saslSslPort}`], sslBrokers: [`127.0.0.1:${sslPort}`] } : {}),
    get pid() {
      return pid || undefined;
    },
    stateDir,
    external: false,
    stop: async () => {
      await halt('SIGTERM');
      if (temporary) fs.rmSync(stateDir, { recursive: true, force: true });
    },
    pause: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    resume: async () => {
      if (pid && isBrokerProcess(pid)) return;
      await launch();
    },
    restart: async () => {
      await halt('SIGTERM');
      await launch();
    },
    freeze: async () => {
      if (!pid) return;
      process.kill(pid, 'SIGSTOP');
      await waitUntilStopped(pid);
    },
    thaw: async () => {
      if (pid) process.kill(pid, 'SIGCONT');
    },
  };
}

/**
 * SIGSTOP is queued, not instant: each of the JVM's threads stops when the kernel next gets to it,
 * and on a busy machine a request can still be answered in between. Wait until every thread of the
 * process reads as stopped (Linux /proc); elsewhere, or if it never does, after 5 s at most.
 */
async function waitUntilStopped(pid: number): Promise<void> {
  const deadline = Date.now() + 5000;
  const taskDir = `/proc/${pid}/task`;
  while (Date.now() < deadline) {
    let threads: string[];
    try {
      threads = fs.readdirSync(taskDir);
    } catch {
      return; // no /proc, or the process is gone
    }
    const running = threads.some((tid) => {
      try {
        // The state is the field after the parenthesised command name.
        const stat = fs.readFileSync(`${taskDir}/${tid}/stat`, 'utf8');
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        return state !== 'T' && state !== 't';
      } catch {
        return false; // the thread ended
      }
    });
    if (!running) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ---------------------------------------------------------------------------------------------
// CLI

function parseStateDir(argv: string[]): string {
  const i = argv.indexOf('--state-dir');
  if (i >= 0 && argv[i + 1]) return path.resolve(argv[i + 1]!);
  const eq = argv.find((a) => a.startsWith('--state-dir='));
  if (eq) return path.resolve(eq.slice('--state-dir='.length));
  return path.resolve('.kafka');
}

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  const stateDir = parseStateDir(argv.slice(1));
  const log = (line: string): void => void process.stderr.write(line + '\n');
  switch (command) {
    case 'start': {
      if (process.env.KAFKA_BROKERS) {
        process.stdout.write(JSON.stringify({ brokers: process.env.KAFKA_BROKERS, external: true }) + '\n');
        return 0;
      }
      const existing = readInstance(stateDir);
      const already = existing !== undefined && isBrokerProcess(existing.pid);
      const kafka = await startKafka({ stateDir, log, detached: true });
      process.stdout.write(
        JSON.stringify({
          brokers: kafka.brokers.join(','),
          ...(kafka.saslBrokers ? { saslBrokers: kafka.saslBrokers.join(','), sasl: LOCAL_SASL_USER } : {}),
          pid: kafka.pid,
          stateDir,
          ...(already ? { alreadyRunning: true } : {}),
        }) + '\n',
      );
      return 0;
    }
    case 'stop': {
      const existing = readInstance(stateDir);
      if (!existing || !isBrokerProcess(existing.pid)) {
        process.stdout.write(JSON.stringify({ stopped: false, reason: 'not running', stateDir }) + '\n');
        fs.rmSync(path.join(stateDir, 'instance.json'), { force: true });
        return 0;
      }
      await stopPid(existing.pid);
      fs.rmSync(path.join(stateDir, 'instance.json'), { force: true });
      process.stdout.write(JSON.stringify({ stopped: true, pid: existing.pid, stateDir }) + '\n');
      return 0;
    }
    case 'status': {
      const existing = readInstance(stateDir);
      const running = existing !== undefined && isBrokerProcess(existing.pid);
      process.stdout.write(
        JSON.stringify(
          running
            ? { running, brokers: existing.brokers, pid: existing.pid, stateDir }
            : { running, stateDir },
        ) + '\n',
      );
      return running ? 0 : 3;
    }
    case 'prereqs': {
      const result = await kafkaPrerequisites();
      process.stdout.write(JSON.stringify(result) + '\n');
      return result.ok ? 0 : 1;
    }
    case 'fetch': {
      await ensureKafkaJars(log);
      process.stdout.write(JSON.stringify({ libs: await ensureKafkaJars() }) + '\n');
      return 0;
    }
    default:
      process.stderr.write(
        'usage: node dist/scripts/kafka.js start|stop|status|prereqs|fetch [--state-dir DIR]\n' +
          '  start   start a single-node KRaft broker (detached) and print {"brokers",...} as JSON\n' +
          '  stop    stop the broker of DIR (default ./.kafka)\n' +
          '  status  print whether it runs (exit code 3 when not)\n' +
          '  fetch   only download the jars into the cache (CI warm-up)\n',
      );
      return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`kafka: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
