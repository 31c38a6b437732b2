import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CreateProjectDocument,
  CreateRunDocument,
  EventsDocument,
  ProjectDocument,
  ProjectsDocument,
  RunDocument,
  RunEventsDocument,
  type CreateRunInput,
} from '../../src/client/generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { collectSse, createProject, expectGraphQLError, expectNoStackTrace, nextEvent, subscribeSse, uniqueName } from './api-helpers.js';

describe('bad input is refused with a coded error, and nothing is written', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ disableWorker: true });
  });
  afterAll(() => t.close());
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** The project list has no project with this name. */
  async function expectNoProjectNamed(name: string) {
    const { projects } = await t.client.request(ProjectsDocument);
    expect(projects.filter((p) => p.name === name)).toEqual([]);
  }

  /** createProject must fail with `code`, mention each part, and store no project. */
  async function expectProjectRefused(name: string, localPath: string, code: string, ...messageParts: Array<string | RegExp>) {
    const before = (await t.client.request(ProjectsDocument)).projects;
    await expectGraphQLError(t.client.request(CreateProjectDocument, { name, localPath }), code, ...messageParts);
    expect((await t.client.request(ProjectsDocument)).projects).toEqual(before);
  }

  describe('createProject', () => {
    it('a relative localPath → BAD_USER_INPUT naming localPath; no project, no folder', async () => {
      const relative = `agent-runner-relative-${uniqueName()}`;
      await expectProjectRefused(uniqueName(), relative, 'BAD_USER_INPUT', /localPath/, /absolute/);
      expect(existsSync(resolve(relative))).toBe(false);
    });

    it('a path that is a file → BAD_USER_INPUT; the file is untouched and no project stored', async () => {
      const file = join(t.dir, 'a-file.txt');
      writeFileSync(file, 'keep me');
      await expectProjectRefused(uniqueName(), file, 'BAD_USER_INPUT', /localPath/, /not a folder/);
      expect(readFileSync(file, 'utf8')).toBe('keep me');
    });

    it('a path below a file → BAD_USER_INPUT; nothing created', async () => {
      const file = join(t.dir, 'another-file.txt');
      writeFileSync(file, 'keep me');
      await expectProjectRefused(uniqueName(), join(file, 'workspace'), 'BAD_USER_INPUT', /localPath/);
      expect(readFileSync(file, 'utf8')).toBe('keep me');
    });

    // Each forbidden folder has its own test in tests/security/workspace-roots.test.ts.
    it('a folder in a system folder (/proc/…) → BAD_USER_INPUT before any write; nothing created', async () => {
      const path = '/proc/agent-runner-test-xyz';
      await expectProjectRefused(uniqueName(), path, 'BAD_USER_INPUT', /localPath/, /system folder/);
      expect(existsSync(path)).toBe(false);
    });

    it.each(['/proc', '/sys'])('an existing system folder (%s) → BAD_USER_INPUT; no project, no write check left behind', async (path) => {
      const entriesBefore = readdirSync(path).filter((e) => e.startsWith('.agent-runner'));
      await expectProjectRefused(uniqueName(), path, 'BAD_USER_INPUT', /localPath/, /system folder/);
      expect(readdirSync(path).filter((e) => e.startsWith('.agent-runner'))).toEqual(entriesBefore);
    });

    it.each([
      ['an empty', ''],
      ['a blank', '   '],
    ])('%s name → BAD_USER_INPUT naming name; the folder is not created', async (_label, name) => {
      const localPath = join(t.dir, uniqueName('unnamed'));
      await expectProjectRefused(name, localPath, 'BAD_USER_INPUT', /"name"/);
      expect(existsSync(localPath)).toBe(false);
    });

    it('a name over 200 characters → BAD_USER_INPUT naming name; nothing written', async () => {
      const name = 'n'.repeat(201);
      const localPath = join(t.dir, uniqueName('long-name'));
      await expectProjectRefused(name, localPath, 'BAD_USER_INPUT', /"name"/);
      expect(existsSync(localPath)).toBe(false);
      await expectNoProjectNamed(name);
    });

    it('a duplicate name → CONFLICT naming the name; the second folder is not created', async () => {
      const name = uniqueName('taken');
      await t.client.request(CreateProjectDocument, { name, localPath: join(t.dir, `${name}-1`) });

      const secondPath = join(t.dir, `${name}-2`);
      await expectProjectRefused(name, secondPath, 'CONFLICT', name, /already exists/);
      expect(existsSync(secondPath)).toBe(false);
      const { projects } = await t.client.request(ProjectsDocument);
      expect(projects.filter((p) => p.name === name)).toHaveLength(1);
    });
  });

  describe('createRun', () => {
    /** createRun must fail with `code`, mention each part, and add no run to the project. */
    async function expectRunRefused(input: CreateRunInput, code: string, ...messageParts: Array<string | RegExp>) {
      await expectGraphQLError(t.client.request(CreateRunDocument, { input }), code, ...messageParts);
      const { project } = await t.client.request(ProjectDocument, { id: input.projectId });
      expect(project?.runs ?? []).toEqual([]);
    }

    it('an unknown project → NOT_FOUND naming the id', async () => {
      await expectRunRefused({ projectId: '999999', goal: 'anything' }, 'NOT_FOUND', /999999/);
    });

    it('an unknown workflowName → BAD_USER_INPUT listing the workflows that exist, checked at creation', async () => {
      const project = await createProject(t);
      await expectRunRefused(
        { projectId: project.id, goal: 'anything', options: { workflowName: 'no-such-workflow' } },
        'BAD_USER_INPUT',
        /workflowName/,
        /no-such-workflow/,
        /quarkus-bootstrap-v1/,
      );
    });

    it.each([
      ['an empty', ''],
      ['a blank', ' \n\t '],
    ])('%s goal → BAD_USER_INPUT naming goal', async (_label, goal) => {
      const project = await createProject(t);
      await expectRunRefused({ projectId: project.id, goal }, 'BAD_USER_INPUT', /goal/);
    });

    it('a goal over 100 KB → BAD_USER_INPUT naming goal', async () => {
      const project = await createProject(t);
      await expectRunRefused({ projectId: project.id, goal: 'x'.repeat(100 * 1024 + 1) }, 'BAD_USER_INPUT', /goal/);
    });

    it('a goal of exactly 100 KB is accepted', async () => {
      const project = await createProject(t);
      const goal = 'x'.repeat(100 * 1024);
      const { createRun } = await t.client.request(CreateRunDocument, { input: { projectId: project.id, goal } });
      expect(createRun.goal).toHaveLength(goal.length);
    });
  });

  describe('malformed ids', () => {
    const malformed = ['abc', '-1', '0', '1.5', '1e3', ' 1'];

    it.each(malformed)('run(id: %j) → BAD_USER_INPUT naming id', async (id) => {
      await expectGraphQLError(t.client.request(RunDocument, { id }), 'BAD_USER_INPUT', /"id"/);
    });

    it.each(malformed)('project(id: %j) → BAD_USER_INPUT naming id', async (id) => {
      await expectGraphQLError(t.client.request(ProjectDocument, { id }), 'BAD_USER_INPUT', /"id"/);
    });

    it.each(malformed)('createRun(projectId: %j) → BAD_USER_INPUT naming projectId', async (projectId) => {
      await expectGraphQLError(t.client.request(CreateRunDocument, { input: { projectId, goal: 'anything' } }), 'BAD_USER_INPUT', /projectId/);
    });

    it.each(malformed)('events(runId: %j) → BAD_USER_INPUT naming runId', async (runId) => {
      await expectGraphQLError(t.client.request(EventsDocument, { runId }), 'BAD_USER_INPUT', /runId/);
    });

    it.each(['abc', '-1'])('runEvents(runId: %j) over WebSocket → BAD_USER_INPUT naming runId', async (runId) => {
      const subscription = t.client.subscribe(RunEventsDocument, { runId, after: 0 });
      await expectGraphQLError(nextEvent(subscription), 'BAD_USER_INPUT', /runId/);
      subscription.close();
    });
  });

  describe('events and runEvents arguments', () => {
    it.each<[string, { after?: number; first?: number }]>([
      ['after', { after: -1 }],
      ['first', { first: -1 }],
      ['first', { first: 0 }],
      ['first', { first: 10_001 }],
    ])('events with an out-of-range %s → BAD_USER_INPUT naming it', async (argument, range) => {
      const project = await createProject(t);
      const { createRun: run } = await t.client.request(CreateRunDocument, { input: { projectId: project.id, goal: 'anything' } });
      await expectGraphQLError(t.client.request(EventsDocument, { runId: run.id, ...range }), 'BAD_USER_INPUT', new RegExp(`"${argument}"`));
    });

    it.each<[string, Record<string, unknown>]>([
      ['after', { after: 'x' }],
      ['first', { first: 2 ** 40 }],
    ])('events with a $%s GraphQL cannot coerce → BAD_USER_INPUT naming the variable', async (variable, bad) => {
      // The typed document forbids these values, so the variables are cast: a raw client could send them.
      const variables = { runId: '1', ...bad } as unknown as { runId: string };
      await expectGraphQLError(t.client.request(EventsDocument, variables), 'BAD_USER_INPUT', new RegExp(`\\$${variable}`));
    });

    it('runEvents with a negative after over WebSocket → BAD_USER_INPUT naming after', async () => {
      const project = await createProject(t);
      const { createRun: run } = await t.client.request(CreateRunDocument, { input: { projectId: project.id, goal: 'anything' } });
      const subscription = t.client.subscribe(RunEventsDocument, { runId: run.id, after: -1 });
      await expectGraphQLError(nextEvent(subscription), 'BAD_USER_INPUT', /"after"/);
      subscription.close();
    });

    it('events for an unknown run → NOT_FOUND naming the id', async () => {
      await expectGraphQLError(t.client.request(EventsDocument, { runId: '999999' }), 'NOT_FOUND', /999999/);
    });

    it('runEvents for an unknown run over WebSocket → NOT_FOUND thrown from next()', async () => {
      const subscription = t.client.subscribe(RunEventsDocument, { runId: '999999', after: 0 });
      await expectGraphQLError(nextEvent(subscription), 'NOT_FOUND', /999999/);
      subscription.close();
    });

    it('runEvents for an unknown run over SSE → one NOT_FOUND result, then complete', async () => {
      const results = await collectSse(await subscribeSse(t.url, RunEventsDocument, { runId: '999999', after: 0 }));
      expect(results).toHaveLength(1);
      expect(results[0].errors?.[0]).toMatchObject({ message: expect.stringContaining('999999'), extensions: { code: 'NOT_FOUND' } });
      expectNoStackTrace(results[0].errors ?? []);
    });
  });

  describe('internal errors', () => {
    const secret = 'SQLITE_CORRUPT: secret internal detail';

    it('a failing query is reported as INTERNAL_SERVER_ERROR without the cause or a stack trace', async () => {
      vi.spyOn(t.app.services.store, 'listProjects').mockRejectedValueOnce(new Error(secret));
      const result = await t.client.execute(ProjectsDocument);

      expect(result.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(JSON.stringify(result.errors)).not.toContain('secret internal detail');
      expectNoStackTrace(result.errors ?? []);
    });

    it('a failing subscription is reported the same way over WebSocket', async () => {
      vi.spyOn(t.app.services.store, 'getRun').mockRejectedValueOnce(new Error(secret));
      const subscription = t.client.subscribe(RunEventsDocument, { runId: '1', after: 0 });
      const error = await expectGraphQLError(nextEvent(subscription), 'INTERNAL_SERVER_ERROR');
      expect(error.message).not.toContain('secret internal detail');
      subscription.close();
    });
  });
});
