/**
 * Flow control in the console, in headless Chromium against the real server: a run's steps drawn
 * in columns by depth (a diamond whose middle steps run at once, watched live while gates hold
 * them), a step skipped by its condition with the reason, a loop with its iterations and what
 * `until` gave, the timeline filtered to one step through `?step=` (live, nothing missing, Back and
 * "Show all events" bring every event back), the workflows page's needs, conditions and loop, and
 * no sideways scrolling of the page at 390 px (the graph scrolls in its own box).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateProjectDocument, CreateRunDocument, EventsDocument, RegisterWorkflowDocument } from '../../src/client/generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { eventually, launchBrowser, pagePerTest, screenshot, seqsOnScreen } from './browser.js';

/**
 * a → (b, c) → d, then a report that runs only if c failed (it does not: SKIPPED) beside a loop
 * whose check fails on its first iteration and passes on its second. b, c and the second check wait
 * for gate files in the project's folder (their working directory; a sandboxed command sees no other
 * folder the test writes to).
 */
const FLOW = `name: diamond-loop
version: "1.0.0"
description: A diamond, a condition and a loop.
maxParallel: 4
steps:
  - { name: a, type: SHELL_COMMAND, command: "echo a ran" }
  - { name: b, type: SHELL_COMMAND, needs: [a], command: "echo b waits; while [ ! -e gate-b ]; do sleep 0.05; done; echo b through" }
  - { name: c, type: SHELL_COMMAND, needs: [a], command: "echo c waits; while [ ! -e gate-c ]; do sleep 0.05; done; echo c through" }
  - { name: d, type: FILE_WRITE, needs: [b, c], outputFile: d.txt, content: "b and c are done" }
  - name: report
    type: SHELL_COMMAND
    needs: [d]
    if: \${{ steps.c.outcome == 'failure' }}
    command: echo c failed
  - name: repeat
    type: LOOP
    needs: [d]
    maxIterations: 3
    until: \${{ steps.check.outcome == 'success' }}
    steps:
      - { name: bump, type: SHELL_COMMAND, command: "n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; echo try $((n+1))" }
      - { name: check, type: SHELL_COMMAND, command: "[ $(cat count) -ge 2 ] && while [ ! -e gate-loop ]; do sleep 0.05; done", continueOnError: true }
`;

const CONDITION = "${{ steps.c.outcome == 'failure' }}";

let t: TestApp;
let browser: Browser;
let folder: string;
let projectId: string;
const session = pagePerTest(() => browser);

beforeAll(async () => {
  t = await startTestApp({ streamCoalesceMs: 20 });
  await t.client.request(RegisterWorkflowDocument, { definition: FLOW });
  folder = join(t.dir, 'workspaces', 'diamond');
  ({
    createProject: { id: projectId },
  } = await t.client.request(CreateProjectDocument, { name: 'diamond', localPath: folder }));
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

const statusOf = (page: Page, step: string) => page.locator(`.graph-step[data-step=${step}] > .step-head [data-step-status]`).getAttribute('data-step-status');
/** The step names of each column of the graph, left to right. */
const columns = (page: Page) =>
  page.locator('.graph-column').evaluateAll((cols) => cols.map((col) => [...col.querySelectorAll(':scope > .graph-column-steps > .graph-step')].map((s) => s.getAttribute('data-step'))));
/** The steps the timeline shows events of (each event's group). */
const stepsOnScreen = (page: Page) =>
  page.locator('.timeline [data-seq]').evaluateAll((elements) => [...new Set(elements.map((e) => e.closest('[data-group]')?.getAttribute('data-group')))]);

async function eventsOf(runId: string, step?: string) {
  const { events } = await t.client.request(EventsDocument, { runId, after: 0, first: 10_000 });
  return step === undefined ? events : events.filter((e) => e.stepName === step);
}

const noHorizontalScroll = async (page: Page) => {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, 'no horizontal scrolling of the page').toBeLessThanOrEqual(0);
};

describe('flow control in the console', () => {
  it('draws the run as columns by depth, live: b and c at once, a skipped step with its reason, a loop with its iterations; the timeline filters by step through ?step=', async () => {
    const { page } = session;
    const { createRun } = await t.client.request(CreateRunDocument, { input: { projectId, goal: 'draw the graph', options: { workflowName: 'diamond-loop' } } });
    const runId = createRun.id;
    await page.goto(`${t.url}/runs/${runId}`);
    const graph = page.getByRole('region', { name: 'Step graph' });
    await graph.waitFor();

    // Columns by depth: a, then b and c side by side, then d, then the report beside the loop.
    expect(await columns(page)).toEqual([['a'], ['b', 'c'], ['d'], ['report', 'repeat']]);
    expect(await page.locator('.graph-column').nth(1).getAttribute('aria-label')).toBe('Stage 2: b, c');
    expect(await page.locator('.graph-step[data-step=d] [data-testid=needs]').textContent()).toContain('after b, c');
    // A line from each need to its step, under the cards.
    await eventually(async () => (await page.locator('.graph-edges [data-edge]').count()) === 6, 'the graph’s lines');
    expect((await page.locator('.graph-edges [data-edge]').evaluateAll((paths) => paths.map((p) => p.getAttribute('data-edge')))).sort()).toEqual(
      ['a>b', 'a>c', 'b>d', 'c>d', 'd>repeat', 'd>report'],
    );
    expect(await page.locator('.graph-step[data-step=report] .step-condition').textContent()).toBe(`if ${CONDITION}`);
    expect(await page.getByText('at most 4 at once').count()).toBe(1);

    // Live: b and c both running (held by their gates), with their elapsed time; d waits for both.
    await eventually(async () => (await statusOf(page, 'b')) === 'RUNNING' && (await statusOf(page, 'c')) === 'RUNNING', 'b and c running at once');
    expect(await statusOf(page, 'a')).toBe('COMPLETED');
    expect(await page.locator('.graph-step[data-step=a] .step-meta').textContent()).toMatch(/^took \d/);
    expect(await statusOf(page, 'd')).toBe('PENDING');
    await eventually(async () => /running for \d/.test((await page.locator('.graph-step[data-step=b] .step-meta').textContent()) ?? ''), 'b’s elapsed time');
    expect(await page.locator('.graph-step[data-step=c] .step-meta').textContent()).toMatch(/running for \d/);
    await page.locator('[data-testid=shell-text][data-step=c]').filter({ hasText: 'c waits' }).waitFor();
    await screenshot(page, 'e2e-flow-diamond-running');

    // The list of runs, in another tab, names both steps running.
    const list = await page.context().newPage();
    await list.goto(`${t.url}/`);
    const current = list.locator(`tr[data-run-id="${runId}"] td[data-label="Current step"]`);
    await eventually(async () => (await current.textContent()) === 'b (2/6), c (3/6)', 'both running steps in the list of runs');
    await list.close();

    // Clicking b filters the timeline to b's events, in the URL.
    await page.getByRole('button', { name: 'Timeline of step b' }).click();
    await page.waitForURL(/\?step=b$/);
    expect(await page.getByRole('button', { name: 'Timeline of step b' }).getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByTestId('timeline-filter-state').textContent()).toContain('Showing only the events of step b');
    expect(await page.getByLabel('Events of').inputValue()).toBe('b');
    expect(await stepsOnScreen(page)).toEqual(['b']);
    expect(await seqsOnScreen(page)).toEqual((await eventsOf(runId, 'b')).map((e) => e.seq));

    // Still live while filtered: b's gate opens, its output and its end arrive; nothing of c does.
    writeFileSync(join(folder, 'gate-b'), '');
    await page.locator('.timeline [data-type=STEP_COMPLETED]').waitFor();
    await page.locator('[data-testid=shell-text][data-step=b]').filter({ hasText: 'b through' }).waitFor();
    expect(await stepsOnScreen(page)).toEqual(['b']);
    expect(await seqsOnScreen(page)).toEqual((await eventsOf(runId, 'b')).map((e) => e.seq));
    // The graph follows (it reads the run's records again after each step's event).
    await eventually(async () => (await statusOf(page, 'b')) === 'COMPLETED', 'b done in the graph');
    expect(await statusOf(page, 'c')).toBe('RUNNING');
    await screenshot(page, 'e2e-flow-filtered-b');

    // Back: every event again, none missing.
    await page.goBack();
    await page.waitForURL((url) => !url.search.includes('step='));
    expect(await page.getByTestId('timeline-filter-state').count()).toBe(0);
    await eventually(async () => (await stepsOnScreen(page)).length > 2, 'the other steps’ events back');
    const all = await seqsOnScreen(page);
    expect(all).toEqual(all.map((_, i) => i + 1));

    // The select does the same; "Show all events" undoes it.
    await page.getByLabel('Events of').selectOption('c');
    await page.waitForURL(/\?step=c$/);
    expect(await stepsOnScreen(page)).toEqual(['c']);
    await page.getByRole('button', { name: 'Show all events' }).click();
    await page.waitForURL((url) => !url.search.includes('step='));
    expect((await stepsOnScreen(page)).length).toBeGreaterThan(2);

    // c's gate opens: d, then the report is skipped (its condition is false) and the loop runs; its
    // second iteration's check waits at its gate, live on the page.
    writeFileSync(join(folder, 'gate-c'), '');
    const loop = page.locator('.graph-step[data-step=repeat]');
    const iterations = loop.getByRole('list', { name: 'Iterations of repeat' }).locator(':scope > li');
    const inner = (iteration: number, step: string) => loop.locator(`.loop-step[data-iteration="${iteration}"][data-step=${step}] [data-step-status]`).getAttribute('data-step-status');
    await eventually(async () => (await iterations.count()) === 2 && (await inner(2, 'check')) === 'RUNNING', 'the second iteration’s check running', 40_000);
    const list2 = await page.context().newPage();
    await list2.goto(`${t.url}/`);
    const current2 = list2.locator(`tr[data-run-id="${runId}"] td[data-label="Current step"]`);
    await eventually(async () => (await current2.textContent()) === 'repeat › check, iteration 2 (6/6)', 'the loop’s running step in the list of runs');
    await list2.close();
    expect(await statusOf(page, 'repeat')).toBe('RUNNING');
    expect(await iterations.nth(0).getAttribute('aria-label')).toBe('Iteration 1 of 3: until did not hold: next iteration');
    expect(await iterations.nth(1).getAttribute('aria-label')).toBe('Iteration 2 of 3: running');
    expect(await inner(1, 'check')).toBe('FAILED');
    expect(await loop.getByTestId('loop-ending').count()).toBe(0);
    await screenshot(page, 'e2e-flow-loop-running');
    writeFileSync(join(folder, 'gate-loop'), '');
    await page.locator('.page-title [data-status=COMPLETED]').waitFor({ timeout: 40_000 });
    await page.locator('.timeline [data-type=WORKFLOW_COMPLETED]').waitFor();
    const whole = await seqsOnScreen(page);
    expect(whole, 'every event, in order, none missing').toEqual((await eventsOf(runId)).map((e) => e.seq));

    expect(await statusOf(page, 'report')).toBe('SKIPPED');
    expect(await page.locator('.graph-step[data-step=report] [data-testid=skipped-reason]').textContent()).toBe(`Skipped: its condition ${CONDITION} is false`);
    expect(await page.locator('.timeline [data-type=STEP_SKIPPED]').textContent()).toContain(CONDITION);

    expect(await statusOf(page, 'repeat')).toBe('COMPLETED');
    expect(await loop.locator('.loop-rule').textContent()).toBe("until ${{ steps.check.outcome == 'success' }} · at most 3 iterations");
    expect(await iterations.count()).toBe(2);
    expect(await iterations.nth(0).getAttribute('aria-label')).toBe('Iteration 1 of 3: until did not hold: next iteration');
    expect(await iterations.nth(1).getAttribute('aria-label')).toBe('Iteration 2 of 3: until held');
    expect([await inner(1, 'bump'), await inner(1, 'check'), await inner(2, 'bump'), await inner(2, 'check')]).toEqual(['COMPLETED', 'FAILED', 'COMPLETED', 'COMPLETED']);
    expect(await loop.locator('.loop-step[data-iteration="1"][data-step=check] .step-error').textContent()).toMatch(/exit|code 1/i);
    expect(await loop.getByTestId('loop-ending').textContent()).toContain('until held after 2 iterations');
    await screenshot(page, 'e2e-flow-completed');

    // A loop's step: its events of every iteration, each group saying which.
    await loop.getByRole('button', { name: 'Timeline of step check' }).first().click();
    await page.waitForURL(/\?step=check$/);
    expect(await stepsOnScreen(page)).toEqual(['check']);
    expect(await seqsOnScreen(page)).toEqual((await eventsOf(runId, 'check')).map((e) => e.seq));
    expect(await page.locator('.tl-group[data-group=check]').evaluateAll((groups) => groups.map((g) => g.getAttribute('data-iteration')))).toEqual(['1', '2']);
    expect(await page.locator('.tl-group[data-group=check] .tl-group-title').allTextContents()).toEqual(['Step check · iteration 1', 'Step check · iteration 2']);

    // At 390 px: the page does not scroll sideways; the graph scrolls inside its own box.
    await page.setViewportSize({ width: 390, height: 844 });
    await noHorizontalScroll(page);
    expect(await graph.evaluate((box) => box.scrollWidth > box.clientWidth)).toBe(true);
    await screenshot(page, 'e2e-flow-390px');
  });

  it('hostile text stays text: markup in a condition and until, and odd ?step= values (markup, 5000 characters, an unknown step) leave the page working', async () => {
    const { page } = session;
    const MARKUP = `<img src=x onerror="window.__pwned=1">`;
    await t.client.request(RegisterWorkflowDocument, {
      definition: `name: hostile-text
version: "1"
steps:
  - { name: a, type: SHELL_COMMAND, command: "echo a" }
  - name: b
    type: SHELL_COMMAND
    needs: [a]
    if: \${{ steps.a.outcome == '${MARKUP}' }}
    command: echo b
  - name: again
    type: LOOP
    needs: [a]
    maxIterations: 1
    until: \${{ steps.inner.outcome == '${MARKUP}' }}
    steps:
      - { name: inner, type: SHELL_COMMAND, command: "echo inner" }
`,
    });
    const { createRun } = await t.client.request(CreateRunDocument, { input: { projectId, goal: 'hostile text', options: { workflowName: 'hostile-text' } } });
    // The loop's until never holds: its one iteration runs out and the run fails.
    await eventually(async () => (await eventsOf(createRun.id)).some((e) => e.type === 'WORKFLOW_COMPLETED' || e.type === 'WORKFLOW_FAILED'), 'the run to end', 40_000);

    const pwned = () => page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned);
    for (const step of ['<script>window.__pwned=1</script>', MARKUP, 's'.repeat(5000), 'no-such-step', '%', '']) {
      await page.goto(`${t.url}/runs/${createRun.id}?step=${encodeURIComponent(step)}`);
      await page.locator('.graph-step[data-step=b]').waitFor();
      // The condition is shown as the text it is, not as an element.
      expect(await page.locator('.graph-step[data-step=b] .step-condition').textContent()).toContain(MARKUP);
      expect(await page.locator('.graph-step img').count()).toBe(0);
      if (step === '') {
        await eventually(async () => (await seqsOnScreen(page)).length === (await eventsOf(createRun.id)).length, 'every event');
      } else {
        // A step the run does not have: no event of it, said in words, and a way back to every event.
        await page.getByText(`Step ${step} has no events.`).waitFor();
        expect(await seqsOnScreen(page)).toEqual([]);
        await page.getByRole('button', { name: 'Show all events' }).click();
        await eventually(async () => (await seqsOnScreen(page)).length === (await eventsOf(createRun.id)).length, 'every event');
      }
      expect(await pwned()).toBeUndefined();
    }

    await page.goto(`${t.url}/workflows`);
    const card = page.locator('[data-workflow=hostile-text]');
    await card.waitFor();
    expect(await card.textContent()).toContain(MARKUP);
    expect(await card.locator('img').count()).toBe(0);
    expect(await pwned()).toBeUndefined();
  });

  it('opens a shared ?step= link with only that step’s events, and the workflows page shows needs, conditions, the loop and the limits', async () => {
    const { page } = session;
    const { createRun } = await t.client.request(CreateRunDocument, { input: { projectId, goal: 'a shared link', options: { workflowName: 'diamond-loop' } } });
    // The gates are open (the first test opened them; opened here too should it have failed early).
    for (const gate of ['gate-b', 'gate-c', 'gate-loop']) writeFileSync(join(folder, gate), '');
    await eventually(async () => (await eventsOf(createRun.id)).some((e) => e.type === 'WORKFLOW_COMPLETED'), 'the run to complete', 40_000);

    await page.goto(`${t.url}/runs/${createRun.id}?step=d`);
    await page.locator('.timeline [data-seq]').first().waitFor();
    expect(await stepsOnScreen(page)).toEqual(['d']);
    expect(await seqsOnScreen(page)).toEqual((await eventsOf(createRun.id, 'd')).map((e) => e.seq));
    expect(await page.getByLabel('Events of').inputValue()).toBe('d');
    await page.getByRole('button', { name: 'Show all events' }).click();
    await eventually(async () => (await seqsOnScreen(page)).length === (await eventsOf(createRun.id)).length, 'every event');

    await page.goto(`${t.url}/workflows`);
    const card = page.locator('[data-workflow=diamond-loop]');
    await card.waitFor();
    expect(await card.getByTestId('workflow-limits').textContent()).toBe('At most 4 steps at once · a failed step lets the steps running beside it finish');
    const row = (step: string) => card.locator(`.steps-table tr[data-step=${step}]`);
    expect(await row('a').locator('td[data-label=Needs]').textContent()).toBe('—');
    expect(await row('b').locator('td[data-label=Needs]').textContent()).toBe('a');
    expect(await row('d').locator('td[data-label=Needs]').textContent()).toBe('b, c');
    expect(await row('report').locator('td[data-label=Condition]').textContent()).toBe(CONDITION);
    expect(await row('b').locator('td[data-label=Condition]').textContent()).toBe('—');
    const loop = row('repeat');
    expect(await loop.locator('td[data-label="What it does"]').textContent()).toContain("until ${{ steps.check.outcome == 'success' }}, at most 3 iterations");
    const inner = card.getByRole('list', { name: 'Steps of each iteration of repeat' }).locator(':scope > li');
    expect(await inner.evaluateAll((items) => items.map((i) => i.getAttribute('data-step')))).toEqual(['bump', 'check']);
    expect(await inner.nth(1).textContent()).toContain('after bump');
    await screenshot(page, 'e2e-flow-workflows-page');
    await page.setViewportSize({ width: 390, height: 844 });
    await noHorizontalScroll(page);
  });
});
