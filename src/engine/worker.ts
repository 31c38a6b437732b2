import { executeRun, type RunnerDeps } from './runner.js';
import { RunStoppedError, ServerShutdownError, coerceError, type SandboxStatus } from './types.js';

export interface WorkerOptions {
  /** Picks up runs by itself, at once on `notify()` and on every poll (true). `DISABLE_WORKER` turns it off. */
  enabled: boolean;
  /** Runs executed at once (2). */
  concurrency: number;
  /** Seconds between polls that catch runs no notification announced (5). */
  checkIntervalSeconds: number;
}

export interface WorkerStatus {
  enabled: boolean;
  concurrency: number;
  activeRunIds: number[];
  queued: number;
  checkIntervalSeconds: number;
  lastCheckAt: Date | null;
  /** Whether the commands of the runs it executes are sandboxed (found at start-up). */
  sandbox: SandboxStatus;
}

interface ActiveRun {
  controller: AbortController;
  /** pauseRun asked for a pause that has not taken effect yet (resumeRun may still cancel it). */
  pauseRequested: boolean;
  /** The runner has reached a step boundary and is pausing: too late to cancel. */
  pausing: boolean;
  done: Promise<void>;
}

/**
 * The in-process worker: claims queued runs (oldest first) with a conditional UPDATE so a run can
 * never be claimed twice, executes up to `concurrency` of them at once, and looks again whenever a
 * run is created or resumed (`notify`), a run finishes, or the poll interval passes. It also carries
 * the run-control requests (pause, stop) to the runs it executes.
 */
export class Worker {
  private readonly active = new Map<number, ActiveRun>();
  private timer: NodeJS.Timeout | null = null;
  private lastCheckAt: Date | null = null;
  /** Claims are made one pass at a time, so two passes never count the same free slot. */
  private claiming: Promise<void> = Promise.resolve();
  private shuttingDown = false;

  constructor(
    private readonly deps: RunnerDeps,
    private readonly options: WorkerOptions,
  ) {}

  start(): void {
    if (!this.options.enabled || this.timer) return;
    this.timer = setInterval(() => this.notify(), this.options.checkIntervalSeconds * 1000);
    this.timer.unref();
    this.notify();
  }

  /** Something may be waiting: look now (a no-op when the worker is disabled). */
  notify(): void {
    if (!this.options.enabled || this.shuttingDown) return;
    this.claim().catch((error) => this.deps.logger.error('worker: could not process the queue', error));
  }

  /** Claims queued runs up to the free slots now, whether or not the worker runs by itself. */
  async processQueue(): Promise<WorkerStatus> {
    await this.claim();
    return this.status();
  }

  private claim(): Promise<void> {
    const pass = this.claiming.then(() => this.claimFreeSlots());
    this.claiming = pass.catch(() => undefined);
    return pass;
  }

  private async claimFreeSlots(): Promise<void> {
    this.lastCheckAt = new Date();
    if (this.shuttingDown) return;
    const free = this.options.concurrency - this.active.size;
    if (free <= 0) return;
    // The QUEUED → RUNNING edge of the state machine, taken by one conditional UPDATE.
    for (const run of await this.deps.store.claimQueuedRuns(free, new Date())) {
      this.deps.pubsub.publish('runUpdated', 'all', run);
      const id = run.id;
      const entry: ActiveRun = { controller: new AbortController(), pauseRequested: false, pausing: false, done: Promise.resolve() };
      entry.done = executeRun(this.deps, run, {
        signal: entry.controller.signal,
        atStepBoundary: () => {
          if (this.shuttingDown) return 'shutdown';
          if (!entry.pauseRequested) return 'continue';
          entry.pausing = true;
          return 'pause';
        },
      })
        .catch((error) => this.deps.logger.error(`run ${id}: ${coerceError(error).message}`, error))
        .finally(() => {
          // The run may have been claimed again (resumed, retried) by the time this one lets go.
          if (this.active.get(id) === entry) this.active.delete(id);
          this.notify();
        });
      this.active.set(id, entry);
    }
  }

  async status(): Promise<WorkerStatus> {
    return {
      enabled: this.options.enabled,
      concurrency: this.options.concurrency,
      activeRunIds: [...this.active.keys()],
      queued: await this.deps.store.countRuns('QUEUED'),
      checkIntervalSeconds: this.options.checkIntervalSeconds,
      lastCheckAt: this.lastCheckAt,
      sandbox: this.deps.settings.commands.status,
    };
  }

  isActive(runId: number): boolean {
    return this.active.has(runId);
  }

  /** A pause was asked for this run and it has not paused yet. */
  isPauseRequested(runId: number): boolean {
    const entry = this.active.get(runId);
    return entry ? entry.pauseRequested || entry.pausing : false;
  }

  /**
   * Asks a run this worker executes to pause at its next step boundary, or (`pause` false) cancels
   * that request. False if it executes no such run, or when cancelling a pause already under way.
   */
  requestPause(runId: number, pause = true): boolean {
    const entry = this.active.get(runId);
    if (!entry || (!pause && entry.pausing)) return false;
    entry.pauseRequested = pause;
    return true;
  }

  /** Resolves once this worker no longer executes the run (at once if it does not). */
  whenReleased(runId: number): Promise<void> {
    return this.active.get(runId)?.done ?? Promise.resolve();
  }

  /**
   * Stops a run this worker executes, at once: its step's model stream is aborted and its commands'
   * process groups killed. Resolves when the run has ended; false if this worker executes no such run.
   */
  async requestStop(runId: number): Promise<boolean> {
    const entry = this.active.get(runId);
    if (!entry) return false;
    entry.controller.abort(new RunStoppedError());
    await entry.done;
    return true;
  }

  /**
   * Graceful shutdown: takes no more runs, lets running steps finish for up to `graceMs`, then cuts
   * them off (their commands killed, their model streams closed). Runs cut off, or between two steps
   * at that moment, stay RUNNING in the database and are continued by crash recovery at the next start.
   */
  async stop(graceMs = 0): Promise<void> {
    this.shuttingDown = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.claiming;
    const running = [...this.active.values()];
    const allDone = Promise.all(running.map((r) => r.done));
    const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([allDone, grace]);
    for (const { controller } of running) controller.abort(new ServerShutdownError());
    await allDone;
  }
}
