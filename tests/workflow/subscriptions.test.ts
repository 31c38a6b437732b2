/**
 * A subscription the client closes is ended on the server at once, even while it waits for a live
 * event that may never come: its listener must not linger until the run (or any run) next changes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RunEventsDocument, RunUpdatedDocument } from '../../src/client/generated/graphql.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { createProject, createRun, getRun } from './support.js';

describe('closing subscriptions', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('frees a runEvents listener while the run is quiet', async () => {
    // With the worker off the run stays QUEUED: no event will come to wake the stream.
    t = await startTestApp({ disableWorker: true });
    const app = t;
    const project = await createProject(app);
    const run = await createRun(app, project.id);
    const listeners = () => app.app.services.pubsub.listenerCount('runEvent', Number(run.id));

    const subscription = app.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 });
    const first = await subscription.next();
    expect(first.value?.runEvents.type).toBe('RUN_QUEUED');
    expect(listeners()).toBe(1);
    subscription.close();
    await waitFor(() => listeners() === 0, { timeoutMs: 5_000, what: 'the runEvent listener to go' });
    expect((await getRun(app, run.id)).status).toBe('QUEUED');
  });

  it('frees a runUpdated listener while no run changes', async () => {
    t = await startTestApp({ disableWorker: true });
    const app = t;
    const listeners = () => app.app.services.pubsub.listenerCount('runUpdated', 'all');
    const subscriptions = [app.client.subscribe(RunUpdatedDocument, { projectId: null }), app.client.subscribe(RunUpdatedDocument, { projectId: null })];
    const pending = subscriptions.map((s) => s.next());
    await waitFor(() => listeners() === 2, { what: 'both subscriptions' });
    subscriptions[0].close();
    await waitFor(() => listeners() === 1, { timeoutMs: 5_000, what: 'the closed one to go' });

    // The other one still works.
    const project = await createProject(app);
    const run = await createRun(app, project.id);
    const update = await pending[1];
    expect(update.value?.runUpdated).toMatchObject({ id: run.id, status: 'QUEUED' });
    subscriptions[1].close();
    await waitFor(() => listeners() === 0, { timeoutMs: 5_000, what: 'the listener to go' });
    await pending[0].catch(() => undefined);
  });
});
