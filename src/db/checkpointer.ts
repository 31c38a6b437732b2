import sqlite3 from 'sqlite3';

/** How often the background checkpoint runs (one with nothing to copy costs next to nothing). */
const CHECKPOINT_INTERVAL_MS = 100;

/**
 * Copies the write-ahead log into the database file from a connection of its own, on its own
 * thread, so that the connection that writes has next to nothing left to copy. Left to SQLite, the
 * commit that crosses `wal_autocheckpoint` (1000 pages) does the whole checkpoint itself: with a
 * stream of events that is every ~0.2 s, and each time the batches behind it wait ~7 ms (more on a
 * busy machine). A PASSIVE checkpoint from another connection runs beside the writer in WAL mode and
 * never blocks it; the writer's own checkpoint then only copies the last few pages, and since it
 * completes the log, the log starts over from the beginning (a PASSIVE checkpoint alone, under
 * steady writes, never catches up fully, so the log would grow without end).
 */
export class WalCheckpointer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();

  private constructor(
    private readonly db: sqlite3.Database,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Opens a connection to the database file and starts checkpointing; null for an in-memory database. */
  static async start(databasePath: string, onError: (error: Error) => void): Promise<WalCheckpointer | null> {
    if (databasePath === ':memory:' || databasePath === '') return null;
    const db = await new Promise<sqlite3.Database>((resolve, reject) => {
      const opened: sqlite3.Database = new sqlite3.Database(databasePath, sqlite3.OPEN_READWRITE, (error) => (error ? reject(error) : resolve(opened)));
    });
    const checkpointer = new WalCheckpointer(db, onError);
    await checkpointer.exec('PRAGMA busy_timeout = 5000');
    checkpointer.timer = setInterval(() => checkpointer.checkpoint(), CHECKPOINT_INTERVAL_MS);
    checkpointer.timer.unref();
    return checkpointer;
  }

  private checkpoint(): void {
    this.running = this.running.then(() => this.exec('PRAGMA wal_checkpoint(PASSIVE)').catch(this.onError));
  }

  private exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (error) => (error ? reject(error) : resolve())));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await new Promise<void>((resolve) => this.db.close(() => resolve()));
  }
}
