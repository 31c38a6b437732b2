/**
 * Output floods (issue 10, item 5): one step runs `yes` for `floodSeconds` ("flood"), against the
 * same server with the same step silent, `sleep floodSeconds` ("silent", the baseline of the same
 * run). Meanwhile a client in another process (bench/query-client.ts) asks for the flooding run with
 * the `run` query at `queryRate`/s and follows another run over `runEvents`; that other run executes
 * `otherSteps` short shell steps. Per phase: p50/p99/max of the query, delivery latency to the
 * subscriber, the other run's duration, the server's peak RSS, the database's growth (file + WAL)
 * and what the flooding run stored, the CPU of the server, of the command runner and of the machine,
 * the server's event-loop delay. Phases alternate silent / flood `reps` times.
 *
 *   node --expose-gc --import tsx bench/scenarios/flood.ts '{"floodSeconds":10,"reps":1}'
 */
import { fork } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import sqlite3 from 'sqlite3';
import { spawnerPid } from '../../src/engine/spawner/spawner.js';
import type { EventRecord } from '../../src/engine/types.js';
import { benchWorkflow, createQueuedRun, startBenchApp } from '../lib/product.js';
import { cpuMsSince, emitResult, loopDelay, nowMs, parseArgs, round, rssMb, settleGc, sleep } from '../lib/stats.js';

const args = parseArgs({ floodSeconds: 15, queryRate: 20, otherSteps: 10, reps: 2, sandbox: 'auto' as 'auto' | 'on' | 'off' });

const COMPILED = import.meta.url.endsWith('.js');
const CLIENT = fileURLToPath(new URL(COMPILED ? '../query-client.js' : '../query-client.ts', import.meta.url));

const b = await startBenchApp({ workerCheckIntervalSeconds: 3600, workerConcurrency: 2, sandbox: args.sandbox }, [
  benchWorkflow('bench-flood', [{ name: 'flood', type: 'SHELL_COMMAND', command: `timeout ${args.floodSeconds} yes; true`, saveArtifact: true }]),
  benchWorkflow('bench-silent', [{ name: 'silent', type: 'SHELL_COMMAND', command: `sleep ${args.floodSeconds}`, saveArtifact: true }]),
  benchWorkflow('bench-other', Array.from({ length: args.otherSteps }, (_, i) => ({ name: `tick${i}`, type: 'SHELL_COMMAND' as const, command: `echo tick ${i}; sleep 0.1` }))),
]);
const { pubsub, worker } = b.app.services;
const sandboxed = (await worker.status()).sandbox;
const client = fork(CLIENT, [], { execArgv: COMPILED ? [] : ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });

const dbBytes = () =>
  ['', '-wal'].reduce((sum, suffix) => {
    try {
      return sum + statSync(b.config.databasePath + suffix).size;
    } catch {
      return sum;
    }
  }, 0);
/** CPU ms of another process (utime + stime, in clock ticks of 10 ms). */
const processCpuMs = (pid: number | undefined): number => {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
};
/** Busy and total jiffies of the whole machine. */
const machineJiffies = (): [number, number] => {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, v) => a + v, 0);
  return [total - fields[3]! - (fields[4] ?? 0), total];
};

/** Resolves with the run's events once its terminal event is published. */
function follow(runId: number): { events: Array<EventRecord & { at: number }>; done: Promise<void> } {
  const events: Array<EventRecord & { at: number }> = [];
  let unsubscribe = () => {};
  const done = new Promise<void>((resolve) => {
    unsubscribe = pubsub.subscribe('runEvent', runId, (event) => {
      events.push({ ...event, at: nowMs() });
      if (event.type === 'WORKFLOW_COMPLETED' || event.type === 'WORKFLOW_FAILED' || event.type === 'RUN_STOPPED') resolve();
    });
  });
  return { events, done: done.then(() => unsubscribe()) };
}

/** Bytes of the run's events and step records as SQLite stores them (text columns). */
function storedBytes(runId: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(b.config.databasePath, sqlite3.OPEN_READONLY, (error) => {
      if (error) return reject(error);
      db.get(
        `select (select coalesce(sum(length(cast(message as blob)) + coalesce(length(cast(data as blob)), 0)), 0) from events where run_id = ?1)
              + (select coalesce(sum(length(cast(output as blob))), 0) from step_runs where run_id = ?1) as bytes`,
        [runId],
        (queryError, row: { bytes: number }) => db.close(() => (queryError ? reject(queryError) : resolve(row.bytes))),
      );
    });
  });
}

const rssBaseMb = (await settleGc(), round(rssMb()));
const phases: Array<Record<string, unknown>> = [];
const problems: string[] = [];

async function phase(kind: 'silent' | 'flood') {
  await settleGc();
  const rssStartMb = rssMb();
  const db0 = dbBytes();
  const cpu0 = process.cpuUsage();
  const machine0 = machineJiffies();
  let helper0: number | undefined;
  let rssPeakMb = rssStartMb;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const sampler = setInterval(() => {
    rssPeakMb = Math.max(rssPeakMb, rssMb());
  }, 50);

  const main = await createQueuedRun(b, kind === 'flood' ? 'bench-flood' : 'bench-silent');
  const mainRun = follow(main.id);
  worker.notify();
  while (!mainRun.events.some((e) => e.type === 'SHELL_EXECUTING')) await sleep(5);
  helper0 = processCpuMs(spawnerPid());
  const t0 = nowMs();
  await sleep(1000);
  const other = await createQueuedRun(b, 'bench-other');
  const otherRun = follow(other.id);
  worker.notify();
  const report = new Promise<any>((resolve) => client.once('message', resolve));
  client.send({ url: b.url, runId: String(main.id), ratePerSec: args.queryRate, durationMs: args.floodSeconds * 1000 - 2000, watchRunId: String(other.id) });
  const queries = await report;
  await otherRun.done;
  await mainRun.done;
  const elapsedMs = nowMs() - t0;
  clearInterval(sampler);
  loop.disable();
  const helperCpuMs = processCpuMs(spawnerPid()) - helper0;
  const serverCpuMs = cpuMsSince(cpu0);
  const machine1 = machineJiffies();

  const otherStarted = otherRun.events.find((e) => e.type === 'WORKFLOW_STARTED')!;
  const otherEnded = otherRun.events.at(-1)!;
  if (otherEnded.type !== 'WORKFLOW_COMPLETED') problems.push(`${kind}: the other run ended ${otherEnded.type}`);
  const mainEnded = mainRun.events.at(-1)!;
  if (mainEnded.type !== 'WORKFLOW_COMPLETED') problems.push(`${kind}: the ${kind} run ended ${mainEnded.type}: ${String(mainEnded.message)}`);
  if (queries.failed) problems.push(`${kind}: ${queries.failed} queries failed`);
  const completed = mainRun.events.find((e) => e.type === 'STEP_COMPLETED');
  const dropped = (completed?.data?.droppedBytes as { stdout: number } | undefined)?.stdout ?? 0;
  const stored = await storedBytes(main.id);
  phases.push({
    kind,
    query: queries.queries,
    delivery: queries.deliveries,
    otherRunMs: round(otherEnded.at - otherStarted.at),
    rssStartMb: round(rssStartMb),
    rssPeakMb: round(rssPeakMb),
    dbGrowthMb: round((dbBytes() - db0) / 2 ** 20),
    storedBytesOfRun: stored,
    outputBytes: kind === 'flood' ? dropped + b.config.commandOutputLimitBytes : 0,
    outputMbPerSec: kind === 'flood' ? round((dropped + b.config.commandOutputLimitBytes) / 2 ** 20 / (elapsedMs / 1000)) : 0,
    serverCores: round(serverCpuMs / elapsedMs),
    helperCores: round(helperCpuMs / elapsedMs),
    machineBusy: round((machine1[0] - machine0[0]) / (machine1[1] - machine0[1])),
    loopDelay: loopDelay(loop),
  });
  await sleep(500);
}

for (let r = 0; r < args.reps; r++) {
  await phase('silent');
  await phase('flood');
}
client.disconnect();
await b.close();

const of = (kind: string) => phases.filter((p) => p.kind === kind) as Array<Record<string, any>>;
const med = (values: number[]) => [...values].sort((a, c) => a - c)[Math.floor((values.length - 1) / 2)];
emitResult({
  scenario: 'flood',
  params: args,
  sandbox: sandboxed.active ? sandboxed.tool : 'none',
  outputLimitBytes: b.config.commandOutputLimitBytes,
  rssBaseMb,
  phases,
  silentQueryP99: med(of('silent').map((p) => p.query.p99)),
  floodQueryP99: med(of('flood').map((p) => p.query.p99)),
  correctness: { ok: problems.length === 0, problems },
});
process.exit(0);
