/** `agent-runner watch RUN`: follows a run live until it ends. */
import { defineAction, examples, type CommandModule } from '../command.js';
import { parseRunId } from '../resolve.js';
import { watchRun } from '../watch/watch-run.js';
import { addWatchOptions, WATCH_EXIT_CODES, watchOptions } from './watch-options.js';

export const registerWatch: CommandModule = (program, host) => {
  const command = program
    .command('watch')
    .description("follow a run live: its steps in place, the running step's output, a summary at the end; exits with the run's outcome")
    .argument('<run>', 'the run id (agent-runner runs list)');
  addWatchOptions(command)
    .addHelpText('after', examples('agent-runner watch 12', 'agent-runner watch 12 --stream', 'agent-runner watch 12 --json | jq -c .event.type') + WATCH_EXIT_CODES)
    .action(defineAction(host, async (ctx, options: Parameters<typeof watchOptions>[0], run: string) => watchRun(ctx, parseRunId(run), watchOptions(options))));
};
