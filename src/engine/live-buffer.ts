/**
 * What one live subscriber has been sent and not yet taken, bounded: past `limit` items it stops
 * taking more and reports `overflowed`, so a subscriber that cannot keep up is cut off (and told
 * where to resume) instead of holding memory without end. Publishers never wait on it.
 *
 * Every live event goes through one of these per subscriber, so it is kept cheap: a queue with a
 * moving head (no `Array#shift`, which copies), and one listener on `closed` for the buffer's
 * whole life rather than one per wait.
 */
export class LiveBuffer<T> {
  private items: Array<T | undefined> = [];
  private head = 0;
  private wake: (() => void) | null = null;
  overflowed = false;
  /** `closed` was aborted (a plain field: AbortSignal#aborted is a checked getter, read per event). */
  isClosed = false;

  /** `closed` ends any wait at once (the subscriber left). */
  constructor(
    private readonly limit: number,
    closed: AbortSignal,
  ) {
    this.isClosed = closed.aborted;
    closed.addEventListener(
      'abort',
      () => {
        this.isClosed = true;
        this.wakeUp();
      },
      { once: true },
    );
  }

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    if (this.overflowed) return;
    if (this.size >= this.limit) this.overflowed = true;
    else this.items.push(item);
    this.wakeUp();
  }

  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Resolves at the next push, when `closed` is aborted, or after `timeoutMs` if given. */
  wait(timeoutMs?: number): Promise<void> {
    if (this.isClosed || this.size > 0 || this.overflowed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      if (timeoutMs === undefined) {
        this.wake = resolve;
        return;
      }
      const timer = setTimeout(() => this.wakeUp(), Math.max(0, timeoutMs));
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
