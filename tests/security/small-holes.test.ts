/**
 * The smaller holes of issue 11, item 6 that are about the server's own input and start-up:
 * a 300-character folder name and a NUL in a project name were INTERNAL_SERVER_ERRORs (the first
 * also left a project without its folder); a port already in use ended in an unhandled error with a
 * stack trace. Each is now a clear refusal that writes nothing, or the README's one line.
 * (The symlink race has its own file: symlink-race.test.ts.)
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateProjectDocument, ProjectsDocument } from '../../src/client/generated/graphql.js';
import { makeTempDir, startTestApp, type TestApp } from '../helpers/test-app.js';
import { expectGraphQLError, uniqueName } from '../api/api-helpers.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('createProject: input the file system or the database cannot take is refused up front', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ disableWorker: true });
  });
  afterAll(() => t?.close());

  async function expectNothingWritten(name: string, localPath: string, ...parts: RegExp[]) {
    const before = (await t.client.request(ProjectsDocument)).projects;
    await expectGraphQLError(t.client.request(CreateProjectDocument, { name, localPath }), 'BAD_USER_INPUT', ...parts);
    expect((await t.client.request(ProjectsDocument)).projects).toEqual(before);
  }

  it('a folder name of 300 characters → BAD_USER_INPUT naming the limit; no project, no folder', async () => {
    const parent = join(t.dir, 'long');
    const localPath = join(parent, 'a'.repeat(300), 'workspace');
    await expectNothingWritten(uniqueName(), localPath, /localPath/, /300 bytes long/, /at most 255/);
    expect(existsSync(parent)).toBe(false);
  });

  it('a folder name of 255 bytes is still fine', async () => {
    const localPath = join(t.dir, 'b'.repeat(255));
    const { createProject } = await t.client.request(CreateProjectDocument, { name: uniqueName(), localPath });
    expect(createProject.localPath).toBe(localPath);
    expect(existsSync(localPath)).toBe(true);
  });

  it.each([
    ['a NUL', 'evil\u0000name'],
    ['a line break', 'two\nlines'],
    ['an escape sequence', 'red\u001b[31m'],
  ])('%s in the project name → BAD_USER_INPUT naming the name; no project, no folder', async (_label, name) => {
    const localPath = join(t.dir, uniqueName('control'));
    await expectNothingWritten(name, localPath, /"name"/, /control characters/);
    expect(existsSync(localPath)).toBe(false);
  });
});

describe('a port already in use', { timeout: 120_000 }, () => {
  let buildDir: string;
  let dataDir: string;
  let taken: Server;

  beforeAll(async () => {
    // The server as `npm start` runs it: compiled, under plain node. One level below the repository,
    // like dist/, so it finds the console's build where dist/ would.
    buildDir = mkdtempSync(join(REPO_ROOT, '.port-test-build-'));
    const options = JSON.stringify({ dirs: [join(REPO_ROOT, 'src')], base: join(REPO_ROOT, 'src'), outDir: buildDir, sourcemap: true });
    execFileSync(process.execPath, ['--input-type=module', '-e', `import { compileToJs } from './scripts/compile-to-js.mjs'; await compileToJs(${options});`], { cwd: REPO_ROOT });
    dataDir = makeTempDir('agent-runner-port-');
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => taken?.close(resolve));
    rmSync(buildDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("ends with the README's one line and exit code 1, no stack trace", async () => {
    const port = (taken.address() as { port: number }).port;
    // Its own workflows folder: the default (./workflows) would be created in the repository.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', PORT: String(port), DATABASE_PATH: join(dataDir, 'agent-runner.db'), WORKFLOWS_DIR: join(dataDir, 'workflows') };
    const child = spawn(process.execPath, ['--enable-source-maps', join(buildDir, 'server.js')], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));

    expect(code).toBe(1);
    const lines = output.trim().split('\n');
    expect(lines.at(-1)).toBe(
      `agent-runner: cannot listen on 127.0.0.1:${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port}. Port ${port} is taken: stop the other server or set PORT.`,
    );
    expect(output).not.toMatch(/\n\s+at |Unhandled|node:events/);
    // Only start-up lines before it (the first start applies the migrations).
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/database .*: applied|web console|workflows \(definition files from /);
  });
});
