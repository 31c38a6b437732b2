/**
 * Every command of `agent-runner` as a user runs it (a child process) against a real server with
 * the fake Ollama: what it prints, with --json too, and its exit code; and the errors a user can
 * act on (unreachable server, token, unknown names, bad inputs).
 */
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliRunDocument } from '../../src/client/generated/graphql.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { CODER_MODEL, PLAN_TOKENS, PLANNER_MODEL, queryEvents } from '../workflow/support.js';
import { cli, ESCAPE, ndjson, startCliServer, type CliServer } from './support.js';

const GOAL = 'Generate Quarkus GraphQL + OpenTelemetry project';

let server: CliServer;
let t: TestApp;
/** `agent-runner …args` against the test server. */
const ar = (...args: string[]) => cli(args, { url: server.url });

async function runStatus(runId: string): Promise<string | undefined> {
  return (await t.client.request(CliRunDocument, { id: runId })).run?.status;
}

/** A project in the test app's folder, created through the command. */
async function project(name: string): Promise<{ id: string; path: string }> {
  const path = join(t.dir, 'workspaces', name);
  const created = await ar('projects', 'create', name, path, '--json');
  expect(created.exitCode, created.stderr).toBe(0);
  return { id: JSON.parse(created.stdout).id, path };
}

beforeAll(async () => {
  server = await startCliServer();
  t = server.t;
});

afterAll(async () => {
  await server.close();
});

describe('agent-runner --help', () => {
  it('every command has help with an example; the overview says how to start', async () => {
    const commands = [
      [],
      ['serve'],
      ['projects'],
      ['projects', 'list'],
      ['projects', 'create'],
      ['workflows'],
      ['workflows', 'list'],
      ['workflows', 'show'],
      ['workflows', 'validate'],
      ['workflows', 'register'],
      ['run'],
      ['runs'],
      ['runs', 'list'],
      ['watch'],
      ['logs'],
      ['stop'],
      ['pause'],
      ['resume'],
      ['retry'],
      ['artifacts'],
    ];
    for (let i = 0; i < commands.length; i += 6) {
      const results = await Promise.all(commands.slice(i, i + 6).map((command) => cli([...command, '--help'])));
      results.forEach((result, j) => {
        const command = commands[i + j].join(' ');
        expect(result.exitCode, command).toBe(0);
        expect(result.stdout, command).toMatch(/\$ agent-runner /);
        expect(result.stdout, command).toContain('--url');
        if (command !== '') expect(result.stdout, command).toContain(`Usage: agent-runner ${command}`);
      });
    }
    const overview = await cli(['--help']);
    expect(overview.stdout).toContain('agent-runner run quarkus-bootstrap-v1 --project demo --goal');
    expect(overview.stdout).toMatch(/Exit codes: 0 .*1 .*failed/s);
    const run = await cli(['run', '--help']);
    expect(run.stdout).toMatch(/--input <key=value>/);
    expect(run.stdout).toMatch(/--model <step=model>/);
    expect(run.stdout).toMatch(/--watch/);
  });

  it('an unknown command or a missing argument is a usage error (exit 3)', async () => {
    const unknown = await cli(['frobnicate']);
    expect(unknown.exitCode).toBe(3);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const missing = await cli(['watch']);
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toContain("missing required argument 'run'");
    expect(missing.stderr).toContain('agent-runner COMMAND --help');
  });
});

describe('agent-runner projects', () => {
  it('creates projects (a relative folder is taken from the current one) and lists them', async () => {
    const created = await ar('projects', 'create', 'alpha', join(t.dir, 'workspaces', 'alpha'));
    expect(created.exitCode).toBe(0);
    expect(created.stdout).toMatch(/^Created project alpha \(id \d+\) in .*workspaces\/alpha\./);

    const relativeOne = await cli(['projects', 'create', 'beta', 'here/beta', '--json'], { url: server.url, cwd: t.dir });
    expect(relativeOne.exitCode).toBe(0);
    expect(JSON.parse(relativeOne.stdout)).toMatchObject({ name: 'beta', localPath: join(t.dir, 'here', 'beta') });

    const list = await ar('projects', 'list');
    expect(list.exitCode).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+RUNS\s+CREATED\s+FOLDER$/);
    expect(list.stdout).toMatch(/\balpha\s+0\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\/.*alpha/);
    const json = JSON.parse((await ar('projects', 'list', '--json')).stdout);
    expect(json).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'beta', runCount: 0 })]));
  });

  it('a name already taken is refused with the server’s words', async () => {
    await project('taken');
    const again = await ar('projects', 'create', 'taken', join(t.dir, 'elsewhere'));
    expect(again.exitCode).toBe(3);
    expect(again.stderr).toMatch(/^agent-runner: .*taken/);
    const json = await ar('projects', 'create', 'taken', join(t.dir, 'elsewhere'), '--json');
    expect(json.exitCode).toBe(3);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'CONFLICT' } });
  });
});

describe('agent-runner workflows', () => {
  it('lists and shows workflows; an unknown name lists those that exist', async () => {
    const list = await ar('workflows', 'list');
    expect(list.stdout).toMatch(/quarkus-bootstrap-v1\s+1\.0\.0\s+planner, coder, maven_test/);
    const show = await ar('workflows', 'show', 'quarkus-bootstrap-v1');
    expect(show.exitCode).toBe(0);
    expect(show.stdout).toMatch(/planner\s+LLM_GENERATE\s+Create project plan using gemma3:27b; model gemma3:27b \(workflow default\)/);
    expect(show.stdout).toMatch(/maven_test\s+MAVEN_COMMAND\s+.*\$ mvn test/);
    expect(show.stdout).toContain('--model planner=llama2:latest');
    const json = JSON.parse((await ar('workflows', 'show', 'quarkus-bootstrap-v1', '--json')).stdout);
    expect(json.steps.map((s: { name: string }) => s.name)).toEqual(['planner', 'coder', 'maven_test']);

    const unknown = await ar('workflows', 'show', 'nope');
    expect(unknown.exitCode).toBe(3);
    expect(unknown.stderr).toContain('Unknown workflow "nope". Workflows on this server: generate-and-test, quarkus-bootstrap-v1.');
  });
});

describe('agent-runner run', () => {
  it('starts a run by project name and says how to follow it; --json gives the run', async () => {
    await project('gamma');
    const started = await ar('run', 'quarkus-bootstrap-v1', '--project', 'gamma', '--goal', GOAL, '--model', 'planner=gemma3:27b', '--timeout', '120');
    expect(started.exitCode, started.stderr).toBe(0);
    const id = /^Run (\d+) queued: quarkus-bootstrap-v1 v1\.0\.0 in project gamma\./.exec(started.stdout)?.[1];
    expect(id).toBeDefined();
    expect(started.stdout).toContain('Models: planner gemma3:27b (from --model), coder qwen3-coder:latest (workflow default)');
    expect(started.stdout).toContain(`Follow it with: agent-runner watch ${id}`);
    await waitFor(async () => (await runStatus(id!)) === 'COMPLETED', { timeoutMs: 20_000, what: 'the run to complete' });

    const json = await ar('run', 'quarkus-bootstrap-v1', '-p', 'gamma', '-g', GOAL, '--name', 'second', '--json');
    const run = JSON.parse(json.stdout);
    expect(run).toMatchObject({ name: 'second', goal: GOAL, workflowName: 'quarkus-bootstrap-v1', project: { name: 'gamma' } });
    expect(run.steps.map((s: { name: string }) => s.name)).toEqual(['planner', 'coder', 'maven_test']);
    await waitFor(async () => (await runStatus(run.id)) === 'COMPLETED', { timeoutMs: 20_000, what: 'the run to complete' });
  });

  it('--project takes an id too; --watch follows the run to its end as plain lines and exits 0', async () => {
    const { id: projectId, path } = await project('delta');
    const watched = await ar('run', 'quarkus-bootstrap-v1', '--project', projectId, '--goal', GOAL, '--watch');
    expect(watched.exitCode, watched.stderr).toBe(0);
    expect(watched.stdout).not.toMatch(ESCAPE);
    const lines = watched.stdout.split('\n');
    expect(lines.filter((line) => /\d\d:\d\d:\d\d {2}planner {5}Step 1\/3: Create project plan using gemma3:27b$/.test(line))).toHaveLength(1);
    expect(lines.some((line) => /coder\s+Created file pom\.xml \(\d+ bytes\)$/.test(line))).toBe(true);
    expect(lines.some((line) => /Workflow quarkus-bootstrap-v1 completed: 3 steps$/.test(line))).toBe(true);
    expect(watched.stdout).toMatch(/Run \d+ completed in \d+\.\ds: 3 of 3 steps completed, 6 files written\./);
    expect(watched.stdout).toMatch(/^ {2}src\/main\/java\/org\/acme\/GreetingResource\.java \(\d+ B\)$/m);
    // Streamed text is not an event line of its own.
    expect(watched.stdout).not.toContain(PLAN_TOKENS[1]);
    expect(readdirSync(path)).toContain('PLAN.md');
  });

  it('reports every bad input at once, naming what exists', async () => {
    await project('epsilon');
    const bad = await ar('run', 'quarkus-bootstrap-v1', '--project', 'nosuch', '--model', 'coder', '--model', 'writer=llama2', '--input', '=x');
    expect(bad.exitCode).toBe(3);
    expect(bad.stderr).toContain('agent-runner: Cannot start the run:');
    expect(bad.stderr).toContain('--goal is required');
    expect(bad.stderr).toMatch(/Unknown project "nosuch"\. Projects: .*epsilon \(id \d+\).* Create one with: agent-runner projects create nosuch PATH/);
    expect(bad.stderr).toContain('--model "coder": expected STEP=MODEL, such as --model coder=llama2:latest.');
    expect(bad.stderr).toContain(`--model writer=…: quarkus-bootstrap-v1 has no step "writer" that calls a model (its steps that do, loops' included: planner, coder).`);
    expect(bad.stderr).toContain('--input "=x": expected KEY=VALUE');

    const workflow = await ar('run', 'nope-v9', '--project', 'epsilon', '--goal', GOAL);
    expect(workflow.exitCode).toBe(3);
    expect(workflow.stderr).toContain('Unknown workflow "nope-v9". Workflows on this server: generate-and-test, quarkus-bootstrap-v1.');

    const timeout = await ar('run', 'quarkus-bootstrap-v1', '--project', 'epsilon', '--goal', GOAL, '--timeout', 'soon');
    expect(timeout.exitCode).toBe(3);
    expect(timeout.stderr).toContain('--timeout must be a whole number from 1 to 86400 (got "soon")');
  });

  it('--input: inputs the workflow does not declare are refused, each named, and nothing is started', async () => {
    await project('zeta');
    const result = await ar('run', 'quarkus-bootstrap-v1', '--project', 'zeta', '--goal', GOAL, '--input', 'name=greeting', '--input', 'java=21');
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toContain('--input name=…: quarkus-bootstrap-v1 has no input "name" (it takes no inputs).');
    expect(result.stderr).toContain('--input java=…: quarkus-bootstrap-v1 has no input "java" (it takes no inputs).');
    const runs = await ar('runs', 'list', '--project', 'zeta', '--json');
    expect(JSON.parse(runs.stdout)).toEqual([]);
  });
});

describe('agent-runner runs, logs, artifacts', () => {
  let runId: string;
  let workspace: string;

  beforeAll(async () => {
    const { path } = await project('eta');
    workspace = path;
    const result = await ar('run', 'quarkus-bootstrap-v1', '--project', 'eta', '--goal', GOAL, '--watch', '--json');
    expect(result.exitCode, result.stderr).toBe(0);
    runId = ndjson<{ run?: { id: string } }>(result.stdout)[0].run!.id;
  });

  it('runs list filters by status and by project (name or id); --json gives the runs', async () => {
    const list = await ar('runs', 'list', '--project', 'eta');
    expect(list.exitCode).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+WORKFLOW\s+PROJECT\s+STEP\s+CREATED\s+TIME$/);
    expect(list.stdout).toMatch(new RegExp(`^${runId}\\s+COMPLETED\\s+quarkus-bootstrap-v1\\s+eta\\s+3/3\\s+`, 'm'));

    const byStatus = JSON.parse((await ar('runs', 'list', '--status', 'completed', '--json')).stdout) as Array<{ id: string; status: string }>;
    expect(byStatus.map((r) => r.id)).toContain(runId);
    expect(new Set(byStatus.map((r) => r.status))).toEqual(new Set(['COMPLETED']));
    expect(JSON.parse((await ar('runs', 'list', '--status', 'failed', '--project', 'eta', '--json')).stdout)).toEqual([]);

    const projectId = JSON.parse((await ar('runs', 'list', '--project', 'eta', '--json')).stdout)[0].project.id;
    const byId = JSON.parse((await ar('runs', 'list', '--project', projectId, '--limit', '1', '--json')).stdout);
    expect(byId.map((r: { id: string }) => r.id)).toEqual([runId]);

    const badStatus = await ar('runs', 'list', '--status', 'sleeping');
    expect(badStatus.exitCode).toBe(3);
    expect(badStatus.stderr).toContain('Unknown run status "sleeping": use one of QUEUED, RUNNING, PAUSED, STOPPED, COMPLETED, FAILED');
    const badProject = await ar('runs', 'list', '--project', 'nosuch');
    expect(badProject.exitCode).toBe(3);
    expect(badProject.stderr).toContain('Unknown project "nosuch". Projects:');
  });

  it("logs prints the events and the streamed text as lines; --step keeps one step's; --json is NDJSON", async () => {
    const logs = await ar('logs', runId);
    expect(logs.exitCode).toBe(0);
    expect(logs.stdout).not.toMatch(ESCAPE);
    expect(logs.stdout).toMatch(/^\d\d:\d\d:\d\d {2}planner {5}Step 1\/3: Create project plan using gemma3:27b$/m);
    expect(logs.stdout).toMatch(/^planner {4}\| # Project plan$/m);
    expect(logs.stdout).toMatch(/^coder {6}\| === FILE: pom\.xml ===$/m);
    expect(logs.stdout).toMatch(/^maven_test \| \[INFO\] BUILD SUCCESS$/m);
    expect(logs.stdout).toMatch(/^maven_test ! \[WARNING\] this is a stub, not Maven$/m);

    const step = await ar('logs', runId, '--step', 'maven_test');
    expect(step.stdout).toContain('maven_test | [INFO] BUILD SUCCESS');
    expect(step.stdout).not.toContain('planner');
    expect(step.stdout).not.toMatch(/Workflow .* completed/);

    const json = ndjson<{ event: { seq: number; type: string } }>((await ar('logs', runId, '--json')).stdout);
    const events = await queryEvents(t, runId);
    expect(json.map((line) => line.event.seq)).toEqual(events.map((e) => e.seq));
    expect(json.at(-1)!.event.type).toBe('WORKFLOW_COMPLETED');

    const unknown = await ar('logs', runId, '--step', 'tester');
    expect(unknown.exitCode).toBe(3);
    expect(unknown.stderr).toContain(`Run ${runId} has no step "tester". Its steps: planner, coder, maven_test.`);
  });

  it('artifacts lists the files; --download writes them as they are in the project folder', async () => {
    const list = await ar('artifacts', runId);
    expect(list.exitCode).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+STEP\s+KIND\s+SIZE\s+PATH$/m);
    expect(list.stdout).toMatch(/planner\s+GENERATED_FILE\s+\d+ B\s+PLAN\.md/);
    expect(list.stdout).toMatch(/maven_test\s+COMMAND_OUTPUT\s+.*maven_test_output\.txt/);
    const json = JSON.parse((await ar('artifacts', runId, '--json')).stdout) as Array<{ path: string }>;
    expect(json.map((a) => a.path)).toEqual(expect.arrayContaining(['PLAN.md', 'pom.xml', 'src/main/java/org/acme/GreetingResource.java']));

    const out = mkdtempSync(join(t.dir, 'download-'));
    const downloaded = await ar('artifacts', runId, '--download', out);
    expect(downloaded.exitCode, downloaded.stderr).toBe(0);
    expect(downloaded.stdout).toContain(`Downloaded ${json.length} files of run ${runId} into ${out}.`);
    for (const { path } of json) expect(readFileSync(join(out, path), 'utf8'), path).toBe(readFileSync(join(workspace, path), 'utf8'));
    const files = (dir: string): string[] => readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : [join(dir, name)]));
    expect(files(out).map((file) => relative(out, file)).sort()).toEqual(json.map((a) => a.path).sort());
  });

  it('an unknown run id or a word instead of an id are explained', async () => {
    const unknown = await ar('watch', '99999');
    expect(unknown.exitCode).toBe(3);
    expect(unknown.stderr).toContain(`Run 99999 does not exist on ${server.url}. See the runs there with: agent-runner runs list`);
    // The control commands say it the same way (not the GraphQL query to use).
    for (const command of ['stop', 'pause', 'resume', 'retry']) {
      const control = await ar(command, '99999');
      expect(control.exitCode, command).toBe(3);
      expect(control.stderr, command).toContain(`Run 99999 does not exist on ${server.url}. See the runs there with: agent-runner runs list`);
    }
    const word = await ar('logs', 'latest');
    expect(word.exitCode).toBe(3);
    expect(word.stderr).toContain('"latest" is not a run id');
  });
});

describe('agent-runner stop, pause, resume, retry', () => {
  it('controls a run, and a transition its status forbids is explained', async () => {
    await project('theta');
    // Slow answers, so the run is still going while the commands act on it.
    server.fake.script(PLANNER_MODEL, { tokens: PLAN_TOKENS, tokenDelayMs: 300 });
    server.fake.script(CODER_MODEL, { tokens: ['=== FILE: pom.xml ===\n<project/>\n=== END FILE ===\n'], tokenDelayMs: 300, firstByteDelayMs: 1500 });
    try {
      const run = JSON.parse((await ar('run', 'quarkus-bootstrap-v1', '-p', 'theta', '-g', GOAL, '--json')).stdout);
      await waitFor(async () => (await runStatus(run.id)) === 'RUNNING', { what: 'the run to start' });

      const pause = await ar('pause', run.id);
      expect(pause.exitCode, pause.stderr).toBe(0);
      expect(pause.stdout).toMatch(new RegExp(`^Run ${run.id} (pauses when its running step \\(planner\\) finishes|is PAUSED)\\. Resume it with: agent-runner resume ${run.id}`));
      await waitFor(async () => (await runStatus(run.id)) === 'PAUSED', { timeoutMs: 20_000, what: 'the pause' });

      const resume = await ar('resume', run.id, '--json');
      expect(resume.exitCode).toBe(0);
      expect(['QUEUED', 'RUNNING']).toContain(JSON.parse(resume.stdout).status);

      const stop = await ar('stop', run.id);
      expect(stop.exitCode).toBe(0);
      expect(stop.stdout).toBe(`Run ${run.id} is STOPPED. Go on later with: agent-runner retry ${run.id}`);

      const again = await ar('resume', run.id);
      expect(again.exitCode).toBe(3);
      expect(again.stderr).toContain(`Run ${run.id} is STOPPED: only a PAUSED run can be resumed`);

      const badStep = await ar('retry', run.id, '--from', 'tester');
      expect(badStep.exitCode).toBe(3);
      expect(badStep.stderr).toMatch(/^agent-runner: --from: quarkus-bootstrap-v1 \S+ has no step "tester"/);
      const badVersion = await ar('retry', run.id, '--workflow-version', '9.9.9');
      expect(badVersion.exitCode).toBe(3);
      expect(badVersion.stderr).toMatch(/^agent-runner: --workflow-version: .*has no version "9\.9\.9"/);

      server.fake.script(PLANNER_MODEL, { tokens: PLAN_TOKENS, tokenDelayMs: 5 });
      server.fake.script(CODER_MODEL, { tokens: ['=== FILE: pom.xml ===\n<project/>\n=== END FILE ===\n'], tokenDelayMs: 5 });
      const retry = await ar('retry', run.id, '--from', 'planner', '--watch');
      expect(retry.exitCode, retry.stderr).toBe(0);
      expect(retry.stdout).toMatch(new RegExp(`^Run ${run.id} is QUEUED again from step planner\\.`));
      expect(retry.stdout).toMatch(/Retry queued: the run goes again from step 1\/3 \(planner\)/);
      expect(retry.stdout).toMatch(/Run \d+ completed in .*: 3 of 3 steps completed/);
    } finally {
      server.fake.script(PLANNER_MODEL, { tokens: PLAN_TOKENS, tokenDelayMs: 5 });
      server.fake.script(CODER_MODEL, { tokens: PLAN_TOKENS, tokenDelayMs: 5 });
    }
  });
});

describe('errors a user can act on', () => {
  it('an unreachable server names the URL tried and how to start one; a bad --url is named', async () => {
    const closed = await startTestApp();
    const url = closed.url;
    await closed.close();
    const unreachable = await cli(['projects', 'list'], { url });
    expect(unreachable.exitCode).toBe(3);
    expect(unreachable.stderr).toBe(
      `agent-runner: Cannot reach ${url}/graphql: connection refused (nothing listens there). Is the server running? Start it with "agent-runner serve" (or npm start), or point --url / AGENT_RUNNER_URL at it.`,
    );
    const json = await cli(['runs', 'list', '--json', '--url', url]);
    expect(JSON.parse(json.stderr)).toEqual({ error: { code: 'UNREACHABLE', message: expect.stringContaining(`Cannot reach ${url}/graphql`) } });

    const notOurs = await cli(['projects', 'list'], { url: server.fake.url });
    expect(notOurs.exitCode).toBe(3);
    expect(notOurs.stderr).toContain(`is ${server.fake.url} an agent-runner server? Check --url / AGENT_RUNNER_URL.`);

    const badUrl = await cli(['projects', 'list', '--url', 'localhost:8000']);
    expect(badUrl.exitCode).toBe(3);
    expect(badUrl.stderr).toContain('--url="localhost:8000" is invalid: expected an http(s) URL such as http://127.0.0.1:8000.');
  });

  it('a server with API_TOKEN: a missing or wrong token is explained; --token and API_TOKEN work', async () => {
    const secured = await startTestApp({ apiToken: 'sesame', disableWorker: true });
    try {
      const missing = await cli(['projects', 'list'], { url: secured.url });
      expect(missing.exitCode).toBe(3);
      expect(missing.stderr).toContain(`The server at ${secured.url} needs an API token: pass --token <token> or set API_TOKEN`);
      const wrong = await cli(['projects', 'list', '--token', 'open'], { url: secured.url });
      expect(wrong.exitCode).toBe(3);
      expect(wrong.stderr).toContain(`The server at ${secured.url} refused the API token (from --token or API_TOKEN)`);
      const json = await cli(['projects', 'list', '--json'], { url: secured.url, env: { API_TOKEN: 'open' } });
      expect(JSON.parse(json.stderr).error.code).toBe('UNAUTHENTICATED');

      expect((await cli(['projects', 'create', 'locked', join(secured.dir, 'locked'), '--token', 'sesame'], { url: secured.url })).exitCode).toBe(0);
      const byEnv = await cli(['projects', 'list'], { url: secured.url, env: { API_TOKEN: 'sesame' } });
      expect(byEnv.exitCode).toBe(0);
      expect(byEnv.stdout).toContain('locked');
    } finally {
      await secured.close();
    }
  });
});
