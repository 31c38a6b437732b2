/**
 * `agent-runner logs RUN`: a run's log as plain lines — its events, and the model's text and the
 * commands' output as `step | line` — or NDJSON with --json; --follow keeps printing until it ends.
 */
import { CliEventsDocument, type CliEventFragment } from '../../client/generated/graphql.js';
import { defineAction, examples, type CommandModule } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { fetchRun, parseRunId } from '../resolve.js';
import { followRunEvents } from '../watch/follow.js';
import { eventLine, outputLine, stepColumnWidth } from '../watch/plain.js';
import { applyEvent, createRunView, type OutputLine } from '../watch/run-view.js';

/** Events per page when reading a log that is not followed. */
const PAGE = 1000;

async function* storedEvents(ctx: CliContext, runId: string): AsyncGenerator<CliEventFragment> {
  for (let after = 0; ; ) {
    const { events } = await ctx.client.request(CliEventsDocument, { runId, after, first: PAGE });
    yield* events;
    if (events.length < PAGE) return;
    after = events[events.length - 1].seq;
  }
}

export const registerLogs: CommandModule = (program, host) => {
  program
    .command('logs')
    .description("print a run's log: its events, the model's text and the commands' output")
    .argument('<run>', 'the run id')
    .option('-f, --follow', 'keep printing as the run goes on, until it ends')
    .option('--step <name>', "only this step's events and output")
    .option('--reasoning', "also print a model's reasoning (its thinking), as `step ~ line`")
    .addHelpText('after', examples('agent-runner logs 12', 'agent-runner logs 12 --step maven_test', 'agent-runner logs 12 --follow', 'agent-runner logs 12 --json | jq -r .event.message'))
    .action(
      defineAction(host, async (ctx, options: { follow?: boolean; step?: string; reasoning?: boolean }, id: string) => {
        const runId = parseRunId(id);
        const run = await fetchRun(ctx, runId);
        const view = createRunView(run, 1, { reasoning: options.reasoning === true });
        if (options.step !== undefined && !run.steps.some((s) => s.name === options.step)) {
          throw new CliError(`Run ${runId} has no step "${options.step}". Its steps: ${[...new Set(run.steps.map((s) => s.name))].join(', ')}.`, 'NOT_FOUND');
        }
        const width = options.step?.length ?? stepColumnWidth(view);
        const wanted = (step: string | null | undefined) => options.step === undefined || step === options.step;
        const printLines = (lines: OutputLine[]) => {
          for (const line of lines) if (wanted(line.step)) ctx.out(outputLine(line, width));
        };

        const detach = new AbortController();
        const stopListening = ctx.io.onInterrupt(() => detach.abort());
        try {
          const events = options.follow
            ? followRunEvents(ctx.client, runId, 0, {
                signal: detach.signal,
                onDrop: (error, attempt, lastSeq) => ctx.note(`agent-runner: ${error.message}; reconnecting (attempt ${attempt}), resuming after seq ${lastSeq}…`),
              })
            : storedEvents(ctx, runId);
          for await (const event of events) {
            const lines = applyEvent(view, event);
            if (ctx.json) {
              if (wanted(event.stepName)) ctx.printJsonLine({ event });
              continue;
            }
            printLines(lines);
            const line = wanted(event.stepName) ? eventLine(event, width) : null;
            if (line !== null) ctx.out(line);
          }
        } finally {
          stopListening();
        }
        // The line a running step is still writing.
        if (!ctx.json) for (const step of view.steps) if (step.partial) printLines([{ step: step.name, stream: step.partialStream, text: step.partial }]);
        return detach.signal.aborted ? EXIT.DETACHED : EXIT.OK;
      }),
    );
};
