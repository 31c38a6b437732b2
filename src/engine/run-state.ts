import type { RunStatus } from './types.js';

/**
 * The run state machine, in one place. Status only moves along these edges; anything else is
 * refused. Who takes each edge:
 * - QUEUED → RUNNING: the worker claims the run.           QUEUED → STOPPED: stopRun before it starts.
 * - RUNNING → COMPLETED | FAILED: the runner, at the end.  RUNNING → STOPPED: stopRun (at once).
 * - RUNNING → PAUSED: pauseRun, at the next step boundary.
 * - RUNNING → QUEUED: crash recovery, for a run a previous server process left running.
 * - PAUSED → QUEUED: resumeRun (the run waits for a free worker slot, then continues).
 * - PAUSED → STOPPED: stopRun.
 * - FAILED | STOPPED → QUEUED: retryRun, from a chosen step.
 */
export const RUN_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  QUEUED: ['RUNNING', 'STOPPED'],
  RUNNING: ['COMPLETED', 'FAILED', 'PAUSED', 'STOPPED', 'QUEUED'],
  PAUSED: ['QUEUED', 'STOPPED'],
  STOPPED: ['QUEUED'],
  COMPLETED: [],
  FAILED: ['QUEUED'],
};

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return RUN_TRANSITIONS[from].includes(to);
}

export class InvalidTransitionError extends Error {
  constructor(
    readonly from: RunStatus,
    readonly to: RunStatus,
  ) {
    super(`A ${from} run cannot become ${to}.`);
    this.name = 'InvalidTransitionError';
  }
}

export function assertTransition(from: RunStatus, to: RunStatus): void {
  if (!canTransition(from, to)) throw new InvalidTransitionError(from, to);
}
