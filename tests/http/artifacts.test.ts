import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactKind } from '../../src/engine/types.js';
import { ArtifactDownloadUrlDocument } from '../../src/client/generated/graphql.js';
import { attachmentDisposition } from '../../src/http/artifacts.js';
import { queuedRun, startTestApp, type TestApp } from '../helpers/test-app.js';

const TOKEN = 'artifact-test-token';

/** A project with one queued run, whose artifacts the test records by hand. */
async function seed(t: TestApp) {
  const { store } = t.app.services;
  const folder = join(t.dir, 'workspace');
  mkdirSync(join(folder, 'src', 'main'), { recursive: true });
  const project = await store.createProject(`artifacts-${Date.now()}`, folder);
  const run = await queuedRun(t, project.id, 'serve artifacts');
  const record = (path: string, kind: ArtifactKind = 'GENERATED_FILE', sizeBytes = 0) => store.createArtifact({ runId: run.id, stepName: 'planner', kind, path, sizeBytes });
  return { folder, record };
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET') {
  return fetch(url, { method, headers, redirect: 'manual' });
}

describe('GET /artifacts/:id/download with API_TOKEN set', () => {
  let t: TestApp;
  let folder: string;
  let record: Awaited<ReturnType<typeof seed>>['record'];
  const auth = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    t = await startTestApp({ disableWorker: true, apiToken: TOKEN });
    ({ folder, record } = await seed(t));
  });
  afterAll(() => t.close());

  it('serves the file as an attachment with the Bearer header', async () => {
    writeFileSync(join(folder, 'PLAN.md'), '# Plan\n\nStep one.\n');
    const artifact = await record('PLAN.md');
    const response = await get(`${t.url}/artifacts/${artifact.id}/download`, auth);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="PLAN.md"; filename*=UTF-8''PLAN.md`);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('content-length')).toBe(String(Buffer.byteLength('# Plan\n\nStep one.\n')));
    expect(await response.text()).toBe('# Plan\n\nStep one.\n');
  });

  it('serves the signed link of Artifact.downloadUrl without the header (browser download links)', async () => {
    writeFileSync(join(folder, 'src', 'main', 'App.java'), 'class App {}\n');
    const artifact = await record('src/main/App.java');
    const { artifact: linked } = await t.client.request(ArtifactDownloadUrlDocument, { id: String(artifact.id) });
    expect(linked?.downloadUrl).toMatch(new RegExp(`^/artifacts/${artifact.id}/download\\?expires=\\d+&signature=[\\w-]+$`));
    expect(linked?.downloadUrl).not.toContain(TOKEN);
    const response = await get(`${t.url}${linked?.downloadUrl}`);
    expect(response.status).toBe(200);
    // The file name is the last part of the path.
    expect(response.headers.get('content-disposition')).toContain('filename="App.java"');
    expect(await response.text()).toBe('class App {}\n');
  });

  it('refuses a missing or wrong token with 401', async () => {
    writeFileSync(join(folder, 'secret.txt'), 'secret');
    const artifact = await record('secret.txt');
    for (const [path, headers] of [
      [`/artifacts/${artifact.id}/download`, {}],
      [`/artifacts/${artifact.id}/download`, { authorization: 'Bearer nope' }],
      [`/artifacts/${artifact.id}/download?token=nope`, {}],
      [`/artifacts/${artifact.id}/download?token=`, {}],
      // The old form, with the right token: no longer accepted (it left the token in histories and logs).
      [`/artifacts/${artifact.id}/download?token=${TOKEN}`, {}],
    ] as const) {
      const response = await get(`${t.url}${path}`, headers);
      expect(response.status, path).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      const body = await response.text();
      expect(body).not.toContain('secret');
      expect(body).toContain('token');
    }
  });

  it('404 for an unknown or malformed id', async () => {
    for (const id of ['999999', 'abc', '0', '-1', '1.5']) {
      const response = await get(`${t.url}/artifacts/${id}/download`, auth);
      expect(response.status, id).toBe(404);
      expect(((await response.json()) as { error: string }).error).toMatch(/artifact/i);
    }
  });

  it('404 when the file is no longer in the project folder', async () => {
    writeFileSync(join(folder, 'gone.txt'), 'soon gone');
    const artifact = await record('gone.txt');
    rmSync(join(folder, 'gone.txt'));
    const response = await get(`${t.url}/artifacts/${artifact.id}/download`, auth);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: string }).error).toContain('no longer');
  });

  it('never serves a file outside the workspace (.. or a symbolic link)', async () => {
    writeFileSync(join(t.dir, 'outside.txt'), 'outside the workspace');
    const climbing = await record('../outside.txt');
    symlinkSync(join(t.dir, 'outside.txt'), join(folder, 'link.txt'));
    const linked = await record('link.txt');
    const absolute = await record(join(t.dir, 'outside.txt'));
    for (const artifact of [climbing, linked, absolute]) {
      const response = await get(`${t.url}/artifacts/${artifact.id}/download`, auth);
      expect(response.status, artifact.path).toBe(404);
      expect(await response.text()).not.toContain('outside the workspace');
    }
  });

  it('404 for a folder', async () => {
    const artifact = await record('src');
    expect((await get(`${t.url}/artifacts/${artifact.id}/download`, auth)).status).toBe(404);
  });

  it('HEAD gives the headers without the body; other methods get 405', async () => {
    writeFileSync(join(folder, 'head.txt'), 'twelve bytes');
    const artifact = await record('head.txt');
    const head = await get(`${t.url}/artifacts/${artifact.id}/download`, auth, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('12');
    expect(await head.text()).toBe('');
    const post = await get(`${t.url}/artifacts/${artifact.id}/download`, auth, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('404 for other paths under /artifacts', async () => {
    for (const path of ['/artifacts', '/artifacts/1', '/artifacts/1/download/extra']) {
      expect((await get(`${t.url}${path}`, auth)).status, path).toBe(404);
    }
  });

  it('streams a large file whole', async () => {
    const big = 'x'.repeat(3 * 1024 * 1024);
    writeFileSync(join(folder, 'big.txt'), big);
    const artifact = await record('big.txt', 'COMMAND_OUTPUT', big.length);
    const body = await new Promise<string>((resolve, reject) => {
      request(`${t.url}/artifacts/${artifact.id}/download`, { headers: auth }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });
    expect(body.length).toBe(big.length);
  });
});

describe('GET /artifacts/:id/download without API_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ disableWorker: true });
  });
  afterAll(() => t.close());

  it('needs no token', async () => {
    const { folder, record } = await seed(t);
    writeFileSync(join(folder, 'PLAN.md'), 'plan');
    const artifact = await record('PLAN.md');
    const response = await get(`${t.url}/artifacts/${artifact.id}/download`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('plan');
  });
});

describe('attachmentDisposition', () => {
  it('quotes plain names and encodes others (RFC 5987)', () => {
    expect(attachmentDisposition('pom.xml')).toBe(`attachment; filename="pom.xml"; filename*=UTF-8''pom.xml`);
    expect(attachmentDisposition('plan "v2".md')).toBe(`attachment; filename="plan _v2_.md"; filename*=UTF-8''plan%20%22v2%22.md`);
    expect(attachmentDisposition('résumé.txt')).toBe(`attachment; filename="r_sum_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt`);
  });
});
