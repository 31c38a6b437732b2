import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CommandContainment } from './types.js';
import { isInside } from './workspace.js';

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

/** Set to a value unique to each command in its environment, which its children inherit, so that every process it started is found however detached. */
export const COMMAND_ID_VARIABLE = 'AGENT_RUNNER_COMMAND_ID';

/** A command's processes, as `endCommandProcesses` needs them. */
export interface CommandProcesses {
  /** The process the helper spawned (the shell, or the bwrap/unshare wrapper around it); also its process group id. */
  pid: number;
  /** The command's AGENT_RUNNER_COMMAND_ID. */
  commandId: string;
  containment: CommandContainment;
}

/**
 * Ends every process of a command, however detached (`setsid`, a double fork, `nohup`, output
 * redirected away): SIGTERM to each, then SIGKILL to whatever is left after `graceMs`. Resolves once
 * none is left running (or, at worst, AFTER_SIGKILL_MS after the SIGKILL).
 *
 * In a PID namespace (`pid-namespace`), the wrapper is spared the SIGTERM (its death would end the
 * namespace at once, with no grace for the command); the SIGKILL goes to the wrapper's group, and
 * the kernel then kills everything left in the namespace, markers or not. Without one
 * (`process-group`), the group and every process carrying the marker are signalled, again and again
 * until none is left (a process may fork between a scan of /proc and the signal).
 */
export async function endCommandProcesses(command: CommandProcesses, graceMs: number): Promise<void> {
  const { pid, containment } = command;
  try {
    const first = await scanCommand(command);
    if (first.length === 0) return;
    if (containment === 'process-group') signalGroup(pid, 'SIGTERM');
    for (const member of first) if (member !== pid) signalProcess(member, 'SIGTERM');
    if (await waitUntilNone(async () => (await scanCommand(command)).length > 0, graceMs)) return;
    const deadline = Date.now() + AFTER_SIGKILL_MS;
    for (;;) {
      signalGroup(pid, 'SIGKILL');
      for (const member of await scanCommand(command)) signalProcess(member, 'SIGKILL');
      const left = await scanCommand(command);
      if (left.length === 0 || Date.now() >= deadline) return;
      await sleep(POLL_MS);
    }
  } finally {
    liveGroups.delete(pid);
  }
}

/**
 * The live processes (zombies aside) of a command: the members of its process group and those
 * carrying its marker. Only processes started since the command are read: their pids lie after the
 * command's own, up to the last pid the kernel handed out (from /proc/loadavg, wrapping around at
 * pid_max), which spares reading every process of a busy machine (~20 ms for 400 of them).
 */
async function scanCommand({ pid, commandId }: CommandProcesses): Promise<number[]> {
  const lastPid = await readFile('/proc/loadavg', 'latin1').then(
    (text) => Number(text.trim().split(' ').at(-1)),
    () => Number.NaN,
  );
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  // Started at or after the command: in [pid, lastPid], or past pid or up to lastPid once the counter wrapped.
  const since = (candidate: number) =>
    !Number.isFinite(lastPid) || (lastPid >= pid ? candidate >= pid && candidate <= lastPid : candidate >= pid || candidate <= lastPid);
  const wanted = Buffer.from(`\0${COMMAND_ID_VARIABLE}=${commandId}\0`);
  const found: number[] = [];
  await Promise.all(
    entries.map(async (entry) => {
      const candidate = Number(entry);
      if (!Number.isInteger(candidate) || candidate === process.pid || !since(candidate)) return;
      const stat = await readFile(`/proc/${entry}/stat`, 'latin1').catch(() => undefined);
      if (stat === undefined) return;
      // "pid (command) state ppid pgrp …": the command may itself hold spaces and parentheses.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 3);
      if (state === 'Z' || state === 'X') return;
      if (Number(pgrp) === pid) return void found.push(candidate);
      const environ = await readFile(`/proc/${entry}/environ`).catch(() => undefined);
      if (environ && hasVariable(environ, wanted)) found.push(candidate);
    }),
  );
  return found;
}

/** Whether a NUL-separated environment block holds the variable; `wanted` is `\0name=value\0`. */
function hasVariable(environ: Buffer, wanted: Buffer): boolean {
  if (environ.indexOf(wanted) !== -1) return true;
  // The first variable has no NUL before it, the last may have none after it.
  const bare = wanted.subarray(1, -1);
  if (environ.subarray(0, bare.length).equals(bare) && (environ.length === bare.length || environ[bare.length] === 0)) return true;
  return environ.length >= bare.length + 1 && environ.subarray(environ.length - bare.length).equals(bare) && environ[environ.length - bare.length - 1] === 0;
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Gone already.
  }
}

async function waitUntilNone(anyLeft: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await anyLeft())) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
  }
}

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
