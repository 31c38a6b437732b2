/**
 * `agent-runner workflows validate FILE` and `workflows register FILE`: a workflow definition file
 * (YAML or JSON) checked by the server — every problem as FILE:LINE:COLUMN — or registered as a
 * new version that runs can use at once.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { GraphQLRequestError } from '../../client/client.js';
import { RegisterWorkflowDocument, ValidateWorkflowDocument, type ProblemFieldsFragment } from '../../client/generated/graphql.js';
import { defineAction, examples, type CommandModule } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';

/** The definition text of FILE (`-` reads standard input). */
async function readDefinition(ctx: CliContext, file: string): Promise<string> {
  try {
    if (file !== '-') return await readFile(file, 'utf8');
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.io.stdin) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks).toString('utf8');
  } catch (error) {
    throw new CliError(`Cannot read the workflow definition ${file}: ${(error as Error).message}`);
  }
}

/** `my-flow.yaml:12:5: steps[1].command: …`, as compilers and editors print problems. */
function problemLine(file: string, problem: ProblemFieldsFragment): string {
  const where = [file, problem.line, problem.line !== null && problem.line !== undefined ? problem.column : null].filter((part) => part !== null && part !== undefined).join(':');
  const path = problem.path && !problem.message.startsWith(problem.path) ? `${problem.path}: ` : '';
  return `${where}: ${path}${problem.message}`;
}

/** The `workflows` command the list and show module made. */
function workflowsCommand(program: Command): Command {
  const found = program.commands.find((command) => command.name() === 'workflows');
  if (!found) throw new Error('the workflows command must be registered before workflow-files');
  return found;
}

export const registerWorkflowFiles: CommandModule = (program, host) => {
  const workflows = workflowsCommand(program);

  workflows
    .command('validate')
    .description('check a workflow definition file (YAML or JSON) on the server, without registering it')
    .argument('<file>', 'the definition file (- for standard input)')
    .addHelpText('after', examples('agent-runner workflows validate my-flow.yaml', 'agent-runner workflows validate my-flow.yaml --json'))
    .action(
      defineAction(host, async (ctx, _options, file: string) => {
        const { validateWorkflow: result } = await ctx.client.request(ValidateWorkflowDocument, { definition: await readDefinition(ctx, file) });
        if (ctx.json) {
          ctx.printJson(result);
        } else if (result.valid) {
          ctx.out(`${file}: ${result.name} v${result.version} is valid.`);
          ctx.out(
            result.registered
              ? `Version ${result.version} is already registered on the server: registering this file again changes nothing if it is the same content, and is refused otherwise (raise its version).`
              : `Register it with: agent-runner workflows register ${file}`,
          );
        } else {
          for (const problem of result.problems) ctx.out(problemLine(file, problem));
          ctx.note(`agent-runner: ${file} has ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}; nothing was registered.`);
        }
        return result.valid ? 0 : 3;
      }),
    );

  workflows
    .command('register')
    .description('register a workflow definition file as a new version; runs can use it at once')
    .argument('<file>', 'the definition file (- for standard input)')
    .addHelpText('after', examples('agent-runner workflows register my-flow.yaml', 'agent-runner run my-flow --project demo --goal "…" --watch'))
    .action(
      defineAction(host, async (ctx, _options, file: string) => {
        let registered;
        try {
          registered = (await ctx.client.request(RegisterWorkflowDocument, { definition: await readDefinition(ctx, file) })).registerWorkflow;
        } catch (error) {
          const problems = error instanceof GraphQLRequestError ? (error.errors[0]?.extensions?.problems as ProblemFieldsFragment[] | undefined) : undefined;
          if (problems?.length) {
            throw new CliError(`${file} was not registered:\n${problems.map((p) => `  ${problemLine(file, p)}`).join('\n')}`, 'BAD_USER_INPUT');
          }
          throw error;
        }
        if (ctx.json) return ctx.printJson(registered);
        const { workflow } = registered;
        ctx.out(
          registered.created
            ? `Registered ${workflow.name} v${workflow.version} (${workflow.steps.length} step${workflow.steps.length === 1 ? '' : 's'}).`
            : `${workflow.name} v${workflow.version} was already registered with this content; nothing changed.`,
        );
        ctx.out(`Run it with: agent-runner run ${workflow.name} --project PROJECT --goal "…"${workflow.inputs.some((i) => i.required) ? ` ${workflow.inputs.filter((i) => i.required).map((i) => `--input ${i.name}=…`).join(' ')}` : ''} --watch`);
      }),
    );
};
