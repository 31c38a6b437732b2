/**
 * Helpers of the durability tests: the real server as a child process (`node --import tsx
 * src/server.ts`, the same entry `npm start` runs), a read of its SQLite file that does not run
 * crash recovery, stub `mvn` scripts, and a look at the machine's processes.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentRunnerClient } from '../../src/client/client.js';
import { CreateProjectDocument, CreateRunDocument, EventsDocument, type EventFieldsFragment } from '../../src/client/generated/graphql.js';
import { initORM } from '../../src/db/orm.js';
import { SqlStore } from '../../src/db/store.js';
import type { EventRecord, RunRecord, StepRunRecord } from '../../src/engine/types.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Spawning tsx and migrating a database takes a second or two; on a loaded machine (or when the server first builds its web console), much more. */
const START_TIMEOUT_MS = 90_000;

export interface ServerChild {
  child: ChildProcess;
  url: string;
  client: AgentRunnerClient;
  /** Everything the child printed so far (stdout and stderr), for failure messages. */
  output(): string;
  /** Resolves with the exit code and signal once the child has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every child a test started, so `killAll` can end them whatever happened. */
const children = new Set<ChildProcess>();

/**
 * Starts `src/server.ts` in a child process with only the given settings (plus PATH and HOME) in its
 * environment, and resolves once it prints the URL it listens on.
 */
export async function spawnServer(env: Record<string, string>): Promise<ServerChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      LOG_LEVEL: 'info',
      WORKER_CHECK_INTERVAL: '1',
      KILL_GRACE_MS: '500',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within ${START_TIMEOUT_MS} ms; its output:\n${output}`)), START_TIMEOUT_MS);
    const onData = (): void => {
      const match = /agent-runner listening on (http:\/\/\S+)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (code ${code}, signal ${signal}) before it listened; its output:\n${output}`));
    });
  });
  return { child, url, client: new AgentRunnerClient({ url }), output: () => output, exited };
}

/**
 * Starts `src/server.ts` like `spawnServer`, for a server expected to refuse to start: resolves with
 * its exit and everything it printed once it has exited (rejects if it listens instead).
 */
export async function spawnServerExpectingExit(env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  // 'close': exited, and everything it printed has been read.
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  const listening = new Promise<never>((_, reject) =>
    child.stdout!.on('data', () => {
      if (/agent-runner listening on/.test(stdout)) reject(new Error(`the server started instead of refusing:\n${stdout}${stderr}`));
    }),
  );
  const exit = await within(Promise.race([closed, listening]), START_TIMEOUT_MS, 'the exit of the server expected to refuse to start');
  return { ...exit, stdout, stderr };
}

/** SIGKILLs every server child still alive and waits for each to be gone. */
export async function killAllServers(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  children.clear();
}

/** Resolves with `promise`, or rejects naming `what` after `timeoutMs`. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface DatabaseSnapshot {
  run: RunRecord;
  steps: StepRunRecord[];
  events: EventRecord[];
}

/**
 * Reads a run straight from a stopped server's SQLite file, without starting an app: starting one
 * would run crash recovery and change what is to be seen.
 */
export async function readRunFromDatabase(databasePath: string, runId: string | number): Promise<DatabaseSnapshot> {
  const orm = await initORM(databasePath);
  try {
    const store = new SqlStore(orm);
    const run = await store.getRun(Number(runId));
    if (!run) throw new Error(`run ${runId} is not in ${databasePath}`);
    return { run, steps: await store.listStepRuns(run.id), events: await store.listEvents(run.id, 0, 100_000) };
  } finally {
    await orm.close(true);
  }
}

/** Creates a project (folder `localPath`, created by the run) and a run of the default workflow. */
export async function createProjectAndRun(client: AgentRunnerClient, localPath: string, name = `durability-${Date.now()}`) {
  const { createProject: project } = await client.request(CreateProjectDocument, { name, localPath });
  const { createRun: run } = await client.request(CreateRunDocument, { input: { projectId: project.id, goal: 'Generate a Quarkus service that survives crashes' } });
  return { project, run };
}

/** Every event of a run through the `events` query. */
export async function queryAllEvents(client: AgentRunnerClient, runId: string): Promise<EventFieldsFragment[]> {
  const events: EventFieldsFragment[] = [];
  for (;;) {
    const { events: page } = await client.request(EventsDocument, { runId, after: events.at(-1)?.seq ?? 0, first: 1000 });
    events.push(...page);
    if (page.length < 1000) return events;
  }
}

/** Writes an executable `mvn` with this shell body into `<dir>/bin`; returns that folder, for PATH. */
export function writeStubMvn(dir: string, body: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'mvn'), `#!/bin/sh\n${body}`);
  chmodSync(join(bin, 'mvn'), 0o755);
  return bin;
}

/** A stub Maven that only reports success. */
export const MVN_SUCCESS = `echo "[INFO] stub mvn called with: $*"
echo "[INFO] Tests run: 1, Failures: 0, Errors: 0, Skipped: 0"
echo "[INFO] BUILD SUCCESS"
exit 0
`;

export interface ProcessInfo {
  pid: number;
  state: string;
  args: string;
}

/** The machine's processes whose command line contains `needle`, zombies included (see `state`). */
export function processesMatching(needle: string): ProcessInfo[] {
  const listing = execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' });
  return listing
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null && match[3]!.includes(needle))
    .map((match) => ({ pid: Number(match[1]), state: match[2]!, args: match[3]! }));
}

/** Those of `processesMatching` that still run (not zombies). */
export function liveProcessesMatching(needle: string): ProcessInfo[] {
  return processesMatching(needle).filter((p) => !p.state.startsWith('Z'));
}

/** SIGKILLs, by pid, the live processes whose command line holds `needle` (a test's own unique marker). */
export function killProcessesMatching(needle: string): void {
  for (const { pid } of liveProcessesMatching(needle)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
