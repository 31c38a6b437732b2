import type { RunController } from './run-control.js';
import type { Logger } from './runner.js';
import type { LeaseStore } from './store.js';

/** How often expired leases are looked for, at most (ms): a dead instance's run is taken over within its lease plus this. */
const MAX_TAKEOVER_INTERVAL_MS = 250;

/**
 * With several instances on one database: renews the leases of the runs this instance executes
 * (every third of LEASE_SECONDS), cutting off any it lost and acting on the stop and pause requests
 * left on them; records this instance as alive with its labels and notes queued runs no live
 * instance can take; and takes over runs whose lease expired, through crash recovery (which thus
 * runs all the time, not only at start). A failing round is logged and the next one tries again.
 */
export class LeaseKeeper {
  private timers: NodeJS.Timeout[] = [];
  private renewing: Promise<void> = Promise.resolve();
  private recovering: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly leases: LeaseStore,
    private readonly control: RunController,
    private readonly logger: Logger,
    /** Called when recovery put runs back in the queue (the worker claims them). */
    private readonly onRecovered: () => void,
  ) {}

  start(): void {
    const renewMs = (this.leases.leaseSeconds * 1000) / 3;
    const takeoverMs = Math.min(MAX_TAKEOVER_INTERVAL_MS, renewMs);
    this.timers.push(setInterval(() => this.renew(), renewMs), setInterval(() => this.takeOver(), takeoverMs));
    for (const timer of this.timers) timer.unref();
    this.renew();
  }

  private renew(): void {
    this.renewing = this.renewing.then(async () => {
      if (this.stopped) return;
      try {
        const { lost, requests } = await this.leases.renewLeases();
        for (const runId of lost) this.control.leaseLost(runId);
        for (const { runId, request } of requests) this.control.applyRequest(runId, request);
        await this.leases.heartbeatInstance();
        await this.leases.notePlacement();
      } catch (error) {
        this.logger.error('leases: could not renew (the database may be unreachable); trying again', error);
      }
    });
  }

  private takeOver(): void {
    this.recovering = this.recovering.then(async () => {
      if (this.stopped || this.control.isShuttingDown) return;
      try {
        const recovered = await this.control.recover();
        if (recovered.length > 0) this.onRecovered();
      } catch (error) {
        this.logger.error('leases: could not take over expired runs; trying again', error);
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await Promise.all([this.renewing, this.recovering]);
  }
}
