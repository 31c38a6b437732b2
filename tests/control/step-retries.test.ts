/**
 * Per-step retry policies (`retry: { maxAttempts, backoffSeconds, backoffFactor }`), through the
 * real server: a failed attempt emits STEP_RETRYING (attempt n of m, the reason, the wait) and the
 * next attempt starts after that wait; StepRun.attempt counts the attempts; a step that keeps
 * failing ends STEP_FAILED after its last attempt; errors that cannot succeed on another attempt
 * (a missing model, a path escape) are not retried at all.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EventFieldsFragment } from '../../src/client/generated/graphql.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { PLANNER_MODEL, createProject, expectGaplessSeqs, ofType, runToEnd, testWorkflow } from '../workflow/support.js';
import { controlRun, expectSentence } from './support.js';

/** Fails on the first two runs in a workspace, succeeds from the third on. */
const THIRD_TIME_LUCKY = 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo "attempt $n"; [ $n -ge 3 ]';
const RETRY = { maxAttempts: 3, backoffSeconds: 0.2, backoffFactor: 2 };

const workflows = () =>
  ([
    testWorkflow('flaky', [
      { name: 'flaky', type: 'SHELL_COMMAND', command: THIRD_TIME_LUCKY, retry: RETRY },
      { name: 'after', type: 'FILE_WRITE', contentFrom: 'flaky', outputFile: 'after.txt' },
    ]),
    testWorkflow('hopeless', [
      { name: 'hopeless', type: 'SHELL_COMMAND', command: 'echo "no luck"; exit 4', retry: { maxAttempts: 3, backoffSeconds: 0.1, backoffFactor: 1 } },
      { name: 'after', type: 'FILE_WRITE', content: 'never', outputFile: 'after.txt' },
    ]),
    testWorkflow('missing-model', [
      { name: 'planner', type: 'LLM_GENERATE', model: 'absent-model:latest', prompt: '{goal}', retry: RETRY },
      { name: 'after', type: 'FILE_WRITE', content: 'never', outputFile: 'after.txt' },
    ]),
    testWorkflow('escape', [{ name: 'escape', type: 'FILE_WRITE', content: 'x', outputFile: '../outside.txt', retry: RETRY }]),
    testWorkflow('llm-flaky', [{ name: 'planner', type: 'LLM_GENERATE', model: PLANNER_MODEL, prompt: '{goal}', outputFile: 'PLAN.md', retry: RETRY }]),
  ]);

/** The step's attempts, as the events tell them: [attempt, maxAttempts] of each STEP_STARTED. */
function attemptsOf(events: EventFieldsFragment[], stepName: string): Array<[number, number]> {
  return events
    .filter((e) => e.type === 'STEP_STARTED' && e.stepName === stepName)
    .map((e) => {
      const data = e.data as { attempt: number; maxAttempts: number };
      return [data.attempt, data.maxAttempts];
    });
}

describe('per-step retries', () => {
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

  async function start() {
    t = await startTestApp({ ollamaBaseUrl: fake.url, streamCoalesceMs: 20 }, { workflows: workflows() });
    return t;
  }

  it('a step that fails twice then succeeds: two STEP_RETRYING with growing waits, attempt 3, run COMPLETED', async () => {
    const app = await start();
    const project = await createProject(app);
    const { events, created } = await runToEnd(app, project.id, { workflowName: 'flaky' });
    const run = await controlRun(app, created.id);

    expect(run.status).toBe('COMPLETED');
    expectGaplessSeqs(events);
    expect(run.steps.map((s) => [s.name, s.status, s.attempt, s.error])).toEqual([
      ['flaky', 'COMPLETED', 3, null],
      ['after', 'COMPLETED', 1, null],
    ]);
    expect(readFileSync(join(project.path, 'count'), 'utf8').trim()).toBe('3');
    // The output of the successful attempt is what later steps see.
    expect(readFileSync(join(project.path, 'after.txt'), 'utf8')).toBe('attempt 3\n');

    expect(attemptsOf(events, 'flaky')).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    const retrying = ofType(events, 'STEP_RETRYING');
    expect(retrying.map((e) => e.stepName)).toEqual(['flaky', 'flaky']);
    expect(retrying.map((e) => e.data)).toEqual([
      expect.objectContaining({ attempt: 1, maxAttempts: 3, waitSeconds: 0.2, error: expect.stringContaining('exited with code 1') }),
      expect.objectContaining({ attempt: 2, maxAttempts: 3, waitSeconds: 0.4, error: expect.stringContaining('exited with code 1') }),
    ]);
    expectSentence(retrying[0].message, 'exited with code 1', 'attempt 1');
    expect(retrying[0].message.split('\n')[0]).toMatch(/^Step 1\/2: attempt 1 of 3 failed; retrying in 0\.2s\. /);
    expect(retrying[1].message.split('\n')[0]).toMatch(/^Step 1\/2: attempt 2 of 3 failed; retrying in 0\.4s\. /);

    // Each STEP_RETRYING sits between two attempts, and the next attempt waited at least that long.
    const starts = events.filter((e) => e.type === 'STEP_STARTED' && e.stepName === 'flaky');
    for (const [i, retry] of retrying.entries()) {
      expect(retry.seq).toBeGreaterThan(starts[i].seq);
      expect(retry.seq).toBeLessThan(starts[i + 1].seq);
      const waitedMs = Date.parse(starts[i + 1].createdAt) - Date.parse(retry.createdAt);
      expect(waitedMs).toBeGreaterThanOrEqual((retry.data as { waitSeconds: number }).waitSeconds * 1000 - 25);
    }
    expect(starts[2].message).toContain('(attempt 3 of 3)');
    const completed = events.find((e) => e.type === 'STEP_COMPLETED' && e.stepName === 'flaky')!;
    expect(completed.data).toMatchObject({ attempt: 3 });
    expect(ofType(events, 'STEP_FAILED')).toHaveLength(0);
  });

  it('a step failing every time: STEP_FAILED after its last attempt, the run FAILED', async () => {
    const app = await start();
    const project = await createProject(app);
    const { events, created } = await runToEnd(app, project.id, { workflowName: 'hopeless' });
    const run = await controlRun(app, created.id);

    expect(run.status).toBe('FAILED');
    expectGaplessSeqs(events);
    expect(attemptsOf(events, 'hopeless').map(([attempt]) => attempt)).toEqual([1, 2, 3]);
    expect(ofType(events, 'STEP_RETRYING').map((e) => (e.data as { attempt: number; waitSeconds: number }))).toEqual([
      expect.objectContaining({ attempt: 1, waitSeconds: 0.1 }),
      expect.objectContaining({ attempt: 2, waitSeconds: 0.1 }),
    ]);
    expect(events.slice(-2).map((e) => e.type)).toEqual(['STEP_FAILED', 'WORKFLOW_FAILED']);
    const failed = ofType(events, 'STEP_FAILED');
    expect(failed).toHaveLength(1);
    expect(failed[0].message).toContain('failed after 3 attempts');
    expect(failed[0].message).toContain('exited with code 4');
    expect(failed[0].data).toMatchObject({ attempts: 3, retryable: true, exitCode: 4 });
    expect(run.steps.map((s) => [s.name, s.status, s.attempt])).toEqual([
      ['hopeless', 'FAILED', 3],
      ['after', 'SKIPPED', 0],
    ]);
    expect(run.steps[0].error).toContain('exited with code 4');
    expect(run.error).toContain('exited with code 4');
  });

  it('a missing model is not retried: no STEP_RETRYING, one request, fails at once', async () => {
    const app = await start();
    const project = await createProject(app);
    const requestsBefore = fake.requests.filter((r) => r.path === '/api/generate').length;
    const { events, created } = await runToEnd(app, project.id, { workflowName: 'missing-model' });
    const run = await controlRun(app, created.id);

    expect(run.status).toBe('FAILED');
    expect(ofType(events, 'STEP_RETRYING')).toHaveLength(0);
    expect(attemptsOf(events, 'planner')).toEqual([[1, 3]]);
    const [failed] = ofType(events, 'STEP_FAILED');
    expect(failed.message).toContain("Model 'absent-model:latest' is not installed in Ollama");
    expect(failed.message).not.toContain('attempts');
    expect(failed.data).toMatchObject({ attempts: 1, retryable: false });
    expect(run.steps.map((s) => [s.status, s.attempt])).toEqual([
      ['FAILED', 1],
      ['SKIPPED', 0],
    ]);
    expect(fake.requests.filter((r) => r.path === '/api/generate').length - requestsBefore).toBe(1);
  });

  it('a path escape is not retried', async () => {
    const app = await start();
    const project = await createProject(app);
    const { events, created } = await runToEnd(app, project.id, { workflowName: 'escape' });
    const run = await controlRun(app, created.id);
    expect(run.status).toBe('FAILED');
    expect(ofType(events, 'STEP_RETRYING')).toHaveLength(0);
    expect(ofType(events, 'STEP_STARTED')).toHaveLength(1);
    expect(ofType(events, 'STEP_FAILED')[0].data).toMatchObject({ attempts: 1, retryable: false });
    expect(run.steps[0].attempt).toBe(1);
  });

  it('an LLM step whose model server fails once (HTTP 500) succeeds on its second attempt', async () => {
    let calls = 0;
    fake.script(PLANNER_MODEL, () =>
      ++calls === 1 ? { errorBeforeHeaders: { status: 500, error: 'llama runner process has terminated: signal: killed' } } : { tokens: ['# Plan', '\n'] },
    );
    try {
      const app = await start();
      const project = await createProject(app);
      const { events, created } = await runToEnd(app, project.id, { workflowName: 'llm-flaky' });
      const run = await controlRun(app, created.id);
      expect(run.status).toBe('COMPLETED');
      expect(run.steps[0].attempt).toBe(2);
      const [retry] = ofType(events, 'STEP_RETRYING');
      expect(retry.data).toMatchObject({ attempt: 1, maxAttempts: 3, waitSeconds: 0.2 });
      expect((retry.data as { error: string }).error).toContain('HTTP 500');
      expect(ofType(events, 'STEP_RETRYING')).toHaveLength(1);
      expect(readFileSync(join(project.path, 'PLAN.md'), 'utf8')).toBe('# Plan\n');
      expect(calls).toBe(2);
    } finally {
      fake.script(PLANNER_MODEL, {});
    }
  });
});
