import { mkdir, readdir, readFile, stat, symlink, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StepError } from '../../src/engine/types.js';
import { Workspace } from '../../src/engine/workspace.js';
import { makeTempFolder } from './step-context.js';

let base: Awaited<ReturnType<typeof makeTempFolder>>;
let root: string;
let outside: string;

beforeEach(async () => {
  base = await makeTempFolder('workspace-');
  root = path.join(base.path, 'project');
  outside = path.join(base.path, 'outside');
  await mkdir(root);
  await mkdir(outside);
});
afterEach(() => base.remove());

async function refusal(attempt: Promise<unknown>): Promise<StepError> {
  const error = await attempt.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(StepError);
  expect((error as StepError).retryable).toBe(false);
  return error as StepError;
}

describe('Workspace', () => {
  it('writes files, creating parent folders, and reads them back', async () => {
    const workspace = new Workspace(root);
    const size = await workspace.writeFile('src/main/java/App.java', 'class App {}\n');
    expect(size).toBe(13);
    expect(await readFile(path.join(root, 'src/main/java/App.java'), 'utf8')).toBe('class App {}\n');
    expect(await workspace.readFile('src/main/java/App.java')).toBe('class App {}\n');
    expect(await workspace.resolve('./a/../b.txt')).toBe(path.join(root, 'b.txt'));
  });

  it('counts bytes, not characters, and leaves no temporary file behind', async () => {
    const workspace = new Workspace(root);
    expect(await workspace.writeFile('é.txt', 'héllo')).toBe(6);
    await workspace.writeFile('é.txt', 'again');
    expect(await readdir(root)).toEqual(['é.txt']);
  });

  it('keeps the mode of a file it replaces', async () => {
    const workspace = new Workspace(root);
    await workspace.writeFile('mvnw', '#!/bin/sh\n');
    await chmod(path.join(root, 'mvnw'), 0o755);
    await workspace.writeFile('mvnw', '#!/bin/sh\necho new\n');
    expect((await stat(path.join(root, 'mvnw'))).mode & 0o777).toBe(0o755);
  });

  it('refuses absolute paths', async () => {
    const error = await refusal(new Workspace(root).writeFile('/etc/passwd', 'x'));
    expect(error.message).toBe('Refused absolute path "/etc/passwd": paths must be relative to the project folder');
  });

  it('refuses .. escapes, and writes nothing outside', async () => {
    const workspace = new Workspace(root);
    const error = await refusal(workspace.writeFile('../outside/x.txt', 'x'));
    expect(error.message).toBe(`Refused path "../outside/x.txt": it leads outside the project folder ${root}`);
    await refusal(workspace.writeFile('src/../../outside/y.txt', 'x'));
    await refusal(workspace.readFile('../outside/x.txt'));
    expect(await readdir(outside)).toEqual([]);
  });

  it('refuses empty paths, NUL bytes and the folder itself', async () => {
    const workspace = new Workspace(root);
    expect((await refusal(workspace.resolve(''))).message).toMatch(/empty path/);
    expect((await refusal(workspace.resolve('a\0b'))).message).toMatch(/NUL byte/);
    expect((await refusal(workspace.resolve('.'))).message).toMatch(/project folder itself/);
  });

  it('refuses a symbolic link to a folder outside, and writes nothing there', async () => {
    await symlink(outside, path.join(root, 'escape'));
    const workspace = new Workspace(root);
    const error = await refusal(workspace.writeFile('escape/x.txt', 'x'));
    expect(error.message).toMatch(/leads outside the project folder/);
    await refusal(workspace.writeFile('escape/deeper/still/x.txt', 'x'));
    expect(await readdir(outside)).toEqual([]);
  });

  it('refuses a symbolic link to a file outside, for reading and writing', async () => {
    await writeFile(path.join(outside, 'secret.txt'), 'secret');
    await symlink(path.join(outside, 'secret.txt'), path.join(root, 'secret.txt'));
    const workspace = new Workspace(root);
    await refusal(workspace.readFile('secret.txt'));
    await refusal(workspace.writeFile('secret.txt', 'overwritten'));
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('secret');
  });

  it('refuses a symbolic link whose target is missing', async () => {
    await symlink(path.join(outside, 'missing'), path.join(root, 'dangling'));
    await refusal(new Workspace(root).writeFile('dangling/x.txt', 'x'));
    expect(await readdir(outside)).toEqual([]);
  });

  it('refuses a path under a symlinked parent folder that leads outside', async () => {
    await mkdir(path.join(root, 'src'));
    await symlink(outside, path.join(root, 'src', 'main'));
    await refusal(new Workspace(root).writeFile('src/main/java/App.java', 'x'));
    expect(await readdir(outside)).toEqual([]);
  });

  it('accepts symbolic links that stay inside, and a project folder reached through a link', async () => {
    await mkdir(path.join(root, 'real'));
    await symlink(path.join(root, 'real'), path.join(root, 'alias'));
    await symlink(root, path.join(base.path, 'project-link'));
    const workspace = new Workspace(path.join(base.path, 'project-link'));
    await workspace.writeFile('alias/x.txt', 'inside');
    expect(await readFile(path.join(root, 'real', 'x.txt'), 'utf8')).toBe('inside');
  });

  it('creates a project folder that does not exist yet', async () => {
    const workspace = new Workspace(path.join(base.path, 'new-project'));
    await workspace.writeFile('PLAN.md', '# Plan\n');
    expect(await readFile(path.join(base.path, 'new-project', 'PLAN.md'), 'utf8')).toBe('# Plan\n');
  });
});
