import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ProjectDocument, ProjectsDocument, RunDocument } from '../../src/client/generated/graphql.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { allEvents, appendEvent, createRun, hasTerminalEvent } from './api-helpers.js';

describe('data survives a restart on the same database', () => {
  const started: TestApp[] = [];
  /** Starts an app and remembers it, so a failing test still stops it. */
  async function start(...args: Parameters<typeof startTestApp>): Promise<TestApp> {
    const t = await startTestApp(...args);
    started.push(t);
    return t;
  }
  afterEach(async () => {
    // The last app removes the shared folder; earlier ones (already stopped, or not) keep it.
    while (started.length > 1) await started.shift()!.close({ keepFiles: true });
    await started.shift()?.close();
  });

  /** Everything a client can read about a run and its project. */
  async function snapshot(t: TestApp, runId: string) {
    const { run } = await t.client.request(RunDocument, { id: runId });
    const { project } = await t.client.request(ProjectDocument, { id: run!.project.id });
    const { projects } = await t.client.request(ProjectsDocument);
    return { projects, project, run, events: await allEvents(t, runId) };
  }

  it('a queued run, its project and its events are read back after a restart, and seq continues', async () => {
    const before = await start({ disableWorker: true });
    const run = await createRun(before, { goal: 'Survive a restart' });
    await appendEvent(before, run.id, 'WORKFLOW_LOOKUP', 'Looking up workflow');
    await appendEvent(before, run.id, 'WORKFLOW_STARTED', 'Workflow started');
    const expected = await snapshot(before, run.id);
    await before.close({ keepFiles: true });

    const after = await start({ disableWorker: true }, { dir: before.dir });
    const actual = await snapshot(after, run.id);
    expect(actual).toEqual(expected);
    expect(actual.run).toMatchObject({ status: 'QUEUED', goal: 'Survive a restart' });
    expect(actual.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(existsSync(expected.project!.localPath)).toBe(true);

    // The restarted event log numbers on from what is stored, without reusing a seq.
    const next = await appendEvent(after, run.id, 'WORKFLOW_COMPLETED', 'done');
    expect(next.seq).toBe(4);
  });

  it('a run the worker finished reads back the same after a restart', async () => {
    const before = await start(); // worker on; Ollama unreachable, so the run fails
    const run = await createRun(before);
    await waitFor(() => hasTerminalEvent(before, run.id), { what: `run ${run.id} to end`, timeoutMs: 20_000 });
    const expected = await snapshot(before, run.id);
    expect(expected.run).toMatchObject({ status: 'FAILED', error: expect.any(String), finishedAt: expect.any(String) });
    await before.close({ keepFiles: true });

    const after = await start({}, { dir: before.dir });
    expect(await snapshot(after, run.id)).toEqual(expected);
  });
});
