// SPDX-License-Identifier: Apache-2.0
/**
 * The local endpoint's Schema Registry: artifacts (Confluent "subjects") with numbered versions,
 * a global id per distinct schema version, a global compatibility rule and per-artifact rules.
 * Both HTTP faces (IBM's `/artifacts` API and the Confluent-compatible `/confluent` API, in
 * registry-routes.ts) and schema-conforming produce run on this one model.
 *
 * State changes are written through a {@link RegistryStore} before the caller is answered, so an
 * acknowledged registration survives a restart: a JSON file in the state directory (memory
 * backend) or a compacted Kafka topic (Kafka backend), one entry per artifact.
 *
 * Bounded: at most {@link MAX_ARTIFACTS} artifacts and {@link MAX_VERSIONS} versions each, and
 * schemas of at most MAX_SCHEMA_CHARS, so a caller cannot grow the registry without limit.
 */
import type avro from 'avsc';

import {
  type CompatibilityRule,
  incompatibility,
  MAX_SCHEMA_CHARS,
  parseSchema,
  schemaSource,
  schemaText,
} from '../schema';

export const MAX_ARTIFACTS = 1000;
export const MAX_VERSIONS = 100;
const ID_MAX = 256;
/** Artifact ids end up in URLs, file content and Kafka keys: a conservative character set. */
const ID_RE = /^[A-Za-z0-9._\-:@]+$/;

export interface StoredVersion {
  version: number;
  globalId: number;
  /** Canonical schema text. */
  schema: string;
  createdOn: number;
}

export interface Artifact {
  id: string;
  /** Per-artifact compatibility rule; absent means the global rule applies. */
  rule?: CompatibilityRule;
  versions: StoredVersion[];
  createdOn: number;
}

/** What the stores persist: artifacts by id plus the registry-wide settings. */
export interface RegistryMeta {
  rule: CompatibilityRule;
  /** Next global id; never reused, even after deletions (Confluent clients cache ids). */
  nextGlobalId: number;
}

/** Where registry state lives. `put(id, undefined)` deletes an artifact. */
export interface RegistryStore {
  load(): Promise<{ meta?: RegistryMeta; artifacts: Artifact[] }>;
  putArtifact(id: string, artifact: Artifact | undefined): Promise<void>;
  putMeta(meta: RegistryMeta): Promise<void>;
  close(): Promise<void>;
}

/** A registry failure with the HTTP status and the Confluent error code to answer with. */
export class RegistryError extends Error {
  constructor(
    readonly status: number,
    /** Confluent-style code: 40401 subject not found, 40402 version not found, 40403 schema not found, 409 incompatible, 42201 invalid schema, 42202 invalid version. */
    readonly confluentCode: number,
    message: string,
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

export class SchemaRegistry {
  private readonly artifacts = new Map<string, Artifact>();
  private readonly byGlobalId = new Map<number, { id: string; version: StoredVersion }>();
  private meta: RegistryMeta = { rule: 'NONE', nextGlobalId: 1 };
  /** Mutations run one at a time so that check-then-write (compatibility, ids) is atomic. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly store: RegistryStore) {}

  static async open(store: RegistryStore): Promise<SchemaRegistry> {
    const registry = new SchemaRegistry(store);
    const loaded = await store.load();
    if (loaded.meta) registry.meta = { ...loaded.meta };
    for (const a of loaded.artifacts) {
      registry.artifacts.set(a.id, a);
      for (const v of a.versions) {
        registry.byGlobalId.set(v.globalId, { id: a.id, version: v });
        if (v.globalId >= registry.meta.nextGlobalId) registry.meta.nextGlobalId = v.globalId + 1;
      }
    }
    return registry;
  }

  close(): Promise<void> {
    return this.queue.then(
      () => this.store.close(),
      () => this.store.close(),
    );
  }

  // ------------------------------------------------------------------ reads

  list(): string[] {
    return [...this.artifacts.keys()].sort();
  }

  versions(id: string): number[] {
    return this.artifact(id).versions.map((v) => v.version);
  }

  /** A version (`latest` or absent: the newest). */
  get(id: string, version?: number | 'latest'): VersionMeta {
    const a = this.artifact(id);
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

  byId(globalId: number): VersionMeta {
    const hit = this.byGlobalId.get(globalId);
    if (hit === undefined) throw new RegistryError(404, 40403, `Schema ${globalId} not found`);
    return { id: hit.id, ...hit.version, created: false };
  }

  /** The version of `id` whose schema equals `schema` (canonically), else a 404. */
  lookup(id: string, schema: string): VersionMeta {
    const text = schemaText(parseOrFail(schema));
    const v = this.artifact(id).versions.find((x) => schemaText(parseSchema(x.schema)) === text);
    if (v === undefined) throw new RegistryError(404, 40403, 'Schema not found');
    return { id, ...v, created: false };
  }

  globalRule(): CompatibilityRule {
    return this.meta.rule;
  }

  /** The artifact's own rule, or undefined when it follows the global one. */
  artifactRule(id: string): CompatibilityRule | undefined {
    return this.artifact(id).rule;
  }

  effectiveRule(id: string): CompatibilityRule {
    return this.artifacts.get(id)?.rule ?? this.meta.rule;
  }

  /** Why `schema` may not become the next version of `id`, or undefined. */
  checkCompatible(id: string, schema: string): string | undefined {
    const candidate = parseOrFail(schema);
    const a = this.artifacts.get(id);
    if (a === undefined) return undefined;
    return incompatibility(
      this.effectiveRule(id),
      candidate,
      a.versions.map((v) => parseSchema(v.schema)),
    );
  }

  // ------------------------------------------------------------------ writes

  /**
   * Registers `schema` under `id`: returns the existing version when the same schema is already
   * there, otherwise adds a version (creating the artifact) if the compatibility rule allows.
   * `mustBeNew`: IBM's POST /artifacts, which refuses an existing id with 409.
   */
  register(id: string | undefined, schema: string, mustBeNew = false): Promise<VersionMeta> {
    return this.serial(async () => {
      const aid = id === undefined ? this.generatedId() : checkArtifactId(id);
      const type = parseOrFail(schema);
      const canonical = schemaText(type);
      const text = schemaSource(schema);
      const existing = this.artifacts.get(aid);
      if (existing !== undefined && mustBeNew) {
        throw new RegistryError(409, 40901, `A schema with id '${aid}' already exists.`);
      }
      if (existing !== undefined) {
        const same = existing.versions.find((v) => schemaText(parseSchema(v.schema)) === canonical);
        if (same !== undefined) return { id: aid, ...same, created: false };
        const why = incompatibility(
          this.effectiveRule(aid),
          type,
          existing.versions.map((v) => parseSchema(v.schema)),
        );
        if (why !== undefined) {
          throw new RegistryError(
            409,
            409,
            `Schema being registered is incompatible with an earlier schema (compatibility ${this.effectiveRule(aid)}): ${why}`,
          );
        }
        if (existing.versions.length >= MAX_VERSIONS) {
          throw new RegistryError(
            422,
            42202,
            `Schema '${aid}' already has ${MAX_VERSIONS} versions; delete some first.`,
          );
        }
      } else if (this.artifacts.size >= MAX_ARTIFACTS) {
        throw new RegistryError(
          422,
          42201,
          `The registry already holds ${MAX_ARTIFACTS} schemas; delete some first.`,
        );
      }
      const now = Date.now();
      const artifact: Artifact = existing
        ? { ...existing, versions: [...existing.versions] }
        : { id: aid, versions: [], createdOn: now };
      const last = artifact.versions[artifact.versions.length - 1];
      const version: StoredVersion = {
        version: (last?.version ?? 0) + 1,
        globalId: this.meta.nextGlobalId,
        schema: text,
        createdOn: now,
      };
      artifact.versions.push(version);
      const meta = { ...this.meta, nextGlobalId: this.meta.nextGlobalId + 1 };
      // Persist first: an answered registration must survive a restart.
      await this.store.putMeta(meta);
      await this.store.putArtifact(aid, artifact);
      this.meta = meta;
      this.artifacts.set(aid, artifact);
      this.byGlobalId.set(version.globalId, { id: aid, version });
      return { id: aid, ...version, created: true };
    });
  }

  /** Deletes an artifact; returns its version numbers. */
  deleteArtifact(id: string): Promise<number[]> {
    return this.serial(async () => {
      const a = this.artifact(id);
      await this.store.putArtifact(id, undefined);
      this.artifacts.delete(id);
      for (const v of a.versions) this.byGlobalId.delete(v.globalId);
      return a.versions.map((v) => v.version);
    });
  }

  /** Deletes one version; deleting the last one deletes the artifact (as documented). */
  deleteVersion(id: string, version: number | 'latest'): Promise<number> {
    return this.serial(async () => {
      const a = this.artifact(id);
      const v = this.get(id, version);
      const rest = a.versions.filter((x) => x.version !== v.version);
      if (rest.length === 0) {
        await this.store.putArtifact(id, undefined);
        this.artifacts.delete(id);
      } else {
        const next = { ...a, versions: rest };
        await this.store.putArtifact(id, next);
        this.artifacts.set(id, next);
      }
      this.byGlobalId.delete(v.globalId);
      return v.version;
    });
  }

  setGlobalRule(rule: CompatibilityRule): Promise<CompatibilityRule> {
    return this.serial(async () => {
      const meta = { ...this.meta, rule };
      await this.store.putMeta(meta);
      this.meta = meta;
      return rule;
    });
  }

  /** Sets (or with undefined, removes) an artifact's own rule. */
  setArtifactRule(id: string, rule: CompatibilityRule | undefined): Promise<void> {
    return this.serial(async () => {
      const a = this.artifact(id);
      const next: Artifact = { ...a };
      if (rule === undefined) delete next.rule;
      else next.rule = rule;
      await this.store.putArtifact(id, next);
      this.artifacts.set(id, next);
    });
  }

  private artifact(id: string): Artifact {
    const a = this.artifacts.get(id);
    if (a === undefined) throw new RegistryError(404, 40401, `No artifact with id '${id}' could be found.`);
    return a;
  }

  private generatedId(): string {
    for (;;) {
      const id = `schema-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
      if (!this.artifacts.has(id)) return id;
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
