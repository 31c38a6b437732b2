/**
 * The legitimate clients still get in once the guards and limits are on: the CLI demo
 * (scripts/demo-quarkus-workflow.sh, a separate process with the token), the typed client over HTTP
 * and WebSocket, and a plain `curl`-like JSON POST and SSE stream. (The console and GraphiQL, in a
 * browser, are tests/e2e.)
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ProjectsDocument, RunEventsDocument } from '../../src/client/generated/graphql.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { collect, startTestApp, type TestApp } from '../helpers/test-app.js';
import { collectSse, subscribeSse } from '../api/api-helpers.js';
import { CODER_MODEL, coderAnswer, createProject, createRun, installStubMvn, PLAN_TOKENS, PLANNER_MODEL, tokensOf } from '../workflow/support.js';

const TOKEN = 'clients-test-token';

let fake: FakeOllama;
let t: TestApp;
beforeAll(async () => {
  fake = await startFakeOllama({ models: [PLANNER_MODEL, CODER_MODEL] });
  fake.script(PLANNER_MODEL, { tokens: PLAN_TOKENS, tokenDelayMs: 5 });
  fake.script(CODER_MODEL, { tokens: tokensOf(coderAnswer()), tokenDelayMs: 5 });
  t = await startTestApp({ ollamaBaseUrl: fake.url, apiToken: TOKEN, streamCoalesceMs: 20 });
  installStubMvn(t.dir);
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await t?.close();
  await fake?.close();
});

describe('legitimate clients', () => {
  it('the CLI demo (scripts/demo-quarkus-workflow.sh) runs a workflow to its end', async () => {
    const projectPath = join(t.dir, 'demo-project');
    const env = { ...process.env, AGENT_RUNNER_URL: t.url, API_TOKEN: TOKEN, DEMO_PROJECT_PATH: projectPath };
    const { stdout } = await promisify(execFile)('bash', ['scripts/demo-quarkus-workflow.sh'], { env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    expect(stdout).toMatch(/Project \d+ "quarkus-demo-/);
    expect(stdout).toContain('WORKFLOW_COMPLETED');
    expect(stdout).toMatch(/Run \d+ ended COMPLETED/);
    expect(stdout).toContain(`${projectPath}/PLAN.md`);
    expect(existsSync(join(projectPath, 'pom.xml'))).toBe(true);
  });

  it('the typed client, over HTTP and WebSocket', async () => {
    const project = await createProject(t);
    const run = await createRun(t, project.id);
    expect((await t.client.request(ProjectsDocument)).projects.map((p) => p.id)).toContain(project.id);
    const events = await collect(t.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 }), { timeoutMs: 30_000 });
    expect(events.at(-1)?.runEvents.type).toBe('WORKFLOW_COMPLETED');
  });

  it('a JSON POST and an SSE stream with the token, as curl sends them', async () => {
    const project = await createProject(t);
    const run = await createRun(t, project.id);
    const sse = await subscribeSse(t.url, RunEventsDocument, { runId: run.id, after: 0 }, { authorization: `bearer ${TOKEN}` });
    expect(sse.status).toBe(200);
    const results = await collectSse(sse, 30_000);
    expect(results.at(-1)?.data?.runEvents.type).toBe('WORKFLOW_COMPLETED');
  });
});
