import type { WorkflowRegistry } from './workflows/registry.js';
import { DEFAULT_WORKFLOW_NAME } from './workflows/registry.js';
import type { ModelSource, ResolvedStep, RunOptions, StepModel, WorkflowDefinition, WorkflowStepDefinition } from './types.js';

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

/**
 * Validates a run's options against the registry and fixes its choices when the run is created:
 * the workflow, the model of each LLM step (run options > environment > workflow default) and the
 * LLM timeout (run options > OLLAMA_TIMEOUT_SECONDS).
 */
export function planRun(registry: WorkflowRegistry, options: RunOptions, settings: RunPlanSettings): RunPlan {
  const workflowName = options.workflowName ?? DEFAULT_WORKFLOW_NAME;
  const workflow = registry.get(workflowName);
  if (!workflow) {
    throw new RunInputError(
      `Unknown workflow "${workflowName}" (options.workflowName). Available workflows: ${registry.names().join(', ')}.`,
      'options.workflowName',
    );
  }
  const llmSteps = workflow.steps.filter((s) => s.type === 'LLM_GENERATE');
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

function chooseModel(step: WorkflowStepDefinition, overrides: Map<string, string>, environment: Record<string, string>): StepModel {
  const pick = (model: string, source: ModelSource): StepModel => ({ step: step.name, model, source });
  const fromRun = overrides.get(step.name);
  if (fromRun) return pick(fromRun, 'RUN_OPTIONS');
  const fromEnvironment = environment[step.name.toLowerCase()];
  if (fromEnvironment) return pick(fromEnvironment, 'ENVIRONMENT');
  if (!step.model) throw new Error(`Workflow step "${step.name}" is an LLM step without a default model.`);
  return pick(step.model, 'WORKFLOW_DEFAULT');
}

/** The short name used in descriptions: `llama2:latest` reads as `llama2`. */
export function modelLabel(model: string): string {
  return model.endsWith(':latest') ? model.slice(0, -':latest'.length) : model;
}

/** A step as the run will execute it: model and description filled in, timeout in force. */
export function resolveStep(
  step: WorkflowStepDefinition,
  models: readonly StepModel[],
  timeouts: { llmTimeoutSeconds: number; shellTimeoutSeconds: number },
): ResolvedStep {
  const model = models.find((m) => m.step === step.name)?.model ?? step.model;
  const fallbackSeconds = step.type === 'LLM_GENERATE' ? timeouts.llmTimeoutSeconds : timeouts.shellTimeoutSeconds;
  return {
    ...step,
    model,
    description: model ? step.description.replaceAll('{model}', modelLabel(model)) : step.description,
    timeoutMs: Math.round((step.timeoutSeconds ?? fallbackSeconds) * 1000),
  };
}
