// SPDX-License-Identifier: Apache-2.0
/**
 * The local endpoint's Schema Registry: artifacts (Confluent "subjects") with numbered versions,
 * a global id per distinct schema version, a global compatibility rule and per-artifact rules.
 * Both HTTP faces (IBM's `/artifacts` API and the Confluent-compatible `/confluent` API, in
 * registry-routes.ts) and schema-conforming produce run on this one model.
 *
 * The state is a function of a log of operations ({@link RegistryOp}): every change is appended to
 * the log (registry-store.ts: a file in the state directory, or the compacted Kafka topic
 * `_esnodes_schemas` shared by every gateway on a cluster) and takes effect only when it is
 * applied in log order by {@link SchemaRegistry.apply}. Applying is deterministic and cheap (no
 * schema parsing, no compatibility check): every gateway reading the same log computes the same
 * ids, versions and rules, and a restart replays to the same state. Ids are counted in apply
 * order, so they never depend on which gateway took the request.
 *
 * Writes are optimistic, like a compare-and-set: the proposing gateway parses the schema and runs
 * the compatibility check against the state it has, and the operation carries that state's
 * `basis` (the artifact's newest global id and effective rule). When it is applied, a different
 * basis means another write came first: the operation is a no-op marked `conflict` and the
 * proposer checks again and re-proposes. So the expensive work is done once, by the proposer,
 * and the outcome is the same everywhere.
 *
 * Fair use: registrations by one principal run one at a time (a per-principal queue), are rate
 * limited per principal, yield to the event loop between compatibility checks, and a Writer
 * (registering through produce) may own only so many artifacts, with room kept for managers.
 * Bounded: at most {@link MAX_ARTIFACTS} artifacts and {@link MAX_VERSIONS} versions each, and
 * schemas of at most MAX_SCHEMA_CHARS.
 * Over 500 lines because the registry is one state applied in log order (`apply`); its
 * per-principal queues and limits guard that one state.
 */
import { createHash, randomUUID } from 'node:crypto';

import type avro from 'avsc';

import {
  type CompatibilityRule,
  incompatibility,
  MAX_SCHEMA_CHARS,
  parseSchema,
  schemaSource,
  schemaText,
} from '../lib/server-kit';
import {
  REGISTRY_WRITER_CPU_BURST_MS,
  REGISTRY_WRITER_CPU_MS_PER_SEC,
  REGISTRY_MAX_WAIT_MS,
  REGISTRY_WRITER_QUEUE,
  REGISTRY_PRINCIPAL_BURST,
  REGISTRY_PRINCIPAL_PER_SEC,
  REGISTRY_MANAGER_RESERVED,
  REGISTRY_WRITER_MAX_ARTIFACTS,
} from './limits';
import type { RegistryLimits } from './types';

export const DEFAULT_REGISTRY_LIMITS: RegistryLimits = {
  writerPerSec: REGISTRY_PRINCIPAL_PER_SEC,
  writerBurst: REGISTRY_PRINCIPAL_BURST,
  writerMaxArtifacts: REGISTRY_WRITER_MAX_ARTIFACTS,
  managerReserved: REGISTRY_MANAGER_RESERVED,
  writerCpuMsPerSec: REGISTRY_WRITER_CPU_MS_PER_SEC,
  writerCpuBurstMs: REGISTRY_WRITER_CPU_BURST_MS,
};

export const MAX_ARTIFACTS = 1000;
export const MAX_VERSIONS = 100;
const ID_MAX = 256;
/** Artifact ids end up in URLs, file content and Kafka keys: a conservative character set. */
const ID_RE = /^[A-Za-z0-9._\-:@]+$/;
/** How many times a write is re-checked and re-proposed after losing a race to another write. */
const MAX_CONFLICT_RETRIES = 8;

export interface StoredVersion {
  version: number;
  globalId: number;
  /** Schema text as registered. */
  schema: string;
  createdOn: number;
}

export interface Artifact {
  id: string;
  /** Per-artifact compatibility rule; absent means the global rule applies. */
  rule?: CompatibilityRule;
  versions: StoredVersion[];
  createdOn: number;
  /** Who created it (a one-way label of the principal, never the credential) and with which role. */
  createdBy?: string;
  writer?: boolean;
}

/** The registry-wide settings. */
export interface RegistryMeta {
  rule: CompatibilityRule;
  /** Next global id; never reused, even after deletions (Confluent clients cache ids). */
  nextGlobalId: number;
}

/** Who asks for a change: a label (hash of the credential) and whether the role is Writer. */
export interface Actor {
  label: string;
  writer: boolean;
}

export const SYSTEM_ACTOR: Actor = { label: 'system', writer: false };

/** A one-way label for a principal: registry state and logs never hold the credential. */
export function actorOf(principal: { kind: string; id: string; role: string }): Actor {
  const label = createHash('sha256').update(`${principal.kind}\0${principal.id}`).digest('hex').slice(0, 16);
  return { label, writer: principal.role !== 'manager' };
}

/** One entry of the registry log. `req` identifies the proposal so its proposer gets the outcome. */
export type RegistryOp =
  | {
      t: 'register';
      req: string;
      id: string;
      schema: string;
      /** avsc's normalised text of `schema`, computed by the proposer ("same schema" test). */
      canonical: string;
      at: number;
      by: string;
      writer: boolean;
      mustBeNew: boolean;
      /** The proposer's view: the artifact's newest global id (0: none) and effective rule. */
      basis: number;
      rule: CompatibilityRule;
    }
  | { t: 'deleteArtifact'; req: string; id: string }
  | { t: 'deleteVersion'; req: string; id: string; version: number | 'latest' }
  | { t: 'globalRule'; req: string; rule: CompatibilityRule }
  | { t: 'artifactRule'; req: string; id: string; rule?: CompatibilityRule }
  /** Absolute state (file snapshots; records of the earlier one-record-per-artifact Kafka format). */
  | { t: 'put'; artifact: Artifact }
  | { t: 'drop'; id: string }
  | { t: 'meta'; meta: RegistryMeta };

/**
 * Where the log lives (registry-store.ts). `start` replays it through `apply` and, on Kafka, keeps
 * applying what any gateway appends; `append` resolves once its operation has been applied here.
 */
export interface RegistryLog {
  start(apply: (op: RegistryOp) => void, snapshot: () => RegistryOp[]): Promise<void>;
  append(op: RegistryOp): Promise<void>;
  /** Resolves once everything appended anywhere before the call has been applied here. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** A registry failure with the HTTP status and the Confluent error code to answer with. */
export class RegistryError extends Error {
  constructor(
    readonly status: number,
    /** Confluent-style code: 40401 subject not found, 40402 version not found, 40403 schema not found, 409 incompatible, 42201 invalid schema, 42202 invalid version, 42901 too many requests. */
    readonly confluentCode: number,
    message: string,
    /** For 429: seconds until the principal may register again. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

export interface VersionMeta {
  id: string;
  version: number;
  globalId: number;
  schema: string;
  createdOn: number;
  /** False when an identical schema was already registered (its existing version is returned). */
  created: boolean;
}

export function checkArtifactId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > ID_MAX || !ID_RE.test(id)) {
    throw new RegistryError(
      400,
      42201,
      `Invalid schema id: use 1 to ${ID_MAX} characters from letters, digits and . _ - : @`,
    );
  }
  return id;
}

function parseOrFail(text: string): avro.Type {
  if (text.length > MAX_SCHEMA_CHARS) {
    throw new RegistryError(422, 42201, `The schema is larger than ${MAX_SCHEMA_CHARS} characters`);
  }
  try {
    return parseSchema(text);
  } catch (err) {
    throw new RegistryError(422, 42201, err instanceof Error ? err.message : 'Invalid Avro schema');
  }
}

function yieldNow(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** An artifact and its lookup indexes (not persisted; rebuilt on demand). */
interface Entry {
  artifact: Artifact;
  /** canonical text → version; built lazily (parsing every version once), then kept up to date. */
  canon?: Map<string, StoredVersion>;
  /** exact registered text → version: a repeated registration needs no parsing at all. */
  source: Map<string, StoredVersion>;
}

type Outcome = { ok: unknown } | { err: RegistryError } | { conflict: true };

/** A token bucket per principal for registry writes. */
class Buckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perSec: number,
    private readonly burst: number,
  ) {}
  /** Milliseconds until a token is available (none is taken). */
  waitMs(label: string, now = Date.now()): number {
    const b = this.buckets.get(label);
    if (b === undefined) return 0;
    const tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSec);
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / this.perSec) * 1000);
  }

  /** Seconds until a token is available. */
  peek(label: string, now = Date.now()): number {
    return Math.ceil(this.waitMs(label, now) / 1000);
  }

  /** Takes `amount` tokens, going below zero if need be (a cost measured afterwards). */
  charge(label: string, amount: number, now = Date.now()): void {
    let b = this.buckets.get(label);
    if (b === undefined) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(label, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSec) - amount;
    b.at = now;
  }

  /** 0 when allowed (a token is taken), else seconds to wait. */
  take(label: string, now = Date.now()): number {
    let b = this.buckets.get(label);
    if (b === undefined) {
      // Bounded: forget full buckets when the map grows (they are equivalent to a new one).
      if (this.buckets.size >= 10_000) {
        for (const [k, v] of this.buckets) {
          if (v.tokens + ((now - v.at) / 1000) * this.perSec >= this.burst) this.buckets.delete(k);
        }
      }
      b = { tokens: this.burst, at: now };
      this.buckets.set(label, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSec);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / this.perSec);
  }
}

export class SchemaRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly byGlobalId = new Map<number, { id: string; version: StoredVersion }>();
  private meta: RegistryMeta = { rule: 'NONE', nextGlobalId: 1 };
  /** Artifacts created per principal label, and by Writers in total (growth limits). */
  private readonly owned = new Map<string, number>();
  private writerOwned = 0;
  /** Outcomes for this process's proposals, by `req`. */
  private readonly waiting = new Map<string, (o: Outcome) => void>();
  /** Per-principal queues: one principal's writes run one at a time. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Writes queued or running per principal. */
  private readonly depth = new Map<string, number>();
  private readonly buckets: Buckets;
  /** Writers' CPU budgets, in milliseconds. */
  private readonly cpu: Buckets;

  private constructor(
    private readonly log: RegistryLog,
    private readonly limits: RegistryLimits,
  ) {
    this.buckets = new Buckets(limits.writerPerSec, limits.writerBurst);
    this.cpu = new Buckets(limits.writerCpuMsPerSec, limits.writerCpuBurstMs);
  }

  static async open(log: RegistryLog, limits: Partial<RegistryLimits> = {}): Promise<SchemaRegistry> {
    const registry = new SchemaRegistry(log, { ...DEFAULT_REGISTRY_LIMITS, ...limits });
    await log.start(
      (op) => registry.apply(op),
      () => registry.snapshot(),
    );
    return registry;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()]);
    await this.log.close();
  }

  /** Catches up with writes made through other gateways (a no-op without Kafka). */
  sync(): Promise<void> {
    return this.log.sync();
  }

  // ------------------------------------------------------------------ reads

  list(): string[] {
    return [...this.entries.keys()].sort();
  }

  versions(id: string): number[] {
    return this.entry(id).artifact.versions.map((v) => v.version);
  }

  /** A version (`latest` or absent: the newest). */
  get(id: string, version?: number | 'latest'): VersionMeta {
    const a = this.entry(id).artifact;
    const v =
      version === undefined || version === 'latest'
        ? a.versions[a.versions.length - 1]
        : a.versions.find((x) => x.version === version);
    if (v === undefined)
      throw new RegistryError(
        404,
        40402,
        `No version '${String(version)}' of schema '${id}' could be found.`,
      );
    return { id, ...v, created: false };
  }

  /** Like {@link get}, catching up with other gateways first when the answer would be a 404. */
  async getFresh(id: string, version?: number | 'latest'): Promise<VersionMeta> {
    try {
      return this.get(id, version);
    } catch (err) {
      if (!(err instanceof RegistryError) || err.status !== 404) throw err;
      await this.sync();
      return this.get(id, version);
    }
  }

  byId(globalId: number): VersionMeta {
    const hit = this.byGlobalId.get(globalId);
    if (hit === undefined) throw new RegistryError(404, 40403, `Schema ${globalId} not found`);
    return { id: hit.id, ...hit.version, created: false };
  }

  /** The version of `id` whose schema equals `schema` (canonically), else a 404. */
  lookup(id: string, schema: string): VersionMeta {
    const e = this.entry(id);
    const exact = e.source.get(schemaSource(schema));
    const v = exact ?? this.canonIndex(e).get(schemaText(parseOrFail(schema)));
    if (v === undefined) throw new RegistryError(404, 40403, 'Schema not found');
    return { id, ...v, created: false };
  }

  globalRule(): CompatibilityRule {
    return this.meta.rule;
  }

  /** The artifact's own rule, or undefined when it follows the global one. */
  artifactRule(id: string): CompatibilityRule | undefined {
    return this.entry(id).artifact.rule;
  }

  effectiveRule(id: string): CompatibilityRule {
    return this.entries.get(id)?.artifact.rule ?? this.meta.rule;
  }

  /** Why `schema` may not become the next version of `id`, or undefined. */
  async checkCompatible(id: string, schema: string): Promise<string | undefined> {
    const candidate = parseOrFail(schema);
    const e = this.entries.get(id);
    if (e === undefined) return undefined;
    return this.incompatible(this.effectiveRule(id), candidate, e.artifact.versions);
  }

  // ------------------------------------------------------------------ writes

  /**
   * Registers `schema` under `id`: returns the existing version when the same schema is already
   * there, otherwise adds a version (creating the artifact) if the compatibility rule allows.
   * `mustBeNew`: IBM's POST /artifacts, which refuses an existing id with 409.
   */
  async register(
    id: string | undefined,
    schema: string,
    mustBeNew = false,
    actor: Actor = SYSTEM_ACTOR,
  ): Promise<VersionMeta> {
    const aid = id === undefined ? this.generatedId() : checkArtifactId(id);
    const text = schemaSource(schema);
    // The common case (a producer sending a schema it registered before) costs one map lookup.
    const known = mustBeNew ? undefined : this.entries.get(aid)?.source.get(text);
    if (known !== undefined) return { id: aid, ...known, created: false };
    // A Writer's registrations wait in its own queue, one at a time; past a short queue it is
    // refused before any parsing, so a registration loop costs the gateway little.
    if (actor.writer && (this.depth.get(actor.label) ?? 0) >= REGISTRY_WRITER_QUEUE) {
      throw this.tooMany(Math.max(1, this.buckets.peek(actor.label)));
    }
    return this.queued(actor.label, async () => {
      await this.sync();
      // A Writer's registrations share a CPU budget: what its parsing and compatibility checks
      // cost is measured and paid back (waiting, no CPU) before its next one, so a registration
      // loop cannot take more than writerCpuMsPerSec of the gateway's event loop.
      const cost = actor.writer ? (ms: number): void => this.cpu.charge(actor.label, ms) : undefined;
      if (cost !== undefined) await this.pace(this.cpu, actor.label);
      const t0 = process.hrtime.bigint();
      const type = parseOrFail(schema);
      const canonical = schemaText(type);
      cost?.(Number(process.hrtime.bigint() - t0) / 1e6);
      let charged = false;
      for (let attempt = 0; ; attempt++) {
        const e = this.entries.get(aid);
        if (e !== undefined && mustBeNew) {
          throw new RegistryError(409, 40901, `A schema with id '${aid}' already exists.`);
        }
        if (e !== undefined) {
          const t1 = process.hrtime.bigint();
          const same = this.canonIndex(e).get(canonical);
          cost?.(Number(process.hrtime.bigint() - t1) / 1e6);
          if (same !== undefined) return { id: aid, ...same, created: false };
        }
        this.checkGrowth(aid, e, actor);
        // Only a Writer's change costs a token (Managers administer the registry; a Writer
        // registers through produce): re-sending a registered schema is never rate limited.
        if (!charged && actor.writer) {
          // Waiting here (a timer, no CPU) paces a loop to the principal's rate; a wait longer
          // than REGISTRY_MAX_WAIT_MS is refused with 429 and Retry-After instead.
          await this.pace(this.buckets, actor.label);
          this.buckets.take(actor.label);
          charged = true;
        }
        const rule = this.effectiveRule(aid);
        const versions = e?.artifact.versions ?? [];
        const basis = versions[versions.length - 1]?.globalId ?? 0;
        const why = await this.incompatible(rule, type, versions, cost);
        if (why !== undefined) {
          throw new RegistryError(
            409,
            409,
            `Schema being registered is incompatible with an earlier schema (compatibility ${rule}): ${why}`,
          );
        }
        const outcome = await this.propose({
          t: 'register',
          req: randomUUID(),
          id: aid,
          schema: text,
          canonical,
          at: Date.now(),
          by: actor.label,
          writer: actor.writer,
          mustBeNew,
          basis,
          rule,
        });
        if ('conflict' in outcome) {
          if (attempt >= MAX_CONFLICT_RETRIES) {
            throw new RegistryError(409, 40901, `Schema '${aid}' changed concurrently; try again.`);
          }
          continue;
        }
        if ('err' in outcome) throw outcome.err;
        return outcome.ok as VersionMeta;
      }
    });
  }

  /** Counts CPU a Writer's request spent on schema work outside the registry (produce parsing). */
  chargeCpu(actor: Actor, ms: number): void {
    if (actor.writer) this.cpu.charge(actor.label, ms);
  }

  private tooMany(wait: number): RegistryError {
    return new RegistryError(
      429,
      42901,
      `Too many schema registrations from this principal; retry in ${wait} s`,
      wait,
    );
  }

  /** Deletes an artifact; returns its version numbers. */
  deleteArtifact(id: string): Promise<number[]> {
    this.entry(id);
    return this.proposeOk({ t: 'deleteArtifact', req: randomUUID(), id }) as Promise<number[]>;
  }

  /** Deletes one version; deleting the last one deletes the artifact (as documented). */
  deleteVersion(id: string, version: number | 'latest'): Promise<number> {
    this.get(id, version);
    return this.proposeOk({ t: 'deleteVersion', req: randomUUID(), id, version }) as Promise<number>;
  }

  async setGlobalRule(rule: CompatibilityRule): Promise<CompatibilityRule> {
    await this.proposeOk({ t: 'globalRule', req: randomUUID(), rule });
    return rule;
  }

  /** Sets (or with undefined, removes) an artifact's own rule. */
  async setArtifactRule(id: string, rule: CompatibilityRule | undefined): Promise<void> {
    this.entry(id);
    await this.proposeOk({ t: 'artifactRule', req: randomUUID(), id, ...(rule ? { rule } : {}) });
  }

  // ------------------------------------------------------------------ the log

  /**
   * Applies one log entry. Deterministic: it depends only on the state and the entry, so every
   * gateway (and every restart) computes the same result. Never throws; failures are outcomes.
   */
  apply(op: RegistryOp): void {
    let outcome: Outcome;
    try {
      outcome = { ok: this.applyOp(op) };
    } catch (err) {
      outcome =
        err === CONFLICT
          ? { conflict: true }
          : {
              err:
                err instanceof RegistryError
                  ? err
                  : new RegistryError(500, 50001, err instanceof Error ? err.message : String(err)),
            };
    }
    if ('req' in op) {
      const done = this.waiting.get(op.req);
      if (done !== undefined) {
        this.waiting.delete(op.req);
        done(outcome);
      }
    }
  }

  /** The whole state as absolute entries: what a compacted file log starts from. */
  snapshot(): RegistryOp[] {
    const out: RegistryOp[] = [{ t: 'meta', meta: { ...this.meta } }];
    for (const e of this.entries.values()) out.push({ t: 'put', artifact: e.artifact });
    return out;
  }

  private applyOp(op: RegistryOp): unknown {
    switch (op.t) {
      case 'register':
        return this.applyRegister(op);
      case 'deleteArtifact': {
        const e = this.entry(op.id);
        this.remove(op.id);
        return e.artifact.versions.map((v) => v.version);
      }
      case 'deleteVersion': {
        const e = this.entry(op.id);
        const v = this.get(op.id, op.version);
        const rest = e.artifact.versions.filter((x) => x.version !== v.version);
        if (rest.length === 0) {
          this.remove(op.id);
        } else {
          e.artifact = { ...e.artifact, versions: rest };
          e.source.delete(v.schema);
          e.canon = undefined;
          this.byGlobalId.delete(v.globalId);
        }
        return v.version;
      }
      case 'globalRule':
        this.meta = { ...this.meta, rule: op.rule };
        return op.rule;
      case 'artifactRule': {
        const e = this.entry(op.id);
        const next: Artifact = { ...e.artifact };
        if (op.rule === undefined) delete next.rule;
        else next.rule = op.rule;
        e.artifact = next;
        return undefined;
      }
      case 'put':
        this.put(op.artifact);
        return undefined;
      case 'drop':
        if (this.entries.has(op.id)) this.remove(op.id);
        return undefined;
      case 'meta':
        this.meta = {
          rule: op.meta.rule,
          nextGlobalId: Math.max(this.meta.nextGlobalId, op.meta.nextGlobalId),
        };
        return undefined;
    }
  }

  private applyRegister(op: Extract<RegistryOp, { t: 'register' }>): VersionMeta {
    const e = this.entries.get(op.id);
    if (e !== undefined && op.mustBeNew) {
      throw new RegistryError(409, 40901, `A schema with id '${op.id}' already exists.`);
    }
    const versions = e?.artifact.versions ?? [];
    const newest = versions[versions.length - 1]?.globalId ?? 0;
    // An unchanged basis means the proposer's checks still hold: the newest version is the one
    // it checked against (any addition changes it), the rule is the same, and the schema was not
    // among the versions (deletions cannot add it back).
    if (newest !== op.basis || this.effectiveRule(op.id) !== op.rule) throw CONFLICT;
    // Growth limits are the proposer's check, not re-applied here: what a log holds then never
    // depends on the limits a gateway runs with, so a restart with other limits keeps every id
    // (two gateways racing may overshoot a limit by one version each).
    const version: StoredVersion = {
      version: (versions[versions.length - 1]?.version ?? 0) + 1,
      globalId: this.meta.nextGlobalId,
      schema: op.schema,
      createdOn: op.at,
    };
    this.meta = { ...this.meta, nextGlobalId: this.meta.nextGlobalId + 1 };
    if (e === undefined) {
      const artifact: Artifact = {
        id: op.id,
        versions: [version],
        createdOn: op.at,
        createdBy: op.by,
        ...(op.writer ? { writer: true } : {}),
      };
      this.put(artifact);
      this.entries.get(op.id)!.canon = new Map([[op.canonical, version]]);
    } else {
      e.artifact = { ...e.artifact, versions: [...versions, version] };
      e.source.set(version.schema, version);
      e.canon?.set(op.canonical, version);
      this.byGlobalId.set(version.globalId, { id: op.id, version });
    }
    return { id: op.id, ...version, created: true };
  }

  /** The registry's and the principal's growth limits for a new version of `id`. */
  private checkGrowth(id: string, e: Entry | undefined, actor: Actor): void {
    if (e !== undefined) {
      if (e.artifact.versions.length >= MAX_VERSIONS) {
        throw new RegistryError(
          422,
          42202,
          `Schema '${id}' already has ${MAX_VERSIONS} versions; delete some first.`,
        );
      }
      return;
    }
    if (this.entries.size >= MAX_ARTIFACTS) {
      throw new RegistryError(
        422,
        42201,
        `The registry already holds ${MAX_ARTIFACTS} schemas; delete some first.`,
      );
    }
    if (actor.writer) {
      if ((this.owned.get(actor.label) ?? 0) >= this.limits.writerMaxArtifacts) {
        throw new RegistryError(
          422,
          42201,
          `This Writer already created ${this.limits.writerMaxArtifacts} schemas; a Manager must register more or delete some.`,
        );
      }
      if (this.writerOwned >= MAX_ARTIFACTS - this.limits.managerReserved) {
        throw new RegistryError(
          422,
          42201,
          `Writers have created ${this.writerOwned} schemas; the rest of the registry is kept for Managers.`,
        );
      }
    }
  }

  private put(artifact: Artifact): void {
    if (this.entries.has(artifact.id)) this.remove(artifact.id);
    const source = new Map<string, StoredVersion>();
    for (const v of artifact.versions) {
      source.set(v.schema, v);
      this.byGlobalId.set(v.globalId, { id: artifact.id, version: v });
      if (v.globalId >= this.meta.nextGlobalId) this.meta = { ...this.meta, nextGlobalId: v.globalId + 1 };
    }
    this.entries.set(artifact.id, { artifact, source });
    if (artifact.createdBy !== undefined) {
      this.owned.set(artifact.createdBy, (this.owned.get(artifact.createdBy) ?? 0) + 1);
      if (artifact.writer) this.writerOwned++;
    }
  }

  private remove(id: string): void {
    const e = this.entries.get(id);
    if (e === undefined) return;
    this.entries.delete(id);
    for (const v of e.artifact.versions) this.byGlobalId.delete(v.globalId);
    const by = e.artifact.createdBy;
    if (by !== undefined) {
      const n = (this.owned.get(by) ?? 1) - 1;
      if (n <= 0) this.owned.delete(by);
      else this.owned.set(by, n);
      if (e.artifact.writer) this.writerOwned--;
    }
  }

  private propose(op: RegistryOp & { req: string }): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      this.waiting.set(op.req, resolve);
      this.log.append(op).then(
        () => {
          // Appended and applied: an outcome still missing means the entry was not ours to apply.
          const done = this.waiting.get(op.req);
          if (done !== undefined) {
            this.waiting.delete(op.req);
            reject(new RegistryError(503, 50301, 'The schema registry log did not apply the change'));
          }
        },
        (err: unknown) => {
          this.waiting.delete(op.req);
          reject(
            new RegistryError(
              503,
              50301,
              `The schema registry could not store the change: ${err instanceof Error ? err.message : String(err)}`,
            ),
          );
        },
      );
    });
  }

  private async proposeOk(op: RegistryOp & { req: string }): Promise<unknown> {
    const outcome = await this.propose(op);
    if ('err' in outcome) throw outcome.err;
    if ('conflict' in outcome) throw new RegistryError(409, 40901, 'Concurrent change; try again.');
    return outcome.ok;
  }

  /** Compatibility against the versions the rule names, yielding between checks. */
  private async incompatible(
    rule: CompatibilityRule,
    candidate: avro.Type,
    versions: readonly StoredVersion[],
    cost?: (ms: number) => void,
  ): Promise<string | undefined> {
    if (rule === 'NONE' || versions.length === 0) return undefined;
    const against = rule.endsWith('_TRANSITIVE') ? versions : versions.slice(-1);
    for (let i = against.length - 1; i >= 0; i--) {
      await yieldNow();
      const t0 = process.hrtime.bigint();
      const why = incompatibility(rule, candidate, [parseSchema(against[i]!.schema)]);
      cost?.(Number(process.hrtime.bigint() - t0) / 1e6);
      if (why !== undefined) return why;
    }
    return undefined;
  }

  /**
   * Waits (a timer) until `label` has a token in `bucket`. When that is too far off, the answer is
   * still a 429 after REGISTRY_MAX_WAIT_MS, not at once: a loop that retries on 429 is slowed
   * down too, instead of making the gateway answer it as fast as it can ask.
   */
  private async pace(bucket: Buckets, label: string): Promise<void> {
    let waitMs = bucket.waitMs(label);
    if (waitMs > REGISTRY_MAX_WAIT_MS) {
      await new Promise((r) => setTimeout(r, REGISTRY_MAX_WAIT_MS));
      throw this.tooMany(Math.ceil(bucket.waitMs(label) / 1000));
    }
    while (waitMs > 0) {
      await new Promise((r) => setTimeout(r, waitMs));
      waitMs = bucket.waitMs(label);
    }
  }

  private canonIndex(e: Entry): Map<string, StoredVersion> {
    if (e.canon === undefined) {
      e.canon = new Map();
      for (const v of e.artifact.versions) e.canon.set(schemaText(parseSchema(v.schema)), v);
    }
    return e.canon;
  }

  private entry(id: string): Entry {
    const e = this.entries.get(id);
    if (e === undefined) throw new RegistryError(404, 40401, `No artifact with id '${id}' could be found.`);
    return e;
  }

  private generatedId(): string {
    for (;;) {
      const id = `schema-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
      if (!this.entries.has(id)) return id;
    }
  }

  private queued<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(label) ?? Promise.resolve();
    this.depth.set(label, (this.depth.get(label) ?? 0) + 1);
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.queues.set(label, tail);
    void tail.then(() => {
      const d = (this.depth.get(label) ?? 1) - 1;
      if (d <= 0) this.depth.delete(label);
      else this.depth.set(label, d);
      if (this.queues.get(label) === tail) this.queues.delete(label);
    });
    return run;
  }
}

const CONFLICT = Symbol('conflict');
