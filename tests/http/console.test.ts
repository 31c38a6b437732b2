import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleBuildStaleness, ensureConsoleBuilt } from '../../src/http/console.js';
import { makeTempDir, startTestApp, type TestApp } from '../helpers/test-app.js';

const INDEX = '<!doctype html><title>console-marker</title><div id="root"></div>';

/** A stand-in for console/dist: an index, hashed assets, and a secret beside the folder. */
function fakeBuild(dir: string): string {
  const dist = join(dir, 'dist');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), INDEX);
  writeFileSync(join(dist, 'assets', 'index-abc123.js'), 'console.log("app")');
  writeFileSync(join(dist, 'assets', 'index-abc123.css'), 'body{}');
  writeFileSync(join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(dir, 'secret.txt'), 'top secret');
  return dist;
}

/** A request with the path exactly as given (fetch would normalize `..`). */
function raw(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the console at /', () => {
  let t: TestApp;
  let dir: string;
  beforeAll(async () => {
    dir = makeTempDir('agent-runner-console-');
    t = await startTestApp({ disableWorker: true, consoleDir: fakeBuild(dir) });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at / with no caching', async () => {
    const response = await fetch(`${t.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(await response.text()).toBe(INDEX);
  });

  it('serves assets with their content types; hashed ones are cached for a year', async () => {
    const js = await fetch(`${t.url}/assets/index-abc123.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect(await js.text()).toBe('console.log("app")');
    expect((await fetch(`${t.url}/assets/index-abc123.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await fetch(`${t.url}/favicon.svg`)).headers.get('content-type')).toBe('image/svg+xml');
  });

  it('answers the console’s own page paths with index.html (SPA fallback)', async () => {
    for (const path of ['/runs/12', '/runs/new', '/projects', '/runs/3/artifacts/7']) {
      const response = await fetch(`${t.url}${path}`, { headers: { accept: 'text/html,application/xhtml+xml' } });
      expect(response.status, path).toBe(200);
      expect(await response.text()).toBe(INDEX);
    }
  });

  it('404 for a missing asset, and for a page path asked for without text/html', async () => {
    const asset = await fetch(`${t.url}/assets/missing.js`, { headers: { accept: 'text/html' } });
    expect(asset.status).toBe(404);
    const api = await fetch(`${t.url}/runs/12`, { headers: { accept: 'application/json' } });
    expect(api.status).toBe(404);
    expect(((await api.json()) as { error: string }).error).toContain('/graphql');
  });

  it('never leaves the build folder', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/assets/%2e%2e/%2e%2e/secret.txt', '/..%5csecret.txt', '/%00']) {
      const response = await raw(t.url, path, { accept: '*/*' });
      expect(response.body, path).not.toContain('top secret');
      expect([400, 404], path).toContain(response.status);
    }
  });

  it('HEAD gives headers only; other methods are not the console’s', async () => {
    const head = await fetch(`${t.url}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(INDEX.length));
    expect(await head.text()).toBe('');
    expect((await fetch(`${t.url}/`, { method: 'POST' })).status).toBe(404);
  });

  it('leaves /graphql, /health and /ready to the API', async () => {
    expect(await (await fetch(`${t.url}/health`)).json()).toEqual({ status: 'ok' });
    const graphiql = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await graphiql.text()).toContain('<title>agent-runner</title>');
    const query = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ projects { id } }' }) });
    expect(await query.json()).toEqual({ data: { projects: [] } });
  });
});

describe('the console before it is built', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ disableWorker: true, consoleDir: join(makeTempDir('agent-runner-nobuild-'), 'dist') });
  });
  afterAll(() => t.close());

  it('/ says how to build it (503)', async () => {
    const response = await fetch(`${t.url}/`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toContain('text/html');
    const html = await response.text();
    expect(html).toContain('npm run build:console');
    expect(html).toContain('/graphql');
  });

  it('other paths are 404', async () => {
    expect((await fetch(`${t.url}/runs/1`, { headers: { accept: 'text/html' } })).status).toBe(404);
  });
});

describe('consoleBuildStaleness', () => {
  const future = (seconds: number) => new Date(Date.now() + seconds * 1000);
  let root: string;
  beforeAll(() => {
    root = makeTempDir('agent-runner-console-src-');
    mkdirSync(join(root, 'src', 'pages'), { recursive: true });
    writeFileSync(join(root, 'src', 'pages', 'a.tsx'), 'export {}');
    writeFileSync(join(root, 'index.html'), '<div id="root"></div>');
    writeFileSync(join(root, 'vite.config.ts'), 'export default {}');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('a missing build must be made', async () => {
    expect(await consoleBuildStaleness(root, join(root, 'dist'))).toBe('no build yet');
  });

  it('a build newer than every source is fresh, and ensureConsoleBuilt leaves it', async () => {
    mkdirSync(join(root, 'dist'), { recursive: true });
    writeFileSync(join(root, 'dist', 'index.html'), 'built');
    utimesSync(join(root, 'dist', 'index.html'), future(3600), future(3600));
    expect(await consoleBuildStaleness(root, join(root, 'dist'))).toBeNull();
    expect(await ensureConsoleBuilt({ root, outDir: join(root, 'dist') })).toBe('fresh');
  });

  it('a source changed after the build makes it stale, in any folder under src', async () => {
    utimesSync(join(root, 'src', 'pages', 'a.tsx'), future(7200), future(7200));
    expect(await consoleBuildStaleness(root, join(root, 'dist'))).toMatch(/src changed since the last build/);
  });
});
