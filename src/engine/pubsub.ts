import type { EventRecord, RunRecord } from './types.js';

/**
 * In-process publish/subscribe with a typed topic map. Written here rather than taken from yoga's
 * `createPubSub` so the engine needs no GraphQL package, a topic can have any number of subscribers
 * (no MaxListeners warning), and a throwing listener is logged instead of breaking the publisher.
 */
export interface Topics {
  /** Every event of one run, after it is stored, in `seq` order. Keyed by run id. */
  runEvent: EventRecord;
  /** A run's new state after every status change. Keyed by `all`. */
  runUpdated: RunRecord;
}

export type Listener<T> = (payload: T) => void;

export class PubSub {
  private readonly listeners = new Map<string, Set<Listener<never>>>();

  constructor(private readonly onListenerError: (error: unknown) => void = (error) => console.error('[pubsub] listener failed:', error)) {}

  subscribe<K extends keyof Topics>(topic: K, key: string | number, listener: Listener<Topics[K]>): () => void {
    const channel = `${topic}:${key}`;
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(listener as Listener<never>);
    return () => {
      set.delete(listener as Listener<never>);
      if (set.size === 0 && this.listeners.get(channel) === set) this.listeners.delete(channel);
    };
  }

  publish<K extends keyof Topics>(topic: K, key: string | number, payload: Topics[K]): void {
    const set = this.listeners.get(`${topic}:${key}`);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Topics[K]>)(payload);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  /** Number of listeners on one channel (for tests and the worker's status). */
  listenerCount<K extends keyof Topics>(topic: K, key: string | number): number {
    return this.listeners.get(`${topic}:${key}`)?.size ?? 0;
  }
}
