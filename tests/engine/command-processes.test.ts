/**
 * Every process a command starts ends with its step, however it left: `setsid`, a double fork with
 * its output redirected away, `nohup`, a detached child that ignores SIGTERM. For each way the
 * command can end (it completes, the run is stopped, the step times out) and each way of containing
 * it this machine offers (the bubblewrap sandbox, a PID namespace from `unshare`, the process group
 * plus the environment marker), the test counts the run's processes afterwards: zero.
 */
import { randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { trackedProcessGroups } from '../../src/engine/processes.js';
import { createCommandLauncher } from '../../src/engine/sandbox.js';
import { runCommand } from '../../src/engine/steps/shell-command.js';
import { RunStoppedError, StepTimeoutError, type CommandLauncher } from '../../src/engine/types.js';
import { processesOfRun } from '../helpers/processes.js';
import { waitFor } from '../helpers/test-app.js';
import { createTestStepContext, makeTempFolder } from './step-context.js';

type ModeName = 'bubblewrap sandbox' | 'PID namespace (unshare)' | 'process group + marker';

const launchers = new Map<ModeName, CommandLauncher | string>();
/** The launchers' home and Maven folders. */
let launcherDir: string;
beforeAll(async () => {
  launcherDir = mkdtempSync(path.join(tmpdir(), 'launchers-'));
  const base = { databasePath: ':memory:', homeFolders: [launcherDir], mavenDir: path.join(launcherDir, 'm2'), hiddenPaths: [] };
  launchers.set('bubblewrap sandbox', await createCommandLauncher({ ...base, setting: 'on' }).catch((error: Error) => error.message));
  const unshare = await createCommandLauncher({ ...base, setting: 'off' });
  launchers.set('PID namespace (unshare)', unshare.status.containment === 'pid-namespace' ? unshare : `unshare cannot make a PID namespace here: ${unshare.status.summary}`);
  launchers.set('process group + marker', await createCommandLauncher({ ...base, setting: 'off', pidNamespace: false }));
  for (const [mode, launcher] of launchers) {
    if (typeof launcher === 'string') console.warn(`\n*** command-processes: the "${mode}" mode is NOT tested on this machine: ${launcher}\n`);
  }
});

let folder: Awaited<ReturnType<typeof makeTempFolder>>;
const runIds: number[] = [];
beforeEach(async () => {
  folder = await makeTempFolder('escape-');
});
afterEach(async () => {
  // Whatever a failed test left, by pid.
  for (const runId of runIds.splice(0)) {
    for (const leftover of processesOfRun(runId, folder.path)) {
      try {
        process.kill(leftover.pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
  }
  await folder.remove();
  expect(trackedProcessGroups(), 'a test left a process group tracked').toEqual([]);
});
afterAll(() => {
  launchers.clear();
  rmSync(launcherDir, { recursive: true, force: true });
});

/** Ways a child leaves its command; each touches `started` once it runs, then sleeps for `token` seconds. */
const ESCAPES: Record<string, (token: string) => string> = {
  setsid: (token) => `setsid sh -c 'touch started; exec sleep ${token}' &`,
  'double fork, output redirected away': (token) => `( (setsid sh -c 'touch started; exec sleep ${token}' </dev/null >/dev/null 2>&1 &) & )`,
  nohup: (token) => `nohup sh -c 'touch started; exec sleep ${token}' >/dev/null 2>&1 &`,
  'detached child ignoring SIGTERM': (token) => `setsid sh -c 'trap "" TERM; touch started; exec sleep ${token}' >/dev/null 2>&1 &`,
};

const ENDINGS = ['completes', 'is stopped', 'times out'] as const;

describe.each([...(['bubblewrap sandbox', 'PID namespace (unshare)', 'process group + marker'] as const)])('%s', (mode) => {
  describe.each(Object.entries(ESCAPES))('a command that leaves a child behind with %s', (_escape, escape) => {
    it.each(ENDINGS)('ends it when the command %s: zero processes of the run survive', async (ending) => {
      const launcher = launchers.get(mode);
      if (typeof launcher === 'string' || launcher === undefined) {
        console.warn(`SKIPPED (${mode} not available): ${launcher}`);
        return;
      }
      const token = `333.${randomInt(100_000, 999_999)}`;
      const runId = 1_000_000_000 + randomInt(0, 999_999_999);
      runIds.push(runId);
      const waitForChild = 'while [ ! -e started ]; do sleep 0.01; done';
      const rest = ending === 'completes' ? 'echo done' : `touch ready; sleep 300.${randomInt(100_000, 999_999)}`;
      const test = createTestStepContext({
        root: folder.path,
        runId,
        step: { type: 'SHELL_COMMAND', name: 'escape' },
        settings: { commands: launcher, killGraceMs: 300 },
      });
      const running = runCommand(test.ctx, `${escape(token)}\n${waitForChild}\n${rest}`);
      running.catch(() => undefined);

      if (ending === 'completes') {
        const result = await running;
        expect(result.data).toMatchObject({ exitCode: 0 });
      } else {
        let settled = false;
        void running.finally(() => (settled = true)).catch(() => undefined);
        for (let waited = 0; !existsSync(path.join(folder.path, 'ready')); waited += 10) {
          if (waited > 15_000 || settled) throw new Error(`the command did not get ready: ${await running.then(String, String)}`);
          await sleep(10);
        }
        // The child is running, out of the command's reach.
        await waitFor(() => processesOfRun(runId, folder.path).some((p) => p.args === `sleep ${token}`), { what: 'the child to sleep' });
        const reason = ending === 'is stopped' ? new RunStoppedError() : new StepTimeoutError(1_000);
        test.abort(reason);
        await expect(running).rejects.toBe(reason);
      }
      expect(existsSync(path.join(folder.path, 'started'))).toBe(true);
      expect(processesOfRun(runId, folder.path)).toEqual([]);
    });
  });
});
