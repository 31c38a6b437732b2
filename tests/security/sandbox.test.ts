/**
 * Commands sandboxed by default (issue 11, item 3), through the real server: a shell step written
 * the way a hostile model would write a build tries to read the server's database, write outside its
 * workspace, read the user's SSH key, reach the network when its step says `network: false`, and
 * leave a `setsid` process behind. In the sandbox every attempt fails and no process survives; the
 * same command unsandboxed (SANDBOX=off) gets in, which shows the probes work. The database, the
 * workspace and the fake home live outside /tmp, so the private /tmp alone cannot explain a refusal.
 *
 * Without a working bubblewrap the sandboxed tests are skipped, and say so loudly.
 */
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CreateRunDocument, WorkerDocument } from '../../src/client/generated/graphql.js';
import { createCommandLauncher } from '../../src/engine/sandbox.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { processesOfRun } from '../helpers/processes.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { killAllServers, spawnServer } from '../durability/support.js';
import { createProject, getRun, ofType, streamToEnd, testWorkflow } from '../workflow/support.js';

/**
 * Outside /tmp (and /var/tmp, /run), which the sandbox makes private anyway: under the user's cache
 * folder, visible (read-only) in the sandbox, so only the sandbox's own rules can refuse what is tried.
 */
const SCRATCH_ROOT = join(homedir(), '.cache', 'agent-runner-tests');

let bubblewrap: string | null = null;
let scratch: string;
beforeAll(async () => {
  mkdirSync(SCRATCH_ROOT, { recursive: true });
  scratch = mkdtempSync(join(SCRATCH_ROOT, 'sandbox-'));
  const probe = await createCommandLauncher({ setting: 'auto', databasePath: ':memory:', homeFolders: [join(scratch, 'probe')], mavenDir: join(scratch, 'probe', 'm2'), hiddenPaths: [] });
  bubblewrap = probe.status.active ? probe.status.tool : null;
  if (!bubblewrap) console.warn(`\n*** tests/security/sandbox: RUNNING WITHOUT THE SANDBOX — the sandboxed tests are SKIPPED: ${probe.status.summary}\n`);
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  try {
    rmdirSync(SCRATCH_ROOT);
  } catch {
    // Another test run's folder is in it.
  }
});

let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
  vi.unstubAllEnvs();
  await killAllServers();
});

interface Attack {
  /** Lines the command printed (`db: refused`, …). */
  report: string[];
  runId: string;
  workspace: string;
  outside: string;
  status: string;
  token: string;
  events: Awaited<ReturnType<typeof streamToEnd>>;
}

/** Starts a server with `sandbox` on a database outside /tmp, and runs the attacking command in a project there. */
async function attack(sandbox: 'on' | 'off', options: { network?: boolean } = {}): Promise<Attack> {
  const dir = mkdtempSync(join(scratch, `${sandbox}-`));
  const home = join(dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  const secret = `SECRET-KEY-${randomInt(1e9)}`;
  writeFileSync(join(home, '.ssh', 'id_ed25519'), secret);
  const outside = join(scratch, `written-outside-${randomInt(1e9)}.txt`);
  const token = `333.${randomInt(100_000, 999_999)}`;
  const databasePath = join(dir, 'agent-runner.db');
  const command = [
    `if cat '${databasePath}' >/dev/null 2>&1; then echo 'db: read'; else echo 'db: refused'; fi`,
    `if (echo pwned > '${outside}') 2>/dev/null; then echo 'write: done'; else echo 'write: refused'; fi`,
    `if grep -q SECRET-KEY "$HOME/.ssh/id_ed25519" 2>/dev/null || grep -q SECRET-KEY '${home}/.ssh/id_ed25519' 2>/dev/null; then echo 'ssh: read'; else echo 'ssh: refused'; fi`,
    `if echo inside > inside.txt; then echo 'workspace: written'; fi`,
    `echo "token: [\${API_TOKEN:-none}]"`,
    `echo "github: [\${GITHUB_TOKEN:-none}]"`,
    // A connection to the server itself (listening on the loopback outside).
    `node -e "require('net').connect(Number(process.argv[1]), '127.0.0.1').on('connect', () => { console.log('net: connected'); process.exit(0) }).on('error', () => { console.log('net: refused'); process.exit(0) })" "$SERVER_PORT"`,
    `setsid sleep ${token} >/dev/null 2>&1 &`,
    'echo done',
  ].join('\n');
  const workflow = testWorkflow(`attack-${sandbox}`, [{ name: 'attack', type: 'SHELL_COMMAND', command, network: options.network ?? true, saveArtifact: true }]);
  app = await startTestApp(
    { sandbox, homeFolders: [home], apiToken: 'server-secret', killGraceMs: 300 },
    { dir, workflows: [workflow] },
  );
  // What the commands inherit from the server's environment.
  vi.stubEnv('SERVER_PORT', new URL(app.url).port);
  vi.stubEnv('API_TOKEN', 'server-secret');
  vi.stubEnv('GITHUB_TOKEN', 'user-credential');
  const project = await createProject(app);
  const { createRun: created } = await app.client.request(CreateRunDocument, {
    input: { projectId: project.id, goal: 'attack', options: { workflowName: `attack-${sandbox}` } },
  });
  const events = await streamToEnd(app, created.id);
  const run = await getRun(app, created.id);
  const report = ofType(events, 'SHELL_OUTPUT')
    .map((e) => (e.data as { text: string }).text)
    .join('')
    .split('\n')
    .filter(Boolean);
  return { report, runId: created.id, workspace: project.path, outside, status: run.status, token, events };
}

describe('commands in the sandbox (SANDBOX=on)', () => {
  it('cannot read the database, write outside the workspace, read ~/.ssh or see the server’s token or a credential variable; leaves no process behind', async ({ skip }) => {
    if (!bubblewrap) skip('bubblewrap is not available here: the sandbox is NOT tested');
    const result = await attack('on');
    expect(result.status).toBe('COMPLETED');
    expect(result.report).toEqual(expect.arrayContaining(['db: refused', 'write: refused', 'ssh: refused', 'workspace: written', 'token: [none]', 'github: [none]', 'net: connected', 'done']));
    expect(existsSync(result.outside)).toBe(false);
    expect(readFileSync(join(result.workspace, 'inside.txt'), 'utf8')).toBe('inside\n');
    expect(processesOfRun(result.runId, result.workspace)).toEqual([]);
    expect(ofType(result.events, 'SHELL_EXECUTING')[0]?.data).toMatchObject({ sandboxed: true, network: true });

    const { worker } = await app!.client.request(WorkerDocument);
    expect(worker.sandbox).toMatchObject({ setting: 'ON', active: true, tool: bubblewrap, containment: 'PID_NAMESPACE' });
    expect(worker.sandbox.summary).toMatch(/^Commands run sandboxed/);
  });

  it('has no network when its step says network: false', async ({ skip }) => {
    if (!bubblewrap) skip('bubblewrap is not available here: the sandbox is NOT tested');
    const result = await attack('on', { network: false });
    expect(result.report).toContain('net: refused');
    expect(ofType(result.events, 'SHELL_EXECUTING')[0]?.data).toMatchObject({ sandboxed: true, network: false });
  });
});

describe('the same command unsandboxed (SANDBOX=off): the probes do detect a way in', () => {
  it('reads the database and ~/.ssh and writes outside the workspace; still never sees the server’s own token, and leaves no process behind', async () => {
    const result = await attack('off');
    try {
      expect(result.report).toEqual(expect.arrayContaining(['db: read', 'write: done', 'ssh: read', 'token: [none]', 'github: [user-credential]', 'net: connected']));
      expect(existsSync(result.outside)).toBe(true);
    } finally {
      rmSync(result.outside, { force: true });
    }
    expect(processesOfRun(result.runId, result.workspace)).toEqual([]);
    const { worker } = await app!.client.request(WorkerDocument);
    expect(worker.sandbox).toMatchObject({ setting: 'OFF', active: false, tool: null });
    expect(worker.sandbox.summary).toContain('WITHOUT a sandbox (SANDBOX=off)');
  });
});

describe('without bubblewrap on PATH', () => {
  it('SANDBOX=on refuses to start, saying what to install', async () => {
    vi.stubEnv('PATH', join(scratch, 'no-such-bin'));
    const dir = mkdtempSync(join(scratch, 'refused-'));
    const config = loadConfig({}, { databasePath: join(dir, 'agent-runner.db'), workflowsDir: join(dir, 'workflows'), sandbox: 'on', logLevel: 'silent', port: 0 });
    await expect(buildApp(config)).rejects.toThrow(
      'SANDBOX=on, but commands cannot be sandboxed: bubblewrap (bwrap) is not installed or not on PATH. Install bubblewrap (apt-get install -y bubblewrap), or set SANDBOX=auto to run commands unsandboxed with a warning.',
    );
    // Nothing was opened: no database file.
    expect(existsSync(join(dir, 'agent-runner.db'))).toBe(false);
  });

  it('the server (npm start’s entry): SANDBOX=on exits with one line saying what to install; SANDBOX=auto starts and warns', async () => {
    const dir = mkdtempSync(join(scratch, 'entry-'));
    const env = { PATH: join(scratch, 'no-such-bin'), DATABASE_PATH: join(dir, 'agent-runner.db'), WORKFLOWS_DIR: join(dir, 'workflows') };
    const refused = await spawnServer({ ...env, SANDBOX: 'on' }).then(
      () => 'started',
      (error: Error) => error.message,
    );
    expect(refused).toContain('the server exited (code 2, signal null) before it listened');
    expect(refused).toContain('agent-runner: SANDBOX=on, but commands cannot be sandboxed: bubblewrap (bwrap) is not installed or not on PATH.');
    const started = await spawnServer({ ...env, SANDBOX: 'auto' });
    await waitFor(() => started.output().includes('agent-runner: WARNING: Commands run WITHOUT a sandbox: bubblewrap (bwrap) is not installed or not on PATH.'), {
      what: 'the warning',
    });
    await killAllServers();
  });

  it('SANDBOX=auto starts, and the worker status says commands are not sandboxed and why', async () => {
    vi.stubEnv('PATH', join(scratch, 'no-such-bin'));
    app = await startTestApp({ sandbox: 'auto' }, { dir: mkdtempSync(join(scratch, 'auto-')) });
    const { worker } = await app.client.request(WorkerDocument);
    expect(worker.sandbox).toMatchObject({ setting: 'AUTO', active: false, tool: null, containment: 'PROCESS_GROUP' });
    expect(worker.sandbox.summary).toContain('Commands run WITHOUT a sandbox: bubblewrap (bwrap) is not installed or not on PATH. Install bubblewrap');
  });
});
