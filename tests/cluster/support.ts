/**
 * Several real server instances (child processes, `src/server.ts`) on one PostgreSQL database and
 * one Redis: a database per test file, made on POSTGRES_URL and dropped afterwards; workflows from
 * a definition file (the children load WORKFLOWS_DIR); the instances' own leases short (2 s), so
 * takeovers happen within a test.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { CreateProjectDocument, CreateRunDocument } from '../../src/client/generated/graphql.js';
import { dropDatabase, ensureDatabase, POSTGRES_URL, REDIS_URL } from '../helpers/postgres.js';
import { spawnServer, type ServerChild } from '../durability/support.js';
import type { AgentRunnerClient } from '../../src/client/client.js';

/** The lease of the test instances, in seconds. */
export const LEASE_SECONDS = 2;

/**
 * `ticker`: step `tick` prints `lines` lines `tick <i> by <random id of this execution> <marker>`,
 * one every `delay` seconds; then step `tock` prints one line. The marker (an input, so in the
 * environment of the command's processes) names a test's own processes.
 */
const TICKER = `name: ticker
version: "1.0.0"
description: Prints lines for a while, then once more.
inputs:
  lines:
    type: number
    default: 1
  delay:
    type: string
    default: "0"
  marker:
    type: string
    default: none
steps:
  - name: tick
    type: SHELL_COMMAND
    command: 'me=$(od -An -N4 -tx4 /dev/urandom | tr -d " "); for i in $(seq 1 \${{ inputs.lines }}); do echo "tick $i by $me \${{ inputs.marker }}"; sleep \${{ inputs.delay }}; done'
    timeoutSeconds: 300
  - name: tock
    type: SHELL_COMMAND
    command: echo tock
    timeoutSeconds: 30
`;

export interface Cluster {
  databaseUrl: string;
  dir: string;
  /** Starts an instance named `id` (INSTANCE_ID) with these extra settings. */
  start(id: string, env?: Record<string, string>): Promise<ServerChild>;
  /** A direct connection to the shared database, for what the API does not show (a run's lease owner). */
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function startCluster(dir: string): Promise<Cluster> {
  const name = `ar_cluster_${randomBytes(6).toString('hex')}`;
  const databaseUrl = await ensureDatabase(POSTGRES_URL, name);
  const workflowsDir = join(dir, 'workflows');
  mkdirSync(workflowsDir, { recursive: true });
  writeFileSync(join(workflowsDir, 'ticker.yaml'), TICKER);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  return {
    databaseUrl,
    dir,
    start: (id, env = {}) =>
      spawnServer({
        DATABASE_URL: databaseUrl,
        REDIS_URL,
        INSTANCE_ID: id,
        LEASE_SECONDS: String(LEASE_SECONDS),
        DATABASE_PATH: join(dir, `${id}.db`),
        WORKFLOWS_DIR: workflowsDir,
        STEP_TYPES_DIR: join(dir, 'step-types'),
        STREAM_COALESCE_MS: '20',
        ...env,
      }),
    async query<T>(sql: string, params: unknown[] = []) {
      return (await db.query(sql, params)).rows as T[];
    },
    async close() {
      await db.end();
      await dropDatabase(POSTGRES_URL, name);
    },
  };
}

/** Creates a project at `localPath` and a ticker run in it. */
export async function tickerRun(client: AgentRunnerClient, localPath: string, inputs: { lines: number; delay: string; marker: string }, projectName = `p-${randomBytes(4).toString('hex')}`) {
  const { createProject: project } = await client.request(CreateProjectDocument, { name: projectName, localPath });
  const { createRun: run } = await client.request(CreateRunDocument, { input: { projectId: project.id, goal: 'tick', options: { workflowName: 'ticker' }, inputs } });
  return { project, run };
}

/** Live processes (not zombies) whose environment holds `needle` (a command's inputs are in its environment). */
export function processesWithEnv(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, 'latin1').includes(needle)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      found.push(Number(entry));
    } catch {
      // Gone meanwhile, or not readable.
    }
  }
  return found;
}

/** SIGKILLs the processes `processesWithEnv(needle)` finds. */
export function killProcessesWithEnv(needle: string): void {
  for (const pid of processesWithEnv(needle)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
