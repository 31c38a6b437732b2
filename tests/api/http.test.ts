import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

describe('HTTP endpoints', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ disableWorker: true });
  });
  afterAll(() => t.close());

  it('/health → {status: "ok"}', async () => {
    const response = await fetch(`${t.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('/ready → {status: "ready"} with the database it checked (and Redis: none here)', async () => {
    const response = await fetch(`${t.url}/ready`);
    expect(response.status).toBe(200);
    const kind = t.config.databaseUrl ? 'postgresql' : 'sqlite';
    expect(await response.json()).toMatchObject({ status: 'ready', database: { kind, status: 'ok' }, redis: null });
  });

  describe('GraphiQL (GET /graphql for a browser)', () => {
    let html: string;
    let contentType: string | null;
    beforeAll(async () => {
      const response = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(response.status).toBe(200);
      contentType = response.headers.get('content-type');
      html = await response.text();
    });

    it('is an HTML page titled agent-runner that starts GraphiQL', () => {
      expect(contentType).toContain('text/html');
      expect(html).toMatch(/<html/i);
      expect(html).toContain('<title>agent-runner</title>');
      expect(html.toLowerCase()).toContain('graphiql');
    });

    it('loads nothing from a CDN, so it works offline', () => {
      for (const cdn of ['unpkg.com', 'cdn.jsdelivr.net', 'cdnjs.cloudflare.com', 'esm.sh', 'fonts.googleapis.com']) {
        expect(html, `GraphiQL page references ${cdn}`).not.toContain(cdn);
      }
      // No script or stylesheet is fetched from another origin.
      expect(html.match(/<script[^>]+src=["']?(https?:)?\/\/[^"'\s>]+/gi) ?? []).toEqual([]);
      expect(html.match(/<link[^>]+href=["']?(https?:)?\/\/[^"'\s>]+/gi) ?? []).toEqual([]);
    });
  });

  it('/ is the web console, an HTML page (tests/http/console.test.ts has the details)', async () => {
    const response = await fetch(`${t.url}/`, { redirect: 'manual' });
    // 200 once console/dist is built, 503 with build instructions before.
    expect([200, 503]).toContain(response.status);
    expect(response.headers.get('content-type')).toContain('text/html');
  });

  it('an unknown path → 404 pointing at /graphql', async () => {
    const response = await fetch(`${t.url}/nothing-here`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: string }).error).toContain('/graphql');
  });
});
