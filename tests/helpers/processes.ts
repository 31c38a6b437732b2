/**
 * The processes a test started through the server, found the way crash recovery finds them but with
 * the test's own code: `AGENT_RUNNER_RUN_ID=<run id>` in the environment AND a working directory
 * inside the test's workspace (other test runs on this machine use the same run ids).
 */
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';

export interface TestProcess {
  pid: number;
  state: string;
  args: string;
}

/** Live processes (zombies aside) of run `runId` working in `workspace`. */
export function processesOfRun(runId: number | string, workspace: string): TestProcess[] {
  const root = realpathSync(workspace);
  const marker = `AGENT_RUNNER_RUN_ID=${runId}`;
  const found: TestProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(marker)) continue;
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      const relative = path.relative(root, cwd);
      if (relative.startsWith('..') || path.isAbsolute(relative)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 1)[0]!;
      if (state === 'Z' || state === 'X') continue;
      found.push({ pid: Number(entry), state, args: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}
