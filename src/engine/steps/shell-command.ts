import type { BuiltInStepKind } from './registry.js';
import { mkdir } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { Coalescer } from '../coalesce.js';
import { displayCommand } from '../expressions.js';
import { killProcessGroup, trackProcessGroup, RUN_ID_VARIABLE } from '../processes.js';
import { spawnCommand } from '../spawner/spawner.js';
import { StepError, type ShellCommandStep, type StepContext, type StepExecutor, type StepResult } from '../types.js';

/** SHELL_COMMAND: runs `step.command` with `sh -c` in the workspace. */
export const shellCommand: StepExecutor<ShellCommandStep> = async (ctx) => {
  if (!ctx.step.command?.trim()) throw new StepError(`Step "${ctx.step.name}" has no command to run`, { retryable: false });
  return runCommand(asStep(ctx), ctx.step.command);
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
 * Runs `command` with `sh -c` in the workspace, in a process group of its own, streaming its output
 * as SHELL_OUTPUT events. On abort of `ctx.signal` the whole group is killed and the signal's reason
 * is thrown; a non-zero exit throws a StepError unless `step.continueOnError`.
 */
export async function runCommand(ctx: StepContext, command: string): Promise<StepResult> {
  const { step, settings, signal, workspace } = ctx;
  signal.throwIfAborted();
  await mkdir(workspace.root, { recursive: true });
  // The values of ${{ }} expressions are shown where they go; what runs takes them from the environment.
  ctx.emit('SHELL_EXECUTING', `Running: ${displayCommand(command, ctx.env)}`, { command });

  const startedAt = Date.now();
  const captured = { stdout: new OutputTail(settings.outputCapBytes), stderr: new OutputTail(settings.outputCapBytes) };
  const combined = new OutputTail(FAILURE_TAIL_BYTES);
  const live = {
    stdout: new Coalescer((text) => ctx.emit('SHELL_OUTPUT', text, { stream: 'stdout', text }), settings),
    stderr: new Coalescer((text) => ctx.emit('SHELL_OUTPUT', text, { stream: 'stderr', text }), settings),
  };

  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  const running = spawnCommand({
    command,
    cwd: workspace.root,
    // Marks every process of the command (children inherit it) so crash recovery can find them.
    env: { ...process.env, ...ctx.env, [RUN_ID_VARIABLE]: String(ctx.runId) },
    onOutput(name, chunk) {
      captured[name].push(chunk);
      combined.push(chunk);
      live[name].push(decoders[name].write(chunk));
    },
  });
  const pid = running.pid.then((pid) => {
    if (pid !== undefined) trackProcessGroup(pid);
    return pid;
  });
  let groupKilled: Promise<void> | undefined;
  const killGroup = (): Promise<void> => (groupKilled ??= pid.then((pid) => (pid === undefined ? undefined : killProcessGroup(pid, settings.killGraceMs))));
  signal.addEventListener('abort', killGroup, { once: true });
  if (signal.aborted) void killGroup();
  // Children the shell left running in the background would hold the output pipes open, so the
  // step would hang until its timeout: when the shell exits, its group goes with it.
  void running.exited.then(killGroup);

  // Rejects when the helper that spawned the command died: the command may run on, and is killed below.
  const result = await running.finished.catch((error: Error) => error);
  signal.removeEventListener('abort', killGroup);
  live.stdout.push(decoders.stdout.end());
  live.stderr.push(decoders.stderr.end());
  live.stdout.close();
  live.stderr.close();
  await killGroup();
  if (signal.aborted) throw signal.reason;
  if (result instanceof Error) throw new StepError(`Command "${command}" failed: ${result.message}`, { data: { command } });
  if ('notStarted' in result) throw new StepError(`Could not start "${command}": ${result.notStarted}`, { retryable: false, data: { command } });

  const exitCode = result.exitCode;
  const killedBy = result.signal ?? undefined;
  const stdout = captured.stdout.text();
  const stderr = captured.stderr.text();
  const truncated = captured.stdout.droppedBytes > 0 || captured.stderr.droppedBytes > 0;
  const data: Record<string, unknown> = { exitCode, command, durationMs: Date.now() - startedAt, ...(truncated ? { truncated: true } : {}) };
  if (killedBy !== undefined) data.signal = killedBy;

  if (step.saveArtifact) {
    const artifactPath = `${step.name}_output.txt`;
    await workspace.writeFile(artifactPath, formatCommandOutput(command, exitCode, killedBy, stdout, stderr));
    await ctx.recordArtifact(artifactPath, 'COMMAND_OUTPUT');
  }

  const outcome = killedBy !== undefined ? `was killed by ${killedBy}` : `exited with code ${exitCode}`;
  if (exitCode !== 0 && !step.continueOnError) {
    const lastLines = lastLinesOf(combined.text(), FAILURE_TAIL_LINES);
    throw new StepError(`Command "${command}" ${outcome}. Last lines of output:\n${lastLines || '(no output)'}`, { data, output: stdout });
  }
  return { output: stdout, data, summary: `Command "${command}" ${outcome}` };
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

/** Keeps the last `capBytes` bytes of a stream and counts what it dropped. */
class OutputTail {
  private chunks: Buffer[] = [];
  private keptBytes = 0;
  droppedBytes = 0;

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
        this.droppedBytes += first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.keptBytes -= excess;
        this.droppedBytes += excess;
      }
    }
  }

  /** The kept text, headed by a note when earlier output was dropped. */
  text(): string {
    let kept = Buffer.concat(this.chunks);
    let dropped = this.droppedBytes;
    // Do not start in the middle of a UTF-8 character.
    while (dropped > 0 && kept.length > 0 && (kept[0]! & 0xc0) === 0x80) {
      kept = kept.subarray(1);
      dropped += 1;
    }
    const body = kept.toString('utf8');
    return dropped > 0 ? `[… ${dropped} bytes of earlier output dropped …]\n${body}` : body;
  }
}

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
    },
  },
  templateFields: [],
  commandFields: ['command'],
  execute: shellCommand,
  source: null,
};
