/**
 * Where definitions come from and how versions behave, through the real server: files in
 * WORKFLOWS_DIR (a broken one is listed with its problems, the others load), registerWorkflow
 * (identical content a no-op, other content under a registered version a CONFLICT), the latest
 * version and the history, runs that keep their version while a newer one is registered and across
 * a restart, and retryRun onto another version (allowed when the completed steps match, refused
 * naming the steps otherwise).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LoadProblemsDocument,
  PauseRunDocument,
  RegisterWorkflowDocument,
  ResumeRunDocument,
  RetryRunDocument,
  WorkflowDocument,
  WorkflowsDocument,
} from '../../src/client/generated/graphql.js';
import { expectRefused, waitForEvent, waitForStatus, isType } from '../control/support.js';
import { makeTempDir, startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, createRun, expectGaplessSeqs, getRun, queryEvents, streamToEnd } from '../workflow/support.js';

/** Write a file naming the version, wait for a `go` file (so a test can pause after it), then finish. */
const twoSteps = (version: string, second = 'wait') => `name: staged
version: "${version}"
description: Writes a note, waits for a go file, then says which version finished.
steps:
  - name: note
    type: FILE_WRITE
    outputFile: note.txt
    content: "written by ${version}"
  - name: ${second}
    type: SHELL_COMMAND
    command: while [ ! -f go ]; do sleep 0.05; done
  - name: finish
    type: SHELL_COMMAND
    command: echo "finished by ${version}" > done.txt
`;

describe('workflow versions', () => {
  const apps: TestApp[] = [];
  afterEach(async () => {
    while (apps.length > 1) await apps.shift()!.close({ keepFiles: true });
    await apps.shift()?.close();
  });
  async function start(...args: Parameters<typeof startTestApp>): Promise<TestApp> {
    const t = await startTestApp(...args);
    apps.push(t);
    return t;
  }

  it('loads every definition file of WORKFLOWS_DIR; a broken file is listed with its problems and the others load', async () => {
    const dir = makeTempDir();
    const folder = join(dir, 'workflows');
    mkdirSync(folder);
    writeFileSync(join(folder, 'staged.yaml'), twoSteps('1.0.0'));
    writeFileSync(join(folder, 'hello.json'), JSON.stringify({ name: 'hello', version: '1', steps: [{ name: 'say', type: 'SHELL_COMMAND', command: 'echo hello' }] }));
    writeFileSync(join(folder, 'broken.yml'), 'name: broken\nversion: "1"\nsteps:\n  - name: x\n    type: SHELL_COMMAND\n    comand: ls\n');
    writeFileSync(join(folder, 'notes.txt'), 'not a definition');
    const t = await start({}, { dir });

    const { workflows } = await t.client.request(WorkflowsDocument);
    expect(workflows.map((w) => w.name)).toEqual(['generate-and-test', 'hello', 'quarkus-bootstrap-v1', 'staged']);
    const { loadProblems } = await t.client.request(LoadProblemsDocument);
    expect(loadProblems).toEqual([
      {
        file: join(folder, 'broken.yml'),
        kind: 'WORKFLOW_FILE',
        problems: [
          { message: 'steps[0]: missing required field "command"', path: 'steps[0]', line: 4, column: 5 },
          expect.objectContaining({ message: expect.stringContaining('unknown field "comand" (did you mean "command"?)'), line: 6, column: 5 }),
        ],
      },
    ]);
    const { workflow } = await t.client.request(WorkflowDocument, { name: 'staged' });
    expect(workflow).toMatchObject({ version: '1.0.0', origin: 'FILE', originPath: join(folder, 'staged.yaml'), latest: true, source: twoSteps('1.0.0') });
  });

  it('registerWorkflow: a new version becomes the latest; the same content again changes nothing; other content under a registered version is a CONFLICT', async () => {
    const t = await start();
    const first = await t.client.request(RegisterWorkflowDocument, { definition: twoSteps('1.0.0') });
    expect(first.registerWorkflow).toMatchObject({ created: true, workflow: { name: 'staged', version: '1.0.0', origin: 'API', latest: true } });

    // Same content, other formatting and explicit defaults: the same normalised definition.
    const reformatted = `${twoSteps('1.0.0').replace('    outputFile: note.txt\n', '    outputFile: "note.txt"\n    saveArtifact: true\n')}\n# a comment\n`;
    const again = await t.client.request(RegisterWorkflowDocument, { definition: reformatted });
    expect(again.registerWorkflow).toMatchObject({ created: false, workflow: { version: '1.0.0', contentHash: first.registerWorkflow.workflow.contentHash } });

    await expectRefused(
      t.client.request(RegisterWorkflowDocument, { definition: twoSteps('1.0.0', 'later') }),
      'CONFLICT',
      'Workflow staged version 1.0.0 is already registered with different content',
      'give this definition a new version (such as 1.0.1)',
    );
    const error = await expectRefused(t.client.request(RegisterWorkflowDocument, { definition: 'name: x\nversion: "1"\nsteps: []\n' }), 'BAD_USER_INPUT', 'line 3, column 8');
    expect(error.errors[0]?.extensions?.problems).toEqual([{ message: 'steps must NOT have fewer than 1 items', path: 'steps', line: 3, column: 8 }]);

    // 1.10.0 is later than 1.9.0 (semantic versions), whatever the order of registration.
    await t.client.request(RegisterWorkflowDocument, { definition: twoSteps('1.10.0') });
    await t.client.request(RegisterWorkflowDocument, { definition: twoSteps('1.9.0') });
    const { workflow } = await t.client.request(WorkflowDocument, { name: 'staged' });
    expect(workflow?.version).toBe('1.10.0');
    expect(workflow?.versions.map((v) => [v.version, v.latest])).toEqual([
      ['1.10.0', true],
      ['1.9.0', false],
      ['1.0.0', false],
    ]);
    const { workflow: old } = await t.client.request(WorkflowDocument, { name: 'staged', version: '1.0.0' });
    expect(old?.latest).toBe(false);
  });

  it('a run keeps the version it was created with while a newer one is registered, and after a restart', async () => {
    const t = await start({ killGraceMs: 200 });
    await t.client.request(RegisterWorkflowDocument, { definition: twoSteps('1.0.0') });
    const project = await createProject(t);
    const created = await createRun(t, project.id, { workflowName: 'staged' });
    expect(created.workflowVersion).toBe('1.0.0');

    // Paused at the boundary after its first step…
    await waitForEvent(t, created.id, isType('STEP_STARTED', 'wait'), 'the second step to start');
    await t.client.request(PauseRunDocument, { id: created.id });
    writeFileSync(join(project.path, 'go'), '');
    await waitForStatus(t, created.id, 'PAUSED');
    // …while a newer version is registered, and the server restarts.
    await t.client.request(RegisterWorkflowDocument, { definition: twoSteps('2.0.0') });
    await t.close({ keepFiles: true });
    apps.length = 0;
    const after = await start({ killGraceMs: 200 }, { dir: t.dir });
    const { workflow } = await after.client.request(WorkflowDocument, { name: 'staged' });
    expect(workflow?.version).toBe('2.0.0');

    // Resumed, it finishes on 1.0.0.
    await after.client.request(ResumeRunDocument, { id: created.id });
    await waitForStatus(after, created.id, 'COMPLETED');
    const run = await getRun(after, created.id);
    expect(run).toMatchObject({ workflowVersion: '1.0.0', definitionHash: created.definitionHash });
    expect(readFileSync(join(project.path, 'note.txt'), 'utf8')).toBe('written by 1.0.0');
    expect(readFileSync(join(project.path, 'done.txt'), 'utf8')).toBe('finished by 1.0.0\n');

    // A new run gets the latest.
    const next = await createRun(after, project.id, { workflowName: 'staged' });
    expect(next.workflowVersion).toBe('2.0.0');
    expectGaplessSeqs(await queryEvents(after, created.id));
  });

  it('retryRun(workflowVersion) continues a failed run on another version when its completed steps match, and says which do not otherwise', async () => {
    const t = await start({ killGraceMs: 200 });
    const failing = `name: migrate
version: "1"
steps:
  - { name: plan, type: FILE_WRITE, outputFile: plan.txt, content: "plan v1" }
  - { name: build, type: SHELL_COMMAND, command: "exit 3" }
`;
    await t.client.request(RegisterWorkflowDocument, { definition: failing });
    const project = await createProject(t);
    const created = await createRun(t, project.id, { workflowName: 'migrate' });
    const events = await streamToEnd(t, created.id);
    expect(events.at(-1)?.type).toBe('WORKFLOW_FAILED');

    // Version 2 renames the completed step: refused, naming it.
    await t.client.request(RegisterWorkflowDocument, {
      definition: 'name: migrate\nversion: "2"\nsteps:\n  - { name: planning, type: FILE_WRITE, outputFile: plan.txt, content: x }\n  - { name: build, type: SHELL_COMMAND, command: "true" }\n',
    });
    const refused = await expectRefused(
      t.client.request(RetryRunDocument, { id: created.id, workflowVersion: '2' }),
      'CONFLICT',
      'Run 1 cannot continue on migrate 2: it keeps step "plan", which 2 does not have under that name',
    );
    expect(refused.errors[0]?.extensions?.steps).toEqual(['plan']);
    expect((await getRun(t, created.id)).status).toBe('FAILED');
    await expectRefused(t.client.request(RetryRunDocument, { id: created.id, workflowVersion: '9' }), 'BAD_USER_INPUT', 'has no version "9"', 'Its versions: 2, 1');

    // Version 3 keeps "plan", fixes "build" and adds a step: allowed; "plan" is not redone.
    await t.client.request(RegisterWorkflowDocument, {
      definition:
        'name: migrate\nversion: "3"\nsteps:\n  - { name: plan, type: FILE_WRITE, outputFile: plan.txt, content: "plan v3" }\n  - { name: build, type: SHELL_COMMAND, command: "echo built" }\n  - { name: report, type: FILE_WRITE, outputFile: report.txt, contentFrom: build }\n',
    });
    const { retryRun } = await t.client.request(RetryRunDocument, { id: created.id, workflowVersion: '3' });
    expect(retryRun.workflowVersion).toBe('3');
    await waitForStatus(t, created.id, 'COMPLETED');
    const run = await getRun(t, created.id);
    expect(run.steps.map((s) => [s.name, s.status, s.attempt])).toEqual([
      ['plan', 'COMPLETED', 1],
      ['build', 'COMPLETED', 1],
      ['report', 'COMPLETED', 1],
    ]);
    expect(readFileSync(join(project.path, 'plan.txt'), 'utf8')).toBe('plan v1');
    expect(readFileSync(join(project.path, 'report.txt'), 'utf8')).toBe('built\n');
    const all = await queryEvents(t, created.id);
    expectGaplessSeqs(all);
    const requeued = all.find((e) => e.type === 'RUN_QUEUED' && (e.data as { retry?: boolean })?.retry);
    expect(requeued?.message).toBe('Retry queued on version 3 (it ran 1): the run goes again from step 2/3 (build); earlier steps are kept.');
  });
});
