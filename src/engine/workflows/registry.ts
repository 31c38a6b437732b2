import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { StepKinds } from '../steps/registry.js';
import type { DefinitionProblem, WorkflowDefinition, WorkflowOrigin, WorkflowVersionRecord } from '../types.js';
import { checkWorkflowObject, definitionHash, parseWorkflowDefinition, type ParsedWorkflow } from './parse.js';

/** The workflow a run uses when it names none, as in the seed. */
export const DEFAULT_WORKFLOW_NAME = 'quarkus-bootstrap-v1';

/** Where registered workflow versions are kept (the database layer implements it). */
export interface WorkflowStore {
  listWorkflowVersions(): Promise<WorkflowVersionRecord[]>;
  /** Stores a new (name, version); false if that pair is already stored (nothing is changed then). */
  insertWorkflowVersion(record: WorkflowVersionRecord): Promise<boolean>;
}

/** A file (a definition, or a custom step type's module) that could not be loaded, and why. */
export interface LoadProblem {
  file: string;
  problems: DefinitionProblem[];
}

export type RegisterResult =
  /** Stored now (`registered`), or the same content was already stored under that version (`unchanged`). */
  | { status: 'registered' | 'unchanged'; workflow: WorkflowVersionRecord }
  | { status: 'invalid'; problems: DefinitionProblem[] }
  /** Other content is already registered under that (name, version): versions never change. */
  | { status: 'conflict'; existing: WorkflowVersionRecord; message: string };

/** The definition files shipped with the server. */
const BUILT_IN_FOLDER = fileURLToPath(new URL('./builtin/', import.meta.url));
const DEFINITION_FILE = /\.(ya?ml|json)$/i;

/**
 * A workflow definition written as data in code, in the shape of a definition file (optional fields
 * may be left out; it is checked and normalised like a file). For tests and embedders.
 */
export interface WorkflowSpec {
  name: string;
  version: string;
  description?: string;
  inputs?: Record<string, { type: string; description?: string; default?: string | number | boolean; required?: boolean; options?: string[] }>;
  steps: ReadonlyArray<{ name: string; type: string; [field: string]: unknown }>;
}

/** The built-in definitions, read from their files (YAML). */
export function builtInSources(): Array<{ file: string; source: string }> {
  return readdirSync(BUILT_IN_FOLDER)
    .filter((name) => DEFINITION_FILE.test(name))
    .sort()
    .map((name) => ({ file: path.join(BUILT_IN_FOLDER, name), source: readFileSync(path.join(BUILT_IN_FOLDER, name), 'utf8') }));
}

/**
 * Every registered version of every workflow: the built-ins, the files of WORKFLOWS_DIR and those
 * registered through the API. A (name, version) is immutable: registering the same content again
 * changes nothing, other content under it is refused. Runs pin the exact definition they were
 * created with (stored with the run), so nothing registered later changes a run.
 */
export class WorkflowRegistry {
  /** By name: every version, oldest registration first. */
  private readonly byName = new Map<string, WorkflowVersionRecord[]>();
  private readonly problems = new Map<string, LoadProblem>();
  private store: WorkflowStore | null = null;
  private kinds: StepKinds | null = null;

  /**
   * `builtIns`: the built-in workflows, as definition texts (default: the files shipped in
   * `builtin/`) or as definitions written in code (tests, embedders). They are checked like any file.
   */
  constructor(private readonly builtIns: ReadonlyArray<WorkflowSpec | { file: string; source: string }> = builtInSources()) {}

  /**
   * Loads what the store holds, then registers the built-ins. Must be called once, before use.
   * A built-in that is invalid, or differs from what is stored under its version, is a load problem.
   */
  async open(store: WorkflowStore, kinds: StepKinds): Promise<void> {
    this.store = store;
    this.kinds = kinds;
    for (const record of await store.listWorkflowVersions()) this.remember(record);
    for (const builtIn of this.builtIns) {
      const isText = 'source' in builtIn;
      const file = isText ? builtIn.file : `built-in workflow ${builtIn.name}`;
      const parsed = isText ? parseWorkflowDefinition(builtIn.source, kinds) : checkWorkflowObject(builtIn, kinds);
      // A built-in that does not check is a fault of the server itself, not of its user.
      if (!parsed.definition) throw new Error(`${file} is not a valid workflow definition: ${parsed.problems.map(describeProblem).join('; ')}`);
      this.noteResult(file, await this.registerParsed(parsed.definition, isText ? builtIn.source : stringify(builtIn), 'BUILT_IN', isText ? builtIn.file : null));
    }
  }

  /** Reads every *.yaml, *.yml and *.json in `folder` (created if missing); a file that fails is a load problem, the others load. */
  async loadDirectory(folder: string): Promise<void> {
    await mkdir(folder, { recursive: true });
    const names = (await readdir(folder)).filter((name) => DEFINITION_FILE.test(name)).sort();
    for (const name of names) {
      const file = path.resolve(folder, name);
      let source: string;
      try {
        source = await readFile(file, 'utf8');
      } catch (error) {
        this.problems.set(file, { file, problems: [{ message: `Cannot read the file: ${(error as Error).message}`, path: '', line: null, column: null }] });
        continue;
      }
      await this.registerFrom(file, source, 'FILE', file);
    }
  }

  /** Checks a definition without registering anything. */
  validate(source: string): ParsedWorkflow {
    return parseWorkflowDefinition(source, this.requireKinds());
  }

  /** Checks and stores a definition text. */
  async register(source: string, origin: WorkflowOrigin, originPath: string | null = null): Promise<RegisterResult> {
    const parsed = this.validate(source);
    if (!parsed.definition) return { status: 'invalid', problems: parsed.problems };
    return this.registerParsed(parsed.definition, source, origin, originPath);
  }

  /** Checks and stores a definition written as data (tests, benchmarks, embedders). */
  async registerSpec(spec: WorkflowSpec, origin: WorkflowOrigin = 'API'): Promise<RegisterResult> {
    const parsed = checkWorkflowObject(spec, this.requireKinds());
    if (!parsed.definition) return { status: 'invalid', problems: parsed.problems };
    return this.registerParsed(parsed.definition, stringify(spec), origin, null);
  }

  private async registerFrom(file: string, source: string, origin: WorkflowOrigin, originPath: string): Promise<void> {
    this.problems.delete(file);
    this.noteResult(file, await this.register(source, origin, originPath));
  }

  private noteResult(file: string, result: RegisterResult | null): void {
    if (!result) return;
    if (result.status === 'invalid') this.problems.set(file, { file, problems: result.problems });
    if (result.status === 'conflict') this.problems.set(file, { file, problems: [{ message: result.message, path: 'version', line: null, column: null }] });
  }

  private async registerParsed(definition: WorkflowDefinition, source: string, origin: WorkflowOrigin, originPath: string | null): Promise<RegisterResult> {
    const store = this.requireStore();
    const contentHash = definitionHash(definition);
    const existing = this.get(definition.name, definition.version);
    if (existing) return this.sameOrConflict(existing, contentHash);
    const record: WorkflowVersionRecord = { definition, source, contentHash, origin, originPath, registeredAt: new Date() };
    if (!(await store.insertWorkflowVersion(record))) {
      // Stored meanwhile (another registration, another instance): read it back.
      for (const stored of await store.listWorkflowVersions()) if (!this.get(stored.definition.name, stored.definition.version)) this.remember(stored);
      const stored = this.get(definition.name, definition.version);
      if (stored) return this.sameOrConflict(stored, contentHash);
    }
    this.remember(record);
    return { status: 'registered', workflow: record };
  }

  private sameOrConflict(existing: WorkflowVersionRecord, contentHash: string): RegisterResult {
    if (existing.contentHash === contentHash) return { status: 'unchanged', workflow: existing };
    const { name, version } = existing.definition;
    const where = existing.origin === 'FILE' && existing.originPath ? ` (from ${existing.originPath})` : existing.origin === 'BUILT_IN' ? ' (built in)' : '';
    return {
      status: 'conflict',
      existing,
      message: `Workflow ${name} version ${version} is already registered${where} with different content, and a registered version never changes: give this definition a new version (such as ${nextVersion(version)})`,
    };
  }

  private remember(record: WorkflowVersionRecord): void {
    const versions = this.byName.get(record.definition.name) ?? [];
    versions.push(record);
    this.byName.set(record.definition.name, versions);
  }

  /** One version of a workflow, or its latest when `version` is not given. */
  get(name: string, version?: string | null): WorkflowVersionRecord | undefined {
    const versions = this.byName.get(name);
    if (!versions) return undefined;
    if (version === undefined || version === null) return latestOf(versions);
    return versions.find((v) => v.definition.version === version);
  }

  /** Every version of a workflow, latest first. */
  versions(name: string): WorkflowVersionRecord[] {
    return [...(this.byName.get(name) ?? [])].sort((a, b) => -compareRecords(a, b));
  }

  /** The latest version of every workflow, by name. */
  list(): WorkflowVersionRecord[] {
    return [...this.byName.values()].map(latestOf).sort((a, b) => a.definition.name.localeCompare(b.definition.name));
  }

  names(): string[] {
    return this.list().map((w) => w.definition.name);
  }

  /** Definitions that failed to load (built-ins, files), with their problems. */
  loadProblems(): LoadProblem[] {
    return [...this.problems.values()].sort((a, b) => a.file.localeCompare(b.file));
  }

  private requireStore(): WorkflowStore {
    if (!this.store) throw new Error('WorkflowRegistry.open() was not called');
    return this.store;
  }

  private requireKinds(): StepKinds {
    if (!this.kinds) throw new Error('WorkflowRegistry.open() was not called');
    return this.kinds;
  }
}

/** A problem as one line: "line 3, column 5: …". */
export function describeProblem(problem: DefinitionProblem): string {
  return problem.line === null ? problem.message : `line ${problem.line}, column ${problem.column}: ${problem.message}`;
}

function latestOf(versions: readonly WorkflowVersionRecord[]): WorkflowVersionRecord {
  return versions.reduce((best, candidate) => (compareRecords(candidate, best) > 0 ? candidate : best));
}

function compareRecords(a: WorkflowVersionRecord, b: WorkflowVersionRecord): number {
  return compareVersions(a.definition.version, b.definition.version) || a.registeredAt.getTime() - b.registeredAt.getTime();
}

const SEMVER = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/**
 * Orders two versions: as semantic versions when both read as one (1.10.0 after 1.9.0; a
 * pre-release before its release), otherwise 0 (the caller then orders by registration time).
 */
export function compareVersions(a: string, b: string): number {
  const x = SEMVER.exec(a);
  const y = SEMVER.exec(b);
  if (!x || !y) return 0;
  for (let i = 1; i <= 3; i++) {
    const difference = Number(x[i] ?? 0) - Number(y[i] ?? 0);
    if (difference !== 0) return difference;
  }
  if (x[4] === y[4]) return 0;
  if (x[4] === undefined) return 1;
  if (y[4] === undefined) return -1;
  return x[4] < y[4] ? -1 : 1;
}

/** A suggestion for the next version: 1.0.0 → 1.0.1, v2 → v3, anything else → <version>.1. */
function nextVersion(version: string): string {
  const match = /^(.*?)(\d+)([^\d]*)$/.exec(version);
  return match ? `${match[1]}${Number(match[2]) + 1}${match[3]}` : `${version}.1`;
}
