import type { RunStatus } from './types.js';

/**
 * The run state machine, in one place. Status only moves along these edges; anything else is
 * refused. PAUSED and STOPPED edges belong to run control (pause, resume, stop), which is not built
 * yet: they are listed so the machine is whole, and nothing takes them today.
 */
export const RUN_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  QUEUED: ['RUNNING', 'STOPPED'],
  RUNNING: ['COMPLETED', 'FAILED', 'PAUSED', 'STOPPED'],
  PAUSED: ['RUNNING', 'STOPPED'],
  STOPPED: [],
  COMPLETED: [],
  FAILED: [],
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
