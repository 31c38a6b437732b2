/**
 * `agent-runner agent --project P --goal G`: starts an agent run (runType AGENT: a model works on the
 * goal with tools in the project's folder), with its model and limits (options.models for the step
 * `agent`, options.agent), and follows it with --watch. `agent-runner directive RUN TEXT…` sends
 * the agent of a run a message it reads before its next model call.
 */
import { Option } from 'commander';
import { AGENT_OPTION_RANGES, MAX_DIRECTIVE_BYTES } from '../../engine/agent/settings.js';
import { GraphQLRequestError } from '../../client/client.js';
import { CliCreateRunDocument, CliSendDirectiveDocument, type AgentThink, type CreateRunInput } from '../../client/generated/graphql.js';
import { defineAction, examples, wholeNumber, type CommandModule } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { fetchRun, findProject, listProjects, parseRunId } from '../resolve.js';
import { watchRun } from '../watch/watch-run.js';
import { addWatchOptions, WATCH_EXIT_CODES, watchOptions } from './watch-options.js';

/** The step an AGENT run's model is chosen for (the server's AGENT_STEP_NAME; not imported: that module pulls in the definition parser). */
const AGENT_STEP_NAME = 'agent';

/** `--think` as typed, and what the API calls it (AgentThink). */
const THINK_CHOICES: Record<string, AgentThink> = { on: 'ON', off: 'OFF', low: 'LOW', medium: 'MEDIUM', high: 'HIGH' };

interface AgentCommandOptions {
  project?: string;
  goal?: string;
  model?: string;
  maxIterations?: number;
  timeout?: number;
  tokenBudget?: number;
  numCtx?: number;
  think?: string;
  callTimeout?: number;
  name?: string;
  watch?: boolean;
  stream?: boolean;
  lines?: number;
  stopOnExit?: boolean;
  reasoning?: boolean;
}

const range = (option: string, [min, max]: readonly [number, number]) => wholeNumber(option, min, max);

/** Checks everything at once and returns the run to create, or throws every problem found. */
async function checkedInput(ctx: CliContext, options: AgentCommandOptions): Promise<{ input: CreateRunInput; projectName: string }> {
  const problems: string[] = [];
  const goal = options.goal?.trim() ?? '';
  if (goal === '') problems.push('--goal is required: what the agent should achieve, such as --goal "Add a unit test for greet and make it pass".');
  if (!options.project) problems.push('--project is required: the name or id of the project the agent works in (agent-runner projects list).');
  if (options.model !== undefined && options.model.trim() === '') problems.push('--model is empty: give an Ollama model that supports tools, such as --model qwen3-coder:latest.');
  const project = options.project ? findProject(await listProjects(ctx), options.project) : null;
  if (project && 'problem' in project) problems.push(project.problem);
  if (problems.length > 0 || !project || 'problem' in project) {
    throw new CliError(`Cannot start the agent:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  const agent = {
    ...(options.maxIterations !== undefined ? { maxIterations: options.maxIterations } : {}),
    ...(options.timeout !== undefined ? { timeoutSeconds: options.timeout } : {}),
    ...(options.tokenBudget !== undefined ? { tokenBudget: options.tokenBudget } : {}),
    ...(options.numCtx !== undefined ? { numCtx: options.numCtx } : {}),
    ...(options.think !== undefined ? { think: THINK_CHOICES[options.think]! } : {}),
  };
  const input: CreateRunInput = {
    projectId: project.id,
    goal,
    runType: 'AGENT',
    ...(options.name ? { name: options.name } : {}),
    options: {
      ...(options.model !== undefined ? { models: [{ step: AGENT_STEP_NAME, model: options.model.trim() }] } : {}),
      ...(Object.keys(agent).length > 0 ? { agent } : {}),
      ...(options.callTimeout !== undefined ? { timeoutSeconds: options.callTimeout } : {}),
    },
  };
  return { input, projectName: project.name };
}

/** Bytes of blank space around a directive read beyond the limit before stdin is given up as too large. */
const STDIN_SLACK_BYTES = 4096;

const tooLargeDirective = (what: string) =>
  new CliError(
    `The directive ${what} is larger than ${MAX_DIRECTIVE_BYTES / 1024} KB (${MAX_DIRECTIVE_BYTES} bytes of UTF-8 at most): a directive is a short instruction. Put long material in a file in the project's folder and tell the agent to read it, such as: agent-runner directive RUN "Follow the plan in NOTES.md"`,
  );

/**
 * Reads stdin as UTF-8 text (`directive RUN -`), stopping as soon as it is larger than a directive
 * can be (`cat /dev/urandom |` does not fill the memory). Throws a CliError for too much, or for bytes
 * that are not text (a NUL, or not UTF-8).
 */
async function readDirective(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    chunks.push(bytes);
    size += bytes.length;
    if (size > MAX_DIRECTIVE_BYTES + STDIN_SLACK_BYTES) throw tooLargeDirective('read from stdin');
  }
  const all = Buffer.concat(chunks);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(all);
  } catch {
    text = '\0';
  }
  if (text.includes('\0')) throw new CliError('The directive read from stdin is not text (it has NUL bytes or is not UTF-8): pipe in a message, such as: echo "Use tabs" | agent-runner directive RUN -');
  return text;
}

export const registerAgent: CommandModule = (program, host) => {
  const command = program
    .command('agent')
    .description("start an agent run: a model works on the goal with tools (files, commands) in the project's folder; --watch follows it")
    .option('-p, --project <name-or-id>', 'the project the agent works in (required)')
    .option('-g, --goal <text>', 'what the agent should achieve (required)')
    .option('-m, --model <model>', 'the Ollama model; it must support tools (default: the server\'s OLLAMA_AGENT_MODEL, else qwen3-coder:latest)')
    .option('--max-iterations <n>', 'model calls at most (default: the server\'s AGENT_MAX_ITERATIONS, 40)', range('--max-iterations', AGENT_OPTION_RANGES.maxIterations))
    .option('--timeout <seconds>', 'seconds the whole agent may take (default: AGENT_TIMEOUT_SECONDS, 1800)', range('--timeout', AGENT_OPTION_RANGES.timeoutSeconds))
    .option('--token-budget <n>', 'prompt plus output tokens at most, over all model calls (default: AGENT_TOKEN_BUDGET, 400000)', range('--token-budget', AGENT_OPTION_RANGES.tokenBudget))
    .option('--num-ctx <tokens>', 'the context window asked of Ollama (default: AGENT_NUM_CTX, 32768)', range('--num-ctx', AGENT_OPTION_RANGES.numCtx))
    .addOption(new Option('--think <level>', "whether the model reasons first (default: on when the model can think)").choices(Object.keys(THINK_CHOICES)))
    .option('--call-timeout <seconds>', 'seconds one model call may take (default: OLLAMA_TIMEOUT_SECONDS)', wholeNumber('--call-timeout', 1, 7 * 24 * 3600))
    .option('--name <label>', 'a label for the run')
    .option('-w, --watch', 'follow the run live until it ends; the exit code says how it ended');
  addWatchOptions(command)
    .addHelpText(
      'after',
      examples(
        'agent-runner agent --project demo --goal "Add a unit test for the greet function and make sure it passes" --watch',
        'agent-runner agent -p demo -g "Fix the failing build" --model qwen3:8b --think off --max-iterations 20 --timeout 900 --watch --reasoning',
        'agent-runner agent -p 1 -g "Document the public API in README.md" --json',
        'agent-runner directive 12 "Also cover the empty name"',
      ) + WATCH_EXIT_CODES,
    )
    .action(
      defineAction(host, async (ctx, options: AgentCommandOptions) => {
        const { input, projectName } = await checkedInput(ctx, options);
        const { createRun: run } = await ctx.client.request(CliCreateRunDocument, { input });
        if (ctx.json) {
          if (!options.watch) return ctx.printJson(run);
          ctx.printJsonLine({ run });
        } else {
          const model = run.models[0];
          const source = model ? { RUN_OPTIONS: 'from --model', ENVIRONMENT: "the server's OLLAMA_AGENT_MODEL", WORKFLOW_DEFAULT: 'the default' }[model.source] : '';
          ctx.out(`Run ${run.id} queued: an agent${model ? ` using ${model.model} (${source})` : ''} in project ${projectName}.`);
          ctx.out(`Send it a directive with: agent-runner directive ${run.id} "…"`);
          if (!options.watch) ctx.out(`Follow it with: agent-runner watch ${run.id}`);
        }
        if (options.watch) return watchRun(ctx, run.id, watchOptions(options));
      }),
    );

  program
    .command('directive')
    .description("send a message to a run's agent: it reads it before its next model call (a queued or paused agent, when it goes on)")
    .argument('<run>', 'the run id (an agent run, or a workflow run with an AGENT step still to come)')
    .argument('<text...>', 'the message (the words are joined with spaces); - reads it from stdin')
    .addHelpText(
      'after',
      examples('agent-runner directive 12 "Also cover the empty name"', 'agent-runner directive 12 Use tabs, not spaces', 'git diff | agent-runner directive 12 -', 'agent-runner directive 12 "Stop adding tests" --json'),
    )
    .action(
      defineAction(host, async (ctx, _options, id: string, words: string[]) => {
        const runId = parseRunId(id);
        const fromStdin = words.length === 1 && words[0] === '-';
        const text = fromStdin ? await readDirective(ctx.io.stdin) : words.join(' ');
        if (Buffer.byteLength(text.trim(), 'utf8') > MAX_DIRECTIVE_BYTES) throw tooLargeDirective(fromStdin ? 'read from stdin' : 'given');
        if (text.trim() === '') {
          throw new CliError(fromStdin ? 'The directive read from stdin is empty: pipe the message in, such as: echo "Use tabs" | agent-runner directive RUN -' : 'The directive is empty: give the message, such as: agent-runner directive RUN "Use tabs"');
        }
        let directive;
        try {
          ({ sendDirective: directive } = await ctx.client.request(CliSendDirectiveDocument, { runId, text }));
        } catch (error) {
          if (error instanceof GraphQLRequestError && error.code === 'NOT_FOUND') {
            throw new CliError(`Run ${runId} does not exist on ${ctx.config.url}. See the runs there with: agent-runner runs list`, 'NOT_FOUND');
          }
          if (error instanceof GraphQLRequestError && error.code === 'CONFLICT') {
            const message = error.errors.map((e) => e.message).join('\n');
            const project = await projectArgument(ctx, runId);
            const hint = /has ended/.test(message)
              ? `Start a new agent in its project with: agent-runner agent --project ${project} --goal "…"`
              : `To give this instruction to an agent, start an agent run in its project: agent-runner agent --project ${project} --goal "…"`;
            throw new CliError(`${message}\n${hint}`, 'CONFLICT');
          }
          throw error;
        }
        if (ctx.json) return ctx.printJson(directive);
        ctx.out(`Directive ${directive.id} sent to run ${directive.runId}: the agent reads it before its next model call. Follow it with: agent-runner watch ${directive.runId}`);
      }),
    );
};

/**
 * The run's project as a `--project` argument (its name, quoted for a shell when it needs to be), or
 * PROJECT when the run cannot be read: for the command a refused directive suggests instead.
 */
async function projectArgument(ctx: CliContext, runId: string): Promise<string> {
  try {
    const name = (await fetchRun(ctx, runId)).project.name;
    return /^[\w.@%+=:,/-]+$/.test(name) ? name : `'${name.replace(/'/g, `'\\''`)}'`;
  } catch {
    return 'PROJECT';
  }
}
