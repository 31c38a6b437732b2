/**
 * An instance that cannot reach a service it was told to use refuses to start with one line naming
 * that service, its URL, the reason and what to do: Redis unreachable is not reported as a database
 * problem. Real server processes; PostgreSQL must be running (skipped otherwise, as tests/cluster).
 */
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServerExpectingExit } from '../durability/support.js';
import { dropDatabase, ensureDatabase, POSTGRES_URL, servicesUp } from '../helpers/postgres.js';
import { makeTempDir } from '../helpers/test-app.js';

const unavailable = await servicesUp();
if (unavailable !== null && process.env.CI) throw new Error(`tests/cluster need PostgreSQL and Redis on CI: ${unavailable}`);

/** A local TCP port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.skipIf(unavailable !== null)('an instance whose services are unreachable at start', { timeout: 120_000 }, () => {
  const name = `ar_start_${randomBytes(6).toString('hex')}`;
  let databaseUrl: string;

  beforeAll(async () => {
    databaseUrl = await ensureDatabase(POSTGRES_URL, name);
  });
  afterAll(async () => {
    await dropDatabase(POSTGRES_URL, name);
  });

  it('Redis: one line naming REDIS_URL, the reason (connection refused) and what to do; not the database', async () => {
    const port = await freePort();
    const dir = makeTempDir('agent-runner-start-failures-');
    const exit = await spawnServerExpectingExit({ DATABASE_URL: databaseUrl, REDIS_URL: `redis://127.0.0.1:${port}`, DATABASE_PATH: `${dir}/agent-runner.db` });
    expect(exit.code).toBe(1);
    const lines = `${exit.stdout}${exit.stderr}`.split('\n').filter((line) => /agent-runner:|ERROR/.test(line));
    expect(lines).toEqual([
      `agent-runner: Redis is not reachable at redis://127.0.0.1:${port} (REDIS_URL): connect ECONNREFUSED 127.0.0.1:${port}. Start Redis there, fix REDIS_URL, or unset it (one instance needs no Redis).`,
    ]);
  });
});
