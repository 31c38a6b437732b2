import { defineConfig, type Options } from '@mikro-orm/sqlite';
import { Migrator } from '@mikro-orm/migrations';
import { AgentMessageSchema, ArtifactSchema, DirectiveSchema, EventSchema, ProjectSchema, RunSchema, StepRunSchema, WorkflowVersionSchema } from './entities/index.js';
import { migrationsList } from './migrations/index.js';

type SqliteConnection = { exec(sql: string, callback: (error: Error | null) => void): void };

/**
 * Per-connection settings. WAL lets readers (subscribers replaying history) proceed while the
 * event log writes; NORMAL sync is durable across a process crash, which is what the runner needs.
 * WalCheckpointer (checkpointer.ts) does most of each checkpoint on a connection of its own.
 */
const CONNECTION_PRAGMAS = 'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;';

export function ormOptions(dbName: string): Options {
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
      afterCreate(connection: SqliteConnection, done: (error: Error | null, connection: SqliteConnection) => void) {
        connection.exec(CONNECTION_PRAGMAS, (error) => done(error, connection));
      },
    },
    discovery: { warnWhenNoEntities: true },
    debug: false,
  });
}
