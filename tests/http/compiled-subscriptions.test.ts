/**
 * Subscriptions over WebSocket execute each event through a compiled selection (graphql-jit), not
 * graphql's `execute`. These check that what a subscriber receives is exactly what graphql-js gives
 * for the same selection over HTTP (aliases, fragments, __typename, @include, nested objects, fields
 * read from the database), and that the client's and the console's subscriptions are all compiled.
 */
import { parse, print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  ConsoleRunEventsDocument,
  ConsoleRunProgressDocument,
  ConsoleRunUpdatedDocument,
  RunEventsDocument,
  RunUpdatedDocument,
} from '../../src/client/generated/graphql.js';
import { compiledSubscription } from '../../src/http/websocket.js';
import { schema } from '../../src/schema/index.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, createRun, testWorkflow } from '../workflow/support.js';

const twoSteps = testWorkflow('echo-and-write', [
  { name: 'echo', type: 'SHELL_COMMAND', command: 'echo hello' },
  { name: 'save', type: 'FILE_WRITE', contentFrom: 'echo', outputFile: 'hello.txt', saveArtifact: true },
]);

const EVENT_SELECTION = `
  __typename
  n: seq
  kind: type
  ...Described
  data @include(if: $withData)
  stepName @skip(if: $withData)
`;
const EVENT_FRAGMENT = 'fragment Described on Event { id message createdAt stepName }';
const RUN_SELECTION = `
  __typename
  id
  status
  goal
  workflowName
  project { id name localPath }
  steps { index name type status attempt error }
  events(after: 1, first: 2) { seq type }
  artifacts { path kind sizeBytes }
`;

/** Every result of a subscription, until it completes or `until` says stop. */
function subscribeAll(client: Client, query: string, variables: Record<string, unknown>, until: (data: any) => boolean = () => false): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const results: unknown[] = [];
    const dispose = client.subscribe(
      { query, variables },
      {
        next: (result) => {
          results.push(result);
          if (until(result.data)) {
            dispose();
            resolve(results);
          }
        },
        error: reject,
        complete: () => resolve(results),
      },
    );
  });
}

async function postQuery(url: string, query: string, variables: Record<string, unknown>): Promise<any> {
  const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return response.json();
}

describe('compiled subscriptions', () => {
  let t: TestApp;
  let client: Client;

  beforeAll(async () => {
    t = await startTestApp({}, { workflows: [twoSteps] });
    client = createClient({ url: `${t.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
  });
  afterAll(async () => {
    await client?.dispose();
    await t?.close();
  });

  it('compiles every subscription the client and the console send', () => {
    for (const document of [RunEventsDocument, RunUpdatedDocument, ConsoleRunEventsDocument, ConsoleRunUpdatedDocument, ConsoleRunProgressDocument]) {
      const query = print(document);
      expect(compiledSubscription(schema, parse(query), undefined, query), query).not.toBeNull();
    }
  });

  it('delivers runEvents exactly as graphql-js executes the same selection', async () => {
    const project = await createProject(t);
    const run = await createRun(t, project.id, { workflowName: 'echo-and-write' });
    for (const withData of [true, false]) {
      const subscription = `subscription ($runId: ID!, $withData: Boolean!) { runEvents(runId: $runId) { ${EVENT_SELECTION} } } ${EVENT_FRAGMENT}`;
      const delivered = await subscribeAll(client, subscription, { runId: run.id, withData });
      const query = `query ($runId: ID!, $withData: Boolean!) { events(runId: $runId) { ${EVENT_SELECTION} } } ${EVENT_FRAGMENT}`;
      const { data } = await postQuery(t.url, query, { runId: run.id, withData });
      expect(data.events.length).toBeGreaterThan(5);
      expect(delivered).toEqual(data.events.map((event: unknown) => ({ data: { runEvents: event } })));
    }
  });

  it('delivers runUpdated, nested fields read from the database included, as graphql-js does', async () => {
    const project = await createProject(t);
    const subscription = `subscription ($projectId: ID) { runUpdated(projectId: $projectId) { ${RUN_SELECTION} } }`;
    const updates = subscribeAll(client, subscription, { projectId: project.id }, (data) => data?.runUpdated.status === 'COMPLETED');
    // The subscription is registered once the server has answered something on the same socket.
    await subscribeAll(client, 'query { worker { concurrency } }', {}).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const run = await createRun(t, project.id, { workflowName: 'echo-and-write' });
    const delivered = (await updates) as Array<{ data: { runUpdated: { status: string } } }>;
    expect(delivered.map((result) => result.data.runUpdated.status)).toEqual(['QUEUED', 'RUNNING', 'COMPLETED']);
    const { data } = await postQuery(t.url, `query ($id: ID!) { run(id: $id) { ${RUN_SELECTION} } }`, { id: run.id });
    expect(data.run.steps.map((step: { status: string }) => step.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect(delivered.at(-1)).toEqual({ data: { runUpdated: data.run } });
  });
});
