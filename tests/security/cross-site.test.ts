/**
 * Issue 11, item 1: a web page the user merely visits must not drive the server. Each attack as the
 * browser would send it — a form or multipart POST, a request or WebSocket from another origin, a page
 * of a rebound domain name — through the real server, refused with a clear error and nothing done;
 * and the legitimate ways in (same-origin pages, clients that are not browsers) still served.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProjectsDocument } from '../../src/client/generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { expectErrorCode, graphqlBody, jsonHeaders, rawRequest, RawGraphQLSocket, upgrade } from './support.js';

const EVIL = 'http://evil.example';

let t: TestApp;
let host: string;
beforeAll(async () => {
  t = await startTestApp({ disableWorker: true });
  host = new URL(t.url).host;
});
afterAll(() => t.close());

/** The attack's mutation: a project whose folder is the proof it ran. */
function createProjectMutation(name: string) {
  const folder = join(t.dir, 'attack', name);
  return { folder, query: `mutation { createProject(name: "${name}", localPath: "${folder}") { id } }` };
}

async function expectNoProject(name: string, folder: string) {
  const { projects } = await t.client.request(ProjectsDocument);
  expect(projects.map((p) => p.name)).not.toContain(name);
  expect(existsSync(folder), 'the project folder was not created').toBe(false);
}

describe('GraphQL over HTTP takes JSON only', () => {
  it('refuses a cross-site form POST (application/x-www-form-urlencoded) carrying a mutation', async () => {
    const { folder, query } = createProjectMutation('form-post');
    const body = new URLSearchParams({ query }).toString();
    const headers = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) };
    // As the browser sends it (Origin of the attacking page) …
    const fromPage = await rawRequest(t.url, '/graphql', { method: 'POST', body, headers: { ...headers, origin: EVIL, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' } });
    expect(fromPage.status).toBe(403);
    expect(expectErrorCode(fromPage, 'FORBIDDEN_ORIGIN').message).toContain('ALLOWED_ORIGINS');
    // … and even without any Origin (an old browser, a privacy extension): the body type alone is refused.
    const bare = await rawRequest(t.url, '/graphql', { method: 'POST', body, headers });
    expect(bare.status).toBe(415);
    expect(expectErrorCode(bare, 'UNSUPPORTED_MEDIA_TYPE').message).toContain('application/json');
    await expectNoProject('form-post', folder);
  });

  it('refuses a multipart POST carrying a mutation', async () => {
    const { folder, query } = createProjectMutation('multipart-post');
    const boundary = '----attack';
    const body = `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${JSON.stringify({ query })}\r\n--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{}\r\n--${boundary}--\r\n`;
    const response = await rawRequest(t.url, '/graphql', {
      method: 'POST',
      body,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(Buffer.byteLength(body)) },
    });
    expect(response.status).toBe(415);
    expectErrorCode(response, 'UNSUPPORTED_MEDIA_TYPE');
    await expectNoProject('multipart-post', folder);
  });

  it('refuses text/plain and application/graphql bodies', async () => {
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/graphql']) {
      const body = type.startsWith('text') ? graphqlBody('{ projects { id } }') : '{ projects { id } }';
      const response = await rawRequest(t.url, '/graphql', { method: 'POST', body, headers: { 'content-type': type, 'content-length': String(body.length) } });
      expect(response.status, type).toBe(415);
    }
  });

  it('refuses a mutation over GET, and answers a query over GET', async () => {
    const { folder, query } = createProjectMutation('get-mutation');
    const mutation = await rawRequest(t.url, `/graphql?query=${encodeURIComponent(query)}`, { headers: { host, accept: 'application/json' } });
    expect(mutation.status).toBe(405);
    await expectNoProject('get-mutation', folder);

    const read = await rawRequest(t.url, `/graphql?query=${encodeURIComponent('{ projects { id } }')}`, { headers: { host, accept: 'application/json' } });
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ data: { projects: expect.any(Array) } });
  });

  it('serves JSON POSTs (application/json, with or without charset; application/graphql+json)', async () => {
    for (const type of ['application/json', 'application/json; charset=utf-8', 'application/graphql+json']) {
      const body = graphqlBody('{ projects { id } }');
      const response = await rawRequest(t.url, '/graphql', { method: 'POST', body, headers: { ...jsonHeaders(body), 'content-type': type } });
      expect(response.status, type).toBe(200);
      expect(response.json, type).toMatchObject({ data: { projects: expect.any(Array) } });
    }
  });
});

describe('Origin', () => {
  it('refuses a JSON POST from another site’s page, and sends no CORS headers', async () => {
    const { folder, query } = createProjectMutation('foreign-origin');
    const body = graphqlBody(query);
    const response = await rawRequest(t.url, '/graphql', { method: 'POST', body, headers: jsonHeaders(body, { origin: EVIL }) });
    expect(response.status).toBe(403);
    expect(expectErrorCode(response, 'FORBIDDEN_ORIGIN').message).toContain('http://evil.example');
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
    expect(response.headers['access-control-allow-credentials']).toBeUndefined();
    await expectNoProject('foreign-origin', folder);
  });

  it('refuses a CORS preflight from another site without CORS headers', async () => {
    const response = await rawRequest(t.url, '/graphql', {
      method: 'OPTIONS',
      headers: { origin: EVIL, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(response.status).toBe(403);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('refuses the opaque origin "null" (a sandboxed frame, a local file)', async () => {
    const body = graphqlBody('{ projects { id } }');
    const response = await rawRequest(t.url, '/graphql', { method: 'POST', body, headers: jsonHeaders(body, { origin: 'null' }) });
    expect(response.status).toBe(403);
    expectErrorCode(response, 'FORBIDDEN_ORIGIN');
  });

  it('refuses another port of the same host (another local web app is another origin)', async () => {
    const body = graphqlBody('{ projects { id } }');
    const response = await rawRequest(t.url, '/graphql', { method: 'POST', body, headers: jsonHeaders(body, { origin: 'http://127.0.0.1:1' }) });
    expect(response.status).toBe(403);
  });

  it('refuses an <img>/<script> request from another site (no Origin, Sec-Fetch-Site: cross-site), but not a navigation', async () => {
    const query = encodeURIComponent('{ projects { id localPath } }');
    const embedded = await rawRequest(t.url, `/graphql?query=${query}`, { headers: { accept: '*/*', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'script' } });
    expect(embedded.status).toBe(403);
    expectErrorCode(embedded, 'FORBIDDEN_ORIGIN');
    // Following a link to GraphiQL from another site opens the page.
    const navigation = await rawRequest(t.url, '/graphql', { headers: { accept: 'text/html', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' } });
    expect(navigation.status).toBe(200);
    expect(navigation.headers['content-type']).toContain('text/html');
  });

  it('serves the server’s own pages (Origin equal to the Host), and clients that send no Origin', async () => {
    const body = graphqlBody('{ projects { id } }');
    for (const origin of [t.url, `http://localhost:${new URL(t.url).port}`]) {
      const hostHeader = new URL(origin).host;
      const response = await rawRequest(t.url, '/graphql', { method: 'POST', body, headers: jsonHeaders(body, { origin, host: hostHeader, 'sec-fetch-site': 'same-origin' }) });
      expect(response.status, origin).toBe(200);
      expect(response.headers['access-control-allow-origin'], 'no CORS headers without ALLOWED_ORIGINS').toBeUndefined();
    }
    const noOrigin = await rawRequest(t.url, '/graphql', { method: 'POST', body, headers: jsonHeaders(body) });
    expect(noOrigin.status).toBe(200);
  });

  it('refuses a WebSocket upgrade from another site’s page; accepts the server’s own', async () => {
    const refused = await upgrade(t.url, { origin: EVIL });
    expect(refused.opened).toBe(false);
    if (!refused.opened) {
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body)).toMatchObject({ code: 'FORBIDDEN_ORIGIN' });
    }
    const own = await upgrade(t.url, { origin: t.url });
    expect(own.opened).toBe(true);
    if (own.opened) {
      const conversation = new RawGraphQLSocket(own.socket);
      conversation.send({ type: 'connection_init', payload: {} });
      await conversation.waitFor((m) => m.type === 'connection_ack', 'connection_ack');
      conversation.subscribe('1', '{ projects { id } }');
      await conversation.waitFor((m) => m.id === '1' && m.type === 'next', 'the query result');
      conversation.close();
    }
  });
});

describe('Host (DNS rebinding)', () => {
  it('refuses requests addressed to another name on every route', async () => {
    const port = new URL(t.url).port;
    const body = graphqlBody('{ projects { id localPath } }');
    for (const [method, path] of [
      ['POST', '/graphql'],
      ['GET', '/health'],
      ['GET', '/'],
      ['GET', '/artifacts/1/download'],
    ] as const) {
      // What a page of evil.example sends once its name resolves to 127.0.0.1: its own origin and host.
      const response = await rawRequest(t.url, path, {
        method,
        body: method === 'POST' ? body : undefined,
        headers: { ...(method === 'POST' ? jsonHeaders(body) : {}), host: `evil.example:${port}`, origin: `http://evil.example:${port}` },
      });
      expect(response.status, path).toBe(403);
      expect(expectErrorCode(response, 'FORBIDDEN_HOST').message).toContain('ALLOWED_HOSTS');
      expect(response.text).not.toContain('localPath');
    }
  });

  it('refuses a WebSocket upgrade addressed to another name', async () => {
    const port = new URL(t.url).port;
    const refused = await upgrade(t.url, { host: `evil.example:${port}`, origin: `http://evil.example:${port}` });
    expect(refused.opened).toBe(false);
    if (!refused.opened) expect(refused.status).toBe(403);
  });

  it('serves loopback names and IP addresses', async () => {
    const port = new URL(t.url).port;
    for (const name of ['localhost', '127.0.0.1', '[::1]', 'app.localhost', '192.168.1.20']) {
      const response = await rawRequest(t.url, '/health', { headers: { host: `${name}:${port}` } });
      expect(response.status, name).toBe(200);
    }
  });
});

describe('ALLOWED_HOSTS and ALLOWED_ORIGINS', () => {
  let open: TestApp;
  const CONSOLE = 'https://console.example.com';
  beforeAll(async () => {
    open = await startTestApp({ disableWorker: true }, { env: { ALLOWED_HOSTS: 'runner.example.com', ALLOWED_ORIGINS: `${CONSOLE},http://other.example:3000` } });
  });
  afterAll(() => open.close());

  it('serves a listed host name', async () => {
    const response = await rawRequest(open.url, '/health', { headers: { host: 'runner.example.com' } });
    expect(response.status).toBe(200);
    expect((await rawRequest(open.url, '/health', { headers: { host: 'other.example.com' } })).status).toBe(403);
  });

  it('serves a listed origin with CORS headers naming it, never with credentials', async () => {
    const body = graphqlBody('{ projects { id } }');
    const preflight = await rawRequest(open.url, '/graphql', {
      method: 'OPTIONS',
      headers: { origin: CONSOLE, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers['access-control-allow-origin']).toBe(CONSOLE);
    expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();

    const response = await rawRequest(open.url, '/graphql', { method: 'POST', body, headers: jsonHeaders(body, { origin: CONSOLE }) });
    expect(response.status).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBe(CONSOLE);
    expect(response.headers['access-control-allow-credentials']).toBeUndefined();

    const ws = await upgrade(open.url, { origin: CONSOLE });
    expect(ws.opened).toBe(true);
    if (ws.opened) ws.socket.terminate();
  });

  it('still refuses an origin that is not listed', async () => {
    const body = graphqlBody('{ projects { id } }');
    const response = await rawRequest(open.url, '/graphql', { method: 'POST', body, headers: jsonHeaders(body, { origin: EVIL }) });
    expect(response.status).toBe(403);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });
});
