/**
 * PostgreSQL and Redis for tests. `TEST_DATABASE_URL` (such as postgres://postgres@127.0.0.1:5432/test)
 * runs the test app of any test file on PostgreSQL instead of SQLite: each test app gets a database
 * of its own, created on that server and dropped when the app is closed. The multi-instance tests
 * use `POSTGRES_URL` / `REDIS_URL` (defaults: this machine's services) and skip when they are down.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

/** The server the multi-instance tests use (a database on it is made per test file). */
export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** When set, every test app runs on PostgreSQL (a database per app). */
export const testDatabaseUrl: string | null = process.env.TEST_DATABASE_URL?.trim() || null;

/** A database name for a test folder: the same folder (a restart on the same data) gets the same database. */
export function databaseNameFor(dir: string): string {
  return `ar_test_${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`;
}

/** `base` with its database replaced by `name`. */
export function withDatabase(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(base: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates database `name` on the server of `base` unless it exists; returns its URL. */
export async function ensureDatabase(base: string, name: string): Promise<string> {
  await admin(base, async (client) => {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) await client.query(`create database "${name}"`);
  });
  return withDatabase(base, name);
}

/** Drops database `name` (ending any connection still open on it). */
export async function dropDatabase(base: string, name: string): Promise<void> {
  await admin(base, (client) => client.query(`drop database if exists "${name}" with (force)`));
}

/** Whether PostgreSQL and Redis answer at these URLs (the multi-instance tests skip, saying why, when not). */
export async function servicesUp(): Promise<string | null> {
  try {
    await admin(POSTGRES_URL, (client) => client.query('select 1'));
  } catch (error) {
    return `PostgreSQL is not reachable at ${POSTGRES_URL}: ${(error as Error).message}`;
  }
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    return `Redis is not reachable at ${REDIS_URL}: ${(error as Error).message}`;
  } finally {
    redis.disconnect();
  }
  return null;
}
