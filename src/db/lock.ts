import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import sqlite3 from 'sqlite3';

/** Who holds a database, as the holder wrote it into the lock file when it took the lock. */
export interface LockHolder {
  pid: number;
  host: string;
  /** When the holder took the lock (ISO 8601). */
  startedAt: string;
  /** The holder's command line (`node dist/server.js`), for the operator to recognise it. */
  command: string;
}

/** A second server on the same database: the message names the holder and what to do. */
export class DatabaseLockedError extends Error {
  constructor(
    readonly databasePath: string,
    readonly holder: LockHolder | null,
  ) {
    const who = holder
      ? `process ${holder.pid}${holder.host === hostname() ? '' : ` on ${holder.host}`} (${holder.command}, started ${holder.startedAt})`
      : 'another process';
    super(`another agent-runner server is using it: ${who} holds its lock ${lockPathOf(databasePath)}. Stop that server first, or set DATABASE_PATH to another file.`);
    this.name = 'DatabaseLockedError';
  }
}

/** The lock file beside a database file. */
export function lockPathOf(databasePath: string): string {
  return `${databasePath}.lock`;
}

/**
 * One server per database file, for the server's whole life. The lock is SQLite's own (a POSIX
 * `fcntl` write lock, which the kernel drops when the process ends, however it ends) on a small
 * SQLite file of its own beside the database (`<database>.lock`): a connection keeps a write
 * transaction open on it (SQLite's RESERVED lock), which a second server cannot take. The holder's
 * pid, host, command and start time are committed in that file just before, where a refused server
 * reads them (RESERVED still lets others read). The database itself is never locked this way, so
 * its own connections (the server's, the checkpointer's, a reader's) work as before.
 */
export class DatabaseLock {
  private constructor(private readonly db: sqlite3.Database | null) {}

  /**
   * Takes the lock of `databasePath` (creating its folder if missing), or throws
   * DatabaseLockedError naming the holder. An in-memory database (`:memory:`) needs none.
   */
  static async acquire(databasePath: string): Promise<DatabaseLock> {
    if (databasePath === ':memory:' || databasePath === '') return new DatabaseLock(null);
    await mkdir(dirname(databasePath), { recursive: true });
    const db = await open(lockPathOf(databasePath));
    const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), command: process.argv.slice(1).join(' ') || process.argv0 };
    try {
      // No wait: a lock that is held stays held for that server's whole life.
      await exec(db, 'PRAGMA busy_timeout = 0; CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, host TEXT NOT NULL, started_at TEXT NOT NULL, command TEXT NOT NULL)');
      await run(db, 'BEGIN IMMEDIATE');
      // Then record who holds it and claim it again for good. The COMMIT may wait for a refused
      // server reading the holder; another server can only get in between the COMMIT and the last
      // BEGIN (one call on the database's thread), and then this one refuses like any second server.
      await run(db, 'DELETE FROM holder');
      await run(db, 'INSERT INTO holder (pid, host, started_at, command) VALUES (?, ?, ?, ?)', [me.pid, me.host, me.startedAt, me.command.slice(0, 500)]);
      await exec(db, 'PRAGMA busy_timeout = 2000; COMMIT; BEGIN IMMEDIATE');
      return new DatabaseLock(db);
    } catch (error) {
      if (!isBusy(error)) {
        await close(db);
        throw error;
      }
      const holder = await readHolder(db).catch(() => null);
      await close(db);
      throw new DatabaseLockedError(databasePath, holder);
    }
  }

  /** Gives the lock up (the kernel does it too if the process dies). */
  async release(): Promise<void> {
    if (this.db) await close(this.db);
  }
}

function open(path: string): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db: sqlite3.Database = new sqlite3.Database(path, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE, (error) => (error ? reject(error) : resolve(db)));
  });
}

function exec(db: sqlite3.Database, sql: string): Promise<void> {
  return new Promise((resolve, reject) => db.exec(sql, (error) => (error ? reject(error) : resolve())));
}

function run(db: sqlite3.Database, sql: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, params, (error) => (error ? reject(error) : resolve())));
}

function close(db: sqlite3.Database): Promise<void> {
  return new Promise((resolve) => db.close(() => resolve()));
}

/** The holder's row; waits a little, since the holder may be committing it at this very moment. */
async function readHolder(db: sqlite3.Database): Promise<LockHolder | null> {
  await exec(db, 'ROLLBACK').catch(() => undefined);
  await exec(db, 'PRAGMA busy_timeout = 2000');
  const row = await new Promise<{ pid: number; host: string; started_at: string; command: string } | undefined>((resolve, reject) =>
    db.get('SELECT pid, host, started_at, command FROM holder LIMIT 1', (error, found) => (error ? reject(error) : resolve(found as never))),
  );
  return row ? { pid: row.pid, host: row.host, startedAt: row.started_at, command: row.command } : null;
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}
