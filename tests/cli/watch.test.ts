/**
 * `agent-runner watch` outside a terminal (a pipe, as in CI): plain lines, the summary, NDJSON with
 * --json, the exit code for each way a run ends, Ctrl-C detaching (or stopping with
 * --stop-on-exit), and a connection cut mid-run with nothing missed or doubled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliRunDocument } from '../../src/client/generated/graphql.js';
import { waitFor, type TestApp } from '../helpers/test-app.js';
import { CODER_MODEL, PLAN_TOKENS, PLANNER_MODEL, coderAnswer, queryEvents, tokensOf } from '../workflow/support.js';
import { cli, ESCAPE, liveLines, ndjson, startCli, startCliServer, startProxy, waitForOutput, type CliServer } from './support.js';

const GOAL = 'Generate Quarkus GraphQL + OpenTelemetry project';

let server: CliServer;
let t: TestApp;
let projectCount = 0;
const ar = (...args: string[]) => cli(args, { url: server.url });

/** A new project and a queued run in it (through the command); returns the run id. */
async function newRun(...extra: string[]): Promise<string> {
  const name = `watch-${++projectCount}`;
  expect((await ar('projects', 'create', name, `${t.dir}/workspaces/${name}`)).exitCode).toBe(0);
  const created = await ar('run', 'quarkus-bootstrap-v1', '--project', name, '--goal', GOAL, '--json', ...extra);
  expect(created.exitCode, created.stderr).toBe(0);
  return JSON.parse(created.stdout).id;
}

async function status(runId: string): Promise<string | undefined> {
  return (await t.client.request(CliRunDocument, { id: runId })).run?.status;
}

/**
 * Slow answers for the next runs: `tokenDelayMs` between tokens, more tokens for the coder, and the
 * planner's model "loading" for `loadMs` first — long enough for a watcher started after the run to
 * attach while it is still going, however slowly the machine starts the command.
 */
function pace(tokenDelayMs: number, loadMs = 0): void {
  server.fake.script(PLANNER_MODEL, { tokens: PLAN_TOKENS, tokenDelayMs, firstByteDelayMs: loadMs });
  server.fake.script(CODER_MODEL, { tokens: tokensOf(coderAnswer(), 1), tokenDelayMs });
}

beforeAll(async () => {
  server = await startCliServer();
  t = server.t;
});

afterAll(async () => {
  await server.close();
});

describe('agent-runner watch in a pipe', { timeout: 90_000 }, () => {
  it('a completed run: one plain line per event worth one, --stream adds the text, a summary, exit 0', async () => {
    pace(5);
    const runId = await newRun();
    const watched = await ar('watch', runId, '--stream');
    expect(watched.exitCode, watched.stderr).toBe(0);
    expect(watched.stdout).not.toMatch(ESCAPE);
    const lines = watched.stdout.split('\n');
    // Each step starts and completes once, in order.
    const steps = lines.filter((line) => /Step \d\/3(: | completed)/.test(line)).map((line) => line.replace(/^\d\d:\d\d:\d\d {2}/, '').replace(/ in .*|: .*/, ''));
    expect(steps).toEqual(['planner     Step 1/3', 'planner     Step 1/3 completed', 'coder       Step 2/3', 'coder       Step 2/3 completed', 'maven_test  Step 3/3', 'maven_test  Step 3/3 completed']);
    expect(lines).toContain('planner    | # Project plan');
    expect(lines).toContain('coder      | === FILE: pom.xml ===');
    expect(lines).toContain('maven_test | [INFO] BUILD SUCCESS');
    expect(lines).toContain('maven_test ! [WARNING] this is a stub, not Maven');
    expect(watched.stdout).toMatch(new RegExp(`Run ${runId} completed in \\d+\\.\\ds: 3 of 3 steps completed, 6 files written\\.\\n {2}PLAN\\.md \\(\\d+ B\\)`));
  });

  it('--json: every event once as NDJSON in seq order, then the run and the exit code', async () => {
    pace(5);
    const runId = await newRun();
    const watched = await ar('watch', runId, '--json');
    expect(watched.exitCode).toBe(0);
    const lines = ndjson<{ event?: { seq: number; type: string }; run?: { status: string; artifacts: unknown[] }; exitCode?: number }>(watched.stdout);
    const events = lines.filter((line) => line.event).map((line) => line.event!);
    expect(events.map((e) => e.seq)).toEqual((await queryEvents(t, runId)).map((e) => e.seq));
    expect(events.at(-1)!.type).toBe('WORKFLOW_COMPLETED');
    expect(lines.at(-1)).toMatchObject({ run: { status: 'COMPLETED' }, exitCode: 0 });
    expect(lines.at(-1)!.run!.artifacts).toHaveLength(6);
  });

  it('a failed run: why and how to retry, exit 1; watching it again replays it and exits 1 at once', async () => {
    pace(5);
    const runId = await newRun('--model', 'coder=missing-model:latest');
    const watched = await ar('watch', runId);
    expect(watched.exitCode).toBe(1);
    expect(watched.stdout).toMatch(/coder\s+Step 2\/3 failed: .*missing-model:latest/);
    expect(watched.stdout).toMatch(new RegExp(`Run ${runId} failed in .*: 1 of 3 steps completed, 1 file written\\.`));
    expect(watched.stdout).toMatch(/^Why: Step "coder" failed: .*missing-model:latest.*$/m);
    expect(watched.stdout).toContain(`Retry with: agent-runner retry ${runId} --from coder --watch`);
    const again = await ar('watch', runId);
    expect(again.exitCode).toBe(1);
    expect(again.stdout).toBe(watched.stdout);
  });

  it('a run stopped while watched: exit 2, and how to go on', async () => {
    pace(300);
    const runId = await newRun();
    const watching = startCli(['watch', runId], { url: server.url });
    const output = liveLines(watching);
    await waitForOutput(output, (text) => text.includes('Generating with gemma3:27b'), 'the planner to generate');
    expect((await ar('stop', runId)).exitCode).toBe(0);
    const result = await watching;
    expect(result.exitCode).toBe(2);
    expect(String(result.stdout)).toMatch(new RegExp(`Run ${runId} was stopped in .*: [01] of 3 steps completed`));
    expect(String(result.stdout)).toContain(`Go on with: agent-runner retry ${runId} --watch`);
  });

  it('Ctrl-C detaches and says how to come back; the run goes on to its end', async () => {
    pace(150, 1500);
    const runId = await newRun();
    const watching = startCli(['watch', runId], { url: server.url });
    const output = liveLines(watching);
    await waitForOutput(output, (text) => text.includes('Generating with gemma3:27b'), 'the planner to generate');
    watching.kill('SIGINT');
    const result = await watching;
    expect(result.exitCode).toBe(130);
    expect(String(result.stderr)).toContain(`Detached from run ${runId}; it goes on. Reattach with: agent-runner watch ${runId}`);
    expect(String(result.stdout)).not.toMatch(/Run \d+ completed/);
    await waitFor(async () => (await status(runId)) === 'COMPLETED', { timeoutMs: 30_000, what: 'the run to complete after the detach' });
  });

  it('--stop-on-exit: Ctrl-C stops the run, exit 2', async () => {
    pace(150, 1500);
    const runId = await newRun();
    const watching = startCli(['watch', runId, '--stop-on-exit'], { url: server.url });
    const output = liveLines(watching);
    await waitForOutput(output, (text) => text.includes('Generating with gemma3:27b'), 'the planner to generate');
    watching.kill('SIGINT');
    const result = await watching;
    expect(result.exitCode).toBe(2);
    expect(String(result.stderr)).toContain(`Stopped run ${runId} (STOPPED).`);
    expect(await status(runId)).toBe('STOPPED');
  });

  it('a connection cut mid-run: it reconnects and resumes after the last seq shown, nothing missed or doubled', async () => {
    pace(80, 1500);
    const proxy = await startProxy(server.url);
    try {
      const runId = await newRun();
      const json = startCli(['watch', runId, '--json'], { url: proxy.url });
      const plain = startCli(['watch', runId, '--stream'], { url: proxy.url });
      const jsonOutput = liveLines(json);
      const plainOutput = liveLines(plain);
      const tokens = (text: string) => (text.match(/"type":"LLM_TOKEN"/g) ?? []).length;
      await waitForOutput(jsonOutput, (text) => tokens(text) >= 3, 'tokens of the plan');
      await waitForOutput(plainOutput, (text) => text.includes('Generating with gemma3:27b'), 'the plain watcher to see the generation');
      // Cut every connection, and refuse new ones for a while: the first reconnection attempts fail.
      proxy.refuseFor(700);
      expect(proxy.cut()).toBeGreaterThan(0);
      await waitForOutput(jsonOutput, (text) => tokens(text) >= 10, 'tokens after the cut');
      proxy.cut();

      const [jsonResult, plainResult] = await Promise.all([json, plain]);
      expect(jsonResult.exitCode, String(jsonResult.stderr)).toBe(0);
      expect(plainResult.exitCode, String(plainResult.stderr)).toBe(0);
      expect(String(jsonResult.stderr)).toMatch(/reconnecting \(attempt 1\), resuming after seq \d+/);
      expect(String(plainResult.stderr)).toMatch(/reconnecting \(attempt 1\), resuming after seq \d+/);
      expect(String(plainResult.stderr)).toContain('agent-runner: reconnected; resuming after seq');

      const stored = await queryEvents(t, runId);
      const seen = ndjson<{ event?: { seq: number; type: string; message: string } }>(String(jsonResult.stdout))
        .filter((line) => line.event)
        .map((line) => line.event!);
      expect(seen.map((e) => e.seq)).toEqual(stored.map((e) => e.seq));
      expect(seen.map((e) => e.message)).toEqual(stored.map((e) => e.message));

      // The plain watcher shows each line once: the plan's lines, each step's start, the summary.
      const plainLines = String(plainResult.stdout).split('\n');
      const planLines = PLAN_TOKENS.join('').split('\n').filter(Boolean);
      for (const line of planLines) expect(plainLines.filter((l) => l === `planner    | ${line}`), line).toHaveLength(1);
      expect(plainLines.filter((l) => l.endsWith('Step 2/3: Generate Maven project files using qwen3-coder'))).toHaveLength(1);
      expect(plainLines.filter((l) => /^Run \d+ completed/.test(l))).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });
});
