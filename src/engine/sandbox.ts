/**
 * Where the commands of steps run, decided once at start-up (`SANDBOX=auto|on|off`):
 *
 * - **bubblewrap** (`bwrap`, the Debian package `bubblewrap`): the command sees a read-only view of
 *   the system; only its workspace and a Maven folder of the sandbox's own (at `~/.m2`) are writable;
 *   `/tmp`, `/var/tmp` and `/run` are private and empty; the server's database folder and the
 *   credential files of the server's user are hidden; it has no capabilities, and its own PID, IPC
 *   and UTS namespaces (and, for a step with `network: false`, its own network namespace with only a
 *   loopback).
 * - **unshare** (util-linux), without a sandbox: only a PID namespace, so that every process a
 *   command started ends with it. Used when bubblewrap is not (`SANDBOX=auto`, or `off`) and the
 *   kernel lets this user create one (root, or unprivileged user namespaces).
 * - **none**: a process group of its own, and every process carrying the command's marker in its
 *   environment (`AGENT_RUNNER_COMMAND_ID`) is ended with it (processes.ts).
 *
 * Every command, whatever the mode, gets `AGENT_RUNNER_RUN_ID` (crash recovery finds its processes)
 * and a unique `AGENT_RUNNER_COMMAND_ID` in its environment, and never the server's `API_TOKEN`.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { findExecutable } from './executables.js';
import { COMMAND_ID_VARIABLE, RUN_ID_VARIABLE } from './processes.js';
import { StepError, type CommandLaunch, type CommandLauncher, type CommandSpec, type SandboxSetting, type SandboxStatus } from './types.js';
import { isInside, realLocation } from './workspace.js';
import { CREDENTIAL_FOLDERS } from './workspace-rules.js';

export interface SandboxOptions {
  setting: SandboxSetting;
  /** The server's database file: its folder is hidden from sandboxed commands (`:memory:`: nothing to hide). */
  databasePath: string;
  /** Home folders of the server's user (`HOME`, and the account's): their credential files (HIDDEN_HOME_PATHS) are hidden. */
  homeFolders: readonly string[];
  /** Bound read-write at `~/.m2` (in each home folder) inside the sandbox, in place of the user's own; created if missing. */
  mavenDir: string;
  /** More files or folders to hide (absolute paths). */
  hiddenPaths: readonly string[];
  /** Unsandboxed commands run in a PID namespace of their own where `unshare` can make one (true); false: never (tests of the last fallback). */
  pidNamespace?: boolean;
}

/**
 * Credential files and folders of a home folder, hidden from sandboxed commands: the folders no
 * workspace may lie in (workspace-rules.ts: ~/.ssh, ~/.aws, ~/.config …, and ~/.m2, which the
 * sandbox then replaces with its own) and the usual credential files.
 */
export const HIDDEN_HOME_PATHS: readonly string[] = [
  ...CREDENTIAL_FOLDERS,
  '.netrc',
  '.git-credentials',
  '.npmrc',
  '.pypirc',
  '.vault-token',
  '.gradle/gradle.properties',
  '.cargo/credentials',
  '.cargo/credentials.toml',
  '.mozilla',
];

/** Folders a sandboxed command gets empty and private (a tmpfs of its own). */
const PRIVATE_FOLDERS = ['/tmp', '/var/tmp', '/run'];

/** Never passed to a command: the server's own secret. */
const SERVER_SECRETS = ['API_TOKEN'];
/** Not passed into the sandbox: variables whose names look like credentials (`GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`, …). */
const SECRET_NAME = /TOKEN|SECRET|PASSW|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|SSH_AUTH_SOCK/i;

/** `SANDBOX=on` and no working sandbox: the server must not start. */
export class SandboxUnavailableError extends Error {
  constructor(reason: string) {
    super(`SANDBOX=on, but commands cannot be sandboxed: ${reason} Install bubblewrap (apt-get install -y bubblewrap), or set SANDBOX=auto to run commands unsandboxed with a warning.`);
    this.name = 'SandboxUnavailableError';
  }
}

type Mode = { kind: 'bubblewrap'; bwrap: string; version: string } | { kind: 'unshare'; prefix: string[] } | { kind: 'none' };

/**
 * Probes what this machine offers and returns the launcher of every command step. Throws
 * SandboxUnavailableError for `SANDBOX=on` without a working bubblewrap.
 */
export async function createCommandLauncher(options: SandboxOptions): Promise<CommandLauncher> {
  let mode: Mode | undefined;
  let notSandboxed: string;
  if (options.setting === 'off') {
    notSandboxed = 'Commands run WITHOUT a sandbox (SANDBOX=off).';
  } else {
    const probe = await probeBubblewrap();
    if ('version' in probe) mode = { kind: 'bubblewrap', bwrap: probe.bwrap, version: probe.version };
    else if (options.setting === 'on') throw new SandboxUnavailableError(probe.reason);
    notSandboxed = `Commands run WITHOUT a sandbox: ${'reason' in probe ? probe.reason : ''} Install bubblewrap (apt-get install -y bubblewrap) and restart.`;
  }
  if (!mode) {
    const prefix = options.pidNamespace === false ? null : await probeUnshare();
    mode = prefix ? { kind: 'unshare', prefix } : { kind: 'none' };
  }
  const launcher = new Launcher(mode, options, mode.kind === 'bubblewrap' ? '' : notSandboxed);
  await launcher.prepareFolders();
  return launcher;
}

class Launcher implements CommandLauncher {
  readonly status: SandboxStatus;
  private readonly homes: string[];
  private readonly dataDir: string | null;

  constructor(
    private readonly mode: Mode,
    private readonly options: SandboxOptions,
    notSandboxed: string,
  ) {
    this.homes = options.homeFolders.map((home) => path.resolve(home));
    this.dataDir = options.databasePath === ':memory:' || options.databasePath === '' ? null : path.dirname(path.resolve(options.databasePath));
    const containment = mode.kind === 'none' ? 'process-group' : 'pid-namespace';
    const ending =
      mode.kind === 'none'
        ? 'No PID namespace can be made here either: the processes of a command are ended by its process group and by the marker in their environment (a process that clears its environment can escape).'
        : mode.kind === 'unshare'
          ? 'Each command runs in a PID namespace of its own (unshare), so every process it starts ends with it.'
          : '';
    this.status =
      mode.kind === 'bubblewrap'
        ? {
            setting: options.setting,
            active: true,
            tool: mode.version,
            containment,
            summary: `Commands run sandboxed (${mode.version}): read-only system, writable workspace, private /tmp, the database folder and credentials hidden, a PID namespace of their own.`,
          }
        : { setting: options.setting, active: false, tool: null, containment, summary: `${notSandboxed} ${ending}` };
  }

  /** The sandbox's Maven folder, and `~/.m2` as a mount point for it. */
  async prepareFolders(): Promise<void> {
    if (this.mode.kind !== 'bubblewrap') return;
    await mkdir(this.options.mavenDir, { recursive: true });
    for (const home of this.homes) await mkdir(path.join(home, '.m2'), { recursive: true });
  }

  async prepare(spec: CommandSpec): Promise<CommandLaunch> {
    const commandId = randomUUID();
    const sandboxed = this.mode.kind === 'bubblewrap';
    const env = commandEnvironment(spec.env, { runId: spec.runId, commandId, sandboxed });
    const containment = this.status.containment;
    switch (this.mode.kind) {
      case 'bubblewrap':
        return { argv: [this.mode.bwrap, ...(await this.bubblewrapArgs(spec)), '--as-pid-1', ...namespaceInit(spec.command)], env, commandId, containment, sandboxed };
      case 'unshare':
        return { argv: [...(this.mode.prefix as [string, ...string[]]), ...(spec.network ? [] : ['--net']), ...namespaceInit(spec.command)], env, commandId, containment, sandboxed };
      case 'none':
        if (!spec.network) {
          throw new StepError(
            'This step asks for no network (network: false), but commands run without a sandbox or namespace here, so that cannot be enforced. Install bubblewrap (apt-get install -y bubblewrap) and set SANDBOX=auto, or remove network: false.',
            { retryable: false, data: { command: spec.command } },
          );
        }
        return { argv: ['/bin/sh', '-c', spec.command], env, commandId, containment, sandboxed };
    }
  }

  /** bwrap's options for one command; mounts are applied in order, a later one over an earlier one. */
  private async bubblewrapArgs(spec: CommandSpec): Promise<string[]> {
    const [workspace, homes, data, resolvConf, extras] = await Promise.all([
      realpath(spec.cwd),
      Promise.all(this.homes.map(realOrAsWritten)),
      this.dataDir === null ? null : realOrAsWritten(this.dataDir),
      realpath('/etc/resolv.conf').catch(() => null),
      Promise.all(this.options.hiddenPaths.map(realOrAsWritten)),
    ]);
    // What exists, looked up all at once (some thirty paths, checked for every command: a credential file may appear any time).
    const kinds = new Map<string, Promise<'folder' | 'file' | null>>();
    const kind = (target: string) => {
      let found = kinds.get(target);
      if (!found) kinds.set(target, (found = kindOf(target)));
      return found;
    };
    const credentials = [...new Set(homes)].flatMap((home) => HIDDEN_HOME_PATHS.map((relative) => path.join(home, relative)));
    const databaseFiles = data === null ? [] : ['', '-wal', '-shm', '-journal'].map((suffix) => path.join(data, path.basename(this.options.databasePath)) + suffix);
    const pathEntries = (spec.env.PATH ?? '').split(path.delimiter).filter((entry) => path.isAbsolute(entry));
    await Promise.all([...PRIVATE_FOLDERS, ...credentials, ...extras, ...(data === null ? [] : [data]), ...databaseFiles, ...pathEntries].map(kind));

    const args = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc'];
    const privateFolders: string[] = [];
    for (const folder of PRIVATE_FOLDERS) if ((await kind(folder)) === 'folder') privateFolders.push(folder);
    for (const folder of privateFolders) args.push('--tmpfs', folder);
    // DNS still works where /etc/resolv.conf points into the private /run (systemd-resolved).
    if (resolvConf && privateFolders.some((folder) => isInside(folder, resolvConf))) args.push('--ro-bind', resolvConf, resolvConf);

    const hidden: string[] = [];
    const underPrivate = (target: string) => privateFolders.some((folder) => isInside(folder, target));
    const hide = async (target: string) => {
      const found = await kind(target);
      if (found === null) return;
      hidden.push(target);
      if (underPrivate(target)) return;
      args.push(...(found === 'folder' ? ['--tmpfs', target] : ['--ro-bind', '/dev/null', target]));
    };
    for (const credential of credentials) await hide(credential);
    for (const extra of extras) await hide(extra);

    // The database folder is hidden, the workspace shown, whichever holds the other.
    const dataInWorkspace = data !== null && isInside(workspace, data);
    if (data !== null && !dataInWorkspace) await hide(data);
    args.push('--bind', workspace, workspace);
    if (data !== null && dataInWorkspace) {
      if (data !== workspace) await hide(data);
      else for (const file of databaseFiles) await hide(file);
    }
    for (const home of new Set(homes)) args.push('--bind', this.options.mavenDir, path.join(home, '.m2'));

    // The tools the server finds on PATH stay available (read-only), unless showing their folder would show something hidden.
    for (const entry of pathEntries) {
      if ((await kind(entry)) !== 'folder') continue;
      const covered = underPrivate(entry) || hidden.some((target) => isInside(target, entry));
      if (covered && !hidden.some((target) => isInside(entry, target))) args.push('--ro-bind', entry, entry);
    }

    args.push('--chdir', workspace, '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--die-with-parent');
    if (!spec.network) args.push('--unshare-net');
    if (process.getuid?.() === 0) args.push('--cap-drop', 'ALL');
    return args;
  }
}

/**
 * The first process of a command's PID namespace: a shell that runs the command in the foreground
 * and exits with its status. It is the namespace's init (PID 1: the kernel ends every other process
 * of the namespace when it exits, before its parent, the wrapper, learns of it, so the wrapper's exit
 * means nothing of the command is left); the command below it gets the signals a command gets.
 */
function namespaceInit(command: string): string[] {
  return ['/bin/sh', '-c', '/bin/sh -c "$1"; exit $?', 'agent-runner-command', command];
}

/** The environment of a command: the server's without its secrets (and, in the sandbox, without anything named like a credential), plus the markers. */
function commandEnvironment(base: CommandSpec['env'], { runId, commandId, sandboxed }: { runId: number; commandId: string; sandboxed: boolean }): CommandSpec['env'] {
  const env: CommandSpec['env'] = {};
  for (const [name, value] of Object.entries(base)) {
    if (SERVER_SECRETS.includes(name) || (sandboxed && SECRET_NAME.test(name))) continue;
    env[name] = value;
  }
  env[RUN_ID_VARIABLE] = String(runId);
  env[COMMAND_ID_VARIABLE] = commandId;
  return env;
}

const isString = (value: string | null): value is string => value !== null;

/** The path with symbolic links resolved (in the part that exists). */
const realOrAsWritten = async (target: string): Promise<string> => (await realLocation(path.resolve(target)).catch(() => undefined)) ?? path.resolve(target);

async function kindOf(target: string): Promise<'folder' | 'file' | null> {
  try {
    return (await stat(target)).isDirectory() ? 'folder' : 'file';
  } catch {
    return null;
  }
}

function run(file: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 10_000, encoding: 'utf8' }, (error, stdout, stderr) => resolve({ ok: !error, output: `${stdout}${stderr}`.trim() || (error?.message ?? '') }));
  });
}

/** Probes run once per process and PATH. */
const probes = new Map<string, Promise<unknown>>();
function once<T>(key: string, probe: () => Promise<T>): Promise<T> {
  const cacheKey = `${key}\0${process.env.PATH ?? ''}`;
  let result = probes.get(cacheKey) as Promise<T> | undefined;
  if (!result) probes.set(cacheKey, (result = probe()));
  return result;
}

/** Whether bwrap is installed and can make every namespace the sandbox uses. */
function probeBubblewrap(): Promise<{ bwrap: string; version: string } | { reason: string }> {
  return once('bwrap', async () => {
    const bwrap = await findExecutable('bwrap');
    if (!bwrap) return { reason: 'bubblewrap (bwrap) is not installed or not on PATH.' };
    const version = await run(bwrap, ['--version']);
    const trial = await run(bwrap, [
      '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp',
      '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--unshare-net', '--die-with-parent',
      ...(process.getuid?.() === 0 ? ['--cap-drop', 'ALL'] : []),
      '/bin/true',
    ]);
    if (!trial.ok) return { reason: `bubblewrap cannot create its namespaces here (${trial.output}); in a container, allow user namespaces or run it privileged.` };
    return { bwrap, version: version.ok ? version.output : 'bubblewrap' };
  });
}

/** The `unshare` invocation that gives a command a PID namespace here, or null. */
function probeUnshare(): Promise<string[] | null> {
  return once('unshare', async () => {
    const unshare = await findExecutable('unshare');
    if (!unshare) return null;
    const candidates = [[unshare, '--pid', '--fork', '--kill-child']];
    if (process.getuid?.() !== 0) candidates.push([unshare, '--user', '--map-current-user', '--pid', '--fork', '--kill-child']);
    for (const prefix of candidates) {
      const [file, ...args] = prefix;
      if ((await run(file!, [...args, '--net', '/bin/true'])).ok) return prefix;
    }
    return null;
  });
}
