/**
 * Each way a step fails, through the real server: the step ends with STEP_FAILED, the run with
 * WORKFLOW_FAILED and status FAILED, Run.error says what to do, and the later steps never start
 * (their StepRun status is SKIPPED). Path escapes in a model's answer are refused before anything
 * is written.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EventFieldsFragment } from '../../src/client/generated/graphql.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import {
  CODER_MODEL,
  PLAN_TOKENS,
  PLANNER_MODEL,
  PROJECT_FILES,
  coderAnswer,
  createProject,
  expectGaplessSeqs,
  ofType,
  queryEvents,
  runToEnd,
  testWorkflow,
  type FullRun,
} from './support.js';

const failingCommand = testWorkflow('failing-command', [
  { name: 'fails', type: 'SHELL_COMMAND', command: 'echo out; echo err >&2; exit 3', saveArtifact: true },
  { name: 'after', type: 'FILE_WRITE', content: 'should never be written', outputFile: 'after.txt' },
]);

/** A port on 127.0.0.1 where nothing listens (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The common shape of a failed run: STEP_FAILED of `stepName` then WORKFLOW_FAILED, nothing started
 * after the failed step, status FAILED with the error, the failed step FAILED and the rest SKIPPED.
 */
function expectFailedAt(run: FullRun, events: EventFieldsFragment[], stepName: string, ...messageParts: string[]): EventFieldsFragment {
  expectGaplessSeqs(events);
  expect(events.slice(-2).map((e) => e.type)).toEqual(['STEP_FAILED', 'WORKFLOW_FAILED']);
  const stepFailed = events.at(-2)!;
  const workflowFailed = events.at(-1)!;
  expect(stepFailed.stepName).toBe(stepName);
  for (const part of messageParts) {
    expect(stepFailed.message).toContain(part);
    expect(workflowFailed.message).toContain(part);
    expect(run.error).toContain(part);
  }
  expect((stepFailed.data as { error: string }).error).toBe(run.steps.find((s) => s.name === stepName)?.error);
  expect(ofType(events, 'WORKFLOW_COMPLETED')).toHaveLength(0);

  const failedIndex = run.steps.findIndex((s) => s.name === stepName);
  expect(run.status).toBe('FAILED');
  expect(run.finishedAt).not.toBeNull();
  expect(run.error).toBe((workflowFailed.data as { error: string }).error);
  expect(run.error).toContain(`Step "${stepName}"`);
  run.steps.forEach((step, index) => {
    if (index < failedIndex) expect(step.status, step.name).toBe('COMPLETED');
    if (index === failedIndex) {
      expect(step.status).toBe('FAILED');
      expect(step.finishedAt).not.toBeNull();
    }
    if (index > failedIndex) {
      expect(step.status, step.name).toBe('SKIPPED');
      expect(step.attempt, step.name).toBe(0);
      expect(step.startedAt, step.name).toBeNull();
    }
  });
  // No step after the failed one ever started.
  const startedSteps = ofType(events, 'STEP_STARTED').map((e) => e.stepName);
  expect(startedSteps).toEqual(run.steps.slice(0, failedIndex + 1).map((s) => s.name));
  return stepFailed;
}

describe('failures', () => {
  let fake: FakeOllama;
  let t: TestApp | undefined;

  beforeAll(async () => {
    fake = await startFakeOllama({ models: [PLANNER_MODEL, CODER_MODEL] });
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
    fake.script(PLANNER_MODEL, { tokens: PLAN_TOKENS });
    fake.script(CODER_MODEL, { response: coderAnswer() });
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function start(overrides: Parameters<typeof startTestApp>[0] = {}) {
    t = await startTestApp(
      { ollamaBaseUrl: fake.url, llmHeartbeatMs: 200, streamCoalesceMs: 20, ...overrides },
      { workflows: [failingCommand] },
    );
    return t;
  }

  it('Ollama unreachable: says where it looked and how to check', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const app = await start({ ollamaBaseUrl: url });
    const project = await createProject(app);
    const { run, events } = await runToEnd(app, project.id);
    expectFailedAt(run, events, 'planner', `Cannot reach Ollama at ${url}: is it running? Try: curl ${url}/api/tags`);
    expect(ofType(events, 'LLM_GENERATING')).toHaveLength(0);
    expect(existsSync(join(project.path, 'PLAN.md'))).toBe(false);
  });

  it('model missing: names the model and the pull command', async () => {
    const app = await start();
    const project = await createProject(app);
    const { run, events } = await runToEnd(app, project.id, { models: [{ step: 'planner', model: 'x:latest' }] });
    const failed = expectFailedAt(run, events, 'planner', "Model 'x:latest' is not installed in Ollama. Run: ollama pull x:latest");
    expect(failed.data).toMatchObject({ retryable: false });
    expect(fake.requests.filter((r) => r.path === '/api/generate').map((r) => r.model)).toEqual(['x:latest']);
  });

  it('the coder model missing: the planner completes, the coder fails, Maven is skipped', async () => {
    const app = await start();
    fake.setModels([PLANNER_MODEL]);
    try {
      const project = await createProject(app);
      const { run, events } = await runToEnd(app, project.id);
      expectFailedAt(run, events, 'coder', `Model '${CODER_MODEL}' is not installed in Ollama. Run: ollama pull ${CODER_MODEL}`);
      expect(existsSync(join(project.path, 'PLAN.md'))).toBe(true);
    } finally {
      fake.setModels([PLANNER_MODEL, CODER_MODEL]);
    }
  });

  it('LLM timeout: names the step, how long and the setting to raise; the request is cancelled', async () => {
    const app = await start();
    fake.script(PLANNER_MODEL, { firstByteDelayMs: 5000, tokens: PLAN_TOKENS });
    const disconnectsBefore = fake.disconnects;
    const project = await createProject(app);
    const { run, events } = await runToEnd(app, project.id, { timeoutSeconds: 1 });
    expect(run.timeoutSeconds).toBe(1);
    expectFailedAt(run, events, 'planner', 'Step "planner" timed out after 1s: agent-runner closed the connection to Ollama', 'options.timeoutSeconds');
    // The model stream was closed, not left loading on the server.
    await fake.waitForDisconnects(disconnectsBefore + 1);
    // While waiting, the step said it was still alive.
    expect(ofType(events, 'LLM_HEARTBEAT').length).toBeGreaterThan(0);
  });

  it("a command's non-zero exit: the exit code and the last lines of output", async () => {
    const app = await start();
    const project = await createProject(app);
    const { run, events } = await runToEnd(app, project.id, { workflowName: 'failing-command' });
    const failed = expectFailedAt(run, events, 'fails', 'exited with code 3', 'out', 'err');
    expect(failed.message).toMatch(/Last lines of output:\n(out\nerr|err\nout)/);
    expect(failed.data).toMatchObject({ exitCode: 3 });
    // The command's output is still kept as an artifact, and the later step wrote nothing.
    expect(run.artifacts.map((a) => [a.path, a.kind])).toEqual([['fails_output.txt', 'COMMAND_OUTPUT']]);
    expect(existsSync(join(project.path, 'after.txt'))).toBe(false);
    const output = ofType(events, 'SHELL_OUTPUT').map((e) => e.data as { stream: string; text: string });
    expect(output.filter((o) => o.stream === 'stdout').map((o) => o.text).join('')).toBe('out\n');
    expect(output.filter((o) => o.stream === 'stderr').map((o) => o.text).join('')).toBe('err\n');
    // The query sees what the subscription saw.
    expect(await queryEvents(app, run.id)).toEqual(events);
  });

  describe('path escapes in the coder answer', () => {
    it('refuses ../ and writes nothing outside (or inside) the project folder', async () => {
      const app = await start();
      fake.script(CODER_MODEL, { response: coderAnswer({ 'pom.xml': PROJECT_FILES['pom.xml'], '../escape.txt': 'escaped!' }) });
      const project = await createProject(app);
      const { run, events } = await runToEnd(app, project.id);
      const failed = expectFailedAt(run, events, 'coder', 'Refused path "../escape.txt"', 'outside the project folder');
      expect(failed.data).toMatchObject({ retryable: false });
      expect(existsSync(join(dirname(project.path), 'escape.txt'))).toBe(false);
      expect(readdirSync(dirname(project.path))).toEqual([project.path.split('/').at(-1)]);
      // The whole answer is refused before any file is written; the raw answer is kept for reading.
      expect(existsSync(join(project.path, 'pom.xml'))).toBe(false);
      expect(existsSync(join(project.path, 'project_files.txt'))).toBe(true);
      expect(run.artifacts.map((a) => a.path)).toEqual(['PLAN.md', 'project_files.txt']);
    });

    it('refuses an absolute path', async () => {
      const app = await start();
      const target = `/tmp/agent-runner-escape-${randomUUID()}.txt`;
      fake.script(CODER_MODEL, { response: coderAnswer({ [target]: 'escaped!', 'pom.xml': PROJECT_FILES['pom.xml'] }) });
      const project = await createProject(app);
      const { run, events } = await runToEnd(app, project.id);
      expectFailedAt(run, events, 'coder', `Refused absolute path "${target}"`, 'relative to the project folder');
      expect(existsSync(target)).toBe(false);
      expect(existsSync(join(project.path, 'pom.xml'))).toBe(false);
      expect(existsSync(join(project.path, target))).toBe(false);
    });
  });
});
