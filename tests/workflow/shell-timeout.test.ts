/**
 * A shell step that times out is killed with everything it started: the command forks a
 * background grandchild, and after STEP_FAILED no process of the command is left running.
 */
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { createProject, createRun, getRun, ofType, streamToEnd, testWorkflow } from './support.js';

interface ProcessRow {
  pid: number;
  pgid: number;
  stat: string;
  args: string;
}

/** Processes whose command line holds `marker`, zombies excluded (a zombie runs nothing). */
function liveProcessesWith(marker: string): ProcessRow[] {
  const out = execFileSync('ps', ['-eo', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ pid: Number(match[1]), pgid: Number(match[2]), stat: match[3], args: match[4] }))
    .filter((row) => row.args.includes(marker) && !row.stat.startsWith('Z') && row.pid !== process.pid);
}

describe('shell step timeout', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('kills the command and its background grandchild', async () => {
    // A duration no other process on the machine is likely to sleep for.
    const marker = `300.${randomInt(100_000, 999_999)}`;
    const workflow = testWorkflow('hanging-command', [
      { name: 'hang', type: 'SHELL_COMMAND', command: `sh -c 'sleep ${marker} & sleep ${marker}'`, timeoutSeconds: 2, saveArtifact: true },
      { name: 'after', type: 'SHELL_COMMAND', command: 'echo never' },
    ]);
    t = await startTestApp({ streamCoalesceMs: 20 }, { workflows: [workflow] });
    const project = await createProject(t);
    const created = await createRun(t, project.id, { workflowName: 'hanging-command' });

    const eventsPromise = streamToEnd(t, created.id);
    // While the step runs, both sleeps (the background one and the foreground one) exist.
    const during = await waitFor(() => {
      const rows = liveProcessesWith(`sleep ${marker}`).filter((row) => row.args.startsWith('sleep'));
      return rows.length >= 2 ? rows : undefined;
    }, { timeoutMs: 10_000, what: 'the two sleep processes' });
    // They run in one process group of their own, not in the server's.
    const groups = new Set(during.map((row) => row.pgid));
    expect(groups.size).toBe(1);
    const ownGroup = Number(execFileSync('ps', ['-o', 'pgid=', '-p', String(process.pid)], { encoding: 'utf8' }).trim());
    expect([...groups][0]).not.toBe(ownGroup);

    const events = await eventsPromise;
    const run = await getRun(t, created.id);
    expect(events.slice(-2).map((e) => e.type)).toEqual(['STEP_FAILED', 'WORKFLOW_FAILED']);
    const failed = ofType(events, 'STEP_FAILED')[0];
    expect(failed.stepName).toBe('hang');
    expect(failed.message).toContain('Step "hang" timed out after 2s');
    expect(failed.message).toContain("step's timeoutSeconds");
    expect(run.status).toBe('FAILED');
    expect(run.error).toContain('timed out');
    expect(run.steps.map((s) => s.status)).toEqual(['FAILED', 'SKIPPED']);

    // Nothing of the command is left running: not the shells, not the background sleep.
    expect(liveProcessesWith(marker)).toEqual([]);
  });
});
