import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { trackedProcessGroups } from '../../src/engine/processes.js';
import { runCommand, shellCommand } from '../../src/engine/steps/shell-command.js';
import { RunStoppedError, StepError, StepTimeoutError } from '../../src/engine/types.js';
import { createTestStepContext, makeTempFolder, type TestStepContext, type TestStepOptions } from './step-context.js';

let folder: Awaited<ReturnType<typeof makeTempFolder>>;
beforeEach(async () => {
  folder = await makeTempFolder('shell-');
});
afterEach(async () => {
  await folder.remove();
  expect(trackedProcessGroups(), 'a test left a process group running').toEqual([]);
});

function shellStep(command: string, step: Partial<TestStepOptions<'SHELL_COMMAND'>['step']> = {}, settings: TestStepOptions['settings'] = {}): TestStepContext<'SHELL_COMMAND'> {
  return createTestStepContext({ root: folder.path, step: { type: 'SHELL_COMMAND', name: 'build', command, ...step }, settings });
}

function outputOf(test: TestStepContext<'SHELL_COMMAND'>, stream: 'stdout' | 'stderr'): string {
  return test
    .eventsOfType('SHELL_OUTPUT')
    .filter((event) => event.data?.stream === stream)
    .map((event) => event.data?.text)
    .join('');
}

/** Members of a process group that are still running (zombies are dead, just not yet reaped). */
function runningMembers(pgid: number): string[] {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
  return table
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => Number(fields[1]) === pgid && !fields[2]?.startsWith('Z'))
    .map((fields) => fields.join(' '));
}

function isRunning(pid: number): boolean {
  try {
    const state = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return state !== '' && !state.startsWith('Z');
  } catch {
    return false; // ps exits 1 when there is no such process
  }
}

async function waitForOutput(test: TestStepContext<'SHELL_COMMAND'>, pattern: RegExp): Promise<RegExpExecArray> {
  for (let waited = 0; waited < 5_000; waited += 10) {
    const match = pattern.exec(outputOf(test, 'stdout'));
    if (match) return match;
    await sleep(10);
  }
  throw new Error(`no output matching ${pattern}`);
}

describe('SHELL_COMMAND', () => {
  it('runs in the workspace and streams its output per stream', async () => {
    const test = shellStep('pwd; echo hello; echo oops >&2');
    const result = await shellCommand(test.ctx);
    expect(test.events[0]).toEqual({
      type: 'SHELL_EXECUTING',
      message: 'Running: pwd; echo hello; echo oops >&2',
      data: { command: 'pwd; echo hello; echo oops >&2', sandboxed: false, network: true },
    });
    const realFolder = execFileSync('realpath', [folder.path], { encoding: 'utf8' }).trim();
    expect(outputOf(test, 'stdout')).toBe(`${realFolder}\nhello\n`);
    expect(outputOf(test, 'stderr')).toBe('oops\n');
    expect(result.output).toBe(`${realFolder}\nhello\n`);
    expect(result.data).toMatchObject({ exitCode: 0, command: 'pwd; echo hello; echo oops >&2' });
    expect(result.data?.truncated).toBeUndefined();
  });

  it('fails on a non-zero exit, quoting the last lines of output', async () => {
    const test = shellStep('seq 1 50; echo "it broke" >&2; exit 3');
    const error = await shellCommand(test.ctx).then(
      () => undefined,
      (thrown: unknown) => thrown as StepError,
    );
    expect(error).toBeInstanceOf(StepError);
    expect(error?.data).toMatchObject({ exitCode: 3 });
    expect(error?.message).toMatch(/^Command "seq 1 50; echo "it broke" >&2; exit 3" exited with code 3\. Last lines of output:\n/);
    const quoted = error!.message.split('\n').slice(1);
    expect(quoted).toHaveLength(20);
    expect(quoted).toContain('it broke');
    expect(quoted).toContain('50');
    expect(quoted).not.toContain('30');
  });

  it('fails on a non-zero exit even with continueOnError (the runner lets the run go on), keeping the output', async () => {
    const test = shellStep('echo partial; exit 2', { continueOnError: true });
    const error = (await shellCommand(test.ctx).catch((e: unknown) => e)) as StepError;
    expect(error).toBeInstanceOf(StepError);
    expect(error.data).toMatchObject({ exitCode: 2 });
    expect(error.output).toBe('partial\n');
  });

  it('runCommand returns normally on a non-zero exit when asked to (continueOnError: the agent reads the exit code)', async () => {
    const test = shellStep('echo partial; exit 2', { continueOnError: true });
    const result = await runCommand(test.ctx, 'echo partial; exit 2');
    expect(result.data).toMatchObject({ exitCode: 2 });
    expect(result.output).toBe('partial\n');
  });

  it('keeps the first and the last half of outputCapBytes of each stream, and says in the events, the output and the artifact how much it dropped', async () => {
    const print = (char: string, count: number) => `head -c ${count} /dev/zero | tr '\\0' ${char}`;
    const test = shellStep(`${print('H', 3000)}; ${print('M', 4000)}; ${print('T', 3000)}; echo small >&2`, { name: 'flood', saveArtifact: true }, { outputCapBytes: 1000 });
    const result = await shellCommand(test.ctx);
    expect(result.data).toMatchObject({ exitCode: 0, truncated: true, droppedBytes: { stdout: 9000, stderr: 0 } });
    expect(result.output).toBe(`${'H'.repeat(500)}\n[… 9000 bytes of output dropped …]\n${'T'.repeat(500)}`);
    // Live: the head as it came, a note when the stream went past it, then what was dropped and the tail at the end.
    expect(outputOf(test, 'stdout')).toBe(
      `${'H'.repeat(500)}\n[… stdout goes on past 500 bytes: the rest is held back, its last 500 bytes follow when the command ends …]\n[… 9000 bytes of stdout dropped …]\n${'T'.repeat(500)}`,
    );
    const notes = test.eventsOfType('SHELL_OUTPUT').filter((event) => event.data?.heldBack || event.data?.droppedBytes);
    expect(notes.map((event) => event.data)).toEqual([
      { stream: 'stdout', text: expect.stringContaining('held back'), heldBack: true },
      { stream: 'stdout', text: `[… 9000 bytes of stdout dropped …]\n${'T'.repeat(500)}`, droppedBytes: 9000 },
    ]);
    expect(outputOf(test, 'stderr')).toBe('small\n');
    const artifact = await readFile(path.join(folder.path, 'flood_output.txt'), 'utf8');
    expect(artifact).toContain(`STDOUT:\n${'H'.repeat(500)}\n[… 9000 bytes of output dropped …]\n${'T'.repeat(500)}\n`);
    expect(artifact).toContain('STDERR:\nsmall\n');
  });

  it('reads a flood past its head no faster than 32 MiB/s: the command waits on its own writes', async () => {
    const test = shellStep('timeout 2 yes; true', {}, { outputCapBytes: 4096 });
    const result = await shellCommand(test.ctx);
    const { stdout } = result.data?.droppedBytes as { stdout: number };
    // Unpaced, `yes` gets gigabytes through a pipe in 2 s; paced, at most 2 s × 32 MiB/s (and a window's worth).
    expect(stdout).toBeGreaterThan(0);
    expect(stdout).toBeLessThan(80 * 1024 * 1024);
  });

  it('saves the command output as an artifact', async () => {
    const test = shellStep('echo out; echo err >&2; exit 1', { name: 'maven_test', saveArtifact: true, continueOnError: true });
    await runCommand(test.ctx, 'echo out; echo err >&2; exit 1');
    const text = await readFile(path.join(folder.path, 'maven_test_output.txt'), 'utf8');
    expect(text).toBe('Command: echo out; echo err >&2; exit 1\nReturn code: 1\n\nSTDOUT:\nout\n\n\nSTDERR:\nerr\n\n');
    expect(test.artifacts).toEqual([{ path: 'maven_test_output.txt', kind: 'COMMAND_OUTPUT', sizeBytes: Buffer.byteLength(text) }]);
  });

  it('kills the whole process group on timeout, grandchildren included, and rethrows the reason', async () => {
    const test = shellStep('echo "group $$"; sleep 300 & echo "child $!"; sleep 300');
    const running = shellCommand(test.ctx);
    const [, pgid, child] = (await waitForOutput(test, /group (\d+)\nchild (\d+)\n/)).map(Number);
    expect(isRunning(child!)).toBe(true);

    const reason = new StepTimeoutError(1000);
    test.abort(reason);
    await expect(running).rejects.toBe(reason);
    expect(runningMembers(pgid!)).toEqual([]);
    expect(isRunning(child!)).toBe(false);
  });

  it('escalates to SIGKILL when the group ignores SIGTERM', async () => {
    const test = shellStep("trap '' TERM; echo \"group $$\"; sleep 300 & sleep 300", {}, { killGraceMs: 200 });
    const running = shellCommand(test.ctx);
    const [, pgid] = (await waitForOutput(test, /group (\d+)\n/)).map(Number);
    await sleep(50);
    const reason = new RunStoppedError();
    const abortedAt = Date.now();
    test.abort(reason);
    await expect(running).rejects.toBe(reason);
    expect(Date.now() - abortedAt).toBeGreaterThanOrEqual(200);
    expect(runningMembers(pgid!)).toEqual([]);
  });

  it('does not wait for background children the command left behind, and ends them', async () => {
    const test = shellStep('sleep 300 & echo "child $!"');
    const startedAt = Date.now();
    const result = await shellCommand(test.ctx);
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    const child = Number(/child (\d+)/.exec(result.output ?? '')?.[1]);
    expect(isRunning(child)).toBe(false);
  });

  it('does not start when the signal is already aborted', async () => {
    const test = shellStep('touch started');
    const reason = new RunStoppedError();
    test.abort(reason);
    await expect(shellCommand(test.ctx)).rejects.toBe(reason);
    expect(test.events).toEqual([]);
  });
});
