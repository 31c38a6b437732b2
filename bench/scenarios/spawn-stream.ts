/**
 * Spawning while streaming: delivery latency to 100 runEvents subscribers (10 runs, 10 each) at a
 * fixed rate of events appended through the event log, with nothing else going on ("idle"), and
 * while the worker runs shell steps at about `shellStepsPerSec` ("shell"): `shellRuns` runs at once
 * of workflows of `sleep S` steps, S calibrated first so that the steps complete at that rate.
 * Phases alternate idle / shell `reps` times; the achieved shell-step rate is counted from the
 * STEP_COMPLETED events of each shell phase.
 *
 *   node --expose-gc --import tsx bench/scenarios/spawn-stream.ts '{"reps":3}'
 */
import { fixedRate } from '../lib/drive.js';
import { benchWorkflow, changeRunStatus, checkStoredLog, completeRuns, createQueuedRun, eventTarget, startBenchApp } from '../lib/product.js';
import { debugStalls, emitResult, nowMs, parseArgs, profilePhase, round, sleep } from '../lib/stats.js';
import { SubscriberProcess } from '../lib/subscriber-process.js';
import type { SubSpec } from '../subscribers.js';

const args = parseArgs({
  subscribers: 100,
  runs: 10,
  /** Events/s appended over all streaming runs. */
  rate: 200,
  phaseMs: 5000,
  reps: 3,
  shellStepsPerSec: 20,
  /** Shell runs executing at once (the worker's concurrency). */
  shellRuns: 4,
  /** SANDBOX of the server: `off` (a PID namespace per command where unshare can make one) or `on` (bubblewrap). */
  sandbox: 'off' as 'off' | 'on',
});

await debugStalls();
const b = await startBenchApp({ workerCheckIntervalSeconds: 3600, workerConcurrency: args.shellRuns, sandbox: args.sandbox });
const { pubsub, worker, workflows, control } = b.app.services;

let sleepWorkflow = '';
async function registerSleep(sleepSec: number): Promise<string> {
  const name = `bench-sleep-${sleepSec.toFixed(3)}`;
  await workflows.registerSpec(benchWorkflow(name, Array.from({ length: 500 }, (_, i) => ({ name: `sleep${i}`, type: 'SHELL_COMMAND' as const, command: `sleep ${sleepSec.toFixed(3)}` }))));
  return name;
}

const runIds: number[] = [];
for (let i = 0; i < args.runs; i++) {
  const run = await createQueuedRun(b);
  await changeRunStatus(b.app.services, run, { status: 'RUNNING', startedAt: new Date() });
  runIds.push(run.id);
}
const appended = new Map<number, number>(runIds.map((id) => [id, 1]));
const specs: SubSpec[] = Array.from({ length: args.subscribers }, (_, i) => ({ kind: 'events', runId: runIds[i % args.runs] }));
const subsPerRun = new Map<number, number>(runIds.map((id) => [id, specs.filter((s) => s.kind === 'events' && s.runId === id).length]));
const subs = new SubscriberProcess();
const connected = await subs.connect(b.wsUrl, specs);
await subs.waitDelivered(args.subscribers);
await sleep(500);
const target = eventTarget(b, runIds, subsPerRun, appended);
const problems: string[] = [];

/** Starts `shellRuns` runs of the sleep workflow; counts their completed steps. */
async function startShells() {
  const ids: number[] = [];
  const unsubscribes: Array<() => void> = [];
  const counter = { steps: 0 };
  for (let i = 0; i < args.shellRuns; i++) {
    const run = await createQueuedRun(b, sleepWorkflow);
    ids.push(run.id);
    unsubscribes.push(
      pubsub.subscribe('runEvent', run.id, (event) => {
        if (event.type === 'STEP_COMPLETED') counter.steps++;
        if (event.type === 'STEP_FAILED') problems.push(`shell step failed: ${String(event.data?.error)}`);
      }),
    );
  }
  worker.notify();
  while (counter.steps < args.shellRuns) await sleep(5);
  return {
    counter,
    async stop() {
      for (const id of ids) await control.stop(id);
      for (const unsubscribe of unsubscribes) unsubscribe();
    },
  };
}

// Calibrate the sleep: the period of one step is sleep + overhead; aim at shellRuns / rate.
const period = args.shellRuns / args.shellStepsPerSec;
let sleepSec = period * 0.8;
const calibration: Array<{ sleepSec: number; stepsPerSec: number }> = [];
const overheads: number[] = [];
for (let i = 0; i < 2; i++) {
  sleepWorkflow = await registerSleep(sleepSec);
  const shells = await startShells();
  const from = shells.counter.steps;
  const t0 = nowMs();
  await fixedRate(target, subs, { ratePerSec: args.rate, durationMs: 2000 });
  const stepsPerSec = ((shells.counter.steps - from) / (nowMs() - t0)) * 1000;
  await shells.stop();
  calibration.push({ sleepSec: round(sleepSec), stepsPerSec: round(stepsPerSec) });
  overheads.push(args.shellRuns / stepsPerSec - sleepSec);
  sleepSec = Math.max(0, period - overheads.reduce((a, o) => a + o, 0) / overheads.length);
}
sleepWorkflow = await registerSleep(sleepSec);

type Phase = { kind: 'idle' | 'shell'; p50: number; p99: number; max: number; storeP99: number; loopDelayP99: number; loopDelayMax: number; cpuCores: number; shellStepsPerSec?: number };
const phases: Phase[] = [];
async function phase(kind: 'idle' | 'shell') {
  const shells = kind === 'shell' ? await startShells() : null;
  await subs.phase();
  target.takeStoreLatency();
  const from = shells?.counter.steps ?? 0;
  const t0 = nowMs();
  const result = await profilePhase(`spawn-stream-${kind}-${phases.length}`, () => fixedRate(target, subs, { ratePerSec: args.rate, durationMs: args.phaseMs }));
  const stepsPerSec = shells ? ((shells.counter.steps - from) / (nowMs() - t0)) * 1000 : 0;
  const report = await subs.report();
  const store = target.takeStoreLatency();
  await shells?.stop();
  if (!result.complete) problems.push(`${kind} phase: not every delivery arrived`);
  phases.push({
    kind,
    p50: report.latency.p50,
    p99: report.latency.p99,
    max: report.latency.max,
    storeP99: store.p99,
    loopDelayP99: result.loopDelay.p99,
    loopDelayMax: result.loopDelay.max,
    cpuCores: result.cpuCores,
    ...(shells ? { shellStepsPerSec: round(stepsPerSec) } : {}),
  });
  await sleep(300);
}

for (let r = 0; r < args.reps; r++) {
  await phase('idle');
  await phase('shell');
}

// End the streaming runs; every subscriber must have had every event once, in order.
const before = subs.delivered;
await completeRuns(b, runIds, appended);
await subs.waitDelivered(before + args.subscribers);
await sleep(300);
const stored = await checkStoredLog(b, runIds, appended);
problems.push(...stored.problems);
const { outcomes } = await subs.final();
for (const o of outcomes) {
  const last = stored.lastSeq.get(o.runId!)!;
  if (!(o.completed && o.count === last && o.outOfOrder === 0 && o.duplicates === 0 && o.errors.length === 0)) {
    problems.push(`runEvents(${o.runId}): ${o.count}/${last}, ${o.outOfOrder} out of order, completed ${o.completed} ${o.errors.join(' | ')}`);
  }
}
if (connected.failed) problems.push(`${connected.failed} connections failed`);
if (target.failed) problems.push(`${target.failed} appends failed`);
await subs.close();
await b.close();

const spread = (values: number[]) => {
  const sorted = [...values].sort((a, c) => a - c);
  return { median: sorted[Math.floor((sorted.length - 1) / 2)], min: sorted[0], max: sorted[sorted.length - 1] };
};
const idle = phases.filter((p) => p.kind === 'idle');
const shell = phases.filter((p) => p.kind === 'shell');
emitResult({
  scenario: 'spawn-stream',
  sandbox: args.sandbox,
  subscribers: args.subscribers,
  runs: args.runs,
  rate: args.rate,
  deliveriesPerSec: args.rate * (args.subscribers / args.runs),
  calibration,
  sleepSec: round(sleepSec),
  phases,
  idleP99: spread(idle.map((p) => p.p99)),
  shellP99: spread(shell.map((p) => p.p99)),
  idleP50: spread(idle.map((p) => p.p50)),
  shellP50: spread(shell.map((p) => p.p50)),
  shellStepsPerSec: spread(shell.map((p) => p.shellStepsPerSec!)),
  correctness: { ok: problems.length === 0, problems: problems.slice(0, 10) },
});
process.exit(0);
