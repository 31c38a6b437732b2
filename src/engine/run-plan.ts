import { agentRunWorkflow } from './agent/workflow.js';
import { AGENT_OPTION_RANGES, agentOptionProblem, resolveAgentSettings, type AgentDefaults } from './agent/settings.js';
import type { WorkflowRegistry } from './workflows/registry.js';
import { DEFAULT_WORKFLOW_NAME } from './workflows/registry.js';
import type { ResolvedStep, RunOptions, RunRecord, RunType, StepModel, WorkflowDefinition, WorkflowStepDefinition } from './types.js';

/** A run request that cannot be carried out, naming the argument at fault. */
export class RunInputError extends Error {
  constructor(
    message: string,
    readonly argument: string,
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
  workflow: WorkflowDefinition;
  models: StepModel[];
  timeoutSeconds: number;
}

/** Largest timeout accepted from a run's options: one week. */
const MAX_TIMEOUT_SECONDS = 7 * 24 * 3600;

/** Steps that talk to a model, and so have a model chosen per run: LLM_GENERATE and AGENT. */
export function usesModel(step: Pick<WorkflowStepDefinition, 'type'>): boolean {
  return step.type === 'LLM_GENERATE' || step.type === 'AGENT';
}

/** The definition a run executes: an AGENT run's one-step agent workflow, else its registered workflow (undefined if gone). */
export function workflowOfRun(run: Pick<RunRecord, 'runType' | 'workflowName'>, registry: WorkflowRegistry): WorkflowDefinition | undefined {
  if (run.runType === 'AGENT') return agentRunWorkflow;
  return run.workflowName === null ? undefined : registry.get(run.workflowName);
}

/**
 * Validates a run's options against the registry and fixes its choices when the run is created:
 * the workflow (an AGENT run's is the one-step agent workflow), the model of each LLM or agent step
 * (run options > environment > workflow default) and the LLM timeout (run options > OLLAMA_TIMEOUT_SECONDS).
 */
export function planRun(registry: WorkflowRegistry, options: RunOptions, settings: RunPlanSettings, runType: RunType = 'WORKFLOW'): RunPlan {
  let workflow: WorkflowDefinition | undefined;
  if (runType === 'AGENT') {
    if (options.workflowName !== undefined) {
      throw new RunInputError('An AGENT run executes no workflow: leave options.workflowName out (or create a WORKFLOW run).', 'options.workflowName');
    }
    workflow = agentRunWorkflow;
  } else {
    const workflowName = options.workflowName ?? DEFAULT_WORKFLOW_NAME;
    workflow = registry.get(workflowName);
    if (!workflow) {
      throw new RunInputError(
        `Unknown workflow "${workflowName}" (options.workflowName). Available workflows: ${registry.names().join(', ')}.`,
        'options.workflowName',
      );
    }
  }
  checkAgentOptions(workflow, options);
  const llmSteps = workflow.steps.filter(usesModel);
  const overrides = new Map<string, string>();
  for (const override of options.models ?? []) {
    if (!llmSteps.some((s) => s.name === override.step)) {
      const names = llmSteps.map((s) => s.name).join(', ') || 'none';
      throw new RunInputError(
        `options.models names step "${override.step}", which is not an LLM step of ${workflow.name}. Its LLM steps: ${names}.`,
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
  const models = llmSteps.map((step) => chooseModel(step, overrides, settings.stepModels));
  return { workflow, models, timeoutSeconds };
}

function checkAgentOptions(workflow: WorkflowDefinition, options: RunOptions): void {
  const agent = options.agent;
  if (agent === undefined) return;
  if (!workflow.steps.some((s) => s.type === 'AGENT')) {
    throw new RunInputError(`options.agent sets the limits of agent steps, and workflow ${workflow.name} has none: leave it out.`, 'options.agent');
  }
  for (const name of Object.keys(AGENT_OPTION_RANGES) as Array<keyof typeof AGENT_OPTION_RANGES>) {
    const problem = agentOptionProblem(name, agent[name]);
    if (problem) throw new RunInputError(`options.agent.${name} ${problem}.`, `options.agent.${name}`);
  }
}

function chooseModel(step: WorkflowStepDefinition, overrides: Map<string, string>, environment: Record<string, string>): StepModel {
  const fromRun = overrides.get(step.name);
  if (fromRun) return { step: step.name, model: fromRun, source: 'RUN_OPTIONS' };
  const chosen = defaultModel(step, environment);
  if (!chosen) throw new Error(`Workflow step "${step.name}" is an LLM step without a default model.`);
  return chosen;
}

/**
 * The model a step of a new run gets unless the run chooses its own: the environment's
 * `OLLAMA_<STEP>_MODEL` (by step name), else the definition's default; null for a step without a model.
 */
export function defaultModel(step: Pick<WorkflowStepDefinition, 'name' | 'model'>, environment: Record<string, string>): StepModel | null {
  const fromEnvironment = environment[step.name.toLowerCase()];
  if (fromEnvironment) return { step: step.name, model: fromEnvironment, source: 'ENVIRONMENT' };
  return step.model ? { step: step.name, model: step.model, source: 'WORKFLOW_DEFAULT' } : null;
}

/** The short name used in descriptions: `llama2:latest` reads as `llama2`. */
export function modelLabel(model: string): string {
  return model.endsWith(':latest') ? model.slice(0, -':latest'.length) : model;
}

/** What a step's settings in force are made of, besides the step itself. */
export interface StepResolution {
  llmTimeoutSeconds: number;
  shellTimeoutSeconds: number;
  agentDefaults: AgentDefaults;
}

/**
 * A step as the run will execute it: model and description filled in, timeout in force (an agent's
 * is its total timeout), and an agent's settings (run options > step definition > server defaults).
 */
export function resolveStep(
  step: WorkflowStepDefinition,
  run: { models: readonly StepModel[]; options: RunOptions },
  resolution: StepResolution,
): ResolvedStep {
  const model = run.models.find((m) => m.step === step.name)?.model ?? step.model;
  const resolved: ResolvedStep = {
    ...step,
    model,
    description: model ? step.description.replaceAll('{model}', modelLabel(model)) : step.description,
    timeoutMs: Math.round((step.timeoutSeconds ?? (step.type === 'LLM_GENERATE' ? resolution.llmTimeoutSeconds : resolution.shellTimeoutSeconds)) * 1000),
  };
  if (step.type === 'AGENT') {
    resolved.agent = resolveAgentSettings(step, run.options.agent, resolution.agentDefaults, resolution);
    resolved.timeoutMs = resolved.agent.timeoutSeconds * 1000;
  }
  return resolved;
}
