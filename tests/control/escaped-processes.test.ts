/**
 * Processes that leave the command's process group (issue 10, item 4), through the real server: a
 * step whose command starts `setsid sleep …` in the background (which holds the output pipes) and
 * one whose child redirects its output away. stopRun answers with the run STOPPED (it used to get no
 * answer for more than 30 s), a step timeout of 2 s ends the step (it took minutes), a completed run
 * completes at once (it waited for the child), and afterwards no process of the run is left — with
 * the server's default (the sandbox where this machine has it) and with SANDBOX=off.
 */
import { randomInt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { StopRunDocument } from '../../src/client/generated/graphql.js';
import { processesOfRun } from '../helpers/processes.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { createProject, createRun, getRun, ofType, streamToEnd, testWorkflow } from '../workflow/support.js';

/** A background child out of the command's process group, holding its output pipes, and one with its output sent away. */
const leaveChildren = (token: string) => `setsid sh -c 'touch first; exec sleep ${token}' &
setsid nohup sh -c 'touch second; exec sleep ${token}' >/dev/null 2>&1 &
while [ ! -e first ] || [ ! -e second ]; do sleep 0.01; done`;

describe.each([
  ['the default SANDBOX (auto)', 'auto'],
  ['SANDBOX=off', 'off'],
] as const)('with %s', (_label, sandbox) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function start(command: string, step: { timeoutSeconds?: number } = {}) {
    t = await startTestApp(
      { sandbox, killGraceMs: 300, streamCoalesceMs: 20 },
      { workflows: [testWorkflow('escape', [{ name: 'escape', type: 'SHELL_COMMAND', command, saveArtifact: true, ...step }])] },
    );
    const project = await createProject(t);
    const created = await createRun(t, project.id, { workflowName: 'escape' });
    return { app: t, project, created };
  }

  const waitForChildren = (runId: string, workspace: string, token: string) =>
    waitFor(() => processesOfRun(runId, workspace).filter((p) => p.args === `sleep ${token}`).length === 2, { timeoutMs: 15_000, what: 'both children to run' });

  it('stopRun answers with the run STOPPED, and no process of the run survives', async () => {
    const token = `333.${randomInt(100_000, 999_999)}`;
    const { app, project, created } = await start(`${leaveChildren(token)}\nsleep 300.${randomInt(100_000, 999_999)}`);
    await waitForChildren(created.id, project.path, token);
    const { stopRun } = await app.client.request(StopRunDocument, { id: created.id });
    expect(stopRun.status).toBe('STOPPED');
    expect(processesOfRun(created.id, project.path)).toEqual([]);
  });

  it('a step timeout ends the step and every process of the run', async () => {
    const token = `333.${randomInt(100_000, 999_999)}`;
    const { app, project, created } = await start(`${leaveChildren(token)}\nsleep 300.${randomInt(100_000, 999_999)}`, { timeoutSeconds: 2 });
    const events = streamToEnd(app, created.id, 30_000);
    await waitForChildren(created.id, project.path, token);
    expect(ofType(await events, 'STEP_FAILED')[0]?.message).toContain('timed out after 2s');
    expect((await getRun(app, created.id)).status).toBe('FAILED');
    expect(processesOfRun(created.id, project.path)).toEqual([]);
  });

  it('a command that exits leaving them behind completes at once, and they are ended', async () => {
    const token = `333.${randomInt(100_000, 999_999)}`;
    const { app, project, created } = await start(`${leaveChildren(token)}\necho started`);
    const events = await streamToEnd(app, created.id, 30_000);
    expect(events.at(-1)?.type).toBe('WORKFLOW_COMPLETED');
    expect(ofType(events, 'SHELL_OUTPUT').map((e) => (e.data as { text: string }).text).join('')).toBe('started\n');
    expect(processesOfRun(created.id, project.path)).toEqual([]);
  });
});
