/**
 * On Node 20 the first `AsyncLocalStorage#run` (or `enterWith`) of the process turns on promise hooks
 * for good, and from then on every promise (every event delivered to every subscriber) costs more.
 * MikroORM runs one inside `flush()`, `commit()` and `transactional()`; the store must never call
 * them. This follows a project and two runs (one completing with an artifact, one failing) through
 * the real server and checks that no AsyncLocalStorage was entered on the way.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, runToEnd, testWorkflow } from '../workflow/support.js';

const writeAndFail = testWorkflow('write-then-fail', [
  { name: 'list', type: 'SHELL_COMMAND', command: 'echo listed' },
  { name: 'save', type: 'FILE_WRITE', contentFrom: 'list', outputFile: 'list.txt', saveArtifact: true },
  { name: 'fail', type: 'SHELL_COMMAND', command: 'exit 3' },
]);
const write = testWorkflow('write-only', [{ name: 'save', type: 'FILE_WRITE', content: '{goal}', outputFile: 'goal.txt', saveArtifact: true }]);

describe('the store and the engine never enter an AsyncLocalStorage', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({}, { workflows: [writeAndFail, write] });
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await t?.close();
  });

  it('creates a project and runs to completion and to failure without one', async () => {
    const run = vi.spyOn(AsyncLocalStorage.prototype, 'run');
    const enterWith = vi.spyOn(AsyncLocalStorage.prototype, 'enterWith');

    const project = await createProject(t);
    const completed = await runToEnd(t, project.id, { workflowName: 'write-only' }, 'hedgehogs');
    const failed = await runToEnd(t, project.id, { workflowName: 'write-then-fail' });

    expect(completed.run.status).toBe('COMPLETED');
    expect(completed.run.artifacts).toHaveLength(1);
    expect(failed.run.status).toBe('FAILED');
    expect(failed.run.artifacts).toHaveLength(1);
    expect(run.mock.calls.length + enterWith.mock.calls.length).toBe(0);
  });
});
