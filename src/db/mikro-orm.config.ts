import { defineConfig, type Options } from '@mikro-orm/sqlite';
import { Migrator } from '@mikro-orm/migrations';
import { AgentMessageSchema, ArtifactSchema, DirectiveSchema, EventSchema, ProjectSchema, RunSchema, StepRunSchema, WorkflowVersionSchema } from './entities/index.js';
import { migrationsList } from './migrations/index.js';
import { postgresMigrationsList } from './migrations-pg/index.js';
import { defineConfig as definePostgresConfig, type Options as PostgresOptions } from '@mikro-orm/postgresql';

type SqliteConnection = { exec(sql: string, callback: (error: Error | null) => void): void };

/**
 * Per-connection settings. WAL lets readers (subscribers replaying history) proceed while the
 * event log writes; NORMAL sync is durable across a process crash, which is what the runner needs.
 * WalCheckpointer (checkpointer.ts) does most of each checkpoint on a connection of its own.
 * A busy database is waited for at most BUSY_TRY_MS per statement, inside SQLite, holding the one
 * connection; SqlStore tries again until its busy timeout, leaving the connection to others between tries.
 */
export const BUSY_TRY_MS = 1000;
const connectionPragmas = (busyTimeoutMs: number) =>
  `PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = ${Math.min(BUSY_TRY_MS, busyTimeoutMs)}; PRAGMA foreign_keys = ON;`;

export interface DatabaseOptions {
  /** How long a statement may wait for a busy database or for the connection, in ms (60000). */
  busyTimeoutMs?: number;
}

export function ormOptions(dbName: string, { busyTimeoutMs = 60_000 }: DatabaseOptions = {}): Options {
  const pragmas = connectionPragmas(busyTimeoutMs);
  return defineConfig({
    dbName,
    entities: [ProjectSchema, RunSchema, EventSchema, ArtifactSchema, StepRunSchema, WorkflowVersionSchema, AgentMessageSchema, DirectiveSchema],
    extensions: [Migrator],
    migrations: {
      // Listed explicitly, so migrations run the same under tsx, in tests and in any bundle.
      migrationsList,
      path: 'src/db/migrations',
      pathTs: 'src/db/migrations',
      emit: 'ts',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    pool: {
      // One connection (SQLite): a query that waits longer for it than this fails ("Timeout acquiring a connection").
      acquireTimeoutMillis: busyTimeoutMs,
      afterCreate(connection: SqliteConnection, done: (error: Error | null, connection: SqliteConnection) => void) {
        connection.exec(pragmas, (error) => done(error, connection));
      },
    },
    discovery: { warnWhenNoEntities: true },
    debug: false,
  });
}

/**
 * MikroORM's options for PostgreSQL (DATABASE_URL): the same entities, its own migrations
 * (migrations-pg), a pool of `poolSize` connections (10) whose sessions end when left idle inside a
 * transaction for `idleInTransactionMs` (10000).
 */
export function postgresOrmOptions(clientUrl: string, { poolSize = 10, idleInTransactionMs = 10_000 }: { poolSize?: number; idleInTransactionMs?: number } = {}): PostgresOptions {
  return definePostgresConfig({
    clientUrl,
    entities: [ProjectSchema, RunSchema, EventSchema, ArtifactSchema, StepRunSchema, WorkflowVersionSchema, AgentMessageSchema, DirectiveSchema],
    extensions: [Migrator],
    migrations: {
      migrationsList: postgresMigrationsList,
      path: 'src/db/migrations-pg',
      pathTs: 'src/db/migrations-pg',
      emit: 'ts',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    pool: {
      min: 0,
      max: poolSize,
      // An instance stalled inside a transaction (SIGSTOP, a frozen VM) would hold its runs' row
      // locks, and so block the instance taking its runs over: PostgreSQL ends such a session.
      afterCreate(connection: { query(sql: string, callback: (error: Error | null) => void): void }, done: (error: Error | null, connection: unknown) => void) {
        connection.query(`set idle_in_transaction_session_timeout = ${Math.round(idleInTransactionMs)}`, (error) => done(error, connection));
      },
    },
    discovery: { warnWhenNoEntities: true },
    debug: false,
  });
}
