/**
 * Steps as a graph through the real server: a diamond whose middle steps provably run at the same
 * time, maxParallel, each step followed apart, conditions over earlier steps' results, cleanup and
 * report steps after a failure (always(), failure()), failFast, continueOnError.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateRunDocument, RunEventsDocument } from '../../src/client/generated/graphql.js';
import { collect, startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, expectGaplessSeqs, ofType } from '../workflow/support.js';
import { register, runWorkflow, spanOf, stepOf } from './support.js';

/** b and c each wait for the other to have started: the run completes only if they overlap. */
const DIAMOND = `name: diamond
version: "1"
steps:
  - { name: a, type: SHELL_COMMAND, command: "echo A > a.txt" }
  - name: b
    type: SHELL_COMMAND
    needs: [a]
    command: "touch b.started; i=0; while [ ! -f c.started ]; do i=$((i+1)); [ $i -gt 400 ] && exit 9; sleep 0.05; done; echo B"
  - name: c
    type: SHELL_COMMAND
    needs: [a]
    command: "touch c.started; i=0; while [ ! -f b.started ]; do i=$((i+1)); [ $i -gt 400 ] && exit 9; sleep 0.05; done; echo C"
  - name: d
    type: FILE_WRITE
    needs: [b, c]
    outputFile: d.txt
    content: "\${{ steps.b.output }}\${{ steps.c.output }}"
`;

const ONE_AT_A_TIME = `name: one-at-a-time
version: "1"
maxParallel: 1
steps:
  - { name: a, type: SHELL_COMMAND, command: "sleep 0.2", needs: [] }
  - { name: b, type: SHELL_COMMAND, command: "sleep 0.2", needs: [] }
  - { name: c, type: SHELL_COMMAND, command: "sleep 0.2", needs: [] }
`;

const CONDITIONS = `name: conditions
version: "1"
inputs:
  mode: { type: choice, options: [fast, full], default: fast }
steps:
  - { name: check, type: SHELL_COMMAND, command: "echo ready" }
  - name: when-ready
    type: FILE_WRITE
    if: "contains(steps.check.output, 'ready')"
    outputFile: ready.txt
    content: yes
  - name: when-full
    type: FILE_WRITE
    if: \${{ inputs.mode == 'full' }}
    outputFile: full.txt
    content: full
  - { name: after, type: FILE_WRITE, outputFile: after.txt, content: "after \${{ steps.when-full.outcome }}" }
`;

const CLEANUP = `name: cleanup
version: "1"
steps:
  - { name: build, type: SHELL_COMMAND, command: "echo compiling; exit 3" }
  - { name: test, type: SHELL_COMMAND, command: "echo testing" }
  - { name: cleanup, type: SHELL_COMMAND, if: always(), command: "echo cleaned > cleanup.txt" }
  - name: report
    type: FILE_WRITE
    if: failure()
    outputFile: report.txt
    content: "build: \${{ steps.build.outcome }} (exit \${{ steps.build.exitCode }}), test: \${{ steps.test.outcome }}"
  - { name: never, type: FILE_WRITE, if: success(), outputFile: never.txt, content: x }
`;

const FAIL_FAST = `name: fail-fast
version: "1"
failFast: true
steps:
  - { name: slow, type: SHELL_COMMAND, needs: [], command: "sleep 30" }
  - { name: broken, type: SHELL_COMMAND, needs: [], command: "sleep 0.3; exit 1" }
  - { name: cleanup, type: FILE_WRITE, needs: [slow, broken], if: always(), outputFile: cleanup.txt, content: done }
`;

const CONTINUE = `name: continue-on-error
version: "1"
steps:
  - { name: flaky, type: SHELL_COMMAND, command: "echo partial; exit 2", continueOnError: true }
  - name: next
    type: FILE_WRITE
    outputFile: next.txt
    content: "outcome \${{ steps.flaky.outcome }}, conclusion \${{ steps.flaky.conclusion }}, exit \${{ steps.flaky.exitCode }}"
`;

describe('steps as a graph', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ streamCoalesceMs: 20, killGraceMs: 200 });
    for (const definition of [DIAMOND, ONE_AT_A_TIME, CONDITIONS, CLEANUP, FAIL_FAST, CONTINUE]) await register(t, definition);
  });
  afterAll(() => t?.close());

  it('a diamond: b and c run at the same time once a is done, d once both are; events interleave in one gapless seq', async () => {
    const project = await createProject(t);
    const { events, run } = await runWorkflow(t, project.id, 'diamond');
    expect(run.status, run.error ?? '').toBe('COMPLETED');
    expectGaplessSeqs(events);
    const [aStart, aEnd] = spanOf(run, 'a');
    const [bStart, bEnd] = spanOf(run, 'b');
    const [cStart, cEnd] = spanOf(run, 'c');
    const [dStart] = spanOf(run, 'd');
    expect(aStart).toBeLessThanOrEqual(aEnd);
    expect(Math.min(bStart, cStart)).toBeGreaterThanOrEqual(aEnd);
    // They overlap: each started before the other ended (which their commands also required).
    expect(bStart).toBeLessThan(cEnd);
    expect(cStart).toBeLessThan(bEnd);
    expect(dStart).toBeGreaterThanOrEqual(Math.max(bEnd, cEnd));
    expect(readFileSync(join(project.path, 'd.txt'), 'utf8')).toBe('B\nC\n');
    expect(run.steps.map((s) => [s.name, s.needs, s.depth])).toEqual([
      ['a', [], 0],
      ['b', ['a'], 1],
      ['c', ['a'], 1],
      ['d', ['b', 'c'], 2],
    ]);
    // Both middle steps started before either completed: their events interleave.
    const order = events.filter((e) => e.type === 'STEP_STARTED' || e.type === 'STEP_COMPLETED').map((e) => `${e.type === 'STEP_STARTED' ? '+' : '-'}${e.stepName}`);
    expect(order.slice(0, 2)).toEqual(['+a', '-a']);
    expect(order.slice(2, 4).sort()).toEqual(['+b', '+c']);
    expect(order.slice(-2)).toEqual(['+d', '-d']);
  });

  it('a subscriber can follow one step apart: only its events, then the run’s end', async () => {
    const project = await createProject(t);
    const { createRun } = await t.client.request(CreateRunDocument, { input: { projectId: project.id, goal: 'flow', options: { workflowName: 'diamond' } } });
    const items = await collect(t.client.subscribe(RunEventsDocument, { runId: createRun.id, after: 0, stepName: 'c' }), { timeoutMs: 40_000 });
    const events = items.map((i) => i.runEvents);
    expect(events.slice(0, -1).every((e) => e.stepName === 'c')).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['STEP_STARTED', 'SHELL_EXECUTING', 'SHELL_OUTPUT', 'ARTIFACT_CREATED', 'STEP_COMPLETED', 'WORKFLOW_COMPLETED']);
    for (let i = 1; i < events.length; i++) expect(events[i]!.seq).toBeGreaterThan(events[i - 1]!.seq);
  });

  it('maxParallel: 1 runs independent steps one at a time', async () => {
    const project = await createProject(t);
    const { run } = await runWorkflow(t, project.id, 'one-at-a-time');
    expect(run.status).toBe('COMPLETED');
    const spans = ['a', 'b', 'c'].map((name) => spanOf(run, name)).sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  });

  it('conditions over an earlier step’s output and the inputs: a false one SKIPS its step, saying which condition', async () => {
    const project = await createProject(t);
    const { events, run } = await runWorkflow(t, project.id, 'conditions');
    expect(run.status).toBe('COMPLETED');
    expect(run.steps.map((s) => [s.name, s.status])).toEqual([
      ['check', 'COMPLETED'],
      ['when-ready', 'COMPLETED'],
      ['when-full', 'SKIPPED'],
      ['after', 'COMPLETED'],
    ]);
    expect(stepOf(run, 'when-full').skippedReason).toBe("its condition ${{ inputs.mode == 'full' }} is false");
    const skipped = ofType(events, 'STEP_SKIPPED');
    expect(skipped.map((e) => [e.stepName, e.message])).toEqual([['when-full', `Skipped step "when-full": its condition \${{ inputs.mode == 'full' }} is false.`]]);
    expect(skipped[0]!.data).toMatchObject({ condition: "${{ inputs.mode == 'full' }}" });
    // A skipped step does not skip the steps after it; its outcome is "skipped".
    expect(readFileSync(join(project.path, 'after.txt'), 'utf8')).toBe('after skipped');
    expect(existsSync(join(project.path, 'full.txt'))).toBe(false);

    const full = await runWorkflow(t, (await createProject(t)).id, 'conditions', { mode: 'full' });
    expect(full.run.steps.map((s) => s.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED']);
  });

  it('after a failure: the steps that need it are SKIPPED, always() cleans up, failure() reports, and the run FAILS', async () => {
    const project = await createProject(t);
    const { events, run } = await runWorkflow(t, project.id, 'cleanup');
    expect(run.status).toBe('FAILED');
    expect(run.error).toContain('Step "build" failed: Command "echo compiling; exit 3" exited with code 3');
    expect(run.steps.map((s) => [s.name, s.status])).toEqual([
      ['build', 'FAILED'],
      ['test', 'SKIPPED'],
      ['cleanup', 'COMPLETED'],
      ['report', 'COMPLETED'],
      ['never', 'SKIPPED'],
    ]);
    expect(stepOf(run, 'test').skippedReason).toBe('step "build", which it needs, did not succeed');
    expect(stepOf(run, 'build').exitCode).toBe(3);
    expect(readFileSync(join(project.path, 'cleanup.txt'), 'utf8')).toBe('cleaned\n');
    expect(readFileSync(join(project.path, 'report.txt'), 'utf8')).toBe('build: failure (exit 3), test: skipped');
    expect(events.at(-1)?.type).toBe('WORKFLOW_FAILED');
    expectGaplessSeqs(events);
  });

  it('failFast: a failure stops the steps running beside it at once; always() steps still run', async () => {
    const project = await createProject(t);
    const started = Date.now();
    const { run } = await runWorkflow(t, project.id, 'fail-fast');
    expect(Date.now() - started).toBeLessThan(25_000); // not the 30 s of "slow"
    expect(run.status).toBe('FAILED');
    expect(run.steps.map((s) => [s.name, s.status])).toEqual([
      ['slow', 'STOPPED'],
      ['broken', 'FAILED'],
      ['cleanup', 'COMPLETED'],
    ]);
    expect(stepOf(run, 'slow').error).toBe('Stopped: step "broken" failed and the workflow has failFast.');
  });

  it('continueOnError: the step FAILS, its outcome is failure and its conclusion success, and the run goes on', async () => {
    const project = await createProject(t);
    const { events, run } = await runWorkflow(t, project.id, 'continue-on-error');
    expect(run.status).toBe('COMPLETED');
    expect(stepOf(run, 'flaky').status).toBe('FAILED');
    expect(readFileSync(join(project.path, 'next.txt'), 'utf8')).toBe('outcome failure, conclusion success, exit 2');
    expect(ofType(events, 'STEP_FAILED')[0]?.message).toContain('(continueOnError: the run goes on)');
  });
});
