import type { RunController } from './run-control.js';
import type { RunnerDeps } from './runner.js';
import type { SandboxStatus } from './types.js';

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

/**
 * The in-process worker: claims queued runs (oldest first) with a conditional UPDATE so a run can
 * never be claimed twice, and hands up to `concurrency` of them at once to run control, which
 * executes them; it looks again whenever a run is created or resumed (`notify`), an execution ends,
 * or the poll interval passes.
 */
export class Worker {
  private timer: NodeJS.Timeout | null = null;
  private lastCheckAt: Date | null = null;
  /** Claims are made one pass at a time, so two passes never count the same free slot. */
  private claiming: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly deps: Pick<RunnerDeps, 'store' | 'pubsub' | 'logger' | 'settings'>,
    private readonly control: RunController,
    private readonly options: WorkerOptions,
  ) {
    control.onReleased(() => this.notify());
  }

  start(): void {
    if (!this.options.enabled || this.timer) return;
    this.timer = setInterval(() => this.notify(), this.options.checkIntervalSeconds * 1000);
    this.timer.unref();
    this.notify();
  }

  /** Something may be waiting: look now (a no-op when the worker is disabled). */
  notify(): void {
    if (!this.options.enabled || this.stopped) return;
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
    if (this.stopped || this.control.isShuttingDown) return;
    const free = this.options.concurrency - this.control.activeRunIds().length;
    if (free <= 0) return;
    // The QUEUED → RUNNING edge of the state machine, taken by one conditional UPDATE.
    for (const run of await this.deps.store.claimQueuedRuns(free, new Date())) {
      this.deps.pubsub.publish('runUpdated', 'all', run);
      this.control.execute(run);
    }
  }

  async status(): Promise<WorkerStatus> {
    return {
      enabled: this.options.enabled,
      concurrency: this.options.concurrency,
      activeRunIds: this.control.activeRunIds(),
      queued: await this.deps.store.countRuns('QUEUED'),
      checkIntervalSeconds: this.options.checkIntervalSeconds,
      lastCheckAt: this.lastCheckAt,
      sandbox: this.deps.settings.commands.status,
    };
  }

  /**
   * Graceful shutdown: takes no more runs, then lets run control end the running ones (running steps
   * may finish for up to `graceMs`; runs cut off are continued by crash recovery at the next start).
   */
  async stop(graceMs = 0): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.claiming;
    await this.control.shutdown(graceMs);
  }
}
