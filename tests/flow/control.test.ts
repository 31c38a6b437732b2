/**
 * Run control on graphs and loops, through the real server: a pause waits for the steps running at
 * once and holds the rest; a stop ends every running step (every process) at once; retryRun from a
 * middle step re-runs it and what depends on it, keeping the rest; a run retried in a loop goes on at
 * its iteration.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateRunDocument, PauseRunDocument, ResumeRunDocument, RetryRunDocument, StopRunDocument } from '../../src/client/generated/graphql.js';
import { isType, liveProcesses, waitForEvent, waitForStatus } from '../control/support.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { createProject, expectGaplessSeqs, getRun, queryEvents, streamToEnd } from '../workflow/support.js';
import { register, stepOf } from './support.js';

/** Two branches that wait for a gate file each, then a step that needs both. */
const GATED = `name: gated-pair
version: "1"
steps:
  - { name: left, type: SHELL_COMMAND, needs: [], command: "echo left-\${{ run.id }}-marker; while [ ! -f go-left ]; do sleep 0.05; done" }
  - { name: right, type: SHELL_COMMAND, needs: [], command: "echo right-\${{ run.id }}-marker; while [ ! -f go-right ]; do sleep 0.05; done" }
  - { name: join, type: SHELL_COMMAND, needs: [left, right], command: "echo joined >> joins.txt" }
`;

const DIAMOND_FILES = `name: diamond-files
version: "1"
steps:
  - { name: a, type: SHELL_COMMAND, command: "echo a >> a.log" }
  - { name: b, type: SHELL_COMMAND, needs: [a], command: "echo b >> b.log; test -f b-ok" }
  - { name: c, type: SHELL_COMMAND, needs: [a], command: "echo c >> c.log" }
  - { name: d, type: SHELL_COMMAND, needs: [b, c], command: "echo d >> d.log" }
`;

const LOOP_FAILING = `name: loop-failing
version: "1"
steps:
  - name: repeat
    type: LOOP
    maxIterations: 5
    until: \${{ steps.check.outcome == 'success' }}
    steps:
      - { name: count, type: SHELL_COMMAND, command: "echo x >> count.log" }
      - { name: check, type: SHELL_COMMAND, command: "test -f pass", continueOnError: true }
      - { name: gate, type: SHELL_COMMAND, if: "loop.iteration == 2", command: "test -f gate-open" }
`;

/** A check that passes, a report skipped by its condition, then a step that fails until a file exists. */
const SKIPPED_BEFORE = `name: skipped-before
version: "1"
steps:
  - { name: test, type: SHELL_COMMAND, command: "true" }
  - { name: report, type: SHELL_COMMAND, if: "failure()", command: "echo report >> report.log" }
  - { name: last, type: SHELL_COMMAND, command: "echo last >> last.log; test -f last-ok" }
`;

/** A diamond one step at a time: b waits for its gate, so a stop finds c not started yet. */
const DIAMOND_ONE_AT_A_TIME = `name: diamond-one-at-a-time
version: "1"
maxParallel: 1
steps:
  - { name: a, type: SHELL_COMMAND, command: "echo a >> a.log" }
  - { name: b, type: SHELL_COMMAND, needs: [a], command: "while [ ! -f go-b ]; do sleep 0.05; done; echo b >> b.log" }
  - { name: c, type: SHELL_COMMAND, needs: [a], command: "echo c >> c.log" }
  - { name: d, type: SHELL_COMMAND, needs: [b, c], command: "echo d >> d.log" }
`;

describe('run control on graphs and loops', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ streamCoalesceMs: 20, killGraceMs: 200 });
    for (const definition of [GATED, DIAMOND_FILES, LOOP_FAILING, SKIPPED_BEFORE, DIAMOND_ONE_AT_A_TIME]) await register(t, definition);
  });
  afterAll(() => t?.close());

  async function start(workflowName: string) {
    const project = await createProject(t);
    const { createRun } = await t.client.request(CreateRunDocument, { input: { projectId: project.id, goal: 'control', options: { workflowName } } });
    return { project, runId: createRun.id };
  }

  it('pause with two steps in flight: both finish, the step that needs them waits, then resume runs it', async () => {
    const { project, runId } = await start('gated-pair');
    await waitForEvent(t, runId, isType('SHELL_EXECUTING', 'left'), 'left to run');
    await waitForEvent(t, runId, isType('SHELL_EXECUTING', 'right'), 'right to run');
    const { pauseRun } = await t.client.request(PauseRunDocument, { id: runId });
    expect(pauseRun.status).toBe('RUNNING');
    writeFileSync(join(project.path, 'go-left'), '');
    await waitForEvent(t, runId, isType('STEP_COMPLETED', 'left'), 'left to complete');
    // Still running: right has not finished, and join is held.
    expect((await getRun(t, runId)).status).toBe('RUNNING');
    writeFileSync(join(project.path, 'go-right'), '');
    const paused = await waitForStatus(t, runId, 'PAUSED');
    expect(paused.steps.map((s) => [s.name, s.status])).toEqual([
      ['left', 'COMPLETED'],
      ['right', 'COMPLETED'],
      ['join', 'PENDING'],
    ]);
    expect(existsSync(join(project.path, 'joins.txt'))).toBe(false);
    const pausedEvent = (await queryEvents(t, runId)).find((e) => e.type === 'RUN_PAUSED');
    expect(pausedEvent?.message).toMatch(/^Paused after step [12]\/3 \((left|right)\)\. Resume to continue with step 3\/3 \(join\)\.$/);

    await t.client.request(ResumeRunDocument, { id: runId });
    await waitForStatus(t, runId, 'COMPLETED');
    expect(readFileSync(join(project.path, 'joins.txt'), 'utf8')).toBe('joined\n');
    expectGaplessSeqs(await queryEvents(t, runId));
  });

  it('stop with two steps in flight: both are cut off at once, no process of either is left', async () => {
    const { runId } = await start('gated-pair');
    await waitForEvent(t, runId, isType('SHELL_OUTPUT', 'left'), 'left to print');
    await waitForEvent(t, runId, isType('SHELL_OUTPUT', 'right'), 'right to print');
    const { stopRun } = await t.client.request(StopRunDocument, { id: runId });
    expect(stopRun.status).toBe('STOPPED');
    expect(stopRun.steps.map((s) => [s.name, s.status])).toEqual([
      ['left', 'STOPPED'],
      ['right', 'STOPPED'],
      ['join', 'SKIPPED'],
    ]);
    await waitFor(() => liveProcesses({ marker: `left-${runId}-marker` }).length === 0 && liveProcesses({ marker: `right-${runId}-marker` }).length === 0, {
      what: 'no process of the stopped steps',
    });
    const events = await queryEvents(t, runId);
    expect(events.at(-1)?.type).toBe('RUN_STOPPED');
    expectGaplessSeqs(events);
  });

  it('retryRun from a middle step of a diamond re-runs it and what depends on it, keeping the rest', async () => {
    const { project, runId } = await start('diamond-files');
    const first = await streamToEnd(t, runId);
    expect(first.at(-1)?.type).toBe('WORKFLOW_FAILED');
    expect((await getRun(t, runId)).steps.map((s) => [s.name, s.status])).toEqual([
      ['a', 'COMPLETED'],
      ['b', 'FAILED'],
      ['c', 'COMPLETED'],
      ['d', 'SKIPPED'],
    ]);
    writeFileSync(join(project.path, 'b-ok'), '');
    await t.client.request(RetryRunDocument, { id: runId, fromStep: 'b' });
    await waitForStatus(t, runId, 'COMPLETED');
    const read = (file: string) => readFileSync(join(project.path, file), 'utf8');
    // a and c ran once; b twice (the failure and the retry); d once, after the retry.
    expect([read('a.log'), read('b.log'), read('c.log'), read('d.log')]).toEqual(['a\n', 'b\nb\n', 'c\n', 'd\n']);
    const run = await getRun(t, runId);
    expect(run.steps.map((s) => [s.name, s.status, s.attempt])).toEqual([
      ['a', 'COMPLETED', 1],
      ['b', 'COMPLETED', 1],
      ['c', 'COMPLETED', 1],
      ['d', 'COMPLETED', 1],
    ]);
    const requeued = (await queryEvents(t, runId)).find((e) => e.type === 'RUN_QUEUED' && (e.data as { retry?: boolean })?.retry);
    expect(requeued?.data).toEqual({ retry: true, fromStep: 'b', again: ['b', 'd'] });
  });

  it('retryRun from a step after one skipped by its condition: the skipped step is kept as it was', async () => {
    const { project, runId } = await start('skipped-before');
    await streamToEnd(t, runId);
    expect((await getRun(t, runId)).steps.map((s) => [s.name, s.status])).toEqual([
      ['test', 'COMPLETED'],
      ['report', 'SKIPPED'],
      ['last', 'FAILED'],
    ]);
    writeFileSync(join(project.path, 'last-ok'), '');
    await t.client.request(RetryRunDocument, { id: runId, fromStep: 'last' });
    await waitForStatus(t, runId, 'COMPLETED');
    const run = await getRun(t, runId);
    expect(run.steps.map((s) => [s.name, s.status])).toEqual([
      ['test', 'COMPLETED'],
      ['report', 'SKIPPED'],
      ['last', 'COMPLETED'],
    ]);
    expect(readFileSync(join(project.path, 'last.log'), 'utf8')).toBe('last\nlast\n');
    expect(existsSync(join(project.path, 'report.log'))).toBe(false);
    expectGaplessSeqs(await queryEvents(t, runId));
  });

  it('retryRun from a step of a stopped run: a step the stop left unstarted beside it runs too, not kept as skipped', async () => {
    const { project, runId } = await start('diamond-one-at-a-time');
    await waitForEvent(t, runId, isType('SHELL_EXECUTING', 'b'), 'b to run');
    await t.client.request(StopRunDocument, { id: runId });
    expect((await getRun(t, runId)).steps.map((s) => [s.name, s.status])).toEqual([
      ['a', 'COMPLETED'],
      ['b', 'STOPPED'],
      ['c', 'SKIPPED'],
      ['d', 'SKIPPED'],
    ]);
    writeFileSync(join(project.path, 'go-b'), '');
    await t.client.request(RetryRunDocument, { id: runId, fromStep: 'b' });
    await waitForStatus(t, runId, 'COMPLETED');
    expect((await getRun(t, runId)).steps.map((s) => [s.name, s.status])).toEqual([
      ['a', 'COMPLETED'],
      ['b', 'COMPLETED'],
      ['c', 'COMPLETED'],
      ['d', 'COMPLETED'],
    ]);
    const read = (file: string) => readFileSync(join(project.path, file), 'utf8');
    expect([read('a.log'), read('b.log'), read('c.log'), read('d.log')]).toEqual(['a\n', 'b\n', 'c\n', 'd\n']);
    expectGaplessSeqs(await queryEvents(t, runId));
  });

  it('a run that failed inside a loop is retried at its iteration: earlier iterations and completed steps are kept', async () => {
    const { project, runId } = await start('loop-failing');
    await streamToEnd(t, runId);
    let run = await getRun(t, runId);
    expect(run.status).toBe('FAILED');
    expect(run.error).toContain('iteration 2: Step "gate" failed');
    expect(readFileSync(join(project.path, 'count.log'), 'utf8')).toBe('x\nx\n');

    writeFileSync(join(project.path, 'gate-open'), '');
    writeFileSync(join(project.path, 'pass'), '');
    await t.client.request(RetryRunDocument, { id: runId });
    run = await waitForStatus(t, runId, 'COMPLETED').then(() => getRun(t, runId));
    // Iteration 2 went on with what had not completed there (check, which failed, and gate); count did
    // not run again, and until held after it.
    expect(readFileSync(join(project.path, 'count.log'), 'utf8')).toBe('x\nx\n');
    expect(run.steps.filter((s) => s.loop === 'repeat').map((s) => [s.iteration, s.name, s.status])).toEqual([
      [1, 'count', 'COMPLETED'],
      [1, 'check', 'FAILED'],
      [1, 'gate', 'SKIPPED'],
      [2, 'count', 'COMPLETED'],
      [2, 'check', 'COMPLETED'],
      [2, 'gate', 'COMPLETED'],
    ]);
    expect(stepOf(run, 'repeat').status).toBe('COMPLETED');
    expectGaplessSeqs(await queryEvents(t, runId));
  });
});
