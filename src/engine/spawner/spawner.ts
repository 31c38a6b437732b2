import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Commands are spawned by a small helper process (child.mjs), started on first use and kept for the
 * life of the server: a fork() from the server itself would copy its page tables on every command,
 * synchronously, stalling the event loop. The server still owns the commands' process groups
 * (processes.ts signals them by pgid, whoever spawned them).
 */

export type OutputStream = 'stdout' | 'stderr';

export interface CommandOptions {
  /** The program and its arguments, such as `['/bin/sh', '-c', 'mvn test']` (see `sandbox.ts` for the launch of a step's command). */
  argv: readonly [string, ...string[]];
  cwd: string;
  /** The whole environment of the command. */
  env: NodeJS.ProcessEnv;
  /**
   * Of each stream, the first `headBytes` reach `onOutput`; past them only the last `tailBytes` are
   * kept (by the helper: the rest never reaches the server) and handed to `onTail` at the end, and
   * the stream is read at `tailBytesPerSecond` at most (the command waits on its writes meanwhile).
   * Unlimited when not given.
   */
  outputLimit?: { headBytes: number; tailBytes: number; tailBytesPerSecond: number };
  /** Called with each chunk of the head of a stream, in order, until `finished` settles. */
  onOutput(stream: OutputStream, chunk: Buffer): void;
  /** A stream went past its head: what follows is held back until the end (`onTail`). */
  onOverflow?(stream: OutputStream): void;
  /** After the command ended, for each stream that overflowed: its last bytes, and how many bytes between head and tail were dropped. Before `finished` settles. */
  onTail?(stream: OutputStream, tail: Buffer, droppedBytes: number): void;
}

export type CommandOutcome =
  /** The command ran: its shell's exit code, or the signal that killed it. */
  | { exitCode: number | null; signal: NodeJS.Signals | null }
  /** The command could not be started (a missing working directory, …). */
  | { notStarted: string };

export interface RunningCommand {
  /** The shell's pid, which is also its process group id; undefined when it did not start. */
  readonly pid: Promise<number | undefined>;
  /** Settles when the shell has exited, before background children it left behind have closed its output pipes. */
  readonly exited: Promise<void>;
  /**
   * Settles once the shell has exited and both output pipes are closed. Rejects when the helper
   * died under the command, which may then still be running.
   */
  readonly finished: Promise<CommandOutcome>;
}

interface InFlight {
  options: CommandOptions;
  started(pid: number): void;
  exited(): void;
  settle(outcome: CommandOutcome | Error): void;
}

type HelperMessage =
  | { op: 'spawned'; id: number; pid: number }
  | { op: 'error'; id: number; message: string; code?: string }
  | { op: 'output'; id: number; stream: OutputStream; data: Uint8Array }
  | { op: 'overflow'; id: number; stream: OutputStream }
  | { op: 'tail'; id: number; stream: OutputStream; data: Uint8Array; droppedBytes: number }
  | { op: 'exited'; id: number }
  | { op: 'closed'; id: number; exitCode: number | null; signal: NodeJS.Signals | null };

const HELPER_PATH = fileURLToPath(new URL('./child.mjs', import.meta.url));

class Helper {
  private readonly child: ChildProcess;
  private readonly inFlight = new Map<number, InFlight>();
  private nextId = 1;
  /** Resolves once the helper process has exited. */
  readonly gone: Promise<void>;
  private markGone!: () => void;

  /** `onGone` is called as soon as the helper stops taking commands. */
  constructor(private readonly onGone: () => void) {
    // Without the server's NODE_OPTIONS (such as --import tsx) or execArgv, so it stays small.
    const { NODE_OPTIONS: _, ...env } = process.env;
    this.child = fork(HELPER_PATH, [], { execArgv: [], env, serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child.on('message', (message: HelperMessage) => this.receive(message));
    this.child.on('error', (error) => {
      // Spawning the helper itself failed: no 'exit' follows.
      if (this.child.pid === undefined) this.die(new Error(`the command runner process could not start: ${error.message}`));
      // A failed send leaves the helper in doubt: end it, and the commands in flight with it.
      else this.child.kill('SIGKILL');
    });
    this.child.once('exit', (code, signal) => this.die(new Error(`the command runner process exited unexpectedly (${signal ?? `code ${code}`})`)));
    this.gone = new Promise((resolve) => (this.markGone = resolve));
    this.holdEventLoop(false);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  spawn(options: CommandOptions): RunningCommand {
    const id = this.nextId++;
    let started!: (pid: number | undefined) => void;
    let exited!: () => void;
    let finished!: (outcome: CommandOutcome) => void;
    let failed!: (error: Error) => void;
    const command: RunningCommand = {
      pid: new Promise((resolve) => (started = resolve)),
      exited: new Promise((resolve) => (exited = resolve)),
      finished: new Promise((resolve, reject) => ((finished = resolve), (failed = reject))),
    };
    this.inFlight.set(id, {
      options,
      started,
      exited,
      settle(outcome) {
        started(undefined);
        exited();
        if (outcome instanceof Error) failed(outcome);
        else finished(outcome);
      },
    });
    if (this.inFlight.size === 1) this.holdEventLoop(true);
    const [file, ...args] = options.argv;
    const limit = options.outputLimit ?? { headBytes: Number.MAX_SAFE_INTEGER, tailBytes: 0, tailBytesPerSecond: Number.MAX_SAFE_INTEGER };
    this.child.send({ op: 'spawn', id, file, args, cwd: options.cwd, env: options.env, ...limit });
    return command;
  }

  /** Lets the helper go: it exits once its channel closes. Commands in flight fail. */
  stop(): Promise<void> {
    this.onGone();
    this.failInFlight(new Error('the command runner process was stopped'));
    // Whoever awaits the exit must not see the event loop run dry first.
    this.child.ref();
    if (this.child.connected) this.child.disconnect();
    return this.gone;
  }

  private die(error: Error): void {
    this.onGone();
    // What it sent before it died may still be in the channel: take that first.
    if (this.child.pid !== undefined && this.child.connected) this.child.once('disconnect', () => this.failInFlight(error));
    else this.failInFlight(error);
    this.markGone();
  }

  private receive(message: HelperMessage): void {
    const entry = this.inFlight.get(message.id);
    if (!entry) return;
    switch (message.op) {
      case 'spawned':
        return entry.started(message.pid);
      case 'output':
        return entry.options.onOutput(message.stream, asBuffer(message.data));
      case 'overflow':
        return entry.options.onOverflow?.(message.stream);
      case 'tail':
        return entry.options.onTail?.(message.stream, asBuffer(message.data), message.droppedBytes);
      case 'exited':
        return entry.exited();
      case 'error':
        return this.settle(message.id, { notStarted: message.message });
      case 'closed':
        return this.settle(message.id, { exitCode: message.exitCode, signal: message.signal });
    }
  }

  private settle(id: number, outcome: CommandOutcome | Error): void {
    const entry = this.inFlight.get(id);
    if (!entry) return;
    this.inFlight.delete(id);
    if (this.inFlight.size === 0) this.holdEventLoop(false);
    entry.settle(outcome);
  }

  private failInFlight(error: Error): void {
    for (const id of [...this.inFlight.keys()]) this.settle(id, error);
  }

  /** An idle helper must not keep the server (or a test run) from exiting; a running command must. */
  private holdEventLoop(hold: boolean): void {
    if (hold) {
      this.child.ref();
      this.child.channel?.ref();
    } else {
      this.child.unref();
      this.child.channel?.unref();
    }
  }
}

const asBuffer = (data: Uint8Array): Buffer => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

let helper: Helper | undefined;

/** Starts `argv` in a process group (and session) of its own, through the helper (started if need be). */
export function spawnCommand(options: CommandOptions): RunningCommand {
  if (!helper) {
    const started: Helper = new Helper(() => {
      if (helper === started) helper = undefined;
    });
    helper = started;
  }
  return helper.spawn(options);
}

/** The pid of the helper process, if one is running. */
export function spawnerPid(): number | undefined {
  return helper?.pid;
}

/** Ends the helper, if any; commands still in flight fail. Resolves once it has exited. */
export async function stopSpawner(): Promise<void> {
  await helper?.stop();
}
