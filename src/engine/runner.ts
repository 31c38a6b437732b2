import { mkdir, stat } from 'node:fs/promises';
import type { EventLog } from './event-log.js';
import type { PubSub } from './pubsub.js';
import { assertTransition } from './run-state.js';
import { resolveStep } from './run-plan.js';
import type { RunPatch, RunStore } from './store.js';
import {
  RunStoppedError,
  StepError,
  StepTimeoutError,
  coerceError,
  type EventType,
  type ProjectRecord,
  type ResolvedStep,
  type RunRecord,
  type RunStatus,
  type StepContext,
  type StepExecutor,
  type StepSettings,
  type StepType,
} from './types.js';
import { Workspace } from './workspace.js';
import type { WorkflowRegistry } from './workflows/registry.js';

export interface Logger {
  info(message: string): void;
  error(message: string, error?: unknown): void;
}

export interface RunnerDeps {
  store: RunStore;
  eventLog: EventLog;
  pubsub: PubSub;
  workflows: WorkflowRegistry;
  executors: Readonly<Record<StepType, StepExecutor>>;
  settings: StepSettings;
  /** Default timeout of shell and Maven steps, in seconds. */
  shellTimeoutSeconds: number;
  logger: Logger;
}

/** Why a shutdown aborted a run that was in progress. */
export class ServerShutdownError extends Error {
  constructor() {
    super('the server shut down while the step was running');
    this.name = 'ServerShutdownError';
  }
}

/**
 * Moves a run to a new status (only along the state machine's edges, only if no one moved it
 * first) and tells `runUpdated` subscribers. Returns the updated run, or null if it had moved.
 */
export async function changeRunStatus(
  deps: Pick<RunnerDeps, 'store' | 'pubsub'>,
  run: Pick<RunRecord, 'id' | 'status'>,
  patch: RunPatch & { status: RunStatus },
): Promise<RunRecord | null> {
  assertTransition(run.status, patch.status);
  const updated = await deps.store.transitionRun(run.id, run.status, patch);
  if (updated) deps.pubsub.publish('runUpdated', 'all', updated);
  return updated;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}

/** The setting a user raises when a step of this kind times out. */
function timeoutAdvice(step: ResolvedStep): string {
  if (step.timeoutSeconds !== undefined) return `Raise the step's timeoutSeconds in the workflow definition.`;
  return step.type === 'LLM_GENERATE'
    ? `Raise the run's options.timeoutSeconds or OLLAMA_TIMEOUT_SECONDS, or use a smaller model.`
    : `Raise SHELL_TIMEOUT_SECONDS or the step's timeoutSeconds.`;
}

/**
 * Executes one claimed (RUNNING) run: its workflow's steps in order, in the project's workspace,
 * recording every step in the event log and the step records. Never throws: whatever happens, the
 * run ends COMPLETED or FAILED with its reason recorded, or STOPPED if `signal` was aborted by a stop.
 */
export async function executeRun(deps: RunnerDeps, claimed: RunRecord, signal: AbortSignal): Promise<void> {
  const { store, eventLog, logger } = deps;
  const runId = claimed.id;
  let run = claimed;

  const emit = (type: EventType, message: string, stepName?: string | null, data?: Record<string, unknown>): Promise<unknown> =>
    eventLog.append(runId, { type, message, stepName: stepName ?? null, data: data ?? null }).catch((error) => {
      logger.error(`run ${runId}: could not record ${type}`, error);
    });

  const fail = async (message: string): Promise<void> => {
    const failed = await changeRunStatus(deps, run, { status: 'FAILED', error: message, finishedAt: new Date() });
    if (failed) run = failed;
    await emit('WORKFLOW_FAILED', `Workflow failed: ${message}`, null, { error: message });
    logger.info(`run ${runId} failed: ${message}`);
  };

  try {
    const workflowName = run.workflowName ?? '';
    await emit('WORKFLOW_LOOKUP', `Looking up workflow ${workflowName}`, null, { workflow: workflowName });
    const workflow = deps.workflows.get(workflowName);
    if (!workflow) {
      await fail(`Workflow "${workflowName}" is no longer registered on this server. Available workflows: ${deps.workflows.names().join(', ')}.`);
      return;
    }
    const project = await store.getProject(run.projectId);
    if (!project) {
      await fail(`The run's project (id ${run.projectId}) no longer exists.`);
      return;
    }
    const workspaceProblem = await prepareWorkspace(project);
    if (workspaceProblem) {
      await fail(workspaceProblem);
      return;
    }
    const workspace = new Workspace(project.localPath);

    await emit('WORKFLOW_STARTED', `Starting workflow ${workflow.name} v${workflow.version} (${workflow.steps.length} steps) in ${project.localPath}`, null, {
      workflow: workflow.name,
      version: workflow.version,
      steps: workflow.steps.map((s) => s.name),
      workspace: project.localPath,
    });

    const outputs = new Map<string, string>();
    const stepRuns = await store.listStepRuns(runId);
    const timeouts = { llmTimeoutSeconds: run.timeoutSeconds ?? 300, shellTimeoutSeconds: deps.shellTimeoutSeconds };

    for (const [index, definition] of workflow.steps.entries()) {
      const step = resolveStep(definition, run.models, timeouts);
      const attempt = (stepRuns.find((s) => s.index === index)?.attempt ?? 0) + 1;
      const position = `Step ${index + 1}/${workflow.steps.length}`;
      await store.updateStepRun(runId, index, { status: 'RUNNING', attempt, startedAt: new Date(), finishedAt: null, error: null, description: step.description });
      await emit('STEP_STARTED', `${position}: ${step.description}`, step.name, {
        index,
        type: step.type,
        attempt,
        ...(step.model ? { model: step.model } : {}),
        timeoutSeconds: step.timeoutMs / 1000,
      });

      const started = Date.now();
      const outcome = await runStep(deps, { runId, goal: run.goal, step, workspace, outputs, emit }, signal);
      const elapsed = Date.now() - started;

      if (outcome.ok) {
        if (outcome.result.output !== undefined) outputs.set(step.name, outcome.result.output);
        await store.updateStepRun(runId, index, { status: 'COMPLETED', finishedAt: new Date() });
        const summary = outcome.result.summary ?? step.description;
        await emit('STEP_COMPLETED', `${position} completed in ${seconds(elapsed)}: ${summary}`, step.name, {
          index,
          durationMs: elapsed,
          ...outcome.result.data,
        });
        continue;
      }

      const reason = outcome.reason;
      if (reason instanceof RunStoppedError || reason instanceof ServerShutdownError) {
        // Run control (stop) and shutdown recovery build on this; today only shutdown aborts a run.
        const message = `${step.description}: ${reason.message}. Create a new run to try again.`;
        await store.updateStepRun(runId, index, { status: 'FAILED', finishedAt: new Date(), error: message });
        await emit('STEP_FAILED', `${position} failed: ${message}`, step.name, { index, durationMs: elapsed, error: message });
        await skipRemaining(store, runId, index + 1, workflow.steps.length);
        await fail(`Step "${step.name}" was interrupted: ${reason.message}.`);
        return;
      }
      const message =
        reason instanceof StepTimeoutError
          ? `Step "${step.name}" timed out after ${seconds(reason.timeoutMs)}. ${timeoutAdvice(step)}`
          : reason.message;
      await store.updateStepRun(runId, index, { status: 'FAILED', finishedAt: new Date(), error: message });
      await emit('STEP_FAILED', `${position} failed: ${message}`, step.name, {
        index,
        durationMs: elapsed,
        error: message,
        retryable: reason instanceof StepError ? reason.retryable : true,
        ...(reason instanceof StepError ? reason.data : {}),
      });
      await skipRemaining(store, runId, index + 1, workflow.steps.length);
      await fail(`Step "${step.name}" failed: ${message}`);
      return;
    }

    const completed = await changeRunStatus(deps, run, { status: 'COMPLETED', finishedAt: new Date() });
    if (completed) run = completed;
    await emit('WORKFLOW_COMPLETED', `Workflow ${workflow.name} completed: ${workflow.steps.length} steps`, null, {
      workflow: workflow.name,
      durationMs: Date.now() - (run.startedAt?.getTime() ?? Date.now()),
    });
    logger.info(`run ${runId} completed`);
  } catch (error) {
    // A fault of the server itself (database gone, a bug): the run must still end in a defined state.
    logger.error(`run ${runId}: internal error`, error);
    try {
      await fail(`Internal error while running the workflow: ${coerceError(error).message}`);
    } catch (inner) {
      logger.error(`run ${runId}: could not record the failure`, inner);
    }
  }
}

async function prepareWorkspace(project: ProjectRecord): Promise<string | null> {
  try {
    await mkdir(project.localPath, { recursive: true });
    const info = await stat(project.localPath);
    if (!info.isDirectory()) return `The project folder ${project.localPath} is not a folder.`;
    return null;
  } catch (error) {
    return `The project folder ${project.localPath} cannot be created: ${coerceError(error).message}`;
  }
}

async function skipRemaining(store: RunStore, runId: number, from: number, count: number): Promise<void> {
  for (let index = from; index < count; index++) await store.updateStepRun(runId, index, { status: 'SKIPPED' });
}

type StepOutcome = { ok: true; result: Awaited<ReturnType<StepExecutor>> } | { ok: false; reason: Error };

/** Runs one step with its timeout and the run's signal; returns its result or why it failed. */
async function runStep(
  deps: RunnerDeps,
  input: {
    runId: number;
    goal: string;
    step: ResolvedStep;
    workspace: Workspace;
    outputs: ReadonlyMap<string, string>;
    emit: (type: EventType, message: string, stepName?: string | null, data?: Record<string, unknown>) => Promise<unknown>;
  },
  runSignal: AbortSignal,
): Promise<StepOutcome> {
  const { step } = input;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new StepTimeoutError(step.timeoutMs)), step.timeoutMs);
  const onRunAbort = () => controller.abort(runSignal.reason);
  if (runSignal.aborted) onRunAbort();
  else runSignal.addEventListener('abort', onRunAbort, { once: true });

  const context: StepContext = {
    runId: input.runId,
    goal: input.goal,
    step,
    workspace: input.workspace,
    outputs: input.outputs,
    settings: deps.settings,
    signal: controller.signal,
    emit: (type, message, data) => void input.emit(type, message, step.name, data),
    recordArtifact: async (relativePath, kind) => {
      const absolute = await input.workspace.resolve(relativePath);
      const { size } = await stat(absolute);
      const artifact = await deps.store.createArtifact({ runId: input.runId, stepName: step.name, kind, path: relativePath, sizeBytes: size });
      await input.emit('ARTIFACT_CREATED', `Created ${kind === 'COMMAND_OUTPUT' ? 'command output' : 'file'} ${relativePath} (${size} bytes)`, step.name, {
        artifactId: String(artifact.id),
        path: relativePath,
        kind,
        sizeBytes: size,
      });
      return artifact;
    },
  };

  try {
    const executor = deps.executors[step.type];
    const result = await executor(context);
    // A step that ignored its signal still fails if it was cut off.
    if (controller.signal.aborted) return { ok: false, reason: coerceError(controller.signal.reason) };
    return { ok: true, result };
  } catch (error) {
    const reason = controller.signal.aborted ? coerceError(controller.signal.reason) : coerceError(error);
    return { ok: false, reason };
  } finally {
    clearTimeout(timer);
    runSignal.removeEventListener('abort', onRunAbort);
  }
}
