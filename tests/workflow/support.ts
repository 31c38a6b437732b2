/**
 * Shared pieces of the workflow tests: a project per test, running a run to its end through the
 * real `runEvents` subscription, small test workflows, and the Quarkus answers the fake models give.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, vi } from 'vitest';
import {
  CreateProjectDocument,
  CreateRunDocument,
  EventsDocument,
  RunDocument,
  RunEventsDocument,
  RunUpdatedDocument,
  type CreateRunMutationVariables,
  type EventFieldsFragment,
  type RunQuery,
  type RunUpdatedSubscription,
} from '../../src/client/generated/graphql.js';
import type { WorkflowSpec } from '../../src/engine/workflows/registry.js';
import { undocumentedData } from '../../src/engine/events.js';
import { EVENT_TYPES, type EventType } from '../../src/engine/types.js';
import { collect, waitFor, type TestApp } from '../helpers/test-app.js';

export type RunOptionsInput = NonNullable<CreateRunMutationVariables['input']['options']>;
export type FullRun = NonNullable<RunQuery['run']>;

let projectCounter = 0;

/** A project whose workspace is a (not yet existing) folder inside the test app's temporary folder. */
export async function createProject(t: TestApp, name = `project-${++projectCounter}`): Promise<{ id: string; path: string }> {
  const path = join(t.dir, 'workspaces', name);
  const { createProject: project } = await t.client.request(CreateProjectDocument, { name, localPath: path });
  return { id: project.id, path };
}

export async function createRun(t: TestApp, projectId: string, options?: RunOptionsInput, goal = 'Generate Quarkus GraphQL + OpenTelemetry project') {
  const { createRun: run } = await t.client.request(CreateRunDocument, { input: { projectId, goal, ...(options ? { options } : {}) } });
  return run;
}

export async function getRun(t: TestApp, runId: string): Promise<FullRun> {
  const { run } = await t.client.request(RunDocument, { id: runId });
  if (!run) throw new Error(`run ${runId} not found`);
  return run;
}

/** Every event of the run, from the subscription, until it completes after the terminal event. */
export async function streamToEnd(t: TestApp, runId: string, timeoutMs = 25_000): Promise<EventFieldsFragment[]> {
  const items = await collect(t.client.subscribe(RunEventsDocument, { runId, after: 0 }), { timeoutMs });
  return items.map((item) => item.runEvents);
}

/** Creates a run, follows it to its end over the subscription, and returns its events and final state. */
export async function runToEnd(t: TestApp, projectId: string, options?: RunOptionsInput, goal?: string) {
  const created = await createRun(t, projectId, options, goal);
  const events = await streamToEnd(t, created.id);
  const run = await getRun(t, created.id);
  return { created, events, run };
}

/**
 * Subscribes to `runUpdated` and gathers what arrives; resolves once the server has registered the
 * subscription, so no update after this call is missed. `close()` ends it and waits for the end.
 */
export async function watchRunUpdates(t: TestApp, projectId: string | null) {
  const pubsub = t.app.services.pubsub;
  const before = pubsub.listenerCount('runUpdated', 'all');
  const subscription = t.client.subscribe(RunUpdatedDocument, { projectId });
  const received: Array<RunUpdatedSubscription['runUpdated']> = [];
  const pump = (async () => {
    for await (const { runUpdated } of subscription) received.push(runUpdated);
  })();
  await waitFor(() => pubsub.listenerCount('runUpdated', 'all') > before, { what: 'the runUpdated subscription' });
  return {
    received,
    /** The statuses one run went through, in the order they arrived. */
    statusesOf: (runId: string) => received.filter((u) => u.id === runId).map((u) => u.status),
    async close() {
      subscription.close();
      await pump;
    },
  };
}

/** The run's events from the `events` query. */
export async function queryEvents(t: TestApp, runId: string): Promise<EventFieldsFragment[]> {
  const { events } = await t.client.request(EventsDocument, { runId, after: 0, first: 10_000 });
  return events;
}

/** The event types, with runs of the same streamed type (LLM_TOKEN, SHELL_OUTPUT) collapsed into one. */
export function collapsedTypes(events: ReadonlyArray<{ type: string }>): string[] {
  const types: string[] = [];
  for (const { type } of events) {
    if ((type === 'LLM_TOKEN' || type === 'SHELL_OUTPUT') && types.at(-1) === type) continue;
    types.push(type);
  }
  return types;
}

export function ofType<T extends { type: string }>(events: readonly T[], type: string): T[] {
  return events.filter((event) => event.type === type);
}

/** Asserts that the events are numbered 1, 2, 3 … with no gap. */
export function expectGaplessSeqs(events: ReadonlyArray<{ seq: number; type?: string; data?: unknown }>): void {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  expectDocumentedData(events);
}

/**
 * Every field of every event's data is described in EVENT_DOCS (src/engine/events.ts), from which the
 * schema's EventType descriptions are written: an emit that gains a field without a description fails here.
 */
export function expectDocumentedData(events: ReadonlyArray<{ seq: number; type?: string; data?: unknown }>): void {
  const undocumented = events.flatMap((e) =>
    e.type && (EVENT_TYPES as readonly string[]).includes(e.type) ? undocumentedData({ type: e.type as EventType, data: e.data }).map((field) => `${e.type}.data.${field} (seq ${e.seq})`) : [],
  );
  expect(undocumented, 'event data fields missing from EVENT_DOCS in src/engine/events.ts').toEqual([]);
}

/** A one-off workflow built from plain step definitions (checked like a definition file when the app starts). */
export function testWorkflow(name: string, steps: WorkflowSpec['steps']): WorkflowSpec {
  return {
    name,
    version: '0.0.1',
    description: `Test workflow ${name}`,
    steps: steps.map((step) => ({ description: `Test step ${step.name}`, saveArtifact: false, ...step })),
  };
}

// ---------------------------------------------------------------------------------------------
// What the fake models answer in the quarkus-bootstrap-v1 run.

export const PLANNER_MODEL = 'gemma3:27b';
export const CODER_MODEL = 'qwen3-coder:latest';

export const PLAN_TOKENS = [
  '# Project plan\n\n',
  'A Quarkus service ',
  'exposing a GraphQL API ',
  'with OpenTelemetry tracing.\n\n',
  '## Files\n',
  '- pom.xml\n',
  '- GreetingResource.java\n',
  '- GreetingResourceTest.java\n',
];
export const PLAN_TEXT = PLAN_TOKENS.join('');

export const PROJECT_FILES: Record<string, string> = {
  'pom.xml': [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<project xmlns="http://maven.apache.org/POM/4.0.0">',
    '  <modelVersion>4.0.0</modelVersion>',
    '  <groupId>org.acme</groupId>',
    '  <artifactId>greeting</artifactId>',
    '  <version>1.0.0-SNAPSHOT</version>',
    '</project>',
  ].join('\n'),
  'src/main/java/org/acme/GreetingResource.java': [
    'package org.acme;',
    '',
    'import org.eclipse.microprofile.graphql.GraphQLApi;',
    'import org.eclipse.microprofile.graphql.Query;',
    '',
    '@GraphQLApi',
    'public class GreetingResource {',
    '    @Query',
    '    public String hello() {',
    '        return "Hello from Quarkus";',
    '    }',
    '}',
  ].join('\n'),
  'src/test/java/org/acme/GreetingResourceTest.java': [
    'package org.acme;',
    '',
    'import io.quarkus.test.junit.QuarkusTest;',
    'import org.junit.jupiter.api.Test;',
    '',
    '@QuarkusTest',
    'class GreetingResourceTest {',
    '    @Test',
    '    void hello() {}',
    '}',
  ].join('\n'),
};

/** The coder's answer: every project file in a `=== FILE: … ===` block. */
export function coderAnswer(files: Record<string, string> = PROJECT_FILES): string {
  const blocks = Object.entries(files).map(([path, content]) => `=== FILE: ${path} ===\n${content}\n=== END FILE ===`);
  return `Here is the project.\n\n${blocks.join('\n\n')}\n`;
}

/** The answer split into tokens of a few lines each, so it streams as several LLM_TOKEN events. */
export function tokensOf(text: string, linesPerToken = 3): string[] {
  const lines = text.split(/(?<=\n)/);
  const tokens: string[] = [];
  for (let i = 0; i < lines.length; i += linesPerToken) tokens.push(lines.slice(i, i + linesPerToken).join(''));
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// A stand-in for Maven.

const MVN_STUB = `#!/bin/sh
echo "[INFO] Scanning for projects..."
echo "[INFO] stub mvn called with: $*"
if [ -f pom.xml ]; then echo "[INFO] pom.xml exists"; else echo "[ERROR] pom.xml is missing"; exit 1; fi
echo "[WARNING] this is a stub, not Maven" >&2
echo "[INFO] Tests run: 1, Failures: 0, Errors: 0, Skipped: 0"
echo "[INFO] BUILD SUCCESS"
exit 0
`;

/**
 * Writes an executable `mvn` script into `<dir>/bin` and puts that folder first on PATH (of this test
 * process, where the app runs). The caller restores PATH with `vi.unstubAllEnvs()`.
 */
export function installStubMvn(dir: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'mvn'), MVN_STUB);
  chmodSync(join(bin, 'mvn'), 0o755);
  vi.stubEnv('PATH', `${bin}:${process.env.PATH ?? ''}`);
  return bin;
}
