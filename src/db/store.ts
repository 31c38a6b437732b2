import { setTimeout as sleep } from 'node:timers/promises';
import { UniqueConstraintViolationException, type EntityManager, type MikroORM } from '@mikro-orm/core';
import type { Knex } from '@mikro-orm/knex';
import type { ControlRequest, DefinitionPin, LeaseRenewal, LeaseStore, NewStepRun, RunPatch, RunStore, StepRunPatch } from '../engine/store.js';
import {
  LeaseLostError,
  TEXT_DELTA_EVENT_TYPES,
  type AgentMessage,
  type ArtifactKind,
  type ArtifactRecord,
  type DirectiveRecord,
  type EventRecord,
  type EventType,
  type ProjectRecord,
  type RunRecord,
  type RunStatus,
  type StepRunRecord,
  type WorkflowDefinition,
  type WorkflowVersionRecord,
} from '../engine/types.js';
import type { WorkflowStore } from '../engine/workflows/registry.js';
import { ArtifactSchema, ProjectSchema, RunSchema, StepRunSchema, WorkflowVersionSchema } from './entities/index.js';
import type { ArtifactEntity } from './entities/artifact.entity.js';
import type { ProjectEntity } from './entities/project.entity.js';
import type { RunEntity } from './entities/run.entity.js';
import type { StepRunEntity } from './entities/step-run.entity.js';
import type { WorkflowVersionEntity } from './entities/workflow-version.entity.js';
import { PostgresLeases } from './leases.js';

/** A statement the database stayed too busy to run for the whole busy timeout. */
export class DatabaseBusyError extends Error {
  constructor(busyTimeoutMs: number, cause: Error) {
    super(
      `The database stayed busy for ${busyTimeoutMs / 1000} s (another process held its lock, or a long query its connection; DATABASE_BUSY_TIMEOUT_SECONDS sets the wait): ${cause.message}`,
      { cause },
    );
    this.name = 'DatabaseBusyError';
  }
}

/**
 * Whether a statement failed only because the database was busy: another connection held SQLite's
 * lock past the try's busy_timeout, or the pool's one connection stayed taken past its acquire timeout.
 */
function isBusy(error: unknown): boolean {
  const { code, name, message } = (error ?? {}) as { code?: unknown; name?: unknown; message?: unknown };
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return true;
  if (name === 'KnexTimeoutError' || name === 'LockWaitTimeoutException') return true;
  return typeof message === 'string' && /SQLITE_BUSY|database (table )?is locked|Timeout acquiring a connection/.test(message);
}

export class DuplicateProjectNameError extends Error {
  constructor(readonly projectName: string) {
    super(`A project named "${projectName}" already exists.`);
  }
}

export interface NewRun {
  projectId: number;
  name: string | null;
  goal: string;
  runType: RunRecord['runType'];
  workflowName: string | null;
  workflowVersion: string | null;
  definition: WorkflowDefinition | null;
  definitionHash: string | null;
  inputs: RunRecord['inputs'];
  options: RunRecord['options'];
  models: RunRecord['models'];
  timeoutSeconds: number | null;
  /** Placement labels the run requires besides its project's (none when absent). */
  requiredLabels?: string[];
  steps: NewStepRun[];
}

export type { NewStepRun } from '../engine/store.js';

export interface RunFilter {
  projectId?: number;
  status?: RunStatus;
  first: number;
  /** Only runs with a smaller id (older), for paging newest first. */
  before?: number;
}

const date = (ms: number): Date => new Date(ms);
const maybeDate = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));
const millis = (value: Date | null | undefined): number | null => (value ? value.getTime() : null);

function toProject(e: ProjectEntity): ProjectRecord {
  return { id: e.id, name: e.name, localPath: e.localPath, createdAt: date(e.createdAt), requiredLabels: json<string[]>(e.requiredLabels ?? '[]') };
}

function toRun(e: RunEntity): RunRecord {
  return {
    id: e.id,
    projectId: e.projectId,
    name: e.name,
    goal: e.goal,
    runType: e.runType,
    status: e.status,
    workflowName: e.workflowName,
    workflowVersion: e.workflowVersion,
    definition: e.definition,
    definitionHash: e.definitionHash,
    inputs: e.inputs,
    options: e.options,
    models: e.models,
    timeoutSeconds: e.timeoutSeconds,
    error: e.error,
    createdAt: date(e.createdAt),
    startedAt: maybeDate(e.startedAt),
    finishedAt: maybeDate(e.finishedAt),
    requiredLabels: json<string[]>(e.requiredLabels ?? '[]'),
    placement: e.placementNote ?? null,
  };
}

function toStepRun(e: StepRunEntity): StepRunRecord {
  return {
    runId: e.runId,
    index: e.index,
    name: e.name,
    type: e.type,
    typeName: e.typeName || e.type,
    status: e.status,
    description: e.description,
    attempt: e.attempt,
    startedAt: maybeDate(e.startedAt),
    finishedAt: maybeDate(e.finishedAt),
    error: e.error,
    output: e.output,
    exitCode: e.exitCode,
    loop: e.loopName,
    iteration: e.iteration,
    skippedReason: e.skippedReason,
  };
}

function toArtifact(e: ArtifactEntity): ArtifactRecord {
  return { id: e.id, runId: e.runId, stepName: e.stepName, kind: e.kind, path: e.path, sizeBytes: e.sizeBytes, createdAt: date(e.createdAt) };
}

/** Row shape of the `runs` table, for the statements that return it (`UPDATE … RETURNING`). */
interface RunRow {
  id: number;
  project_id: number;
  name: string | null;
  goal: string;
  run_type: string;
  status: string;
  workflow_name: string | null;
  workflow_version: string | null;
  definition: string | null;
  definition_hash: string | null;
  inputs: string;
  options: string;
  models: string;
  timeout_seconds: number | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  required_labels: string | string[];
  placement_note: string | null;
}

/** Row shape of the `step_runs` table. */
interface StepRunRow {
  id: number;
  run_id: number;
  step_index: number;
  name: string;
  type: string;
  type_name: string;
  status: string;
  description: string;
  attempt: number;
  started_at: number | null;
  finished_at: number | null;
  error: string | null;
  output: string | null;
  exit_code: number | null;
  loop_name: string | null;
  iteration: number | null;
  skipped_reason: string | null;
}

/** A JSON column's value: text on SQLite, already parsed from PostgreSQL's jsonb. */
function json<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** A `runs` row as SQL returns it (column names, JSON as text). */
export function runFromRow(row: RunRow): RunRecord {
  return toRun({
    id: row.id,
    projectId: row.project_id,
    name: row.name,
    goal: row.goal,
    runType: row.run_type as RunRecord['runType'],
    status: row.status as RunStatus,
    workflowName: row.workflow_name,
    workflowVersion: row.workflow_version,
    definition: row.definition === null ? null : json<WorkflowDefinition>(row.definition),
    definitionHash: row.definition_hash,
    inputs: json<RunRecord['inputs']>(row.inputs || '{}'),
    options: json<RunRecord['options']>(row.options),
    models: json<RunRecord['models']>(row.models),
    timeoutSeconds: row.timeout_seconds,
    error: row.error,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    requiredLabels: json<string[]>(row.required_labels ?? '[]'),
    placementNote: row.placement_note ?? null,
  });
}

function stepRunFromRow(row: StepRunRow): StepRunRecord {
  return toStepRun({
    id: row.id,
    runId: row.run_id,
    index: row.step_index,
    name: row.name,
    type: row.type as StepRunRecord['type'],
    typeName: row.type_name,
    status: row.status as StepRunRecord['status'],
    description: row.description,
    attempt: row.attempt,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    error: row.error,
    output: row.output,
    exitCode: row.exit_code,
    loopName: row.loop_name,
    iteration: row.iteration,
    skippedReason: row.skipped_reason,
  });
}

/** Row shape of the `events` table as the event log reads and writes it directly. */
interface EventRow {
  id: number;
  run_id: number;
  seq: number;
  type: string;
  message: string;
  step_name: string | null;
  data: string | null;
  created_at: number;
}

function toEvent(row: EventRow): EventRecord {
  const type = row.type as EventType;
  let data = row.data === null ? null : (JSON.parse(row.data) as Record<string, unknown>);
  // A streamed delta's text is stored once, as its message (see eventDataColumn).
  if (data !== null && data.text === undefined && TEXT_DELTA_EVENT_TYPES.has(type)) data = { ...data, text: row.message };
  return { id: row.id, runId: row.run_id, seq: row.seq, type, message: row.message, stepName: row.step_name, data, createdAt: date(row.created_at) };
}

/** The `data` column of an event, as JSON: a streamed delta's `data.text` is left out when it is its message, so the text is stored once. */
function eventDataColumn(event: Pick<EventRecord, 'type' | 'message' | 'data'>): string | null {
  const data = event.data;
  if (data === null) return null;
  if (!TEXT_DELTA_EVENT_TYPES.has(event.type) || data.text !== event.message) return JSON.stringify(data);
  const { text: _text, ...rest } = data;
  return JSON.stringify(rest);
}

/** Row shape of the `agent_messages` table. */
interface AgentMessageRow {
  role: string;
  content: string;
  data: string | null;
}

/** The fields of a message that only some messages have, kept as JSON in `data`. */
type AgentMessageExtras = Omit<AgentMessage, 'role' | 'content'>;

function agentMessageFromRow(row: AgentMessageRow): AgentMessage {
  const extras = row.data === null ? {} : (JSON.parse(row.data) as AgentMessageExtras);
  return { role: row.role as AgentMessage['role'], content: row.content, ...extras };
}

/** Row shape of the `agent_directives` table. */
interface DirectiveRow {
  id: number;
  run_id: number;
  text: string;
  created_at: number;
  delivered_at: number | null;
  step_name: string | null;
}

function directiveFromRow(row: DirectiveRow): DirectiveRecord {
  return { id: row.id, runId: row.run_id, text: row.text, createdAt: date(row.created_at), deliveredAt: maybeDate(row.delivered_at), stepName: row.step_name };
}

/** The PostgreSQL channel on which a queued run is announced (LISTEN/NOTIFY). */
export const QUEUE_CHANNEL = 'agent_runner_queue';

/** Events per INSERT statement: a larger batch is written as several statements in one transaction. */
const EVENT_INSERT_CHUNK = 2000;

/**
 * The INSERT of a batch of events, its rows passed as one JSON array of arrays and unpacked by
 * SQLite (json_each): one bound parameter instead of seven per event, whose conversion on the main
 * thread cost more than the insert; the unpacking runs on the database's thread.
 */
const INSERT_EVENTS_SQL =
  'insert into events (run_id, seq, type, message, step_name, data, created_at) ' +
  "select value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6 from json_each(?) order by key " +
  'returning id, run_id, seq';

/**
 * The same INSERT with seven bound parameters per event, for a batch holding a NUL character in a
 * text column: SQLite's JSON functions end such a string at the NUL, bound text keeps it.
 */
function insertEventsBoundSql(count: number): string {
  return `insert into events (run_id, seq, type, message, step_name, data, created_at) values ${Array(count).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ')} returning id, run_id, seq`;
}

const hasNul = (text: string | null): boolean => text !== null && text.includes('\u0000');

/** The node-sqlite3 connection knex pools (one, for SQLite), and that pool. */
interface SqliteConnection {
  all(sql: string, params: unknown[], callback: (error: Error | null, rows: unknown[]) => void): void;
}
interface ConnectionPool {
  acquireConnection(): Promise<SqliteConnection>;
  releaseConnection(connection: SqliteConnection): Promise<void>;
}

async function insertEventChunk(knex: Knex, chunk: Array<Omit<EventRecord, 'id'>>, inTransaction: boolean): Promise<EventRecord[]> {
  const rows: Array<[number, number, string, string, string | null, string | null, number]> = [];
  let nul = false;
  for (const r of chunk) {
    rows.push([r.runId, r.seq, r.type, r.message, r.stepName, eventDataColumn(r), r.createdAt.getTime()]);
    nul ||= hasNul(r.message) || hasNul(r.stepName) || hasNul(r.type);
  }
  const bindings = nul ? rows.flat() : [JSON.stringify(rows)];
  const sql = nul ? insertEventsBoundSql(chunk.length) : INSERT_EVENTS_SQL;
  let returned: Array<{ id: number; run_id: number; seq: number }>;
  if (inTransaction) {
    returned = await knex.raw(sql, bindings);
  } else {
    const pool = knex.client as unknown as ConnectionPool;
    const connection = await pool.acquireConnection();
    try {
      returned = await new Promise((resolve, reject) =>
        connection.all(sql, bindings, (error, rows) => (error ? reject(error) : resolve(rows as typeof returned))),
      );
    } finally {
      await pool.releaseConnection(connection);
    }
  }
  // SQLite does not promise RETURNING rows in insertion order: match them by (run, seq) unless they are.
  // The rows become the records (the caller made them for this call): no copy per event.
  const records = chunk as EventRecord[];
  const inOrder = returned.length === chunk.length && returned.every((row, i) => row.run_id === chunk[i].runId && row.seq === chunk[i].seq);
  if (inOrder) {
    for (let i = 0; i < records.length; i++) records[i].id = returned[i].id;
    return records;
  }
  const ids = new Map<string, number>();
  for (const row of returned) ids.set(`${row.run_id}:${row.seq}`, row.id);
  for (const record of records) record.id = ids.get(`${record.runId}:${record.seq}`)!;
  return records;
}

/**
 * PostgreSQL's insert of one run's events, numbered by the database, in one statement (one round
 * trip, atomic by itself): the UPDATE advances the run's `last_seq` by the number of events, which
 * takes the run's row lock until the statement commits, so numbers are handed out, and committed, in
 * order, with no gap and no repeat across instances; where this instance executes the run, the same
 * UPDATE checks its fencing token, and a refused UPDATE inserts nothing. The rows come as arrays
 * (unnest), a handful of bound parameters whatever their number.
 */
function insertRunEventsSql(fenced: boolean): string {
  return (
    `with counter as (update runs set last_seq = last_seq + ? where id = ?${fenced ? ' and lease_token = ?' : ''} returning last_seq) ` +
    'insert into events (run_id, seq, type, message, step_name, data, created_at) ' +
    'select ?, counter.last_seq - ? + e.ord, e.type, e.message, e.step_name, e.data, e.created_at ' +
    'from counter, unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[]) with ordinality as e(type, message, step_name, data, created_at, ord) ' +
    'returning id, seq'
  );
}

/** PostgreSQL's text cannot hold NUL: shown as U+FFFD (SQLite keeps it). */
const withoutNul = (text: string | null): string | null => (text !== null && text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text);

/**
 * PostgreSQL's insert of a batch of events (see insertRunEventsSql): one statement per run of the
 * batch, each run's events stored whole or not at all. A refused run's events are returned as
 * LeaseLostError (or an error saying the run does not exist); the others are stored.
 */
async function insertNumberedEvents(knex: Knex, rows: Array<Omit<EventRecord, 'id'>>, fences: ReadonlyMap<number, number>): Promise<Array<EventRecord | Error>> {
  const byRun = new Map<number, number[]>();
  rows.forEach((row, i) => {
    const list = byRun.get(row.runId);
    if (list) list.push(i);
    else byRun.set(row.runId, [i]);
  });
  const outcomes: Array<EventRecord | Error> = new Array(rows.length);
  await Promise.all(
    [...byRun].map(async ([runId, indexes]) => {
      const token = fences.get(runId);
      const batch = indexes.map((i) => rows[i]);
      const counter = token === undefined ? [batch.length, runId] : [batch.length, runId, token];
      const { rows: returned } = (await knex.raw(insertRunEventsSql(token !== undefined), [
        ...counter,
        runId,
        batch.length,
        batch.map((r) => r.type),
        batch.map((r) => withoutNul(r.message)),
        batch.map((r) => withoutNul(r.stepName)),
        batch.map((r) => eventDataColumn(r)),
        batch.map((r) => r.createdAt.getTime()),
      ] as never)) as { rows: Array<{ id: number; seq: number }> };
      if (returned.length === 0) {
        const refusal = token !== undefined ? new LeaseLostError(runId) : new Error(`Run ${runId} does not exist: its events were not stored.`);
        for (const i of indexes) outcomes[i] = refusal;
        return;
      }
      returned.sort((a, b) => a.seq - b.seq);
      indexes.forEach((i, k) => {
        const record = rows[i] as EventRecord;
        record.id = returned[k]!.id;
        record.seq = returned[k]!.seq;
        outcomes[i] = record;
      });
      // A run's first events (RUN_QUEUED first): from now on it can be claimed (see PostgresLeases.claim);
      // the listening instances hear of it at once.
      if (returned[0]!.seq === 1) await knex.raw(`select pg_notify('${QUEUE_CHANNEL}', '')`);
    }),
  );
  return outcomes;
}

/** Inserts PENDING step records numbered from `firstIndex`. */
async function insertStepRuns(trx: Knex, runId: number, steps: NewStepRun[], firstIndex: number): Promise<void> {
  if (steps.length === 0) return;
  await trx('step_runs').insert(
    steps.map((step, offset) => ({
      run_id: runId,
      step_index: firstIndex + offset,
      name: step.name,
      type: step.type,
      type_name: step.typeName,
      description: step.description,
      loop_name: step.loop ?? null,
      iteration: step.iteration ?? null,
      status: 'PENDING',
      attempt: 0,
      started_at: null,
      finished_at: null,
      error: null,
      output: null,
      exit_code: null,
    })),
  );
}

/**
 * Writes go through `em.insert` / `nativeUpdate` or knex (and knex's own transactions), never `flush()`,
 * `commit()` or `transactional()`: those run in an AsyncLocalStorage, which on Node 20 turns on promise hooks for
 * the whole process and makes every promise (every event delivered) slower from then on.
 *
 * Storage for everything: projects, runs, step runs, artifacts through MikroORM; the event log's
 * hot path (batched inserts, replay reads) through the same connection with plain SQL, since it
 * is the one table written many times a second.
 */
export class SqlStore implements RunStore, WorkflowStore {
  /** Projects are never changed or deleted once created, so a record read once stays right. */
  private readonly projects = new Map<number, ProjectRecord>();

  private readonly busyTimeoutMs: number;

  /** PostgreSQL only: leases, fencing, the queue's notifications (see PostgresLeases). */
  readonly leases?: PostgresLeases;
  /** PostgreSQL only: events numbered by the database (see EventStore). */
  readonly insertNumberedEvents?: (rows: Array<Omit<EventRecord, 'id'>>) => Promise<Array<EventRecord | Error>>;
  private readonly postgres: boolean;

  /**
   * `busyTimeoutMs`: how long a statement the engine relies on is tried again while the database is
   * busy (60000). `postgres`: the ORM is on PostgreSQL, shared by several instances: this one's id,
   * labels and lease length.
   */
  constructor(
    private readonly orm: MikroORM,
    { busyTimeoutMs = 60_000, postgres }: { busyTimeoutMs?: number; postgres?: { instanceId: string; labels: string[]; leaseSeconds: number } } = {},
  ) {
    this.busyTimeoutMs = busyTimeoutMs;
    this.postgres = postgres !== undefined;
    if (postgres) {
      this.leases = new PostgresLeases(() => this.knex(), postgres.instanceId, postgres.labels, postgres.leaseSeconds);
      this.insertNumberedEvents = (rows) => insertNumberedEvents(this.knex(), rows, this.leases!.fences);
    }
  }

  /** The fencing token this instance claimed `runId` with, if it executes it (PostgreSQL). */
  private fence(runId: number): number | undefined {
    return this.leases?.fences.get(runId);
  }

  /**
   * Runs `statement`, trying again while it fails only because the database is busy (see isBusy),
   * until the busy timeout; then throws DatabaseBusyError. Each try waits inside SQLite at most
   * BUSY_TRY_MS, so other queries get the connection between tries. A failed statement changed
   * nothing (each is one statement or one transaction), so trying again is safe.
   */
  private async patiently<T>(statement: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.busyTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await statement();
      } catch (error) {
        if (!isBusy(error)) throw error;
        const left = deadline - Date.now();
        if (left <= 0) throw new DatabaseBusyError(this.busyTimeoutMs, error as Error);
        await sleep(Math.min(20 * 2 ** attempt, 250, left));
      }
    }
  }

  private em(): EntityManager {
    return this.orm.em.fork() as EntityManager;
  }

  private knex(): Knex {
    return (this.orm.em as unknown as { getKnex(): Knex }).getKnex();
  }

  async ping(): Promise<void> {
    await this.knex().raw('select 1');
  }

  // Projects ------------------------------------------------------------------------------------

  createProject(name: string, localPath: string, requiredLabels: string[] = []): Promise<ProjectRecord> {
    return this.patiently(async () => {
      const row = { name, localPath, createdAt: Date.now(), requiredLabels };
      try {
        const id = (await this.em().insert<ProjectEntity>(ProjectSchema, row as ProjectEntity)) as number;
        const project = toProject({ id, ...row });
        this.projects.set(id, project);
        return project;
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) throw new DuplicateProjectNameError(name);
        throw error;
      }
    });
  }

  async findProjectByName(name: string): Promise<ProjectRecord | null> {
    const entity = await this.em().findOne(ProjectSchema, { name });
    return entity ? toProject(entity) : null;
  }

  getProject(id: number): Promise<ProjectRecord | null> {
    return this.patiently(async () => {
      const cached = this.projects.get(id);
      if (cached) return cached;
      const entity = await this.em().findOne(ProjectSchema, { id });
      if (!entity) return null;
      const project = toProject(entity);
      this.projects.set(id, project);
      return project;
    });
  }

  async listProjects(): Promise<ProjectRecord[]> {
    const entities = await this.em().find(ProjectSchema, {}, { orderBy: { id: 'asc' } });
    return entities.map(toProject);
  }

  // Runs ----------------------------------------------------------------------------------------

  /** Creates the run and its pending step records in one transaction. */
  createRun(input: NewRun): Promise<RunRecord> {
    return this.patiently(async () => {
      const { steps, requiredLabels = [], ...fields } = input;
      const record = { ...fields, status: 'QUEUED' as const, error: null, createdAt: Date.now(), startedAt: null, finishedAt: null, requiredLabels, placementNote: null };
      // knex's own transaction, not em.begin()/commit(): commit() flushes, and a flush runs in an AsyncLocalStorage.
      const id = await this.knex().transaction(async (trx) => {
        const [row] = await trx('runs')
          .insert({
            project_id: record.projectId,
            name: record.name,
            goal: record.goal,
            run_type: record.runType,
            status: record.status,
            workflow_name: record.workflowName,
            workflow_version: record.workflowVersion,
            definition: record.definition === null ? null : JSON.stringify(record.definition),
            definition_hash: record.definitionHash,
            inputs: JSON.stringify(record.inputs),
            options: JSON.stringify(record.options),
            models: JSON.stringify(record.models),
            timeout_seconds: record.timeoutSeconds,
            error: null,
            created_at: record.createdAt,
            started_at: null,
            finished_at: null,
            required_labels: JSON.stringify(requiredLabels),
          })
          .returning('id');
        const runId = (row as { id: number }).id;
        await insertStepRuns(trx, runId, steps, 0);
        return runId;
      });
      return toRun({ id, ...record });
    });
  }

  getRun(id: number): Promise<RunRecord | null> {
    return this.patiently(async () => {
      // knex rather than MikroORM on the paths every run and subscription takes: a tenth of the CPU.
      const row: RunRow | undefined = await this.knex()('runs').where({ id }).first();
      return row ? runFromRow(row) : null;
    });
  }

  async listRuns(filter: RunFilter): Promise<RunRecord[]> {
    const where: Record<string, unknown> = {};
    if (filter.projectId !== undefined) where.projectId = filter.projectId;
    if (filter.status !== undefined) where.status = filter.status;
    if (filter.before !== undefined) where.id = { $lt: filter.before };
    const entities = await this.em().find(RunSchema, where, { orderBy: { id: 'desc' }, limit: filter.first });
    return entities.map(toRun);
  }

  countRuns(status: RunStatus): Promise<number> {
    return this.patiently(async () => {
      return this.em().count(RunSchema, { status });
    });
  }

  runIdsWithStatus(status: RunStatus, limit: number): Promise<number[]> {
    return this.patiently(async () => {
      const entities = await this.em().find(RunSchema, { status }, { orderBy: { id: 'asc' }, limit, fields: ['id'] });
      return entities.map((e) => e.id);
    });
  }

  transitionRun(id: number, from: RunStatus, patch: RunPatch & { status: RunStatus }): Promise<RunRecord | null> {
    return this.patiently(async () => {
      const changes: Record<string, unknown> = { status: patch.status };
      if (patch.error !== undefined) changes.error = patch.error;
      if (patch.startedAt !== undefined) changes.started_at = millis(patch.startedAt);
      if (patch.finishedAt !== undefined) changes.finished_at = millis(patch.finishedAt);
      // One conditional UPDATE: two workers racing for the same run cannot both see it succeed.
      const token = this.fence(id);
      const query = this.knex()('runs').where({ id, status: from });
      if (token !== undefined) query.andWhere('lease_token', token);
      if (this.postgres && patch.status === 'QUEUED') changes.control_request = null;
      const rows: RunRow[] = await query.update(changes).returning('*');
      if (rows.length === 0 && token !== undefined) await this.leases!.assertHeld(id);
      if (rows.length > 0 && this.postgres && patch.status === 'QUEUED') await this.knex().raw(`select pg_notify('${QUEUE_CHANNEL}', '')`);
      return rows.length === 0 ? null : runFromRow(rows[0]);
    });
  }

  claimQueuedRuns(limit: number, startedAt: Date): Promise<RunRecord[]> {
    if (this.leases) return this.leases.claim(limit, startedAt);
    return this.patiently(async () => {
      // Select and claim in one statement: nothing can claim the same runs in between.
      const oldest = this.knex()('runs').select('id').where('status', 'QUEUED').orderBy('id').limit(limit);
      const rows: RunRow[] = await this.knex()('runs')
        .where('status', 'QUEUED')
        .whereIn('id', oldest)
        .update({ status: 'RUNNING', started_at: millis(startedAt) })
        .returning('*');
      return rows.map(runFromRow).sort((a, b) => a.id - b.id);
    });
  }

  /**
   * Appends PENDING step records (a loop's steps as an iteration starts), numbered after the run's
   * last record; returns them. The run's one executor calls it, so no two calls race for an index.
   */
  appendStepRuns(runId: number, steps: NewStepRun[]): Promise<StepRunRecord[]> {
    return this.patiently(async () => {
      if (steps.length === 0) return [];
      return this.knex().transaction(async (trx) => {
        const token = this.fence(runId);
        if (token !== undefined) {
          const held = await trx('runs').where({ id: runId, lease_token: token }).forUpdate().first('id');
          if (!held) throw new LeaseLostError(runId);
        }
        const last = (await trx('step_runs').where('run_id', runId).max({ max: 'step_index' }).first()) as { max: number | null } | undefined;
        const first = (last?.max ?? -1) + 1;
        await insertStepRuns(trx, runId, steps, first);
        const rows: StepRunRow[] = await trx('step_runs').where('run_id', runId).andWhere('step_index', '>=', first).orderBy('step_index');
        return rows.map(stepRunFromRow);
      });
    });
  }

  /**
   * Replaces a run's step records, in one transaction, with these (numbered from 0, in this order),
   * and optionally pins another definition (retryRun onto another workflow version). What a record
   * carries over (status, attempt, output …) is the caller's to copy.
   */
  replaceStepRuns(
    runId: number,
    records: Array<Omit<StepRunRecord, 'runId' | 'index'>>,
    pin?: DefinitionPin,
  ): Promise<void> {
    return this.patiently(() =>
      this.knex().transaction(async (trx) => {
        if (pin) {
          await trx('runs').where({ id: runId }).update({
            workflow_version: pin.workflowVersion,
            definition: JSON.stringify(pin.definition),
            definition_hash: pin.definitionHash,
            models: JSON.stringify(pin.models),
          });
        }
        await trx('step_runs').where('run_id', runId).delete();
        if (records.length === 0) return;
        await trx('step_runs').insert(
          records.map((record, index) => ({
            run_id: runId,
            step_index: index,
            name: record.name,
            type: record.type,
            type_name: record.typeName,
            description: record.description,
            loop_name: record.loop,
            iteration: record.iteration,
            status: record.status,
            attempt: record.attempt,
            started_at: millis(record.startedAt),
            finished_at: millis(record.finishedAt),
            error: record.error,
            output: record.output,
            exit_code: record.exitCode,
            skipped_reason: record.skippedReason,
          })),
        );
      }),
    );
  }

  // Workflow versions ----------------------------------------------------------------------------

  async listWorkflowVersions(): Promise<WorkflowVersionRecord[]> {
    const entities = await this.em().find(WorkflowVersionSchema, {}, { orderBy: { id: 'asc' } });
    return entities.map((e) => ({
      definition: e.definition,
      source: e.source,
      contentHash: e.contentHash,
      origin: e.origin,
      originPath: e.originPath,
      registeredAt: date(e.registeredAt),
    }));
  }

  async insertWorkflowVersion(record: WorkflowVersionRecord): Promise<boolean> {
    const row: Omit<WorkflowVersionEntity, 'id'> = {
      name: record.definition.name,
      version: record.definition.version,
      source: record.source,
      definition: record.definition,
      contentHash: record.contentHash,
      origin: record.origin,
      originPath: record.originPath,
      registeredAt: record.registeredAt.getTime(),
    };
    try {
      await this.em().insert<WorkflowVersionEntity>(WorkflowVersionSchema, row as WorkflowVersionEntity);
      return true;
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) return false;
      throw error;
    }
  }

  // Step runs -----------------------------------------------------------------------------------

  listStepRuns(runId: number): Promise<StepRunRecord[]> {
    return this.patiently(async () => {
      const rows: StepRunRow[] = await this.knex()('step_runs').where({ run_id: runId }).orderBy('step_index');
      return rows.map(stepRunFromRow);
    });
  }

  updateStepRun(runId: number, index: number, patch: StepRunPatch): Promise<void> {
    return this.patiently(async () => {
      const changes: Record<string, unknown> = {};
      if (patch.status !== undefined) changes.status = patch.status;
      if (patch.attempt !== undefined) changes.attempt = patch.attempt;
      if (patch.error !== undefined) changes.error = patch.error;
      if (patch.description !== undefined) changes.description = patch.description;
      if (patch.output !== undefined) changes.output = patch.output;
      if (patch.exitCode !== undefined) changes.exit_code = patch.exitCode;
      if (patch.skippedReason !== undefined) changes.skipped_reason = patch.skippedReason;
      if (patch.startedAt !== undefined) changes.started_at = millis(patch.startedAt);
      if (patch.finishedAt !== undefined) changes.finished_at = millis(patch.finishedAt);
      const query = this.knex()('step_runs').where({ run_id: runId, step_index: index });
      const token = this.fence(runId);
      if (token !== undefined) query.whereExists((held) => held.select(held.client.raw('1')).from('runs').where({ id: runId, lease_token: token }));
      const updated = (await query.update(changes)) as number;
      if (updated === 0 && token !== undefined) throw new LeaseLostError(runId);
    });
  }

  // Artifacts -----------------------------------------------------------------------------------

  createArtifact(input: { runId: number; stepName: string | null; kind: ArtifactKind; path: string; sizeBytes: number }): Promise<ArtifactRecord> {
    return this.patiently(async () => {
      const row = { ...input, createdAt: Date.now() };
      const id = (await this.em().insert<ArtifactEntity>(ArtifactSchema, row as ArtifactEntity)) as number;
      return toArtifact({ id, ...row });
    });
  }

  /** Forgets the artifact records of these steps of a run (their files stay where they are). */
  deleteArtifacts(runId: number, stepNames: string[]): Promise<void> {
    return this.patiently(async () => {
      if (stepNames.length === 0) return;
      await this.em().nativeDelete(ArtifactSchema, { runId, stepName: { $in: stepNames } });
    });
  }

  async listArtifacts(runId: number): Promise<ArtifactRecord[]> {
    const entities = await this.em().find(ArtifactSchema, { runId }, { orderBy: { id: 'asc' } });
    return entities.map(toArtifact);
  }

  async getArtifact(id: number): Promise<ArtifactRecord | null> {
    const entity = await this.em().findOne(ArtifactSchema, { id });
    return entity ? toArtifact(entity) : null;
  }

  // Agents: conversations and directives ------------------------------------------------------

  // The agent's memory is what crash recovery continues from: its statements wait out a busy database too.

  async loadConversation(runId: number, stepName: string): Promise<AgentMessage[]> {
    const rows: AgentMessageRow[] = await this.patiently(() =>
      this.knex()('agent_messages').select('role', 'content', 'data').where({ run_id: runId, step_name: stepName }).orderBy('position'),
    );
    return rows.map(agentMessageFromRow);
  }

  async appendConversation(runId: number, stepName: string, message: AgentMessage): Promise<void> {
    const { role, content, ...extras } = message;
    const data = Object.keys(extras).length === 0 ? null : JSON.stringify(extras);
    // The next position is taken in the same statement: two appends can never get the same one.
    await this.patiently(() =>
      this.knex().raw(
        'insert into agent_messages (run_id, step_name, position, role, content, data, created_at) ' +
          'select ?, ?, coalesce(max(position), -1) + 1, ?, ?, ?, ? from agent_messages where run_id = ? and step_name = ?',
        [runId, stepName, role, content, data, Date.now(), runId, stepName],
      ),
    );
  }

  async clearConversations(runId: number, stepNames: string[]): Promise<void> {
    if (stepNames.length === 0) return;
    await this.patiently(() => this.knex()('agent_messages').where('run_id', runId).whereIn('step_name', stepNames).delete());
  }

  async addDirective(runId: number, text: string): Promise<DirectiveRecord> {
    const [row]: DirectiveRow[] = await this.patiently(() =>
      this.knex()('agent_directives').insert({ run_id: runId, text, created_at: Date.now(), delivered_at: null, step_name: null }).returning('*'),
    );
    return directiveFromRow(row!);
  }

  async takeDirectives(runId: number, stepName: string, deliveredAt: Date): Promise<DirectiveRecord[]> {
    // One conditional UPDATE: a directive is delivered once, whoever asks.
    const rows: DirectiveRow[] = await this.patiently(() =>
      this.knex()('agent_directives').where({ run_id: runId }).whereNull('delivered_at').update({ delivered_at: deliveredAt.getTime(), step_name: stepName }).returning('*'),
    );
    return rows.map(directiveFromRow).sort((a, b) => a.id - b.id);
  }

  async listDirectives(runId: number): Promise<DirectiveRecord[]> {
    const rows: DirectiveRow[] = await this.knex()('agent_directives').where({ run_id: runId }).orderBy('id');
    return rows.map(directiveFromRow);
  }

  // Events --------------------------------------------------------------------------------------

  listEvents(runId: number, after: number, first: number, stepName?: string): Promise<EventRecord[]> {
    return this.patiently(async () => {
      const query = this.knex()<EventRow>('events').where('run_id', runId).andWhere('seq', '>', after);
      if (stepName !== undefined) query.andWhere('step_name', stepName);
      const rows = await query.orderBy('seq', 'asc').limit(first);
      return rows.map(toEvent);
    });
  }

  lastEvent(runId: number): Promise<EventRecord | null> {
    return this.patiently(async () => {
      const row = await this.knex()<EventRow>('events').where('run_id', runId).orderBy('seq', 'desc').first();
      return row ? toEvent(row) : null;
    });
  }

  maxSeqs(runIds: number[]): Promise<Map<number, number>> {
    return this.patiently(async () => {
      const rows: Array<{ run_id: number; max_seq: number }> = await this.knex()('events')
        .select('run_id')
        .max({ max_seq: 'seq' })
        .whereIn('run_id', runIds)
        .groupBy('run_id');
      return new Map(rows.map((r) => [r.run_id, r.max_seq]));
    });
  }

  /**
   * The event log's group commit: the batch stored whole or not at all. The rows are returned as the
   * stored records, each given its id (so they must not be shared with anything else). A batch that fits one
   * INSERT (the usual case) is that one statement, atomic by itself, with no BEGIN/COMMIT around it:
   * one round trip to the database thread instead of three.
   */
  insertEvents(rows: Array<Omit<EventRecord, 'id'>>): Promise<EventRecord[]> {
    return this.patiently(async () => {
      if (rows.length <= EVENT_INSERT_CHUNK) return insertEventChunk(this.knex(), rows, false);
      const stored: EventRecord[] = [];
      await this.knex().transaction(async (trx) => {
        for (let start = 0; start < rows.length; start += EVENT_INSERT_CHUNK) {
          stored.push(...(await insertEventChunk(trx, rows.slice(start, start + EVENT_INSERT_CHUNK), true)));
        }
      });
      return stored;
    });
  }


}

