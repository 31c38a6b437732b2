import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App, type AppOptions } from '../../src/app.js';
import { AgentRunnerClient } from '../../src/client/client.js';
import { loadConfig, type Config } from '../../src/config.js';
import { databaseNameFor, dropDatabase, ensureDatabase, testDatabaseUrl } from './postgres.js';

export interface TestApp {
  app: App;
  url: string;
  config: Config;
  /** Typed client for this app (HTTP + WebSocket). */
  client: AgentRunnerClient;
  /** A temporary folder of this test app: the database lives here; use it for project folders too. */
  dir: string;
  /** Stops the app (and its client); `keepFiles` leaves the folder for a restart on the same database. */
  close(options?: { keepFiles?: boolean }): Promise<void>;
}

/** A temporary folder removed by the caller (or by TestApp.close). */
export function makeTempDir(prefix = 'agent-runner-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Starts the real app on a free port with a real SQLite file in a temporary folder. Settings come
 * from `overrides` (never from the test process's environment); the Ollama URL defaults to a port
 * where nothing listens, so a test that needs Ollama must pass a fake's URL. With `TEST_DATABASE_URL`
 * set it runs on PostgreSQL instead, on a database of its own (see helpers/postgres.ts).
 */
export async function startTestApp(overrides: Partial<Config> = {}, options: AppOptions & { dir?: string; env?: Record<string, string> } = {}): Promise<TestApp> {
  const dir = options.dir ?? makeTempDir();
  const databaseName = testDatabaseUrl && overrides.databaseUrl === undefined ? databaseNameFor(dir) : null;
  const databaseUrl = databaseName ? await ensureDatabase(testDatabaseUrl!, databaseName) : undefined;
  const config = loadConfig(options.env ?? {}, {
    ...(databaseUrl ? { databaseUrl, leaseSeconds: 5 } : {}),
    port: 0,
    databasePath: join(dir, 'agent-runner.db'),
    ollamaBaseUrl: 'http://127.0.0.1:9',
    logLevel: 'silent',
    shutdownGraceSeconds: 0,
    killGraceMs: 500,
    // Never the repository's own folders: a test that wants definition files or step types passes its own.
    workflowsDir: join(dir, 'workflows'),
    stepTypesDir: join(dir, 'step-types'),
    ...overrides,
  });
  const app = await buildApp(config, options);
  const url = await app.start();
  const client = new AgentRunnerClient({ url, token: config.apiToken ?? undefined });
  return {
    app,
    url,
    config,
    client,
    dir,
    async close({ keepFiles = false } = {}) {
      await client.close();
      await app.stop();
      if (!keepFiles) rmSync(dir, { recursive: true, force: true });
      if (!keepFiles && databaseName) await dropDatabase(testDatabaseUrl!, databaseName);
    },
  };
}

/** A queued run of `projectId` written straight to the store (no worker, no events, no steps): something for a test to point queries or artifacts at. */
export function queuedRun(t: TestApp, projectId: number, goal = 'g') {
  return t.app.services.store.createRun({
    projectId,
    name: null,
    goal,
    runType: 'WORKFLOW',
    workflowName: 'quarkus-bootstrap-v1',
    workflowVersion: '1.0.0',
    definition: null,
    definitionHash: null,
    inputs: {},
    options: {},
    models: [],
    timeoutSeconds: null,
    steps: [],
  });
}

/** Polls `check` until it returns a truthy value (returned) or the time runs out (throws). */
export async function waitFor<T>(check: () => T | Promise<T>, { timeoutMs = 10_000, intervalMs = 20, what = 'condition' } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Collects every item of a subscription until it completes (or the time runs out). */
export async function collect<T>(iterable: AsyncIterable<T>, { timeoutMs = 15_000 } = {}): Promise<T[]> {
  const items: T[] = [];
  const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`subscription did not complete within ${timeoutMs} ms (got ${items.length} items)`)), timeoutMs).unref());
  const drain = (async () => {
    for await (const item of iterable) items.push(item);
    return items;
  })();
  return Promise.race([drain, timer]);
}
