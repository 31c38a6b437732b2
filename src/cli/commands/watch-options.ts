/** The options of every command that can follow a run live: watch, run --watch, retry --watch. */
import type { Command } from 'commander';
import { wholeNumber } from '../command.js';
import type { WatchOptions } from '../watch/watch-run.js';

export function addWatchOptions(command: Command): Command {
  return command
    .option('--stream', "print the model's text and the commands' output in full as they arrive (default: a terminal shows the running step's last lines in place)")
    .option('--lines <n>', "how many of the running step's last output lines a terminal shows (0 hides them)", wholeNumber('--lines', 0, 100), 5)
    .option('--reasoning', "also show a model's reasoning (its thinking) with its output (default: only noted)")
    .option('--stop-on-exit', 'Ctrl-C stops the run instead of detaching from it');
}

/** The watch options as given on the command line. */
export function watchOptions(options: { stream?: boolean; lines?: number; stopOnExit?: boolean; reasoning?: boolean }): WatchOptions {
  return { stream: options.stream === true, lines: options.lines ?? 5, stopOnExit: options.stopOnExit === true, reasoning: options.reasoning === true };
}

/** Exit codes, for the help of commands that watch. */
export const WATCH_EXIT_CODES = `
Exit codes when watching: 0 the run completed, 1 it failed, 2 it was stopped, 3 the command could not
do its work (server unreachable, token, unknown name, bad input), 130 detached with Ctrl-C.
`;
