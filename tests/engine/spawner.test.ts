import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isGroupRunning, killProcessGroup, trackedProcessGroups } from '../../src/engine/processes.js';
import { spawnCommand, spawnerPid, stopSpawner, type CommandOptions } from '../../src/engine/spawner/spawner.js';
import { shellCommand } from '../../src/engine/steps/shell-command.js';
import { StepError } from '../../src/engine/types.js';
import { createTestStepContext, makeTempFolder } from './step-context.js';

let folder: Awaited<ReturnType<typeof makeTempFolder>>;
beforeEach(async () => {
  folder = await makeTempFolder('spawner-');
});
/** Groups of the commands `start` ran, killed after each test whatever happened. */
const groups: number[] = [];
afterEach(async () => {
  for (const pgid of groups.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await folder.remove();
  expect(trackedProcessGroups(), 'a test left a process group running').toEqual([]);
});
afterAll(() => stopSpawner());

/** Runs `command` in the test folder, collecting its output per stream. */
function start(command: string, options: Partial<CommandOptions> = {}) {
  const output = { stdout: '', stderr: '' };
  const running = spawnCommand({
    argv: ['/bin/sh', '-c', command],
    cwd: folder.path,
    env: process.env,
    onOutput: (stream, chunk) => (output[stream] += chunk.toString('utf8')),
    ...options,
  });
  void running.pid.then((pid) => pid !== undefined && groups.push(pid));
  return { running, output };
}

async function waitFor<T>(probe: () => T | null): Promise<T> {
  for (let waited = 0; waited < 5_000; waited += 10) {
    const value = probe();
    if (value !== null) return value;
    await sleep(10);
  }
  throw new Error('timed out waiting');
}

function isAlive(pid: number): boolean {
  try {
    const state = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return state !== '' && !state.startsWith('Z');
  } catch {
    return false;
  }
}

describe('spawner', () => {
  it('streams the output of a command and reports its exit code', async () => {
    const { running, output } = start('echo out; echo err >&2; exit 7');
    expect(await running.pid).toBeGreaterThan(0);
    expect(await running.finished).toEqual({ exitCode: 7, signal: null });
    expect(output).toEqual({ stdout: 'out\n', stderr: 'err\n' });
  });

  it('passes the environment it is given', async () => {
    const { running, output } = start('echo "$GREETING"', { env: { ...process.env, GREETING: 'hi there' } });
    await running.finished;
    expect(output.stdout).toBe('hi there\n');
  });

  it('spawns in the helper process, not in the server', async () => {
    const { running, output } = start('echo $PPID');
    await running.finished;
    const parent = Number(output.stdout.trim());
    expect(parent).not.toBe(process.pid);
    expect(parent).toBe(spawnerPid());
  });

  it('says so when the command cannot start', async () => {
    const { running } = start('true', { cwd: `${folder.path}/missing` });
    expect(await running.finished).toEqual({ notStarted: expect.stringMatching(/^no such working directory: .*missing \(spawn \/bin\/sh ENOENT\)$/) });
    expect(await running.pid).toBeUndefined();
  });

  it('reports the signal that killed the shell', async () => {
    const { running } = start('kill -KILL $$');
    expect(await running.finished).toEqual({ exitCode: null, signal: 'SIGKILL' });
  });

  it('runs the command in a process group of its own, which the server can kill', async () => {
    const { running, output } = start('sleep 300 & echo "child $!"; sleep 300');
    const pid = (await running.pid)!;
    const child = Number((await waitFor(() => /child (\d+)\n/.exec(output.stdout)))[1]);
    expect(isAlive(child)).toBe(true);

    await killProcessGroup(pid, 500);
    expect(await running.finished).toEqual({ exitCode: null, signal: 'SIGTERM' });
    expect(await isGroupRunning(pid)).toBe(false);
    expect(isAlive(child)).toBe(false);
  });

  it('fails the commands in flight when the helper dies, and starts a new helper for the next', async () => {
    const { running } = start('sleep 300');
    const pid = (await running.pid)!;
    const helper = spawnerPid()!;
    process.kill(helper, 'SIGKILL');
    await expect(running.finished).rejects.toThrow('the command runner process exited unexpectedly (SIGKILL)');
    // The command outlives the helper: the server still owns its group.
    expect(await isGroupRunning(pid)).toBe(true);
    await killProcessGroup(pid, 500);

    const next = start('echo again');
    expect(await next.running.finished).toEqual({ exitCode: 0, signal: null });
    expect(next.output.stdout).toBe('again\n');
    expect(spawnerPid()).not.toBe(helper);
  });

  it('lets the server exit when no command runs, whether or not the helper was stopped', async () => {
    const spawner = new URL('../../src/engine/spawner/spawner.ts', import.meta.url).href;
    for (const ending of ['', 'await stopSpawner();']) {
      const script = path.join(folder.path, 'server.mts');
      await writeFile(
        script,
        `import { spawnCommand, stopSpawner } from ${JSON.stringify(spawner)};
        const { finished } = spawnCommand({ argv: ['/bin/sh', '-c', 'sleep 0.2; echo done'], cwd: ${JSON.stringify(folder.path)}, env: process.env, onOutput: (_, chunk) => process.stdout.write(chunk) });
        console.log(JSON.stringify(await finished));
        ${ending}`,
      );
      // Exit code 13 would mean the event loop ran dry with a top-level await still pending.
      const output = execFileSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 20_000 });
      expect(output).toBe('done\n{"exitCode":0,"signal":null}\n');
    }
  });

  it('stops the helper on request', async () => {
    await start('true').running.finished;
    const helper = spawnerPid()!;
    await stopSpawner();
    expect(spawnerPid()).toBeUndefined();
    expect(isAlive(helper)).toBe(false);
  });
});

describe('SHELL_COMMAND through the spawner', () => {
  function shellStep(command: string) {
    return createTestStepContext({ root: folder.path, step: { type: 'SHELL_COMMAND', name: 'build', command } });
  }

  it('decodes a UTF-8 character split across chunks', async () => {
    const test = shellStep("printf 'caf\\303'; sleep 0.2; printf '\\251\\n'");
    const result = await shellCommand(test.ctx);
    expect(result.output).toBe('café\n');
    expect(test.eventsOfType('SHELL_OUTPUT').map((event) => event.data?.text).join('')).toBe('café\n');
  });

  it('fails the step with a clear error when the helper dies under it, and kills the command', async () => {
    const test = shellStep('echo "group $$"; sleep 300');
    const running = shellCommand(test.ctx);
    const pgid = Number(
      (await waitFor(() => /group (\d+)/.exec(test.eventsOfType('SHELL_OUTPUT').map((event) => event.data?.text).join(''))))[1],
    );
    process.kill(spawnerPid()!, 'SIGKILL');
    const error = await running.then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(StepError);
    expect((error as StepError).message).toBe('Command "echo "group $$"; sleep 300" failed: the command runner process exited unexpectedly (SIGKILL)');
    expect((error as StepError).retryable).toBe(true);
    expect(await isGroupRunning(pgid)).toBe(false);
  });

});
