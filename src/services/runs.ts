import type { NewStepRun, SqlStore } from '../db/store.js';
import type { EventLog } from '../engine/event-log.js';
import type { PubSub } from '../engine/pubsub.js';
import { planRun, resolveStep, RunInputError } from '../engine/run-plan.js';
import type { RunOptions, RunRecord, RunType, StepModel, WorkflowStepDefinition } from '../engine/types.js';
import type { WorkflowRegistry } from '../engine/workflows/registry.js';
import { badInput, notFound } from '../errors.js';

/** Largest goal accepted, in bytes of UTF-8. */
export const MAX_GOAL_BYTES = 100 * 1024;

export interface CreateRunRequest {
  projectId: number;
  goal: string;
  name: string | null;
  runType: RunType;
  options: RunOptions;
  /** The workflow inputs as the client gave them (checked here). */
  inputs?: unknown;
}

export interface RunSettings {
  stepModels: Record<string, string>;
  ollamaTimeoutSeconds: number;
  shellTimeoutSeconds: number;
}

/**
 * Validates a run request and stores it QUEUED with its steps PENDING, announces it on `runUpdated`
 * and records RUN_QUEUED.
 * Everything is checked here, when the run is created, so a run that is queued can start.
 */
export async function createRun(
  deps: { store: SqlStore; eventLog: EventLog; pubsub: PubSub; workflows: WorkflowRegistry; settings: RunSettings; onQueued?: () => void },
  request: CreateRunRequest,
): Promise<RunRecord> {
  const goal = request.goal.trim();
  if (goal === '') throw badInput('Argument "input.goal" must not be empty: say what the run should achieve.');
  const goalBytes = Buffer.byteLength(request.goal, 'utf8');
  if (goalBytes > MAX_GOAL_BYTES) throw badInput(`Argument "input.goal" is too large (${goalBytes} bytes; at most ${MAX_GOAL_BYTES}).`);
  if (request.name !== null && request.name.length > 200) throw badInput('Argument "input.name" is too long (at most 200 characters).');
  if (request.runType === 'AGENT') {
    throw badInput('Argument "input.runType": AGENT runs are not available yet on this server; use WORKFLOW.');
  }
  const project = await deps.store.getProject(request.projectId);
  if (!project) throw notFound(`No project has id ${request.projectId}. List projects with the "projects" query.`);

  let plan;
  try {
    plan = planRun(deps.workflows, request.options, deps.settings, request.inputs);
  } catch (error) {
    if (error instanceof RunInputError) {
      throw badInput(`Argument "input.${error.argument}": ${error.message}`, error.problems.length > 0 ? { problems: error.problems } : undefined);
    }
    throw error;
  }
  const workflow = plan.workflow.definition;
  const timeouts = { llmTimeoutSeconds: plan.timeoutSeconds, shellTimeoutSeconds: deps.settings.shellTimeoutSeconds };
  const run = await deps.store.createRun({
    projectId: project.id,
    name: request.name,
    goal,
    runType: request.runType,
    workflowName: workflow.name,
    workflowVersion: workflow.version,
    definition: workflow,
    definitionHash: plan.workflow.contentHash,
    inputs: plan.inputs,
    options: request.options,
    models: plan.models,
    timeoutSeconds: plan.timeoutSeconds,
    steps: stepRecordsOf(workflow.steps, plan.models, timeouts),
  });
  // Announced before anything else can be awaited, so no worker claim can be announced first; the
  // worker is told at once (RUN_QUEUED is already first in the event log's queue, so it keeps seq 1).
  deps.pubsub.publish('runUpdated', 'all', run);
  deps.eventLog.beginNewRun(run.id);
  const queued = deps.eventLog.append(run.id, {
    type: 'RUN_QUEUED',
    message: `Run queued: workflow ${workflow.name} in project ${project.name}`,
    data: {
      workflow: workflow.name,
      version: workflow.version,
      definitionHash: plan.workflow.contentHash,
      projectId: String(project.id),
      models: plan.models,
      timeoutSeconds: plan.timeoutSeconds,
      inputs: plan.inputs,
    },
  });
  deps.onQueued?.();
  await queued;
  return run;
}

/** The PENDING step records of a run about to execute these steps (descriptions with their models in force). */
export function stepRecordsOf(
  steps: readonly WorkflowStepDefinition[],
  models: readonly StepModel[],
  timeouts: { llmTimeoutSeconds: number; shellTimeoutSeconds: number },
): NewStepRun[] {
  return steps.map((step) => ({
    name: step.name,
    type: step.type,
    typeName: step.type === 'CUSTOM' ? step.customType : step.type,
    description: resolveStep(step, models, timeouts).description,
  }));
}
