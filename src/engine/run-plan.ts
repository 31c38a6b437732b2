import { agentRunRecord } from './agent/workflow.js';
import { AGENT_OPTION_RANGES, agentOptionProblem, resolveAgentSettings, type AgentDefaults } from './agent/settings.js';
import { renderCommand, renderTemplate, type ExpressionValues } from './expressions.js';
import { allSteps } from './graph.js';
import { forEachString, inputValueProblem } from './workflows/parse.js';
import type { AnyStepKind } from './steps/registry.js';
import type { WorkflowRegistry } from './workflows/registry.js';
import { DEFAULT_WORKFLOW_NAME } from './workflows/registry.js';
import type {
  AgentStep,
  LlmGenerateStep,
  ModelSource,
  ResolvedStep,
  RunOptions,
  RunRecord,
  RunType,
  StepModel,
  WorkflowDefinition,
  WorkflowStepDefinition,
  WorkflowVersionRecord,
} from './types.js';

/** A run request that cannot be carried out, naming the argument at fault. */
export class RunInputError extends Error {
  constructor(
    message: string,
    readonly argument: string,
    /** Each problem apart (inputs: one per input), for clients that show them beside their fields. */
    readonly problems: Array<{ field: string; message: string }> = [],
  ) {
    super(message);
    this.name = 'RunInputError';
  }
}

export interface RunPlanSettings {
  /** Step models from the environment (`OLLAMA_<STEP>_MODEL`), by step name. */
  stepModels: Record<string, string>;
  ollamaTimeoutSeconds: number;
}

export interface RunPlan {
  /** The registered version the run pins. */
  workflow: WorkflowVersionRecord;
  models: StepModel[];
  timeoutSeconds: number;
  /** The inputs, checked, with defaults filled in. */
  inputs: Record<string, string | number | boolean>;
}

/** Largest timeout accepted from a run's options: one week. */
const MAX_TIMEOUT_SECONDS = 7 * 24 * 3600;

/** Steps that talk to a model, and so have a model chosen per run: LLM_GENERATE and AGENT. */
export function usesModel(step: WorkflowStepDefinition): step is LlmGenerateStep | AgentStep {
  return step.type === 'LLM_GENERATE' || step.type === 'AGENT';
}

/**
 * Every step of a definition that calls a model (LLM_GENERATE and AGENT), at the top level and inside
 * loops, in definition order (a loop's steps right after the loop). Step names are unique in a
 * workflow, loops included, so each is one entry of a run's `models` (options.models,
 * OLLAMA_<STEP>_MODEL). The one list every rule about models uses: planning a run, carrying models
 * over to another version, agent options and directives, the API's Workflow.models, the CLI.
 */
export function modelSteps(workflow: Pick<WorkflowDefinition, 'steps'>): Array<LlmGenerateStep | AgentStep> {
  return allSteps(workflow.steps)
    .map(({ step }) => step)
    .filter(usesModel);
}

/** The agent steps of a definition, loops' included. */
export function agentSteps(workflow: Pick<WorkflowDefinition, 'steps'>): AgentStep[] {
  return modelSteps(workflow).filter((step): step is AgentStep => step.type === 'AGENT');
}

/**
 * The model each model step of a workflow gets in a new run that chooses none (`OLLAMA_<STEP>_MODEL`,
 * else the definition's default), with its source; in the order of `modelSteps`.
 */
export function workflowModels(workflow: Pick<WorkflowDefinition, 'steps'>, environment: Record<string, string>): StepModel[] {
  return modelSteps(workflow).map((step) => defaultModel(step, environment));
}

/**
 * Validates a run's options against the registry and fixes its choices when the run is created:
 * the workflow (an AGENT run's is the one-step agent workflow), the model of each LLM or agent step
 * (run options > environment > workflow default) and the LLM timeout (run options > OLLAMA_TIMEOUT_SECONDS).
 */
export function planRun(registry: WorkflowRegistry, options: RunOptions, settings: RunPlanSettings, givenInputs: unknown = {}, runType: RunType = 'WORKFLOW'): RunPlan {
  const record = runType === 'AGENT' ? agentRunRecordFor(options) : findWorkflow(registry, options);
  const workflow = record.definition;
  checkAgentOptions(workflow, options);
  const inputs = resolveInputs(workflow, givenInputs);
  const stepsWithModels = modelSteps(workflow);
  const overrides = new Map<string, string>();
  for (const override of options.models ?? []) {
    if (!stepsWithModels.some((s) => s.name === override.step)) {
      const names = stepsWithModels.map((s) => s.name).join(', ') || 'none';
      throw new RunInputError(
        `options.models names step "${override.step}", which is not a step of ${workflow.name} that calls a model. Its steps that call a model (LLM_GENERATE and AGENT, loops' steps included): ${names}.`,
        'options.models',
      );
    }
    if (override.model.trim() === '') {
      throw new RunInputError(`options.models gives an empty model for step "${override.step}".`, 'options.models');
    }
    if (overrides.has(override.step)) {
      throw new RunInputError(`options.models names step "${override.step}" twice.`, 'options.models');
    }
    overrides.set(override.step, override.model.trim());
  }
  const timeoutSeconds = options.timeoutSeconds ?? settings.ollamaTimeoutSeconds;
  if (options.timeoutSeconds !== undefined && (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > MAX_TIMEOUT_SECONDS)) {
    throw new RunInputError(`options.timeoutSeconds must be a whole number of seconds from 1 to ${MAX_TIMEOUT_SECONDS}.`, 'options.timeoutSeconds');
  }
  const models = stepsWithModels.map((step) => chooseModel(step, overrides, settings.stepModels));
  return { workflow: record, models, timeoutSeconds, inputs };
}

/** An AGENT run executes the one-step agent workflow, chosen by its type rather than by name. */
function agentRunRecordFor(options: RunOptions): WorkflowVersionRecord {
  if (options.workflowName !== undefined || options.workflowVersion !== undefined) {
    throw new RunInputError('An AGENT run executes no workflow: leave options.workflowName and options.workflowVersion out (or create a WORKFLOW run).', 'options.workflowName');
  }
  return agentRunRecord;
}

function checkAgentOptions(workflow: WorkflowDefinition, options: RunOptions): void {
  const agent = options.agent;
  if (agent === undefined) return;
  if (agentSteps(workflow).length === 0) {
    throw new RunInputError(`options.agent sets the limits of agent steps, and workflow ${workflow.name} has none: leave it out.`, 'options.agent');
  }
  for (const name of Object.keys(AGENT_OPTION_RANGES) as Array<keyof typeof AGENT_OPTION_RANGES>) {
    const problem = agentOptionProblem(name, agent[name]);
    if (problem) throw new RunInputError(`options.agent.${name} ${problem}.`, `options.agent.${name}`);
  }
}

/** The registered version a WORKFLOW run names (default: the latest of the default workflow). */
function findWorkflow(registry: WorkflowRegistry, options: RunOptions): WorkflowVersionRecord {
  const workflowName = options.workflowName ?? DEFAULT_WORKFLOW_NAME;
  const record = registry.get(workflowName, options.workflowVersion);
  if (!record) {
    const known = registry.get(workflowName);
    if (known) {
      const versions = registry.versions(workflowName).map((v) => v.definition.version).join(', ');
      throw new RunInputError(`Workflow "${workflowName}" has no version "${options.workflowVersion}" (options.workflowVersion). Its versions: ${versions}.`, 'options.workflowVersion');
    }
    throw new RunInputError(
      `Unknown workflow "${workflowName}" (options.workflowName). Available workflows: ${registry.names().join(', ')}.`,
      'options.workflowName',
    );
  }
  return record;
}

/**
 * A run's inputs checked against the workflow's declarations: every missing required input, unknown
 * input and mistyped value is a problem (all reported at once); defaults fill in the rest.
 */
export function resolveInputs(workflow: WorkflowDefinition, given: unknown): Record<string, string | number | boolean> {
  const declared = workflow.inputs;
  if (given === null || given === undefined) given = {};
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new RunInputError('inputs must be an object of input names and values, such as {"name": "demo"}.', 'inputs', [{ field: '', message: 'must be an object' }]);
  }
  const problems: Array<{ field: string; message: string }> = [];
  const values: Record<string, string | number | boolean> = {};
  for (const [name, value] of Object.entries(given as Record<string, unknown>)) {
    const input = declared[name];
    if (!input) {
      const names = Object.keys(declared);
      problems.push({ field: name, message: `"${name}" is not an input of ${workflow.name} (${names.length > 0 ? `its inputs: ${names.join(', ')}` : 'it takes no inputs'})` });
      continue;
    }
    const problem = inputValueProblem(input, value);
    if (problem) problems.push({ field: name, message: `"${name}" ${problem}` });
    else values[name] = value as string | number | boolean;
  }
  for (const [name, input] of Object.entries(declared)) {
    if (Object.hasOwn(values, name) || problems.some((p) => p.field === name)) continue;
    if (input.default !== undefined) values[name] = input.default;
    else if (input.required) problems.push({ field: name, message: `"${name}" is required${input.description ? ` (${input.description})` : ''}` });
  }
  if (problems.length > 0) {
    throw new RunInputError(`${problems.length === 1 ? 'An input is' : `${problems.length} inputs are`} wrong: ${problems.map((p) => p.message).join('; ')}.`, 'inputs', problems);
  }
  return values;
}

/**
 * The models of a workflow's model steps (loops' included) for a run moving to it (retryRun onto another version): the
 * run's earlier choice for a step of the same name, otherwise the environment, then the default.
 */
export function carryOverModels(workflow: WorkflowDefinition, previous: readonly StepModel[], environment: Record<string, string>): StepModel[] {
  return modelSteps(workflow).map((step) => previous.find((m) => m.step === step.name) ?? chooseModel(step, new Map(), environment));
}

function chooseModel(step: LlmGenerateStep | AgentStep, overrides: Map<string, string>, environment: Record<string, string>): StepModel {
  const fromRun = overrides.get(step.name);
  if (fromRun) return { step: step.name, model: fromRun, source: 'RUN_OPTIONS' };
  return defaultModel(step, environment);
}

/**
 * The model a step of a new run gets unless the run chooses its own: the environment's
 * `OLLAMA_<STEP>_MODEL` (by step name), else the definition's default.
 */
export function defaultModel(step: Pick<LlmGenerateStep | AgentStep, 'name' | 'model'>, environment: Record<string, string>): StepModel {
  const pick = (model: string, source: ModelSource): StepModel => ({ step: step.name, model, source });
  const fromEnvironment = environment[step.name.toLowerCase()];
  if (fromEnvironment) return pick(fromEnvironment, 'ENVIRONMENT');
  return pick(step.model, 'WORKFLOW_DEFAULT');
}

/** The short name used in descriptions: `llama2:latest` reads as `llama2`. */
export function modelLabel(model: string): string {
  return model.endsWith(':latest') ? model.slice(0, -':latest'.length) : model;
}

function modelInForce(step: LlmGenerateStep | AgentStep, models: readonly StepModel[]): string {
  return models.find((m) => m.step === step.name)?.model ?? step.model;
}

/** A step's description as a run shows it: `{model}` replaced by the model in force ("… using llama2"). */
export function describeStep(step: WorkflowStepDefinition, models: readonly StepModel[]): string {
  return usesModel(step) ? step.description.replaceAll('{model}', modelLabel(modelInForce(step, models))) : step.description;
}

/** What a step's settings in force are made of, besides the step itself. */
export interface StepResolution {
  llmTimeoutSeconds: number;
  shellTimeoutSeconds: number;
  agentDefaults: AgentDefaults;
}

/**
 * A step as the run will execute it: model and description filled in, timeout in force (an agent's
 * is its total timeout), an agent's settings (run options > step definition > server defaults);
 * templates not rendered yet.
 */
export function resolveStep(step: WorkflowStepDefinition, run: { models: readonly StepModel[]; options: RunOptions }, resolution: StepResolution): ResolvedStep {
  const fallbackSeconds = step.type === 'LLM_GENERATE' ? resolution.llmTimeoutSeconds : resolution.shellTimeoutSeconds;
  const timeoutMs = Math.round((step.timeoutSeconds ?? fallbackSeconds) * 1000);
  if (!usesModel(step)) return { ...step, timeoutMs };
  const model = modelInForce(step, run.models);
  const resolved: ResolvedStep = { ...step, model, description: describeStep(step, run.models), timeoutMs };
  if (step.type === 'AGENT') {
    resolved.agent = resolveAgentSettings(step, run.options.agent, resolution.agentDefaults, resolution);
    resolved.timeoutMs = resolved.agent.timeoutSeconds * 1000;
  }
  return resolved;
}

/**
 * Renders a resolved step's templates against the run's values: its kind's template fields as text,
 * its command fields with their values moved into environment variables (returned as `env`), and
 * for a custom step every string of its parameters. Throws ExpressionRuntimeError.
 */
export function renderStep(step: ResolvedStep, kind: AnyStepKind, values: ExpressionValues): { step: ResolvedStep; env: Record<string, string> } {
  const env: Record<string, string> = {};
  if (step.type === 'CUSTOM') {
    const params = structuredClone(step.params);
    forEachString(params, [], (value, path) => {
      let parent: Record<string | number, unknown> = params;
      for (const part of path.slice(0, -1)) parent = parent[part] as Record<string | number, unknown>;
      parent[path.at(-1)!] = renderTemplate(value, values);
    });
    return { step: { ...step, params }, env };
  }
  const rendered: Record<string, unknown> = { ...step };
  for (const field of kind.templateFields) {
    if (typeof rendered[field] === 'string') rendered[field] = renderTemplate(rendered[field] as string, values);
  }
  for (const field of kind.commandFields) {
    if (typeof rendered[field] !== 'string') continue;
    const command = renderCommand(rendered[field] as string, values);
    rendered[field] = command.command;
    Object.assign(env, command.env);
  }
  return { step: rendered as unknown as ResolvedStep, env };
}

/** The values a run's templates are rendered against, from the run and what its steps produced so far. */
export function expressionValues(run: Pick<RunRecord, 'id' | 'name' | 'goal' | 'inputs'>, workflow: Pick<WorkflowDefinition, 'name' | 'version'>, project: { name: string; localPath: string }, steps: ExpressionValues['steps']): ExpressionValues {
  return {
    goal: run.goal,
    inputs: run.inputs,
    steps,
    run: { id: run.id, name: run.name, workflow: workflow.name, version: workflow.version },
    project: { name: project.name, path: project.localPath },
  };
}
