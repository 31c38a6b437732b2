import { changeRunStatus, executeRun, ServerShutdownError, type RunnerDeps } from './runner.js';
import { coerceError } from './types.js';

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
}

/**
 * The in-process worker: claims queued runs (oldest first) with a conditional UPDATE so a run can
 * never be claimed twice, executes up to `concurrency` of them at once, and looks again whenever a
 * run is created (`notify`), a run finishes, or the poll interval passes.
 */
export class Worker {
  private readonly active = new Map<number, { controller: AbortController; done: Promise<void> }>();
  private timer: NodeJS.Timeout | null = null;
  private lastCheckAt: Date | null = null;
  /** Claims are made one pass at a time, so two passes never count the same free slot. */
  private claiming: Promise<void> = Promise.resolve();
  private stopping = false;

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
    if (!this.options.enabled || this.stopping) return;
    this.processQueue().catch((error) => this.deps.logger.error('worker: could not process the queue', error));
  }

  /** Claims queued runs up to the free slots now, whether or not the worker runs by itself. */
  async processQueue(): Promise<WorkerStatus> {
    const pass = this.claiming.then(() => this.claimFreeSlots());
    this.claiming = pass.catch(() => undefined);
    await pass;
    return this.status();
  }

  private async claimFreeSlots(): Promise<void> {
    this.lastCheckAt = new Date();
    if (this.stopping) return;
    const free = this.options.concurrency - this.active.size;
    if (free <= 0) return;
    const ids = await this.deps.store.queuedRunIds(free);
    for (const id of ids) {
      const run = await changeRunStatus(this.deps, { id, status: 'QUEUED' }, { status: 'RUNNING', startedAt: new Date() });
      if (!run) continue; // another pass (or process) claimed it first
      const controller = new AbortController();
      const done = executeRun(this.deps, run, controller.signal)
        .catch((error) => this.deps.logger.error(`run ${id}: ${coerceError(error).message}`, error))
        .finally(() => {
          this.active.delete(id);
          this.notify();
        });
      this.active.set(id, { controller, done });
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
    };
  }

  activeRunIds(): number[] {
    return [...this.active.keys()];
  }

  /**
   * Stops taking runs, aborts the ones in progress (their steps' commands and model streams are
   * cancelled and each run ends FAILED, saying the server shut down) and waits for them to settle.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.claiming;
    const running = [...this.active.values()];
    for (const { controller } of running) controller.abort(new ServerShutdownError());
    await Promise.all(running.map((r) => r.done));
  }
}
