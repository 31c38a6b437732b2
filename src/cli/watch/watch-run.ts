/**
 * `agent-runner watch RUN` (and `run --watch`, `retry --watch`): follows a run's events to its end
 * and shows them — in place in a terminal, as plain lines in a pipe, as NDJSON with --json — then
 * the summary; returns the exit code for the run's outcome. Ctrl-C detaches (or, with
 * --stop-on-exit, stops the run).
 */
import { CliStopRunDocument } from '../../client/generated/graphql.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../errors.js';
import { fetchRun, type CliFullRun } from '../resolve.js';
import { followRunEvents } from './follow.js';
import { eventLine, outcome, outputLine, stepColumnWidth, summaryLines } from './plain.js';
import { applyEvent, createRunView, settleRunView, type OutputLine, type RunView } from './run-view.js';
import { TtyWatchRenderer } from './tty.js';
import type { CliEventFragment } from '../../client/generated/graphql.js';

export interface WatchOptions {
  /** --stream: the model's text and the commands' output in full, as they arrive. */
  stream?: boolean;
  /** --lines: how many of the running step's last output lines a terminal shows (5). */
  lines?: number;
  /** --stop-on-exit: Ctrl-C stops the run instead of leaving it running. */
  stopOnExit?: boolean;
  /** --reasoning: a model's reasoning (LLM_THINKING) is shown with its output (default: only noted). */
  reasoning?: boolean;
}

/** Where a watched run is shown: a terminal, plain lines, or NDJSON. */
interface WatchOutput {
  event(event: CliEventFragment, lines: OutputLine[]): void;
  /** The connection dropped (a reason) or came back (null). */
  connection(problem: string | null): void;
  /** The run ended (or the watch detached: `ended` false). */
  end(view: RunView, run: CliFullRun | null, exitCode: number): void;
}

function ttyOutput(ctx: CliContext, view: RunView, options: WatchOptions): WatchOutput {
  const footer = options.stopOnExit ? 'Ctrl-C stops the run.' : `Ctrl-C detaches; the run goes on (agent-runner watch ${view.id} to come back).`;
  const renderer = new TtyWatchRenderer(ctx.io.stdout, view, { colors: ctx.color, streamText: options.stream === true, footer });
  const width = () => stepColumnWidth(view);
  renderer.start();
  return {
    event(_event, lines) {
      if (options.stream) renderer.print(lines.map((line) => outputLine(line, width())));
    },
    connection(problem) {
      renderer.setNotice(problem);
    },
    end(endView, run) {
      renderer.finish(run ? summaryLines(endView) : []);
    },
  };
}

function plainOutput(ctx: CliContext, view: RunView, options: WatchOptions): WatchOutput {
  return {
    event(event, lines) {
      const width = stepColumnWidth(view);
      // An agent's command output is what it acts on: printed even without --stream (its model's text is not).
      const shown = options.stream ? lines : lines.filter((line) => (line.stream === 'stdout' || line.stream === 'stderr') && view.steps.find((s) => s.name === line.step)?.agent);
      for (const line of shown) ctx.out(outputLine(line, width));
      const line = eventLine(event, width, { outputNotShown: !options.stream });
      if (line !== null) ctx.out(line);
    },
    connection(problem) {
      ctx.note(problem ?? `agent-runner: reconnected; resuming after seq ${view.lastSeq}.`);
    },
    end(endView, run) {
      if (run) for (const line of summaryLines(endView)) ctx.out(line);
    },
  };
}

function jsonOutput(ctx: CliContext): WatchOutput {
  return {
    event(event) {
      ctx.printJsonLine({ event });
    },
    connection(problem) {
      ctx.note(problem ?? 'agent-runner: reconnected.');
    },
    end(_view, run, exitCode) {
      if (run) ctx.printJsonLine({ run, exitCode });
    },
  };
}

/** Follows run `runId` to its end (or Ctrl-C) and returns the exit code (see EXIT). */
export async function watchRun(ctx: CliContext, runId: string, options: WatchOptions = {}): Promise<number> {
  const initial = await fetchRun(ctx, runId);
  const view = createRunView(initial, options.lines ?? 5, { reasoning: options.reasoning === true });
  const output = ctx.json ? jsonOutput(ctx) : ctx.tty ? ttyOutput(ctx, view, options) : plainOutput(ctx, view, options);

  const detach = new AbortController();
  const stopListening = ctx.io.onInterrupt(() => detach.abort());
  let dropped = false;
  const stopConnected = ctx.onConnected(() => {
    if (!dropped) return;
    dropped = false;
    output.connection(null);
  });
  try {
    const events = followRunEvents(ctx.client, runId, 0, {
      signal: detach.signal,
      onDrop: (error, attempt, lastSeq) => {
        dropped = true;
        output.connection(`agent-runner: ${error.message}; reconnecting (attempt ${attempt}), resuming after seq ${lastSeq}…`);
      },
    });
    for await (const event of events) output.event(event, applyEvent(view, event));
  } catch (error) {
    output.end(view, null, EXIT.ERROR);
    throw error;
  } finally {
    stopListening();
    stopConnected();
  }

  if (detach.signal.aborted) {
    output.end(view, null, EXIT.DETACHED);
    if (options.stopOnExit) {
      const { stopRun } = await ctx.client.request(CliStopRunDocument, { id: runId });
      ctx.note(`Stopped run ${runId} (${stopRun.status}).`);
      return EXIT.RUN_STOPPED;
    }
    ctx.note(`Detached from run ${runId}; it goes on. Reattach with: agent-runner watch ${runId}`);
    return EXIT.DETACHED;
  }

  const final = await fetchRun(ctx, runId);
  settleRunView(view, final);
  const { exitCode } = outcome(view);
  output.end(view, final, exitCode);
  return exitCode;
}
