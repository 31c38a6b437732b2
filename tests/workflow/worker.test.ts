/**
 * The worker: a run is never executed twice however `processQueue` and the poll race; a new run
 * starts without waiting for the poll; with DISABLE_WORKER runs wait for `processQueue`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Subscription } from '../../src/client/client.js';
import {
  ProcessQueueDocument,
  RunEventsDocument,
  RunsDocument,
  WorkerDocument,
  type ProcessQueueMutation,
  type RunEventsSubscription,
} from '../../src/client/generated/graphql.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { createProject, createRun, expectGaplessSeqs, getRun, ofType, queryEvents, streamToEnd, testWorkflow, watchRunUpdates } from './support.js';

const quick = testWorkflow('quick', [
  { name: 'write', type: 'FILE_WRITE', content: '{goal}\n', outputFile: 'goal.txt' },
  { name: 'copy', type: 'FILE_WRITE', contentFrom: 'write', outputFile: 'copy.txt' },
]);
const workflows = () => [quick];

describe('worker', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('never runs a run twice when processQueue calls and the poll race', async () => {
    t = await startTestApp({ disableWorker: false, workerCheckIntervalSeconds: 0.05, workerConcurrency: 4 }, { workflows: workflows() });
    const app = t;
    const project = await createProject(app);
    const RUNS = 16;
    const TRIGGERS = 24;
    const updates = await watchRunUpdates(app, project.id);

    // Runs being created while processQueue mutations keep arriving, all at once.
    const statuses: ProcessQueueMutation['processQueue'][] = [];
    const trigger = async () => {
      const { processQueue } = await app.client.request(ProcessQueueDocument);
      statuses.push(processQueue);
    };
    const work: Array<Promise<unknown>> = [];
    for (let i = 0; i < Math.max(RUNS, TRIGGERS); i++) {
      if (i < RUNS) work.push(createRun(app, project.id, { workflowName: 'quick' }, `goal ${i}`));
      if (i < TRIGGERS) work.push(trigger());
    }
    await Promise.all(work);
    // More triggers while the runs are executing.
    await Promise.all(Array.from({ length: TRIGGERS }, trigger));

    const runs = await waitFor(
      async () => {
        const { runs: list } = await app.client.request(RunsDocument, { projectId: project.id, first: 100 });
        return list.length === RUNS && list.every((r) => r.status === 'COMPLETED' || r.status === 'FAILED') ? list : undefined;
      },
      { timeoutMs: 25_000, what: 'every run to end' },
    );
    expect(runs.map((r) => [r.id, r.status, r.error])).toEqual(runs.map((r) => [r.id, 'COMPLETED', null]));

    for (const run of runs) {
      const events = await queryEvents(app, run.id);
      expectGaplessSeqs(events);
      expect(ofType(events, 'RUN_QUEUED'), `run ${run.id}`).toHaveLength(1);
      expect(ofType(events, 'WORKFLOW_LOOKUP'), `run ${run.id}`).toHaveLength(1);
      expect(ofType(events, 'WORKFLOW_STARTED'), `run ${run.id}`).toHaveLength(1);
      expect(ofType(events, 'WORKFLOW_COMPLETED'), `run ${run.id}`).toHaveLength(1);
      const started = ofType(events, 'STEP_STARTED');
      expect(started.map((e) => [e.stepName, (e.data as { attempt: number }).attempt]), `run ${run.id}`).toEqual([
        ['write', 1],
        ['copy', 1],
      ]);
      expect(run.steps.map((s) => [s.name, s.status, s.attempt])).toEqual([
        ['write', 'COMPLETED', 1],
        ['copy', 'COMPLETED', 1],
      ]);
    }
    // Every run went QUEUED → RUNNING → COMPLETED, announced once each and in that order.
    await waitFor(() => runs.every((run) => updates.statusesOf(run.id).length === 3), { what: 'every runUpdated' });
    for (const run of runs) expect(updates.statusesOf(run.id), `run ${run.id}`).toEqual(['QUEUED', 'RUNNING', 'COMPLETED']);
    await updates.close();
    // The worker never held more runs than its concurrency.
    for (const status of statuses) expect(status.activeRunIds.length).toBeLessThanOrEqual(4);
    const { worker } = await app.client.request(WorkerDocument);
    expect(worker).toMatchObject({ enabled: true, concurrency: 4, queued: 0, activeRunIds: [] });
  });

  it('starts a new run at once, without waiting for the poll', async () => {
    t = await startTestApp({ workerCheckIntervalSeconds: 600 }, { workflows: workflows() });
    const { worker } = await t.client.request(WorkerDocument);
    expect(worker).toMatchObject({ enabled: true, checkIntervalSeconds: 600 });
    const project = await createProject(t);
    const run = await createRun(t, project.id, { workflowName: 'quick' });
    // Far sooner than the 600 s poll: the run's creation itself woke the worker.
    const started = await untilEvent(t.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 }), 'WORKFLOW_STARTED', 10_000);
    expect(started.runId).toBe(run.id);
    await waitFor(async () => (await getRun(t!, run.id)).status === 'COMPLETED', { what: 'the run to complete' });
  });

  it('with DISABLE_WORKER, runs stay queued until processQueue claims them', async () => {
    t = await startTestApp({ disableWorker: true, workerConcurrency: 2, workerCheckIntervalSeconds: 0.05 }, { workflows: workflows() });
    const app = t;
    const project = await createProject(app);
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await createRun(app, project.id, { workflowName: 'quick' }, `goal ${i}`));
    expect(runs.map((r) => r.status)).toEqual(['QUEUED', 'QUEUED', 'QUEUED']);

    // Several poll intervals pass: nothing picks them up by itself.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const run of runs) {
      expect((await getRun(app, run.id)).status).toBe('QUEUED');
      expect((await queryEvents(app, run.id)).map((e) => e.type)).toEqual(['RUN_QUEUED']);
    }
    const before = (await app.client.request(WorkerDocument)).worker;
    expect(before).toMatchObject({ enabled: false, concurrency: 2, queued: 3, activeRunIds: [], checkIntervalSeconds: 0.05 });

    // The manual trigger claims the two oldest, up to the concurrency.
    const { processQueue } = await app.client.request(ProcessQueueDocument);
    expect(processQueue.enabled).toBe(false);
    expect(processQueue.concurrency).toBe(2);
    expect(processQueue.queued).toBe(1);
    expect(processQueue.lastCheckAt).not.toBeNull();
    expect([...processQueue.activeRunIds].sort()).toEqual([runs[0].id, runs[1].id].sort());
    for (const run of runs.slice(0, 2)) {
      const events = await streamToEnd(app, run.id);
      expect(events.at(-1)?.type).toBe('WORKFLOW_COMPLETED');
      expect((await getRun(app, run.id)).status).toBe('COMPLETED');
    }

    // A run finishing does not wake a disabled worker: the third is still waiting.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await getRun(app, runs[2].id)).status).toBe('QUEUED');
    expect((await app.client.request(WorkerDocument)).worker).toMatchObject({ queued: 1, activeRunIds: [] });

    await app.client.request(ProcessQueueDocument);
    const events = await streamToEnd(app, runs[2].id);
    expect(events.map((e) => e.type)).toEqual(['RUN_QUEUED', 'WORKFLOW_LOOKUP', 'WORKFLOW_STARTED', 'STEP_STARTED', 'STEP_COMPLETED', 'STEP_STARTED', 'STEP_COMPLETED', 'WORKFLOW_COMPLETED']);
    expect(readFileSync(join(project.path, 'copy.txt'), 'utf8')).toMatch(/^goal \d\n$/);
    expect((await app.client.request(WorkerDocument)).worker).toMatchObject({ enabled: false, queued: 0, activeRunIds: [] });
  });
});

/** The first event of `type` on the subscription (which is then closed); fails after `timeoutMs`. */
async function untilEvent(subscription: Subscription<RunEventsSubscription>, type: string, timeoutMs: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${type} event within ${timeoutMs} ms`)), timeoutMs);
  });
  const search = (async () => {
    for await (const { runEvents } of subscription) if (runEvents.type === type) return runEvents;
    throw new Error(`the stream ended without a ${type} event`);
  })();
  try {
    return await Promise.race([search, timeout]);
  } finally {
    clearTimeout(timer);
    subscription.close();
  }
}
