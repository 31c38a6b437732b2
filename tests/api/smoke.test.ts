import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateProjectDocument, CreateRunDocument, RunEventsDocument } from '../../src/client/generated/graphql.js';
import { collect, startTestApp, type TestApp } from '../helpers/test-app.js';

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('creates a project and a run, and streams the run to its end over WebSocket', async () => {
    const { createProject } = await t.client.request(CreateProjectDocument, { name: 'smoke', localPath: join(t.dir, 'ws') });
    const { createRun } = await t.client.request(CreateRunDocument, { input: { projectId: createProject.id, goal: 'say hi' } });
    const events = await collect(t.client.subscribe(RunEventsDocument, { runId: createRun.id, after: 0 }));
    expect(events.map((e) => e.runEvents.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)?.runEvents.type).toBe('WORKFLOW_FAILED');
    expect(events.at(-1)?.runEvents.message).toContain('Cannot reach Ollama at http://127.0.0.1:9');
  });
});
