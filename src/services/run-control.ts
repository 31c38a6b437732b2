import type { Services } from '../context.js';
import { RunInputError, carryOverModels, resolveInputs } from '../engine/run-plan.js';
import { changeRunStatus, recordEvent, recordStopped } from '../engine/runner.js';
import type { RunRecord, StepRunRecord, WorkflowDefinition, WorkflowVersionRecord } from '../engine/types.js';
import { stepRecordsOf } from './runs.js';
import { badInput, conflict, notFound } from '../errors.js';

export type RunControlDeps = Pick<Services, 'store' | 'eventLog' | 'pubsub' | 'worker' | 'workflows' | 'logger'> & { config: Pick<Services['config'], 'stepModels' | 'shellTimeoutSeconds'> };

/** A status change can lose a race (the worker claimed or finished the run meanwhile): try again on fresh state. */
const MAX_RACES = 5;

async function requireRun(deps: RunControlDeps, runId: number): Promise<RunRecord> {
  const run = await deps.store.getRun(runId);
  if (!run) throw notFound(`No run has id ${runId}. List runs with the "runs" query.`);
  return run;
}

/**
 * A run that has just paused, failed or been stopped is still ending its execution for a moment
 * (writing its last event, leaving its worker slot). Requeueing it before then would let the worker
 * claim it while the old execution still holds its slot, and the old execution's last event could
 * land after the new ones. Waits until the worker has let go of it; true if it had to wait.
 */
async function untilReleased(deps: RunControlDeps, runId: number): Promise<boolean> {
  if (!deps.worker.isActive(runId)) return false;
  await deps.worker.whenReleased(runId);
  return true;
}

/**
 * Pause takes effect at the next step boundary: the running step finishes, then the run waits in
 * PAUSED (RUN_PAUSED) holding no worker slot. Until then the run stays RUNNING with
 * `pauseRequested`. Pausing a paused run, or asking twice, is harmless.
 */
export async function pauseRun(deps: RunControlDeps, runId: number): Promise<RunRecord> {
  const run = await requireRun(deps, runId);
  if (run.status === 'PAUSED') return run;
  if (run.status !== 'RUNNING' || !deps.worker.requestPause(runId)) {
    throw conflict(`Run ${runId} is ${run.status}: only a RUNNING run can be paused.`);
  }
  return run;
}

/**
 * Resume puts a PAUSED run back in the queue (RUN_RESUMED); it continues with its next step as soon
 * as a worker slot is free. On a RUNNING run whose pause has not taken effect yet, it cancels the pause.
 */
export async function resumeRun(deps: RunControlDeps, runId: number): Promise<RunRecord> {
  for (let race = 0; race < MAX_RACES; race++) {
    const run = await requireRun(deps, runId);
    if (run.status === 'RUNNING' && deps.worker.isPauseRequested(runId)) {
      if (deps.worker.requestPause(runId, false)) {
        await recordEvent(deps, runId, 'RUN_RESUMED', 'Pause cancelled: the run goes on without stopping.');
        return run;
      }
      // Too late to cancel: the run is pausing now. Resume it once it has paused.
      await untilReleased(deps, runId);
      continue;
    }
    if (run.status !== 'PAUSED') throw conflict(`Run ${runId} is ${run.status}: only a PAUSED run can be resumed.`);
    if (await untilReleased(deps, runId)) continue; // paused a moment ago: look again once its execution has ended
    const queued = await changeRunStatus(deps, run, { status: 'QUEUED' });
    if (!queued) continue;
    // Name the step it goes on with, so the log reads as a story ("Resumed: … step 2/3 (coder) …").
    const steps = await deps.store.listStepRuns(runId);
    const next = steps.find((s) => s.status !== 'COMPLETED');
    const nextLabel = next ? `step ${next.index + 1}/${steps.length} (${next.name})` : 'its next step';
    await recordEvent(deps, runId, 'RUN_RESUMED', `Resumed: the run continues with ${nextLabel} as soon as a worker slot is free.`, null, {
      nextStep: next?.name ?? null,
    });
    deps.worker.notify();
    return queued;
  }
  throw conflict(`Run ${runId} kept changing status; try again.`);
}

/**
 * Stop takes effect at once: a queued or paused run never runs again; a running one has its model
 * stream aborted and its commands' process groups killed (SIGTERM, then SIGKILL after the grace
 * period), and ends STOPPED with RUN_STOPPED before this returns. Stopping a stopped run is harmless.
 */
export async function stopRun(deps: RunControlDeps, runId: number): Promise<RunRecord> {
  for (let race = 0; race < MAX_RACES; race++) {
    const run = await requireRun(deps, runId);
    if (run.status === 'STOPPED') return run;
    if (run.status === 'COMPLETED' || run.status === 'FAILED') {
      throw conflict(`Run ${runId} is ${run.status}: it has already ended, there is nothing to stop.`);
    }
    if (run.status === 'RUNNING') {
      if (await deps.worker.requestStop(runId)) {
        const ended = await requireRun(deps, runId);
        // A pending pause took effect at the step boundary just before the stop arrived: the run
        // waits PAUSED, and the next pass stops it there.
        if (ended.status !== 'PAUSED') return ended;
      }
      continue; // claimed but not registered yet, just finished, or paused meanwhile: look again
    }
    const where = run.status === 'QUEUED' ? 'before it started' : 'while paused';
    const stopped = await recordStopped(deps, run, `Run stopped by request ${where}.`);
    if (stopped) return stopped;
  }
  throw conflict(`Run ${runId} kept changing status; try again.`);
}

/**
 * Requeues a FAILED or STOPPED run from a step (default: the first step that did not complete).
 * The steps before it keep their events, records and files; that step and the later ones start
 * afresh. The events continue the same `seq` numbering.
 */
export async function retryRun(deps: RunControlDeps, runId: number, fromStep: string | null, workflowVersion: string | null = null): Promise<RunRecord> {
  // One retry of a run at a time: its RUN_QUEUED is recorded before the status changes (see below).
  const previous = retrying.get(runId) ?? Promise.resolve();
  const attempt = previous.catch(() => undefined).then(() => requeueForRetry(deps, runId, fromStep, workflowVersion));
  retrying.set(runId, attempt);
  try {
    return await attempt;
  } finally {
    if (retrying.get(runId) === attempt) retrying.delete(runId);
  }
}

const retrying = new Map<number, Promise<RunRecord>>();

async function requeueForRetry(deps: RunControlDeps, runId: number, fromStep: string | null, workflowVersion: string | null): Promise<RunRecord> {
  let run = await requireRun(deps, runId);
  // Ended a moment ago: let its execution finish (its last event stored, its slot free) first.
  if ((run.status === 'FAILED' || run.status === 'STOPPED') && (await untilReleased(deps, runId))) run = await requireRun(deps, runId);
  if (run.status !== 'FAILED' && run.status !== 'STOPPED') {
    throw conflict(`Run ${runId} is ${run.status}: only a FAILED or STOPPED run can be retried.`);
  }
  const steps = await deps.store.listStepRuns(runId);
  const current = run.definition ?? (run.workflowName ? deps.workflows.get(run.workflowName)?.definition : undefined);
  if (!current) throw conflict(`Run ${runId}'s workflow "${run.workflowName}" is no longer registered on this server; it cannot be retried.`);
  const target = workflowVersion !== null && workflowVersion !== current.version ? requireVersion(deps, current.name, workflowVersion) : null;
  const definition = target?.definition ?? current;

  // On another version, the default is where the run stopped: its first step that did not complete.
  const resumeAt = fromStep ?? (target ? (steps.find((s) => s.status !== 'COMPLETED')?.name ?? null) : null);
  if (target && fromStep === null && resumeAt !== null && !definition.steps.some((s) => s.name === resumeAt)) {
    throw badInput(`Argument "fromStep": the run stopped at step "${resumeAt}", which ${definition.name} ${definition.version} does not have; say which step to go again from (its steps: ${definition.steps.map((s) => s.name).join(', ')}).`);
  }
  const from = retryPoint(steps, definition, resumeAt);
  if (target) checkMigration(run, steps, current, definition, from);

  const again = steps.filter((s) => s.index >= from);
  await deps.store.deleteArtifacts(runId, again.map((s) => s.name));
  if (target) {
    try {
      resolveInputs(definition, run.inputs);
    } catch (error) {
      if (error instanceof RunInputError) throw conflict(`Run ${runId} cannot continue on ${definition.name} ${definition.version}: ${error.message}`);
      throw error;
    }
    const models = carryOverModels(definition, run.models, deps.config.stepModels);
    await deps.store.repinRun(
      runId,
      { workflowVersion: definition.version, definition, definitionHash: target.contentHash, models },
      from,
      stepRecordsOf(definition.steps.slice(from), models),
    );
  } else {
    for (const step of again) {
      await deps.store.updateStepRun(runId, step.index, { status: 'PENDING', attempt: 0, startedAt: null, finishedAt: null, error: null, output: null, exitCode: null });
    }
  }
  // An agent step retried starts a new conversation (a resumed or recovered one goes on with its own).
  await deps.store.clearConversations(runId, again.filter((s) => s.type === 'AGENT').map((s) => s.name));
  const first = definition.steps[from];
  const onVersion = target ? ` on version ${definition.version} (it ran ${current.version})` : '';
  // Recorded before the status changes: a subscriber replaying the log then never sees the old
  // terminal event as the latest one of a run that is going again.
  await recordEvent(
    deps,
    runId,
    'RUN_QUEUED',
    `Retry queued${onVersion}: the run goes again from step ${from + 1}/${definition.steps.length} (${first?.name}); earlier steps are kept.`,
    null,
    { retry: true, fromStep: first?.name ?? null, ...(target ? { fromVersion: current.version, version: definition.version, definitionHash: target.contentHash } : {}) },
  );
  const queued = await changeRunStatus(deps, run, { status: 'QUEUED', error: null, finishedAt: null });
  if (!queued) throw conflict(`Run ${runId} changed status meanwhile; try again.`);
  deps.worker.notify();
  return queued;
}

function requireVersion(deps: RunControlDeps, name: string, version: string): WorkflowVersionRecord {
  const record = deps.workflows.get(name, version);
  if (record) return record;
  const versions = deps.workflows.versions(name).map((v) => v.definition.version);
  throw badInput(`Argument "workflowVersion": workflow ${name} has no version "${version}". Its versions: ${versions.join(', ') || 'none'}.`);
}

/** The index (in `definition`) the retry starts at: `fromStep`, or the first step the run has not completed. */
function retryPoint(steps: StepRunRecord[], definition: WorkflowDefinition, fromStep: string | null): number {
  const completed = new Set(steps.filter((s) => s.status === 'COMPLETED').map((s) => s.name));
  if (fromStep === null) {
    const index = definition.steps.findIndex((s) => !completed.has(s.name));
    return index === -1 ? 0 : index;
  }
  const from = definition.steps.findIndex((s) => s.name === fromStep);
  if (from === -1) {
    throw badInput(`Argument "fromStep": ${definition.name} ${definition.version} has no step "${fromStep}". Its steps: ${definition.steps.map((s) => s.name).join(', ')}.`);
  }
  const unfinished = definition.steps.slice(0, from).find((s) => !completed.has(s.name));
  if (unfinished && steps.some((s) => s.name === unfinished.name)) {
    throw badInput(`Argument "fromStep": step "${unfinished.name}" comes before "${fromStep}" and did not complete; retry from "${unfinished.name}" or earlier.`);
  }
  return from;
}

/**
 * Whether a run can move to another version at `from`: the steps before it must be the same steps
 * in both versions (same names, same order), each completed in the run. Otherwise CONFLICT naming
 * the steps that do not match.
 */
function checkMigration(run: RunRecord, steps: StepRunRecord[], current: WorkflowDefinition, target: WorkflowDefinition, from: number): void {
  const kept = target.steps.slice(0, from).map((s) => s.name);
  const before = steps.slice(0, from).map((s) => s.name);
  const completed = new Set(steps.filter((s) => s.status === 'COMPLETED').map((s) => s.name));
  const problems: string[] = [];
  for (const name of kept.filter((n) => !before.includes(n))) problems.push(`"${name}" is new in ${target.version}${steps.some((s) => s.name === name) ? ' at this position' : ''}`);
  for (const name of before.filter((n) => !kept.includes(n))) problems.push(`"${name}" (completed in the run) is not before "${target.steps[from]?.name}" in ${target.version}`);
  if (problems.length === 0 && kept.some((name, i) => before[i] !== name)) problems.push(`the steps are in another order (${kept.join(', ')} in ${target.version}; ${before.join(', ')} in ${current.version})`);
  for (const name of kept.filter((n) => before.includes(n) && !completed.has(n))) problems.push(`"${name}" did not complete in the run`);
  if (problems.length > 0) {
    throw conflict(
      `Run ${run.id} cannot continue on ${target.name} ${target.version} from step "${target.steps[from]?.name}": the steps before it must be the run's completed steps, under the same names and in the same order, in both versions, but ${problems.join('; ')}. Retry from an earlier step, or on another version.`,
      { steps: [...new Set([...kept, ...before].filter((n) => kept.indexOf(n) !== before.indexOf(n) || !completed.has(n)))] },
    );
  }
}
