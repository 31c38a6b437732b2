export interface CoalescerOptions {
  /** Longest a delta waits before it is flushed (100 ms). */
  coalesceMs: number;
  /** Flush at once when this many bytes are waiting (4 096). */
  coalesceBytes: number;
}

/**
 * Gathers streamed text deltas (model tokens, command output) and hands them on in fewer, larger
 * pieces: each delta is recorded as an event, and one event per token would flood the store and
 * every subscriber. The timer starts with the first waiting delta, so nothing waits longer than
 * `coalesceMs`.
 */
export class Coalescer {
  private waiting: string[] = [];
  private waitingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly flushTo: (text: string) => void,
    private readonly options: CoalescerOptions,
  ) {}

  push(text: string): void {
    if (this.closed || text === '') return;
    this.waiting.push(text);
    this.waitingBytes += Buffer.byteLength(text);
    if (this.waitingBytes >= this.options.coalesceBytes) {
      this.flush();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.options.coalesceMs);
    }
  }

  /** Hands on whatever is waiting now. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.waiting.length === 0) return;
    const text = this.waiting.join('');
    this.waiting = [];
    this.waitingBytes = 0;
    this.flushTo(text);
  }

  /** Flushes what is waiting; later deltas are ignored. */
  close(): void {
    this.flush();
    this.closed = true;
  }
}
