/**
 * Workspace roots (issue 11, item 2): a run writes whatever a model answers into its project's
 * folder, so createProject must refuse every folder where that would change the system, the user's
 * credentials or the server's own database — also when a symbolic link leads there — and two
 * projects must not share a real folder. Each attack goes through the real server; each refusal is
 * a BAD_USER_INPUT (or CONFLICT) that stores no project and creates no folder.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateProjectDocument, CreateRunDocument, ProjectsDocument, RunDocument } from '../../src/client/generated/graphql.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { makeTempDir, startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { expectGraphQLError, uniqueName } from '../api/api-helpers.js';

/** createProject must fail with `code` and these message parts, store no project, and leave `mustNotExist` uncreated. */
async function expectRefused(t: TestApp, localPath: string, code: string, parts: Array<string | RegExp>, mustNotExist: string[] = []): Promise<void> {
  const before = (await t.client.request(ProjectsDocument)).projects;
  await expectGraphQLError(t.client.request(CreateProjectDocument, { name: uniqueName('attack'), localPath }), code, /localPath/, ...parts);
  expect((await t.client.request(ProjectsDocument)).projects).toEqual(before);
  for (const path of mustNotExist) expect(existsSync(path), `${path} must not have been created`).toBe(false);
}

describe('workspace roots: forbidden folders are refused through the real server', () => {
  let t: TestApp;
  /** A home folder of the server user's, made up for the test, with credential folders in it. */
  let fakeHome: string;
  let fakeHomes: string;
  const realHome = homedir();

  beforeAll(async () => {
    const dir = makeTempDir('agent-runner-roots-');
    fakeHomes = makeTempDir('agent-runner-roots-home-');
    fakeHome = join(fakeHomes, 'home', 'me');
    for (const folder of ['.ssh', '.aws', '.gnupg', '.kube', '.docker', 'projects']) mkdirSync(join(fakeHome, folder), { recursive: true });
    // The database in a folder of its own, so the test can aim at it and at the folder holding it.
    t = await startTestApp({ disableWorker: true, databasePath: join(dir, 'data', 'agent-runner.db'), homeFolders: [realHome, fakeHome] }, { dir });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(fakeHomes, { recursive: true, force: true });
  });

  it.each(['/', '//', '/.'])('the filesystem root (%s)', async (path) => {
    await expectRefused(t, path, 'BAD_USER_INPUT', [/root of the filesystem/]);
  });

  it.each(['/etc', '/usr', '/bin', '/sbin', '/lib', '/dev', '/proc', '/sys', '/boot', '/var', '/run', '/var/lib', '/usr/local', '/etc/ssh'])('the system folder %s', async (path) => {
    await expectRefused(t, path, 'BAD_USER_INPUT', [/system folder/]);
  });

  it.each(['/etc/agent-runner-attack', '/usr/local/agent-runner-attack/nested', '/var/lib/agent-runner-attack', '/proc/agent-runner-attack'])(
    'a new folder inside a system folder (%s): refused, and not created',
    async (path) => {
      await expectRefused(t, path, 'BAD_USER_INPUT', [/inside the system folder/], [path]);
    },
  );

  it.each(['/tmp', '/var/tmp', '/home', '/opt', '/srv', '/mnt'])('the shared folder %s itself', async (path) => {
    await expectRefused(t, path, 'BAD_USER_INPUT', [/shared folder/]);
  });

  it('the home folder itself, and a folder containing it', async () => {
    await expectRefused(t, realHome, 'BAD_USER_INPUT', [/home folder itself/]);
    await expectRefused(t, fakeHome, 'BAD_USER_INPUT', [/home folder itself/]);
    await expectRefused(t, join(fakeHome, '..'), 'BAD_USER_INPUT', [/contains your home folder/]);
  });

  it.each(['.ssh', '.aws', '.gnupg', '.kube', '.docker', '.config', '.m2'])('the credential folder ~/%s, and a new folder inside it (not created)', async (name) => {
    await expectRefused(t, join(realHome, name), 'BAD_USER_INPUT', [/holds credentials/]);
    await expectRefused(t, join(fakeHome, name), 'BAD_USER_INPUT', [/holds credentials/]);
    const inside = join(fakeHome, name, 'agent-runner-attack');
    await expectRefused(t, inside, 'BAD_USER_INPUT', [/inside .* which holds credentials/], [inside]);
  });

  it("the server's data folder, and a folder containing it", async () => {
    const dataFolder = join(t.dir, 'data');
    await expectRefused(t, dataFolder, 'BAD_USER_INPUT', [/data folder/, /database/]);
    await expectRefused(t, t.dir, 'BAD_USER_INPUT', [/contains this server's data folder/]);
    expect(readdirSync(dataFolder).filter((e) => e.startsWith('.agent-runner'))).toEqual([]);
  });

  describe('through symbolic links', () => {
    let links: string;
    beforeAll(() => {
      links = join(t.dir, 'links');
      mkdirSync(links);
      symlinkSync('/', join(links, 'to-root'));
      symlinkSync('/etc', join(links, 'to-etc'));
      symlinkSync('/dev', join(links, 'to-dev'));
      symlinkSync(realHome, join(links, 'to-real-home'));
      symlinkSync(join(fakeHome, '.ssh'), join(links, 'to-ssh'));
      symlinkSync(join(fakeHome, '.aws'), join(links, 'to-aws'));
      symlinkSync(join(t.dir, 'data'), join(links, 'to-data'));
      symlinkSync(join(links, 'to-etc'), join(links, 'to-link-to-etc'));
      symlinkSync(join(t.dir, 'no-such-folder'), join(links, 'dangling'));
    });

    it.each([
      ['to-root', /really \/\)? is the root of the filesystem/],
      ['to-etc', /really \/etc\) is the system folder/],
      ['to-dev', /really \/dev\) is the system folder/],
      ['to-link-to-etc', /really \/etc\) is the system folder/],
      ['to-real-home', /home folder itself/],
      ['to-ssh', /holds credentials/],
      ['to-aws', /holds credentials/],
      ['to-data', /data folder/],
      ['dangling', /symbolic link whose target does not exist/],
    ])('a link %s → refused for where it leads', async (link, why) => {
      await expectRefused(t, join(links, link), 'BAD_USER_INPUT', [why]);
    });

    it('a new folder below a link to /etc or ~/.ssh is refused and created nowhere', async () => {
      await expectRefused(t, join(links, 'to-etc', 'agent-runner-attack'), 'BAD_USER_INPUT', [/really \/etc\/agent-runner-attack\) is inside the system folder \/etc/], ['/etc/agent-runner-attack']);
      await expectRefused(t, join(links, 'to-ssh', 'keys'), 'BAD_USER_INPUT', [/holds credentials/], [join(fakeHome, '.ssh', 'keys')]);
    });
  });

  describe('what stays allowed', () => {
    it("the README's example folder under /tmp, and a folder of one's own in the home folder", async () => {
      const readmeLike = `/tmp/my-project-${uniqueName()}`;
      const { createProject } = await t.client.request(CreateProjectDocument, { name: uniqueName('readme'), localPath: readmeLike });
      expect(createProject.localPath).toBe(readmeLike);
      expect(existsSync(readmeLike)).toBe(true);

      const own = join(fakeHome, 'projects', 'demo');
      await t.client.request(CreateProjectDocument, { name: uniqueName('home'), localPath: own });
      expect(existsSync(own)).toBe(true);
    });

    it('a folder next to the data folder (not containing it)', async () => {
      const beside = join(t.dir, 'workspaces', 'beside-data');
      const { createProject } = await t.client.request(CreateProjectDocument, { name: uniqueName(), localPath: beside });
      expect(createProject.localPath).toBe(beside);
    });
  });

  describe('two projects on one real folder are a CONFLICT', () => {
    it('the same path, the same path spelt differently, and a link to it', async () => {
      const folder = join(t.dir, 'workspaces', 'shared-by-two');
      const { createProject: first } = await t.client.request(CreateProjectDocument, { name: uniqueName('first'), localPath: folder });
      symlinkSync(folder, join(t.dir, 'alias-of-shared'));

      for (const path of [folder, `${folder}/`, join(t.dir, 'workspaces', '.', 'x', '..', 'shared-by-two'), join(t.dir, 'alias-of-shared')]) {
        await expectRefused(t, path, 'CONFLICT', [`project "${first.name}" (id ${first.id})`]);
      }
    });

    it('two createProject calls at once for one new folder: one project, one CONFLICT', async () => {
      const folder = join(t.dir, 'workspaces', 'raced');
      const results = await Promise.allSettled([
        t.client.request(CreateProjectDocument, { name: uniqueName('race'), localPath: folder }),
        t.client.request(CreateProjectDocument, { name: uniqueName('race'), localPath: folder }),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      const { projects } = await t.client.request(ProjectsDocument);
      expect(projects.filter((p) => p.localPath === folder)).toHaveLength(1);
    });
  });
});

describe('WORKSPACE_ROOTS restricts project folders to folders below its roots', () => {
  let t: TestApp;
  let rootA: string;
  let rootB: string;

  beforeAll(async () => {
    const dir = makeTempDir('agent-runner-roots-env-');
    rootA = join(dir, 'root-a');
    rootB = join(dir, 'root-b');
    mkdirSync(rootA);
    mkdirSync(rootB);
    symlinkSync(join(dir, 'elsewhere'), join(rootA, 'escape'));
    mkdirSync(join(dir, 'elsewhere'));
    t = await startTestApp({ disableWorker: true }, { dir, env: { WORKSPACE_ROOTS: ` ${rootA}/ ,${rootB}` } });
  });
  afterAll(() => t?.close());

  it('reads the list from the environment', () => {
    expect(t.config.workspaceRoots).toEqual([rootA, rootB]);
  });

  it('a folder below either root is accepted', async () => {
    for (const localPath of [join(rootA, 'one'), join(rootB, 'deep', 'two')]) {
      const { createProject } = await t.client.request(CreateProjectDocument, { name: uniqueName(), localPath });
      expect(createProject.localPath).toBe(localPath);
    }
  });

  it('a folder outside the roots, a root itself, and a link inside a root that leads out are refused', async () => {
    const outside = join(t.dir, 'outside');
    await expectRefused(t, outside, 'BAD_USER_INPUT', [/is not inside WORKSPACE_ROOTS/, rootA], [outside]);
    await expectRefused(t, `/tmp/my-project-${uniqueName()}`, 'BAD_USER_INPUT', [/is not inside WORKSPACE_ROOTS/]);
    await expectRefused(t, rootA, 'BAD_USER_INPUT', [/is not inside WORKSPACE_ROOTS/]);
    await expectRefused(t, join(rootA, 'escape', 'project'), 'BAD_USER_INPUT', [/really .*elsewhere\/project\) is not inside WORKSPACE_ROOTS/], [join(t.dir, 'elsewhere', 'project')]);
  });

  it('a relative root is a configuration error naming the variable', () => {
    expect(() => loadConfig({ WORKSPACE_ROOTS: 'projects,/srv/x' })).toThrow(ConfigError);
    expect(() => loadConfig({ WORKSPACE_ROOTS: 'projects' })).toThrow(/WORKSPACE_ROOTS=.*absolute folders separated by commas/);
  });
});

describe('a project folder swapped for a link after the project was created', () => {
  let t: TestApp;
  let fakeHome: string;

  beforeAll(async () => {
    fakeHome = makeTempDir('agent-runner-swapped-home-');
    mkdirSync(join(fakeHome, '.ssh'));
    t = await startTestApp({ homeFolders: [fakeHome] });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(fakeHome, { recursive: true, force: true });
  });

  it('fails the run before its first step, and nothing is written where the link leads', async () => {
    const folder = join(t.dir, 'workspaces', 'swapped');
    const { createProject: project } = await t.client.request(CreateProjectDocument, { name: uniqueName('swapped'), localPath: folder });
    rmSync(folder, { recursive: true });
    symlinkSync(join(fakeHome, '.ssh'), folder);

    const { createRun: run } = await t.client.request(CreateRunDocument, { input: { projectId: project.id, goal: 'Write into the keys folder' } });
    const failed = await waitFor(
      async () => {
        const { run: current } = await t.client.request(RunDocument, { id: run.id });
        return current?.status === 'FAILED' ? current : null;
      },
      { what: 'the run to fail' },
    );
    expect(failed.error).toMatch(/project folder can no longer be used as a workspace: .* is .*\.ssh, which holds credentials/);
    expect(failed.steps.map((s) => s.status)).toEqual(failed.steps.map(() => 'PENDING'));
    expect(readdirSync(join(fakeHome, '.ssh'))).toEqual([]);
  });
});
