/** `agent-runner run WORKFLOW --project P --goal G`: starts a run (and follows it with --watch). */
import { CliCreateRunDocument, type CreateRunInput } from '../../client/generated/graphql.js';
import { defineAction, examples, wholeNumber, type CommandModule } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { collect, findProject, listProjects, modelProblems, parsePairs, typedInputs, workflowForRun } from '../resolve.js';
import { watchRun } from '../watch/watch-run.js';
import { addWatchOptions, WATCH_EXIT_CODES, watchOptions } from './watch-options.js';

interface RunOptions {
  project?: string;
  goal?: string;
  input?: string[];
  model?: string[];
  timeout?: number;
  workflowVersion?: string;
  name?: string;
  watch?: boolean;
  stream?: boolean;
  lines?: number;
  stopOnExit?: boolean;
}

/** Checks everything at once and returns the run to create, or throws every problem found. */
async function checkedInput(ctx: CliContext, workflowName: string, options: RunOptions): Promise<{ input: CreateRunInput; projectName: string }> {
  const problems: string[] = [];
  const goal = options.goal?.trim() ?? '';
  if (goal === '') problems.push('--goal is required: what the run should achieve, such as --goal "Generate a Quarkus GraphQL service".');
  if (!options.project) problems.push('--project is required: the name or id of the project the run works in (agent-runner projects list).');
  const inputs = parsePairs('--input', options.input ?? [], { shape: 'KEY=VALUE', example: 'name=greeting' });
  const models = parsePairs('--model', options.model ?? [], { shape: 'STEP=MODEL', example: 'coder=llama2:latest' });
  problems.push(...inputs.problems, ...models.problems);

  const [projects, workflow] = await Promise.all([listProjects(ctx), workflowForRun(ctx, workflowName, options.workflowVersion)]);
  const project = options.project ? findProject(projects, options.project) : null;
  if (project && 'problem' in project) problems.push(project.problem);
  let inputValues: Record<string, unknown> = {};
  if ('problem' in workflow) {
    problems.push(workflow.problem);
  } else {
    const typed = typedInputs(workflow, inputs.pairs);
    inputValues = typed.values;
    problems.push(...typed.problems);
    problems.push(...modelProblems(workflow, models.pairs));
  }
  if (problems.length > 0 || !project || 'problem' in project) {
    throw new CliError(`Cannot start the run:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }

  const input: CreateRunInput = {
    projectId: project.id,
    goal,
    ...(options.name ? { name: options.name } : {}),
    options: {
      workflowName,
      ...(options.workflowVersion !== undefined ? { workflowVersion: options.workflowVersion } : {}),
      ...(models.pairs.length > 0 ? { models: models.pairs.map(([step, model]) => ({ step, model })) } : {}),
      ...(options.timeout !== undefined ? { timeoutSeconds: options.timeout } : {}),
    },
    ...(inputs.pairs.length > 0 ? { inputs: inputValues } : {}),
  };
  return { input, projectName: project.name };
}

export const registerRun: CommandModule = (program, host) => {
  const command = program
    .command('run')
    .description('start a run of a workflow in a project; --watch follows it to its end')
    .argument('<workflow>', 'the workflow to run (agent-runner workflows list)')
    .option('-p, --project <name-or-id>', 'the project the run works in (required)')
    .option('-g, --goal <text>', 'what the run should achieve (required)')
    .option('-i, --input <key=value>', 'a workflow input (repeatable; agent-runner workflows show WORKFLOW lists them)', collect, [])
    .option('-m, --model <step=model>', 'the Ollama model for one step that calls a model (LLM or agent, inside a loop too) of this run (repeatable; agent-runner workflows show lists them)', collect, [])
    .option('--timeout <seconds>', 'LLM step timeout for this run', wholeNumber('--timeout', 1, 86_400))
    .option('--workflow-version <version>', "a registered version of the workflow (default: its latest)")
    .option('--name <label>', 'a label for the run')
    .option('-w, --watch', 'follow the run live until it ends; the exit code says how it ended');
  addWatchOptions(command)
    .addHelpText(
      'after',
      examples(
        'agent-runner run quarkus-bootstrap-v1 --project demo --goal "Quarkus GraphQL service with OpenTelemetry" --watch',
        'agent-runner run quarkus-bootstrap-v1 -p demo -g "Hello service" --model planner=llama2:latest --model coder=codellama:latest',
        'agent-runner run my-flow -p demo -g "Billing service" --input service=billing --input retries=3 --workflow-version 1.1.0',
        'agent-runner run quarkus-bootstrap-v1 -p 1 -g "Hello service" --json',
      ) + WATCH_EXIT_CODES,
    )
    .action(
      defineAction(host, async (ctx, options: RunOptions, workflowName: string) => {
        const { input, projectName } = await checkedInput(ctx, workflowName, options);
        const { createRun: run } = await ctx.client.request(CliCreateRunDocument, { input });
        if (ctx.json) {
          if (!options.watch) return ctx.printJson(run);
          ctx.printJsonLine({ run });
        } else {
          ctx.out(`Run ${run.id} queued: ${run.workflowName} v${run.workflowVersion} in project ${projectName}.`);
          const given = Object.entries((run.inputs ?? {}) as Record<string, unknown>);
          if (given.length > 0) ctx.out(`Inputs: ${given.map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`).join(', ')}`);
          if (run.models.length > 0) {
            const source = { RUN_OPTIONS: 'from --model', ENVIRONMENT: "the server's OLLAMA_<STEP>_MODEL", WORKFLOW_DEFAULT: 'workflow default' } as const;
            ctx.out(`Models: ${run.models.map((m) => `${m.step} ${m.model} (${source[m.source]})`).join(', ')}`);
          }
          if (!options.watch) ctx.out(`Follow it with: agent-runner watch ${run.id}`);
        }
        if (options.watch) return watchRun(ctx, run.id, watchOptions(options));
      }),
    );
};
