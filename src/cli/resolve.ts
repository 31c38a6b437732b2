/**
 * From what a user types to what the server knows: run ids, projects by name or id, workflows by
 * name, and `key=value` pairs. Unknown names fail with the list of what exists.
 */
import {
  CliProjectsDocument,
  CliRunDocument,
  CliWorkflowDocument,
  CliWorkflowsDocument,
  type CliProjectsQuery,
  type CliRunQuery,
  type CliWorkflowFragment,
  type RunStatus,
} from '../client/generated/graphql.js';
import type { CliContext } from './context.js';
import { CliError } from './errors.js';

export type CliProject = CliProjectsQuery['projects'][number];
export type CliWorkflow = CliWorkflowFragment;
export type CliFullRun = NonNullable<CliRunQuery['run']>;

export const RUN_STATUSES: readonly RunStatus[] = ['QUEUED', 'RUNNING', 'PAUSED', 'STOPPED', 'COMPLETED', 'FAILED'];

/** A run id as typed (`12`); anything else is a usage problem. */
export function parseRunId(text: string): string {
  if (!/^\d+$/.test(text.trim())) throw new CliError(`"${text}" is not a run id: run ids are numbers, such as 12 (agent-runner runs list shows them).`);
  return text.trim();
}

/** A run with its artifacts; an unknown id fails naming the most recent runs. */
export async function fetchRun(ctx: CliContext, runId: string): Promise<CliFullRun> {
  const { run } = await ctx.client.request(CliRunDocument, { id: runId });
  if (run) return run;
  throw new CliError(`Run ${runId} does not exist on ${ctx.config.url}. See the runs there with: agent-runner runs list`, 'NOT_FOUND');
}

/** Lists "a (id 1), b (id 2)" or says there are none. */
function describeProjects(projects: CliProject[]): string {
  return projects.length === 0 ? 'There are no projects yet.' : `Projects: ${projects.map((p) => `${p.name} (id ${p.id})`).join(', ')}.`;
}

/**
 * The project a user named: an exact name first, then an id. Returns a problem (naming the
 * projects that exist and how to create one) instead of throwing, so callers can report it with others.
 */
export function findProject(projects: CliProject[], reference: string): CliProject | { problem: string } {
  const found = projects.find((p) => p.name === reference) ?? projects.find((p) => p.id === reference.trim());
  if (found) return found;
  return {
    problem: `Unknown project "${reference}". ${describeProjects(projects)} Create one with: agent-runner projects create ${/^[\w.-]+$/.test(reference) ? reference : 'NAME'} PATH`,
  };
}

/** Every project (oldest first). */
export async function listProjects(ctx: CliContext): Promise<CliProject[]> {
  return (await ctx.client.request(CliProjectsDocument)).projects;
}

/** The project a user named, or a CliError listing those that exist. */
export async function resolveProject(ctx: CliContext, reference: string): Promise<CliProject> {
  const found = findProject(await listProjects(ctx), reference);
  if ('problem' in found) throw new CliError(found.problem, 'NOT_FOUND');
  return found;
}

/** Every workflow the server offers. */
export async function listWorkflows(ctx: CliContext): Promise<CliWorkflow[]> {
  return (await ctx.client.request(CliWorkflowsDocument)).workflows;
}

/** The workflow with that name, or a problem naming the workflows that exist. */
export function findWorkflow(workflows: CliWorkflow[], name: string): CliWorkflow | { problem: string } {
  const found = workflows.find((w) => w.name === name);
  if (found) return found;
  const names = workflows.map((w) => w.name).join(', ') || 'none';
  return { problem: `Unknown workflow "${name}". Workflows on this server: ${names}. (agent-runner workflows list describes them.)` };
}

/**
 * The workflow a run would use — `version`, or the latest — or a problem naming the workflows that
 * exist (or the versions of this one).
 */
export async function workflowForRun(ctx: CliContext, name: string, version: string | undefined): Promise<CliWorkflow | { problem: string }> {
  const { workflow } = await ctx.client.request(CliWorkflowDocument, { name, version: version ?? null });
  if (workflow) return workflow;
  const latest = version === undefined ? null : (await ctx.client.request(CliWorkflowDocument, { name, version: null })).workflow;
  if (!latest) return findWorkflow(await listWorkflows(ctx), name);
  return { problem: `${name} has no version "${version}". Its versions: ${latest.versions.map((v) => v.version).join(', ')}.` };
}

/** What a BOOLEAN input accepts, in any case. */
const BOOLEAN_WORDS: Record<string, boolean> = { true: true, false: false, yes: true, no: false, '1': true, '0': false };

/**
 * `--input NAME=VALUE` pairs as the workflow's declared inputs: each value typed (number, boolean,
 * one of a choice's options, text), every problem named — an input it does not declare, a value of
 * the wrong type, a required input not given — and the values the server gets.
 */
export function typedInputs(workflow: CliWorkflow, pairs: Array<[string, string]>): { values: Record<string, unknown>; problems: string[] } {
  const declared = workflow.inputs;
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  const names = declared.length > 0 ? `its inputs: ${declared.map((i) => i.name).join(', ')}` : 'it takes no inputs';
  for (const [name, text] of pairs) {
    const input = declared.find((i) => i.name === name);
    if (!input) {
      problems.push(`--input ${name}=…: ${workflow.name} has no input "${name}" (${names}).`);
      continue;
    }
    if (input.type === 'NUMBER') {
      const value = Number(text);
      if (text.trim() === '' || !Number.isFinite(value)) problems.push(`--input ${name}=${text}: ${name} is a number.`);
      else values[name] = value;
    } else if (input.type === 'BOOLEAN') {
      const value = BOOLEAN_WORDS[text.trim().toLowerCase()];
      if (value === undefined) problems.push(`--input ${name}=${text}: ${name} is true or false.`);
      else values[name] = value;
    } else if (input.type === 'CHOICE' && !(input.options ?? []).includes(text)) {
      problems.push(`--input ${name}=${text}: ${name} is one of ${(input.options ?? []).join(', ')}.`);
    } else {
      values[name] = text;
    }
  }
  for (const input of declared) {
    if (input.required && !pairs.some(([name]) => name === input.name)) {
      problems.push(`--input ${input.name}=… is required${input.description ? `: ${input.description}` : ''}.`);
    }
  }
  return { values, problems };
}

/**
 * `--model STEP=MODEL` pairs checked against the steps of the workflow that call a model
 * (Workflow.models: LLM and agent steps, loops' steps included): one problem per step it lacks, or
 * per empty model, naming the steps it has.
 */
export function modelProblems(workflow: CliWorkflow, pairs: Array<[string, string]>): string[] {
  const steps = workflow.models.map((m) => m.step);
  const problems: string[] = [];
  for (const [step, model] of pairs) {
    if (!steps.includes(step)) {
      problems.push(
        `--model ${step}=…: ${workflow.name} has no step "${step}" that calls a model (${steps.length > 0 ? `its steps that do, loops' included: ${steps.join(', ')}` : 'none of its steps does'}).`,
      );
    } else if (model.trim() === '') {
      problems.push(`--model ${step}=: give the model, such as --model ${step}=llama2:latest.`);
    }
  }
  return problems;
}

/** A run status as typed, in any case; anything else fails listing the statuses. */
export function parseRunStatus(text: string): RunStatus {
  const status = text.trim().toUpperCase() as RunStatus;
  if (RUN_STATUSES.includes(status)) return status;
  throw new CliError(`Unknown run status "${text}": use one of ${RUN_STATUSES.join(', ')} (in any case).`);
}

/**
 * `key=value` pairs (repeatable options such as --input and --model), each checked: the problems
 * found are returned, one per bad pair, and the good pairs in order.
 */
export function parsePairs(option: string, values: string[], form: { shape: string; example: string }): { pairs: Array<[string, string]>; problems: string[] } {
  const pairs: Array<[string, string]> = [];
  const problems: string[] = [];
  for (const value of values) {
    const at = value.indexOf('=');
    const key = at > 0 ? value.slice(0, at).trim() : '';
    if (at <= 0 || key === '') {
      problems.push(`${option} "${value}": expected ${form.shape}, such as ${option} ${form.example}.`);
    } else if (pairs.some(([seen]) => seen === key)) {
      problems.push(`${option} "${value}": ${key} is given twice.`);
    } else {
      pairs.push([key, value.slice(at + 1)]);
    }
  }
  return { pairs, problems };
}

/** commander collector for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
