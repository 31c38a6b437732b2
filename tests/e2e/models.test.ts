/**
 * The New run page's Models: every step that calls a model (Workflow.models) — an LLM step inside a
 * loop and an agent step included — pre-filled with the model in force and where it comes from (the
 * server's OLLAMA_<STEP>_MODEL, or the workflow's default); a choice made there reaches the fake Ollama.
 */
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateProjectDocument, RegisterWorkflowDocument, RunDocument } from '../../src/client/generated/graphql.js';
import { conversationScript, startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { AGENT_MODEL, AGENT_MODELS, DRAFT_MODEL, LOOP_MODELS_WORKFLOW, OTHER_TOOLS_MODEL, call } from '../agent/support.js';
import { launchBrowser, pagePerTest, screenshot } from './browser.js';

const ENV_MODEL = 'mistral:7b';

let fake: FakeOllama;
let t: TestApp;
let browser: Browser;
const session = pagePerTest(() => browser);

beforeAll(async () => {
  fake = await startFakeOllama({ models: [...AGENT_MODELS, { name: ENV_MODEL, capabilities: ['completion'] }] });
  fake.script(ENV_MODEL, { tokens: ['# draft\n'] });
  fake.script(OTHER_TOOLS_MODEL, conversationScript([call('finish', { summary: 'fixed' })]));
  t = await startTestApp({ ollamaBaseUrl: fake.url }, { env: { OLLAMA_DRAFT_MODEL: ENV_MODEL } });
  await t.client.request(RegisterWorkflowDocument, { definition: LOOP_MODELS_WORKFLOW });
  await t.client.request(CreateProjectDocument, { name: 'loops', localPath: join(t.dir, 'workspaces', 'loops') });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await fake?.close();
});

describe('models on the New run page', () => {
  it('lists the loop’s LLM step and the agent step with their sources; a changed model is the run’s', async () => {
    const { page } = session;
    await page.goto(`${t.url}/runs/new?workflow=loop-models`);
    const draft = page.getByLabel('Model for draft');
    await draft.waitFor();
    expect(await draft.inputValue()).toBe(ENV_MODEL);
    expect(await page.getByLabel('Model for fixer').inputValue()).toBe(AGENT_MODEL);
    const hints = await page.locator('[data-model-source]').allTextContents();
    expect(hints[0]).toBe(`From the server’s OLLAMA_DRAFT_MODEL (the workflow’s default is ${DRAFT_MODEL}).`);
    expect(hints[1]).toContain('The workflow’s default.');

    await page.getByLabel('Model for fixer').fill(OTHER_TOOLS_MODEL);
    expect(await page.locator('[data-model-source]').nth(1).getAttribute('data-model-source')).toBe('RUN_OPTIONS');
    await page.getByLabel('Goal').fill('A service');
    await screenshot(page, 'e2e-new-run-loop-models');
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.waitForURL(/\/runs\/\d+$/);
    const runId = page.url().split('/').pop()!;
    const run = await waitFor(async () => {
      const { run } = await t.client.request(RunDocument, { id: runId });
      return run && ['COMPLETED', 'FAILED'].includes(run.status) ? run : null;
    }, { timeoutMs: 40_000, what: 'the run to end' });
    expect(run.status, run.error ?? '').toBe('COMPLETED');
    expect(run.models).toEqual([
      { step: 'draft', model: ENV_MODEL, source: 'ENVIRONMENT' },
      { step: 'fixer', model: OTHER_TOOLS_MODEL, source: 'RUN_OPTIONS' },
    ]);
    expect(fake.requests.filter((r) => r.path === '/api/chat').map((r) => r.model)).toEqual([OTHER_TOOLS_MODEL]);
  });
});
