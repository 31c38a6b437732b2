/**
 * Issue 11 in a real browser (headless Chromium): a page of another site the user merely visits
 * tries everything it can against the server on 127.0.0.1 (form and multipart POSTs, fetch with and
 * without CORS, a WebSocket), and a page of a name rebound to 127.0.0.1 tries the same from "inside";
 * nothing gets in. The legitimate pages still work: GraphiQL (the page, a query, a mutation, a
 * subscription over WebSocket) and the console's downloads through signed links, a stale one renewed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProjectsDocument } from '../../src/client/generated/graphql.js';
import { queuedRun, startTestApp, type TestApp } from '../helpers/test-app.js';
import { eventually, launchBrowser, screenshot } from './browser.js';

const EVIL_HOST = 'evil.example';

let t: TestApp;
let evil: Server;
let evilPort: number;
let browser: Browser;
let context: BrowserContext;
let page: Page;

/** The attacking page: everything a page of another site can send to the API without the user doing anything. */
function attackPage(api: string, folder: string): string {
  const ws = api.replace(/^http/, 'ws');
  const mutation = (name: string) => `mutation { createProject(name: "${name}", localPath: "${folder}/${name}") { id } }`;
  return `<!doctype html><html><body>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form id="form" method="POST" action="${api}/graphql" target="sink1">
  <input name="query" value='${mutation('evil-form')}'>
</form>
<form id="multipart" method="POST" action="${api}/graphql" target="sink2" enctype="multipart/form-data">
  <input name="operations" value='${JSON.stringify({ query: mutation('evil-multipart') })}'>
  <input name="map" value="{}">
</form>
<script>
  window.report = {};
  document.getElementById('form').submit();
  document.getElementById('multipart').submit();
  fetch('${api}/graphql', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ query: ${JSON.stringify(mutation('evil-no-cors'))} }) })
    .then((r) => (report.noCors = r.type), () => (report.noCors = 'failed'));
  fetch('${api}/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: ${JSON.stringify(mutation('evil-cors'))} }) })
    .then(async (r) => (report.cors = r.status + ' ' + (await r.text())), () => (report.cors = 'blocked'));
  fetch('${api}/graphql?query=' + encodeURIComponent('{ projects { localPath } }'), { credentials: 'include' })
    .then(async (r) => (report.read = r.status + ' ' + (await r.text())), () => (report.read = 'blocked'));
  const socket = new WebSocket('${ws}/graphql', 'graphql-transport-ws');
  socket.onopen = () => {
    report.ws = 'open';
    socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: ${JSON.stringify(mutation('evil-ws'))} } }));
  };
  socket.onmessage = (m) => (report.wsMessage = String(m.data));
  socket.onerror = () => (report.ws = report.ws ?? 'refused');
</script></body></html>`;
}

beforeAll(async () => {
  t = await startTestApp({ disableWorker: true });
  evil = createServer((req, res) => {
    const api = decodeURIComponent(new URL(req.url ?? '/', 'http://x').searchParams.get('api') ?? '');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(attackPage(api, join(t.dir, 'attack')));
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  evilPort = (evil.address() as AddressInfo).port;
  // evil.example resolves to 127.0.0.1, as an attacker's DNS would make it (DNS rebinding).
  browser = await launchBrowser([`--host-resolver-rules=MAP ${EVIL_HOST} 127.0.0.1`]);
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => evil?.close(resolve));
  await t?.close();
});

beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
});

afterEach(async () => {
  await context.close();
});

async function projectNames(): Promise<string[]> {
  return (await t.client.request(ProjectsDocument)).projects.map((p) => p.name);
}

describe('a page of another site', () => {
  it('cannot create a project by form, multipart, fetch or WebSocket, nor read the API', async () => {
    await page.goto(`http://${EVIL_HOST}:${evilPort}/?api=${encodeURIComponent(t.url)}`);
    const report = await eventually(
      () => page.evaluate(() => {
        const r = (window as unknown as { report: Record<string, string> }).report;
        return r && r.ws && r.cors && r.noCors && r.read ? r : null;
      }),
      'the attack page to finish',
    );
    await screenshot(page, 'e2e-attack-page');
    expect(report.ws).toBe('refused');
    expect(report.wsMessage).toBeUndefined();
    expect(report.cors).toBe('blocked');
    expect(report.read).toBe('blocked');
    // The form posts land in the frames: give them time to reach the server.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await projectNames()).filter((name) => name.startsWith('evil-'))).toEqual([]);
  });

  it('served from a name rebound to 127.0.0.1, gets nothing from the server', async () => {
    const port = new URL(t.url).port;
    const response = await page.goto(`http://${EVIL_HOST}:${port}/`);
    expect(response?.status()).toBe(403);
    expect(await page.textContent('body')).toContain('FORBIDDEN_HOST');
    // Same origin now, as far as the browser knows: it may read what it gets, and gets a refusal.
    const attempt = await page.evaluate(async () => {
      const r = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'mutation { createProject(name: "evil-rebound", localPath: "/tmp/evil-rebound") { id } }' }),
      });
      return `${r.status} ${await r.text()}`;
    });
    expect(attempt).toMatch(/^403 .*FORBIDDEN_HOST/);
    expect(await projectNames()).not.toContain('evil-rebound');
  });
});

describe('GraphiQL', () => {
  /** Opens GraphiQL with `query` in its editor, runs it and returns the result pane's text once it has `expected`. */
  async function runInGraphiQL(query: string, expected: string): Promise<string> {
    await page.goto(`${t.url}/graphql?query=${encodeURIComponent(query)}`);
    await page.getByRole('button', { name: /execute query/i }).click();
    return eventually(async () => {
      // The result pane is a Monaco editor: its spaces are non-breaking ones.
      const text = ((await page.locator('.graphiql-response').textContent()) ?? '').replace(/\s/g, ' ');
      return text.includes(expected) ? text : null;
    }, `GraphiQL's result with ${expected}`);
  }

  it('runs a query, a mutation and a subscription', async () => {
    const folder = join(t.dir, 'graphiql-project');
    const created = await runInGraphiQL(`mutation { createProject(name: "from-graphiql", localPath: "${folder}") { id name } }`, 'from-graphiql');
    expect(created).toContain('"createProject"');
    expect(await runInGraphiQL('{ projects { name } }', 'from-graphiql')).toContain('"projects"');

    const { projects } = await t.client.request(ProjectsDocument);
    const projectId = projects.find((p) => p.name === 'from-graphiql')!.id;
    const run = await queuedRun(t, Number(projectId));
    await t.app.services.eventLog.append(run.id, { type: 'RUN_QUEUED', message: 'queued from the test' });
    await t.app.services.eventLog.flush();
    const streamed = await runInGraphiQL(`subscription { runEvents(runId: "${run.id}") { seq type message } }`, 'queued from the test');
    expect(streamed).toContain('RUN_QUEUED');
    await screenshot(page, 'e2e-graphiql-subscription');
  });
});

describe('the console’s downloads', () => {
  const TOKEN = 'download-token';
  let secured: TestApp;
  beforeAll(async () => {
    secured = await startTestApp({ disableWorker: true, apiToken: TOKEN, artifactLinkTtlSeconds: 2 });
  });
  afterAll(() => secured?.close());

  it('follow a signed link, and renew one that has expired before following it', async () => {
    // The console has the token already (asked for once, kept in this browser).
    await context.addInitScript((token) => localStorage.setItem('agent-runner.token', token), TOKEN);
    const { store } = secured.app.services;
    const folder = join(secured.dir, 'downloads');
    const project = await store.createProject('downloads', folder);
    const run = await queuedRun(secured, project.id);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'PLAN.md'), '# a plan to download\n');
    const artifact = await store.createArtifact({ runId: run.id, stepName: 'planner', kind: 'GENERATED_FILE', path: 'PLAN.md', sizeBytes: 21 });

    await page.goto(`${secured.url}/runs/${run.id}/artifacts/${artifact.id}`);
    const link = page.getByRole('link', { name: 'Download', exact: true });
    await link.waitFor();
    const href = (await link.getAttribute('href')) ?? '';
    expect(href).toMatch(/^\/artifacts\/\d+\/download\?expires=\d+&signature=/);

    // The page's link expires (ARTIFACT_LINK_TTL_SECONDS is 2 here); a click still downloads.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect((await fetch(`${secured.url}${href}`)).status, 'the page’s own link has expired').toBe(401);
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('PLAN.md');
    expect(readFileSync((await download.path())!, 'utf8')).toBe('# a plan to download\n');
    expect(await link.getAttribute('href')).not.toBe(href);
  });
});
