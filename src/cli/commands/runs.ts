/** `agent-runner runs list`: recent runs, newest first. */
import { CliRunsDocument, type CliRunFragment } from '../../client/generated/graphql.js';
import { defineAction, examples, wholeNumber, type CommandModule } from '../command.js';
import { elapsed, formatDateTime, table } from '../format.js';
import { parseRunStatus, resolveProject, RUN_STATUSES } from '../resolve.js';

/**
 * The step a run is at, counted among the workflow's own steps (a loop's steps are inside their
 * loop, as `watch` numbers them): `2/3 coder`, a loop's step as `3/3 repair › fixer #2`. A completed
 * run is `3/3` (a step that failed with continueOnError did not stop it); a failed or stopped one is
 * at its last failed or stopped step; otherwise the running step, else the first that did not complete.
 */
export function currentStep(run: Pick<CliRunFragment, 'status' | 'steps'>): string {
  const top = run.steps.filter((s) => !s.loop);
  if (run.status === 'COMPLETED') return `${top.length}/${top.length}`;
  const at = (step: CliRunFragment['steps'][number]): string => {
    const name = step.loop ?? step.name;
    const inner = step.loop ? ` › ${step.name}${step.iteration ? ` #${step.iteration}` : ''}` : '';
    return `${top.findIndex((s) => s.name === name) + 1}/${top.length} ${name}${inner}`;
  };
  const running = run.steps.filter((s) => s.status === 'RUNNING');
  // Inside a running loop, the loop's step that runs says more than the loop.
  const step =
    running.find((s) => s.loop) ??
    running[0] ??
    top.findLast((s) => s.status === 'FAILED') ??
    top.findLast((s) => s.status === 'STOPPED') ??
    top.find((s) => s.status !== 'COMPLETED');
  return step ? at(step) : '';
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
          list.map((r) => [r.id, r.status, r.workflowName ?? (r.runType === 'AGENT' ? 'agent' : ''), r.project.name, currentStep(r), formatDateTime(r.createdAt), elapsed(r.startedAt, r.finishedAt)]),
        ))
          ctx.out(line);
      }),
    );
};
