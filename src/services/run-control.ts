import type { Services } from '../context.js';
import { RunControlError } from '../engine/run-control.js';
import type { RunRecord } from '../engine/types.js';
import { badInput, conflict, notFound } from '../errors.js';

/**
 * The API's run control: the engine's RunController (engine/run-control.ts), its refusals turned
 * into the error codes clients rely on (NOT_FOUND, CONFLICT, BAD_USER_INPUT).
 */
async function translated(operation: Promise<RunRecord>): Promise<RunRecord> {
  try {
    return await operation;
  } catch (error) {
    if (!(error instanceof RunControlError)) throw error;
    if (error.kind === 'NOT_FOUND') throw notFound(error.message);
    if (error.kind === 'BAD_INPUT') throw badInput(error.message, error.details);
    throw conflict(error.message, error.details);
  }
}

/** Pause takes effect once the running steps have finished; see RunController.pause. */
export function pauseRun(services: Pick<Services, 'control'>, runId: number): Promise<RunRecord> {
  return translated(services.control.pause(runId));
}

/** Resumes a PAUSED run, or cancels a pending pause; see RunController.resume. */
export function resumeRun(services: Pick<Services, 'control'>, runId: number): Promise<RunRecord> {
  return translated(services.control.resume(runId));
}

/** Stops a run at once; see RunController.stop. */
export function stopRun(services: Pick<Services, 'control'>, runId: number): Promise<RunRecord> {
  return translated(services.control.stop(runId));
}

/** Requeues a FAILED or STOPPED run (from a step, on another version); see RunController.retry. */
export function retryRun(services: Pick<Services, 'control'>, runId: number, fromStep: string | null, workflowVersion: string | null = null): Promise<RunRecord> {
  return translated(services.control.retry(runId, fromStep, workflowVersion));
}
