/**
 * Run control racing the end of a run's execution. A run leaves its worker slot only after its last
 * event is stored; resumeRun or retryRun arriving before that (a slow disk, a busy event log) must
 * not confuse the worker: the run executed again is still known to the worker, so it can be
 * stopped or paused, and shows in `activeRunIds`.
 *
 * The event log's append is wrapped to hold the run's last event of an execution (RUN_PAUSED /
 * WORKFLOW_FAILED) until the resume or retry has been claimed, which makes the interleaving certain.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PauseRunDocument, StopRunDocument } from '../../src/client/generated/graphql.js';
import type { EventRecord, NewEvent } from '../../src/engine/types.js';
import { resumeRun as resumeRunService, retryRun as retryRunService } from '../../src/services/run-control.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { createProject, createRun, expectGaplessSeqs, ofType, queryEvents, testWorkflow } from '../workflow/support.js';
import { activeRunIds, controlRun, isType, waitForEvent, waitForStatus } from './support.js';

/** Steps 1 and 3 wait for a file, so the test decides when they end; step 2 fails unless `ok` exists. */
const gated = testWorkflow('gated', [
  { name: 'first', type: 'SHELL_COMMAND', command: 'while [ ! -f go1 ]; do sleep 0.05; done' },
  { name: 'second', type: 'SHELL_COMMAND', command: 'test -f ok' },
  { name: 'third', type: 'SHELL_COMMAND', command: 'while [ ! -f go3 ]; do sleep 0.05; done' },
]);

describe('run control racing the end of an execution', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  /** Holds the append of `type` for `runId` until `whileHeld` is done (once). */
  function holdEvent(app: TestApp, runId: number, type: string, whileHeld: () => Promise<unknown>): () => void {
    const { eventLog } = app.app.services;
    const realAppend = eventLog.append.bind(eventLog);
    let held = false;
    eventLog.append = async (id: number, event: NewEvent): Promise<EventRecord> => {
      if (id === runId && event.type === type && !held) {
        held = true;
        const record = await realAppend(id, event);
        await whileHeld();
        return record;
      }
      return realAppend(id, event);
    };
    return () => {
      eventLog.append = realAppend;
    };
  }

  async function start() {
    t = await startTestApp({ streamCoalesceMs: 20, killGraceMs: 200, workerConcurrency: 2 }, { workflows: [gated] });
    return t;
  }

  /** The run executed again is known to the worker: it shows as active, and pause and stop reach it. */
  async function expectControllable(app: TestApp, runId: string, path: string): Promise<void> {
    try {
      expect((await controlRun(app, runId)).status).toBe('RUNNING');
      expect(await activeRunIds(app)).toEqual([runId]);
      const paused = await app.client.request(PauseRunDocument, { id: runId }).then(
        (r) => r.pauseRun.pauseRequested,
        (error: Error) => error.message,
      );
      expect(paused).toBe(true);
      const stopped = await app.client.request(StopRunDocument, { id: runId }).then(
        (r) => r.stopRun.status,
        (error: Error) => error.message,
      );
      expect(stopped).toBe('STOPPED');
      const run = await controlRun(app, runId);
      expect(run.steps.map((s) => s.status)).toEqual(['COMPLETED', 'COMPLETED', 'STOPPED']);
      const events = await queryEvents(app, runId);
      expectGaplessSeqs(events);
      expect(events.at(-1)?.type).toBe('RUN_STOPPED');
      expect(await activeRunIds(app)).toEqual([]);
    } finally {
      // Let a run the stop did not reach finish, so the app can close.
      writeFileSync(join(path, 'go3'), '');
    }
  }

  it('a run resumed before its paused execution has let go of the slot is still under control', async () => {
    const app = await start();
    const project = await createProject(app);
    const created = await createRun(app, project.id, { workflowName: 'gated' });
    const runId = Number(created.id);
    await waitForEvent(app, created.id, isType('SHELL_EXECUTING', 'first'), 'the first step to run');
    writeFileSync(join(project.path, 'ok'), '');
    await app.client.request(PauseRunDocument, { id: created.id });

    let resuming: Promise<unknown> | undefined;
    const restore = holdEvent(app, runId, 'RUN_PAUSED', async () => {
      // RUN_PAUSED is stored and the status is PAUSED; before the paused execution returns, the
      // run is resumed, and the worker has every chance to claim it again.
      resuming = resumeRunService(app.app.services, runId);
      resuming.catch(() => undefined);
      await waitForEvent(app, created.id, isType('SHELL_EXECUTING', 'third'), 'the resumed run to reach step 3', 1_000).catch(() => undefined);
    });
    try {
      writeFileSync(join(project.path, 'go1'), '');
      await waitFor(() => resuming, { what: 'the resume' });
      await waitForEvent(app, created.id, isType('SHELL_EXECUTING', 'third'), 'the resumed run to reach step 3');
    } finally {
      restore();
    }
    await resuming;
    const events = await queryEvents(app, created.id);
    expect(ofType(events, 'RUN_PAUSED')).toHaveLength(1);
    expect(ofType(events, 'RUN_RESUMED')).toHaveLength(1);
    expect(events.findIndex(isType('RUN_RESUMED'))).toBeGreaterThan(events.findIndex(isType('RUN_PAUSED')));
    await expectControllable(app, created.id, project.path);
  });

  it('a run retried before its failed execution has let go of the slot is still under control', async () => {
    const app = await start();
    const project = await createProject(app);
    const created = await createRun(app, project.id, { workflowName: 'gated' });
    const runId = Number(created.id);
    await waitForEvent(app, created.id, isType('SHELL_EXECUTING', 'first'), 'the first step to run');

    let retrying: Promise<unknown> | undefined;
    const restore = holdEvent(app, runId, 'WORKFLOW_FAILED', async () => {
      // WORKFLOW_FAILED is stored and the status is FAILED; before the failed execution returns,
      // the run is retried, and the worker has every chance to claim it again.
      writeFileSync(join(project.path, 'ok'), '');
      retrying = retryRunService(app.app.services, runId, null);
      retrying.catch(() => undefined);
      await waitForEvent(app, created.id, isType('SHELL_EXECUTING', 'third'), 'the retried run to reach step 3', 1_000).catch(() => undefined);
    });
    try {
      // Step 2 fails (no `ok` yet): the run fails, and is retried while its execution is still ending.
      writeFileSync(join(project.path, 'go1'), '');
      await waitFor(() => retrying, { what: 'the retry' });
      await waitForEvent(app, created.id, isType('SHELL_EXECUTING', 'third'), 'the retried run to reach step 3');
    } finally {
      restore();
    }
    await retrying;
    const events = await queryEvents(app, created.id);
    const failedAt = events.findIndex(isType('WORKFLOW_FAILED'));
    const requeuedAt = events.findIndex((e) => e.type === 'RUN_QUEUED' && (e.data as { retry?: boolean } | null)?.retry === true);
    expect(failedAt).toBeGreaterThan(0);
    expect(requeuedAt).toBeGreaterThan(failedAt);
    await expectControllable(app, created.id, project.path);
  });

  // Once the runner has decided to pause, the pause can no longer be cancelled: a resume arriving
  // while PAUSED is being written waits until the run has paused, then resumes it.
  it('a resume arriving while the pause is being written still lets the run go on', async () => {
    const app = await start();
    const project = await createProject(app);
    writeFileSync(join(project.path, 'ok'), '');
    writeFileSync(join(project.path, 'go3'), '');
    const created = await createRun(app, project.id, { workflowName: 'gated' });
    const runId = Number(created.id);
    await waitForEvent(app, created.id, isType('SHELL_EXECUTING', 'first'), 'the first step to run');
    await app.client.request(PauseRunDocument, { id: created.id });

    // The runner has decided to pause; while PAUSED is being written, the resume arrives.
    const { services } = app.app;
    let resuming: Promise<unknown> | undefined;
    const realTransition = services.store.transitionRun.bind(services.store);
    services.store.transitionRun = async (id, from, patch) => {
      if (id === runId && patch.status === 'PAUSED' && !resuming) {
        resuming = resumeRunService(services, runId);
        // Let the resume look at the run (RUNNING, pausing) before PAUSED is written.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return realTransition(id, from, patch);
    };
    try {
      writeFileSync(join(project.path, 'go1'), '');
      await waitFor(() => resuming, { what: 'the resume' });
    } finally {
      services.store.transitionRun = realTransition;
    }
    // Without a second resume, the run goes on to the end.
    const run = await waitForStatus(app, created.id, 'COMPLETED', 10_000);
    expect(run.steps.map((s) => s.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    const events = await queryEvents(app, created.id);
    expectGaplessSeqs(events);
    // If RUN_PAUSED was recorded, a RUN_RESUMED follows it.
    const pausedAt = events.findIndex(isType('RUN_PAUSED'));
    if (pausedAt >= 0) expect(events.slice(pausedAt).some(isType('RUN_RESUMED'))).toBe(true);
  });
});
