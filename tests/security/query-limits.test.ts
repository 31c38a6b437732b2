/**
 * Issue 11, item 4: bounded queries. Each attack of the issue through the real server, over HTTP and
 * WebSocket, refused with its own code before any work is done; the work of a client that left
 * stops; and every operation the console, the CLI and the tests send stays within the defaults.
 */
import { getIntrospectionQuery, print, type DocumentNode } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as generated from '../../src/client/generated/graphql.js';
import { loadConfig } from '../../src/config.js';
import { operationCost, queryLimitPlugins } from '../../src/http/query-limits.js';
import { schema } from '../../src/schema/index.js';
import { queuedRun, startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { expectErrorCode, graphqlBody, jsonHeaders, rawRequest, RawGraphQLSocket, type RawResponse } from './support.js';

/** `levels` times `runs { project { … } }` under `project(id: "1")`: the nesting attack. */
function nestedRuns(levels: number, leaf = 'id'): string {
  let selection = leaf;
  for (let i = 0; i < levels; i++) selection = `runs { project { ${selection} } }`;
  return `{ project(id: "1") { ${selection} } }`;
}

function aliases(count: number, field = 'workflows{name}'): string {
  return `{${Array.from({ length: count }, (_, i) => `a${i}:${field}`).join(' ')}}`;
}

async function post(t: TestApp, query: string, variables: Record<string, unknown> = {}): Promise<RawResponse> {
  const body = graphqlBody(query, variables);
  return rawRequest(t.url, '/graphql', { method: 'POST', body, headers: jsonHeaders(body) });
}

/** Counts the store's project lookups: the work a nested query makes the server do. */
function countProjectLookups(t: TestApp): { readonly calls: number } {
  const store = t.app.services.store;
  const original = store.getProject.bind(store);
  const counter = { calls: 0 };
  store.getProject = (id) => {
    counter.calls++;
    return original(id);
  };
  return counter;
}

let t: TestApp;
let lookups: { readonly calls: number };
beforeAll(async () => {
  t = await startTestApp({ disableWorker: true });
  const { store } = t.app.services;
  const project = await store.createProject('limits', `${t.dir}/limits`);
  for (let i = 0; i < 3; i++) {
    await queuedRun(t, project.id);
  }
  lookups = countProjectLookups(t);
});
afterAll(() => t.close());

describe('over HTTP', () => {
  it('refuses the 216-byte query nesting project { runs { project … } } five levels deep, before any lookup', async () => {
    const query = nestedRuns(5, 'runs { id goal status createdAt steps { name status } }');
    expect(Buffer.byteLength(query)).toBeLessThan(220);
    const before = lookups.calls;
    const response = await post(t, query);
    expect(response.status).toBe(400);
    expect(expectErrorCode(response, 'QUERY_TOO_DEEP').message).toMatch(/depth limit of 8 exceeded, found 14.*MAX_QUERY_DEPTH/);
    expect(lookups.calls).toBe(before);
  });

  it('refuses it by cost too, when the depth limit is raised: defaults of `first` count', async () => {
    const deep = await startTestApp({ disableWorker: true, maxQueryDepth: 100 });
    try {
      const response = await post(deep, nestedRuns(5));
      expect(expectErrorCode(response, 'QUERY_TOO_COSTLY').message).toMatch(/cost limit of 100000 exceeded, found \d+.*MAX_QUERY_COST/);
      // Two levels are fine: 50 runs, each with its project.
      expect((await post(deep, nestedRuns(1))).json).toMatchObject({ data: { project: null } });
    } finally {
      await deep.close();
    }
  });

  it('counts variables: a list size given as a variable is its multiplier', async () => {
    const query = 'query ($n: Int) { runs(first: 500) { events(first: $n) { seq type message } } }';
    expectErrorCode(await post(t, query, { n: 10_000 }), 'QUERY_TOO_COSTLY');
    expect((await post(t, query, { n: 10 })).json).toMatchObject({ data: { runs: expect.any(Array) } });
  });

  it('refuses a costly subscription over Server-Sent Events before it starts', async () => {
    const body = graphqlBody('subscription { runUpdated { project { runs(first: 500) { events(first: 10000) { seq } } } } }');
    const response = await rawRequest(t.url, '/graphql', { method: 'POST', body, headers: jsonHeaders(body, { accept: 'text/event-stream' }) });
    expect(response.text).toContain('QUERY_TOO_COSTLY');
    expect(response.text).toContain('MAX_QUERY_COST');
  });

  it('refuses 16 aliases; 15 are served', async () => {
    expect(expectErrorCode(await post(t, aliases(16)), 'TOO_MANY_ALIASES').message).toMatch(/Aliases limit of 15 exceeded, found 16.*MAX_QUERY_ALIASES/);
    expect((await post(t, aliases(15))).json).toMatchObject({ data: { a14: expect.any(Array) } });
  });

  it('refuses 10,000 aliases while parsing (token limit), and 100,000 aliases of workflows by size', async () => {
    expect(expectErrorCode(await post(t, aliases(10_000, 'worker{queued}')), 'TOO_MANY_TOKENS').message).toMatch(/Token limit of 1000 exceeded.*MAX_QUERY_TOKENS/);
    const huge = await post(t, aliases(100_000));
    expect(huge.status).toBe(413);
    expect(expectErrorCode(huge, 'REQUEST_TOO_LARGE').message).toContain('MAX_REQUEST_BYTES');
    expect((await rawRequest(t.url, '/health')).status).toBe(200);
  });

  it('answers 2,000 nesting levels with a limit error, never an internal error', async () => {
    const query = nestedRuns(1000);
    expectErrorCode(await post(t, query), 'TOO_MANY_TOKENS');
    // With the token limit raised far, the nesting itself is refused.
    const lenient = await startTestApp({ disableWorker: true, maxQueryTokens: 1_000_000 });
    try {
      const response = await post(lenient, query);
      expect(response.text).not.toContain('INTERNAL_SERVER_ERROR');
      expectErrorCode(response, 'QUERY_TOO_DEEP');
    } finally {
      await lenient.close();
    }
  });

  it('refuses more than 50 directives', async () => {
    const query = `{ worker { ${Array.from({ length: 51 }, () => 'queued @include(if: true)').join(' ')} } }`;
    expectErrorCode(await post(t, query), 'TOO_MANY_DIRECTIVES');
  });

  it('refuses a body over MAX_REQUEST_BYTES, and one without a length', async () => {
    const big = await post(t, `{ worker { queued } } # ${'x'.repeat(300_000)}`);
    expect(big.status).toBe(413);
    expectErrorCode(big, 'REQUEST_TOO_LARGE');
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(graphqlBody('{ worker { queued } }'));
      req.end();
    });
    expect(chunked).toBe(411);
  });
});

describe('over WebSocket', () => {
  it('refuses the nested query and a costly subscription, before they start', async () => {
    const socket = await RawGraphQLSocket.connect(t.url);
    try {
      socket.subscribe('deep', nestedRuns(5));
      expect(await socket.expectError('deep', 'QUERY_TOO_DEEP')).toContain('MAX_QUERY_DEPTH');
      socket.subscribe('costly', 'subscription { runUpdated { project { runs(first: 500) { events(first: 10000) { seq } } } } }');
      expect(await socket.expectError('costly', 'QUERY_TOO_COSTLY')).toContain('MAX_QUERY_COST');
      socket.subscribe('aliased', aliases(16));
      await socket.expectError('aliased', 'TOO_MANY_ALIASES');
      socket.subscribe('tokens', aliases(1000, 'worker{queued}'));
      await socket.expectError('tokens', 'TOO_MANY_TOKENS');
      // The socket still serves.
      socket.subscribe('fine', '{ worker { queued } }');
      await socket.waitFor((m) => m.id === 'fine' && m.type === 'next', 'the fine query');
    } finally {
      socket.close();
    }
  });

  it('closes a socket that sends a message over MAX_REQUEST_BYTES with 1009, and keeps serving others', async () => {
    const socket = await RawGraphQLSocket.connect(t.url);
    socket.subscribe('big', `{ worker { queued } } # ${'x'.repeat(300_000)}`);
    await socket.whenClosed();
    expect(socket.closeCode).toBe(1009);
    const other = await RawGraphQLSocket.connect(t.url);
    other.subscribe('1', '{ worker { queued } }');
    await other.waitFor((m) => m.id === '1' && m.type === 'next', 'a result on another socket');
    other.close();
  });

  it('refuses the 101st subscription on one socket; the first 100 keep running, and a freed slot is usable', async () => {
    const socket = await RawGraphQLSocket.connect(t.url);
    try {
      for (let i = 0; i < 150; i++) socket.subscribe(`s${i}`, 'subscription { runUpdated { id status } }');
      const refused = await socket.expectError('s149', 'TOO_MANY_SUBSCRIPTIONS');
      expect(refused).toContain('MAX_SUBSCRIPTIONS_PER_SOCKET');
      await waitFor(() => socket.messages.filter((m) => m.type === 'error').length === 50, { what: '50 refusals' });
      const refusedIds = new Set(socket.messages.filter((m) => m.type === 'error').map((m) => m.id));
      expect(refusedIds.has('s0')).toBe(false);
      expect(refusedIds.has('s99')).toBe(false);
      expect(refusedIds.has('s100')).toBe(true);

      // The 100 are live: a run's status change reaches them.
      const run = (await t.app.services.store.listRuns({ first: 1 }))[0]!;
      expect((await post(t, `mutation { stopRun(id: "${run.id}") { status } }`)).json).toMatchObject({ data: { stopRun: { status: 'STOPPED' } } });
      await waitFor(() => socket.messages.filter((m) => m.type === 'next').length === 100, { what: '100 deliveries' });

      socket.send({ id: 's0', type: 'complete' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      socket.subscribe('again', 'subscription { runUpdated { id } }');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(socket.messages.some((m) => m.id === 'again' && m.type === 'error')).toBe(false);
      expect(socket.closeCode).toBeNull();
    } finally {
      socket.close();
    }
  });

  it('cuts off a socket flooding it with subscriptions (100,000 sent): 100 refusals, then closed with 1008', async () => {
    const socket = await RawGraphQLSocket.connect(t.url);
    const frames = Array.from({ length: 100_000 }, (_, i) => JSON.stringify({ id: `f${i}`, type: 'subscribe', payload: { query: 'subscription { runUpdated { id } }' } }));
    for (const frame of frames) socket.socket.send(frame);
    await socket.whenClosed(30_000);
    expect(socket.closeCode).toBe(1008);
    expect(socket.closeReason).toContain('MAX_SUBSCRIPTIONS_PER_SOCKET');
    const refusals = socket.messages.filter((m) => m.type === 'error');
    expect(refusals.length).toBeLessThanOrEqual(101);
    expect(refusals.length).toBeGreaterThanOrEqual(100);
    expect((refusals[0]!.payload as Array<{ extensions: { code: string } }>)[0]!.extensions.code).toBe('TOO_MANY_SUBSCRIPTIONS');
    // The server is fine.
    expect((await rawRequest(t.url, '/health')).status).toBe(200);
  });
});

describe('a client that has gone', () => {
  let big: TestApp;
  let counter: { readonly calls: number };
  // 2 × 200 runs, each with 200 runs of its project, each with its project: 80,400 lookups in all.
  const query = '{ projects { runs(first: 500) { project { runs(first: 500) { project { id } } } } } }';

  beforeAll(async () => {
    big = await startTestApp({ disableWorker: true, maxQueryDepth: 100, maxQueryCost: 1_000_000_000 });
    const { store } = big.app.services;
    for (let p = 0; p < 2; p++) {
      const project = await store.createProject(`gone-${p}`, `${big.dir}/gone-${p}`);
      for (let i = 0; i < 200; i++) {
        await queuedRun(big, project.id);
      }
    }
    counter = countProjectLookups(big);
  });
  afterAll(() => big.close());

  /** Lookups already started finish; no new one begins, and most of the work was never done. */
  async function expectWorkStopped(before: number) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const settled = counter.calls;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(counter.calls).toBe(settled);
    expect(settled - before).toBeLessThan(80_400);
  }

  it('over HTTP: the connection closed, execution stops', async () => {
    const before = counter.calls;
    const body = graphqlBody(query);
    const req = request(`${big.url}/graphql`, { method: 'POST', headers: jsonHeaders(body) });
    req.on('error', () => {});
    req.end(body);
    await waitFor(() => counter.calls > before + 1000, { what: 'the query to be under way' });
    req.destroy();
    await expectWorkStopped(before);
  });

  it('over WebSocket: the socket closed, execution stops', async () => {
    const before = counter.calls;
    const socket = await RawGraphQLSocket.connect(big.url);
    socket.subscribe('heavy', query);
    await waitFor(() => counter.calls > before + 1000, { what: 'the query to be under way' });
    socket.close();
    await expectWorkStopped(before);
  });
});

describe('the clients stay within the defaults', () => {
  const config = loadConfig({});
  const yoga = createYoga({ schema, plugins: queryLimitPlugins(config), logging: false });

  /** Values for every variable the clients' operations declare, at the largest the clients send. */
  const VARIABLES: Record<string, unknown> = {
    id: '1',
    runId: '1',
    projectId: '1',
    name: 'n',
    localPath: '/tmp/n',
    goal: 'g',
    fromStep: 'coder',
    status: 'RUNNING',
    after: 0,
    before: '1',
    maxBytes: 10_485_760,
    input: { projectId: '1', goal: 'g' },
    definition: 'name: w',
    text: 'a directive',
  };

  function check(document: DocumentNode, variables: Record<string, unknown>) {
    const { parse, validate } = yoga.getEnveloped({ params: { query: print(document) } });
    const parsed = parse(print(document));
    const errors = validate(schema, parsed);
    expect(errors.map((e: { message: string }) => e.message)).toEqual([]);
    // Measured (the variables fit the operation), and within the limit.
    const cost = operationCost({ schema, document: parsed, variableValues: variables, contextValue: {} });
    expect(cost).not.toBeNull();
    expect(cost!).toBeLessThanOrEqual(config.maxQueryCost);
  }

  const documents = Object.entries(generated).filter(([name]) => name.endsWith('Document')) as Array<[string, DocumentNode]>;
  it.each(documents)('%s', (name, document) => {
    // Events pages go up to 10,000 (the tests and the console's timeline ask that many); runs to 500.
    check(document, { ...VARIABLES, first: /Event/.test(name) ? 10_000 : 500 });
  });

  it('GraphiQL’s introspection query', () => {
    const query = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true });
    const { parse, validate } = yoga.getEnveloped({ params: { query } });
    expect(validate(schema, parse(query)).map((e: { message: string }) => e.message)).toEqual([]);
  });
});
