/**
 * An agent run from the console, as a new user tries it: a small project, "add a test", the
 * conversation watched live (reasoning folded, text, tool calls with arguments, command output,
 * results), the limits with their use, and one directive that changes what the agent does next.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatMessages, conversationScript, startFakeOllama, type FakeOllama, type GenerateScript, type RecordedRequest } from '../helpers/fake-ollama.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { AGENT_MODELS, THINKING_MODEL, call } from '../agent/support.js';
import { eventually, launchBrowser, screenshot } from './browser.js';

const TEST_SCRIPT = '#!/bin/sh\n. ./greet.sh\n[ "$(greet Ada)" = "Hello, Ada" ] && echo "ok - greet Ada" || { echo "not ok - greet Ada"; exit 1; }\n';

/**
 * The test command waits for this file, so the directive is sent while it runs, whatever the machine's
 * load. It lives in the project's folder: a sandboxed command (the default where bubblewrap is
 * installed, as in CI) sees no other folder the test writes to.
 */
let gate = '';
let fake: FakeOllama;
let t: TestApp;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  fake = await startFakeOllama({ models: AGENT_MODELS });
  const slow = { firstByteDelayMs: 300, tokenDelayMs: 120 };
  const directed = (req: RecordedRequest) => chatMessages(req).some((m) => m.role === 'user' && m.content.includes('README'));
  fake.script(
    THINKING_MODEL,
    conversationScript([
      { ...slow, thinking: ['The user wants a test. ', 'First I should see the files.'], tokens: ['Let me ', 'look at ', 'the project.'], ...call('list_files') },
      { ...slow, thinking: ['greet.sh defines greet.'], ...call('read_file', { path: 'greet.sh' }) },
      { ...slow, tokens: ['I will add ', 'a test script.'], ...call('write_file', { path: 'tests/greet_test.sh', content: TEST_SCRIPT }) },
      (): GenerateScript => ({ ...slow, ...call('run_command', { command: `while [ ! -e '${gate}' ]; do sleep 0.05; done; sh tests/greet_test.sh` }) }),
      (req) =>
        directed(req)
          ? { ...slow, thinking: ['The user asked for a README note.'], ...call('write_file', { path: 'README.md', content: '# greet\n\nRun the test: `sh tests/greet_test.sh`\n' }) }
          : { ...slow, ...call('finish', { summary: 'Added tests/greet_test.sh (no directive came).' }) },
      { ...slow, tokens: ['Done.'], ...call('finish', { summary: 'Added tests/greet_test.sh, which passes, and documented it in README.md.' }) },
    ]),
  );
  t = await startTestApp({ ollamaBaseUrl: fake.url, llmHeartbeatMs: 1000 });
  browser = await launchBrowser();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await fake?.close();
});

describe('an agent run in the console', () => {
  it('is created from the form, watched live, steered with a directive, and ends with what was asked', async () => {
    const folder = join(t.dir, 'workspaces', 'greeter');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'greet.sh'), 'greet() { echo "Hello, $1"; }\n');
    gate = join(folder, '.gate');

    await page.goto(`${t.url}/runs/new`);
    await page.getByLabel('New project’s name').fill('greeter');
    await page.getByLabel(/Folder on the server/).fill(folder);
    await page.getByLabel('Kind of run').selectOption('AGENT');
    await page.getByLabel('Goal', { exact: true }).fill('Add a test for the greet function');
    const modelField = page.getByLabel('Model for agent');
    await eventually(async () => (await modelField.inputValue()) === 'qwen3-coder:latest', 'the default agent model pre-filled');
    await modelField.fill(THINKING_MODEL);
    expect(await page.getByLabel(/Model calls at most/).getAttribute('placeholder')).toBe('40');
    await screenshot(page, 'e2e-agent-new-run');
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.waitForURL(/\/runs\/\d+$/);

    // Live: the turns appear with their reasoning folded, text, calls and results.
    const panel = page.getByRole('region', { name: 'Agent' });
    await panel.waitFor();
    await panel.locator('[data-turn="1"]').waitFor({ timeout: 15_000 });
    await panel.locator('[data-tool=list_files][data-call-state=ok]').waitFor({ timeout: 15_000 });
    expect(await panel.locator('[data-turn="1"] [data-testid=agent-text]').textContent()).toBe('Let me look at the project.');
    const thinking = panel.locator('[data-turn="1"] details.agent-thinking');
    expect(await thinking.getAttribute('open')).toBeNull();
    await thinking.locator('summary').click();
    expect(await thinking.locator('pre').textContent()).toBe('The user wants a test. First I should see the files.');
    expect(await panel.locator('[data-tool=list_files] [data-testid=agent-result]').textContent()).toBe('greet.sh');

    // While the test command runs: the directive.
    await panel.locator('[data-tool=run_command][data-call-state=running]').waitFor({ timeout: 20_000 });
    expect(await panel.locator('[data-tool=run_command] .agent-args').textContent()).toContain('sh tests/greet_test.sh');
    await screenshot(page, 'e2e-agent-running');
    await page.getByLabel('Directive to the agent').fill('Also document how to run the test in README.md.');
    await page.getByRole('button', { name: 'Send directive' }).click();
    await panel.locator('[data-directive=waiting]').waitFor();
    writeFileSync(gate, '');
    await panel.locator('[data-directive=delivered]').waitFor({ timeout: 20_000 });
    expect(await panel.locator('[data-directive=delivered]').textContent()).toContain('delivered before turn 5');
    expect(await panel.locator('[data-tool=run_command] [data-testid=agent-command-output]').textContent()).toBe('ok - greet Ada\n');

    // The end: what the directive asked for was done; the limits show what was used.
    await page.locator('.page-title [data-status=COMPLETED]').waitFor({ timeout: 30_000 });
    await panel.locator('[data-tool=finish][data-call-state=ok]').waitFor();
    expect(readFileSync(join(folder, 'README.md'), 'utf8')).toContain('sh tests/greet_test.sh');
    expect(readFileSync(join(folder, 'tests', 'greet_test.sh'), 'utf8')).toBe(TEST_SCRIPT);
    expect(await panel.locator('[data-limit="Model calls"] .limit-value').textContent()).toBe('6 of 40');
    expect(await page.getByText('The run has ended: it takes no more directives.').count()).toBe(1);
    await screenshot(page, 'e2e-agent-completed');

    // At phone width the conversation fits: no horizontal scrolling.
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, 'no horizontal scrolling at 390 px').toBeLessThanOrEqual(0);
    await screenshot(page, 'e2e-agent-completed-390px');
    expect(pageErrors).toEqual([]);
  });
});
