/**
 * Run control, in one place: the owner of every run this server executes. It starts a claimed run
 * (the worker claims, this executes), carries pause, resume, stop and retry to it, recovers runs a
 * previous server process left RUNNING, and shuts down gracefully. Each edge of the state machine
 * (run-state.ts) is taken here or by the runner (runner.ts); nothing of GraphQL or the ORM: errors are
 * RunControlErrors that say what was wrong, which the API turns into its codes.
 *
 * Cancellation is a message to the run's execution: stop aborts its signal (every running step is
 * cut off, its processes killed); pause is a flag it reads before starting any step and commits when
 * its running steps have ended (a resume until then cancels it).
 */
import { ancestorsByName, descendantsOf } from './graph.js';
import { killLeftoverProcessGroups } from './processes.js';
import { RunInputError, agentSteps, carryOverModels, describeStep, resolveInputs } from './run-plan.js';
import { changeRunStatus, executeRun, recordEvent, recordStopped, skippedByFlow, type RunnerDeps } from './runner.js';
import type { ControlRequest, DefinitionPin } from './store.js';
import {
  LeaseLostError,
  RunStoppedError,
  ServerShutdownError,
  coerceError,
  type RunRecord,
  type StepModel,
  type StepRunRecord,
  type WorkflowDefinition,
  type WorkflowStepDefinition,
} from './types.js';

/** A run control request that cannot be carried out: NOT_FOUND, CONFLICT (the run's status forbids it) or BAD_INPUT (an argument). */
export class RunControlError extends Error {
  constructor(
    readonly kind: 'NOT_FOUND' | 'CONFLICT' | 'BAD_INPUT',
    message: string,
    /** More for programs (such as the steps that do not match a version). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'RunControlError';
  }
}

export interface RunControllerDeps extends RunnerDeps {
  /** Step models from the environment (OLLAMA_<STEP>_MODEL), for a run moved onto another version. */
  stepModels: Record<string, string>;
  /**
   * With several instances: carries a stop or pause at once to the instance executing the run
   * (Redis); the request left on the run in the database is the backstop, read at every lease
   * renewal. Absent: the request waits for that renewal.
   */
  controlBus?: { publish(runId: number, request: ControlRequest): void };
}

/** How often a stop sent to an instance that does not execute the run looks whether the run has stopped. */
const REMOTE_STOP_POLL_MS = 100;

interface Execution {
  controller: AbortController;
  /** pauseRun asked for a pause that has not taken effect yet (resumeRun may still cancel it). */
  pauseRequested: boolean;
  /** The run is pausing now (its execution committed the pause): too late to cancel. */
  pausing: boolean;
  /** Another instance took the run over (this one's lease expired): nothing more is done or written. */
  leaseLost: boolean;
  done: Promise<void>;
}

/** A status change can lose a race (the run was claimed or finished meanwhile): try again on fresh state. */
const MAX_RACES = 5;

export class RunController {
  private readonly executions = new Map<number, Execution>();
  private readonly released = new Set<() => void>();
  private shuttingDown = false;
  /** One retry of a run at a time: its RUN_QUEUED is recorded before the status changes. */
  private readonly retrying = new Map<number, Promise<RunRecord>>();

  constructor(private readonly deps: RunControllerDeps) {}

  // Executions ---------------------------------------------------------------------------------

  /** Calls `listener` whenever an execution ends (the worker then claims more). */
  onReleased(listener: () => void): void {
    this.released.add(listener);
  }

  activeRunIds(): number[] {
    return [...this.executions.keys()];
  }

  isActive(runId: number): boolean {
    return this.executions.has(runId);
  }

  /** A pause was asked for this run and it has not paused yet. */
  isPauseRequested(runId: number): boolean {
    const execution = this.executions.get(runId);
    return execution ? execution.pauseRequested || execution.pausing : false;
  }

  /** Executes a run the worker has claimed (RUNNING). */
  execute(run: RunRecord): void {
    const id = run.id;
    const execution: Execution = { controller: new AbortController(), pauseRequested: false, pausing: false, leaseLost: false, done: Promise.resolve() };
    const decision = (commit: boolean) => (): 'continue' | 'pause' | 'shutdown' => {
      if (this.shuttingDown || execution.leaseLost) return 'shutdown';
      if (!execution.pauseRequested) return 'continue';
      if (commit) execution.pausing = true;
      return 'pause';
    };
    execution.done = executeRun(this.deps, run, { signal: execution.controller.signal, holding: decision(false), atStepBoundary: decision(true) })
      .catch((error) => this.deps.logger.error(`run ${id}: ${coerceError(error).message}`, error))
      .then(() => {
        // With leases: the token is forgotten at once (nothing more is written under it); the database learns it meanwhile.
        const release = this.deps.store.leases?.releaseLease(id);
        // The run may have been claimed again (resumed, retried) by the time this one lets go.
        if (this.executions.get(id) === execution) this.executions.delete(id);
        for (const listener of this.released) listener();
        return release?.catch((error) => this.deps.logger.error(`run ${id}: could not release its lease (it expires by itself)`, error));
      });
    this.executions.set(id, execution);
  }

  /**
   * A run that has just paused, failed or been stopped is still ending its execution for a moment
   * (writing its last event). Requeueing it before then would let the worker claim it while the old
   * execution still holds its slot. Waits until it has let go; true if it had to wait.
   */
  private async untilReleased(runId: number): Promise<boolean> {
    const execution = this.executions.get(runId);
    if (!execution) return false;
    await execution.done;
    return true;
  }

  private async requireRun(runId: number): Promise<RunRecord> {
    const run = await this.deps.store.getRun(runId);
    if (!run) throw new RunControlError('NOT_FOUND', `No run has id ${runId}. List runs with the "runs" query.`);
    return run;
  }

  // Pause, resume, stop ------------------------------------------------------------------------

  /**
   * Pause takes effect once the running steps have finished: no new step starts, then the run waits
   * in PAUSED (RUN_PAUSED) holding no worker slot. Until then it stays RUNNING with a pause requested.
   * Pausing a paused run, or asking twice, is harmless.
   */
  async pause(runId: number): Promise<RunRecord> {
    const run = await this.requireRun(runId);
    if (run.status === 'PAUSED') return run;
    const execution = this.executions.get(runId);
    if (run.status === 'RUNNING' && !execution && this.deps.store.leases) {
      // Another instance executes it: leave the request on the run and send it there.
      await this.deps.store.leases.requestControl(runId, 'PAUSE');
      this.deps.controlBus?.publish(runId, 'PAUSE');
      return run;
    }
    if (run.status !== 'RUNNING' || !execution) throw new RunControlError('CONFLICT', `Run ${runId} is ${run.status}: only a RUNNING run can be paused.`);
    execution.pauseRequested = true;
    return run;
  }

  /**
   * A stop or pause sent by another instance (Redis, or left on the run and read at a lease
   * renewal) for a run this one executes; ignored for any other run.
   */
  applyRequest(runId: number, request: ControlRequest): void {
    const execution = this.executions.get(runId);
    if (!execution || execution.leaseLost) return;
    if (request === 'STOP') execution.controller.abort(new RunStoppedError());
    else if (request === 'PAUSE') {
      if (!execution.pausing) execution.pauseRequested = true;
    } else if (!execution.pausing) {
      // RESUME: cancels a pause that has not taken effect (once pausing, the run pauses and is resumed from PAUSED).
      const cancelled = execution.pauseRequested;
      execution.pauseRequested = false;
      void (async () => {
        if (cancelled) await recordEvent(this.deps, runId, 'RUN_RESUMED', 'Pause cancelled: the run goes on without stopping.');
        await this.deps.store.leases?.acknowledgeControl(runId, 'RESUME');
      })().catch((error) => this.deps.logger.error(`run ${runId}: could not cancel its pause`, error));
    }
  }

  /** This instance's lease on the run is gone (another instance took it over): cut its execution off, writing nothing more. */
  leaseLost(runId: number): void {
    const execution = this.executions.get(runId);
    if (!execution || execution.leaseLost) return;
    execution.leaseLost = true;
    this.deps.logger.error(`run ${runId}: this instance lost its lease (it stalled past LEASE_SECONDS); another instance continues the run`);
    execution.controller.abort(new LeaseLostError(runId));
  }

  /**
   * Resume puts a PAUSED run back in the queue (RUN_RESUMED); it continues with its next steps as
   * soon as a worker slot is free. On a RUNNING run whose pause has not taken effect yet, it cancels
   * the pause.
   */
  async resume(runId: number): Promise<RunRecord> {
    for (let race = 0; race < MAX_RACES; race++) {
      const run = await this.requireRun(runId);
      const execution = this.executions.get(runId);
      if (run.status === 'RUNNING' && execution && (execution.pauseRequested || execution.pausing)) {
        if (!execution.pausing) {
          execution.pauseRequested = false;
          await recordEvent(this.deps, runId, 'RUN_RESUMED', 'Pause cancelled: the run goes on without stopping.');
          return run;
        }
        // Too late to cancel: the run is pausing now. Resume it once it has paused.
        await this.untilReleased(runId);
        continue;
      }
      if (run.status === 'RUNNING' && !execution && this.deps.store.leases) {
        const resumed = await this.resumeElsewhere(runId);
        if (resumed) return resumed;
        continue; // it paused meanwhile (or ended): look again
      }
      if (run.status !== 'PAUSED') throw new RunControlError('CONFLICT', `Run ${runId} is ${run.status}: only a PAUSED run can be resumed.`);
      if (await this.untilReleased(runId)) continue; // paused a moment ago: look again once its execution has ended
      const queued = await changeRunStatus(this.deps, run, { status: 'QUEUED' });
      if (!queued) continue;
      // Name the step it goes on with, so the log reads as a story ("Resumed: … step 2/3 (coder) …").
      const steps = (await this.deps.store.listStepRuns(runId)).filter((s) => s.iteration === null);
      const next = steps.find((s) => s.status !== 'COMPLETED' && s.status !== 'SKIPPED');
      const nextLabel = next ? `step ${next.index + 1}/${steps.length} (${next.name})` : 'its next step';
      await recordEvent(this.deps, runId, 'RUN_RESUMED', `Resumed: the run continues with ${nextLabel} as soon as a worker slot is free.`, null, {
        nextStep: next?.name ?? null,
      });
      for (const listener of this.released) listener();
      return queued;
    }
    throw new RunControlError('CONFLICT', `Run ${runId} kept changing status; try again.`);
  }

  /**
   * Stop takes effect at once: a queued or paused run never runs again; a running one has every
   * running step cut off (model streams aborted, commands' processes killed) and ends STOPPED with
   * RUN_STOPPED before this returns. Stopping a stopped run is harmless.
   */
  async stop(runId: number): Promise<RunRecord> {
    for (let race = 0; race < MAX_RACES; race++) {
      const run = await this.requireRun(runId);
      if (run.status === 'STOPPED') return run;
      if (run.status === 'COMPLETED' || run.status === 'FAILED') {
        throw new RunControlError('CONFLICT', `Run ${runId} is ${run.status}: it has already ended, there is nothing to stop.`);
      }
      if (run.status === 'RUNNING') {
        const execution = this.executions.get(runId);
        if (execution) {
          execution.controller.abort(new RunStoppedError());
          await execution.done;
          const ended = await this.requireRun(runId);
          // A pending pause took effect just before the stop arrived: the run waits PAUSED, and the
          // next pass stops it there.
          if (ended.status !== 'PAUSED') return ended;
        } else if (this.deps.store.leases) {
          const ended = await this.stopElsewhere(runId);
          if (ended.status !== 'PAUSED' && ended.status !== 'QUEUED') return ended;
        }
        continue; // claimed but not registered yet, just finished, or paused meanwhile: look again
      }
      const where = run.status === 'QUEUED' ? 'before it started' : 'while paused';
      const stopped = await recordStopped(this.deps, run, `Run stopped by request ${where}.`);
      if (stopped) return stopped;
    }
    throw new RunControlError('CONFLICT', `Run ${runId} kept changing status; try again.`);
  }

  /**
   * Cancels the pending pause of a run another instance executes: the request is left on the run and
   * sent there; that instance cancels the pause (RUN_RESUMED) and clears the request, or, too late
   * to cancel, lets the run pause. Resolves with the run still RUNNING once cancelled, or null when it
   * left RUNNING (the caller resumes it from PAUSED). CONFLICT when there was no pause to cancel.
   */
  private async resumeElsewhere(runId: number): Promise<RunRecord | null> {
    const leases = this.deps.store.leases!;
    if ((await leases.controlRequestOf(runId)) !== 'PAUSE') {
      throw new RunControlError('CONFLICT', `Run ${runId} is RUNNING with no pause pending: only a PAUSED run can be resumed.`);
    }
    await leases.requestControl(runId, 'RESUME');
    this.deps.controlBus?.publish(runId, 'RESUME');
    const deadline = Date.now() + leases.leaseSeconds * 2000 + 5000;
    for (;;) {
      const run = await this.requireRun(runId);
      if (run.status !== 'RUNNING') return null;
      if ((await leases.controlRequestOf(runId)) !== 'RESUME') return run;
      if (Date.now() > deadline) throw new RunControlError('CONFLICT', `Run ${runId} is still running on another instance, which did not act on the resume; try again.`);
      await new Promise((resolve) => setTimeout(resolve, REMOTE_STOP_POLL_MS));
    }
  }

  /**
   * Stops a run another instance executes: the request is left on the run and sent there, then this
   * waits until the run has left RUNNING (stopped there; or requeued by crash recovery, if that
   * instance died, which the caller then stops in the queue), at most two leases and a few seconds.
   */
  private async stopElsewhere(runId: number): Promise<RunRecord> {
    const leases = this.deps.store.leases!;
    await leases.requestControl(runId, 'STOP');
    this.deps.controlBus?.publish(runId, 'STOP');
    const deadline = Date.now() + leases.leaseSeconds * 2000 + 5000;
    for (;;) {
      const run = await this.requireRun(runId);
      if (run.status !== 'RUNNING') return run;
      if (Date.now() > deadline) throw new RunControlError('CONFLICT', `Run ${runId} is still running on another instance, which did not act on the stop; try again.`);
      await new Promise((resolve) => setTimeout(resolve, REMOTE_STOP_POLL_MS));
    }
  }

  // Retry --------------------------------------------------------------------------------------

  /**
   * Requeues a FAILED or STOPPED run. Without `fromStep`, every step that did not complete goes
   * again (a loop at the iteration it reached); with it, that step and every step that depends on it,
   * directly or not (the others keep their records, outputs and files). With `workflowVersion`, the
   * run continues on that version of its workflow, provided every step it keeps exists there under
   * the same name. The events continue the same `seq` numbering.
   */
  retry(runId: number, fromStep: string | null, workflowVersion: string | null = null): Promise<RunRecord> {
    const previous = this.retrying.get(runId) ?? Promise.resolve();
    const attempt = previous.catch(() => undefined).then(() => this.requeueForRetry(runId, fromStep, workflowVersion));
    this.retrying.set(runId, attempt);
    return attempt.finally(() => {
      if (this.retrying.get(runId) === attempt) this.retrying.delete(runId);
    });
  }

  private async requeueForRetry(runId: number, fromStep: string | null, workflowVersion: string | null): Promise<RunRecord> {
    let run = await this.requireRun(runId);
    // Ended a moment ago: let its execution finish (its last event stored, its slot free) first.
    if ((run.status === 'FAILED' || run.status === 'STOPPED') && (await this.untilReleased(runId))) run = await this.requireRun(runId);
    if (run.status !== 'FAILED' && run.status !== 'STOPPED') {
      throw new RunControlError('CONFLICT', `Run ${runId} is ${run.status}: only a FAILED or STOPPED run can be retried.`);
    }
    const current = run.definition ?? (run.workflowName ? this.deps.workflows.get(run.workflowName)?.definition : undefined);
    if (!current) throw new RunControlError('CONFLICT', `Run ${runId}'s workflow "${run.workflowName}" is no longer registered on this server; it cannot be retried.`);
    const target = workflowVersion !== null && workflowVersion !== current.version ? this.requireVersion(current.name, workflowVersion) : null;
    const definition = target?.definition ?? current;
    const records = await this.deps.store.listStepRuns(runId);

    const plan = retryPlan(definition, records, fromStep);
    if (target) {
      const missing = plan.kept.filter((name) => !definition.steps.some((s) => s.name === name));
      if (missing.length > 0) {
        throw new RunControlError(
          'CONFLICT',
          `Run ${runId} cannot continue on ${definition.name} ${definition.version}: it keeps step${missing.length === 1 ? '' : 's'} ${missing.map((n) => `"${n}"`).join(', ')}, which ${definition.version} does not have under ${missing.length === 1 ? 'that name' : 'those names'}. A run keeps every step it completed before the retried one; retry from an earlier step, or on another version.`,
          { steps: missing },
        );
      }
      try {
        resolveInputs(definition, run.inputs);
      } catch (error) {
        if (error instanceof RunInputError) throw new RunControlError('CONFLICT', `Run ${runId} cannot continue on ${definition.name} ${definition.version}: ${error.message}`);
        throw error;
      }
    }
    const models = target ? carryOverModels(definition, run.models, this.deps.stepModels) : run.models;
    const rebuilt = rebuildRecords(definition, records, plan, models);
    const pin: DefinitionPin | undefined = target ? { workflowVersion: definition.version, definition, definitionHash: target.contentHash, models } : undefined;
    await this.deps.store.replaceStepRuns(runId, rebuilt, pin);
    await this.deps.store.deleteArtifacts(runId, plan.again);
    // An agent step run again starts a new conversation (a resumed or recovered one goes on with its own).
    const agentsAgain = agentSteps(definition).filter((s) => plan.again.includes(s.name));
    if (agentsAgain.length > 0) await this.deps.store.clearConversations(runId, agentsAgain.map((s) => s.name));

    const first = definition.steps.findIndex((s) => plan.again.includes(s.name));
    const onVersion = target ? ` on version ${definition.version} (it ran ${current.version})` : '';
    const from = first === -1 ? 'its end' : `step ${first + 1}/${definition.steps.length} (${definition.steps[first]!.name})`;
    // Recorded before the status changes: a subscriber replaying the log then never sees the old
    // terminal event as the latest one of a run that is going again.
    await recordEvent(this.deps, runId, 'RUN_QUEUED', `Retry queued${onVersion}: the run goes again from ${from}; earlier steps are kept.`, null, {
      retry: true,
      fromStep: first === -1 ? null : definition.steps[first]!.name,
      again: plan.again,
      ...(target ? { fromVersion: current.version, version: definition.version, definitionHash: target.contentHash } : {}),
    });
    const queued = await changeRunStatus(this.deps, run, { status: 'QUEUED', error: null, finishedAt: null });
    if (!queued) throw new RunControlError('CONFLICT', `Run ${runId} changed status meanwhile; try again.`);
    for (const listener of this.released) listener();
    return queued;
  }

  private requireVersion(name: string, version: string) {
    const record = this.deps.workflows.get(name, version);
    if (record) return record;
    const versions = this.deps.workflows.versions(name).map((v) => v.definition.version);
    throw new RunControlError('BAD_INPUT', `Argument "workflowVersion": workflow ${name} has no version "${version}". Its versions: ${versions.join(', ') || 'none'}.`);
  }

  // Recovery and shutdown -----------------------------------------------------------------------

  /**
   * Crash recovery: every run left RUNNING by a server process that is gone (killed, machine
   * rebooted, shut down mid-step) has the processes it left behind killed, its interrupted steps set
   * back to PENDING (several, when steps ran in parallel; a loop's at its iteration), and goes back
   * to the queue with RUN_RECOVERED. It then continues where it was; completed steps are not redone.
   * PAUSED runs stay paused; QUEUED ones are picked up. Returns the recovered run ids.
   */
  async recover(): Promise<number[]> {
    const { store, logger } = this.deps;
    const recovered: number[] = [];
    // With several instances, only the runs whose lease expired (their instance died or hung), taken over here.
    const candidates = store.leases ? await store.leases.takeExpiredLeases() : await store.runIdsWithStatus('RUNNING', 10_000);
    for (const runId of candidates) {
      const stale = this.executions.get(runId);
      if (stale && !store.leases) continue;
      if (stale) {
        // This instance's own execution let its lease lapse (it stalled): it is cut off first.
        this.leaseLost(runId);
        await stale.done;
      }
      const project = await store.getRun(runId).then((run) => (run ? store.getProject(run.projectId) : null));
      const killed = project ? await killLeftoverProcessGroups(runId, project.localPath) : [];
      const steps = await store.listStepRuns(runId);
      const interrupted = steps.filter((s) => s.status === 'RUNNING');
      for (const step of interrupted) await store.updateStepRun(runId, step.index, { status: 'PENDING', finishedAt: null });
      const run = await changeRunStatus(this.deps, { id: runId, status: 'RUNNING' }, { status: 'QUEUED' });
      if (!run) continue;
      const top = steps.filter((s) => s.iteration === null);
      const describe = (s: StepRunRecord) =>
        s.iteration === null ? `step ${s.index + 1}/${top.length} (${s.name})` : `step ${s.name} of loop ${s.loop}, iteration ${s.iteration}`;
      const next = top.find((s) => s.status !== 'COMPLETED' && s.status !== 'SKIPPED');
      const during = interrupted.length > 0 ? ` during ${interrupted.map(describe).join(' and ')}` : '';
      const resume = next ? `it continues from ${describe(next)}` : 'it finishes now';
      const who = store.leases
        ? 'The server instance executing this run shut down, died or stalled (it gave up or stopped renewing its lease)'
        : 'The server stopped while this run was running';
      await recordEvent(
        this.deps,
        runId,
        'RUN_RECOVERED',
        `${who}${during}; ${resume}. Completed steps are not redone.${killed.length > 0 ? ` Killed ${killed.length} leftover process group(s).` : ''}`,
        null,
        {
          interruptedStep: interrupted[0]?.name ?? null,
          interruptedSteps: interrupted.map((s) => ({ name: s.name, loop: s.loop, iteration: s.iteration })),
          nextStep: next?.name ?? null,
          killedProcessGroups: killed,
        },
      );
      logger.info(`run ${runId} recovered: back in the queue`);
      recovered.push(runId);
    }
    return recovered;
  }

  /**
   * Graceful shutdown: no step starts any more; running steps may finish for up to `graceMs`, then
   * are cut off (commands killed, model streams closed). Runs cut off, or between two steps at that
   * moment, stay RUNNING in the database and are continued by crash recovery at the next start.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.shuttingDown = true;
    const running = [...this.executions.values()];
    const allDone = Promise.all(running.map((r) => r.done));
    const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([allDone, grace]);
    for (const { controller } of running) controller.abort(new ServerShutdownError());
    await allDone;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }
}

/** What a retry keeps and what goes again, by step name (top-level and loops' steps). */
interface RetryPlan {
  /** Top-level steps kept as they are (completed before, not retried). */
  kept: string[];
  /** Steps (top-level or in a loop) whose records start afresh. */
  again: string[];
  /** A loop continued at its latest iteration: the steps of that iteration that go again. */
  loopResets: Map<string, Set<string>>;
}

/**
 * Which steps a retry runs again. Without `fromStep`: every top-level step that did not complete (a
 * loop that did not complete continues at its latest iteration, re-running what did not complete
 * there). With `fromStep`: that step and its dependents; a step inside a loop re-runs the loop's
 * latest iteration from that step, and whatever depends on the loop.
 */
export function retryPlan(definition: WorkflowDefinition, records: StepRunRecord[], fromStep: string | null): RetryPlan {
  const top = (name: string) => records.find((r) => r.name === name && r.iteration === null);
  const again = new Set<string>();
  const loopResets = new Map<string, Set<string>>();
  const latestIteration = (loop: string) => records.filter((r) => r.loop === loop).reduce((max, r) => Math.max(max, r.iteration ?? 0), 0);
  const resetLoopFrom = (loop: WorkflowStepDefinition & { type: 'LOOP' }, names: Iterable<string>) => {
    again.add(loop.name);
    loopResets.set(loop.name, new Set(names));
  };

  if (fromStep === null) {
    for (const step of definition.steps) {
      const status = top(step.name)?.status;
      if (status === 'COMPLETED') continue;
      if (step.type === 'LOOP' && latestIteration(step.name) > 0) {
        const iteration = latestIteration(step.name);
        const unfinished = step.steps.filter((s) => records.find((r) => r.name === s.name && r.iteration === iteration)?.status !== 'COMPLETED').map((s) => s.name);
        resetLoopFrom(step, unfinished);
      } else {
        again.add(step.name);
      }
    }
  } else {
    const topLevel = definition.steps.find((s) => s.name === fromStep);
    const loop = definition.steps.find((s): s is WorkflowStepDefinition & { type: 'LOOP' } => s.type === 'LOOP' && s.steps.some((inner) => inner.name === fromStep));
    if (!topLevel && !loop) {
      const names = definition.steps.flatMap((s) => (s.type === 'LOOP' ? [s.name, ...s.steps.map((i) => i.name)] : [s.name]));
      throw new RunControlError('BAD_INPUT', `Argument "fromStep": ${definition.name} ${definition.version} has no step "${fromStep}". Its steps: ${names.join(', ')}.`);
    }
    const anchor = topLevel ?? loop!;
    // Steps it depends on must be done: they are kept, and it reads their results. A step the flow
    // skipped (its condition was false) is done; one left behind by a stop or a failure is not.
    const ancestors = ancestorsByName(definition.steps).get(anchor.name) ?? new Set();
    const done = (record: StepRunRecord | undefined) => record === undefined || record.status === 'COMPLETED' || skippedByFlow(record);
    const unfinished = definition.steps.find((s) => ancestors.has(s.name) && !done(top(s.name)));
    if (unfinished) {
      throw new RunControlError('BAD_INPUT', `Argument "fromStep": step "${unfinished.name}" comes before "${fromStep}" and did not complete; retry from "${unfinished.name}" or earlier.`);
    }
    if (topLevel) {
      again.add(topLevel.name);
    } else {
      const innerAgain = new Set([fromStep, ...descendantsOf(loop!.steps, fromStep)]);
      resetLoopFrom(loop!, latestIteration(loop!.name) > 0 ? innerAgain : []);
    }
    for (const name of descendantsOf(definition.steps, anchor.name)) again.add(name);
  }
  // A loop run again from scratch loses its iterations; one continued keeps them.
  for (const step of definition.steps) {
    if (step.type === 'LOOP' && again.has(step.name) && !loopResets.has(step.name)) for (const inner of step.steps) again.add(inner.name);
  }
  for (const names of loopResets.values()) for (const name of names) again.add(name);
  // What the run keeps: its completed steps that do not go again (whether or not `definition` has them).
  const kept = records.filter((r) => r.iteration === null && r.status === 'COMPLETED' && !again.has(r.name)).map((r) => r.name);
  return { kept, again: [...again], loopResets };
}

/** The run's step records after a retry: kept ones as they were, the rest afresh (PENDING), in the definition's order, loops' iterations after. */
function rebuildRecords(
  definition: WorkflowDefinition,
  records: StepRunRecord[],
  plan: RetryPlan,
  models: readonly StepModel[],
): Array<Omit<StepRunRecord, 'runId' | 'index'>> {
  const fresh = (step: WorkflowStepDefinition, loop: string | null, iteration: number | null): Omit<StepRunRecord, 'runId' | 'index'> => ({
    name: step.name,
    type: step.type,
    typeName: step.type === 'CUSTOM' ? step.customType : step.type,
    description: describeStep(step, models),
    loop,
    iteration,
    status: 'PENDING',
    attempt: 0,
    startedAt: null,
    finishedAt: null,
    error: null,
    output: null,
    exitCode: null,
    skippedReason: null,
  });
  const keep = (record: StepRunRecord): Omit<StepRunRecord, 'runId' | 'index'> => {
    const { runId: _runId, index: _index, ...rest } = record;
    return rest;
  };
  const result: Array<Omit<StepRunRecord, 'runId' | 'index'>> = [];
  for (const step of definition.steps) {
    const old = records.find((r) => r.name === step.name && r.iteration === null);
    if (!old || (plan.again.includes(step.name) && !plan.loopResets.has(step.name))) result.push(fresh(step, null, null));
    else if (plan.loopResets.has(step.name)) result.push({ ...keep(old), status: 'PENDING', finishedAt: null, error: null, skippedReason: null });
    else result.push(keep(old));
  }
  for (const step of definition.steps) {
    if (step.type !== 'LOOP') continue;
    const resets = plan.loopResets.get(step.name);
    if (!resets) continue; // run again from scratch (no iterations kept), or kept whole
    const iterations = records.filter((r) => r.loop === step.name);
    const latest = iterations.reduce((max, r) => Math.max(max, r.iteration ?? 0), 0);
    for (const record of iterations) {
      const inner = step.steps.find((s) => s.name === record.name);
      if (!inner) continue;
      result.push(record.iteration === latest && resets.has(record.name) ? fresh(inner, step.name, latest) : keep(record));
    }
  }
  // Loops kept whole keep their iterations too.
  for (const step of definition.steps) {
    if (step.type !== 'LOOP' || plan.again.includes(step.name)) continue;
    for (const record of records.filter((r) => r.loop === step.name)) result.push(keep(record));
  }
  return result;
}
