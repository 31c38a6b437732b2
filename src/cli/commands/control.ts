/** `agent-runner stop|pause|resume|retry RUN`: run control. */
import { CliPauseRunDocument, CliResumeRunDocument, CliRetryRunDocument, CliStopRunDocument, type CliRunFragment } from '../../client/generated/graphql.js';
import { GraphQLRequestError } from '../../client/client.js';
import { defineAction, examples, type CommandModule } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { parseRunId } from '../resolve.js';
import { watchRun } from '../watch/watch-run.js';
import { addWatchOptions, WATCH_EXIT_CODES, watchOptions } from './watch-options.js';

function report(ctx: CliContext, run: CliRunFragment, line: string): void {
  if (ctx.json) ctx.printJson(run);
  else ctx.out(line);
}

/** The API's argument names in its messages, as the command's options. */
const OPTION_NAMES: Array<[RegExp, string]> = [
  [/Argument "fromStep"/g, '--from'],
  [/Argument "workflowVersion"/g, '--workflow-version'],
];

/**
 * Runs a control mutation on run `runId`, speaking the command's language in a refusal: an unknown
 * run as `watch` and `logs` say it (with the command that lists runs, not the GraphQL query), and
 * an argument by its option's name.
 */
async function control<T>(ctx: CliContext, runId: string, mutate: () => Promise<T>): Promise<T> {
  try {
    return await mutate();
  } catch (error) {
    if (!(error instanceof GraphQLRequestError)) throw error;
    if (error.code === 'NOT_FOUND' && /^No run has id /.test(error.errors[0]?.message ?? '')) {
      throw new CliError(`Run ${runId} does not exist on ${ctx.config.url}. See the runs there with: agent-runner runs list`, 'NOT_FOUND');
    }
    if (error.code !== 'BAD_USER_INPUT') throw error;
    const message = error.errors.map((e) => OPTION_NAMES.reduce((text, [pattern, option]) => text.replace(pattern, option), e.message)).join('\n');
    throw new CliError(message, 'BAD_USER_INPUT');
  }
}

/** stop, pause and resume: a mutation on one run, and what to say about the run it returns. */
const CONTROLS: Array<{
  name: string;
  description: string;
  mutate: (ctx: CliContext, id: string) => Promise<CliRunFragment>;
  says: (run: CliRunFragment) => string;
}> = [
  {
    name: 'stop',
    description: "stop a run at once: the model's stream is closed and commands are killed; later steps never start",
    mutate: async (ctx, id) => (await ctx.client.request(CliStopRunDocument, { id })).stopRun,
    says: (run) => `Run ${run.id} is ${run.status}. Go on later with: agent-runner retry ${run.id}`,
  },
  {
    name: 'pause',
    description: 'pause a running run when its running step finishes; it then waits, holding no worker slot',
    mutate: async (ctx, id) => (await ctx.client.request(CliPauseRunDocument, { id })).pauseRun,
    says: (run) => {
      const running = run.steps.find((s) => s.status === 'RUNNING');
      const when = run.status === 'PAUSED' ? 'is PAUSED' : `pauses when ${running ? `its running step (${running.name})` : 'its running step'} finishes`;
      return `Run ${run.id} ${when}. Resume it with: agent-runner resume ${run.id}`;
    },
  },
  {
    name: 'resume',
    description: 'resume a paused run (or cancel a pause not yet taken)',
    mutate: async (ctx, id) => (await ctx.client.request(CliResumeRunDocument, { id })).resumeRun,
    says: (run) => `Run ${run.id} is ${run.status}: it goes on with its next step. Follow it with: agent-runner watch ${run.id}`,
  },
];

export const registerControl: CommandModule = (program, host) => {
  for (const command of CONTROLS) {
    program
      .command(command.name)
      .description(command.description)
      .argument('<run>', 'the run id')
      .addHelpText('after', examples(`agent-runner ${command.name} 12`, `agent-runner ${command.name} 12 --json`))
      .action(
        defineAction(host, async (ctx, _options, id: string) => {
          const runId = parseRunId(id);
          const run = await control(ctx, runId, () => command.mutate(ctx, runId));
          report(ctx, run, command.says(run));
        }),
      );
  }

  const retry = program
    .command('retry')
    .description('run a failed or stopped run again, from a step (default: the first step that did not complete); earlier steps are kept')
    .argument('<run>', 'the run id')
    .option('--from <step>', 'the step to go again from, such as coder')
    .option('--workflow-version <version>', 'go on with this registered version of its workflow (its earlier steps must match)')
    .option('-w, --watch', 'follow the run live until it ends; the exit code says how it ended');
  addWatchOptions(retry)
    .addHelpText('after', examples('agent-runner retry 12', 'agent-runner retry 12 --from coder --watch', 'agent-runner retry 12 --from tests --workflow-version 1.1.0') + WATCH_EXIT_CODES)
    .action(
      defineAction(host, async (ctx, options: { from?: string; workflowVersion?: string; watch?: boolean } & Parameters<typeof watchOptions>[0], id: string) => {
        const runId = parseRunId(id);
        const { retryRun: run } = await control(ctx, runId, () =>
          ctx.client.request(CliRetryRunDocument, { id: runId, fromStep: options.from ?? null, workflowVersion: options.workflowVersion ?? null }),
        );
        const from = run.steps.find((s) => s.status === 'PENDING');
        if (!options.watch) return report(ctx, run, `Run ${run.id} is ${run.status} again${from ? ` from step ${from.name}` : ''}. Follow it with: agent-runner watch ${run.id}`);
        if (ctx.json) ctx.printJsonLine({ run });
        else ctx.out(`Run ${run.id} is ${run.status} again${from ? ` from step ${from.name}` : ''}.`);
        return watchRun(ctx, run.id, watchOptions(options));
      }),
    );
};
