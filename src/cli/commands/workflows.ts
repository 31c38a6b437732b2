/**
 * `agent-runner workflows list|show`: what the server can run. (`validate FILE` and `register FILE`
 * come as their own modules once the server has validateWorkflow / registerWorkflow.)
 */
import { CliError } from '../errors.js';
import { defineAction, examples, type CommandModule } from '../command.js';
import { table } from '../format.js';
import { findWorkflow, listWorkflows, type CliWorkflow } from '../resolve.js';

function stepDetails(step: CliWorkflow['steps'][number]): string {
  const parts: string[] = [];
  if (step.modelInForce) parts.push(`model ${step.modelInForce.model} (${step.modelInForce.source === 'ENVIRONMENT' ? `server's OLLAMA_${step.name.toUpperCase()}_MODEL` : 'workflow default'})`);
  if (step.command) parts.push(`$ ${step.command}`);
  if (step.outputFile) parts.push(`writes ${step.outputFile}`);
  if (step.timeoutSeconds) parts.push(`timeout ${step.timeoutSeconds}s`);
  if (step.retry) parts.push(`up to ${step.retry.maxAttempts} attempts`);
  return parts.join(', ');
}

export const registerWorkflows: CommandModule = (program, host) => {
  const workflows = program
    .command('workflows')
    .description('the workflows the server can run')
    .addHelpText('after', examples('agent-runner workflows list', 'agent-runner workflows show quarkus-bootstrap-v1'));

  workflows
    .command('list')
    .description('list the workflows')
    .addHelpText('after', examples('agent-runner workflows list', 'agent-runner workflows list --json'))
    .action(
      defineAction(host, async (ctx) => {
        const list = await listWorkflows(ctx);
        if (ctx.json) return ctx.printJson(list);
        for (const line of table(
          ['NAME', 'VERSION', 'STEPS', 'DESCRIPTION'],
          list.map((w) => [w.name, w.version, w.steps.map((s) => s.name).join(', '), w.description]),
        ))
          ctx.out(line);
      }),
    );

  workflows
    .command('show')
    .description('show one workflow: its steps, their models (those a new run gets) and commands')
    .argument('<name>', 'the workflow name, such as quarkus-bootstrap-v1')
    .addHelpText('after', examples('agent-runner workflows show quarkus-bootstrap-v1', 'agent-runner workflows show quarkus-bootstrap-v1 --json'))
    .action(
      defineAction(host, async (ctx, _options, name: string) => {
        const found = findWorkflow(await listWorkflows(ctx), name);
        if ('problem' in found) throw new CliError(found.problem, 'NOT_FOUND');
        if (ctx.json) return ctx.printJson(found);
        ctx.out(`${found.name} v${found.version}: ${found.description}`);
        ctx.out(`LLM timeout for new runs: ${found.defaultTimeoutSeconds}s (--timeout changes it for one run)`);
        ctx.out('');
        for (const line of table(
          ['#', 'STEP', 'TYPE', 'WHAT IT DOES'],
          found.steps.map((s, i) => [String(i + 1), s.name, s.type, [s.description.replaceAll('{model}', s.modelInForce?.model ?? s.model ?? '{model}'), stepDetails(s)].filter(Boolean).join('; ')]),
        ))
          ctx.out(line);
        const llmSteps = found.steps.filter((s) => s.type === 'LLM_GENERATE').map((s) => s.name);
        if (llmSteps.length > 0) ctx.out(`\nChoose other models for one run with --model, such as: --model ${llmSteps[0]}=llama2:latest`);
      }),
    );
};
