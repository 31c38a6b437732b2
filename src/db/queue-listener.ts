import pg from 'pg';
import { QUEUE_CHANNEL } from './store.js';

/** How long to wait before listening again after the connection was lost (ms). */
const RECONNECT_MS = 1000;

/**
 * LISTEN on PostgreSQL for queued runs (createRun, resume and retry NOTIFY when they commit), so an
 * idle instance claims a new run at once rather than at its next poll. A lost connection is
 * reopened after a second; meanwhile the worker's poll (WORKER_CHECK_INTERVAL) is the safety net.
 */
export class QueueListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly url: string,
    private readonly onQueued: () => void,
    private readonly onError: (error: Error) => void,
  ) {}

  static async start(url: string, onQueued: () => void, onError: (error: Error) => void): Promise<QueueListener> {
    const listener = new QueueListener(url, onQueued, onError);
    await listener.connect();
    return listener;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', () => this.onQueued());
    client.on('error', (error) => {
      this.onError(error);
      this.reconnectLater(client);
    });
    client.on('end', () => this.reconnectLater(client));
    await client.connect();
    await client.query(`LISTEN ${QUEUE_CHANNEL}`);
    this.client = client;
    // Anything queued while not listening.
    this.onQueued();
  }

  private reconnectLater(client: pg.Client): void {
    if (this.stopped || this.client !== client) return;
    this.client = null;
    client.end().catch(() => undefined);
    this.scheduleConnect();
  }

  private scheduleConnect(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopped) return;
      this.connect().catch((error: Error) => {
        this.onError(error);
        this.scheduleConnect();
      });
    }, RECONNECT_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }
}
