import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileWrite } from '../../src/engine/steps/file-write.js';
import { StepError } from '../../src/engine/types.js';
import { createTestStepContext, makeTempFolder } from './step-context.js';

let folder: Awaited<ReturnType<typeof makeTempFolder>>;
beforeEach(async () => {
  folder = await makeTempFolder('file-write-');
});
afterEach(() => folder.remove());

describe('FILE_WRITE', () => {
  it('writes content with the goal and earlier outputs filled in, and records the artifact', async () => {
    const test = createTestStepContext({
      root: folder.path,
      goal: 'a GraphQL service',
      outputs: { planner: 'the plan' },
      step: { type: 'FILE_WRITE', name: 'notes', outputFile: 'docs/NOTES.md', content: 'Goal: {goal}\nPlan: {output:planner}\nMissing: [{output:nobody}]\n', saveArtifact: true },
    });
    const result = await fileWrite(test.ctx);
    const expected = 'Goal: a GraphQL service\nPlan: the plan\nMissing: []\n';
    expect(result.output).toBe(expected);
    expect(await readFile(path.join(folder.path, 'docs/NOTES.md'), 'utf8')).toBe(expected);
    expect(test.artifacts).toEqual([{ path: 'docs/NOTES.md', kind: 'FILE', sizeBytes: Buffer.byteLength(expected) }]);
  });

  it('writes the output of an earlier step, untouched', async () => {
    const test = createTestStepContext({
      root: folder.path,
      outputs: { planner: 'Plan with {goal} kept literally' },
      step: { type: 'FILE_WRITE', outputFile: 'PLAN.md', contentFrom: 'planner' },
    });
    await fileWrite(test.ctx);
    expect(await readFile(path.join(folder.path, 'PLAN.md'), 'utf8')).toBe('Plan with {goal} kept literally');
    expect(test.artifacts).toEqual([]);
  });

  it('fails when the step it copies has no output, or there is no outputFile', async () => {
    const missing = createTestStepContext({ root: folder.path, step: { type: 'FILE_WRITE', outputFile: 'PLAN.md', contentFrom: 'planner' } });
    await expect(fileWrite(missing.ctx)).rejects.toThrow(/step "planner", but that step has no output/);
    const noFile = createTestStepContext({ root: folder.path, step: { type: 'FILE_WRITE', content: 'x' } });
    await expect(fileWrite(noFile.ctx)).rejects.toBeInstanceOf(StepError);
    await expect(fileWrite(noFile.ctx)).rejects.toThrow(/no outputFile/);
  });

  it('refuses an outputFile outside the workspace', async () => {
    const test = createTestStepContext({ root: folder.path, step: { type: 'FILE_WRITE', outputFile: '../escape.txt', content: 'x' } });
    await expect(fileWrite(test.ctx)).rejects.toThrow(/leads outside the project folder/);
  });
});
