/**
 * One database, one server: a second server started on the SQLite file of a running one must refuse
 * to start, with one line naming the process that holds the database, and change nothing of the
 * first one's runs (it used to "recover" the live run: kill its command, run the step again, and
 * collide on UNIQUE(run_id, seq)). Both servers are real child processes; the lock is the kernel's,
 * so it goes when its holder is killed.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunDocument } from '../../src/client/generated/graphql.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { makeTempDir, waitFor } from '../helpers/test-app.js';
import { CODER_MODEL, PLAN_TOKENS, PLANNER_MODEL, coderAnswer, expectGaplessSeqs, ofType, tokensOf } from '../workflow/support.js';
import { MVN_SUCCESS, createProjectAndRun, killAllServers, queryAllEvents, spawnServer, spawnServerExpectingExit, within, writeStubMvn } from './support.js';

describe('one database, one server', { timeout: 150_000 }, () => {
  let fake: FakeOllama;
  let dir: string;

  beforeEach(async () => {
    dir = makeTempDir('agent-runner-one-server-');
    fake = await startFakeOllama({ models: [PLANNER_MODEL, CODER_MODEL] });
    fake.script(PLANNER_MODEL, { tokens: PLAN_TOKENS });
    fake.script(CODER_MODEL, { tokens: tokensOf(coderAnswer(), 1) });
  });

  afterEach(async () => {
    // The gate lets a waiting stub mvn finish, whatever became of its server.
    mkdirSync(join(dir, 'workspace'), { recursive: true });
    writeFileSync(join(dir, 'workspace', 'gate'), '');
    await killAllServers();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a second server on the same database refuses to start with one line naming the holder, and the first one\'s live run goes on untouched', async () => {
    // In the workspace: the sandboxed mvn sees nothing else of the host's files (its /tmp is its own).
    const calls = join(dir, 'workspace', 'mvn-calls');
    const gate = join(dir, 'workspace', 'gate');
    // mvn logs each call, then waits for the gate: the run stays live in its last step, a command running.
    const bin = writeStubMvn(dir, `echo "$$" >> "${calls}"\nwhile [ ! -e "${gate}" ]; do sleep 0.05; done\n${MVN_SUCCESS}`);
    const env = { DATABASE_PATH: join(dir, 'data', 'agent-runner.db'), OLLAMA_BASE_URL: fake.url, PATH: `${bin}:${process.env.PATH ?? ''}` };

    const first = await spawnServer(env);
    const { run } = await createProjectAndRun(first.client, join(dir, 'workspace'));
    await waitFor(() => existsSync(calls), { timeoutMs: 45_000, intervalMs: 50, what: 'the stub mvn to start' });
    const before = await queryAllEvents(first.client, run.id);

    const second = await spawnServerExpectingExit(env);
    expect(second.code).toBe(1);
    const lines = `${second.stdout}${second.stderr}`.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^agent-runner: cannot open the database at .*agent-runner\.db: another agent-runner server is using it: process \d+ /);
    expect(lines[0]).toContain(`process ${first.child.pid} `);
    expect(lines[0]).toContain('server.ts');
    expect(lines[0]).toMatch(/Stop that server first, or set DATABASE_PATH/);

    // Nothing of the first server's run changed: no event, the same command still running.
    expect(await queryAllEvents(first.client, run.id)).toEqual(before);
    const { run: live } = await first.client.request(RunDocument, { id: run.id });
    expect(live?.status).toBe('RUNNING');
    expect(live?.steps.map((s) => [s.name, s.status, s.attempt])).toEqual([
      ['planner', 'COMPLETED', 1],
      ['coder', 'COMPLETED', 1],
      ['maven_test', 'RUNNING', 1],
    ]);

    writeFileSync(gate, '');
    const finished = await waitFor(
      async () => {
        const { run: current } = await first.client.request(RunDocument, { id: run.id });
        return current?.status === 'COMPLETED' || current?.status === 'FAILED' ? current : null;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'the run to end' },
    );
    expect(finished.status).toBe('COMPLETED');
    expect(finished.steps.map((s) => [s.name, s.status, s.attempt])).toEqual([
      ['planner', 'COMPLETED', 1],
      ['coder', 'COMPLETED', 1],
      ['maven_test', 'COMPLETED', 1],
    ]);
    const events = await queryAllEvents(first.client, run.id);
    expectGaplessSeqs(events);
    expect(ofType(events, 'RUN_RECOVERED')).toEqual([]);
    expect(ofType(events, 'STEP_STARTED').map((e) => e.stepName)).toEqual(['planner', 'coder', 'maven_test']);
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(first.output()).not.toMatch(/UNIQUE|ERROR/);

    // The lock is the kernel's: a holder killed with SIGKILL leaves it free for the next server.
    first.child.kill('SIGKILL');
    await within(first.exited, 10_000, 'the exit of the first server');
    const third = await spawnServer(env);
    const { run: after } = await third.client.request(RunDocument, { id: run.id });
    expect(after?.status).toBe('COMPLETED');
  });
});
