/**
 * Helpers shared by the API tests: creating fixtures through the typed client, driving a run's event
 * log directly, consuming subscriptions (WebSocket and SSE) and checking GraphQL errors.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult } from 'graphql';
import { expect } from 'vitest';
import { GraphQLRequestError, type Subscription } from '../../src/client/client.js';
import {
  CreateProjectDocument,
  CreateRunDocument,
  EventsDocument,
  type EventFieldsFragment,
  type EventType,
  type ProjectFieldsFragment,
  type RunEventsSubscription,
  type RunFieldsFragment,
} from '../../src/client/generated/graphql.js';
import type { TestApp } from '../helpers/test-app.js';

export type ApiError = { message: string; extensions?: Record<string, unknown> };

/** A name no other test uses. */
export function uniqueName(prefix = 'project'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Creates a project (its folder inside the test app's temporary folder) through the API. */
export async function createProject(t: TestApp, name = uniqueName()): Promise<ProjectFieldsFragment> {
  const { createProject: project } = await t.client.request(CreateProjectDocument, { name, localPath: join(t.dir, 'workspaces', name) });
  return project;
}

/** Creates a run through the API (in a new project unless one is given). Stays QUEUED when the worker is disabled. */
export async function createRun(t: TestApp, { projectId, goal = 'Bootstrap a Quarkus service' }: { projectId?: string; goal?: string } = {}): Promise<RunFieldsFragment> {
  const project = projectId ?? (await createProject(t)).id;
  const { createRun: run } = await t.client.request(CreateRunDocument, { input: { projectId: project, goal } });
  return run;
}

/** Appends an event to a run through the engine's event log (assigns seq, persists, publishes). */
export function appendEvent(t: TestApp, runId: string, type: EventType, message = `${type} event`) {
  return t.app.services.eventLog.append(Number(runId), { type, message });
}

/** Lets the event loop turn, so appends made before and after land in different group commits. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** 1, 2, … as an array: `seqRange(3, 5)` is [3, 4, 5]. */
export function seqRange(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** Every event of a run through the `events` query, paging with `after`/`first`. */
export async function allEvents(t: TestApp, runId: string, pageSize = 1000): Promise<EventFieldsFragment[]> {
  const events: EventFieldsFragment[] = [];
  for (;;) {
    const { events: page } = await t.client.request(EventsDocument, { runId, after: events.at(-1)?.seq ?? 0, first: pageSize });
    events.push(...page);
    if (page.length < pageSize) return events;
  }
}

/** True once the run's last stored event is a terminal one. */
export async function hasTerminalEvent(t: TestApp, runId: string): Promise<boolean> {
  const last = (await allEvents(t, runId)).at(-1);
  return last !== undefined && ['WORKFLOW_COMPLETED', 'WORKFLOW_FAILED', 'RUN_STOPPED'].includes(last.type);
}

/** The next event of a runEvents subscription; fails the test if the stream ended instead. */
export async function nextEvent(subscription: Subscription<RunEventsSubscription>): Promise<EventFieldsFragment> {
  const step = await subscription.next();
  if (step.done) throw new Error('runEvents completed, but another event was expected');
  return step.value.runEvents;
}

/** Resolves with `promise`, or rejects naming `what` once `timeoutMs` has passed (so a hang fails clearly). */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Consumes a runEvents subscription in the background. `events` grows as events arrive (so a test
 * can watch progress); `done` resolves with all of them when the stream completes.
 */
export function consumeRunEvents(subscription: Subscription<RunEventsSubscription>, timeoutMs = 45_000) {
  const events: EventFieldsFragment[] = [];
  const drained = (async () => {
    for await (const item of subscription) events.push(item.runEvents);
    return events;
  })();
  return { events, done: within(drained, timeoutMs, `completion of runEvents (got ${events.length} events so far)`) };
}

/** Fails if any error message or extension carries a stack trace or internal detail. */
export function expectNoStackTrace(errors: ReadonlyArray<ApiError>): void {
  for (const error of errors) {
    expect(error.message).not.toMatch(/\n\s+at /);
    expect(error.message).not.toMatch(/\bat \S+ \(?[^)\s]*:\d+:\d+\)?/);
    expect(error.extensions ?? {}).not.toHaveProperty('stacktrace');
    expect(error.extensions ?? {}).not.toHaveProperty('exception');
    expect(error.extensions ?? {}).not.toHaveProperty('originalError');
  }
  expect(JSON.stringify(errors)).not.toMatch(/\\n\s+at /);
}

/**
 * Awaits a client call that must fail with a GraphQL error of `code` whose message matches each of
 * `messageParts`; checks it carries no stack trace and returns it.
 */
export async function expectGraphQLError(call: Promise<unknown>, code: string, ...messageParts: Array<string | RegExp>): Promise<GraphQLRequestError> {
  let caught: unknown;
  try {
    await call;
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof GraphQLRequestError)) {
    throw new Error(`expected a GraphQL error with code ${code}, got ${caught === undefined ? 'a successful result' : String(caught)}`);
  }
  expect({ code: caught.code, message: caught.message }).toMatchObject({ code });
  for (const part of messageParts) expect(caught.message).toMatch(part);
  expectNoStackTrace(caught.errors);
  return caught;
}

/** Options of a raw POST to /graphql. */
interface RawRequest {
  accept?: string;
  headers?: Record<string, string>;
}

/** POSTs a typed document to /graphql with fetch, for checks the typed client cannot make (auth, SSE). */
export function postGraphQL<TResult, TVariables>(
  url: string,
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
  { accept = 'application/graphql-response+json, application/json', headers = {} }: RawRequest = {},
): Promise<Response> {
  return fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, ...headers },
    body: JSON.stringify({ query: print(document), variables }),
  });
}

/** One Server-Sent Events frame: `event:` and the joined `data:` lines. */
interface SseFrame {
  event: string;
  data: string;
}

/** Parses a text/event-stream body into frames as they arrive; comments (keep-alives) are skipped. */
async function* sseFrames(body: ReadableStream<Uint8Array>): AsyncGenerator<SseFrame> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        if (field === 'data') data.push(value);
      }
      if (data.length > 0 || event !== 'message') yield { event, data: data.join('\n') };
    }
  }
}

/** An open SSE subscription: its HTTP status and the results of its `next` frames until `complete`. */
export interface SseSubscription<TResult> {
  status: number;
  contentType: string | null;
  results: AsyncGenerator<ExecutionResult<TResult>, void, undefined>;
}

/** Subscribes over Server-Sent Events (POST with `accept: text/event-stream`). */
export async function subscribeSse<TResult, TVariables>(
  url: string,
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
  headers: Record<string, string> = {},
): Promise<SseSubscription<TResult>> {
  const response = await postGraphQL(url, document, variables, { accept: 'text/event-stream', headers });
  async function* results(): AsyncGenerator<ExecutionResult<TResult>, void, undefined> {
    if (!response.body) return;
    for await (const frame of sseFrames(response.body)) {
      if (frame.event === 'complete') return;
      if (frame.event === 'next') yield JSON.parse(frame.data) as ExecutionResult<TResult>;
    }
    throw new Error('the SSE stream ended without an "event: complete" frame');
  }
  return { status: response.status, contentType: response.headers.get('content-type'), results: results() };
}

/** Collects every result of an SSE subscription until it completes. */
export async function collectSse<TResult>(subscription: SseSubscription<TResult>, timeoutMs = 20_000): Promise<Array<ExecutionResult<TResult>>> {
  const results: Array<ExecutionResult<TResult>> = [];
  const drained = (async () => {
    for await (const result of subscription.results) results.push(result);
    return results;
  })();
  return within(drained, timeoutMs, `completion of the SSE stream (got ${results.length} results so far)`);
}
