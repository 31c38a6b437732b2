/**
 * The product, executing runs (worker on, real steps):
 *
 * 1. Run pickup: the createRun mutation over HTTP (client in this process) → WORKFLOW_STARTED
 *    stored. Two clocks: (a) hi-res, from just before the HTTP request is sent to the moment the
 *    event log publishes WORKFLOW_STARTED, which it does right after the row is committed (a
 *    listener on the in-process pubsub, the channel every subscriber is fed from); (b) the stored
 *    timestamps, WORKFLOW_STARTED.createdAt − run.createdAt (ms; both taken on the server, the
 *    event's when it was appended, before its commit).
 *    One run at a time, the worker idle when it is created (the previous run has completed).
 * 2. Step dispatch: a workflow of 20 FILE_WRITE steps; the time between step i's STEP_COMPLETED
 *    and step i+1's STEP_STARTED, (a) between their publishes (hi-res, = what a subscriber sees,
 *    each after its commit) and (b) between their stored createdAt (ms: the difference of two
 *    truncated ms timestamps is off by up to ±1 ms, unbiased, so its mean over many gaps is right
 *    while its median is coarse).
 * 3. Shell step: a workflow of 20 `true` SHELL_COMMAND steps; per step STEP_STARTED → STEP_COMPLETED
 *    (publishes, hi-res), and the runner's own data.durationMs (ms, around the executor only).
 * 4. Parallel dispatch: 20 independent FILE_WRITE steps (`needs: []`, maxParallel 20) against the
 *    same 20 in a chain: per step, the time from when it became ready (WORKFLOW_STARTED for the
 *    independent ones, the previous STEP_COMPLETED in the chain) to its STEP_STARTED (publishes,
 *    hi-res), and each run's whole time, WORKFLOW_STARTED → WORKFLOW_COMPLETED.
 *
 *   node --import tsx bench/scenarios/engine.ts '{"pickupRuns":60,"dispatchRuns":10,"shellRuns":5}'
 */
import { spawn } from 'node:child_process';
import { execa } from 'execa';
import { AgentRunnerClient } from '../../src/client/client.js';
import { CreateRunDocument } from '../../src/client/generated/graphql.js';
import type { EventRecord } from '../../src/engine/types.js';
import { benchWorkflow, createQueuedRun, startBenchApp, type BenchApp } from '../lib/product.js';
import { emitResult, nowMs, parseArgs, profilePhase, round, roundSummary, sleep, summarize } from '../lib/stats.js';

const args = parseArgs({ pickupRuns: 60, dispatchRuns: 10, shellRuns: 5, steps: 20 });

const files = benchWorkflow(
  'bench-files',
  Array.from({ length: args.steps }, (_, i) => ({ name: `write${i}`, type: 'FILE_WRITE' as const, outputFile: `out/f${i}.txt`, content: `file ${i} for {goal}\n` })),
);
const shell = benchWorkflow(
  'bench-shell',
  Array.from({ length: args.steps }, (_, i) => ({ name: `true${i}`, type: 'SHELL_COMMAND' as const, command: 'true' })),
);
const parallel = {
  ...benchWorkflow(
    'bench-parallel',
    Array.from({ length: args.steps }, (_, i) => ({ name: `write${i}`, type: 'FILE_WRITE' as const, needs: [], outputFile: `par/f${i}.txt`, content: `file ${i} for {goal}\n` })),
  ),
  maxParallel: args.steps,
};
const pickup = benchWorkflow('bench-pickup', [{ name: 'write', type: 'FILE_WRITE', outputFile: 'pickup.txt', content: 'x' }]);

// Unsandboxed here (the sandboxed shell steps are measured on a second server below); on this
// machine that still means a PID namespace per command (unshare), as SANDBOX=off gives.
const b = await startBenchApp({ workerCheckIntervalSeconds: 3600, sandbox: 'off', maxParallelSteps: args.steps }, [files, shell, pickup, parallel]);
const { pubsub, store, worker } = b.app.services;
const client = new AgentRunnerClient({ url: b.url });

interface Seen {
  event: EventRecord;
  at: number;
}
/** Follows one run on the in-process pubsub; resolves when its terminal event is published. */
function follow(runId: number, app: BenchApp = b) {
  const seen: Seen[] = [];
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const unsubscribe = app.app.services.pubsub.subscribe('runEvent', runId, (event) => {
    seen.push({ event, at: nowMs() });
    if (event.type === 'WORKFLOW_COMPLETED' || event.type === 'WORKFLOW_FAILED' || event.type === 'RUN_STOPPED') {
      unsubscribe();
      resolveDone();
    }
  });
  return { seen, done };
}

// 1. Pickup -------------------------------------------------------------------------------------
const pickupHiRes: number[] = [];
const pickupStored: number[] = [];
const mutationMs: number[] = [];
const claimMs: number[] = [];
const failures: string[] = [];
await profilePhase('engine-pickup', async () => {
for (let i = 0; i < args.pickupRuns + 3; i++) {
  let followed: ReturnType<typeof follow> | null = null;
  let claimedAt = 0;
  // createRun announces the new run on runUpdated before anything else: follow its events from there.
  const unsubscribe = pubsub.subscribe('runUpdated', 'all', (run) => {
    if (run.status === 'QUEUED' && !followed) followed = follow(run.id);
    if (run.status === 'RUNNING') claimedAt = nowMs();
  });
  const t0 = nowMs();
  const { createRun } = await client.request(CreateRunDocument, { input: { projectId: String(b.project.id), goal: 'pickup', options: { workflowName: 'bench-pickup' } } });
  const t1 = nowMs();
  const f = followed as ReturnType<typeof follow> | null;
  if (!f) throw new Error('createRun was not announced on runUpdated');
  await f.done;
  unsubscribe();
  const started = f.seen.find((s) => s.event.type === 'WORKFLOW_STARTED');
  const last = f.seen.at(-1)!;
  if (!started || last.event.type !== 'WORKFLOW_COMPLETED') {
    failures.push(`pickup run ${createRun.id}: ${f.seen.map((s) => s.event.type).join(',')}`);
    continue;
  }
  if (i < 3) continue; // warm-up
  const run = (await store.getRun(Number(createRun.id)))!;
  pickupHiRes.push(started.at - t0);
  pickupStored.push(started.event.createdAt.getTime() - run.createdAt.getTime());
  mutationMs.push(t1 - t0);
  claimMs.push(claimedAt - t0);
  await sleep(20);
}
});

// 2./3. Dispatch and shell steps ----------------------------------------------------------------
async function runWorkflow(name: string, count: number, app: BenchApp = b) {
  const runs: Seen[][] = [];
  for (let i = 0; i < count; i++) {
    const run = await createQueuedRun(app, name);
    const f = follow(run.id, app);
    app.app.services.worker.notify();
    await f.done;
    runs.push(f.seen);
    if (f.seen.at(-1)!.event.type !== 'WORKFLOW_COMPLETED') failures.push(`${name} run ${run.id}: ${f.seen.map((s) => `${s.event.type}${s.event.type === 'STEP_FAILED' ? ` ${String(s.event.data?.error)}` : ''}`).join(',')}`);
    await sleep(20);
  }
  return runs;
}

const byStep = (seen: Seen[], type: string) => {
  const map = new Map<number, Seen>();
  for (const s of seen) if (s.event.type === type) map.set(s.event.data!.index as number, s);
  return map;
};

/** Each step of each run: its STEP_STARTED and STEP_COMPLETED, and the next step's STEP_STARTED. */
function forEachStep(runs: Seen[][], visit: (started: Seen | undefined, completed: Seen | undefined, nextStarted: Seen | undefined) => void) {
  for (const seen of runs) {
    const started = byStep(seen, 'STEP_STARTED');
    const completed = byStep(seen, 'STEP_COMPLETED');
    for (let i = 0; i < args.steps; i++) visit(started.get(i), completed.get(i), started.get(i + 1));
  }
}

await runWorkflow('bench-files', 1); // warm-up
const fileRuns = await profilePhase('engine-dispatch', () => runWorkflow('bench-files', args.dispatchRuns));
const gapHiRes: number[] = [];
const gapStored: number[] = [];
const fileStep: number[] = [];
forEachStep(fileRuns, (s, c, nextStarted) => {
  if (s && c) fileStep.push(c.at - s.at);
  if (c && nextStarted) {
    gapHiRes.push(nextStarted.at - c.at);
    gapStored.push(nextStarted.event.createdAt.getTime() - c.event.createdAt.getTime());
  }
});

/** Per-step figures of runs of the shell workflow. */
function shellFigures(runs: Seen[][]) {
  const step: number[] = [];
  const duration: number[] = [];
  const gap: number[] = [];
  forEachStep(runs, (s, c, nextStarted) => {
    if (s && c) {
      step.push(c.at - s.at);
      duration.push(c.event.data!.durationMs as number);
    }
    if (c && nextStarted) gap.push(nextStarted.at - c.at);
  });
  return { runs: runs.length, stepPublishedMs: roundSummary(summarize(step)), stepDurationMs: roundSummary(summarize(duration)), gapPublishedMs: roundSummary(summarize(gap)) };
}

// 4. Parallel steps against the chain ------------------------------------------------------------
await runWorkflow('bench-parallel', 1); // warm-up
const parallelRuns = await profilePhase('engine-parallel', () => runWorkflow('bench-parallel', args.dispatchRuns));
const readyToStarted = (runs: Seen[][], chained: boolean) => {
  const latencies: number[] = [];
  const totals: number[] = [];
  for (const seen of runs) {
    const workflowStarted = seen.find((s) => s.event.type === 'WORKFLOW_STARTED')!;
    const completedRun = seen.find((s) => s.event.type === 'WORKFLOW_COMPLETED');
    if (completedRun) totals.push(completedRun.at - workflowStarted.at);
    const started = byStep(seen, 'STEP_STARTED');
    const completed = byStep(seen, 'STEP_COMPLETED');
    for (let i = 0; i < args.steps; i++) {
      const ready = chained && i > 0 ? completed.get(i - 1) : workflowStarted;
      const s = started.get(i);
      if (ready && s) latencies.push(s.at - ready.at);
    }
  }
  return { readyToStartedMs: roundSummary(summarize(latencies)), runMs: roundSummary(summarize(totals)) };
};
const parallelDispatch = { parallel: readyToStarted(parallelRuns, false), chain: readyToStarted(fileRuns, true) };

await runWorkflow('bench-shell', 1); // warm-up
const shellRuns = await profilePhase('engine-shell', () => runWorkflow('bench-shell', args.shellRuns));
const shellContainment = (await worker.status()).sandbox.containment;

// The same steps in the sandbox (the default wherever bubblewrap works), on a second server.
let shellSandboxed: (ReturnType<typeof shellFigures> & { tool: string | null }) | null = null;
const sandboxed = await startBenchApp({ workerCheckIntervalSeconds: 3600, sandbox: 'on' }, [shell]).catch(() => null);
if (sandboxed) {
  await runWorkflow('bench-shell', 1, sandboxed);
  const runs = await profilePhase('engine-shell-sandboxed', () => runWorkflow('bench-shell', args.shellRuns, sandboxed));
  shellSandboxed = { ...shellFigures(runs), tool: (await sandboxed.app.services.worker.status()).sandbox.tool };
  await sandboxed.close();
}

// The same `sh -c true` as the floor, spawned raw from THIS process (the server, with its RSS):
// fork() copies the parent's page tables, so its cost grows with the server's memory.
const rawSync: number[] = [];
const rawTotal: number[] = [];
for (let i = 0; i < 60; i++) {
  const t0 = nowMs();
  const child = spawn('sh', ['-c', 'true'], { stdio: 'ignore' });
  const t1 = nowMs();
  await new Promise((resolve) => child.once('exit', resolve));
  if (i >= 10) {
    rawSync.push(t1 - t0);
    rawTotal.push(nowMs() - t0);
  }
}
// And through execa with the options SHELL_COMMAND uses (src/engine/steps/shell-command.ts).
const execaSync: number[] = [];
const execaTotal: number[] = [];
for (let i = 0; i < 60; i++) {
  const t0 = nowMs();
  const subprocess = execa('true', { shell: true, cwd: b.dir, detached: true, reject: false, buffer: false, stdin: 'ignore', env: { AGENT_RUNNER_RUN_ID: '0' } });
  const t1 = nowMs();
  subprocess.stdout?.resume();
  subprocess.stderr?.resume();
  await subprocess;
  if (i >= 10) {
    execaSync.push(t1 - t0);
    execaTotal.push(nowMs() - t0);
  }
}
const serverRssMb = round(process.memoryUsage().rss / 2 ** 20);

await client.close();
await b.close();

const mean = (values: number[]) => round(values.reduce((a, v) => a + v, 0) / Math.max(1, values.length));
emitResult({
  scenario: 'engine',
  pickup: {
    runs: pickupHiRes.length,
    toWorkflowStartedStoredMs: roundSummary(summarize(pickupHiRes)),
    storedCreatedAtDiffMs: roundSummary(summarize(pickupStored)),
    mutationResponseMs: roundSummary(summarize(mutationMs)),
    toClaimedMs: roundSummary(summarize(claimMs)),
  },
  dispatch: {
    runs: fileRuns.length,
    gapPublishedMs: roundSummary(summarize(gapHiRes)),
    gapCreatedAtMs: { ...roundSummary(summarize(gapStored)), mean: mean(gapStored) },
    fileStepMs: roundSummary(summarize(fileStep)),
    ...parallelDispatch,
  },
  shell: {
    ...shellFigures(shellRuns),
    containment: shellContainment,
    rawSpawnInServer: { rssMb: serverRssMb, total: roundSummary(summarize(rawTotal)), spawnSync: roundSummary(summarize(rawSync)) },
    execaInServer: { total: roundSummary(summarize(execaTotal)), spawnSync: roundSummary(summarize(execaSync)) },
  },
  shellSandboxed,
  correctness: { ok: failures.length === 0, problems: failures.slice(0, 10) },
});
process.exit(0);
