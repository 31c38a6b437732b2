/**
 * Graceful shutdown of the real server (a child process) on SIGTERM, in the middle of a run of the
 * built-in quarkus-bootstrap-v1 workflow: a step that ends within SHUTDOWN_GRACE_SECONDS completes
 * and is kept; one that does not is cut off. Either way the server exits 0, leaves the run RUNNING
 * with a gapless log, and the next start continues it from the first step that did not complete.
 */
import { randomInt } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunDocument, RunEventsDocument, type EventFieldsFragment } from '../../src/client/generated/graphql.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { collect, makeTempDir, waitFor } from '../helpers/test-app.js';
import { seqRange } from '../api/api-helpers.js';
import { CODER_MODEL, PLAN_TEXT, PLANNER_MODEL, coderAnswer, expectGaplessSeqs, ofType, tokensOf } from '../workflow/support.js';
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

const PLAN_TOKENS = tokensOf(PLAN_TEXT, 1);
const CODER_TOKENS = tokensOf(coderAnswer(), 1);

describe('graceful shutdown on SIGTERM', { timeout: 150_000 }, () => {
  let fake: FakeOllama;
  let dir: string;
  let databasePath: string;
  let workspace: string;
  let env: Record<string, string>;

  beforeEach(async () => {
    dir = makeTempDir('agent-runner-shutdown-');
    databasePath = join(dir, 'agent-runner.db');
    workspace = join(dir, 'workspace');
    fake = await startFakeOllama({ models: [PLANNER_MODEL, CODER_MODEL] });
    fake.script(PLANNER_MODEL, { tokens: PLAN_TOKENS, tokenDelayMs: 10 });
    fake.script(CODER_MODEL, { tokens: CODER_TOKENS, tokenDelayMs: 10 });
    env = {
      DATABASE_PATH: databasePath,
      OLLAMA_BASE_URL: fake.url,
      PATH: `${writeStubMvn(dir, MVN_SUCCESS)}:${process.env.PATH ?? ''}`,
      STREAM_COALESCE_MS: '20',
    };
  });

  /** Command-line markers of processes a test started through the server, killed by pid afterwards. */
  const markers: string[] = [];

  afterEach(async () => {
    await killAllServers();
    for (const marker of markers.splice(0)) killProcessesMatching(marker);
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function generateRequests(model: string) {
    return fake.requests.filter((r) => r.path === '/api/generate' && r.model === model);
  }

  /** Polls the events until one matches; returns the events seen at that moment. */
  async function waitForEvent(server: ServerChild, runId: string, match: (e: EventFieldsFragment) => boolean, what: string): Promise<EventFieldsFragment[]> {
    let seen: EventFieldsFragment[] = [];
    await waitFor(
      async () => {
        seen = await queryAllEvents(server.client, runId);
        return seen.some(match);
      },
      { timeoutMs: 45_000, intervalMs: 50, what },
    );
    return seen;
  }

  /** Starts the server again on the same database and follows the run to its end from seq 1. */
  async function restartAndFinish(runId: string) {
    const server = await spawnServer(env);
    const streamed = (await collect(server.client.subscribe(RunEventsDocument, { runId, after: 0 }), { timeoutMs: 60_000 })).map((r) => r.runEvents);
    const events = await queryAllEvents(server.client, runId);
    const { run } = await server.client.request(RunDocument, { id: runId });
    return { server, streamed, events, run: run! };
  }

  it('lets a step that ends within the grace complete, exits 0 and leaves the run for the next start, which continues with the next step', async () => {
    fake.script(PLANNER_MODEL, { tokens: PLAN_TOKENS, tokenDelayMs: 300 });
    const first = await spawnServer({ ...env, SHUTDOWN_GRACE_SECONDS: '10' });
    const { run } = await createProjectAndRun(first.client, workspace);
    // A client following the run over WebSocket while the server goes down.
    const followed: EventFieldsFragment[] = [];
    const following = (async () => {
      try {
        for await (const { runEvents } of first.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 })) followed.push(runEvents);
        return 'completed';
      } catch {
        return 'ended with an error';
      }
    })();
    const seen = await waitForEvent(first, run.id, (e) => e.type === 'LLM_TOKEN' && e.stepName === 'planner', 'the planner to stream');
    first.child.kill('SIGTERM');
    // The planner was still generating when the signal came.
    expect(seen.filter((e) => e.type === 'STEP_COMPLETED')).toHaveLength(0);

    const exit = await within(first.exited, 30_000, 'the exit of the server after SIGTERM');
    expect(exit, first.output()).toEqual({ code: 0, signal: null });
    expect(first.output()).toContain('SIGTERM received, shutting down');
    // The planner finished normally (its request was not cut) and the coder was never started.
    expect(fake.disconnects).toBe(0);
    expect(generateRequests(PLANNER_MODEL)).toHaveLength(1);
    expect(generateRequests(CODER_MODEL)).toHaveLength(0);

    const stopped = await readRunFromDatabase(databasePath, run.id);
    expect(stopped.run.status).toBe('RUNNING');
    expect(stopped.steps.map((s) => [s.name, s.status])).toEqual([
      ['planner', 'COMPLETED'],
      ['coder', 'PENDING'],
      ['maven_test', 'PENDING'],
    ]);
    expectGaplessSeqs(stopped.events);
    // Everything of the planner is stored, its STEP_COMPLETED last; nothing of a later step.
    expect(stopped.events.at(-1)).toMatchObject({ type: 'STEP_COMPLETED', stepName: 'planner' });
    expect(stopped.events.filter((e) => e.stepName !== null && e.stepName !== 'planner')).toHaveLength(0);
    const planMtime = statSync(join(workspace, 'PLAN.md')).mtimeMs;
    // The follower saw the planner through to its end, then lost the server: an error, not the
    // completion that would tell it the run is over.
    expect(await within(following, 10_000, 'the end of the follower\'s stream')).toBe('ended with an error');
    expect(followed).toEqual(stopped.events.map((e) => expect.objectContaining({ seq: e.seq, type: e.type })));

    const { server: second, streamed, events, run: finished } = await restartAndFinish(run.id);
    // It resubscribes to the new server from the last seq it saw, and misses nothing.
    const rest = await collect(second.client.subscribe(RunEventsDocument, { runId: run.id, after: followed.at(-1)!.seq }), { timeoutMs: 20_000 });
    expect([...followed, ...rest.map((r) => r.runEvents)].map((e) => e.seq)).toEqual(seqRange(1, events.length));
    expect(finished.status).toBe('COMPLETED');
    expect(streamed).toEqual(events);
    expect(events.map((e) => e.seq)).toEqual(seqRange(1, events.length));
    expect(events.at(-1)?.type).toBe('WORKFLOW_COMPLETED');
    const recovered = ofType(events, 'RUN_RECOVERED');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.seq).toBe(stopped.events.length + 1);
    expect(recovered[0]!.data).toMatchObject({ interruptedStep: null, nextStep: 'coder' });
    expect(ofType(events, 'STEP_STARTED').map((e) => e.stepName)).toEqual(['planner', 'coder', 'maven_test']);
    expect(generateRequests(PLANNER_MODEL)).toHaveLength(1);
    expect(generateRequests(CODER_MODEL)).toHaveLength(1);
    expect(statSync(join(workspace, 'PLAN.md')).mtimeMs).toBe(planMtime);
  });

  it('cuts off a step still running when the grace ends (its model request closed), exits 0, and the next start redoes that step', async () => {
    fake.script(CODER_MODEL, { tokens: CODER_TOKENS, tokenDelayMs: 400 });
    const first = await spawnServer({ ...env, SHUTDOWN_GRACE_SECONDS: '1' });
    const { run } = await createProjectAndRun(first.client, workspace);
    await waitForEvent(first, run.id, (e) => e.type === 'LLM_TOKEN' && e.stepName === 'coder', 'the coder to stream');
    first.child.kill('SIGTERM');

    await within(fake.waitForDisconnects(1, 30_000), 35_000, 'the coder request to be closed');
    const exit = await within(first.exited, 30_000, 'the exit of the server after SIGTERM');
    expect(exit, first.output()).toEqual({ code: 0, signal: null });
    expect(first.output()).toMatch(/cut off during step 2\/3 \(coder\) by the shutdown/);

    const stopped = await readRunFromDatabase(databasePath, run.id);
    expect(stopped.run.status).toBe('RUNNING');
    expect(stopped.steps.map((s) => [s.name, s.status])).toEqual([
      ['planner', 'COMPLETED'],
      ['coder', 'RUNNING'],
      ['maven_test', 'PENDING'],
    ]);
    expectGaplessSeqs(stopped.events);
    const coderEnd = stopped.events.filter((e) => e.stepName === 'coder' && ['STEP_COMPLETED', 'STEP_FAILED', 'LLM_DONE'].includes(e.type));
    expect(coderEnd).toHaveLength(0);
    expect(stopped.events.filter((e) => ['WORKFLOW_COMPLETED', 'WORKFLOW_FAILED', 'RUN_STOPPED'].includes(e.type))).toHaveLength(0);

    fake.script(CODER_MODEL, { tokens: CODER_TOKENS, tokenDelayMs: 5 });
    const { streamed, events, run: finished } = await restartAndFinish(run.id);
    expect(finished.status).toBe('COMPLETED');
    expect(finished.steps.find((s) => s.name === 'coder')).toMatchObject({ status: 'COMPLETED', attempt: 2 });
    expect(streamed).toEqual(events);
    expect(events.map((e) => e.seq)).toEqual(seqRange(1, events.length));
    const recovered = ofType(events, 'RUN_RECOVERED');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.data).toMatchObject({ interruptedStep: 'coder', nextStep: 'coder' });
    expect(ofType(events, 'STEP_STARTED').map((e) => e.stepName)).toEqual(['planner', 'coder', 'coder', 'maven_test']);
    expect(generateRequests(PLANNER_MODEL)).toHaveLength(1);
    expect(generateRequests(CODER_MODEL)).toHaveLength(2);
  });

  it('kills the commands of a Maven step cut off by the shutdown, leaving none behind, and the next start reruns the step', async () => {
    const sleepArg = `302.${randomInt(100_000, 999_999)}`;
    const hanging = `sleep ${sleepArg}`;
    markers.push(hanging);
    // In the workspace (the command's folder): the sandbox keeps nothing it writes anywhere else.
    const firstCall = 'mvn-called-once';
    env.PATH = `${writeStubMvn(
      dir,
      `if [ ! -e "${firstCall}" ]; then
  touch "${firstCall}"
  echo "[INFO] stub mvn: hanging"
  sleep ${sleepArg} & sleep ${sleepArg}; wait
fi
${MVN_SUCCESS}`,
    )}:${process.env.PATH ?? ''}`;
    const first = await spawnServer({ ...env, SHUTDOWN_GRACE_SECONDS: '0' });
    const { run } = await createProjectAndRun(first.client, workspace);
    await waitFor(() => liveProcessesMatching(hanging).length === 2, { timeoutMs: 45_000, intervalMs: 100, what: 'the stub mvn to start its sleeps' });
    first.child.kill('SIGTERM');

    const exit = await within(first.exited, 30_000, 'the exit of the server after SIGTERM');
    expect(exit, first.output()).toEqual({ code: 0, signal: null });
    // The server took its commands down with it.
    expect(liveProcessesMatching(hanging)).toEqual([]);

    const stopped = await readRunFromDatabase(databasePath, run.id);
    expect(stopped.run.status).toBe('RUNNING');
    expect(stopped.steps.map((s) => [s.name, s.status])).toEqual([
      ['planner', 'COMPLETED'],
      ['coder', 'COMPLETED'],
      ['maven_test', 'RUNNING'],
    ]);
    expectGaplessSeqs(stopped.events);
    expect(stopped.events.filter((e) => e.stepName === 'maven_test' && ['STEP_COMPLETED', 'STEP_FAILED'].includes(e.type))).toHaveLength(0);

    const { events, run: finished } = await restartAndFinish(run.id);
    expect(finished.status).toBe('COMPLETED');
    expect(events.map((e) => e.seq)).toEqual(seqRange(1, events.length));
    const recovered = ofType(events, 'RUN_RECOVERED');
    expect(recovered).toHaveLength(1);
    // Nothing was left for recovery to kill.
    expect(recovered[0]!.data).toMatchObject({ interruptedStep: 'maven_test', nextStep: 'maven_test', killedProcessGroups: [] });
    expect(ofType(events, 'STEP_STARTED').map((e) => e.stepName)).toEqual(['planner', 'coder', 'maven_test', 'maven_test']);
  });
});
