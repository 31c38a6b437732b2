import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateRunDocument, EventsDocument, ProjectDocument, RunDocument, RunsDocument, RunUpdatedDocument } from '../../src/client/generated/graphql.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { createProject, createRun, expectGraphQLError, within } from './api-helpers.js';

describe('runs over HTTP (worker disabled: runs stay QUEUED)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ disableWorker: true });
  });
  afterAll(() => t.close());

  it('createRun queues a run of the default workflow with its steps pending', async () => {
    const project = await createProject(t);
    const { createRun: run } = await t.client.request(CreateRunDocument, { input: { projectId: project.id, goal: 'Build a REST API', name: 'first try' } });

    expect(run).toMatchObject({
      name: 'first try',
      goal: 'Build a REST API',
      runType: 'WORKFLOW',
      status: 'QUEUED',
      workflowName: 'quarkus-bootstrap-v1',
      error: null,
      startedAt: null,
      finishedAt: null,
      project: { id: project.id, name: project.name },
    });
    expect(run.steps.length).toBeGreaterThan(0);
    expect(run.steps.map((s) => s.index)).toEqual(run.steps.map((_, i) => i));
    for (const step of run.steps) expect(step).toMatchObject({ status: 'PENDING', attempt: 0, startedAt: null });
    expect(run.models.length).toBeGreaterThan(0);
  });

  it('a new run has exactly one event: RUN_QUEUED with seq 1', async () => {
    const run = await createRun(t);
    const { events } = await t.client.request(EventsDocument, { runId: run.id });

    expect(events).toEqual([expect.objectContaining({ seq: 1, type: 'RUN_QUEUED', runId: run.id })]);
  });

  it('run(id) returns what createRun returned', async () => {
    const created = await createRun(t);
    const { run } = await t.client.request(RunDocument, { id: created.id });

    // The one-run query also has each step's graph fields (needs, depth, loop …).
    expect(run).toMatchObject({ ...created, artifacts: [] });
  });

  it('runs lists a project’s runs newest first, and project.runs agrees', async () => {
    const project = await createProject(t);
    const older = await createRun(t, { projectId: project.id, goal: 'older' });
    const newer = await createRun(t, { projectId: project.id, goal: 'newer' });

    const { runs } = await t.client.request(RunsDocument, { projectId: project.id });
    expect(runs.map((r) => r.id)).toEqual([newer.id, older.id]);

    const { project: fetched } = await t.client.request(ProjectDocument, { id: project.id });
    expect(fetched?.runs.map((r) => r.id)).toEqual([newer.id, older.id]);
  });
});

describe('runUpdated (worker on: Ollama is unreachable, so a run goes QUEUED → RUNNING → FAILED)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('delivers every status change of the project’s runs', async () => {
    const project = await createProject(t);
    const subscription = t.client.subscribe(RunUpdatedDocument, { projectId: project.id });
    try {
      // graphql-ws does not acknowledge a subscription: create the run once the server listens.
      const listenersBefore = t.app.services.pubsub.listenerCount('runUpdated', 'all');
      const first = subscription.next();
      await waitFor(() => t.app.services.pubsub.listenerCount('runUpdated', 'all') > listenersBefore, { what: 'the runUpdated subscription to be registered' });
      const run = await createRun(t, { projectId: project.id });
      const statuses: string[] = [];
      let step = await within(first, 15_000, 'the first runUpdated');
      for (;;) {
        if (step.done) throw new Error('runUpdated completed unexpectedly');
        expect(step.value.runUpdated).toMatchObject({ id: run.id, project: { id: project.id } });
        statuses.push(step.value.runUpdated.status);
        if (step.value.runUpdated.status === 'FAILED') break;
        step = await within(subscription.next(), 15_000, `the runUpdated after ${statuses.join(' → ')}`);
      }
      expect(statuses).toEqual(['QUEUED', 'RUNNING', 'FAILED']);
    } finally {
      subscription.close();
    }
  });

  it('for an unknown project → NOT_FOUND', async () => {
    const subscription = t.client.subscribe(RunUpdatedDocument, { projectId: '999999' });
    await expectGraphQLError(subscription.next(), 'NOT_FOUND', /999999/);
    subscription.close();
  });
});
