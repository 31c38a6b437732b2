/**
 * Scale-out benchmark (issue 15): real server instances (`node dist/server.js`, as `npm start` runs
 * them) on one PostgreSQL database and one Redis, on this machine.
 *
 *   npx tsx bench/cluster.ts            # all three measures (~3 minutes on 2 cores)
 *   npx tsx bench/cluster.ts --quick    # fewer runs and samples
 *
 * 1. Runs per second of a short workflow (two `sh -c` steps) with 1 and 3 instances, and with the
 *    default single SQLite server for reference: R runs created at once, spread over the instances,
 *    timed from the first createRun to the last run COMPLETED.
 * 2. Delivery latency of live events (event's createdAt on the executing instance, just before its
 *    write → received by a WebSocket subscriber, same machine clock): a subscriber on the executing instance, one on another instance (through
 *    Redis), and one on a single SQLite server; p50/p99 over every SHELL_OUTPUT event of a run.
 * 3. Failover time after kill -9 of the executing instance: kill → RUN_RECOVERED (taken over) and →
 *    the interrupted step started again elsewhere, with LEASE_SECONDS as given.
 *
 * PostgreSQL and Redis are POSTGRES_URL (postgres://postgres@127.0.0.1:5432/test) and REDIS_URL
 * (redis://127.0.0.1:6379); a database is made for each phase and dropped after it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { WebSocket } from 'ws';
import { createClient } from 'graphql-ws';
import { AgentRunnerClient } from '../src/client/client.js';
import { CreateProjectDocument, CreateRunDocument, EventsDocument, RunDocument } from '../src/client/generated/graphql.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const QUICK = process.argv.includes('--quick');

const WORKFLOW = `name: bench-ticker
version: "1.0.0"
inputs:
  lines:
    type: number
    default: 1
  delay:
    type: string
    default: "0"
  wait:
    type: string
    default: "0"
steps:
  - name: tick
    type: SHELL_COMMAND
    command: 'sleep \${{ inputs.wait }}; for i in $(seq 1 \${{ inputs.lines }}); do echo "tick $i"; sleep \${{ inputs.delay }}; done'
  - name: tock
    type: SHELL_COMMAND
    command: echo tock
`;

interface Instance {
  child: ChildProcess;
  url: string;
  client: AgentRunnerClient;
  output: () => string;
  exited: Promise<void>;
}

const dir = mkdtempSync(join(tmpdir(), 'agent-runner-bench-cluster-'));
mkdirSync(join(dir, 'workflows'));
writeFileSync(join(dir, 'workflows', 'bench.yaml'), WORKFLOW);
const live = new Set<ChildProcess>();

async function startInstance(env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, ['--enable-source-maps', 'dist/server.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', LOG_LEVEL: 'info', WORKFLOWS_DIR: join(dir, 'workflows'), STEP_TYPES_DIR: join(dir, 'none'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => (output += t));
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (output += t));
  const exited = new Promise<void>((resolve) => child.once('exit', () => (live.delete(child), resolve())));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 90 s:\n${output}`)), 90_000);
    child.stdout!.on('data', () => {
      const m = /agent-runner listening on (\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then(() => reject(new Error(`exited before listening:\n${output}`)));
  });
  return { child, url, client: new AgentRunnerClient({ url }), output: () => output, exited };
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  await client.query(sql).finally(() => client.end());
}

async function withDatabase<T>(work: (url: string) => Promise<T>): Promise<T> {
  const name = `ar_bench_${randomBytes(5).toString('hex')}`;
  await admin(`create database "${name}"`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  try {
    return await work(url.toString());
  } finally {
    for (const child of [...live]) child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await admin(`drop database if exists "${name}" with (force)`);
  }
}

function clusterEnv(databaseUrl: string, id: string, extra: Record<string, string> = {}): Record<string, string> {
  return { DATABASE_URL: databaseUrl, REDIS_URL, INSTANCE_ID: id, DATABASE_PATH: join(dir, `${id}.db`), WORKER_CONCURRENCY: '4', STREAM_COALESCE_MS: '5', ...extra };
}

async function project(client: AgentRunnerClient, name: string) {
  return (await client.request(CreateProjectDocument, { name, localPath: join(dir, 'ws', name) })).createProject;
}

async function createRun(client: AgentRunnerClient, projectId: string, inputs: Record<string, unknown>) {
  return (await client.request(CreateRunDocument, { input: { projectId, goal: 'bench', options: { workflowName: 'bench-ticker' }, inputs } })).createRun;
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};

// 1. Runs per second ---------------------------------------------------------------------------

async function throughput(instances: Instance[], runs: number): Promise<number> {
  const projects = await Promise.all(instances.map((i, n) => project(i.client, `tp-${n}-${randomBytes(3).toString('hex')}`)));
  const started = performance.now();
  const created = await Promise.all(Array.from({ length: runs }, (_, k) => createRun(instances[k % instances.length]!.client, projects[k % instances.length]!.id, { lines: 1, delay: '0' })));
  const pending = new Set(created.map((r) => r.id));
  await until(
    async () => {
      for (const id of [...pending]) {
        const status = (await instances[0]!.client.request(RunDocument, { id })).run?.status;
        if (status === 'COMPLETED') pending.delete(id);
        else if (status === 'FAILED' || status === 'STOPPED') throw new Error(`run ${id} ${status}`);
      }
      return pending.size === 0;
    },
    300_000,
    'every run to complete',
    100,
  );
  return runs / ((performance.now() - started) / 1000);
}

// 2. Delivery latency --------------------------------------------------------------------------

/** Receive time − createdAt of every SHELL_OUTPUT event of the run, for a subscriber on `url`. */
function subscribeLatencies(url: string, runId: string): { done: Promise<number[]> } {
  const latencies: number[] = [];
  const client = createClient({ url: url.replace(/^http/, 'ws') + '/graphql', webSocketImpl: WebSocket, lazy: true });
  const done = new Promise<number[]>((resolve, reject) => {
    client.subscribe<{ runEvents: { type: string; createdAt: string } }>(
      { query: `subscription($runId: ID!) { runEvents(runId: $runId, after: 0) { seq type createdAt } }`, variables: { runId } },
      {
        next: ({ data }) => {
          if (data?.runEvents.type === 'SHELL_OUTPUT') latencies.push(Date.now() - new Date(data.runEvents.createdAt).getTime());
        },
        error: reject,
        complete: () => {
          void client.dispose();
          resolve(latencies);
        },
      },
    );
  });
  return { done };
}

async function latencyRun(subscribeOn: Instance[], creator: Instance, lines: number): Promise<number[][]> {
  const p = await project(creator.client, `lat-${randomBytes(3).toString('hex')}`);
  // The command waits 1.5 s before its first line, so the subscribers are live by then: every event measured is a live one.
  const run = await createRun(creator.client, p.id, { lines, delay: '0.01', wait: '1.5' });
  const subs = subscribeOn.map((i) => subscribeLatencies(i.url, run.id));
  return Promise.all(subs.map((s) => s.done));
}

// 3. Failover ----------------------------------------------------------------------------------

async function failover(databaseUrl: string, leaseSeconds: number, reps: number): Promise<Array<{ recoveredMs: number; restartedMs: number }>> {
  const results: Array<{ recoveredMs: number; restartedMs: number }> = [];
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const instances = [
      await startInstance(clusterEnv(databaseUrl, 'fo-1', { LEASE_SECONDS: String(leaseSeconds) })),
      await startInstance(clusterEnv(databaseUrl, 'fo-2', { LEASE_SECONDS: String(leaseSeconds) })),
    ];
    for (let rep = 0; rep < reps; rep++) {
      const alive = instances.filter((i) => i.child.exitCode === null && i.child.signalCode === null);
      const p = await project(alive[0]!.client, `fo-${rep}-${randomBytes(3).toString('hex')}`);
      const run = await createRun(alive[0]!.client, p.id, { lines: 400, delay: '0.05' });
      await until(async () => (await alive[0]!.client.request(EventsDocument, { runId: run.id, after: 0, first: 1000 })).events.some((e) => e.type === 'SHELL_OUTPUT'), 60_000, 'output');
      const { rows } = await db.query<{ lease_owner: string }>('select lease_owner from runs where id = $1', [Number(run.id)]);
      const victim = alive.find((i) => i.output().includes(`instance ${rows[0]!.lease_owner},`))!;
      const survivor = alive.find((i) => i !== victim)!;
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      await victim.exited;
      let recoveredAt = 0;
      let restartedAt = 0;
      await until(
        async () => {
          const events = (await survivor.client.request(EventsDocument, { runId: run.id, after: 0, first: 1000 })).events;
          const recovered = events.findIndex((e) => e.type === 'RUN_RECOVERED');
          if (recovered === -1) return false;
          recoveredAt = new Date(events[recovered]!.createdAt as string).getTime();
          const again = events.slice(recovered).find((e) => e.type === 'STEP_STARTED');
          if (!again) return false;
          restartedAt = new Date(again.createdAt as string).getTime();
          return true;
        },
        60_000,
        'the takeover',
      );
      results.push({ recoveredMs: recoveredAt - killedAt, restartedMs: restartedAt - killedAt });
      // The killed instance comes back for the next repetition (same id: a new process).
      const index = instances.indexOf(victim);
      instances[index] = await startInstance(clusterEnv(databaseUrl, victim === instances[0] ? 'fo-1' : 'fo-2', { LEASE_SECONDS: String(leaseSeconds) }));
      await survivor.client.request(RunDocument, { id: run.id });
    }
  } finally {
    await db.end();
  }
  return results;
}

// ----------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  execFileSync(process.execPath, ['scripts/build-server.mjs'], { cwd: ROOT, stdio: 'inherit' });
  const RUNS = QUICK ? 30 : 90;
  const LINES = QUICK ? 200 : 500;
  const report: Record<string, unknown> = { machine: `${cpus().length} × ${cpus()[0]?.model}`, loadBefore: loadavg()[0]!.toFixed(2), runs: RUNS, lines: LINES };

  // SQLite, one server: the default, for reference.
  {
    const server = await startInstance({ DATABASE_PATH: join(dir, 'sqlite', 'a.db'), WORKER_CONCURRENCY: '4', STREAM_COALESCE_MS: '5' });
    report.sqliteRunsPerSecond = await throughput([server], RUNS);
    const [same] = await latencyRun([server], server, LINES);
    report.sqliteLatency = { p50: quantile(same!, 0.5), p99: quantile(same!, 0.99), n: same!.length };
    server.child.kill('SIGTERM');
    await server.exited;
  }
  report.pg1RunsPerSecond = await withDatabase(async (url) => throughput([await startInstance(clusterEnv(url, 'tp1-a'))], RUNS));
  report.pg3RunsPerSecond = await withDatabase(async (url) => {
    const instances = [await startInstance(clusterEnv(url, 'tp3-a')), await startInstance(clusterEnv(url, 'tp3-b')), await startInstance(clusterEnv(url, 'tp3-c'))];
    return throughput(instances, RUNS);
  });
  await withDatabase(async (url) => {
    // The run executes on `exec` (the only one with a worker); one subscriber there, one on `other`.
    const exec = await startInstance(clusterEnv(url, 'lat-exec'));
    const other = await startInstance(clusterEnv(url, 'lat-other', { DISABLE_WORKER: 'true' }));
    const [same, cross] = await latencyRun([exec, other], other, LINES);
    report.pgSameInstanceLatency = { p50: quantile(same!, 0.5), p99: quantile(same!, 0.99), n: same!.length };
    report.pgCrossInstanceLatency = { p50: quantile(cross!, 0.5), p99: quantile(cross!, 0.99), n: cross!.length };
  });
  for (const lease of QUICK ? [2] : [2, 5]) {
    report[`failoverLease${lease}s`] = await withDatabase((url) => failover(url, lease, QUICK ? 2 : 3));
  }
  report.loadAfter = loadavg()[0]!.toFixed(2);
  console.log(JSON.stringify(report, null, 2));
  writeFileSync(join(ROOT, 'bench', 'cluster-results.json'), JSON.stringify(report, null, 2) + '\n');
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const child of live) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
