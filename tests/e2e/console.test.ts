/**
 * The web console in headless Chromium against the real server, a fake Ollama scripted slowly enough
 * to watch, and a stub `mvn`: what a user does and sees.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { CreateProjectDocument, CreateRunDocument, EventsDocument } from '../../src/client/generated/graphql.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { CODER_MODEL, coderAnswer, installStubMvn, PLAN_TEXT, PLAN_TOKENS, PLANNER_MODEL, tokensOf } from '../workflow/support.js';
import { eventually, launchBrowser, screenshot, seqsOnScreen, startProxy, type CuttableProxy } from './browser.js';

/** A planner model that talks for a long time, for the tests that act while a run is running. */
const SLOW_MODEL = 'slow-planner:latest';
const SLOW_TOKENS = Array.from({ length: 120 }, (_, i) => `word${i + 1} `);

let fake: FakeOllama;
let t: TestApp;
let proxy: CuttableProxy;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  fake = await startFakeOllama({ models: [PLANNER_MODEL, CODER_MODEL, SLOW_MODEL] });
  // Slow enough to watch: the plan takes about 2.5 s, the code about 2 s.
  fake.script(PLANNER_MODEL, { tokens: PLAN_TOKENS, firstByteDelayMs: 600, tokenDelayMs: 300 });
  fake.script(CODER_MODEL, { tokens: tokensOf(coderAnswer()), firstByteDelayMs: 300, tokenDelayMs: 150 });
  fake.script(SLOW_MODEL, { tokens: SLOW_TOKENS, firstByteDelayMs: 200, tokenDelayMs: 120 });
  t = await startTestApp({ ollamaBaseUrl: fake.url, llmHeartbeatMs: 1000 });
  installStubMvn(t.dir);
  proxy = await startProxy(t.url);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await t?.close();
  await fake?.close();
  vi.unstubAllEnvs();
});

beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  pageErrors.length = 0;
  page.on('pageerror', (error) => pageErrors.push(error.message));
});

afterEach(async () => {
  await context.close();
  expect(pageErrors, 'uncaught errors in the page').toEqual([]);
});

let projectCounter = 0;
async function apiProject(): Promise<string> {
  const name = `api-project-${++projectCounter}`;
  const { createProject } = await t.client.request(CreateProjectDocument, { name, localPath: join(t.dir, 'workspaces', name) });
  return createProject.id;
}

async function apiRun(projectId: string, plannerModel = SLOW_MODEL): Promise<string> {
  const { createRun } = await t.client.request(CreateRunDocument, {
    input: { projectId, goal: 'A run to act on while it runs', options: { models: [{ step: 'planner', model: plannerModel }] } },
  });
  return createRun.id;
}

const statusBadge = () => page.locator('.page-title [data-status]');
const textOf = async (selector: string) => (await page.locator(selector).first().textContent()) ?? '';

/**
 * The seqs on screen are 1..n, each once, in order; n is the run's last event (or, while it runs, at
 * most that: the screen may be a moment behind).
 */
async function expectWholeTimeline(runId: string, { running = false } = {}) {
  const seqs = await seqsOnScreen(page);
  const { events } = await t.client.request(EventsDocument, { runId, after: 0, first: 10_000 });
  expect(new Set(seqs).size, 'no seq shown twice').toBe(seqs.length);
  expect(seqs, 'every seq from 1 on, in order, none missing').toEqual(seqs.map((_, i) => i + 1));
  if (running) expect(seqs.length).toBeLessThanOrEqual(events.length);
  else expect(seqs.length, 'up to the run’s last event').toBe(events.length);
  return seqs;
}

describe('the console', () => {
  it('creates a project and a quarkus-bootstrap-v1 run, watches it live to the end, opens PLAN.md and downloads it', async () => {
    await page.goto(`${proxy.url}/`);
    await page.getByText('No runs yet — create one.').waitFor();
    await page.getByRole('link', { name: 'Create a run' }).click();

    // No project yet: the form creates one.
    await page.getByLabel('New project’s name').fill('greeting');
    await page.getByLabel(/Folder on the server/).fill(join(t.dir, 'workspaces', 'greeting'));
    await page.getByLabel('Goal').fill('Generate Quarkus GraphQL + OpenTelemetry project');
    expect(await page.getByLabel('Workflow').inputValue()).toBe('quarkus-bootstrap-v1');
    // Each LLM step's model is pre-filled with the default in force, saying where it comes from.
    expect(await page.getByLabel('Model for planner').inputValue()).toBe(PLANNER_MODEL);
    expect(await page.getByLabel('Model for coder').inputValue()).toBe(CODER_MODEL);
    expect(await page.locator('[data-model-source]').first().textContent()).toContain('workflow’s default');
    await screenshot(page, 'e2e-new-run-form');
    await page.getByRole('button', { name: 'Start run' }).click();

    await page.waitForURL(/\/runs\/\d+$/);
    const runId = page.url().split('/').pop()!;

    // While it runs: the timeline grows and the planner's text streams in, token by token.
    const plannerText = page.locator('[data-testid=llm-text][data-step=planner]');
    await plannerText.waitFor({ timeout: 15_000 });
    const early = await eventually(async () => (await plannerText.textContent())?.replace('▍', ''), 'the first planner tokens');
    const earlyEvents = (await seqsOnScreen(page)).length;
    expect(early.length).toBeLessThan(PLAN_TEXT.length);
    expect(PLAN_TEXT.startsWith(early)).toBe(true);
    expect(await statusBadge().getAttribute('data-status')).toBe('RUNNING');
    await screenshot(page, 'e2e-run-streaming');
    const later = await eventually(async () => {
      const text = (await plannerText.textContent())?.replace('▍', '') ?? '';
      return text.length > early.length ? text : null;
    }, 'more planner text');
    expect(PLAN_TEXT.startsWith(later)).toBe(true);
    expect((await seqsOnScreen(page)).length).toBeGreaterThan(earlyEvents);
    expect(await page.locator('[data-step=planner] [data-step-status]').first().getAttribute('data-step-status')).toBe('RUNNING');
    expect(await textOf('[data-step=planner] .step-meta')).toMatch(/running for \d/);

    // It completes; every step is done; the whole text and every event are on screen.
    await page.locator('.page-title [data-status=COMPLETED]').waitFor({ timeout: 45_000 });
    // The run's last event (the status can arrive a moment before it).
    await page.locator('[data-type=WORKFLOW_COMPLETED]').waitFor();
    expect(((await plannerText.textContent()) ?? '').replace('▍', '')).toBe(PLAN_TEXT);
    await eventually(async () => (await page.locator('.steps [data-step-status=COMPLETED]').count()) === 3, 'every step shown as completed');
    await expectWholeTimeline(runId);
    expect(await page.locator('[data-testid=shell-text]').textContent()).toContain('BUILD SUCCESS');
    await screenshot(page, 'e2e-run-completed');

    // PLAN.md from the artifacts, in the viewer with the project's files as a tree.
    await page.getByRole('link', { name: 'PLAN.md', exact: true }).click();
    await page.waitForURL(/\/runs\/\d+\/artifacts\/\d+$/);
    const content = page.locator('[data-testid=file-content]');
    await content.waitFor();
    expect(await content.innerText()).toContain('A Quarkus service exposing a GraphQL API with OpenTelemetry tracing.');
    const tree = page.getByRole('navigation', { name: 'Files of this run' });
    await tree.getByRole('link', { name: 'pom.xml' }).waitFor();
    expect(await tree.getByText('src/', { exact: true }).count()).toBe(1);
    expect(await tree.getByRole('link', { name: 'GreetingResource.java' }).count()).toBe(1);
    await screenshot(page, 'e2e-artifact-viewer');

    // Download it.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download', exact: true }).click()]);
    expect(download.suggestedFilename()).toBe('PLAN.md');
    expect(readFileSync((await download.path())!, 'utf8')).toBe(readFileSync(join(t.dir, 'workspaces', 'greeting', 'PLAN.md'), 'utf8'));

    // Another file from the tree opens in place.
    await tree.getByRole('link', { name: 'pom.xml' }).click();
    await eventually(async () => (await content.innerText()).includes('<artifactId>greeting</artifactId>'), 'pom.xml in the viewer');

    // The same run at phone width.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${proxy.url}/runs/${runId}`);
    await page.locator('.page-title [data-status=COMPLETED]').waitFor();
    await eventually(async () => (await seqsOnScreen(page)).length > 20, 'the replayed timeline');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, 'no horizontal scrolling at 390 px').toBeLessThanOrEqual(0);
    await screenshot(page, 'e2e-run-completed-390px');
  });

  it('shows runs live on the dashboard and stops a running run from its page', async () => {
    const projectId = await apiProject();
    await page.goto(`${proxy.url}/`);
    await page.locator('[data-connection=live]').waitFor();

    // A run created elsewhere appears on the dashboard and its status changes there, live.
    const runId = await apiRun(projectId);
    const row = page.locator(`tr[data-run-id="${runId}"]`);
    await row.locator('[data-status=RUNNING]').waitFor({ timeout: 15_000 });
    await eventually(async () => (await row.locator('td[data-label="Current step"]').textContent())?.includes('planner (1/3)'), 'the current step');
    await screenshot(page, 'e2e-dashboard-live');

    await row.getByRole('link').click();
    await page.waitForURL(new RegExp(`/runs/${runId}$`));
    const text = page.locator('[data-testid=llm-text][data-step=planner]');
    await eventually(async () => ((await text.textContent()) ?? '').includes('word3 '), 'the slow planner text');

    // What the state allows: pause and stop, not resume or retry.
    await page.getByRole('button', { name: 'Pause' }).waitFor();
    expect(await page.getByRole('button', { name: 'Resume' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Retry' }).count()).toBe(0);

    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await page.getByRole('button', { name: 'Stop the run' }).click();
    await page.locator('.page-title [data-status=STOPPED]').waitFor({ timeout: 15_000 });
    await page.locator('[data-type=RUN_STOPPED]').waitFor();
    await page.getByRole('button', { name: 'Retry' }).waitFor();
    expect(await page.getByRole('button', { name: 'Stop', exact: true }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Pause' }).count()).toBe(0);
    // The step's card follows the run's events with a fresh read of the run (a moment after RUN_STOPPED).
    await eventually(async () => (await textOf('[data-step=planner] [data-step-status]')).includes('Stopped'), 'the planner shown as stopped');
    // The model's stream was closed: the text stopped well short of the end.
    expect(((await text.textContent()) ?? '').length).toBeLessThan(SLOW_TOKENS.join('').length);
    await expectWholeTimeline(runId);
    await screenshot(page, 'e2e-run-stopped');

    // Back on the dashboard it shows as stopped.
    await page.getByRole('link', { name: 'Runs', exact: true }).first().click();
    await page.locator(`tr[data-run-id="${runId}"] [data-status=STOPPED]`).waitFor();
  });

  it('resumes the timeline after the connection drops, with no gap and no duplicate', async () => {
    const projectId = await apiProject();
    const runId = await apiRun(projectId);
    await page.goto(`${proxy.url}/runs/${runId}`);
    await eventually(async () => (await seqsOnScreen(page)).length >= 12, 'a dozen events on screen');

    // The network goes away for a while; the run goes on producing events meanwhile.
    proxy.cut({ down: true });
    await page.locator('[data-connection=lost]').waitFor({ timeout: 10_000 });
    await page.getByRole('alert').filter({ hasText: 'live connection to the server dropped' }).waitFor();
    const before = await seqsOnScreen(page);
    const { events: during } = await t.client.request(EventsDocument, { runId, after: 0, first: 10_000 });
    await eventually(async () => {
      const { events } = await t.client.request(EventsDocument, { runId, after: 0, first: 10_000 });
      return events.length >= during.length + 8;
    }, 'the run to go on while the page is cut off');
    expect((await seqsOnScreen(page)).length).toBe(before.length);
    await screenshot(page, 'e2e-connection-lost');

    // Back: the page resubscribes from the last seq it showed and catches up.
    proxy.restore();
    await page.locator('[data-connection=live]').waitFor({ timeout: 15_000 });
    await eventually(async () => (await seqsOnScreen(page)).length > before.length + 8, 'the missed events');
    expect(await page.getByRole('alert').filter({ hasText: 'live connection to the server dropped' }).count()).toBe(0);
    await expectWholeTimeline(runId, { running: true });

    // A second, short cut in the middle of a stream, then on to the end.
    proxy.cut();
    await page.locator('.page-title [data-status=COMPLETED]').waitFor({ timeout: 45_000 });
    await eventually(async () => (await textOf('[data-testid=event-count]')).includes('complete'), 'the end of the stream');
    const seqs = await expectWholeTimeline(runId);
    const text = ((await page.locator('[data-testid=llm-text][data-step=planner]').textContent()) ?? '').replace('▍', '');
    expect(text, 'the planner text whole, each delta once').toBe(SLOW_TOKENS.join(''));
    expect(seqs.length).toBeGreaterThan(SLOW_TOKENS.length / 4);
    await screenshot(page, 'e2e-connection-resumed');
  });

  it('asks for the API token once and keeps it', async () => {
    const secured = await startTestApp({ apiToken: 'open-sesame', disableWorker: true });
    try {
      await page.goto(`${secured.url}/`);
      const dialog = page.getByRole('dialog', { name: 'This server needs its API token' });
      await dialog.waitFor();
      await screenshot(page, 'e2e-token-prompt');

      await dialog.getByLabel('API token').fill('wrong');
      await dialog.getByRole('button', { name: 'Use this token' }).click();
      await dialog.getByText('The server refused the token').waitFor();

      await dialog.getByLabel('API token').fill('open-sesame');
      await dialog.getByRole('button', { name: 'Use this token' }).click();
      await page.getByText('No runs yet — create one.').waitFor();
      expect(await dialog.count()).toBe(0);
      // The live connection (WebSocket, token in connection_init) works too.
      await page.locator('[data-connection=live]').waitFor();

      // Kept in the browser: a new visit does not ask again.
      await page.reload();
      await page.getByText('No runs yet — create one.').waitFor();
      await page.locator('[data-connection=live]').waitFor();
      expect(await dialog.count()).toBe(0);
      expect(await page.evaluate(() => localStorage.getItem('agent-runner.token'))).toBe('open-sesame');
    } finally {
      await secured.close();
    }
  });
});
