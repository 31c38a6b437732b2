import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateProjectDocument, ProjectDocument, ProjectsDocument, RunDocument } from '../../src/client/generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createRun, uniqueName } from './api-helpers.js';

const ISO_WITH_MILLISECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('projects over HTTP', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ disableWorker: true });
  });
  afterAll(() => t.close());

  it('createProject stores the project and creates its missing folder (parents included)', async () => {
    const localPath = join(t.dir, 'missing', 'nested', 'workspace');
    expect(existsSync(join(t.dir, 'missing'))).toBe(false);
    const { createProject } = await t.client.request(CreateProjectDocument, { name: 'alpha', localPath });

    expect(createProject).toMatchObject({ id: expect.stringMatching(/^\d+$/), name: 'alpha', localPath });
    expect(createProject.createdAt).toMatch(ISO_WITH_MILLISECONDS);
    expect(statSync(localPath).isDirectory()).toBe(true);
  });

  it('createProject accepts an existing empty folder and leaves nothing behind in it', async () => {
    const localPath = join(t.dir, 'existing-folder');
    mkdirSync(localPath);
    const { createProject } = await t.client.request(CreateProjectDocument, { name: uniqueName(), localPath });

    expect(createProject.localPath).toBe(localPath);
    expect(readdirSync(localPath)).toEqual([]); // the write check cleans up after itself
  });

  it('projects lists every project, oldest first', async () => {
    const first = (await t.client.request(CreateProjectDocument, { name: uniqueName('first'), localPath: join(t.dir, 'first') })).createProject;
    const second = (await t.client.request(CreateProjectDocument, { name: uniqueName('second'), localPath: join(t.dir, 'second') })).createProject;

    const { projects } = await t.client.request(ProjectsDocument);
    const ids = projects.map((p) => p.id);
    expect(projects).toEqual(expect.arrayContaining([first, second]));
    expect(ids.indexOf(first.id)).toBeLessThan(ids.indexOf(second.id));
  });

  it('project(id) returns the project with its runs', async () => {
    const run = await createRun(t);
    const { project } = await t.client.request(ProjectDocument, { id: run.project.id });

    expect(project).toMatchObject({ id: run.project.id, name: run.project.name, runs: [{ id: run.id, status: 'QUEUED' }] });
  });

  it('project(id) is null for an id no project has', async () => {
    const { project } = await t.client.request(ProjectDocument, { id: '999999' });
    expect(project).toBeNull();
  });

  it('run(id) is null for an id no run has', async () => {
    const { run } = await t.client.request(RunDocument, { id: '999999' });
    expect(run).toBeNull();
  });
});
