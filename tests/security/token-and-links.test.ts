/**
 * Issue 11, item 1 (the token): the Authorization scheme in any case; artifact downloads through
 * short-lived signed links instead of the API token in the URL; no start on the network without a
 * token unless the operator says so.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRunnerClient } from '../../src/client/client.js';
import { ArtifactDownloadUrlDocument, ProjectsDocument } from '../../src/client/generated/graphql.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { ArtifactLinks } from '../../src/http/download-links.js';
import { queuedRun, startTestApp, type TestApp } from '../helpers/test-app.js';
import { rawRequest, RawGraphQLSocket } from './support.js';

const TOKEN = 'links-test-token';

/** A project, a run and one artifact file, recorded straight in the store. */
async function seedArtifact(t: TestApp, file: string, text: string) {
  const { store } = t.app.services;
  const folder = join(t.dir, 'workspace');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, file), text);
  const project = (await store.listProjects()).find((p) => p.localPath === folder) ?? (await store.createProject(`links-${Date.now()}`, folder));
  const run = await queuedRun(t, project.id, 'links');
  return store.createArtifact({ runId: run.id, stepName: 'planner', kind: 'GENERATED_FILE', path: file, sizeBytes: text.length });
}

describe('the Authorization scheme is case-insensitive', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ disableWorker: true, apiToken: TOKEN });
  });
  afterAll(() => t.close());

  it.each(['bearer', 'BEARER', 'Bearer', 'bEaReR'])('%s <token> works over HTTP, /ready, downloads and WebSocket', async (scheme) => {
    const authorization = `${scheme} ${TOKEN}`;
    const body = JSON.stringify({ query: '{ projects { id } }' });
    const graphql = await rawRequest(t.url, '/graphql', { method: 'POST', body, headers: { 'content-type': 'application/json', 'content-length': String(body.length), authorization } });
    expect(graphql.status).toBe(200);
    expect((await rawRequest(t.url, '/ready', { headers: { authorization } })).status).toBe(200);
    const artifact = await seedArtifact(t, 'case.txt', 'case');
    expect((await rawRequest(t.url, `/artifacts/${artifact.id}/download`, { headers: { authorization } })).text).toBe('case');
    const socket = await RawGraphQLSocket.connect(t.url, { authorization });
    socket.close();
  });

  it('still refuses another scheme, a missing space or a wrong token', async () => {
    for (const authorization of [`Basic ${TOKEN}`, `Bearer${TOKEN}`, 'bearer wrong', TOKEN]) {
      expect((await rawRequest(t.url, '/ready', { headers: { authorization } })).status, authorization).toBe(401);
    }
  });
});

describe('artifact download links', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ disableWorker: true, apiToken: TOKEN, artifactLinkTtlSeconds: 1 });
  });
  afterAll(() => t.close());

  async function linkFor(id: number): Promise<string> {
    const { artifact } = await t.client.request(ArtifactDownloadUrlDocument, { id: String(id) });
    return artifact!.downloadUrl;
  }

  it('a signed link downloads its own artifact without the token, and carries no token', async () => {
    const artifact = await seedArtifact(t, 'PLAN.md', '# the plan\n');
    const link = await linkFor(artifact.id);
    expect(link).not.toContain(TOKEN);
    const response = await rawRequest(t.url, link);
    expect(response.status).toBe(200);
    expect(response.text).toBe('# the plan\n');
  });

  it('a link is for one artifact: another id, a changed expiry or signature is refused', async () => {
    const first = await seedArtifact(t, 'one.txt', 'one');
    const second = await seedArtifact(t, 'two.txt', 'two');
    const link = new URL(await linkFor(first.id), t.url);
    const expires = link.searchParams.get('expires')!;
    const signature = link.searchParams.get('signature')!;
    for (const forged of [
      `/artifacts/${second.id}/download?expires=${expires}&signature=${signature}`,
      `/artifacts/${first.id}/download?expires=${Number(expires) + 3600}&signature=${signature}`,
      `/artifacts/${first.id}/download?expires=${expires}&signature=${signature.slice(0, -2)}AA`,
      `/artifacts/${first.id}/download?expires=${expires}`,
    ]) {
      const response = await rawRequest(t.url, forged);
      expect(response.status, forged).toBe(401);
      expect(response.text).toContain('downloadUrl');
      expect(response.text).not.toMatch(/one|two/);
    }
  });

  it('a link expires (ARTIFACT_LINK_TTL_SECONDS) and says so', async () => {
    const artifact = await seedArtifact(t, 'soon.txt', 'soon');
    const link = await linkFor(artifact.id);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const response = await rawRequest(t.url, link);
    expect(response.status).toBe(401);
    expect((response.json as { error: string }).error).toMatch(/expired.*1 s/);
    // A fresh one works.
    expect((await rawRequest(t.url, await linkFor(artifact.id))).status).toBe(200);
  });

  it('the old ?token= form is refused, with the way to do it now', async () => {
    const artifact = await seedArtifact(t, 'old.txt', 'old');
    const response = await rawRequest(t.url, `/artifacts/${artifact.id}/download?token=${TOKEN}`);
    expect(response.status).toBe(401);
    expect((response.json as { error: string }).error).toMatch(/\?token= are no longer accepted.*downloadUrl/);
  });

  it('links are signed with a key derived from API_TOKEN: valid across servers with that token, and only those', () => {
    const now = () => 1_800_000_000_000;
    const path = new URL(new ArtifactLinks(TOKEN, 300, now).pathFor(7), 'http://x');
    expect(new ArtifactLinks(TOKEN, 300, now).check(7, path.searchParams)).toBe('valid');
    expect(new ArtifactLinks('another-token', 300, now).check(7, path.searchParams)).toBe('invalid');
    expect(new ArtifactLinks(TOKEN, 300, () => now() + 301_000).check(7, path.searchParams)).toBe('expired');
  });
});

describe('starting on the network', () => {
  it('without API_TOKEN is refused with one line saying why and what to do', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.20', 'my-machine.lan']) {
      expect(() => loadConfig({ HOST: host }), host).toThrow(ConfigError);
      expect(() => loadConfig({ HOST: host }), host).toThrow(/API_TOKEN.*ALLOW_REMOTE_WITHOUT_TOKEN=true/);
    }
  });

  it('is allowed with API_TOKEN, or with ALLOW_REMOTE_WITHOUT_TOKEN=true; loopback needs neither', () => {
    expect(loadConfig({ HOST: '0.0.0.0', API_TOKEN: 't' }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '0.0.0.0', ALLOW_REMOTE_WITHOUT_TOKEN: 'true' }).allowRemoteWithoutToken).toBe(true);
    for (const host of ['127.0.0.1', '127.0.1.1', 'localhost', '::1', '[::1]']) expect(loadConfig({ HOST: host }).host).toBe(host);
  });

  it('npm start’s server prints that one line and exits 2', async () => {
    const env = { ...process.env, HOST: '0.0.0.0', API_TOKEN: '', ALLOW_REMOTE_WITHOUT_TOKEN: '', PORT: '0', DATABASE_PATH: '/nonexistent/never-opened.db' };
    const failure = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/server.ts'], { env, timeout: 30_000 }).then(
      () => null,
      (error: { code: number; stderr: string; stdout: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr.trim().split('\n')).toHaveLength(1);
    expect(failure?.stderr).toMatch(/^agent-runner: HOST=0\.0\.0\.0 .*API_TOKEN/);
  });

  it('rejects malformed ALLOWED_HOSTS and ALLOWED_ORIGINS values with one line each', () => {
    expect(() => loadConfig({ ALLOWED_HOSTS: 'https://runner.example.com' })).toThrow(/ALLOWED_HOSTS.*host names without scheme or port/);
    expect(() => loadConfig({ ALLOWED_ORIGINS: 'console.example.com' })).toThrow(/ALLOWED_ORIGINS.*https:\/\/console\.example\.com/);
    expect(() => loadConfig({ ALLOWED_ORIGINS: 'https://console.example.com/app' })).toThrow(/ALLOWED_ORIGINS/);
    expect(loadConfig({ ALLOWED_HOSTS: 'Runner.Example.com., build-box', ALLOWED_ORIGINS: 'https://Console.example.com' })).toMatchObject({
      allowedHosts: ['runner.example.com', 'build-box'],
      allowedOrigins: ['https://console.example.com'],
    });
  });
});

describe('a typed client without the token', () => {
  it('is refused; with it, served', async () => {
    const t = await startTestApp({ disableWorker: true, apiToken: TOKEN });
    try {
      await expect(new AgentRunnerClient({ url: t.url }).request(ProjectsDocument)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
      expect((await t.client.request(ProjectsDocument)).projects).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
