/**
 * Bounded loops through the real server: one that ends when `until` holds, one that runs out of
 * iterations (FAILED, saying so), maxIterations from an input, each iteration's step records and
 * events carrying its number, and the definition checks that belong to loops.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidateWorkflowDocument } from '../../src/client/generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, expectGaplessSeqs, ofType } from '../workflow/support.js';
import { register, runWorkflow, stepOf } from './support.js';

/** Counts in a file; "test" passes from the third try on. */
const UNTIL_THIRD = `name: until-third
version: "1"
inputs:
  tries: { type: number, default: 5 }
steps:
  - { name: prepare, type: FILE_WRITE, outputFile: count, content: "0" }
  - name: repeat
    type: LOOP
    maxIterations: \${{ inputs.tries }}
    until: \${{ steps.test.outcome == 'success' }}
    steps:
      - { name: bump, type: SHELL_COMMAND, command: "n=$(cat count); echo $((n+1)) > count; echo try \${{ loop.iteration }}" }
      - { name: test, type: SHELL_COMMAND, command: "[ $(cat count) -ge 3 ]", continueOnError: true }
      - name: fix
        type: FILE_WRITE
        if: \${{ steps.test.outcome == 'failure' && loop.iteration < loop.maxIterations }}
        outputFile: "fix-\${{ loop.iteration }}.txt"
        content: "fixing after try \${{ loop.iteration }}"
  - { name: after, type: FILE_WRITE, outputFile: after.txt, content: "done after \${{ steps.bump.output }}" }
`;

describe('loops', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ streamCoalesceMs: 20 });
    await register(t, UNTIL_THIRD);
  });
  afterAll(() => t?.close());

  it('repeats its steps until `until` holds: iterations recorded with their number, in the records and the events', async () => {
    const project = await createProject(t);
    const { events, run } = await runWorkflow(t, project.id, 'until-third');
    expect(run.status, run.error ?? '').toBe('COMPLETED');
    expectGaplessSeqs(events);
    expect(stepOf(run, 'repeat').status).toBe('COMPLETED');
    const iterations = run.steps.filter((s) => s.loop === 'repeat').map((s) => [s.iteration, s.name, s.status]);
    expect(iterations).toEqual([
      [1, 'bump', 'COMPLETED'],
      [1, 'test', 'FAILED'],
      [1, 'fix', 'COMPLETED'],
      [2, 'bump', 'COMPLETED'],
      [2, 'test', 'FAILED'],
      [2, 'fix', 'COMPLETED'],
      [3, 'bump', 'COMPLETED'],
      [3, 'test', 'COMPLETED'],
      [3, 'fix', 'SKIPPED'],
    ]);
    expect(ofType(events, 'LOOP_ITERATION_STARTED').map((e) => (e.data as { iteration: number }).iteration)).toEqual([1, 2, 3]);
    expect(ofType(events, 'LOOP_ITERATION_COMPLETED').map((e) => (e.data as { until: boolean }).until)).toEqual([false, false, true]);
    expect(events.filter((e) => e.type === 'STEP_STARTED' && e.stepName === 'bump').map((e) => (e.data as { iteration: number }).iteration)).toEqual([1, 2, 3]);
    expect(ofType(events, 'STEP_COMPLETED').find((e) => e.stepName === 'repeat')?.message).toMatch(/held after 3 iterations$/);
    // The last iteration's values are what later steps see.
    expect(readFileSync(join(project.path, 'after.txt'), 'utf8')).toBe('done after try 3\n');
    expect(readFileSync(join(project.path, 'fix-2.txt'), 'utf8')).toBe('fixing after try 2');
  });

  it('runs out of iterations: the loop FAILS with a message that says so, and the run with it', async () => {
    const project = await createProject(t);
    const { run } = await runWorkflow(t, project.id, 'until-third', { tries: 2 });
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe(
      "Step \"repeat\" failed: loop \"repeat\" ran its 2 iterations and ${{ steps.test.outcome == 'success' }} never held. Raise maxIterations, or look at the last iteration's steps.",
    );
    expect(stepOf(run, 'after').status).toBe('SKIPPED');
    // On the last iteration the fix is not attempted (its condition says so).
    expect(stepOf(run, 'fix', 2).status).toBe('SKIPPED');
  });

  it('definitions: loops are checked like the workflow (their own needs, what until and their steps may refer to)', async () => {
    const definition = `name: bad-loop
version: "1"
steps:
  - name: repeat
    type: LOOP
    maxIterations: 0
    until: \${{ steps.nowhere.outcome == 'success' }}
    steps:
      - { name: a, type: SHELL_COMMAND, command: "true", needs: [b] }
      - { name: b, type: SHELL_COMMAND, command: "true", needs: [a] }
  - { name: outside, type: FILE_WRITE, outputFile: x, content: "\${{ loop.iteration }}" }
`;
    const { validateWorkflow } = await t.client.request(ValidateWorkflowDocument, { definition });
    expect(validateWorkflow.problems.map((p) => `${p.line}:${p.column} ${p.message}`)).toEqual([
      expect.stringMatching(/^6:20 steps\[0\]\.maxIterations /),
    ]);
    const fixed = definition.replace('maxIterations: 0', 'maxIterations: 3');
    const again = await t.client.request(ValidateWorkflowDocument, { definition: fixed });
    expect(again.validateWorkflow.problems.map((p) => `${p.line}:${p.column} ${p.message}`)).toEqual([
      '7:12 steps[0].until: in "${{ steps.nowhere.outcome == \'success\' }}": step "repeat" refers to step "nowhere", which this workflow does not have',
      '9:9 the needs of loop "repeat" go round in a circle: a → b → a; no step of it could ever start',
      '11:65 steps[1].content: in "${{ loop.iteration }}": loop.… can only be used inside a loop (a LOOP step\'s steps, or its until)',
    ]);
  });
});
