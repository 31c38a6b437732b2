/**
 * pauseRun / resumeRun through the real server: a pause asked for while a slow LLM step streams
 * takes effect at the next step boundary (the run stays RUNNING with `pauseRequested` until then),
 * the paused run holds no worker slot, and resume continues with the next step; the event log has
 * no gap and no step starts twice. Also: resume cancelling a pending pause, and stopping a paused run.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PauseRunDocument, ProcessQueueDocument, ResumeRunDocument, StopRunDocument } from '../../src/client/generated/graphql.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import {
  PLANNER_MODEL,
  collapsedTypes,
  createProject,
  createRun,
  expectGaplessSeqs,
  ofType,
  queryEvents,
  streamToEnd,
  testWorkflow,
  watchRunUpdates,
} from '../workflow/support.js';
import { activeRunIds, controlRun, isType, startsPerStep, waitForEvent, waitForRun, waitForStatus } from './support.js';

/** About 16 × 200 ms of streaming: long enough to ask for a pause while it runs, on a slow machine too. */
const SLOW_TOKENS = Array.from({ length: 16 }, (_, i) => `token-${i} `);
const SLOW_TEXT = SLOW_TOKENS.join('');

const planThenWrite = testWorkflow('plan-then-write', [
  { name: 'planner', type: 'LLM_GENERATE', model: PLANNER_MODEL, prompt: 'Plan: {goal}', outputFile: 'PLAN.md', saveArtifact: true },
  // Needs the planner's output: after a pause it must come from the stored step record.
  { name: 'write', type: 'FILE_WRITE', contentFrom: 'planner', outputFile: 'copy.md', saveArtifact: true },
]);
const quick = testWorkflow('quick', [{ name: 'only', type: 'FILE_WRITE', content: 'quick {goal}', outputFile: 'quick.txt' }]);

describe('pause and resume', () => {
  let fake: FakeOllama;
  let t: TestApp | undefined;

  beforeAll(async () => {
    fake = await startFakeOllama({ models: [PLANNER_MODEL] });
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
    fake.script(PLANNER_MODEL, { tokens: SLOW_TOKENS, tokenDelayMs: 200 });
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function start() {
    t = await startTestApp(
      { ollamaBaseUrl: fake.url, streamCoalesceMs: 20, workerConcurrency: 1 },
      { workflows: [planThenWrite, quick] },
    );
    return t;
  }

  it('takes effect at the step boundary, holds no worker slot, and resume continues with the next step', async () => {
    const app = await start();
    const project = await createProject(app);
    const updates = await watchRunUpdates(app, project.id);
    const created = await createRun(app, project.id, { workflowName: 'plan-then-write' });
    // A subscriber from the start follows the run through the pause to its real end.
    const wholeStream = streamToEnd(app, created.id, 60_000);

    await waitForEvent(app, created.id, isType('LLM_GENERATING'), 'the planner to start generating');
    const { pauseRun } = await app.client.request(PauseRunDocument, { id: created.id });
    // Not paused yet: the step goes on, and the run says a pause is pending.
    expect(pauseRun.status).toBe('RUNNING');
    expect(pauseRun.pauseRequested).toBe(true);
    expect(await activeRunIds(app)).toContain(created.id);
    const pending = await controlRun(app, created.id);
    expect(pending.status).toBe('RUNNING');
    expect(pending.pauseRequested).toBe(true);
    expect(pending.steps.map((s) => s.status)).toEqual(['RUNNING', 'PENDING']);
    // Asking twice is harmless.
    expect((await app.client.request(PauseRunDocument, { id: created.id })).pauseRun.pauseRequested).toBe(true);

    const paused = await waitForStatus(app, created.id, 'PAUSED');
    expect(paused.pauseRequested).toBe(false);
    // The running step finished normally; the next one did not start.
    expect(paused.steps.map((s) => [s.name, s.status, s.attempt])).toEqual([
      ['planner', 'COMPLETED', 1],
      ['write', 'PENDING', 0],
    ]);
    expect(paused.steps[1].startedAt).toBeNull();
    expect(readFileSync(join(project.path, 'PLAN.md'), 'utf8')).toBe(SLOW_TEXT);
    expect(existsSync(join(project.path, 'copy.md'))).toBe(false);
    const pausedEvent = await waitForEvent(app, created.id, isType('RUN_PAUSED'), 'RUN_PAUSED');
    expect(pausedEvent.message).toContain('step 1/2 (planner)');
    expect(pausedEvent.message).toContain('step 2/2 (write)');
    expect(pausedEvent.data).toMatchObject({ nextStep: 'write' });
    let events = await queryEvents(app, created.id);
    expect(events.at(-1)?.type).toBe('RUN_PAUSED');
    expect(startsPerStep(events)).toEqual({ planner: 1 });
    expect(ofType(events, 'STEP_COMPLETED').map((e) => e.stepName)).toEqual(['planner']);

    // It holds no worker slot: with a concurrency of 1, another run starts and completes meanwhile.
    await waitFor(async () => !(await activeRunIds(app)).includes(created.id), { what: 'the paused run to leave its slot' });
    const other = await createRun(app, project.id, { workflowName: 'quick' }, 'other');
    await waitForStatus(app, other.id, 'COMPLETED');
    // Nothing picks the paused run up by itself, not even a manual trigger.
    const { processQueue } = await app.client.request(ProcessQueueDocument);
    expect(processQueue.activeRunIds).not.toContain(created.id);
    expect((await controlRun(app, created.id)).status).toBe('PAUSED');
    // Pausing a paused run is harmless: it stays paused, nothing is recorded.
    const again = await app.client.request(PauseRunDocument, { id: created.id });
    expect(again.pauseRun.status).toBe('PAUSED');
    expect((await queryEvents(app, created.id)).length).toBe(events.length);

    // A subscriber joining while the run is paused replays the log and waits: the run has not ended.
    const joinedWhilePaused = streamToEnd(app, created.id, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const { resumeRun } = await app.client.request(ResumeRunDocument, { id: created.id });
    expect(['QUEUED', 'RUNNING', 'COMPLETED']).toContain(resumeRun.status);
    expect(resumeRun.pauseRequested).toBe(false);

    const streamed = await wholeStream;
    const run = await waitForStatus(app, created.id, 'COMPLETED');
    events = await queryEvents(app, created.id);
    expect(streamed).toEqual(events);
    expect(await joinedWhilePaused).toEqual(events);
    expectGaplessSeqs(events);
    expect(events.at(-1)?.type).toBe('WORKFLOW_COMPLETED');
    expect(startsPerStep(events)).toEqual({ planner: 1, write: 1 });
    expect(ofType(events, 'RUN_PAUSED')).toHaveLength(1);
    expect(ofType(events, 'RUN_RESUMED')).toHaveLength(1);
    expect(ofType(events, 'RUN_RESUMED')[0].message).toContain('step 2/2 (write)');
    expect(ofType(events, 'WORKFLOW_COMPLETED')).toHaveLength(1);
    // The run was picked up again after RUN_RESUMED and continued with step 2.
    const types = collapsedTypes(events);
    const resumedAt = types.indexOf('RUN_RESUMED');
    expect(types.slice(resumedAt)).toEqual(['RUN_RESUMED', 'WORKFLOW_LOOKUP', 'WORKFLOW_STARTED', 'STEP_STARTED', 'ARTIFACT_CREATED', 'STEP_COMPLETED', 'WORKFLOW_COMPLETED']);
    const continued = ofType(events, 'WORKFLOW_STARTED')[1];
    expect(continued.message).toMatch(/^Continuing workflow plan-then-write .* from step 2\/2 \(write\)/);
    expect(continued.data).toMatchObject({ fromStep: 'write' });
    expect(ofType(events, 'STEP_STARTED').map((e) => e.seq)).toEqual([...ofType(events, 'STEP_STARTED').map((e) => e.seq)].sort((a, b) => a - b));
    expect(events.findIndex(isType('STEP_STARTED', 'write'))).toBeGreaterThan(events.findIndex(isType('RUN_RESUMED')));

    // The second step used the first one's output, kept across the pause.
    expect(readFileSync(join(project.path, 'copy.md'), 'utf8')).toBe(SLOW_TEXT);
    expect(run.steps.map((s) => [s.name, s.status, s.attempt])).toEqual([
      ['planner', 'COMPLETED', 1],
      ['write', 'COMPLETED', 1],
    ]);
    expect(run.artifacts.map((a) => a.path)).toEqual(['PLAN.md', 'copy.md']);
    // One model request: the planner was not asked again after the pause.
    expect(fake.requests.filter((r) => r.path === '/api/generate')).toHaveLength(1);

    await waitFor(() => updates.statusesOf(created.id).at(-1) === 'COMPLETED', { what: 'the last runUpdated' });
    expect(updates.statusesOf(created.id)).toEqual(['QUEUED', 'RUNNING', 'PAUSED', 'QUEUED', 'RUNNING', 'COMPLETED']);
    await updates.close();
    expect(await activeRunIds(app)).toEqual([]);
  });

  it('resume before the boundary cancels the pending pause: the run never pauses', async () => {
    const app = await start();
    const project = await createProject(app);
    const created = await createRun(app, project.id, { workflowName: 'plan-then-write' });
    await waitForEvent(app, created.id, isType('LLM_GENERATING'), 'the planner to start generating');

    const { pauseRun } = await app.client.request(PauseRunDocument, { id: created.id });
    expect(pauseRun.pauseRequested).toBe(true);
    const { resumeRun } = await app.client.request(ResumeRunDocument, { id: created.id });
    expect(resumeRun.status).toBe('RUNNING');
    expect(resumeRun.pauseRequested).toBe(false);
    expect((await controlRun(app, created.id)).pauseRequested).toBe(false);

    const events = await streamToEnd(app, created.id, 60_000);
    expect(events.at(-1)?.type).toBe('WORKFLOW_COMPLETED');
    expectGaplessSeqs(events);
    expect(ofType(events, 'RUN_PAUSED')).toHaveLength(0);
    const [cancelled] = ofType(events, 'RUN_RESUMED');
    expect(cancelled.message).toMatch(/pause/i);
    expect(ofType(events, 'WORKFLOW_STARTED')).toHaveLength(1);
    expect(startsPerStep(events)).toEqual({ planner: 1, write: 1 });
    expect((await controlRun(app, created.id)).status).toBe('COMPLETED');
  });

  it('a paused run can be stopped: STOPPED with RUN_STOPPED, its next step SKIPPED, never picked up again', async () => {
    const app = await start();
    const project = await createProject(app);
    const created = await createRun(app, project.id, { workflowName: 'plan-then-write' });
    await waitForEvent(app, created.id, isType('LLM_GENERATING'), 'the planner to start generating');
    await app.client.request(PauseRunDocument, { id: created.id });
    await waitForStatus(app, created.id, 'PAUSED');
    await waitForEvent(app, created.id, isType('RUN_PAUSED'), 'RUN_PAUSED');

    const { stopRun } = await app.client.request(StopRunDocument, { id: created.id });
    expect(stopRun.status).toBe('STOPPED');
    expect(stopRun.finishedAt).not.toBeNull();
    expect(stopRun.steps.map((s) => [s.name, s.status])).toEqual([
      ['planner', 'COMPLETED'],
      ['write', 'SKIPPED'],
    ]);
    const events = await queryEvents(app, created.id);
    expectGaplessSeqs(events);
    expect(events.slice(-2).map((e) => e.type)).toEqual(['RUN_PAUSED', 'RUN_STOPPED']);
    expect(events.at(-1)?.message).toMatch(/paused/);
    // A subscriber from the start replays the log and ends at RUN_STOPPED.
    expect(await streamToEnd(app, created.id)).toEqual(events);

    // Resuming a stopped run is refused; a manual trigger does not pick it up.
    await expect(app.client.request(ResumeRunDocument, { id: created.id })).rejects.toThrow(/STOPPED/);
    await app.client.request(ProcessQueueDocument);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = await waitForRun(app, created.id, (r) => r.status === 'STOPPED', 'the run to stay STOPPED');
    expect(after.steps.map((s) => s.status)).toEqual(['COMPLETED', 'SKIPPED']);
    expect(await queryEvents(app, created.id)).toEqual(events);
    expect(existsSync(join(project.path, 'copy.md'))).toBe(false);
  });
});
