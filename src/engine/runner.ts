/**
 * Executing a claimed run: the steps of its pinned definition as a graph (`needs`, or file order),
 * as many at once as the workflow's maxParallel and the server allow, each decided by its condition
 * (`if`), loops run iteration by iteration, and the run ended COMPLETED, FAILED, PAUSED or STOPPED
 * with every step's record and events saying what happened. Steps themselves: step-execution.ts.
 *
 * Failure semantics (GitHub Actions' for jobs, written down):
 * - A step that fails (not continueOnError) fails the run once the steps already running have
 *   finished (with failFast: they are stopped at once). No other step starts, except those whose
 *   `if` calls a status function (always(), failure(), cancelled()): cleanup and report steps.
 * - A step whose needs failed is SKIPPED unless its `if` asks for failure; a step whose `if` is false
 *   is SKIPPED. A skipped step does not skip the steps after it (their needs are done).
 * - continueOnError: the step is FAILED, its outcome failure, its conclusion success: the run goes on.
 * - Pause: no new step starts; the run pauses when the running ones have finished.
 * - Stop: every running step is cut off at once (its processes killed); the run ends STOPPED.
 */
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { EventLog } from './event-log.js';
import { EventTally } from './event-tally.js';
import type { EventDataArgument, LoopPlace } from './events.js';
import {
  ExpressionRuntimeError,
  callsStatusFunction,
  conditionSource,
  evaluateCondition,
  renderTemplate,
  type ExpressionValues,
  type StepOutcome as Outcome,
  type StepValues,
} from './expressions.js';
import { ancestorsByName, needsByName } from './graph.js';
import type { PubSub } from './pubsub.js';
import { assertTransition } from './run-state.js';
import type { AgentDefaults } from './agent/settings.js';
import { describeStep, expressionValues, resolveStep, type StepResolution } from './run-plan.js';
import { FailFastError, MAX_STORED_OUTPUT_CHARS, executeStep, exitCodeOf, recordEvent, seconds, type Logger, type StepExecutionDeps } from './step-execution.js';
import type { RunPatch, RunStore } from './store.js';
import {
  RunStoppedError,
  ServerShutdownError,
  StepError,
  StepPausedError,
  coerceError,
  type EventType,
  type LoopStep,
  type ProjectRecord,
  type RunRecord,
  type RunStatus,
  type StepRunRecord,
  type WorkflowDefinition,
  type WorkflowStepDefinition,
} from './types.js';
import { Workspace } from './workspace.js';
import { checkWorkspaceFolder, type WorkspaceRulesOptions } from './workspace-rules.js';
import type { WorkflowRegistry } from './workflows/registry.js';

export { recordEvent } from './step-execution.js';
export type { Logger } from './step-execution.js';

export interface RunnerDeps extends StepExecutionDeps {
  pubsub: PubSub;
  /** Only for runs created before definitions were pinned to runs (they run the registered latest). */
  workflows: WorkflowRegistry;
  /** Default timeout of shell and Maven steps, in seconds. */
  shellTimeoutSeconds: number;
  /** Steps of one run that may run at once, whatever the workflow says (MAX_PARALLEL_STEPS). */
  maxParallelSteps: number;
  /** The server's defaults for agent steps' limits. */
  agentDefaults: AgentDefaults;
  /**
   * The workspace rules, checked again before a run's first step: a project folder swapped for a
   * link to a forbidden place since its project was created fails the run. Unset: not checked.
   */
  workspaceRules?: WorkspaceRulesOptions;
}

/** What the run's owner (run control) tells an executing run. */
export interface RunControl {
  /** Aborted by a stop (reason RunStoppedError) or by a shutdown past its grace (ServerShutdownError). */
  signal: AbortSignal;
  /** Whether the run should start no new step now: a pause was asked (a resume may still cancel it), or the server shuts down. */
  holding(): 'continue' | 'pause' | 'shutdown';
  /** Where the run (or a long step, at a safe point) would stop: commits a requested pause, too late to cancel from then on. */
  atStepBoundary(): 'continue' | 'pause' | 'shutdown';
}

/** The error of a step record left PENDING by a pause inside the step (not a failure: it goes on from there). */
export const PAUSED_MARK = 'Paused inside the step; it continues from there when the run is resumed.';

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
 * Ends a run as STOPPED: its unfinished steps are marked (those cut off STOPPED, the rest SKIPPED),
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
    if (step.status === 'PENDING') await deps.store.updateStepRun(run.id, step.index, { status: 'SKIPPED', skippedReason: RUN_ENDED_SKIP_REASONS.stopped });
  }
  await recordEvent(deps, run.id, 'RUN_STOPPED', message);
  deps.logger.info(`run ${run.id} stopped`);
  return stopped;
}

/**
 * Executes one claimed (RUNNING) run: the steps of its definition that have not completed yet, in
 * the project's workspace, recording every step in the event log and the step records. Never
 * throws. The run ends COMPLETED or FAILED with its reason recorded; STOPPED when stopped; PAUSED
 * when a pause was asked for and the running steps finished; or stays RUNNING when a shutdown cut
 * it off, for crash recovery to continue at the next start.
 */
export async function executeRun(deps: RunnerDeps, claimed: RunRecord, control: RunControl): Promise<void> {
  const { logger } = deps;
  const runId = claimed.id;
  let run = claimed;
  // The run's own events (steps' attempts have a tally each): a run whose log lost one is not COMPLETED.
  const events = new EventTally();
  const emit = <T extends EventType>(type: T, message: string, stepName?: string | null, data?: EventDataArgument<T>) =>
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
    const first = workflow.steps.findIndex((step) => stepRuns.find((r) => r.name === step.name && r.iteration === null)?.status !== 'COMPLETED');
    await emit(
      'WORKFLOW_STARTED',
      run.runType === 'AGENT'
        ? `${first <= 0 && (stepRuns[0]?.attempt ?? 0) === 0 ? 'Starting' : 'Continuing'} the agent in ${project.localPath}`
        : first <= 0
        ? `Starting workflow ${workflow.name} v${workflow.version} (${workflow.steps.length} steps) in ${project.localPath}`
        : `Continuing workflow ${workflow.name} v${workflow.version} from ${label(workflow, first)} in ${project.localPath}; earlier steps already completed`,
      null,
      {
        workflow: workflow.name,
        version: workflow.version,
        steps: workflow.steps.map((s) => s.name),
        workspace: project.localPath,
        fromStep: first === -1 ? null : (workflow.steps[first]?.name ?? null),
      },
    );

    const execution = new RunExecution(deps, run, workflow, project, stepRuns, control, events);
    for (;;) {
      const outcome = await execution.runList(workflow.steps, execution.topScope());
      switch (outcome.kind) {
        case 'completed': {
          const stored = await events.settled();
          if (stored.lost > 0) return await fail(`${stored.lost} of the run's events could not be stored, so its log is not whole: ${stored.reason}`);
          const done = await changeRunStatus(deps, run, { status: 'COMPLETED', finishedAt: new Date() });
          if (done) run = done;
          const ending = run.runType === 'AGENT' ? `Agent run completed: ${execution.lastSummary ?? 'done'}` : `Workflow ${workflow.name} completed: ${workflow.steps.length} steps`;
          await emit('WORKFLOW_COMPLETED', ending, null, {
            workflow: workflow.name,
            durationMs: Date.now() - (run.startedAt?.getTime() ?? Date.now()),
          });
          logger.info(`run ${runId} completed`);
          return;
        }
        case 'failed':
          await execution.skipPending(RUN_ENDED_SKIP_REASONS.failed);
          return await fail(outcome.message);
        case 'interrupted': {
          if (outcome.reason instanceof ServerShutdownError) {
            const next = deps.store.leases ? 'another instance continues it now (its lease is given up)' : 'it continues at the next start';
            logger.info(`run ${runId}: cut off ${execution.where()} by the shutdown; ${next}`);
            return;
          }
          if (outcome.reason instanceof RunStoppedError) {
            const stopped = await recordStopped(deps, run, `Run stopped by request ${execution.where()}.`);
            if (stopped) run = stopped;
            return;
          }
          // A pause: asked and not cancelled meanwhile (a resume may have come while steps finished).
          const decision = control.atStepBoundary();
          if (decision === 'continue') continue;
          if (decision === 'shutdown') {
            logger.info(`run ${runId}: left for recovery (server shutting down)`);
            return;
          }
          const paused = await changeRunStatus(deps, run, { status: 'PAUSED' });
          if (paused) run = paused;
          await emit('RUN_PAUSED', execution.pausedMessage(), execution.pausedStep(), { nextStep: execution.nextStep(), ...execution.pausedWhere() });
          logger.info(`run ${runId} paused`);
          return;
        }
      }
    }
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

/** How a list of steps (or one step) ended. */
type ListOutcome =
  | { kind: 'completed' }
  | { kind: 'failed'; message: string }
  /** Stopped, shut down or paused before it finished: the reason says which; its records say where. */
  | { kind: 'interrupted'; reason: Error };

/** The list a step belongs to: the workflow's, or a loop's in one iteration. */
interface Scope {
  loop: { step: LoopStep; iteration: number; maxIterations: number } | null;
  maxParallel: number;
  /** Whether the run has a failure outside this list (a loop stops iterating then). */
  outerFailing: () => boolean;
}

/** What became of a step in this execution. */
type StepState = { status: 'pending' } | { status: 'running' } | { status: 'done'; conclusion: Outcome };

/** Why a run cannot finish a list: a pause asked for (the running steps finish first). */
class PauseRequested extends Error {
  constructor() {
    super('a pause was asked for');
    this.name = 'PauseRequested';
  }
}

const isInterruption = (reason: Error): boolean =>
  reason instanceof RunStoppedError || reason instanceof ServerShutdownError || reason instanceof FailFastError || reason instanceof StepPausedError;

/** One execution of a run: its records and results so far, and the scheduler over its step lists. */
class RunExecution {
  private readonly records: StepRunRecord[];
  private readonly values: Record<string, StepValues> = {};
  private readonly workspace: Workspace;
  private readonly resolution: StepResolution;
  /** A step that paused at one of its own safe points (an agent before its next model call), and where. */
  private pausedInside: { step: string; where: string } | null = null;
  /** Aborted by failFast: the steps running at that moment end at once (those started later do not see it). */
  private readonly halt = new AbortController();
  private firstFailure: { step: string; message: string } | null = null;
  /** The summary of the last step that completed (an agent run ends with its agent's). */
  lastSummary: string | undefined;
  private lastFinished: string | null = null;

  constructor(
    private readonly deps: RunnerDeps,
    private readonly run: RunRecord,
    private readonly workflow: WorkflowDefinition,
    private readonly project: ProjectRecord,
    records: StepRunRecord[],
    private readonly control: RunControl,
    private readonly events: EventTally,
  ) {
    this.records = [...records];
    this.workspace = new Workspace(project.localPath);
    this.resolution = { llmTimeoutSeconds: run.timeoutSeconds ?? 300, shellTimeoutSeconds: deps.shellTimeoutSeconds, agentDefaults: deps.agentDefaults };
    // What steps produced before (a resumed, retried or recovered run): for `steps.NAME.…` and `{output:NAME}`.
    for (const record of this.records) {
      const value = valuesOfRecord(record, findStep(workflow.steps, record.name));
      if (value) this.values[record.name] = value;
    }
  }

  topScope(): Scope {
    const limit = Math.min(this.workflow.maxParallel ?? this.deps.maxParallelSteps, this.deps.maxParallelSteps);
    return { loop: null, maxParallel: Math.max(1, limit), outerFailing: () => false };
  }

  private emit<T extends EventType>(type: T, message: string, stepName?: string | null, data?: EventDataArgument<T>) {
    return recordEvent(this.deps, this.run.id, type, message, stepName, data, this.events);
  }

  private recordOf(name: string, iteration: number | null): StepRunRecord | undefined {
    return this.records.find((r) => r.name === name && r.iteration === iteration);
  }

  private async update(record: StepRunRecord, patch: Parameters<RunStore['updateStepRun']>[2]): Promise<void> {
    Object.assign(record, patch);
    await this.deps.store.updateStepRun(this.run.id, record.index, patch);
  }

  private expressionValues(scope: Scope): ExpressionValues {
    const values = expressionValues(this.run, this.workflow, { name: this.project.name, localPath: this.project.localPath }, { ...this.values });
    return scope.loop ? { ...values, loop: { iteration: scope.loop.iteration, maxIterations: scope.loop.maxIterations } } : values;
  }

  /**
   * Runs a list of steps as a graph: a step starts when its needs are done and a slot is free; its
   * condition decides whether it runs or is SKIPPED. Resolves when every step of the list is done,
   * or when it must stop (stopped, shut down, paused) once its running steps have ended.
   */
  async runList(steps: readonly WorkflowStepDefinition[], scope: Scope): Promise<ListOutcome> {
    const iteration = scope.loop?.iteration ?? null;
    const needs = needsByName(steps);
    const ancestors = ancestorsByName(steps);
    const states = new Map<string, StepState>();
    let failure: { step: string; message: string } | null = null;
    for (const step of steps) {
      const record = this.recordOf(step.name, iteration);
      const conclusion = record ? doneConclusion(record, step) : null;
      states.set(step.name, conclusion ? { status: 'done', conclusion } : { status: 'pending' });
      if (record?.status === 'FAILED' && !step.continueOnError) failure ??= { step: step.name, message: record.error ?? 'it failed' };
    }
    const running = new Map<string, Promise<void>>();
    let interruption: Error | null = null;

    const failing = () => failure !== null || scope.outerFailing();
    const start = (step: WorkflowStepDefinition, index: number) => {
      states.set(step.name, { status: 'running' });
      const run = (async () => {
        const result = step.type === 'LOOP' ? await this.runLoop(step, index, steps.length, scope, failing) : await this.runStep(step, index, steps.length, scope);
        running.delete(step.name);
        this.lastFinished = step.name;
        if (result.kind === 'interrupted') {
          if (result.reason instanceof FailFastError) {
            states.set(step.name, { status: 'done', conclusion: 'cancelled' });
            return;
          }
          states.set(step.name, { status: 'pending' });
          interruption ??= result.reason;
          return;
        }
        if (result.kind === 'failed' && !step.continueOnError) {
          failure ??= { step: step.name, message: result.message };
          this.firstFailure ??= { step: step.name, message: result.message };
          if (this.workflow.failFast) this.halt.abort(new FailFastError(step.name));
        }
        states.set(step.name, { status: 'done', conclusion: this.values[step.name]?.conclusion ?? 'failure' });
      })();
      running.set(step.name, run);
    };

    for (;;) {
      if (this.control.signal.aborted) interruption ??= coerceError(this.control.signal.reason);
      const hold = this.control.holding();
      let progressed = false;
      if (interruption === null) {
        for (const [index, step] of steps.entries()) {
          if (states.get(step.name)?.status !== 'pending') continue;
          const stepNeeds = needs.get(step.name) ?? [];
          if (!stepNeeds.every((need) => states.get(need)?.status === 'done')) continue;
          const decision = this.decide(step, stepNeeds, ancestors.get(step.name) ?? new Set(), states, failing(), failure ?? this.firstFailure, scope);
          if ('skip' in decision) {
            await this.skip(step, iteration, { reason: decision.skip, byCondition: step.if !== undefined }, scope);
            states.set(step.name, { status: 'done', conclusion: 'skipped' });
            progressed = true;
            continue;
          }
          if ('fail' in decision) {
            await this.failUnstarted(step, iteration, decision.fail, scope);
            states.set(step.name, { status: 'done', conclusion: step.continueOnError ? 'success' : 'failure' });
            if (!step.continueOnError) failure ??= { step: step.name, message: decision.fail };
            progressed = true;
            continue;
          }
          if (hold !== 'continue' || running.size >= scope.maxParallel) continue;
          start(step, index);
          progressed = true;
        }
      }
      if (progressed) continue;
      if (running.size > 0) {
        await Promise.race(running.values());
        continue;
      }
      if (interruption !== null) return { kind: 'interrupted', reason: interruption };
      if (failure !== null) return { kind: 'failed', message: `Step "${failure.step}" failed: ${failure.message}` };
      const pending = steps.some((step) => states.get(step.name)?.status === 'pending');
      if (!pending) return { kind: 'completed' };
      if (hold === 'shutdown') return { kind: 'interrupted', reason: new ServerShutdownError() };
      if (hold === 'pause') return { kind: 'interrupted', reason: new PauseRequested() };
      // Pending steps whose needs can never be done: a fault of the definition the checks should have caught.
      return { kind: 'failed', message: `Internal error: steps ${steps.filter((s) => states.get(s.name)?.status === 'pending').map((s) => s.name).join(', ')} could not start` };
    }
  }

  /**
   * Whether a ready step runs, is skipped (and why), or fails because its condition cannot be
   * evaluated. Its `if` decides when it has one (a condition without a status function runs only
   * while nothing it depends on failed, as GitHub Actions' `success() && …`); without one, it is
   * skipped when a step it needs failed or the run is failing.
   */
  private decide(
    step: WorkflowStepDefinition,
    stepNeeds: string[],
    ancestors: Set<string>,
    states: Map<string, StepState>,
    runFailing: boolean,
    failure: { step: string } | null,
    scope: Scope,
  ): { run: true } | { skip: string } | { fail: string } {
    const failedAncestor = [...ancestors].find((name) => {
      const state = states.get(name);
      return state?.status === 'done' && (state.conclusion === 'failure' || state.conclusion === 'cancelled');
    });
    const failed = failedAncestor !== undefined || runFailing;
    const becauseOf = failedAncestor ?? failure?.step;
    if (step.if === undefined) {
      const failedNeed = stepNeeds.find((need) => {
        const state = states.get(need);
        return state?.status === 'done' && (state.conclusion === 'failure' || state.conclusion === 'cancelled');
      });
      if (failedNeed) return { skip: `step "${failedNeed}", which it needs, did not succeed` };
      if (failed) return { skip: `the run failed at step "${becauseOf}"` };
      return { run: true };
    }
    const withStatus = callsStatusFunction(step.if);
    if (!withStatus && failed) return { skip: `the run failed at step "${becauseOf}" (its condition has no failure() or always())` };
    try {
      const holds = evaluateCondition(step.if, this.expressionValues(scope), { failed, cancelled: false });
      return holds ? { run: true } : { skip: `its condition \${{ ${conditionSource(step.if).trim()} }} is false` };
    } catch (error) {
      // A condition that cannot be evaluated is a failure of the step, not a silent skip.
      return { fail: `Its condition could not be evaluated: ${coerceError(error).message}` };
    }
  }

  /** A step that failed before it could start (its condition could not be evaluated). */
  private async failUnstarted(step: WorkflowStepDefinition, iteration: number | null, message: string, scope: Scope): Promise<void> {
    const record = this.recordOf(step.name, iteration);
    this.values[step.name] = { output: null, outcome: 'failure', conclusion: step.continueOnError ? 'success' : 'failure', exitCode: null };
    if (record) await this.update(record, { status: 'FAILED', error: message, finishedAt: new Date() });
    this.firstFailure ??= { step: step.name, message };
    await this.emit('STEP_FAILED', `Step "${step.name}"${inLoop(scope)} failed: ${message}`, step.name, { error: message, retryable: false, ...lifecycleData(scope) });
  }

  /**
   * Marks a step SKIPPED with its reason. A step skipped by its own condition gets a STEP_SKIPPED
   * event; one skipped because of a failure does not (WORKFLOW_FAILED, or the failed step's event,
   * already tells that story; its record says why).
   */
  private async skip(step: WorkflowStepDefinition, iteration: number | null, skip: { reason: string; byCondition: boolean }, scope: Scope): Promise<void> {
    const record = this.recordOf(step.name, iteration);
    const reason = skip.reason;
    this.values[step.name] = { output: null, outcome: 'skipped', conclusion: 'skipped', exitCode: null };
    if (record) await this.update(record, { status: 'SKIPPED', skippedReason: reason, finishedAt: new Date() });
    if (!skip.byCondition) return;
    await this.emit('STEP_SKIPPED', `Skipped step "${step.name}"${inLoop(scope)}: ${reason}.`, step.name, {
      reason,
      ...(step.if !== undefined ? { condition: step.if } : {}),
      ...lifecycleData(scope),
    });
  }

  /** A step (not a loop): its record, its attempts; its result kept for later steps. */
  private async runStep(step: WorkflowStepDefinition, index: number, count: number, scope: Scope): Promise<ListOutcome> {
    const iteration = scope.loop?.iteration ?? null;
    const record = this.recordOf(step.name, iteration);
    if (!record) return { kind: 'failed', message: `Internal error: step "${step.name}" has no record` };
    const resolved = resolveStep(step, this.run, this.resolution);
    // A step paused at one of its own safe points goes on with the same attempt.
    const pausedInside = record.status === 'PENDING' && record.error === PAUSED_MARK;
    const previousAttempts = Math.max(0, record.attempt - (pausedInside ? 1 : 0));
    // As executeStep records it: an interrupted step is left RUNNING, for recovery to find.
    Object.assign(record, { status: 'RUNNING', error: null, skippedReason: null });
    const outcome = await executeStep(
      this.deps,
      {
        runId: this.run.id,
        goal: this.run.goal,
        step: resolved,
        index: record.index,
        position: `Step ${index + 1}/${count}${inLoop(scope)}`,
        lifecycleData: lifecycleData(scope),
        workspace: this.workspace,
        values: () => this.expressionValues(scope),
        previousAttempts,
        events: this.events,
        checkpoint: () => this.control.atStepBoundary(),
        // After a failFast halt, steps still started (cleanup: always()) see only a stop.
        signal: this.halt.signal.aborted ? this.control.signal : AbortSignal.any([this.control.signal, this.halt.signal]),
      },
      isInterruption,
    );
    if (outcome.ok) {
      this.lastSummary = outcome.result.summary;
      const output = outcome.result.output ?? null;
      Object.assign(record, { status: 'COMPLETED', output: output?.slice(-MAX_STORED_OUTPUT_CHARS) ?? null, exitCode: exitCodeOf(outcome.result.data) });
      this.values[step.name] = { output, outcome: 'success', conclusion: 'success', exitCode: exitCodeOf(outcome.result.data) };
      return { kind: 'completed' };
    }
    if (outcome.reason instanceof FailFastError) {
      await this.update(record, { status: 'STOPPED', finishedAt: new Date(), error: `Stopped: step "${outcome.reason.failedStep}" failed and the workflow has failFast.` });
      this.values[step.name] = { output: null, outcome: 'cancelled', conclusion: 'cancelled', exitCode: null };
      return { kind: 'interrupted', reason: outcome.reason };
    }
    if (outcome.reason instanceof StepPausedError) {
      await this.update(record, { status: 'PENDING', error: PAUSED_MARK });
      this.pausedInside = { step: step.name, where: outcome.reason.where };
      return { kind: 'interrupted', reason: new PauseRequested() };
    }
    if (isInterruption(outcome.reason)) return { kind: 'interrupted', reason: outcome.reason };
    const failureOutput = outputOfFailure(outcome.reason);
    const exitCode = exitCodeOf((outcome.reason as { data?: Record<string, unknown> }).data);
    Object.assign(record, { status: 'FAILED', error: outcome.message, exitCode });
    this.values[step.name] = { output: failureOutput, outcome: 'failure', conclusion: step.continueOnError ? 'success' : 'failure', exitCode };
    return { kind: 'failed', message: outcome.message };
  }

  /** A loop: iterations of its steps until `until` holds (COMPLETED) or maxIterations ran (FAILED). */
  private async runLoop(loop: LoopStep, index: number, count: number, scope: Scope, outerFailing: () => boolean): Promise<ListOutcome> {
    const record = this.recordOf(loop.name, null);
    if (!record) return { kind: 'failed', message: `Internal error: loop "${loop.name}" has no record` };
    const position = `Step ${index + 1}/${count}`;
    const started = Date.now();
    const failLoop = async (message: string): Promise<ListOutcome> => {
      await this.update(record, { status: 'FAILED', finishedAt: new Date(), error: message });
      this.values[loop.name] = { output: null, outcome: 'failure', conclusion: loop.continueOnError ? 'success' : 'failure', exitCode: null };
      await this.emit('STEP_FAILED', `${position} failed: ${message}`, loop.name, { index: record.index, error: message, durationMs: Date.now() - started });
      return { kind: 'failed', message };
    };

    let maxIterations: number;
    try {
      maxIterations = this.maxIterationsOf(loop, scope);
    } catch (error) {
      return failLoop(coerceError(error).message);
    }
    const done = this.records.filter((r) => r.loop === loop.name).reduce((max, r) => Math.max(max, r.iteration ?? 0), 0);
    const resumed = record.attempt > 0;
    await this.update(record, { status: 'RUNNING', attempt: Math.max(1, record.attempt), startedAt: record.startedAt ?? new Date(), finishedAt: null, error: null, skippedReason: null });
    await this.emit('STEP_STARTED', `${position}: ${loop.description}${resumed ? ` (continuing at iteration ${Math.max(1, done)})` : ''}`, loop.name, {
      index: record.index,
      type: 'LOOP',
      maxIterations,
      ...(resumed ? { continuing: true, iteration: Math.max(1, done) } : {}),
    });

    for (let iteration = Math.max(1, done); ; iteration++) {
      if (iteration > 1 && iteration > done && outerFailing()) {
        const message = `it stopped before iteration ${iteration}: the run failed at step "${this.firstFailure?.step}"`;
        await this.update(record, { status: 'STOPPED', finishedAt: new Date(), error: message });
        this.values[loop.name] = { output: null, outcome: 'cancelled', conclusion: 'cancelled', exitCode: null };
        return { kind: 'failed', message };
      }
      const inner: Scope = { loop: { step: loop, iteration, maxIterations }, maxParallel: Math.max(1, Math.min(loop.maxParallel ?? scope.maxParallel, this.deps.maxParallelSteps)), outerFailing };
      if (!this.records.some((r) => r.loop === loop.name && r.iteration === iteration)) {
        const created = await this.deps.store.appendStepRuns(
          this.run.id,
          loop.steps.map((step) => ({
            name: step.name,
            type: step.type,
            typeName: step.type === 'CUSTOM' ? step.customType : step.type,
            description: describeStep(step, this.run.models),
            loop: loop.name,
            iteration,
          })),
        );
        this.records.push(...created);
        await this.emit('LOOP_ITERATION_STARTED', `Loop "${loop.name}": iteration ${iteration} of at most ${maxIterations}`, loop.name, { loop: loop.name, iteration, maxIterations });
      }
      const outcome = await this.runList(loop.steps, inner);
      if (outcome.kind === 'interrupted') {
        if (outcome.reason instanceof FailFastError) {
          await this.update(record, { status: 'STOPPED', finishedAt: new Date(), error: `Stopped: step "${outcome.reason.failedStep}" failed and the workflow has failFast.` });
          this.values[loop.name] = { output: null, outcome: 'cancelled', conclusion: 'cancelled', exitCode: null };
        } else if (outcome.reason instanceof PauseRequested) {
          await this.update(record, { status: 'PENDING' });
        }
        return outcome;
      }
      if (outcome.kind === 'failed') return failLoop(`iteration ${iteration}: ${outcome.message}`);

      let holds: boolean;
      try {
        holds = evaluateCondition(loop.until, this.expressionValues(inner), { failed: false, cancelled: false });
      } catch (error) {
        return failLoop(error instanceof ExpressionRuntimeError ? error.message : coerceError(error).message);
      }
      const until = `\${{ ${conditionSource(loop.until).trim()} }}`;
      await this.emit('LOOP_ITERATION_COMPLETED', `Loop "${loop.name}": iteration ${iteration} done; ${until} ${holds ? 'holds' : 'does not hold yet'}`, loop.name, {
        loop: loop.name,
        iteration,
        maxIterations,
        until: holds,
      });
      if (holds) {
        await this.update(record, { status: 'COMPLETED', finishedAt: new Date(), output: null });
        this.values[loop.name] = { output: null, outcome: 'success', conclusion: 'success', exitCode: null };
        const elapsed = Date.now() - started;
        await this.emit('STEP_COMPLETED', `${position} completed in ${seconds(elapsed)}: ${until} held after ${iteration} iteration${iteration === 1 ? '' : 's'}`, loop.name, {
          index: record.index,
          durationMs: elapsed,
          iterations: iteration,
        });
        return { kind: 'completed' };
      }
      if (iteration >= maxIterations) {
        return failLoop(`loop "${loop.name}" ran its ${maxIterations} iteration${maxIterations === 1 ? '' : 's'} and ${until} never held. Raise maxIterations, or look at the last iteration's steps.`);
      }
    }
  }

  private maxIterationsOf(loop: LoopStep, scope: Scope): number {
    if (typeof loop.maxIterations === 'number') return loop.maxIterations;
    const values = this.expressionValues(scope);
    // An expression: ${{ inputs.maxTries }} (a condition's evaluator gives its value as text here).
    const text = evaluateToText(loop.maxIterations, values);
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1 || value > 1000) {
      throw new Error(`loop "${loop.name}": maxIterations ${loop.maxIterations} gave ${JSON.stringify(text)}; it must be a whole number from 1 to 1000`);
    }
    return value;
  }

  /** Marks every step still PENDING SKIPPED (the run failed before they could start). */
  async skipPending(reason: string): Promise<void> {
    for (const record of this.records) {
      if (record.status === 'PENDING') await this.update(record, { status: 'SKIPPED', skippedReason: reason });
    }
  }

  /** "during step 2/3 (coder)" or "before step 2/3 (coder)", for RUN_STOPPED. */
  where(): string {
    const runningIndex = this.workflow.steps.findIndex((step) => this.recordOf(step.name, null)?.status === 'RUNNING');
    if (runningIndex !== -1) return `during ${label(this.workflow, runningIndex)}`;
    const next = this.workflow.steps.findIndex((step) => this.recordOf(step.name, null)?.status !== 'COMPLETED');
    return next === -1 ? 'at its end' : `before ${label(this.workflow, next)}`;
  }

  /** The step a pause happened inside, if it did (RUN_PAUSED's step). */
  pausedStep(): string | null {
    return this.pausedInside?.step ?? null;
  }

  pausedWhere(): { where?: string } {
    return this.pausedInside ? { where: this.pausedInside.where } : {};
  }

  /** The first top-level step that has not completed. */
  nextStep(): string | null {
    return this.workflow.steps.find((step) => !['COMPLETED', 'SKIPPED'].includes(this.recordOf(step.name, null)?.status ?? ''))?.name ?? null;
  }

  pausedMessage(): string {
    if (this.pausedInside) {
      const index = this.workflow.steps.findIndex((step) => step.name === this.pausedInside!.step);
      const where = index === -1 ? `step "${this.pausedInside.step}"` : label(this.workflow, index);
      return `Paused ${this.pausedInside.where} in ${where}; its progress is kept. Resume to continue from there.`;
    }
    const next = this.workflow.steps.findIndex((step) => step.name === this.nextStep());
    const after = this.lastFinished ? this.workflow.steps.findIndex((step) => step.name === this.lastFinished) : -1;
    const afterText = after === -1 ? (this.lastFinished ? `after step "${this.lastFinished}"` : 'before its next step') : `after ${label(this.workflow, after)}`;
    return next === -1 ? `Paused ${afterText}. Resume to continue.` : `Paused ${afterText}. Resume to continue with ${label(this.workflow, next)}.`;
  }
}

/** The text an expression field gives (`${{ inputs.max }}`, or the expression alone). */
function evaluateToText(expression: string, values: ExpressionValues): string {
  return renderTemplate(`\${{ ${conditionSource(expression)} }}`, values);
}

function inLoop(scope: Scope): string {
  return scope.loop ? ` of loop "${scope.loop.step.name}", iteration ${scope.loop.iteration}` : '';
}

function lifecycleData(scope: Scope): LoopPlace {
  return scope.loop ? { loop: scope.loop.step.name, iteration: scope.loop.iteration } : {};
}

/** The reasons of steps SKIPPED because the run ended before they were reached (not decided by the flow). */
export const RUN_ENDED_SKIP_REASONS = { stopped: 'the run was stopped', failed: 'the run failed' } as const;

/**
 * Whether a SKIPPED step was skipped by the workflow's flow (its condition, a need that failed) rather
 * than left behind when the run stopped or failed: only the former is done, with the outcome skipped.
 */
export function skippedByFlow(record: Pick<StepRunRecord, 'status' | 'skippedReason'>): boolean {
  return record.status === 'SKIPPED' && record.skippedReason !== null && !Object.values(RUN_ENDED_SKIP_REASONS).includes(record.skippedReason as never);
}

/** How a record left by an earlier execution counts now: done with a conclusion, or still to run (null). */
function doneConclusion(record: StepRunRecord, step: WorkflowStepDefinition): Outcome | null {
  if (record.status === 'COMPLETED') return 'success';
  if (skippedByFlow(record)) return 'skipped';
  if (record.status === 'FAILED') return step.continueOnError ? 'success' : 'failure';
  return null;
}

/** What a record says of its step for expressions, or null when it has not run. */
function valuesOfRecord(record: StepRunRecord, step: WorkflowStepDefinition | undefined): StepValues | null {
  switch (record.status) {
    case 'COMPLETED':
      return { output: record.output, outcome: 'success', conclusion: 'success', exitCode: record.exitCode };
    case 'FAILED':
      return { output: record.output, outcome: 'failure', conclusion: step?.continueOnError ? 'success' : 'failure', exitCode: record.exitCode };
    case 'SKIPPED':
      return record.skippedReason === null ? null : { output: null, outcome: 'skipped', conclusion: 'skipped', exitCode: null };
    default:
      return null;
  }
}

/** What a failed step produced anyway (a failed command's output), for `steps.NAME.output`. */
function outputOfFailure(reason: Error): string | null {
  return reason instanceof StepError && reason.output !== undefined ? reason.output : null;
}

/** A step of a definition by name, loops' steps included. */
function findStep(steps: readonly WorkflowStepDefinition[], name: string): WorkflowStepDefinition | undefined {
  for (const step of steps) {
    if (step.name === name) return step;
    if (step.type === 'LOOP') {
      const inner = findStep(step.steps, name);
      if (inner) return inner;
    }
  }
  return undefined;
}

const label = (workflow: WorkflowDefinition, index: number): string => `step ${index + 1}/${workflow.steps.length} (${workflow.steps[index]?.name})`;

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
