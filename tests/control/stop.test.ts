/**
 * stopRun through the real server. Stop takes effect at once and returns the run already STOPPED:
 * during an LLM step the model stream is closed (the fake Ollama sees the disconnect); during a
 * shell step the command's whole process group is killed, a background grandchild included, and
 * one that ignores SIGTERM is SIGKILLed after the grace period; during a retry's backoff the wait
 * ends at once. The step cut off ends STOPPED, later steps SKIPPED and never started, RUN_STOPPED
 * is the last event. A queued run that is stopped never starts. A stop arriving just as a pending
 * pause takes effect still ends the run STOPPED.
 */
import { randomInt } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PauseRunDocument, ProcessQueueDocument, StopRunDocument } from '../../src/client/generated/graphql.js';
import type { RunRecord } from '../../src/engine/types.js';
import { stopRun as stopRunService } from '../../src/services/run-control.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import {
  PLANNER_MODEL,
  createProject,
  createRun,
  expectGaplessSeqs,
  ofType,
  queryEvents,
  streamToEnd,
  testWorkflow,
  watchRunUpdates,
} from '../workflow/support.js';
import { activeRunIds, controlRun, isType, liveProcesses, waitForEvent, waitForStatus, type ControlRun } from './support.js';

const llmThenMore = testWorkflow('llm-then-more', [
  { name: 'planner', type: 'LLM_GENERATE', model: PLANNER_MODEL, prompt: 'Plan: {goal}', outputFile: 'PLAN.md', saveArtifact: true },
  { name: 'write', type: 'FILE_WRITE', content: 'never', outputFile: 'never.txt' },
  { name: 'shell', type: 'SHELL_COMMAND', command: 'echo never > never-shell.txt' },
]);

/** The shape every stopped-while-running run has: the cut-off step STOPPED, the rest SKIPPED and never started. */
function expectStoppedAt(run: ControlRun, events: ReadonlyArray<{ type: string; stepName?: string | null; seq: number; message: string }>, stepName: string): void {
  expect(run.status).toBe('STOPPED');
  expect(run.finishedAt).not.toBeNull();
  expect(run.error).toBeNull();
  const index = run.steps.findIndex((s) => s.name === stepName);
  run.steps.forEach((step, i) => {
    if (i < index) expect(step.status, step.name).toBe('COMPLETED');
    if (i === index) {
      expect(step.status).toBe('STOPPED');
      expect(step.finishedAt).not.toBeNull();
      expect(step.error).toMatch(/stopped/i);
    }
    if (i > index) {
      expect([step.name, step.status, step.attempt, step.startedAt]).toEqual([step.name, 'SKIPPED', 0, null]);
    }
  });
  expectGaplessSeqs(events);
  expect(events.at(-1)?.type).toBe('RUN_STOPPED');
  expect(ofType(events, 'RUN_STOPPED')).toHaveLength(1);
  expect(events.at(-1)?.message).toContain(`(${stepName})`);
  for (const type of ['STEP_FAILED', 'STEP_COMPLETED', 'WORKFLOW_FAILED', 'WORKFLOW_COMPLETED']) {
    expect(events.filter((e) => e.type === type && e.stepName === stepName), type).toHaveLength(0);
  }
  expect(ofType(events, 'WORKFLOW_FAILED')).toHaveLength(0);
  expect(ofType(events, 'WORKFLOW_COMPLETED')).toHaveLength(0);
  // Nothing after the stopped step ever started.
  expect(ofType(events, 'STEP_STARTED').map((e) => e.stepName)).toEqual(run.steps.slice(0, index + 1).map((s) => s.name));
}

describe('stop', () => {
  let fake: FakeOllama;
  let t: TestApp | undefined;

  beforeAll(async () => {
    fake = await startFakeOllama({ models: [PLANNER_MODEL] });
  });
  afterAll(() => fake.close());
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function start(overrides: Parameters<typeof startTestApp>[0] = {}, more: Parameters<typeof testWorkflow>[] = []) {
    t = await startTestApp(
      { ollamaBaseUrl: fake.url, streamCoalesceMs: 20, killGraceMs: 300, ...overrides },
      { workflows: [llmThenMore, ...more.map((args) => testWorkflow(...args))] },
    );
    return t;
  }

  describe('during an LLM step', () => {
    it('while tokens stream: the stream is closed, the run STOPPED at once', async () => {
      fake.script(PLANNER_MODEL, { tokens: Array.from({ length: 200 }, (_, i) => `t${i} `), tokenDelayMs: 250 });
      const app = await start();
      const project = await createProject(app);
      const updates = await watchRunUpdates(app, project.id);
      const created = await createRun(app, project.id, { workflowName: 'llm-then-more' });
      const stream = streamToEnd(app, created.id, 60_000);
      await waitForEvent(app, created.id, isType('LLM_TOKEN'), 'the first tokens');
      const disconnectsBefore = fake.disconnects;
      expect(fake.activeStreams()).toBe(1);

      const { stopRun } = await app.client.request(StopRunDocument, { id: created.id });
      // Returned already stopped, with RUN_STOPPED recorded and the worker slot free.
      expect(stopRun.status).toBe('STOPPED');
      expect(stopRun.steps.map((s) => s.status)).toEqual(['STOPPED', 'SKIPPED', 'SKIPPED']);
      expect((await queryEvents(app, created.id)).at(-1)?.type).toBe('RUN_STOPPED');
      expect(await activeRunIds(app)).toEqual([]);

      // The fake saw the client go away, and no request is left open.
      await fake.waitForDisconnects(disconnectsBefore + 1, 10_000);
      await waitFor(() => fake.activeStreams() === 0, { what: 'the fake to have no open stream' });

      const events = await stream;
      expect(events).toEqual(await queryEvents(app, created.id));
      const run = await controlRun(app, created.id);
      expectStoppedAt(run, events, 'planner');
      expect(events.at(-1)?.message).toContain('step 1/3 (planner)');
      expect(ofType(events, 'LLM_DONE')).toHaveLength(0);
      // The partial answer was not written as if it were complete; no later step wrote anything.
      expect(existsSync(join(project.path, 'PLAN.md'))).toBe(false);
      expect(existsSync(join(project.path, 'never.txt'))).toBe(false);
      expect(existsSync(join(project.path, 'never-shell.txt'))).toBe(false);
      expect(run.artifacts).toEqual([]);

      await waitFor(() => updates.statusesOf(created.id).at(-1) === 'STOPPED', { what: 'runUpdated STOPPED' });
      expect(updates.statusesOf(created.id)).toEqual(['QUEUED', 'RUNNING', 'STOPPED']);
      await updates.close();
    });

    it('while the model is still loading (no response headers yet): the request is cancelled', async () => {
      fake.script(PLANNER_MODEL, { stallBeforeHeaders: true });
      const app = await start();
      const project = await createProject(app);
      const created = await createRun(app, project.id, { workflowName: 'llm-then-more' });
      await waitForEvent(app, created.id, isType('LLM_LOADING_MODEL'), 'LLM_LOADING_MODEL');
      await waitFor(() => fake.activeStreams() === 1, { what: 'the request to reach the fake' });
      const disconnectsBefore = fake.disconnects;

      const { stopRun } = await app.client.request(StopRunDocument, { id: created.id });
      expect(stopRun.status).toBe('STOPPED');
      await fake.waitForDisconnects(disconnectsBefore + 1, 10_000);
      await waitFor(() => fake.activeStreams() === 0, { what: 'the fake to have no open stream' });

      const events = await queryEvents(app, created.id);
      expectStoppedAt(await controlRun(app, created.id), events, 'planner');
      expect(ofType(events, 'LLM_GENERATING')).toHaveLength(0);
    });
  });

  describe('during a shell step', () => {
    async function stopHangingCommand(command: (marker: string) => string) {
      // A duration no other process on the machine is likely to sleep for.
      const marker = `300.${randomInt(100_000, 999_999)}`;
      const app = await start({}, [['hang-' + marker, [
        { name: 'hang', type: 'SHELL_COMMAND', command: command(marker), saveArtifact: true },
        { name: 'after', type: 'SHELL_COMMAND', command: 'echo never > never.txt' },
      ]]]);
      const project = await createProject(app);
      const created = await createRun(app, project.id, { workflowName: `hang-${marker}` });

      // Both sleeps (the background grandchild and the foreground one) run, in one group of their own.
      const during = await waitFor(
        () => {
          const rows = liveProcesses({ marker: `sleep ${marker}` }).filter((row) => row.args.startsWith('sleep'));
          return rows.length >= 2 ? rows : undefined;
        },
        { timeoutMs: 15_000, what: 'the two sleep processes' },
      );
      const groups = new Set(during.map((row) => row.pgid));
      expect(groups.size).toBe(1);
      const pgid = [...groups][0];
      const ownGroup = Number(execFileSync('ps', ['-o', 'pgid=', '-p', String(process.pid)], { encoding: 'utf8' }).trim());
      expect(pgid).not.toBe(ownGroup);
      expect(liveProcesses({ pgid }).length).toBeGreaterThanOrEqual(2);

      const { stopRun } = await app.client.request(StopRunDocument, { id: created.id });
      expect(stopRun.status).toBe('STOPPED');
      // When stopRun returns, no process of the command's group is left: not the shells, not the sleeps.
      expect(liveProcesses({ pgid })).toEqual([]);
      expect(liveProcesses({ marker })).toEqual([]);

      const events = await queryEvents(app, created.id);
      expectStoppedAt(await controlRun(app, created.id), events, 'hang');
      expect(events.at(-1)?.message).toContain('step 1/2 (hang)');
      expect(existsSync(join(project.path, 'never.txt'))).toBe(false);
      return { app, created };
    }

    it('kills the command and its background grandchild', async () => {
      await stopHangingCommand((marker) => `sh -c 'sleep ${marker} & sleep ${marker}'`);
    });

    it('SIGKILLs what ignores SIGTERM once the grace period is over', async () => {
      // The inner shell and both sleeps ignore SIGTERM (an ignored signal stays ignored across exec).
      await stopHangingCommand((marker) => `sh -c 'trap "" TERM; sleep ${marker} & sleep ${marker}'`);
    });
  });

  it('during the wait between two attempts: the wait ends, the step is STOPPED, not FAILED', async () => {
    const app = await start({}, [['flaky-wait', [
      { name: 'fails', type: 'SHELL_COMMAND', command: 'exit 1', retry: { maxAttempts: 5, backoffSeconds: 120, backoffFactor: 1 } },
      { name: 'after', type: 'FILE_WRITE', content: 'never', outputFile: 'never.txt' },
    ]]]);
    const project = await createProject(app);
    const created = await createRun(app, project.id, { workflowName: 'flaky-wait' });
    const retrying = await waitForEvent(app, created.id, isType('STEP_RETRYING'), 'STEP_RETRYING');
    expect(retrying.data).toMatchObject({ attempt: 1, maxAttempts: 5, waitSeconds: 120 });

    const { stopRun } = await app.client.request(StopRunDocument, { id: created.id });
    expect(stopRun.status).toBe('STOPPED');
    const run = await controlRun(app, created.id);
    const events = await queryEvents(app, created.id);
    expectStoppedAt(run, events, 'fails');
    expect(run.steps[0].attempt).toBe(1);
    expect(ofType(events, 'STEP_STARTED')).toHaveLength(1);
  });

  describe('a queued run', () => {
    it('is STOPPED at once and never starts, even when the queue is processed', async () => {
      const app = await start({ disableWorker: true });
      const project = await createProject(app);
      const updates = await watchRunUpdates(app, project.id);
      const requestsBefore = fake.requests.length;
      const created = await createRun(app, project.id, { workflowName: 'llm-then-more' });
      expect(created.status).toBe('QUEUED');

      const { stopRun } = await app.client.request(StopRunDocument, { id: created.id });
      expect(stopRun.status).toBe('STOPPED');
      expect(stopRun.startedAt).toBeNull();
      expect(stopRun.finishedAt).not.toBeNull();
      expect(stopRun.steps.map((s) => [s.status, s.attempt, s.startedAt])).toEqual([
        ['SKIPPED', 0, null],
        ['SKIPPED', 0, null],
        ['SKIPPED', 0, null],
      ]);
      const events = await queryEvents(app, created.id);
      expect(events.map((e) => e.type)).toEqual(['RUN_QUEUED', 'RUN_STOPPED']);
      expect(events[1].message).toMatch(/before it started/);

      const { processQueue } = await app.client.request(ProcessQueueDocument);
      expect(processQueue.activeRunIds).toEqual([]);
      expect(processQueue.queued).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const run = await controlRun(app, created.id);
      expect(run.status).toBe('STOPPED');
      expect(run.startedAt).toBeNull();
      expect(await queryEvents(app, created.id)).toEqual(events);
      // A subscriber replays the two events and the stream ends.
      expect((await streamToEnd(app, created.id)).map((e) => e.seq)).toEqual([1, 2]);
      expect(fake.requests.length).toBe(requestsBefore);

      expect(updates.statusesOf(created.id)).toEqual(['QUEUED', 'STOPPED']);
      await updates.close();
    });
  });

  it('arriving just as a pending pause takes effect at the step boundary, still ends the run STOPPED', async () => {
    const app = await start({}, [['boundary', [
      { name: 'first', type: 'SHELL_COMMAND', command: 'while [ ! -f go ]; do sleep 0.05; done' },
      { name: 'second', type: 'SHELL_COMMAND', command: 'echo never > never.txt' },
    ]]]);
    const project = await createProject(app);
    const created = await createRun(app, project.id, { workflowName: 'boundary' });
    await waitForEvent(app, created.id, isType('SHELL_EXECUTING'), 'the first command to run');
    expect((await app.client.request(PauseRunDocument, { id: created.id })).pauseRun.pauseRequested).toBe(true);

    // The stop reads the run while it is still RUNNING and reaches the worker after the runner has
    // decided to pause, before PAUSED is written: the store's status change is held back briefly.
    const { services } = app.app;
    const runId = Number(created.id);
    let stopping: Promise<RunRecord> | undefined;
    const realTransition = services.store.transitionRun.bind(services.store);
    services.store.transitionRun = async (id, from, patch) => {
      if (id === runId && patch.status === 'PAUSED' && !stopping) {
        stopping = stopRunService(services, runId);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      return realTransition(id, from, patch);
    };
    try {
      execFileSync('touch', [join(project.path, 'go')]);
      // (waitFor awaits the promise it is handed: this is stopRun's result.)
      const stopped = await waitFor(() => stopping, { timeoutMs: 20_000, what: 'the stop request' });
      expect(stopped.status).toBe('STOPPED');
    } finally {
      services.store.transitionRun = realTransition;
    }
    const run = await waitForStatus(app, created.id, 'STOPPED', 5_000);
    expect(run.steps.map((s) => s.status)).toEqual(['COMPLETED', 'SKIPPED']);
    const events = await queryEvents(app, created.id);
    expectGaplessSeqs(events);
    expect(events.at(-1)?.type).toBe('RUN_STOPPED');
    expect(ofType(events, 'STEP_STARTED').map((e) => e.stepName)).toEqual(['first']);
    expect(await activeRunIds(app)).toEqual([]);
    expect(existsSync(join(project.path, 'never.txt'))).toBe(false);
  });
});
