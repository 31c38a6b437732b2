import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mavenCommand } from '../../src/engine/steps/maven-command.js';
import { StepError } from '../../src/engine/types.js';
import { createTestStepContext, makeTempFolder } from './step-context.js';

let folder: Awaited<ReturnType<typeof makeTempFolder>>;
let workspaceRoot: string;
let binFolder: string;

beforeEach(async () => {
  folder = await makeTempFolder('maven-');
  workspaceRoot = path.join(folder.path, 'project');
  binFolder = path.join(folder.path, 'bin');
  await mkdir(workspaceRoot);
  await mkdir(binFolder);
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await folder.remove();
});

function mavenStep(command: string) {
  return createTestStepContext({ root: workspaceRoot, step: { type: 'MAVEN_COMMAND', name: 'maven_test', command } });
}

describe('MAVEN_COMMAND', () => {
  it('says Maven is missing when no executable mvn is on PATH', async () => {
    // A file named mvn that is not executable does not count.
    await writeFile(path.join(binFolder, 'mvn'), '#!/bin/sh\n');
    vi.stubEnv('PATH', `${binFolder}${path.delimiter}${path.join(folder.path, 'nowhere')}`);
    const test = mavenStep('test');
    const error = await mavenCommand(test.ctx).then(
      () => undefined,
      (thrown: unknown) => thrown as StepError,
    );
    expect(error).toBeInstanceOf(StepError);
    expect(error?.message).toBe('Maven (mvn) is not installed or not on PATH');
    expect(error?.retryable).toBe(false);
    expect(test.events).toEqual([]);
  });

  it('runs mvn from PATH, adding "mvn " when the command lacks it', async () => {
    await writeFile(path.join(binFolder, 'mvn'), '#!/bin/sh\necho "stub mvn $*"\n');
    await chmod(path.join(binFolder, 'mvn'), 0o755);
    vi.stubEnv('PATH', `${binFolder}${path.delimiter}${process.env.PATH ?? ''}`);

    const bare = mavenStep('test -q');
    const result = await mavenCommand(bare.ctx);
    expect(bare.events[0]?.message).toBe('Running: mvn test -q');
    expect(result.output).toBe('stub mvn test -q\n');
    expect(result.data).toMatchObject({ exitCode: 0, command: 'mvn test -q' });

    const full = mavenStep('mvn -B verify');
    expect((await mavenCommand(full.ctx)).output).toBe('stub mvn -B verify\n');
  });

  it('fails like a shell command when mvn fails', async () => {
    await writeFile(path.join(binFolder, 'mvn'), '#!/bin/sh\necho "[ERROR] Tests run: 3, Failures: 1"\nexit 1\n');
    await chmod(path.join(binFolder, 'mvn'), 0o755);
    vi.stubEnv('PATH', `${binFolder}${path.delimiter}${process.env.PATH ?? ''}`);
    await expect(mavenCommand(mavenStep('mvn test').ctx)).rejects.toThrow('Command "mvn test" exited with code 1. Last lines of output:\n[ERROR] Tests run: 3, Failures: 1');
  });
});
