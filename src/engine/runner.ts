import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventLog } from './event-log.js';
import { EventTally, type EventTallyResult } from './event-tally.js';
import type { PubSub } from './pubsub.js';
import { assertTransition } from './run-state.js';
import type { AgentDefaults } from './agent/settings.js';
import { ExpressionRuntimeError, type ExpressionValues } from './expressions.js';
import { expressionValues, renderStep, resolveStep } from './run-plan.js';
import type { AnyStepKind, StepKinds } from './steps/registry.js';
import type { RunPatch, RunStore } from './store.js';
import {
  RunStoppedError,
  ServerShutdownError,
  StepError,
  StepPausedError,
  StepTimeoutError,
  coerceError,
  type EventRecord,
  type EventType,
  type ProjectRecord,
  type ResolvedStep,
  type RunRecord,
  type RunStatus,
  type StepRunRecord,
  type StepContext,
  type StepResult,
  type StepSettings,
  type WorkflowDefinition,
} from './types.js';
import { Workspace } from './workspace.js';
import { checkWorkspaceFolder, type WorkspaceRulesOptions } from './workspace-rules.js';
import type { WorkflowRegistry } from './workflows/registry.js';

export interface Logger {
  info(message: string): void;
  error(message: string, error?: unknown): void;
}

export interface RunnerDeps {
  store: RunStore;
  eventLog: EventLog;
  pubsub: PubSub;
  /** Only for runs created before definitions were pinned to runs (they run the registered latest). */
  workflows: WorkflowRegistry;
  /** The kinds of step this server can run, with their executors. */
  kinds: StepKinds;
  settings: StepSettings;
  /** Default timeout of shell and Maven steps, in seconds. */
  shellTimeoutSeconds: number;
  /** The server's defaults for agent steps' limits. */
  agentDefaults: AgentDefaults;
  logger: Logger;
  /**
   * The workspace rules, checked again before a run's first step: a project folder swapped for a
   * link to a forbidden place since its project was created fails the run. Unset: not checked.
   */
  workspaceRules?: WorkspaceRulesOptions;
}

/** What the worker tells a run while it executes. */
export interface RunControl {
  /** Aborted by a stop (reason RunStoppedError) or by a shutdown past its grace (ServerShutdownError). */
  signal: AbortSignal;
  /** Asked between steps, and by long steps at their safe points: carry on, pause (pauseRun), or leave the run for recovery (shutdown). */
  atStepBoundary(): 'continue' | 'pause' | 'shutdown';
}

/** The error of a step record left PENDING by a pause inside the step (it is not a failure: the attempt goes on). */
const PAUSED_MARK = 'Paused inside the step; it continues from there when the run is resumed.';

/** A completed step's output kept in its record, for `{output:NAME}` after a pause or restart. */
const MAX_STORED_OUTPUT_CHARS = 1024 * 1024;

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

/**
 * Records an event; resolves with the stored record, or null if it could not be stored (logged, never
 * thrown into the run). `tally`, when given, learns which: the runner judges a step or a run by it.
 */
export function recordEvent(
  deps: Pick<RunnerDeps, 'eventLog' | 'logger'>,
  runId: number,
  type: EventType,
  message: string,
  stepName?: string | null,
  data?: Record<string, unknown>,
  tally?: EventTally,
): Promise<EventRecord | null> {
  const appended = deps.eventLog.append(runId, { type, message, stepName: stepName ?? null, data: data ?? null });
  tally?.track(appended);
  return appended.catch((error: unknown) => {
    deps.logger.error(`run ${runId}: could not record ${type}`, error);
    return null;
  });
}

/**
 * Ends a run as STOPPED: its unfinished steps are marked (the one cut off STOPPED, the rest SKIPPED),
 * then RUN_STOPPED. Returns null if the run had already left `run.status`.
 */
export async function recordStopped(
  deps: Pick<RunnerDeps, 'store' | 'pubsub' | 'eventLog' | 'logger'>,
  run: Pick<RunRecord, 'id' | 'status'>,
  message: string,
): Promise<RunRecord | null> {
  const stopped = await changeRunStatus(deps, run, { status: 'STOPPED', finishedAt: new Date() });
  if (!stopped) return null;
  const now = new Date();
  for (const step of await deps.store.listStepRuns(run.id)) {
    if (step.status === 'RUNNING') await deps.store.updateStepRun(run.id, step.index, { status: 'STOPPED', finishedAt: now, error: 'Stopped by request.' });
    if (step.status === 'PENDING') await deps.store.updateStepRun(run.id, step.index, { status: 'SKIPPED' });
  }
  await recordEvent(deps, run.id, 'RUN_STOPPED', message);
  deps.logger.info(`run ${run.id} stopped`);
  return stopped;
}

/** Whether another attempt may succeed: StepErrors say so; any other error may, unless it carries `retryable: false` (custom step types). */
function isRetryable(reason: Error): boolean {
  if (reason instanceof StepError) return reason.retryable;
  return (reason as { retryable?: unknown }).retryable !== false;
}

/** The exit code a command step reported in its result or failure data, if any. */
function exitCodeOf(data: Record<string, unknown> | undefined): number | null {
  return typeof data?.exitCode === 'number' ? data.exitCode : null;
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Math.round(ms / 100) / 10}s`;
}

/** The setting a user raises when a step of this kind times out. */
function timeoutAdvice(step: ResolvedStep): string {
  if (step.type === 'AGENT') return "Raise the run's options.agent.timeoutSeconds (or AGENT_TIMEOUT_SECONDS), or give the agent a smaller task.";
  if (step.timeoutSeconds !== undefined) return "Raise the step's timeoutSeconds in the workflow definition.";
  return step.type === 'LLM_GENERATE'
    ? "Raise the run's options.timeoutSeconds or OLLAMA_TIMEOUT_SECONDS, or use a smaller model."
    : "Raise SHELL_TIMEOUT_SECONDS or the step's timeoutSeconds.";
}

/** Who cut a model's answer short when a step timed out: this server, not Ollama. */
const LLM_TIMEOUT_CUT = ': agent-runner closed the connection to Ollama at the step\'s timeout (Ollama did not end it)';

function describeFailure(step: ResolvedStep, reason: Error): string {
  if (!(reason instanceof StepTimeoutError)) return reason.message;
  const cut = step.type === 'LLM_GENERATE' ? LLM_TIMEOUT_CUT : '';
  return `Step "${step.name}" timed out after ${seconds(reason.timeoutMs)}${cut}. ${timeoutAdvice(step)}`;
}

const label = (workflow: WorkflowDefinition, index: number): string => `step ${index + 1}/${workflow.steps.length} (${workflow.steps[index]?.name})`;

/**
 * Executes one claimed (RUNNING) run: the workflow's steps that have not completed yet, in order,
 * in the project's workspace, recording every step in the event log and the step records. Never
 * throws. The run ends COMPLETED or FAILED with its reason recorded; STOPPED when stopped; PAUSED at
 * a step boundary when a pause was asked for; or stays RUNNING when a shutdown cut it off, for
 * crash recovery to continue at the next start.
 */
export async function executeRun(deps: RunnerDeps, claimed: RunRecord, control: RunControl): Promise<void> {
  const { store, logger } = deps;
  const runId = claimed.id;
  let run = claimed;
  // The run's own events (steps' attempts have a tally each): a run whose log lost one is not COMPLETED.
  const events = new EventTally();
  const emit = (type: EventType, message: string, stepName?: string | null, data?: Record<string, unknown>) =>
    recordEvent(deps, runId, type, message, stepName, data, events);

  const fail = async (message: string): Promise<void> => {
    const failed = await changeRunStatus(deps, run, { status: 'FAILED', error: message, finishedAt: new Date() });
    if (failed) run = failed;
    await emit('WORKFLOW_FAILED', `Workflow failed: ${message}`, null, { error: message });
    logger.info(`run ${runId} failed: ${message}`);
  };

  try {
    const prepared = await prepareRun(deps, run);
    const workflowName = run.workflowName ?? (run.runType === 'AGENT' ? 'agent' : '');
    // Appended only now and not awaited: in the same turn as WORKFLOW_STARTED, so both are stored in
    // one commit (one fewer between a claim and the first step).
    void emit('WORKFLOW_LOOKUP', `Looking up workflow ${workflowName}`, null, { workflow: workflowName });
    if ('problem' in prepared) {
      await fail(prepared.problem);
      return;
    }
    const { workflow, project, stepRuns } = prepared;
    const workspace = new Workspace(project.localPath);

    let lastSummary: string | undefined;
    // What earlier steps produced, for `{output:NAME}` and `${{ steps.NAME.… }}`: from the records,
    // so a resumed, retried or recovered run sees the outputs of steps completed before.
    const steps: Record<string, ExpressionValues['steps'][string]> = {};
    for (const record of stepRuns) {
      if (record.status === 'COMPLETED') steps[record.name] = { output: record.output, outcome: 'success', exitCode: record.exitCode };
    }
    const values = expressionValues(run, workflow, project, steps);
    const completed = (index: number) => stepRuns.find((s) => s.index === index)?.status === 'COMPLETED';
    let first = 0;
    while (first < workflow.steps.length && completed(first)) first++;

    await emit(
      'WORKFLOW_STARTED',
      run.runType === 'AGENT'
        ? `${first === 0 && stepRuns[0]?.attempt === 0 ? 'Starting' : 'Continuing'} the agent in ${project.localPath}`
        : first === 0
        ? `Starting workflow ${workflow.name} v${workflow.version} (${workflow.steps.length} steps) in ${project.localPath}`
        : `Continuing workflow ${workflow.name} v${workflow.version} from ${label(workflow, first)} in ${project.localPath}; earlier steps already completed`,
      null,
      { workflow: workflow.name, version: workflow.version, steps: workflow.steps.map((s) => s.name), workspace: project.localPath, fromStep: workflow.steps[first]?.name ?? null },
    );

    const resolution = { llmTimeoutSeconds: run.timeoutSeconds ?? 300, shellTimeoutSeconds: deps.shellTimeoutSeconds, agentDefaults: deps.agentDefaults };
    for (let index = first; index < workflow.steps.length; index++) {
      if (control.signal.aborted) {
        await endInterrupted(coerceError(control.signal.reason), `before ${label(workflow, index)}`);
        return;
      }
      if (index > first) {
        const decision = control.atStepBoundary();
        if (decision === 'shutdown') {
          logger.info(`run ${runId}: left for recovery at ${label(workflow, index)} (server shutting down)`);
          return;
        }
        if (decision === 'pause') {
          const paused = await changeRunStatus(deps, run, { status: 'PAUSED' });
          if (paused) run = paused;
          await emit('RUN_PAUSED', `Paused after ${label(workflow, index - 1)}. Resume to continue with ${label(workflow, index)}.`, null, {
            nextStep: workflow.steps[index].name,
          });
          logger.info(`run ${runId} paused`);
          return;
        }
      }
      const step = resolveStep(workflow.steps[index], run, resolution);
      const record = stepRuns.find((s) => s.index === index);
      // A step paused at one of its own safe points goes on with the same attempt.
      const previousAttempts = Math.max(0, (record?.attempt ?? 0) - (record?.status === 'PENDING' && record.startedAt !== null && record.error === PAUSED_MARK ? 1 : 0));
      const outcome = await runStepWithRetries(deps, { runId, goal: run.goal, workflow, index, step, workspace, values, previousAttempts, events }, control);
      if (outcome.ok) {
        steps[step.name] = { output: outcome.result.output ?? null, outcome: 'success', exitCode: exitCodeOf(outcome.result.data) };
        lastSummary = outcome.result.summary;
        continue;
      }
      if (outcome.reason instanceof StepPausedError) {
        await store.updateStepRun(runId, index, { status: 'PENDING', error: PAUSED_MARK });
        const paused = await changeRunStatus(deps, run, { status: 'PAUSED' });
        if (paused) run = paused;
        await emit('RUN_PAUSED', `Paused ${outcome.reason.where} in ${label(workflow, index)}; its progress is kept. Resume to continue from there.`, step.name, {
          nextStep: step.name,
          where: outcome.reason.where,
        });
        logger.info(`run ${runId} paused inside step ${step.name}`);
        return;
      }
      if (outcome.reason instanceof RunStoppedError || outcome.reason instanceof ServerShutdownError) {
        await endInterrupted(outcome.reason, `during ${label(workflow, index)}`);
        return;
      }
      await skipRemaining(store, runId, index + 1, workflow.steps.length);
      await fail(`Step "${step.name}" failed: ${outcome.message}`);
      return;
    }

    const stored = await events.settled();
    if (stored.lost > 0) {
      await fail(`${stored.lost} of the run's events could not be stored, so its log is not whole: ${stored.reason}`);
      return;
    }
    const done = await changeRunStatus(deps, run, { status: 'COMPLETED', finishedAt: new Date() });
    if (done) run = done;
    const ending = run.runType === 'AGENT' ? `Agent run completed: ${lastSummary ?? 'done'}` : `Workflow ${workflow.name} completed: ${workflow.steps.length} steps`;
    await emit('WORKFLOW_COMPLETED', ending, null, {
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

  /** A stop ends the run STOPPED; a shutdown leaves it RUNNING for crash recovery. */
  async function endInterrupted(reason: Error, where: string): Promise<void> {
    if (reason instanceof ServerShutdownError) {
      logger.info(`run ${runId}: cut off ${where} by the shutdown; it continues at the next start`);
      return;
    }
    const stopped = await recordStopped(deps, run, `Run stopped by request ${where}.`);
    if (stopped) run = stopped;
  }
}

/** What a claimed run needs before its first step, or the reason it cannot start. */
async function prepareRun(
  deps: RunnerDeps,
  run: RunRecord,
): Promise<{ problem: string } | { workflow: WorkflowDefinition; project: ProjectRecord; stepRuns: StepRunRecord[] }> {
  const workflowName = run.workflowName ?? '';
  // The definition pinned when the run was created; runs older than pinning use what is registered.
  const workflow = run.definition ?? deps.workflows.get(workflowName)?.definition;
  if (!workflow) {
    return { problem: `Workflow "${workflowName}" is no longer registered on this server. Available workflows: ${deps.workflows.names().join(', ')}.` };
  }
  const project = await deps.store.getProject(run.projectId);
  if (!project) return { problem: `The run's project (id ${run.projectId}) no longer exists.` };
  const workspaceProblem = await prepareWorkspace(project, deps.workspaceRules);
  if (workspaceProblem) return { problem: workspaceProblem };
  return { workflow, project, stepRuns: await deps.store.listStepRuns(run.id) };
}

async function prepareWorkspace(project: ProjectRecord, rules: WorkspaceRulesOptions | undefined): Promise<string | null> {
  if (rules) {
    const check = await checkWorkspaceFolder(path.normalize(project.localPath), rules);
    if (!check.ok) return `The project folder can no longer be used as a workspace: ${check.problem} Create a project in another folder.`;
  }
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

interface StepInput {
  runId: number;
  goal: string;
  workflow: WorkflowDefinition;
  index: number;
  step: ResolvedStep;
  workspace: Workspace;
  /** What templates are rendered against (the run, its inputs, earlier steps' results). */
  values: ExpressionValues;
  /** Attempts recorded before this execution (a recovered step keeps counting). */
  previousAttempts: number;
  /** The run's own events (STEP_COMPLETED, STEP_RETRYING, STEP_FAILED are the run's, not an attempt's). */
  events: EventTally;
}

type StepOutcome = { ok: true; result: StepResult } | { ok: false; reason: Error; message: string };

/**
 * One step, tried up to its retry policy's attempts: records STEP_STARTED per attempt,
 * STEP_RETRYING between attempts, and STEP_COMPLETED or STEP_FAILED at the end. A stop or shutdown
 * is returned as it is, with nothing recorded, for the caller to end the run.
 */
async function runStepWithRetries(deps: RunnerDeps, input: StepInput, control: RunControl): Promise<StepOutcome> {
  const runSignal = control.signal;
  const { store } = deps;
  const { runId, workflow, index, step } = input;
  const emit = (type: EventType, message: string, data?: Record<string, unknown>) => recordEvent(deps, runId, type, message, step.name, data, input.events);
  const position = `Step ${index + 1}/${workflow.steps.length}`;
  const policy = step.retry ?? { maxAttempts: 1, backoffSeconds: 0, backoffFactor: 1 };
  const maxAttempts = Math.max(1, Math.floor(policy.maxAttempts));

  for (let attempt = 1; ; attempt++) {
    const ofMax = maxAttempts > 1 ? ` (attempt ${attempt} of ${maxAttempts})` : '';
    // Neither the record nor STEP_STARTED is waited for: the database has one connection, so they are
    // stored in the order they were issued, before anything the step writes (a reader who sees
    // STEP_STARTED finds the record RUNNING), and the step need not wait for their commits. A failure
    // to store the record is raised once the step has run.
    const markedRunning = store.updateStepRun(runId, index, {
      status: 'RUNNING',
      attempt: input.previousAttempts + attempt,
      startedAt: new Date(),
      finishedAt: null,
      error: null,
      description: step.description,
    });
    markedRunning.catch(() => undefined);
    // Everything this attempt records, STEP_STARTED first: it completes only if all of it was stored.
    const attemptEvents = new EventTally();
    void recordEvent(deps, runId, 'STEP_STARTED', `${position}: ${step.description}${ofMax}`, step.name, {
      index,
      type: step.type,
      attempt: input.previousAttempts + attempt,
      maxAttempts,
      ...(step.type === 'LLM_GENERATE' ? { model: step.model } : {}),
    ...(step.type === 'CUSTOM' ? { customType: step.customType } : {}),
      timeoutSeconds: step.timeoutMs / 1000,
    }, attemptEvents);

    const started = Date.now();
    let outcome = await runStep(deps, input, control, attemptEvents);
    const elapsed = Date.now() - started;
    await markedRunning;
    if (outcome.ok) {
      const stored = await attemptEvents.settled();
      if (stored.lost > 0) outcome = lostEvents(stored);
    }

    if (outcome.ok) {
      const output = outcome.result.output;
      // The record is waited for (the next step reads completed outputs from memory, but a restart
      // reads them from the records); STEP_COMPLETED is stored after it, in order, like STEP_STARTED.
      const recorded = store.updateStepRun(runId, index, {
        status: 'COMPLETED',
        finishedAt: new Date(),
        output: output === undefined ? null : output.slice(-MAX_STORED_OUTPUT_CHARS),
        exitCode: exitCodeOf(outcome.result.data),
      });
      void emit('STEP_COMPLETED', `${position} completed in ${seconds(elapsed)}: ${outcome.result.summary ?? step.description}`, {
        index,
        durationMs: elapsed,
        attempt: input.previousAttempts + attempt,
        ...outcome.result.data,
      });
      await recorded;
      return outcome;
    }
    if (outcome.reason instanceof RunStoppedError || outcome.reason instanceof ServerShutdownError || outcome.reason instanceof StepPausedError) return outcome;

    const retryable = isRetryable(outcome.reason);
    if (retryable && attempt < maxAttempts) {
      const waitSeconds = policy.backoffSeconds * policy.backoffFactor ** (attempt - 1);
      await store.updateStepRun(runId, index, { error: outcome.message });
      // The wait comes first: the reason may end with quoted command output.
      await emit('STEP_RETRYING', `${position}: attempt ${attempt} of ${maxAttempts} failed; retrying in ${waitSeconds}s. ${outcome.message}`, {
        index,
        attempt,
        maxAttempts,
        error: outcome.message,
        waitSeconds,
      });
      try {
        await sleep(waitSeconds * 1000, undefined, { signal: runSignal });
      } catch {
        return { ok: false, reason: coerceError(runSignal.reason), message: coerceError(runSignal.reason).message };
      }
      continue;
    }

    const attempts = attempt > 1 ? ` after ${attempt} attempts` : '';
    const failureData = outcome.reason instanceof StepError ? outcome.reason.data : undefined;
    await store.updateStepRun(runId, index, { status: 'FAILED', finishedAt: new Date(), error: outcome.message, exitCode: exitCodeOf(failureData) });
    await emit('STEP_FAILED', `${position} failed${attempts}: ${outcome.message}`, {
      index,
      durationMs: elapsed,
      error: outcome.message,
      attempts: attempt,
      retryable,
      ...failureData,
    });
    return outcome;
  }
}

/**
 * A step attempt that lost an event fails: its streamed text or output in the log
 * would have a hole no client can see (seq stays gapless). Retryable: the database may be free again.
 */
function lostEvents({ lost, reason }: EventTallyResult): StepOutcome {
  const message = `${lost} of the step's events could not be stored (${reason}), so what the step recorded is not whole; it is not marked completed.`;
  return { ok: false, reason: new StepError(message, { retryable: true }), message };
}

/** Runs one attempt of a step with its timeout and the run's signal; returns its result or why it failed. */
async function runStep(deps: RunnerDeps, input: StepInput, control: RunControl, events: EventTally): Promise<StepOutcome> {
  const { step } = input;
  const runSignal = control.signal;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new StepTimeoutError(step.timeoutMs)), step.timeoutMs);
  const onRunAbort = () => controller.abort(runSignal.reason);
  if (runSignal.aborted) onRunAbort();
  else runSignal.addEventListener('abort', onRunAbort, { once: true });
  const emit = (type: EventType, message: string, data?: Record<string, unknown>) => recordEvent(deps, input.runId, type, message, step.name, data, events);

  const failed = (reason: Error): StepOutcome => ({ ok: false, reason, message: describeFailure(step, reason) });
  let rendered: ReturnType<typeof renderStep>;
  let kind: AnyStepKind;
  try {
    kind = deps.kinds.kindOf(step);
    rendered = renderStep(step, kind, input.values);
  } catch (error) {
    clearTimeout(timer);
    runSignal.removeEventListener('abort', onRunAbort);
    const reason = error instanceof ExpressionRuntimeError ? new StepError(error.message, { retryable: false }) : coerceError(error);
    return failed(reason);
  }
  const context: StepContext = {
    runId: input.runId,
    goal: input.goal,
    step: rendered.step,
    env: rendered.env,
    workspace: input.workspace,
    outputs: new Map(Object.entries(input.values.steps).flatMap(([name, s]) => (s.output === null ? [] : [[name, s.output]]))),
    settings: deps.settings,
    signal: controller.signal,
    checkpoint: () => control.atStepBoundary(),
    memory: {
      load: () => deps.store.loadConversation(input.runId, step.name),
      append: (message) => deps.store.appendConversation(input.runId, step.name, message),
      takeDirectives: () => deps.store.takeDirectives(input.runId, step.name, new Date()),
    },
    emit: (type, message, data) => void emit(type, message, data),
    log: (message, data) => void emit('STEP_LOG', message, data),
    recordArtifact: async (relativePath, kind) => {
      const absolute = await input.workspace.resolve(relativePath);
      const { size } = await stat(absolute);
      const artifact = await deps.store.createArtifact({ runId: input.runId, stepName: step.name, kind, path: relativePath, sizeBytes: size });
      await emit('ARTIFACT_CREATED', `Created ${kind === 'COMMAND_OUTPUT' ? 'command output' : 'file'} ${relativePath} (${size} bytes)`, {
        artifactId: String(artifact.id),
        path: relativePath,
        kind,
        sizeBytes: size,
      });
      return artifact;
    },
  };

  try {
    const result = await kind.execute(context);
    // A step that ignored its signal still fails if it was cut off.
    if (controller.signal.aborted) return failed(coerceError(controller.signal.reason));
    return { ok: true, result };
  } catch (error) {
    return failed(controller.signal.aborted ? coerceError(controller.signal.reason) : coerceError(error));
  } finally {
    clearTimeout(timer);
    runSignal.removeEventListener('abort', onRunAbort);
  }
}
