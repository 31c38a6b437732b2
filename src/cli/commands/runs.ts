/** `agent-runner runs list`: recent runs, newest first. */
import { CliRunsDocument, type CliRunFragment } from '../../client/generated/graphql.js';
import { defineAction, examples, wholeNumber, type CommandModule } from '../command.js';
import { elapsed, formatDateTime, table } from '../format.js';
import { parseRunStatus, resolveProject, RUN_STATUSES } from '../resolve.js';

/** The step a run is at: the running one, else the failed or stopped one, else the next pending one. */
function currentStep(run: CliRunFragment): string {
  const pick = (status: string) => run.steps.find((s) => s.status === status);
  const step = pick('RUNNING') ?? pick('FAILED') ?? pick('STOPPED') ?? (run.status === 'COMPLETED' ? undefined : pick('PENDING'));
  return step ? `${step.index + 1}/${run.steps.length} ${step.name}` : run.status === 'COMPLETED' ? `${run.steps.length}/${run.steps.length}` : '';
}

export const registerRuns: CommandModule = (program, host) => {
  const runs = program.command('runs').description('the runs on the server').addHelpText('after', examples('agent-runner runs list --status running'));

  runs
    .command('list')
    .description('list runs, newest first')
    .option('-s, --status <status>', `only runs in this status (${RUN_STATUSES.join(', ').toLowerCase()})`, parseRunStatus)
    .option('-p, --project <name-or-id>', "only this project's runs")
    .option('-n, --limit <n>', 'at most this many runs', wholeNumber('--limit', 1, 500), 20)
    .addHelpText('after', examples('agent-runner runs list', 'agent-runner runs list --status failed --project demo', 'agent-runner runs list --limit 5 --json'))
    .action(
      defineAction(host, async (ctx, options: { status?: ReturnType<typeof parseRunStatus>; project?: string; limit: number }) => {
        const projectId = options.project ? (await resolveProject(ctx, options.project)).id : null;
        const { runs: list } = await ctx.client.request(CliRunsDocument, { projectId, status: options.status ?? null, first: options.limit });
        if (ctx.json) return ctx.printJson(list);
        if (list.length === 0) return ctx.out('No runs match. Start one with: agent-runner run WORKFLOW --project P --goal "…"');
        for (const line of table(
          ['ID', 'STATUS', 'WORKFLOW', 'PROJECT', 'STEP', 'CREATED', 'TIME'],
          list.map((r) => [r.id, r.status, r.workflowName ?? '', r.project.name, currentStep(r), formatDateTime(r.createdAt), elapsed(r.startedAt, r.finishedAt)]),
        ))
          ctx.out(line);
      }),
    );
};
