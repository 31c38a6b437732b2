import type { PubSub } from './pubsub.js';
import { TERMINAL_EVENT_TYPES, type EventRecord, type NewEvent } from './types.js';

/** What the event log needs from storage. */
export interface EventStore {
  /** The highest stored `seq` of each run (0 when it has none). */
  maxSeqs(runIds: number[]): Promise<Map<number, number>>;
  /** Stores the rows in one transaction, in order; returns them with their ids (the same objects, given an `id`). */
  insertEvents(rows: Array<Omit<EventRecord, 'id'>>): Promise<EventRecord[]>;
  /**
   * Present when the database numbers events itself (several instances write one run's events):
   * stores the rows of each run in order, giving them the next numbers of that run's counter in the
   * same transaction; each row's outcome is its record, or the error that refused it (LeaseLostError
   * for a run this instance no longer holds). `seq` of the rows passed is ignored.
   */
  insertNumberedEvents?(rows: Array<Omit<EventRecord, 'id'>>): Promise<Array<EventRecord | Error>>;
}

/**
 * Under a steady stream of events (tokens, output lines: the last batch held STREAM_BATCH_SIZE or
 * more), batches start at least MIN_BATCH_INTERVAL_MS apart, so each commit carries ~2 ms of events
 * instead of one event-loop turn's: SQLite rewrites the same table and index pages into its log for
 * every commit, so a commit per turn costs several times the CPU per event. A run's own steps
 * (STEP_STARTED, STEP_COMPLETED, a few events at a time) are written at once.
 */
const MIN_BATCH_INTERVAL_MS = 2;
const STREAM_BATCH_SIZE = 16;

interface Pending {
  runId: number;
  event: NewEvent;
  createdAt: Date;
  resolve: (record: EventRecord) => void;
  reject: (error: unknown) => void;
}

/**
 * The one way anything that happens to a run is recorded: assigns `seq`, persists, then publishes.
 *
 * Appends made in the same event-loop turn are written in one transaction (a group commit), so a
 * burst of streamed tokens costs one fsync instead of one per event. Batches are written one at a
 * time, in call order, so `seq` follows the order of `append` calls and subscribers always receive
 * a run's events in `seq` order. `seq` counters live in memory (loaded from the database the first
 * time a run is seen), which is correct while one process writes a run's events.
 */
export class EventLog {
  private readonly nextSeqs = new Map<number, number>();
  private pending: Pending[] = [];
  private scheduled = false;
  private writing: Promise<void> = Promise.resolve();
  private lastBatchAt = -Infinity;
  private lastBatchSize = 0;

  constructor(
    private readonly store: EventStore,
    private readonly pubsub: PubSub,
  ) {}

  /** A run just created has no events: its first `seq` is 1, without asking the database. */
  beginNewRun(runId: number): void {
    if (this.store.insertNumberedEvents) return; // the database numbers them
    if (!this.nextSeqs.has(runId)) this.nextSeqs.set(runId, 1);
  }

  /**
   * Records an event; resolves once it is stored (and published), rejects if storing failed (the
   * store has waited out a busy database for its busy timeout by then). A rejection is never to be
   * ignored: the runner fails the step or run whose event it was (see EventTally).
   */
  append(runId: number, event: NewEvent): Promise<EventRecord> {
    return new Promise((resolve, reject) => {
      this.pending.push({ runId, event, createdAt: new Date(), resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          const wait = this.lastBatchSize >= STREAM_BATCH_SIZE ? this.lastBatchAt + MIN_BATCH_INTERVAL_MS - performance.now() : 0;
          const write = () => {
            this.scheduled = false;
            this.writing = this.writing.then(() => this.writeBatch());
          };
          if (wait > 0.5) setTimeout(write, wait);
          else write();
        });
      }
    });
  }

  /** Resolves when everything appended so far is stored. */
  async flush(): Promise<void> {
    while (this.pending.length > 0 || this.scheduled) {
      await new Promise((resolve) => setImmediate(resolve));
      await this.writing;
    }
    await this.writing;
  }

  private async writeBatch(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.lastBatchAt = performance.now();
    this.lastBatchSize = batch.length;
    if (this.store.insertNumberedEvents) return this.writeNumberedBatch(batch);
    try {
      const unknownRuns = [...new Set(batch.map((p) => p.runId))].filter((id) => !this.nextSeqs.has(id));
      if (unknownRuns.length > 0) {
        const maxSeqs = await this.store.maxSeqs(unknownRuns);
        for (const id of unknownRuns) this.nextSeqs.set(id, (maxSeqs.get(id) ?? 0) + 1);
      }
      const rows = batch.map((p) => {
        const seq = this.nextSeqs.get(p.runId)!;
        this.nextSeqs.set(p.runId, seq + 1);
        return {
          id: 0,
          runId: p.runId,
          seq,
          type: p.event.type,
          message: p.event.message,
          stepName: p.event.stepName ?? null,
          data: p.event.data ?? null,
          createdAt: p.createdAt,
        };
      });
      const stored = await this.store.insertEvents(rows);
      for (let i = 0; i < batch.length; i++) {
        const record = stored[i];
        // A finished run's counter is dropped; it is reloaded from the database if the run continues.
        if (TERMINAL_EVENT_TYPES.has(record.type)) this.nextSeqs.delete(record.runId);
        this.pubsub.publish('runEvent', record.runId, record);
        batch[i].resolve(record);
      }
    } catch (error) {
      // Nothing of the batch was stored: forget the counters so they are read again from the database.
      for (const p of batch) this.nextSeqs.delete(p.runId);
      for (const p of batch) p.reject(error);
    }
  }

  /** The batch written where the database numbers the events (PostgreSQL): one run's refusal leaves the others stored. */
  private async writeNumberedBatch(batch: Pending[]): Promise<void> {
    const rows = batch.map((p) => ({
      runId: p.runId,
      seq: 0,
      type: p.event.type,
      message: p.event.message,
      stepName: p.event.stepName ?? null,
      data: p.event.data ?? null,
      createdAt: p.createdAt,
    }));
    let outcomes: Array<EventRecord | Error>;
    try {
      outcomes = await this.store.insertNumberedEvents!(rows);
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      const outcome = outcomes[i];
      if (outcome instanceof Error) {
        batch[i].reject(outcome);
        continue;
      }
      this.pubsub.publish('runEvent', outcome.runId, outcome);
      batch[i].resolve(outcome);
    }
  }
}
