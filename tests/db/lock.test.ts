/**
 * The database lock inside one process (the two-process case is tests/durability/one-server.test.ts):
 * a second app on the same file is refused before it touches the database, and the lock is given
 * back when the first app stops.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { DatabaseLockedError } from '../../src/db/lock.js';
import { makeTempDir, startTestApp, type TestApp } from '../helpers/test-app.js';

describe('the database lock', () => {
  const started: TestApp[] = [];
  afterEach(async () => {
    while (started.length > 1) await started.shift()!.close({ keepFiles: true });
    await started.shift()?.close();
  });

  it('refuses a second app on the same database, naming this process; the next app after a stop starts', async () => {
    const first = await startTestApp({ disableWorker: true });
    started.push(first);
    const config = loadConfig({}, { port: 0, databasePath: first.config.databasePath, logLevel: 'silent', disableWorker: true });

    const refused = await buildApp(config).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(DatabaseLockedError);
    expect((refused as DatabaseLockedError).holder).toMatchObject({ pid: process.pid });
    expect((refused as Error).message).toContain(`process ${process.pid} `);
    expect((refused as Error).message).toContain(join(first.dir, 'agent-runner.db.lock'));

    await first.close({ keepFiles: true });
    const second = await startTestApp({ disableWorker: true }, { dir: first.dir });
    started.push(second);
    expect(second.url).toMatch(/^http:/);
  });

  it('an in-memory database needs no lock', async () => {
    // An in-memory database has no folder: the sandbox's Maven folder and the workflows folder are given one.
    const dir = makeTempDir();
    const config = () => loadConfig({}, { databasePath: ':memory:', sandboxM2Dir: join(dir, 'm2'), workflowsDir: join(dir, 'workflows'), logLevel: 'silent', disableWorker: true });
    const one = await buildApp(config());
    const two = await buildApp(config());
    await one.stop();
    await two.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});
