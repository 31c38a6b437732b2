/**
 * "A run's event log can be read as a story": one run that retries a step, is paused, resumed,
 * stopped and retried. Every status change it goes through (as `runUpdated` reports them) has its
 * event, in the same order, and each of those events says in a sentence what happened and to which
 * step.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PauseRunDocument, ResumeRunDocument, RetryRunDocument, StopRunDocument } from '../../src/client/generated/graphql.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { createProject, createRun, expectGaplessSeqs, ofType, streamToEnd, testWorkflow, watchRunUpdates } from '../workflow/support.js';
import { controlRun, expectSentence, isType, waitForEvent, waitForStatus } from './support.js';

const story = testWorkflow('story', [
  {
    name: 'flaky',
    type: 'SHELL_COMMAND',
    command: 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; [ $n -ge 2 ]',
    retry: { maxAttempts: 2, backoffSeconds: 1, backoffFactor: 1 },
  },
  { name: 'wait', type: 'SHELL_COMMAND', command: 'while [ ! -f go ]; do sleep 0.05; done' },
  { name: 'last', type: 'FILE_WRITE', content: 'the end', outputFile: 'end.txt' },
]);

/** The status each control event announces; the other events change no status. */
const STATUS_OF_EVENT: Record<string, string> = {
  RUN_QUEUED: 'QUEUED',
  RUN_RESUMED: 'QUEUED',
  WORKFLOW_STARTED: 'RUNNING',
  RUN_PAUSED: 'PAUSED',
  RUN_STOPPED: 'STOPPED',
  WORKFLOW_COMPLETED: 'COMPLETED',
  WORKFLOW_FAILED: 'FAILED',
};

describe('the event log as a story', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('retried step, pause, resume, stop, retryRun: every state change is an event a person understands', async () => {
    t = await startTestApp({ streamCoalesceMs: 20, killGraceMs: 200 }, { workflows: [story] });
    const app = t;
    const project = await createProject(app);
    const updates = await watchRunUpdates(app, project.id);
    const created = await createRun(app, project.id, { workflowName: 'story' });
    const id = created.id;

    // The first attempt of `flaky` fails; during its backoff a pause is asked for.
    await waitForEvent(app, id, isType('STEP_RETRYING', 'flaky'), 'STEP_RETRYING');
    await app.client.request(PauseRunDocument, { id });
    await waitForStatus(app, id, 'PAUSED');
    await waitForEvent(app, id, isType('RUN_PAUSED'), 'RUN_PAUSED');

    // Resumed, it goes on with `wait`, which is stopped while it runs.
    await app.client.request(ResumeRunDocument, { id });
    await waitForEvent(app, id, isType('SHELL_EXECUTING', 'wait'), 'the wait step to run');
    expect((await app.client.request(StopRunDocument, { id })).stopRun.status).toBe('STOPPED');

    // Retried, it completes.
    writeFileSync(join(project.path, 'go'), '');
    await app.client.request(RetryRunDocument, { id });
    const events = await streamToEnd(app, id);
    expect((await controlRun(app, id)).status).toBe('COMPLETED');
    expectGaplessSeqs(events);
    expect(events.at(-1)?.type).toBe('WORKFLOW_COMPLETED');

    // The story, as a person reads it in the console.
    const told = events.map((e) => `${e.seq} ${e.type}${e.stepName ? ` [${e.stepName}]` : ''}: ${e.message}`).join('\n');

    // Every event says something.
    for (const event of events) expect(event.message.trim(), told).not.toBe('');

    // Every status change has its event, in the same order.
    const expectedStatuses = ['QUEUED', 'RUNNING', 'PAUSED', 'QUEUED', 'RUNNING', 'STOPPED', 'QUEUED', 'RUNNING', 'COMPLETED'];
    await waitFor(() => updates.statusesOf(id).length >= expectedStatuses.length, { what: 'every runUpdated' });
    expect(updates.statusesOf(id)).toEqual(expectedStatuses);
    const announced = events.filter((e) => e.type in STATUS_OF_EVENT);
    expect(announced.map((e) => STATUS_OF_EVENT[e.type]), told).toEqual(expectedStatuses);
    expect(announced.map((e) => e.type), told).toEqual([
      'RUN_QUEUED',
      'WORKFLOW_STARTED',
      'RUN_PAUSED',
      'RUN_RESUMED',
      'WORKFLOW_STARTED',
      'RUN_STOPPED',
      'RUN_QUEUED',
      'WORKFLOW_STARTED',
      'WORKFLOW_COMPLETED',
    ]);
    await updates.close();

    // Each says, in a sentence, what happened and where.
    const [queued, requeued] = ofType(events, 'RUN_QUEUED');
    expectSentence(queued.message);
    const [started, continued, again] = ofType(events, 'WORKFLOW_STARTED');
    expectSentence(started.message, 'story', '3 steps');
    const [retrying] = ofType(events, 'STEP_RETRYING');
    expectSentence(retrying.message, 'exited with code 1');
    // What happens next is said before the quoted output, not glued to its last line.
    expect(retrying.message.split('\n')[0]).toMatch(/^Step 1\/3: attempt 1 of 2 failed; retrying in 1s\. Command ".*" exited with code 1\./);
    expect(retrying.stepName).toBe('flaky');
    const [paused] = ofType(events, 'RUN_PAUSED');
    expectSentence(paused.message, 'Paused', 'step 1/3 (flaky)', 'step 2/3 (wait)');
    const [resumed] = ofType(events, 'RUN_RESUMED');
    expectSentence(resumed.message, 'Resumed', 'step 2/3 (wait)');
    expectSentence(continued.message, 'Continuing', 'step 2/3 (wait)');
    const [stopped] = ofType(events, 'RUN_STOPPED');
    expectSentence(stopped.message, 'stopped', 'step 2/3 (wait)');
    expectSentence(requeued.message, 'Retry', 'step 2/3 (wait)');
    expect(requeued.data).toMatchObject({ retry: true, fromStep: 'wait' });
    expectSentence(again.message, 'Continuing', 'step 2/3 (wait)');
    expectSentence(events.at(-1)!.message, 'completed');
    // The step records agree with the story.
    const run = await controlRun(app, id);
    expect(run.steps.map((s) => [s.name, s.status, s.attempt])).toEqual([
      ['flaky', 'COMPLETED', 2],
      ['wait', 'COMPLETED', 1],
      ['last', 'COMPLETED', 1],
    ]);
  });
});
