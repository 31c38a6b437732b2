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

/**
 * Carries what is published here to the other instances and theirs here (Redis). `publish` is
 * called for every local publish; `watch`/`unwatch` when a channel (`topic:key`) gets its first
 * local listener or loses its last one, so only channels someone here listens to are followed.
 */
export interface PubSubRelay {
  publish(channel: string, payload: unknown): void;
  watch(channel: string): void;
  unwatch(channel: string): void;
}

/** Set when messages may be lost on the way between instances (Redis pub/sub drops them when a connection breaks). */
export interface LossyDelivery {
  /** A live subscriber that heard nothing for this long reads the database for anything it missed (ms). */
  idleCheckMs: number;
  /** A subscriber found events it had missed live and read them from the database. */
  onGap(runId: number, fromSeq: number, toSeq: number): void;
}

export class PubSub {
  private readonly listeners = new Map<string, Set<Listener<never>>>();
  private relay: PubSubRelay | null = null;
  /** Non-null when a relay between instances may lose messages: subscribers then check the database. */
  lossy: LossyDelivery | null = null;

  constructor(private readonly onListenerError: (error: unknown) => void = (error) => console.error('[pubsub] listener failed:', error)) {}

  subscribe<K extends keyof Topics>(topic: K, key: string | number, listener: Listener<Topics[K]>): () => void {
    const channel = `${topic}:${key}`;
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      this.relay?.watch(channel);
    }
    set.add(listener as Listener<never>);
    return () => {
      set.delete(listener as Listener<never>);
      if (set.size === 0 && this.listeners.get(channel) === set) {
        this.listeners.delete(channel);
        this.relay?.unwatch(channel);
      }
    };
  }

  /** Connects this instance's pub/sub to the others' (see PubSubRelay); channels listened to already are watched at once. */
  attachRelay(relay: PubSubRelay): void {
    this.relay = relay;
    for (const channel of this.listeners.keys()) relay.watch(channel);
  }

  publish<K extends keyof Topics>(topic: K, key: string | number, payload: Topics[K]): void {
    this.relay?.publish(`${topic}:${key}`, payload);
    this.deliver(topic, key, payload);
  }

  /** Hands a payload to this instance's listeners only (what the relay brings from another instance). */
  deliver<K extends keyof Topics>(topic: K, key: string | number, payload: Topics[K]): void {
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
