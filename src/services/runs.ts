import type { NewStepRun, SqlStore } from '../db/store.js';
import { checkLabels } from './projects.js';
import type { EventLog } from '../engine/event-log.js';
import type { EventData } from '../engine/events.js';
import type { PubSub } from '../engine/pubsub.js';
import { MAX_DIRECTIVE_BYTES, type AgentDefaults } from '../engine/agent/settings.js';
import { agentSteps, describeStep, planRun, RunInputError } from '../engine/run-plan.js';
import { recordEvent, type Logger } from '../engine/runner.js';
import { FINAL_RUN_STATUSES, type DirectiveRecord, type RunOptions, type RunRecord, type RunType, type StepModel, type WorkflowStepDefinition } from '../engine/types.js';
import type { WorkflowRegistry } from '../engine/workflows/registry.js';
import { badInput, conflict, notFound } from '../errors.js';

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
  /** Placement labels the executing instance must have, besides the project's (checked here). */
  requiredLabels?: readonly string[];
}

export interface RunSettings {
  stepModels: Record<string, string>;
  ollamaTimeoutSeconds: number;
  shellTimeoutSeconds: number;
  agentDefaults: AgentDefaults;
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
  const requiredLabels = checkLabels(request.requiredLabels ?? [], 'input.requiredLabels');
  const project = await deps.store.getProject(request.projectId);
  if (!project) throw notFound(`No project has id ${request.projectId}. List projects with the "projects" query.`);

  let plan;
  try {
    plan = planRun(deps.workflows, request.options, deps.settings, request.inputs, request.runType);
  } catch (error) {
    if (error instanceof RunInputError) {
      throw badInput(`Argument "input.${error.argument}": ${error.message}`, error.problems.length > 0 ? { problems: error.problems } : undefined);
    }
    throw error;
  }
  const workflow = plan.workflow.definition;
  const isAgent = request.runType === 'AGENT';
  const run = await deps.store.createRun({
    projectId: project.id,
    name: request.name,
    goal,
    runType: request.runType,
    // An AGENT run executes the one-step agent workflow, chosen by its type rather than by name (and pinned like any).
    workflowName: isAgent ? null : workflow.name,
    workflowVersion: isAgent ? null : workflow.version,
    definition: workflow,
    definitionHash: plan.workflow.contentHash,
    inputs: plan.inputs,
    options: request.options,
    models: plan.models,
    timeoutSeconds: plan.timeoutSeconds,
    requiredLabels,
    steps: stepRecordsOf(workflow.steps, plan.models),
  });
  // Announced before anything else can be awaited, so no worker claim can be announced first; the
  // worker is told at once (RUN_QUEUED is already first in the event log's queue, so it keeps seq 1).
  deps.pubsub.publish('runUpdated', 'all', run);
  deps.eventLog.beginNewRun(run.id);
  const data: EventData<'RUN_QUEUED'> = {
    workflow: isAgent ? null : workflow.name,
    version: isAgent ? null : workflow.version,
    runType: request.runType,
    definitionHash: plan.workflow.contentHash,
    projectId: String(project.id),
    models: plan.models,
    timeoutSeconds: plan.timeoutSeconds,
    inputs: plan.inputs,
    ...(request.options.agent ? { agent: { ...request.options.agent } } : {}),
  };
  const queued = deps.eventLog.append(run.id, {
    type: 'RUN_QUEUED',
    message: isAgent ? `Run queued: an agent using ${plan.models[0]?.model} in project ${project.name}` : `Run queued: workflow ${workflow.name} in project ${project.name}`,
    data,
  });
  deps.onQueued?.();
  await queued;
  return run;
}

/** The PENDING step records of a run about to execute these steps (descriptions with their models in force). */
export function stepRecordsOf(steps: readonly WorkflowStepDefinition[], models: readonly StepModel[]): NewStepRun[] {
  return steps.map((step) => ({
    name: step.name,
    type: step.type,
    typeName: step.type === 'CUSTOM' ? step.customType : step.type,
    description: describeStep(step, models),
  }));
}


/**
 * Whether a run has an agent to read directives: an AGENT run, or a workflow run with an AGENT step
 * (at the top level or inside a loop) still to complete — a top-level agent step, or the loop that
 * holds one, whose record is not COMPLETED.
 */
async function hasAgentToCome(deps: { store: SqlStore }, run: RunRecord): Promise<boolean> {
  if (run.runType === 'AGENT') return true;
  if (!run.definition) return false;
  const agents = new Set(agentSteps(run.definition).map((s) => s.name));
  if (agents.size === 0) return false;
  const holders = new Set(run.definition.steps.filter((s) => agents.has(s.name) || (s.type === 'LOOP' && agentSteps({ steps: s.steps }).length > 0)).map((s) => s.name));
  const steps = await deps.store.listStepRuns(run.id);
  return steps.some((s) => s.iteration === null && holders.has(s.name) && s.status !== 'COMPLETED');
}

/**
 * Stores a user's directive for an agent run and records AGENT_DIRECTIVE; the agent takes it into
 * its conversation before its next model call (a queued or paused run's agent, when it goes on).
 * NOT_FOUND for an unknown run, BAD_USER_INPUT for an empty or oversized text or one with a NUL, CONFLICT for a run
 * that has ended or has no agent.
 */
export async function sendDirective(
  deps: { store: SqlStore; eventLog: EventLog; workflows: WorkflowRegistry; logger: Logger },
  runId: number,
  text: string,
): Promise<DirectiveRecord> {
  const trimmed = text.trim();
  if (trimmed === '') throw badInput('Argument "text" must not be empty: say what the agent should do.');
  const bytes = Buffer.byteLength(trimmed, 'utf8');
  if (bytes > MAX_DIRECTIVE_BYTES) {
    throw badInput(`Argument "text" is too large (${bytes} bytes; at most ${MAX_DIRECTIVE_BYTES}): a directive is a short instruction. Put long material in a file in the project's folder and tell the agent to read it.`);
  }
  // PostgreSQL's text columns cannot hold NUL; nor is it anything a user means to say.
  if (trimmed.includes('\0')) throw badInput('Argument "text" must not contain NUL characters: send text.');
  const run = await deps.store.getRun(runId);
  if (!run) throw notFound(`No run has id ${runId}. List runs with the "runs" query.`);
  if (FINAL_RUN_STATUSES.has(run.status)) {
    throw conflict(`Run ${runId} is ${run.status}: it has ended, and directives only reach a run that is queued, running or paused.`);
  }
  if (!(await hasAgentToCome(deps, run))) {
    throw conflict(`Run ${runId} is a ${run.runType} run without an agent step to come: directives only reach agent runs (runType AGENT) and workflows' AGENT steps.`);
  }
  const directive = await deps.store.addDirective(runId, trimmed);
  await recordEvent(deps, runId, 'AGENT_DIRECTIVE', `Directive received: ${trimmed}`, null, {
    directiveId: String(directive.id),
    text: trimmed,
    state: 'received',
  });
  return directive;
}
