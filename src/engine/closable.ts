/**
 * An async generator cannot be interrupted while it is parked in an `await`: its `return()` waits
 * until it next reaches a `yield`. A subscription generator that awaits the next live event would so
 * keep running, with its pubsub listener, after the client has left, until some event happened to
 * come. `closable` hands the generator a signal that `return()` and `throw()` abort first, so a
 * generator that ends its waits on that signal stops at once and runs its `finally`.
 */
export function closable<T>(start: (closed: AbortSignal) => AsyncGenerator<T, void, undefined>): AsyncIterableIterator<T, void, undefined> {
  const controller = new AbortController();
  const generator = start(controller.signal);
  const iterator: AsyncIterableIterator<T, void, undefined> = {
    next: () => generator.next(),
    return: () => {
      controller.abort();
      return generator.return(undefined);
    },
    throw: (error?: unknown) => {
      controller.abort();
      return generator.throw(error);
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
