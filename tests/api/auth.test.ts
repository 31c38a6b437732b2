import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AgentRunnerClient } from '../../src/client/client.js';
import { ProjectsDocument, RunEventsDocument, WorkerDocument } from '../../src/client/generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { collectSse, createRun, nextEvent, postGraphQL, subscribeSse, within } from './api-helpers.js';

const TOKEN = 'secret';

/** Subscribes over graphql-ws with the given connection_init payload; resolves with the socket's close code. */
function wsCloseCode(url: string, connectionParams: Record<string, unknown>): Promise<number> {
  return within(
    new Promise<number>((resolve) => {
      const client = createClient({
        url: `${url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams,
        retryAttempts: 0,
        lazy: true,
        on: { closed: (event) => resolve((event as { code: number }).code) },
      });
      client.subscribe({ query: print(WorkerDocument) }, { next: () => {}, error: () => {}, complete: () => {} });
    }),
    10_000,
    'the WebSocket being closed',
  );
}

async function expectUnauthenticated(response: Response) {
  expect(response.status).toBe(401);
  const body = (await response.json()) as { errors: Array<{ message: string; extensions?: { code?: string } }> };
  expect(body.errors[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' }, message: expect.stringContaining('Authorization: Bearer') });
}

describe('API_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ apiToken: TOKEN, disableWorker: true });
  });
  afterAll(() => t.close());

  it('HTTP without a token → 401 UNAUTHENTICATED', async () => {
    await expectUnauthenticated(await postGraphQL(t.url, ProjectsDocument, {}));
  });

  it.each([
    ['a wrong token', 'Bearer wrong'],
    ['the token without "Bearer"', TOKEN],
    ['a longer token', `Bearer ${TOKEN}x`],
  ])('HTTP with %s → 401 UNAUTHENTICATED', async (_label, authorization) => {
    await expectUnauthenticated(await postGraphQL(t.url, ProjectsDocument, {}, { headers: { authorization } }));
  });

  it('a GET query without a token → 401 UNAUTHENTICATED', async () => {
    const query = encodeURIComponent(print(ProjectsDocument));
    await expectUnauthenticated(await fetch(`${t.url}/graphql?query=${query}`, { headers: { accept: 'application/json' } }));
  });

  it('SSE without a token → 401 UNAUTHENTICATED', async () => {
    await expectUnauthenticated(await postGraphQL(t.url, RunEventsDocument, { runId: '1', after: 0 }, { accept: 'text/event-stream' }));
  });

  it('HTTP with the right token works (the typed client sends it)', async () => {
    const { projects } = await t.client.request(ProjectsDocument);
    expect(Array.isArray(projects)).toBe(true);
  });

  it('SSE with the right token works', async () => {
    const run = await createRun(t);
    const sse = await subscribeSse(t.url, RunEventsDocument, { runId: run.id, after: 0 }, { authorization: `Bearer ${TOKEN}` });
    expect(sse.status).toBe(200);
    const first = await within(sse.results.next(), 10_000, 'the first SSE event');
    expect(first.done ? null : first.value.data?.runEvents).toMatchObject({ seq: 1, type: 'RUN_QUEUED' });
    await sse.results.return();
  });

  it('WebSocket without a token is closed with 4403', async () => {
    expect(await wsCloseCode(t.url, {})).toBe(4403);
  });

  it('WebSocket with a wrong token is closed with 4403', async () => {
    expect(await wsCloseCode(t.url, { authorization: 'Bearer wrong' })).toBe(4403);
  });

  it('a typed client without the token fails to subscribe', async () => {
    const client = new AgentRunnerClient({ url: t.url });
    try {
      const subscription = client.subscribe(RunEventsDocument, { runId: '1', after: 0 });
      await expect(within(subscription.next(), 10_000, 'the refused subscription')).rejects.toMatchObject({ code: 4403 });
    } finally {
      await client.close();
    }
  });

  it('WebSocket with the token in connection_init works', async () => {
    const run = await createRun(t);
    const subscription = t.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 });
    try {
      expect(await nextEvent(subscription)).toMatchObject({ seq: 1, type: 'RUN_QUEUED', runId: run.id });
    } finally {
      subscription.close();
    }
  });

  it('/health is open to everyone', async () => {
    const response = await fetch(`${t.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('/ready without or with a wrong token → 401; with the token → ready', async () => {
    expect((await fetch(`${t.url}/ready`)).status).toBe(401);
    expect((await fetch(`${t.url}/ready`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);

    const response = await fetch(`${t.url}/ready`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ready', database: { status: 'ok' } });
  });

  it('the GraphiQL page itself needs no token (its requests do)', async () => {
    const response = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    await response.body?.cancel();
  });
});

describe('without API_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ disableWorker: true });
  });
  afterAll(() => t.close());

  it('HTTP, SSE and WebSocket need no token', async () => {
    expect((await postGraphQL(t.url, ProjectsDocument, {})).status).toBe(200);

    const run = await createRun(t);
    const sse = await subscribeSse(t.url, RunEventsDocument, { runId: run.id, after: 0 });
    expect(sse.status).toBe(200);
    await sse.results.return();

    const client = new AgentRunnerClient({ url: t.url });
    try {
      expect(await nextEvent(client.subscribe(RunEventsDocument, { runId: run.id, after: 0 }))).toMatchObject({ seq: 1 });
    } finally {
      await client.close();
    }
  });
});
