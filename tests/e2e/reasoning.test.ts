/**
 * A reasoning model in the console: a planner step with `think: true` streams its reasoning, and
 * the run page shows it apart from the answer, folded under a "Reasoning" row that opens on click;
 * the model output block and PLAN.md hold the plan alone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateProjectDocument, CreateRunDocument } from '../../src/client/generated/graphql.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { testWorkflow, tokensOf } from '../workflow/support.js';
import { eventually, launchBrowser, screenshot } from './browser.js';

const REASONER = 'qwen3:8b';
const PLAN = '# Plan\n\n1. A pom.xml on the Quarkus BOM.\n2. A GraphQL resource.\n3. A test.\n';
const REASONING = 'The user wants a Quarkus service.\nMaven first, then the resource, then a test.\nThree points are enough.';

let fake: FakeOllama;
let t: TestApp;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  fake = await startFakeOllama({ models: [REASONER] });
  // Slow enough to see the reasoning stream before the answer.
  fake.script(REASONER, { thinking: tokensOf(REASONING, 1), tokens: tokensOf(PLAN, 1), firstByteDelayMs: 300, tokenDelayMs: 250 });
  const workflow = testWorkflow('think-plan', [
    { name: 'planner', type: 'LLM_GENERATE', model: REASONER, think: true, prompt: 'Plan: {goal}', outputFile: 'PLAN.md', saveArtifact: true },
  ]);
  t = await startTestApp({ ollamaBaseUrl: fake.url, llmHeartbeatMs: 1000 }, { workflows: [workflow] });
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await fake?.close();
});

describe('a reasoning model on the run page', () => {
  it('shows the reasoning folded apart from the answer, and opens it on click', async () => {
    const path = join(t.dir, 'workspaces', 'thinking');
    const { createProject } = await t.client.request(CreateProjectDocument, { name: 'thinking', localPath: path });
    const { createRun } = await t.client.request(CreateRunDocument, { input: { projectId: createProject.id, goal: 'A Quarkus service', options: { workflowName: 'think-plan' } } });
    await page.goto(`${t.url}/runs/${createRun.id}`);

    // While the model reasons: a folded Reasoning row that says so.
    const reasoning = page.locator('[data-testid=reasoning][data-step=planner]');
    await reasoning.waitFor({ timeout: 15_000 });
    expect(await reasoning.evaluate((details) => (details as HTMLDetailsElement).open)).toBe(false);
    await eventually(async () => ((await reasoning.locator('summary').textContent()) ?? '').includes('thinking…'), 'the live "thinking…" note');
    expect(await reasoning.locator('summary .tl-type').textContent()).toBe('Reasoning');
    await screenshot(page, 'e2e-reasoning-live');

    await page.locator('[data-type=WORKFLOW_COMPLETED]').waitFor({ timeout: 30_000 });
    // The answer block holds the plan alone; the reasoning stays folded, with its size.
    expect(((await page.locator('[data-testid=llm-text][data-step=planner]').textContent()) ?? '').replace('▍', '')).toBe(PLAN);
    expect(await reasoning.evaluate((details) => (details as HTMLDetailsElement).open)).toBe(false);
    expect(await reasoning.locator('summary').textContent()).toContain(`${REASONING.length} characters · not part of the answer`);
    expect(await reasoning.locator('[data-testid=thinking-text]').isVisible()).toBe(false);

    await reasoning.locator('summary').click();
    const text = reasoning.locator('[data-testid=thinking-text]');
    await text.waitFor({ state: 'visible' });
    expect(await text.textContent()).toBe(REASONING);
    // The reasoning comes before the answer in the timeline.
    const order = await page.locator('[data-testid=thinking-text], [data-testid=llm-text]').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-testid')));
    expect(order).toEqual(['thinking-text', 'llm-text']);
    await screenshot(page, 'e2e-reasoning-open');

    expect(readFileSync(join(path, 'PLAN.md'), 'utf8')).toBe(PLAN);
    expect(pageErrors, 'uncaught errors in the page').toEqual([]);
  });
});
