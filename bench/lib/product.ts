import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../src/app.js';
import { agentDefaults, loadConfig, type Config } from '../../src/config.js';
import { changeRunStatus } from '../../src/engine/runner.js';
import type { WorkflowSpec } from '../../src/engine/workflows/registry.js';
import { createRun } from '../../src/services/runs.js';
import { nowMs, roundSummary, summarize } from './stats.js';

/** The real app, as tests/helpers/test-app.ts builds it: port 0, a SQLite file in a temp folder, silent. */
export async function startBenchApp(overrides: Partial<Config> = {}, workflows: WorkflowSpec[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'agent-runner-bench-'));
  const config = loadConfig(
    {},
    {
      port: 0,
      databasePath: join(dir, 'agent-runner.db'),
      ollamaBaseUrl: 'http://127.0.0.1:9',
      logLevel: 'silent',
      shutdownGraceSeconds: 0,
      killGraceMs: 500,
      workflowsDir: join(dir, 'workflows'),
      stepTypesDir: join(dir, 'step-types'),
      ...overrides,
    },
  );
  const app: App = await buildApp(config, { workflows });
  const url = await app.start();
  const project = await app.services.store.createProject('bench', join(dir, 'workspace'));
  return {
    app,
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}/graphql`,
    dir,
    project,
    config,
    async close() {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
export type BenchApp = Awaited<ReturnType<typeof startBenchApp>>;

/** A workflow built from plain step definitions (as tests/workflow/support.ts does). */
export function benchWorkflow(name: string, steps: WorkflowSpec['steps']): WorkflowSpec {
  return {
    name,
    version: '0.0.1',
    description: `Bench workflow ${name}`,
    steps: steps.map((step) => ({ description: `Bench step ${step.name}`, saveArtifact: false, ...step })),
  };
}

/** Creates a run through the service createRun mutation uses (QUEUED, announced, RUN_QUEUED stored). */
export async function createQueuedRun(b: BenchApp, workflowName?: string) {
  const s = b.app.services;
  return createRun(
    {
      store: s.store,
      eventLog: s.eventLog,
      pubsub: s.pubsub,
      workflows: s.workflows,
      settings: { stepModels: {}, ollamaTimeoutSeconds: 300, shellTimeoutSeconds: 600, agentDefaults: agentDefaults(s.config) },
    },
    { projectId: b.project.id, goal: 'bench', name: null, runType: 'WORKFLOW', options: workflowName ? { workflowName } : {} },
  );
}

export { changeRunStatus };

/**
 * Checks the stored log of each run: seq 1 … count with no gap and no duplicate (the unique index
 * forbids duplicates; a gap would show as max(seq) ≠ count). Returns the last seq of each run.
 */
export async function checkStoredLog(b: BenchApp, runIds: number[], expectedCounts?: Map<number, number>) {
  const problems: string[] = [];
  const lastSeq = new Map<number, number>();
  for (const runId of runIds) {
    let after = 0;
    let count = 0;
    for (;;) {
      const page = await b.app.services.store.listEvents(runId, after, 10_000);
      for (const e of page) {
        count++;
        if (e.seq !== after + 1) problems.push(`run ${runId}: seq ${e.seq} after ${after}`);
        after = e.seq;
      }
      if (page.length < 10_000) break;
    }
    lastSeq.set(runId, after);
    const expected = expectedCounts?.get(runId);
    if (expected !== undefined && count !== expected) problems.push(`run ${runId}: ${count} events stored, ${expected} appended`);
  }
  return { problems, lastSeq };
}

/**
 * The driver's target for streaming points: each emit appends one LLM_TOKEN event (carrying its
 * timestamp in data.t) to the next run, round-robin, through the event log. Also records the time
 * from append() to its promise resolving (stored and published), to split delivery latency into
 * "store" and "deliver".
 */
export function eventTarget(b: BenchApp, runIds: number[], subsPerRun: Map<number, number>, appended: Map<number, number>) {
  const { eventLog } = b.app.services;
  const TEXT = 'x'.repeat(40);
  let next = 0;
  let failed = 0;
  let pending = 0;
  let storeMs: number[] = [];
  return {
    emit(t: number): number {
      const runId = runIds[next++ % runIds.length];
      appended.set(runId, appended.get(runId)! + 1);
      const called = nowMs();
      pending++;
      eventLog.append(runId, { type: 'LLM_TOKEN', message: 'token', stepName: 'coder', data: { t, text: TEXT } }).then(
        () => {
          pending--;
          storeMs.push(nowMs() - called);
        },
        () => {
          pending--;
          failed++;
        },
      );
      return subsPerRun.get(runId)!;
    },
    settle: () => eventLog.flush(),
    pending: () => pending,
    get failed() {
      return failed;
    },
    /** append() → stored and published, since the last call. */
    takeStoreLatency() {
      const s = roundSummary(summarize(storeMs));
      storeMs = [];
      return s;
    },
  };
}

/** Ends every run as the runner does (status first, then the terminal event). */
export async function completeRuns(b: BenchApp, runIds: number[], appended: Map<number, number>) {
  for (const id of runIds) {
    await changeRunStatus(b.app.services, { id, status: 'RUNNING' }, { status: 'COMPLETED', finishedAt: new Date() });
    appended.set(id, appended.get(id)! + 1);
    void b.app.services.eventLog.append(id, { type: 'WORKFLOW_COMPLETED', message: 'Workflow completed', data: null }).catch(() => undefined);
  }
  await b.app.services.eventLog.flush();
}
