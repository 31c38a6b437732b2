/**
 * Workflows as data in the console, in headless Chromium against the real server: the new-run form
 * built from a workflow's declared inputs (a problem the server finds shown beside its field, what
 * was typed kept, then a run that completes on the version chosen), and the workflows page (versions
 * with the latest marked, where each came from, inputs, steps of a custom type, the definition, and
 * the files that did not load, each problem with its line and column).
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateProjectDocument, RegisterWorkflowDocument } from '../../src/client/generated/graphql.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { makeTempDir, startTestApp, type TestApp } from '../helpers/test-app.js';
import { eventually, launchBrowser, pagePerTest, screenshot } from './browser.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/workflows/service-brief.yaml', import.meta.url));
const HTTP_REQUEST = fileURLToPath(new URL('../../examples/step-types/http-request.mjs', import.meta.url));
const BRIEF = 'A brief of the service, in a few words.';

/** Version 1.1.0 of the example: one more required input, registered through the API. */
const V110 = readFileSync(EXAMPLE, 'utf8')
  .replace('version: "1.0.0"', 'version: "1.1.0"')
  .replace('inputs:\n', 'inputs:\n  owner:\n    type: string\n    required: true\n    description: The team that owns the service.\n');

/** A file with a misspelt field: listed as a load problem at line 6, column 5. */
const BROKEN = 'name: broken\nversion: "1"\nsteps:\n  - name: list\n    type: SHELL_COMMAND\n    comand: ls\n';

/** A workflow with a step of a custom type (the shipped HTTP_REQUEST example). */
const PING = `name: ping
version: "0.1.0"
description: Asks a service whether it is up.
inputs:
  url: { type: string, default: "http://localhost:8080/q/health", description: The health endpoint }
steps:
  - name: health
    type: HTTP_REQUEST
    url: \${{ inputs.url }}
    expectStatus: [200]
`;

let fake: FakeOllama;
let t: TestApp;
let browser: Browser;
let workflowsDir: string;
const session = pagePerTest(() => browser);

beforeAll(async () => {
  fake = await startFakeOllama({ models: ['gemma3:27b'] });
  fake.script('gemma3:27b', { response: BRIEF, firstByteDelayMs: 200, tokenDelayMs: 30 });
  const dir = makeTempDir();
  workflowsDir = join(dir, 'workflows');
  mkdirSync(workflowsDir);
  mkdirSync(join(dir, 'step-types'));
  copyFileSync(EXAMPLE, join(workflowsDir, 'service-brief.yaml'));
  copyFileSync(HTTP_REQUEST, join(dir, 'step-types', 'http-request.mjs'));
  writeFileSync(join(workflowsDir, 'broken.yaml'), BROKEN);
  writeFileSync(join(workflowsDir, 'ping.yaml'), PING);
  t = await startTestApp({ ollamaBaseUrl: fake.url }, { dir });
  await t.client.request(RegisterWorkflowDocument, { definition: V110 });
  await t.client.request(CreateProjectDocument, { name: 'briefs', localPath: join(dir, 'workspaces', 'briefs') });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await fake?.close();
});

const noHorizontalScroll = async () => {
  const { page } = session;
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, 'no horizontal scrolling').toBeLessThanOrEqual(0);
};

describe('workflows as data in the console', () => {
  it('renders a version’s inputs as a form, shows the server’s problem beside its field keeping what was typed, then runs on that version', async () => {
    const { page } = session;
    await page.goto(`${t.url}/runs/new?workflow=service-brief`);
    const inputs = page.getByTestId('workflow-inputs');
    await inputs.waitFor();

    // The latest version is chosen, with its own inputs.
    expect(await page.getByLabel('Version').inputValue()).toBe('1.1.0');
    expect(await inputs.locator('legend').textContent()).toContain('v1.1.0');
    await inputs.getByLabel(/owner/).waitFor();

    // Version 1.0.0: its inputs, by type, defaults filled in, required marked, descriptions as help.
    await page.getByLabel('Version').selectOption('1.0.0');
    await eventually(async () => (await inputs.getByLabel(/owner/).count()) === 0, 'the 1.1.0-only input to go');
    const service = inputs.locator('[data-input=service]');
    const audience = inputs.locator('[data-input=audience]');
    const maxWords = inputs.locator('[data-input=maxWords]');
    const includeRisks = inputs.locator('[data-input=includeRisks]');
    expect(await service.getAttribute('type')).toBe('text');
    expect(await service.inputValue()).toBe('');
    expect(await service.getAttribute('aria-required')).toBe('true');
    expect(await inputs.locator(`label[for="${await service.getAttribute('id')}"]`).textContent()).toContain('(required)');
    expect(await audience.evaluate((e) => e.tagName)).toBe('SELECT');
    expect(await audience.inputValue()).toBe('engineers');
    expect(await audience.locator('option').allTextContents()).toEqual(['engineers', 'managers', 'customers']);
    expect(await maxWords.getAttribute('type')).toBe('number');
    expect(await maxWords.inputValue()).toBe('300');
    expect(await includeRisks.getAttribute('type')).toBe('checkbox');
    expect(await includeRisks.isChecked()).toBe(true);
    expect(await inputs.textContent()).toContain("The service's name, such as billing (it names the files).");

    // The user fills some fields but forgets the required one: the server says so, beside it.
    await page.getByLabel('Goal').fill('Bill customers monthly');
    await maxWords.fill('120');
    await audience.selectOption('managers');
    await includeRisks.uncheck();
    await page.getByRole('button', { name: 'Start run' }).click();
    const serviceError = inputs.locator('[data-error-for=service]');
    await serviceError.waitFor();
    expect(await serviceError.textContent()).toBe('"service" is required (The service\'s name, such as billing (it names the files).)');
    expect(await service.getAttribute('aria-invalid')).toBe('true');
    expect(await service.getAttribute('aria-describedby')).toContain((await serviceError.getAttribute('id'))!);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-input'))).toBe('service');
    expect(await page.getByRole('alert').first().textContent()).toContain('1 input needs a change');
    // Nothing typed is lost, and no run was made.
    expect(await page.getByLabel('Goal').inputValue()).toBe('Bill customers monthly');
    expect(await maxWords.inputValue()).toBe('120');
    expect(await audience.inputValue()).toBe('managers');
    expect(await includeRisks.isChecked()).toBe(false);
    expect(await page.getByLabel('Version').inputValue()).toBe('1.0.0');
    expect(page.url()).toContain('/runs/new');
    await screenshot(page, 'e2e-inputs-error');
    await page.setViewportSize({ width: 390, height: 844 });
    await noHorizontalScroll();
    await screenshot(page, 'e2e-inputs-error-390px');
    await page.setViewportSize({ width: 1280, height: 900 });

    // Fixed: the problem goes as soon as the field changes, and the run is created on 1.0.0.
    await service.fill('billing');
    expect(await serviceError.count()).toBe(0);
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.waitForURL(/\/runs\/\d+$/);
    const workflow = page.getByTestId('run-workflow');
    await workflow.waitFor();
    expect(await workflow.textContent()).toMatch(/service-brief v1\.0\.0 · [0-9a-f]{12} · not the latest \(1\.1\.0\): the run keeps its own/);
    const shownInputs = page.getByTestId('run-inputs');
    expect(await shownInputs.innerText()).toBe('service = "billing", audience = "managers", maxWords = 120, includeRisks = false');
    await page.locator('.page-title [data-status=COMPLETED]').waitFor({ timeout: 30_000 });
    expect(await page.locator('.steps [data-step-status=COMPLETED]').count()).toBe(3);
    const runId = page.url().split('/').pop()!;
    expect(readFileSync(join(t.dir, 'workspaces', 'briefs', 'docs', 'billing-brief.md'), 'utf8')).toBe(`<!-- Written by run ${runId} of service-brief 1.0.0 -->\n${BRIEF}\n`);
    await screenshot(page, 'e2e-inputs-run-completed');
  });

  it('shows each workflow’s versions, inputs, steps and definition, and the files that did not load', async () => {
    const { page } = session;
    await page.goto(`${t.url}/workflows`);
    const card = page.locator('[data-workflow=service-brief]');
    await card.waitFor();

    // Versions, latest first: where each came from, when, its content hash.
    const rows = card.locator('.versions-table tbody tr');
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-version')))).toEqual(['1.1.0', '1.0.0']);
    const latest = card.locator('tr[data-version="1.1.0"]');
    const first = card.locator('tr[data-version="1.0.0"]');
    expect(await latest.locator('.tag-latest').count()).toBe(1);
    expect(await first.locator('.tag-latest').count()).toBe(0);
    expect(await latest.locator('td[data-label=From]').textContent()).toBe('registered through the API');
    expect(await first.locator('td[data-label=From]').textContent()).toBe(`file ${join(workflowsDir, 'service-brief.yaml')}`);
    expect(await first.locator('td[data-label="Content hash"]').textContent()).toMatch(/^[0-9a-f]{12}$/);
    expect(await first.locator('td[data-label=Registered]').textContent()).toMatch(/just now|s ago|min ago/);

    // The latest version's inputs and steps.
    expect(await card.locator('h2').textContent()).toContain('v1.1.0');
    const owner = card.locator('.inputs-table tr[data-input=owner]');
    expect(await owner.locator('td[data-label=Required]').textContent()).toBe('yes');
    const audience = card.locator('.inputs-table tr[data-input=audience]');
    expect(await audience.locator('td[data-label=Type]').textContent()).toBe('choice: engineers, managers, customers');
    expect(await audience.locator('td[data-label=Default]').textContent()).toBe('"engineers"');
    expect(await audience.locator('td[data-label="What it is for"]').textContent()).toBe('Who reads the brief.');
    expect(await card.locator('.steps-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-step')))).toEqual(['draft', 'publish', 'count']);
    expect(await card.locator('.steps-table tr[data-step=draft] td[data-label=Type]').textContent()).toBe('LLM_GENERATE');

    // An older version on demand, with its definition as registered.
    await first.getByRole('button', { name: 'Show v1.0.0' }).click();
    expect(await card.locator('h2').textContent()).toContain('v1.0.0');
    expect(await card.locator('h2').textContent()).toContain('older version');
    expect(await card.locator('.inputs-table tr[data-input=owner]').count()).toBe(0);
    await card.getByTestId('definition').locator('summary').click();
    const source = card.getByTestId('definition-source');
    await source.waitFor();
    expect(await source.textContent()).toContain('command: wc -w docs/${{ inputs.service }}-brief.md');
    expect(await source.locator('.line').count()).toBe(readFileSync(EXAMPLE, 'utf8').trimEnd().split('\n').length);

    // A step of a custom type says so.
    expect(await page.locator('[data-workflow=ping] .steps-table tr[data-step=health] td[data-label=Type]').textContent()).toBe('HTTP_REQUEST (custom)');

    // The file that did not load, each problem with line:column.
    const problems = page.getByTestId('load-problems');
    expect(await problems.locator('h2').textContent()).toBe('1 file did not load');
    const broken = problems.locator(`[data-problem-file="${join(workflowsDir, 'broken.yaml')}"]`);
    expect(await broken.locator('.tag').textContent()).toBe('workflow definition');
    const lines = await broken.locator('.problems li').allInnerTexts();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^line 4:5 steps\[0\]: missing required field "command"$/);
    expect(lines[1]).toMatch(/^line 6:5 steps\[0\]: unknown field "comand" \(did you mean "command"\?\)/);
    await screenshot(page, 'e2e-workflows-page');

    await page.setViewportSize({ width: 390, height: 844 });
    await noHorizontalScroll();
    await screenshot(page, 'e2e-workflows-page-390px');
  });
});
