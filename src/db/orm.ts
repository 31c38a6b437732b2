import type { MikroORM as CoreORM } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/sqlite';
import { ormOptions, postgresOrmOptions, type DatabaseOptions } from './mikro-orm.config.js';

/**
 * The only caller of `MikroORM.init`. Opens (creating its folder if needed) the SQLite file and
 * applies the committed migrations, so a fresh file and an old one end on the same schema.
 */
export async function initORM(databasePath: string, log?: (message: string) => void, options: DatabaseOptions = {}): Promise<MikroORM> {
  const orm = await MikroORM.init(ormOptions(databasePath, options));
  const applied = await orm.getMigrator().up();
  if (applied.length > 0 && log) log(`database ${databasePath}: applied ${applied.map((m) => m.name).join(', ')}`);
  return orm;
}

/** The PostgreSQL database of DATABASE_URL without its password, for logs and errors. */
export function describeDatabaseUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/**
 * Opens the PostgreSQL database of `url` (DATABASE_URL) and applies its committed migrations
 * (src/db/migrations-pg); several instances starting at once apply them once. bigint columns (times in ms, event ids) are read as
 * JavaScript numbers: every value they hold is below 2^53.
 */
export async function initPostgresORM(url: string, log?: (message: string) => void, { leaseSeconds = 15 }: { leaseSeconds?: number } = {}): Promise<CoreORM> {
  const pg = (await import('pg')).default;
  pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));
  const { MikroORM: PostgresORM } = await import('@mikro-orm/postgresql');
  // A transaction left open longer than half a lease is a stalled instance's (see postgresOrmOptions).
  const orm = await PostgresORM.init(postgresOrmOptions(url, { idleInTransactionMs: Math.max(1000, leaseSeconds * 500) }));
  // One migrator at a time across instances starting together: a session advisory lock held on a
  // connection of the pool while this one migrates (the others wait, then find nothing to apply).
  const knex = orm.em.getKnex();
  const connection = await knex.client.acquireConnection();
  try {
    await connection.query('select pg_advisory_lock(4242015)');
    const applied = await orm.getMigrator().up();
    if (applied.length > 0 && log) log(`database ${describeDatabaseUrl(url)}: applied ${applied.map((m) => m.name).join(', ')}`);
  } finally {
    await connection.query('select pg_advisory_unlock(4242015)').catch(() => undefined);
    await knex.client.releaseConnection(connection);
  }
  return orm as unknown as CoreORM;
}

/**
 * A name of this PostgreSQL database that every instance on it computes alike, however it reaches
 * it (host name, address, proxy): 16 hex digits of an MD5 of the server's system identifier
 * (`pg_control_system()`, unique per PostgreSQL cluster) and the database's name. Instances of
 * different databases sharing one Redis keep their channels apart with it (run ids repeat between
 * databases). Where the system identifier may not be read, the database's name alone.
 */
export async function databaseNamespace(orm: CoreORM): Promise<string> {
  const knex = (orm.em as unknown as { getKnex(): import('@mikro-orm/knex').Knex }).getKnex();
  const read = async (identity: string) => {
    const { rows } = (await knex.raw(`select substr(md5(${identity}), 1, 16) as namespace`)) as { rows: Array<{ namespace: string }> };
    return rows[0]!.namespace;
  };
  try {
    return await read(`(select system_identifier::text from pg_control_system()) || '/' || current_database()`);
  } catch {
    return read('current_database()');
  }
}
