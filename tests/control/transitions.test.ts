/**
 * Transitions the run's state forbids, through the real server: each is a CONFLICT whose message
 * names the run's current status, and changes nothing (status, steps, events). A repeated stop is
 * harmless. Unknown runs are NOT_FOUND; a malformed id is BAD_USER_INPUT.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  PauseRunDocument,
  ProcessQueueDocument,
  ResumeRunDocument,
  RetryRunDocument,
  StopRunDocument,
} from '../../src/client/generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, createRun, ofType, queryEvents, testWorkflow } from '../workflow/support.js';
import { controlRun, expectRefused, waitForStatus } from './support.js';

const quick = testWorkflow('quick', [{ name: 'write', type: 'FILE_WRITE', content: '{goal}', outputFile: 'goal.txt' }]);
const gated = testWorkflow('gated', [{ name: 'wait', type: 'SHELL_COMMAND', command: 'while [ ! -f go ]; do sleep 0.05; done' }]);

describe('forbidden transitions', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('are CONFLICTs naming the current status, and change nothing', async () => {
    t = await startTestApp({ disableWorker: true, workerConcurrency: 1 }, { workflows: [quick, gated] });
    const app = t;
    const project = await createProject(app);
    const request = {
      pause: (id: string) => app.client.request(PauseRunDocument, { id }),
      resume: (id: string) => app.client.request(ResumeRunDocument, { id }),
      stop: (id: string) => app.client.request(StopRunDocument, { id }),
      retry: (id: string) => app.client.request(RetryRunDocument, { id }),
    };
    /** The run's visible state: refused requests must leave it exactly as it was. */
    const snapshot = async (id: string) => ({ run: await controlRun(app, id), events: await queryEvents(app, id) });

    // A COMPLETED run: nothing may happen to it any more.
    const completed = await createRun(app, project.id, { workflowName: 'quick' });
    await app.client.request(ProcessQueueDocument);
    await waitForStatus(app, completed.id, 'COMPLETED');
    let before = await snapshot(completed.id);
    await expectRefused(request.resume(completed.id), 'CONFLICT', `Run ${completed.id} is COMPLETED`, 'only a PAUSED run can be resumed');
    await expectRefused(request.pause(completed.id), 'CONFLICT', `Run ${completed.id} is COMPLETED`, 'only a RUNNING run can be paused');
    await expectRefused(request.stop(completed.id), 'CONFLICT', `Run ${completed.id} is COMPLETED`);
    await expectRefused(request.retry(completed.id), 'CONFLICT', `Run ${completed.id} is COMPLETED`, 'only a FAILED or STOPPED run can be retried');
    expect(await snapshot(completed.id)).toEqual(before);

    // A QUEUED run cannot be paused, resumed or retried (it has not started); it can be stopped.
    const queued = await createRun(app, project.id, { workflowName: 'quick' });
    before = await snapshot(queued.id);
    expect(before.run.status).toBe('QUEUED');
    await expectRefused(request.pause(queued.id), 'CONFLICT', `Run ${queued.id} is QUEUED`, 'only a RUNNING run can be paused');
    await expectRefused(request.resume(queued.id), 'CONFLICT', `Run ${queued.id} is QUEUED`, 'only a PAUSED run can be resumed');
    await expectRefused(request.retry(queued.id), 'CONFLICT', `Run ${queued.id} is QUEUED`);
    expect(await snapshot(queued.id)).toEqual(before);

    // A STOPPED run cannot be paused or resumed; stopping it again is harmless and records nothing.
    const { stopRun } = await request.stop(queued.id);
    expect(stopRun.status).toBe('STOPPED');
    before = await snapshot(queued.id);
    expect(ofType(before.events, 'RUN_STOPPED')).toHaveLength(1);
    await expectRefused(request.pause(queued.id), 'CONFLICT', `Run ${queued.id} is STOPPED`, 'only a RUNNING run can be paused');
    await expectRefused(request.resume(queued.id), 'CONFLICT', `Run ${queued.id} is STOPPED`, 'only a PAUSED run can be resumed');
    for (let i = 0; i < 3; i++) {
      const again = await request.stop(queued.id);
      expect(again.stopRun.status).toBe('STOPPED');
      expect(again.stopRun.finishedAt).toBe(before.run.finishedAt);
    }
    // Several stops at once are harmless too.
    const together = await Promise.all([request.stop(queued.id), request.stop(queued.id)]);
    expect(together.map((r) => r.stopRun.status)).toEqual(['STOPPED', 'STOPPED']);
    expect(await snapshot(queued.id)).toEqual(before);

    // A RUNNING run cannot be resumed (no pause pending) or retried.
    const running = await createRun(app, project.id, { workflowName: 'gated' });
    await app.client.request(ProcessQueueDocument);
    await waitForStatus(app, running.id, 'RUNNING');
    await expectRefused(request.resume(running.id), 'CONFLICT', `Run ${running.id} is RUNNING`, 'only a PAUSED run can be resumed');
    await expectRefused(request.retry(running.id), 'CONFLICT', `Run ${running.id} is RUNNING`);
    expect((await controlRun(app, running.id)).pauseRequested).toBe(false);
    // Stopping it ends the gate command (and the test).
    const stopped = await request.stop(running.id);
    expect(stopped.stopRun.status).toBe('STOPPED');
    expect(ofType(await queryEvents(app, running.id), 'RUN_STOPPED')).toHaveLength(1);
  });

  it('a FAILED run can be neither paused, resumed nor stopped', async () => {
    const failing = testWorkflow('failing', [{ name: 'fails', type: 'SHELL_COMMAND', command: 'exit 2' }]);
    t = await startTestApp({}, { workflows: [failing] });
    const app = t;
    const project = await createProject(app);
    const run = await createRun(app, project.id, { workflowName: 'failing' });
    await waitForStatus(app, run.id, 'FAILED');
    const events = await queryEvents(app, run.id);
    await expectRefused(app.client.request(PauseRunDocument, { id: run.id }), 'CONFLICT', `Run ${run.id} is FAILED`);
    await expectRefused(app.client.request(ResumeRunDocument, { id: run.id }), 'CONFLICT', `Run ${run.id} is FAILED`);
    await expectRefused(app.client.request(StopRunDocument, { id: run.id }), 'CONFLICT', `Run ${run.id} is FAILED`);
    expect((await controlRun(app, run.id)).status).toBe('FAILED');
    expect(await queryEvents(app, run.id)).toEqual(events);
  });

  it('unknown runs are NOT_FOUND, malformed ids BAD_USER_INPUT', async () => {
    t = await startTestApp({ disableWorker: true }, { workflows: [quick] });
    const app = t;
    const requests = [
      (id: string) => app.client.request(PauseRunDocument, { id }),
      (id: string) => app.client.request(ResumeRunDocument, { id }),
      (id: string) => app.client.request(StopRunDocument, { id }),
    ];
    for (const request of requests) {
      await expectRefused(request('999999'), 'NOT_FOUND', 'No run has id 999999');
      await expectRefused(request('abc'), 'BAD_USER_INPUT', 'id');
    }
    await expectRefused(app.client.request(RetryRunDocument, { id: '999999' }), 'NOT_FOUND', 'No run has id 999999');
  });
});
