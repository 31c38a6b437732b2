/**
 * What one live subscriber has been sent and not yet taken, bounded: past `limit` items it stops
 * taking more and reports `overflowed`, so a subscriber that cannot keep up is cut off (and told
 * where to resume) instead of holding memory without end. Publishers never wait on it.
 */
export class LiveBuffer<T> {
  private items: T[] = [];
  private wake: (() => void) | null = null;
  overflowed = false;

  constructor(private readonly limit: number) {}

  push(item: T): void {
    if (this.overflowed) return;
    if (this.items.length >= this.limit) this.overflowed = true;
    else this.items.push(item);
    this.wake?.();
  }

  shift(): T | undefined {
    return this.items.shift();
  }

  /** Resolves at the next push, when `closed` is aborted, or after `timeoutMs` if given. */
  async wait(closed: AbortSignal, timeoutMs?: number): Promise<void> {
    if (closed.aborted || this.items.length > 0 || this.overflowed) return;
    let timer: NodeJS.Timeout | undefined;
    let onClose: (() => void) | undefined;
    try {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        onClose = resolve;
        closed.addEventListener('abort', onClose, { once: true });
        if (timeoutMs !== undefined) timer = setTimeout(resolve, Math.max(0, timeoutMs));
      });
    } finally {
      this.wake = null;
      clearTimeout(timer);
      if (onClose) closed.removeEventListener('abort', onClose);
    }
  }
}
