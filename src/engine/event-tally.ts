import { coerceError } from './types.js';

/** What became of the events a tally followed, once none is on its way any more. */
export interface EventTallyResult {
  /** Events that could not be stored (the event log gave up on them). */
  lost: number;
  /** Why the first of them could not be stored, or null when none was lost. */
  reason: string | null;
}

/**
 * Follows the events appended for one part of a run (one attempt of a step, or the run's own
 * events) until each is stored or has failed to be, so the runner can tell, before it calls that
 * part done, whether what it recorded is whole: a step whose streamed text lost an event is not
 * COMPLETED. Appends are tracked as they are made, in any number, without waiting for them.
 */
export class EventTally {
  private inFlight = 0;
  private lost = 0;
  private reason: string | null = null;
  private waiting: Array<() => void> = [];

  /** Follows one append (its promise rejects if the event could not be stored). */
  track(append: Promise<unknown>): void {
    this.inFlight++;
    append.then(
      () => this.settle(),
      (error: unknown) => {
        this.lost++;
        this.reason ??= coerceError(error).message;
        this.settle();
      },
    );
  }

  /** Resolves once every event tracked so far is stored or lost, with what was lost. */
  async settled(): Promise<EventTallyResult> {
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return { lost: this.lost, reason: this.reason };
  }

  private settle(): void {
    if (--this.inFlight > 0) return;
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}
