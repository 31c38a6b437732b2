import type { BuiltInStepKind } from './registry.js';
import { mkdir } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { Coalescer } from '../coalesce.js';
import { displayCommand } from '../expressions.js';
import { endCommandProcesses, trackProcessGroup, untrackProcessGroup } from '../processes.js';
import { spawnCommand, type OutputStream } from '../spawner/spawner.js';
import { StepError, type ShellCommandStep, type StepContext, type StepExecutor, type StepResult } from '../types.js';

/** SHELL_COMMAND: runs `step.command` with `sh -c` in the workspace. */
export const shellCommand: StepExecutor<ShellCommandStep> = async (ctx) => {
  if (!ctx.step.command?.trim()) throw new StepError(`Step "${ctx.step.name}" has no command to run`, { retryable: false });
  return runCommand(asStep(ctx), ctx.step.command, { network: ctx.step.network });
};

/**
 * A command step fails on a non-zero exit whatever its continueOnError: that is the runner's (the
 * step is FAILED, its outcome failure, and the run goes on). Only callers that read the exit code
 * themselves (the agent's run_command) ask runCommand to return normally.
 */
export function asStep<C extends StepContext>(ctx: C): C {
  return ctx.step.continueOnError ? { ...ctx, step: { ...ctx.step, continueOnError: false } } : ctx;
}

/** Lines of output quoted in the message of a failed command. */
const FAILURE_TAIL_LINES = 20;
/** Combined output kept for that quote. */
const FAILURE_TAIL_BYTES = 16 * 1024;
/**
 * How fast a stream is read once past its head (32 MiB/s): far above what a build prints, far below
 * what `yes` can, which then waits on its own writes instead of burning a core (bench/README.md).
 */
const TAIL_BYTES_PER_SECOND = 32 * 1024 * 1024;

/**
 * Runs `command` with `sh -c` in the workspace, the one way every command step (and the agent's
 * tools) starts a command: through `ctx.settings.commands` (in the sandbox when the server has one,
 * see sandbox.ts) and the spawner helper, streaming its output as SHELL_OUTPUT events. Of each stream
 * the first and last halves of `settings.outputCapBytes` are kept (events, output, artifact); what
 * lies between is dropped and counted. When the command exits, times out or is stopped, every process
 * it started is ended, however detached. On abort of `ctx.signal` the signal's reason is thrown; a
 * non-zero exit throws a StepError unless `step.continueOnError`. `network: false` runs it without
 * network (true by default). The command's environment is the server's with `ctx.env` (the values of
 * its `${{ … }}` expressions) and the markers of sandbox.ts.
 */
export async function runCommand(ctx: StepContext, command: string, options: { network?: boolean } = {}): Promise<StepResult> {
  const { step, settings, signal, workspace } = ctx;
  signal.throwIfAborted();
  await mkdir(workspace.root, { recursive: true });
  const network = options.network ?? true;
  const launch = await settings.commands.prepare({ command, cwd: workspace.root, env: { ...process.env, ...ctx.env }, runId: ctx.runId, network });
  // The values of ${{ }} expressions are shown where they go (here and in how it ended); what runs takes them from the environment.
  const shown = displayCommand(command, ctx.env);
  ctx.emit('SHELL_EXECUTING', `Running: ${shown}`, { command, sandboxed: launch.sandboxed, network });

  const startedAt = Date.now();
  const captured = { stdout: new CapturedStream(), stderr: new CapturedStream() };
  const combined = new OutputTail(FAILURE_TAIL_BYTES);
  const live = {
    stdout: new Coalescer((text) => ctx.emit('SHELL_OUTPUT', text, { stream: 'stdout', text }), settings),
    stderr: new Coalescer((text) => ctx.emit('SHELL_OUTPUT', text, { stream: 'stderr', text }), settings),
  };
  /** A note in the stream, as an event of its own (after what was waiting) with `data` saying what it is. */
  const note = (name: OutputStream, text: string, data: Record<string, unknown>) => {
    live[name].flush();
    ctx.emit('SHELL_OUTPUT', text, { stream: name, text, ...data });
  };
  const limit = { headBytes: Math.ceil(settings.outputCapBytes / 2), tailBytes: Math.floor(settings.outputCapBytes / 2), tailBytesPerSecond: TAIL_BYTES_PER_SECOND };

  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  const running = spawnCommand({
    argv: launch.argv,
    cwd: workspace.root,
    env: launch.env,
    outputLimit: limit,
    onOutput(name, chunk) {
      captured[name].head.push(chunk);
      combined.push(chunk);
      live[name].push(decoders[name].write(chunk));
    },
    onOverflow(name) {
      live[name].push(decoders[name].end());
      note(name, `\n[… ${name} goes on past ${formatBytes(limit.headBytes)}: the rest is held back, its last ${formatBytes(limit.tailBytes)} follow when the command ends …]\n`, { heldBack: true });
    },
    onTail(name, tail, droppedBytes) {
      const kept = skipPartialCharacter(tail);
      const dropped = droppedBytes + (tail.length - kept.length);
      captured[name].tail = kept;
      captured[name].droppedBytes = dropped;
      combined.push(kept);
      note(name, `${droppedNote(dropped, name)}${kept.toString('utf8')}`, { droppedBytes: dropped });
    },
  });
  const pid = running.pid.then((pid) => {
    if (pid !== undefined) trackProcessGroup(pid);
    return pid;
  });
  let ended: Promise<void> | undefined;
  const end = (): Promise<void> =>
    (ended ??= pid.then((pid) => (pid === undefined ? undefined : endCommandProcesses({ pid, commandId: launch.commandId, containment: launch.containment }, settings.killGraceMs))));
  signal.addEventListener('abort', end, { once: true });
  if (signal.aborted) void end();
  // Without a PID namespace, children the shell left running (in the background, detached) would
  // hold the output pipes open, so the step would hang until its timeout, or outlive it: when the
  // shell exits, they go with it. In a namespace, the kernel ended them all before the wrapper exited.
  if (launch.containment === 'process-group') void running.exited.then(end);

  // Rejects when the helper that spawned the command died: the command may run on, and is ended below.
  const result = await running.finished.catch((error: Error) => error);
  signal.removeEventListener('abort', end);
  live.stdout.push(decoders.stdout.end());
  live.stderr.push(decoders.stderr.end());
  live.stdout.close();
  live.stderr.close();
  if (launch.containment === 'process-group' || signal.aborted || result instanceof Error) await end();
  else void pid.then((pid) => pid !== undefined && untrackProcessGroup(pid));
  if (signal.aborted) throw signal.reason;
  if (result instanceof Error) throw new StepError(`Command "${shown}" failed: ${result.message}`, { data: { command } });
  if ('notStarted' in result) throw new StepError(`Could not start "${shown}": ${result.notStarted}`, { retryable: false, data: { command } });

  const exitCode = result.exitCode;
  const killedBy = result.signal ?? undefined;
  const stdout = captured.stdout.text();
  const stderr = captured.stderr.text();
  const dropped = { stdout: captured.stdout.droppedBytes, stderr: captured.stderr.droppedBytes };
  const truncated = dropped.stdout > 0 || dropped.stderr > 0;
  const data: Record<string, unknown> = {
    exitCode,
    command,
    durationMs: Date.now() - startedAt,
    sandboxed: launch.sandboxed,
    ...(truncated ? { truncated: true, droppedBytes: dropped } : {}),
  };
  if (killedBy !== undefined) data.signal = killedBy;
  if (step.saveArtifact) {
    const artifactPath = `${step.name}_output.txt`;
    await workspace.writeFile(artifactPath, formatCommandOutput(command, exitCode, killedBy, stdout, stderr));
    await ctx.recordArtifact(artifactPath, 'COMMAND_OUTPUT');
  }

  const outcome = killedBy !== undefined ? `was killed by ${killedBy}` : `exited with code ${exitCode}`;
  if (exitCode !== 0 && !step.continueOnError) {
    const lastLines = lastLinesOf(combined.text(), FAILURE_TAIL_LINES);
    throw new StepError(`Command "${shown}" ${outcome}. Last lines of output:\n${lastLines || '(no output)'}`, { data, output: stdout });
  }
  return { output: stdout, data, summary: `Command "${shown}" ${outcome}` };
}

/** The `<step>_output.txt` artifact, laid out as the Python seed wrote it. */
function formatCommandOutput(command: string, exitCode: number | null, signal: string | undefined, stdout: string, stderr: string): string {
  const returnCode = exitCode ?? `none (killed by ${signal})`;
  return `Command: ${command}\nReturn code: ${returnCode}\n\nSTDOUT:\n${stdout}\n\nSTDERR:\n${stderr}\n`;
}

function lastLinesOf(text: string, count: number): string {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  return lines.slice(-count).join('\n');
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

function droppedNote(droppedBytes: number, name: string): string {
  return droppedBytes > 0 ? `[… ${droppedBytes} bytes of ${name} dropped …]\n` : '';
}

/** The tail of a stream without the continuation bytes of a character whose start was dropped. */
function skipPartialCharacter(tail: Buffer): Buffer {
  let start = 0;
  while (start < tail.length && start < 3 && (tail[start]! & 0xc0) === 0x80) start++;
  return tail.subarray(start);
}

/** One stream of a command as stored: its head, and when it went past that, what was dropped and its tail. */
class CapturedStream {
  readonly head: Buffer[] = [];
  tail: Buffer | undefined;
  droppedBytes = 0;

  /** The kept text, with a note where output was dropped. */
  text(): string {
    const head = Buffer.concat(this.head).toString('utf8');
    if (this.tail === undefined) return head;
    if (this.droppedBytes === 0) return head + this.tail.toString('utf8');
    return `${head}\n${droppedNote(this.droppedBytes, 'output')}${this.tail.toString('utf8')}`;
  }
}

/** Keeps the last `capBytes` bytes of a stream. */
class OutputTail {
  private chunks: Buffer[] = [];
  private keptBytes = 0;

  constructor(private readonly capBytes: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.keptBytes += chunk.length;
    while (this.keptBytes > this.capBytes) {
      const first = this.chunks[0]!;
      const excess = this.keptBytes - this.capBytes;
      if (first.length <= excess) {
        this.chunks.shift();
        this.keptBytes -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.keptBytes -= excess;
      }
    }
  }

  text(): string {
    return skipPartialCharacter(Buffer.concat(this.chunks)).toString('utf8');
  }
}

/** The `network` field of command steps, in their JSON Schema. */
export const NETWORK_PARAMETER = {
  type: 'boolean',
  description: 'Whether the command may use the network (default true). false: a network namespace of its own with only a loopback; it needs the sandbox or a PID namespace, otherwise the step fails.',
} as const;

/** SHELL_COMMAND as a step kind. */
export const shellCommandKind: BuiltInStepKind<'SHELL_COMMAND'> = {
  type: 'SHELL_COMMAND',
  description: 'Runs a shell command (sh -c) in the workspace.',
  parameters: {
    type: 'object',
    required: ['command'],
    properties: {
      command: {
        type: 'string',
        minLength: 1,
        description: 'The command line. ${{ … }} values reach it as environment variables ("$AGENT_RUNNER_EXPR_1"), never spliced in; keep them out of single quotes.',
      },
      network: NETWORK_PARAMETER,
    },
  },
  templateFields: [],
  commandFields: ['command'],
  execute: shellCommand,
  source: null,
};
