/**
 * retryRun(id, fromStep) through the real server: a FAILED (or STOPPED) run goes back to the queue
 * (RUN_QUEUED with data.retry) and runs again from the first step that did not complete, or from
 * the step named; the steps before it keep their status, files and artifacts and do not start
 * again; the events continue the same seq numbering; a runEvents subscription from the start of a
 * retried run passes the old terminal event and completes at the new one.
 */
import { statSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RetryRunDocument, StopRunDocument } from '../../src/client/generated/graphql.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import {
  createProject,
  createRun,
  expectGaplessSeqs,
  ofType,
  queryEvents,
  streamToEnd,
  testWorkflow,
  watchRunUpdates,
} from '../workflow/support.js';
import { controlRun, expectRefused, isType, startsPerStep, waitForEvent, waitForStatus } from './support.js';

const writeThenCheck = testWorkflow('write-then-check', [
  { name: 'write', type: 'FILE_WRITE', content: 'A for {goal}', outputFile: 'a.txt', saveArtifact: true },
  { name: 'check', type: 'SHELL_COMMAND', command: 'echo checking; test -f ok', saveArtifact: true },
  { name: 'copy', type: 'FILE_WRITE', contentFrom: 'write', outputFile: 'copy.txt' },
]);
const gated = testWorkflow('gated', [
  { name: 'first', type: 'FILE_WRITE', content: 'first', outputFile: 'first.txt', saveArtifact: true },
  { name: 'wait', type: 'SHELL_COMMAND', command: 'while [ ! -f go ]; do sleep 0.05; done' },
]);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('retryRun', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function start(overrides: Parameters<typeof startTestApp>[0] = {}) {
    t = await startTestApp({ streamCoalesceMs: 20, killGraceMs: 200, ...overrides }, { workflows: [writeThenCheck, gated] });
    return t;
  }

  /** A write-then-check run that failed at `check` (no `ok` file). */
  async function failedRun(app: TestApp) {
    const project = await createProject(app);
    const created = await createRun(app, project.id, { workflowName: 'write-then-check' }, 'retry');
    const firstEvents = await streamToEnd(app, created.id);
    expect(firstEvents.at(-1)?.type).toBe('WORKFLOW_FAILED');
    const run = await controlRun(app, created.id);
    expect(run.status).toBe('FAILED');
    expect(run.steps.map((s) => s.status)).toEqual(['COMPLETED', 'FAILED', 'SKIPPED']);
    return { project, created, firstEvents, run };
  }

  it('from the failed step (the default): earlier steps and their files are kept, the log goes on', async () => {
    const app = await start();
    const { project, created, firstEvents, run: failed } = await failedRun(app);
    const updates = await watchRunUpdates(app, project.id);
    const aPath = join(project.path, 'a.txt');
    const aBefore = statSync(aPath);
    const writeArtifact = failed.artifacts.find((a) => a.path === 'a.txt')!;
    expect(failed.artifacts.map((a) => a.path)).toEqual(['a.txt', 'check_output.txt']);
    // Time passes, so a rewrite would show in the modification time.
    await sleep(50);

    writeFileSync(join(project.path, 'ok'), '');
    const { retryRun } = await app.client.request(RetryRunDocument, { id: created.id });
    expect(['QUEUED', 'RUNNING', 'COMPLETED']).toContain(retryRun.status);
    expect(retryRun.error).toBeNull();
    // The earlier step keeps its record.
    expect(retryRun.steps[0]).toEqual(failed.steps[0]);

    const run = await waitForStatus(app, created.id, 'COMPLETED');
    expect(run.error).toBeNull();
    expect(run.steps.map((s) => [s.name, s.status, s.attempt])).toEqual([
      ['write', 'COMPLETED', 1],
      ['check', 'COMPLETED', 1],
      ['copy', 'COMPLETED', 1],
    ]);
    expect(run.steps[0]).toEqual(failed.steps[0]);
    // a.txt was not written again; the step after the retried one still gets its output.
    const aAfter = statSync(aPath);
    expect(aAfter.mtimeMs).toBe(aBefore.mtimeMs);
    expect(aAfter.ino).toBe(aBefore.ino);
    expect(readFileSync(join(project.path, 'copy.txt'), 'utf8')).toBe('A for retry');
    // The earlier step's artifact is the same record; the retried step's is replaced, not doubled.
    expect(run.artifacts.map((a) => a.path)).toEqual(['a.txt', 'check_output.txt']);
    expect(run.artifacts.find((a) => a.path === 'a.txt')).toEqual(writeArtifact);

    // A subscriber from the start, after the retry completed: the whole log, past the old
    // WORKFLOW_FAILED, ending at the new WORKFLOW_COMPLETED.
    const events = await streamToEnd(app, created.id);
    expect(events).toEqual(await queryEvents(app, created.id));
    expectGaplessSeqs(events);
    expect(events.slice(0, firstEvents.length)).toEqual(firstEvents);
    expect(events.at(-1)?.type).toBe('WORKFLOW_COMPLETED');
    const oldEnd = events.findIndex(isType('WORKFLOW_FAILED'));
    expect(oldEnd).toBe(firstEvents.length - 1);
    const requeued = events[oldEnd + 1];
    expect(requeued.type).toBe('RUN_QUEUED');
    expect(requeued.data).toEqual({ retry: true, fromStep: 'check' });
    expect(requeued.message).toContain('step 2/3 (check)');
    expect(startsPerStep(events)).toEqual({ write: 1, check: 2, copy: 1 });
    const continued = ofType(events, 'WORKFLOW_STARTED')[1];
    expect(continued.message).toContain('from step 2/3 (check)');
    expect(ofType(events, 'STEP_STARTED').filter((e) => e.stepName === 'check').map((e) => (e.data as { attempt: number }).attempt)).toEqual([1, 1]);

    await waitFor(() => updates.statusesOf(created.id).at(-1) === 'COMPLETED', { what: 'runUpdated COMPLETED' });
    expect(updates.statusesOf(created.id)).toEqual(['QUEUED', 'RUNNING', 'COMPLETED']);
    await updates.close();

    // A completed run cannot be retried.
    await expectRefused(app.client.request(RetryRunDocument, { id: created.id }), 'CONFLICT', `Run ${created.id} is COMPLETED`);
    await expectRefused(app.client.request(RetryRunDocument, { id: created.id, fromStep: 'write' }), 'CONFLICT', 'COMPLETED');
  });

  it('a subscriber from the start, following along, ends at the new terminal event, not the old one', async () => {
    const app = await start();
    const { project, created } = await failedRun(app);
    writeFileSync(join(project.path, 'ok'), '');
    await app.client.request(RetryRunDocument, { id: created.id });
    const events = await streamToEnd(app, created.id);
    expect(events.at(-1)?.type).toBe('WORKFLOW_COMPLETED');
    expect(ofType(events, 'WORKFLOW_FAILED')).toHaveLength(1);
    expectGaplessSeqs(events);
    expect((await controlRun(app, created.id)).status).toBe('COMPLETED');
  });

  it('from an earlier step named in fromStep: that step and the later ones run again', async () => {
    const app = await start();
    const { project, created, run: failed } = await failedRun(app);
    const aBefore = statSync(join(project.path, 'a.txt'));
    await sleep(50);
    writeFileSync(join(project.path, 'ok'), '');

    const { retryRun } = await app.client.request(RetryRunDocument, { id: created.id, fromStep: 'write' });
    expect(retryRun.steps[0].name).toBe('write');
    const run = await waitForStatus(app, created.id, 'COMPLETED');
    expect(run.steps.map((s) => [s.status, s.attempt])).toEqual([
      ['COMPLETED', 1],
      ['COMPLETED', 1],
      ['COMPLETED', 1],
    ]);
    expect(Date.parse(run.steps[0].startedAt!)).toBeGreaterThan(Date.parse(failed.steps[0].startedAt!));
    expect(statSync(join(project.path, 'a.txt')).mtimeMs).toBeGreaterThan(aBefore.mtimeMs);
    const events = await queryEvents(app, created.id);
    expectGaplessSeqs(events);
    expect(startsPerStep(events)).toEqual({ write: 2, check: 2, copy: 1 });
    expect(events.find((e) => e.type === 'RUN_QUEUED' && e.seq > 1)?.data).toEqual({ retry: true, fromStep: 'write' });
    expect(ofType(events, 'WORKFLOW_STARTED')[1].message).toMatch(/^Starting workflow/);
    // One artifact per path, not one per execution.
    expect(run.artifacts.map((a) => a.path).sort()).toEqual(['a.txt', 'check_output.txt']);
  });

  it('two retries at once: one requeues the run, the other is a CONFLICT; one RUN_QUEUED', async () => {
    const app = await start({ disableWorker: true });
    const project = await createProject(app);
    const created = await createRun(app, project.id, { workflowName: 'write-then-check' });
    await app.client.request(StopRunDocument, { id: created.id });
    const results = await Promise.allSettled([
      app.client.request(RetryRunDocument, { id: created.id }),
      app.client.request(RetryRunDocument, { id: created.id }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const [refused] = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    await expectRefused(Promise.reject(refused.reason), 'CONFLICT', `Run ${created.id} is QUEUED`);
    const events = await queryEvents(app, created.id);
    expectGaplessSeqs(events);
    expect(events.map((e) => e.type)).toEqual(['RUN_QUEUED', 'RUN_STOPPED', 'RUN_QUEUED']);
    expect((await controlRun(app, created.id)).status).toBe('QUEUED');
  });

  it('refuses an unknown step, and a step after one that did not complete (BAD_USER_INPUT), changing nothing', async () => {
    const app = await start({ disableWorker: true });
    const project = await createProject(app);
    // A run stopped before it started: no step completed.
    const created = await createRun(app, project.id, { workflowName: 'write-then-check' });
    await app.client.request(StopRunDocument, { id: created.id });
    const before = { run: await controlRun(app, created.id), events: await queryEvents(app, created.id) };

    await expectRefused(app.client.request(RetryRunDocument, { id: created.id, fromStep: 'nope' }), 'BAD_USER_INPUT', 'fromStep', '"nope"', 'write, check, copy');
    await expectRefused(app.client.request(RetryRunDocument, { id: created.id, fromStep: 'check' }), 'BAD_USER_INPUT', 'fromStep', '"write"');
    expect({ run: await controlRun(app, created.id), events: await queryEvents(app, created.id) }).toEqual(before);

    // From the first step it is fine: the stopped run goes back to the queue.
    const { retryRun } = await app.client.request(RetryRunDocument, { id: created.id, fromStep: 'write' });
    expect(retryRun.status).toBe('QUEUED');
    expect(retryRun.steps.map((s) => s.status)).toEqual(['PENDING', 'PENDING', 'PENDING']);
  });

  it('a run stopped in the middle: retried from the stopped step, the completed one is kept', async () => {
    const app = await start();
    const project = await createProject(app);
    const created = await createRun(app, project.id, { workflowName: 'gated' });
    await waitForEvent(app, created.id, isType('SHELL_EXECUTING', 'wait'), 'the gate step to run');
    const { stopRun } = await app.client.request(StopRunDocument, { id: created.id });
    expect(stopRun.steps.map((s) => s.status)).toEqual(['COMPLETED', 'STOPPED']);
    const firstMtime = statSync(join(project.path, 'first.txt')).mtimeMs;

    writeFileSync(join(project.path, 'go'), '');
    const { retryRun } = await app.client.request(RetryRunDocument, { id: created.id });
    expect(retryRun.steps.map((s) => s.status)).toEqual(['COMPLETED', expect.stringMatching(/PENDING|RUNNING|COMPLETED/)]);
    const events = await streamToEnd(app, created.id);
    expect(events.at(-1)?.type).toBe('WORKFLOW_COMPLETED');
    expectGaplessSeqs(events);
    expect(ofType(events, 'RUN_STOPPED')).toHaveLength(1);
    expect(events.findIndex(isType('RUN_STOPPED'))).toBeLessThan(events.findIndex((e) => e.type === 'RUN_QUEUED' && e.seq > 1));
    expect(startsPerStep(events)).toEqual({ first: 1, wait: 2 });
    expect(statSync(join(project.path, 'first.txt')).mtimeMs).toBe(firstMtime);
    const run = await controlRun(app, created.id);
    expect(run.status).toBe('COMPLETED');
    expect(run.steps.map((s) => s.status)).toEqual(['COMPLETED', 'COMPLETED']);
  });
});
