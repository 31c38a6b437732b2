import type { Services } from '../context.js';
import { workflowOfRun } from '../engine/run-plan.js';
import { changeRunStatus, recordEvent, recordStopped } from '../engine/runner.js';
import type { RunRecord } from '../engine/types.js';
import { badInput, conflict, notFound } from '../errors.js';

export type RunControlDeps = Pick<Services, 'store' | 'eventLog' | 'pubsub' | 'worker' | 'workflows' | 'logger'>;

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
export async function retryRun(deps: RunControlDeps, runId: number, fromStep: string | null): Promise<RunRecord> {
  // One retry of a run at a time: its RUN_QUEUED is recorded before the status changes (see below).
  const previous = retrying.get(runId) ?? Promise.resolve();
  const attempt = previous.catch(() => undefined).then(() => requeueForRetry(deps, runId, fromStep));
  retrying.set(runId, attempt);
  try {
    return await attempt;
  } finally {
    if (retrying.get(runId) === attempt) retrying.delete(runId);
  }
}

const retrying = new Map<number, Promise<RunRecord>>();

async function requeueForRetry(deps: RunControlDeps, runId: number, fromStep: string | null): Promise<RunRecord> {
  let run = await requireRun(deps, runId);
  // Ended a moment ago: let its execution finish (its last event stored, its slot free) first.
  if ((run.status === 'FAILED' || run.status === 'STOPPED') && (await untilReleased(deps, runId))) run = await requireRun(deps, runId);
  if (run.status !== 'FAILED' && run.status !== 'STOPPED') {
    throw conflict(`Run ${runId} is ${run.status}: only a FAILED or STOPPED run can be retried.`);
  }
  const steps = await deps.store.listStepRuns(runId);
  const workflow = workflowOfRun(run, deps.workflows);
  if (!workflow) throw conflict(`Run ${runId}'s workflow "${run.workflowName}" is no longer registered on this server; it cannot be retried.`);

  let from: number;
  if (fromStep === null) {
    from = steps.find((s) => s.status !== 'COMPLETED')?.index ?? 0;
  } else {
    const found = steps.find((s) => s.name === fromStep);
    if (!found) throw badInput(`Argument "fromStep": run ${runId} has no step "${fromStep}". Its steps: ${steps.map((s) => s.name).join(', ')}.`);
    from = found.index;
    const unfinished = steps.find((s) => s.index < from && s.status !== 'COMPLETED');
    if (unfinished) {
      throw badInput(`Argument "fromStep": step "${unfinished.name}" comes before "${fromStep}" and did not complete; retry from "${unfinished.name}" or earlier.`);
    }
  }

  const again = steps.filter((s) => s.index >= from);
  for (const step of again) {
    await deps.store.updateStepRun(runId, step.index, { status: 'PENDING', attempt: 0, startedAt: null, finishedAt: null, error: null, output: null });
  }
  await deps.store.deleteArtifacts(runId, again.map((s) => s.name));
  // An agent step retried starts a new conversation (a resumed or recovered one goes on with its own).
  await deps.store.clearConversations(runId, again.filter((s) => s.type === 'AGENT').map((s) => s.name));
  const first = steps[from];
  // Recorded before the status changes: a subscriber replaying the log then never sees the old
  // terminal event as the latest one of a run that is going again.
  await recordEvent(deps, runId, 'RUN_QUEUED', `Retry queued: the run goes again from step ${from + 1}/${steps.length} (${first?.name}); earlier steps are kept.`, null, {
    retry: true,
    fromStep: first?.name ?? null,
  });
  const queued = await changeRunStatus(deps, run, { status: 'QUEUED', error: null, finishedAt: null });
  if (!queued) throw conflict(`Run ${runId} changed status meanwhile; try again.`);
  deps.worker.notify();
  return queued;
}
