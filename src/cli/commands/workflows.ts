/** `agent-runner workflows list|show`: what the server can run (validate and register: workflow-files.ts). */
import { CliWorkflowDocument, type CliWorkflowFragment, type CliWorkflowStepFragment } from '../../client/generated/graphql.js';
import { defineAction, examples, type CommandModule } from '../command.js';
import { CliError } from '../errors.js';
import { formatDateTime, table } from '../format.js';
import { findWorkflow, listWorkflows } from '../resolve.js';

/** What a step's row says besides its description: its model, its command (unless the description is "Run: <it>"), its file, limits. */
function stepDetails(step: CliWorkflowStepFragment, description: string): string {
  const parts: string[] = [];
  if (step.modelInForce) parts.push(`model ${step.modelInForce.model} (${step.modelInForce.source === 'ENVIRONMENT' ? `server's OLLAMA_${step.name.toUpperCase()}_MODEL` : 'workflow default'})`);
  if (step.command && !description.includes(step.command)) parts.push(`$ ${step.command}`);
  if (step.outputFile) parts.push(`writes ${step.outputFile}`);
  if (step.timeoutSeconds) parts.push(`timeout ${step.timeoutSeconds}s`);
  if (step.retry) parts.push(`up to ${step.retry.maxAttempts} attempts`);
  return parts.join(', ');
}

/** A row of the steps table: number, name, type, what it does. */
function stepRow(step: CliWorkflowStepFragment, number: string): string[] {
  const description = step.description.replaceAll('{model}', step.modelInForce?.model ?? step.model ?? '{model}');
  return [number, step.name, step.type === 'CUSTOM' ? step.typeName : step.type, [description, stepDetails(step, description)].filter(Boolean).join('; ')];
}

/** `service (string, required): what it is for`, `retries (number, default 3)`, `tier (one of a, b)`. */
export function describeInput(input: CliWorkflowFragment['inputs'][number]): string {
  const kind = input.type === 'CHOICE' ? `one of ${(input.options ?? []).join(', ')}` : input.type.toLowerCase();
  const need = input.required ? ', required' : input.default !== null && input.default !== undefined ? `, default ${JSON.stringify(input.default)}` : '';
  return `${input.name} (${kind}${need})${input.description ? `: ${input.description}` : ''}`;
}

export const registerWorkflows: CommandModule = (program, host) => {
  const workflows = program
    .command('workflows')
    .description('the workflows the server can run; check and register definition files')
    .addHelpText('after', examples('agent-runner workflows list', 'agent-runner workflows show quarkus-bootstrap-v1'));

  workflows
    .command('list')
    .description('list the workflows (their latest versions)')
    .addHelpText('after', examples('agent-runner workflows list', 'agent-runner workflows list --json'))
    .action(
      defineAction(host, async (ctx) => {
        const list = await listWorkflows(ctx);
        if (ctx.json) return ctx.printJson(list);
        for (const line of table(
          ['NAME', 'VERSION', 'STEPS', 'INPUTS', 'DESCRIPTION'],
          list.map((w) => [w.name, w.version, w.steps.map((s) => s.name).join(', '), w.inputs.map((i) => i.name).join(', ') || '-', w.description]),
        ))
          ctx.out(line);
      }),
    );

  workflows
    .command('show')
    .description('show one workflow: its inputs, its steps, their models (those a new run gets) and commands, its versions')
    .argument('<name>', 'the workflow name, such as quarkus-bootstrap-v1')
    .option('--workflow-version <version>', 'a registered version (default: the latest)')
    .addHelpText('after', examples('agent-runner workflows show quarkus-bootstrap-v1', 'agent-runner workflows show my-flow --workflow-version 1.0.0 --json'))
    .action(
      defineAction(host, async (ctx, options: { workflowVersion?: string }, name: string) => {
        const { workflow } = await ctx.client.request(CliWorkflowDocument, { name, version: options.workflowVersion ?? null });
        if (!workflow) {
          if (options.workflowVersion === undefined) {
            const found = findWorkflow(await listWorkflows(ctx), name);
            throw new CliError('problem' in found ? found.problem : `Unknown workflow "${name}".`, 'NOT_FOUND');
          }
          throw new CliError(`${name} has no version "${options.workflowVersion}" on this server. Its versions: agent-runner workflows show ${name}`, 'NOT_FOUND');
        }
        if (ctx.json) return ctx.printJson(workflow);
        ctx.out(`${workflow.name} v${workflow.version}${workflow.latest ? '' : ' (not the latest)'}${workflow.description ? `: ${workflow.description}` : ''}`);
        ctx.out(`LLM timeout for new runs: ${workflow.defaultTimeoutSeconds}s (--timeout changes it for one run)`);
        ctx.out('');
        if (workflow.inputs.length > 0) {
          ctx.out('Inputs (--input NAME=VALUE):');
          for (const input of workflow.inputs) ctx.out(`  ${describeInput(input)}`);
          ctx.out('');
        }
        for (const line of table(
          ['#', 'STEP', 'TYPE', 'WHAT IT DOES'],
          // A loop's steps follow it, numbered within it (3.1, 3.2).
          workflow.steps.flatMap((s, i) => [stepRow(s, String(i + 1)), ...(s.steps ?? []).map((inner, j) => stepRow(inner, `${i + 1}.${j + 1}`))]),
        ))
          ctx.out(line);
        if (workflow.models.length > 0) {
          const source = (m: (typeof workflow.models)[number]) => (m.source === 'ENVIRONMENT' ? `server's OLLAMA_${m.step.toUpperCase()}_MODEL` : 'workflow default');
          ctx.out('\nModels a new run gets (every step that calls a model, loops\' steps included):');
          for (const m of workflow.models) ctx.out(`  ${m.step}: ${m.model} (${source(m)})`);
          ctx.out(`Choose other models for one run with --model, such as: --model ${workflow.models[0]!.step}=llama2:latest`);
        }
        if (workflow.versions.length > 1) {
          ctx.out('\nVersions (run one with --workflow-version):');
          for (const v of workflow.versions) ctx.out(`  ${v.version}${v.latest ? ' (latest)' : ''}  ${v.origin.toLowerCase().replace('_', '-')}, registered ${formatDateTime(v.registeredAt)}`);
        }
      }),
    );
};
