/**
 * Crash recovery with the real server in a child process, killed with SIGKILL in the middle of a
 * run of the built-in quarkus-bootstrap-v1 workflow (planner → coder → maven_test) and started again
 * on the same database: the run is found RUNNING, gets RUN_RECOVERED, continues from the step that
 * was cut off without redoing the completed ones, kills what the dead server left running, and
 * completes with a gapless event log that a subscriber replays from the start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunDocument, RunEventsDocument, type EventFieldsFragment } from '../../src/client/generated/graphql.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { createCommandLauncher } from '../../src/engine/sandbox.js';
import { collect, makeTempDir, waitFor } from '../helpers/test-app.js';
import { seqRange } from '../api/api-helpers.js';
import { CODER_MODEL, PLAN_TOKENS, PLANNER_MODEL, coderAnswer, expectGaplessSeqs, ofType, tokensOf } from '../workflow/support.js';
import {
  MVN_SUCCESS,
  createProjectAndRun,
  killAllServers,
  killProcessesMatching,
  liveProcessesMatching,
  queryAllEvents,
  readRunFromDatabase,
  spawnServer,
  within,
  writeStubMvn,
  type ServerChild,
} from './support.js';

const CODER_TOKENS = tokensOf(coderAnswer(), 1);

async function bubblewrapWorks(): Promise<boolean> {
  const dir = makeTempDir('bwrap-probe-');
  try {
    const launcher = await createCommandLauncher({ setting: 'auto', databasePath: ':memory:', homeFolders: [dir], mavenDir: join(dir, 'm2'), hiddenPaths: [] });
    return launcher.status.active;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('crash recovery after kill -9 of the server', { timeout: 150_000 }, () => {
  let fake: FakeOllama;
  let dir: string;
  let databasePath: string;
  let workspace: string;
  /** Command-line markers of processes a test started (directly or through the server), killed by pid afterwards. */
  const markers: string[] = [];
  const decoys: ChildProcess[] = [];

  beforeEach(async () => {
    dir = makeTempDir('agent-runner-crash-');
    databasePath = join(dir, 'agent-runner.db');
    workspace = join(dir, 'workspace');
    fake = await startFakeOllama({ models: [PLANNER_MODEL, CODER_MODEL] });
    fake.script(PLANNER_MODEL, { tokens: PLAN_TOKENS, tokenDelayMs: 10 });
    fake.script(CODER_MODEL, { tokens: CODER_TOKENS, tokenDelayMs: 10 });
  });

  afterEach(async () => {
    await killAllServers();
    for (const decoy of decoys.splice(0)) decoy.kill('SIGKILL');
    for (const marker of markers.splice(0)) killProcessesMatching(marker);
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function serverEnv(bin: string): Record<string, string> {
    return {
      DATABASE_PATH: databasePath,
      OLLAMA_BASE_URL: fake.url,
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      STREAM_COALESCE_MS: '20',
    };
  }

  function generateRequests(model: string) {
    return fake.requests.filter((r) => r.path === '/api/generate' && r.model === model);
  }

  async function eventsOf(server: ServerChild, runId: string): Promise<EventFieldsFragment[]> {
    return queryAllEvents(server.client, runId);
  }

  async function killHard(server: ServerChild): Promise<void> {
    server.child.kill('SIGKILL');
    expect(await within(server.exited, 10_000, 'the exit of the killed server')).toEqual({ code: null, signal: 'SIGKILL' });
  }

  it('continues a run killed during the coder step from the coder step: RUN_RECOVERED, planner not redone, gapless log, replayable from the start', async () => {
    const env = serverEnv(writeStubMvn(dir, MVN_SUCCESS));
    // The coder answers slowly, so the server dies in the middle of its answer.
    fake.script(CODER_MODEL, { tokens: CODER_TOKENS, tokenDelayMs: 400 });

    const first = await spawnServer(env);
    const { run } = await createProjectAndRun(first.client, workspace);
    await waitFor(async () => (await eventsOf(first, run.id)).some((e) => e.type === 'LLM_TOKEN' && e.stepName === 'coder'), {
      timeoutMs: 45_000,
      intervalMs: 100,
      what: 'the coder step to stream tokens',
    });
    const planMtime = statSync(join(workspace, 'PLAN.md')).mtimeMs;
    await killHard(first);

    // What the dead server left in the database (read without starting a server, which would recover it).
    const crashed = await readRunFromDatabase(databasePath, run.id);
    expect(crashed.run.status).toBe('RUNNING');
    expect(crashed.steps.map((s) => [s.name, s.status])).toEqual([
      ['planner', 'COMPLETED'],
      ['coder', 'RUNNING'],
      ['maven_test', 'PENDING'],
    ]);
    expectGaplessSeqs(crashed.events);
    expect(crashed.events.filter((e) => e.type === 'RUN_RECOVERED' || e.type === 'WORKFLOW_COMPLETED')).toHaveLength(0);

    // The same server again, on the same database; the coder now answers quickly.
    fake.script(CODER_MODEL, { tokens: CODER_TOKENS, tokenDelayMs: 5 });
    const second = await spawnServer(env);
    // A subscriber that joins right after the restart, from the very start of the log.
    const streamed = (await collect(second.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 }), { timeoutMs: 60_000 })).map((r) => r.runEvents);

    const { run: finished } = await second.client.request(RunDocument, { id: run.id });
    expect(finished?.status).toBe('COMPLETED');
    expect(finished?.steps.map((s) => [s.name, s.status])).toEqual([
      ['planner', 'COMPLETED'],
      ['coder', 'COMPLETED'],
      ['maven_test', 'COMPLETED'],
    ]);

    const events = await eventsOf(second, run.id);
    expect(events.map((e) => e.seq)).toEqual(seqRange(1, events.length));
    // The subscriber got every event, in order, and its stream ended at WORKFLOW_COMPLETED.
    expect(streamed).toEqual(events);
    expect(streamed.at(-1)?.type).toBe('WORKFLOW_COMPLETED');
    // History written before the crash is kept as it was.
    expect(events.slice(0, crashed.events.length).map((e) => [e.seq, e.type, e.message])).toEqual(crashed.events.map((e) => [e.seq, e.type, e.message]));

    const recovered = ofType(events, 'RUN_RECOVERED');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.seq).toBe(crashed.events.length + 1);
    expect(recovered[0]!.data).toMatchObject({ interruptedStep: 'coder', nextStep: 'coder' });
    expect(recovered[0]!.message).toContain('coder');

    // Completed steps are not redone: the planner started once, asked the model once, and its file was not rewritten.
    const started = ofType(events, 'STEP_STARTED').map((e) => e.stepName);
    expect(started).toEqual(['planner', 'coder', 'coder', 'maven_test']);
    expect(generateRequests(PLANNER_MODEL)).toHaveLength(1);
    expect(generateRequests(CODER_MODEL)).toHaveLength(2);
    expect(statSync(join(workspace, 'PLAN.md')).mtimeMs).toBe(planMtime);

    // A subscriber arriving after the end replays everything and completes.
    const replayed = await collect(second.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 }), { timeoutMs: 20_000 });
    expect(replayed.map((r) => r.runEvents)).toEqual(events);
  });

  // Unsandboxed, the commands outlive a server killed with SIGKILL and recovery kills them; in the
  // sandbox (bwrap --die-with-parent), they end with the server's command runner at once.
  it.each([
    ['SANDBOX=off', 'off'],
    ['SANDBOX=on', 'on'],
  ] as const)('%s: no process a killed server left running in a Maven step survives the next start (those of another server are left alone), and the run completes', async (_label, sandbox) => {
    if (sandbox === 'on' && !(await bubblewrapWorks())) {
      console.warn('SKIPPED: bubblewrap is not available here: crash recovery of sandboxed commands is NOT tested');
      return;
    }
    const sleepArg = `300.${randomInt(100_000, 999_999)}`;
    const leftover = `sleep ${sleepArg}`;
    markers.push(leftover);
    // In the workspace (the command's folder): the sandbox keeps nothing it writes anywhere else.
    const firstCall = 'mvn-called-once';
    // First call: hangs in two grandchildren of the step's shell. Later calls: succeed.
    const stub = `if [ ! -e "${firstCall}" ]; then
  touch "${firstCall}"
  echo "[INFO] stub mvn: hanging"
  sleep ${sleepArg} & sleep ${sleepArg}; wait
fi
${MVN_SUCCESS}`;
    const env = { ...serverEnv(writeStubMvn(dir, stub)), SANDBOX: sandbox };

    const first = await spawnServer(env);
    const { run } = await createProjectAndRun(first.client, workspace);
    await waitFor(() => liveProcessesMatching(leftover).length === 2, { timeoutMs: 45_000, intervalMs: 100, what: 'the stub mvn to start its sleeps' });

    // A command of another agent-runner (another database) whose run has the same id, in its own folder.
    const otherWorkspace = join(dir, 'other-server-workspace');
    mkdirSync(otherWorkspace);
    const decoyArg = `301.${randomInt(100_000, 999_999)}`;
    markers.push(`sleep ${decoyArg}`);
    const decoy = spawn('sleep', [decoyArg], { cwd: otherWorkspace, detached: true, stdio: 'ignore', env: { PATH: process.env.PATH ?? '', AGENT_RUNNER_RUN_ID: run.id } });
    decoys.push(decoy);
    await waitFor(() => liveProcessesMatching(`sleep ${decoyArg}`).length === 1, { what: 'the other server\'s command to start' });

    await killHard(first);
    if (sandbox === 'off') {
      // SIGKILL does not reach the step's process group: the sleeps outlive the server.
      expect(liveProcessesMatching(leftover)).toHaveLength(2);
    } else {
      await waitFor(() => liveProcessesMatching(leftover).length === 0, { what: 'the sandboxed sleeps to end with the command runner' });
    }
    const crashed = await readRunFromDatabase(databasePath, run.id);
    expect(crashed.run.status).toBe('RUNNING');
    expect(crashed.steps.map((s) => [s.name, s.status])).toEqual([
      ['planner', 'COMPLETED'],
      ['coder', 'COMPLETED'],
      ['maven_test', 'RUNNING'],
    ]);
    expectGaplessSeqs(crashed.events);

    const second = await spawnServer(env);
    // Recovery ran before the server listened: the leftovers are gone already (zombies waiting
    // for a reaper aside), so the step's new attempt cannot overlap with the old one …
    expect(liveProcessesMatching(leftover)).toEqual([]);
    const streamed = (await collect(second.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 }), { timeoutMs: 60_000 })).map((r) => r.runEvents);
    expect(streamed.at(-1)?.type).toBe('WORKFLOW_COMPLETED');

    const recovered = ofType(streamed, 'RUN_RECOVERED');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.data).toMatchObject({ interruptedStep: 'maven_test', nextStep: 'maven_test' });
    if (sandbox === 'off') {
      expect(recovered[0]!.message).toContain('Killed 1 leftover process group(s).');
      expect((recovered[0]!.data as { killedProcessGroups: number[] }).killedProcessGroups).toHaveLength(1);
    } else {
      expect(recovered[0]!.message).not.toContain('leftover');
      expect((recovered[0]!.data as { killedProcessGroups: number[] }).killedProcessGroups).toEqual([]);
    }
    // … and left the other server's command alone.
    expect(liveProcessesMatching(`sleep ${decoyArg}`)).toHaveLength(1);
    expect(decoy.exitCode).toBeNull();

    const events = await eventsOf(second, run.id);
    expect(streamed).toEqual(events);
    expect(events.map((e) => e.seq)).toEqual(seqRange(1, events.length));
    expect(ofType(events, 'STEP_STARTED').map((e) => e.stepName)).toEqual(['planner', 'coder', 'maven_test', 'maven_test']);
    expect(generateRequests(PLANNER_MODEL)).toHaveLength(1);
    expect(generateRequests(CODER_MODEL)).toHaveLength(1);
    const { run: finished } = await second.client.request(RunDocument, { id: run.id });
    expect(finished?.status).toBe('COMPLETED');
    expect(finished?.steps.find((s) => s.name === 'maven_test')).toMatchObject({ status: 'COMPLETED', attempt: 2 });
  });
});
