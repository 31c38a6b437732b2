import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Process groups of the commands steps run. Each command starts detached (`setsid`: its own group
 * and session, led by the shell), so signalling `-pid` reaches the shell and everything it forked;
 * signalling the shell alone would leave its children running and holding the output pipes open.
 */
const liveGroups = new Set<number>();
const POLL_MS = 25;
/** How long to wait for the kernel to finish off a group after SIGKILL. */
const AFTER_SIGKILL_MS = 2_000;

export function trackProcessGroup(pid: number): void {
  liveGroups.add(pid);
}

export function untrackProcessGroup(pid: number): void {
  liveGroups.delete(pid);
}

/** Process groups started and not yet known to be gone. */
export function trackedProcessGroups(): number[] {
  return [...liveGroups];
}

/**
 * SIGTERM to every member of the group, then SIGKILL to whatever is still alive after `graceMs`.
 * Resolves once no member is left running (or, at worst, shortly after the SIGKILL).
 */
export async function killProcessGroup(pid: number, graceMs: number): Promise<void> {
  try {
    if (!signalGroup(pid, 'SIGTERM')) return;
    if (await waitUntilGone(pid, graceMs)) return;
    signalGroup(pid, 'SIGKILL');
    await waitUntilGone(pid, AFTER_SIGKILL_MS);
  } finally {
    liveGroups.delete(pid);
  }
}

/** For server exit: SIGKILL every tracked group at once, synchronously. */
export function killAllProcessGroups(): void {
  for (const pid of liveGroups) signalGroup(pid, 'SIGKILL');
  liveGroups.clear();
}

/** False when the group has no member left. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await isGroupRunning(pid))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
  }
}

/**
 * Whether a member of the group is still running. `kill(-pgid, 0)` also counts zombies, and
 * orphans of a killed shell stay zombies for good where PID 1 does not reap (as in some
 * containers), so on Linux the members' states are read from /proc.
 */
export async function isGroupRunning(pid: number): Promise<boolean> {
  if (!signalGroup(pid, 0)) return false;
  const states = await groupMemberStates(pid);
  return states === undefined || states.some((state) => state !== 'Z' && state !== 'X');
}

/** The states (R, S, Z, …) of the group's members, or undefined without /proc. */
async function groupMemberStates(pgid: number): Promise<string[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const states: string[] = [];
  await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (entry) => {
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
        if (stat === undefined) return;
        // "pid (command) state ppid pgrp …": the command may itself hold spaces and parentheses.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[2]) === pgid) states.push(fields[0]!);
      }),
  );
  return states;
}

/** Set in the environment of every command a step runs, so its processes can be found again after a crash. */
export const RUN_ID_VARIABLE = 'AGENT_RUNNER_RUN_ID';

/**
 * Kills, with SIGKILL, every process group that holds a live process started for this run — found
 * by `AGENT_RUNNER_RUN_ID` in its environment, which children inherit, and by a working directory
 * inside the run's workspace: run ids are only unique within one database, so another server on
 * the machine (another database) may have a run with the same id. For crash recovery: a server
 * killed with SIGKILL leaves its detached commands running. Resolves once they are gone (or shortly
 * after the SIGKILL) with the groups killed. Linux only (reads /proc); elsewhere it finds nothing.
 */
export async function killLeftoverProcessGroups(runId: number, workspace: string): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  // /proc/<pid>/cwd is the real path; without the folder, no process can be working in it.
  const root = await realpath(workspace).catch(() => undefined);
  if (root === undefined) return [];
  const marker = `${RUN_ID_VARIABLE}=${runId}`;
  const groups = new Set<number>();
  await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
      .map(async (entry) => {
        const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => undefined);
        if (!environ?.split('\0').includes(marker)) return;
        const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => undefined);
        if (cwd === undefined || !isInside(root, cwd)) return;
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
        if (stat === undefined) return;
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (fields[0] === 'Z') return;
        const pgid = Number(fields[2]);
        // Only groups of their own (detached commands); never this server's group.
        if (pgid > 1 && pgid !== process.pid) groups.add(pgid);
      }),
  );
  for (const pgid of groups) signalGroup(pgid, 'SIGKILL');
  // The run continues right after recovery: its step's new attempt must not overlap the old one.
  await Promise.all([...groups].map((pgid) => waitUntilGone(pgid, AFTER_SIGKILL_MS)));
  return [...groups];
}

function isInside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}
