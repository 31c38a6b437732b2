import { Redis } from 'ioredis';
import type { PubSub, PubSubRelay } from '../engine/pubsub.js';
import type { Logger } from '../engine/runner.js';
import type { ControlRequest } from '../engine/store.js';
import type { EventRecord, RunRecord } from '../engine/types.js';

/**
 * Every channel of this server on Redis starts with this, then the database's namespace and a colon:
 * Redis pub/sub has one set of channels for the whole server (database numbers do not separate them),
 * and run ids repeat between databases, so instances of another database sharing the Redis must not
 * hear this one's events or stop requests.
 */
const PREFIX = 'agent-runner:';
/** Stop and pause requests for the instance executing a run (after the prefix and namespace). */
const CONTROL = 'control';
/** While Redis is down, a failed publish is logged at most this often (ms). */
const PUBLISH_ERROR_LOG_MS = 10_000;

interface Envelope {
  /** The instance that published it: an instance ignores its own (its listeners had it at once). */
  from: string;
  payload: unknown;
}

/** Dates travel as ISO strings: a payload from another instance gets its Date objects back. */
function revive(channel: string, payload: Record<string, unknown>): unknown {
  const dates = channel.startsWith('runEvent:') ? ['createdAt'] : ['createdAt', 'startedAt', 'finishedAt'];
  for (const key of dates) if (typeof payload[key] === 'string') payload[key] = new Date(payload[key] as string);
  return payload;
}

/** Redis could not be reached when the server started (REDIS_URL): the message names the URL, the reason and what to do. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

/**
 * Redis between instances (REDIS_URL): what one instance publishes (events after their commit, run
 * status changes) reaches the live subscribers of the others, and stop/pause reach the instance
 * executing a run at once. Two connections: one publishes, one subscribes (Redis puts a subscribing
 * connection in a mode of its own). Redis pub/sub delivers at most once: a message published while a
 * connection is down is lost, so subscribers fill gaps from the database (PubSub.lossy), and run
 * control has the database as its backstop. ioredis reconnects and subscribes again by itself.
 */
export class RedisBus implements PubSubRelay {
  private readonly watched = new Map<string, number>();
  /** When a failed publish was last logged: while Redis is down, once every PUBLISH_ERROR_LOG_MS. */
  private lastPublishError = 0;

  private constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly instanceId: string,
    private readonly logger: Logger,
    /** `agent-runner:<namespace>:`, before every channel's name. */
    private readonly prefix: string,
  ) {}

  /**
   * Connects to `url`, relays `pubsub` through it on the channels of `namespace` (the database's,
   * databaseNamespace: instances of one database share it), and hands stop/pause requests for runs to
   * `onControl`. Rejects with RedisUnavailableError (the URL and the reason) when Redis cannot be reached at start.
   */
  static async connect(url: string, instanceId: string, namespace: string, pubsub: PubSub, logger: Logger, onControl: (runId: number, request: ControlRequest) => void): Promise<RedisBus> {
    const options = { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: `agent-runner:${instanceId}` };
    const publisher = new Redis(url, options);
    const subscriber = new Redis(url, options);
    // Until both are connected, an error is the reason the start fails (ioredis's own rejection only
    // says "Connection is closed."), not one to log as a reconnection.
    let connectError: Error | null = null;
    const remember = (error: Error) => (connectError ??= error);
    for (const client of [publisher, subscriber]) client.on('error', remember);
    try {
      await Promise.all([publisher.connect(), subscriber.connect()]);
    } catch (error) {
      publisher.disconnect();
      subscriber.disconnect();
      const reason = (connectError ?? (error as Error)).message.replace(/\.+$/, '');
      throw new RedisUnavailableError(`Redis is not reachable at ${describeRedisUrl(url)} (REDIS_URL): ${reason}. Start Redis there, fix REDIS_URL, or unset it (one instance needs no Redis).`, { cause: error });
    }
    for (const [name, client] of [['publishing', publisher], ['subscribing', subscriber]] as const) {
      client.off('error', remember);
      client.on('error', (error: Error) => logger.error(`redis (${name} connection): ${error.message}; reconnecting, the database covers meanwhile`));
    }
    const prefix = `${PREFIX}${namespace}:`;
    const controlChannel = prefix + CONTROL;
    const bus = new RedisBus(publisher, subscriber, instanceId, logger, prefix);
    subscriber.on('message', (channel: string, text: string) => {
      let envelope: Envelope;
      try {
        envelope = JSON.parse(text) as Envelope;
      } catch {
        return;
      }
      if (envelope.from === instanceId) return;
      if (!channel.startsWith(prefix)) return;
      if (channel === controlChannel) {
        const { runId, request } = envelope.payload as { runId: number; request: ControlRequest };
        onControl(runId, request);
        return;
      }
      const local = channel.slice(prefix.length);
      const split = local.indexOf(':');
      const topic = local.slice(0, split) as 'runEvent' | 'runUpdated';
      const key = local.slice(split + 1);
      const payload = revive(local, envelope.payload as Record<string, unknown>);
      if (topic === 'runEvent') pubsub.deliver('runEvent', Number(key), payload as EventRecord);
      else if (topic === 'runUpdated') pubsub.deliver('runUpdated', key, payload as RunRecord);
    });
    await subscriber.subscribe(controlChannel);
    pubsub.attachRelay(bus);
    return bus;
  }

  publish(channel: string, payload: unknown): void {
    const envelope: Envelope = { from: this.instanceId, payload };
    this.publisher.publish(this.prefix + channel, JSON.stringify(envelope)).catch((error: Error) => {
      if (Date.now() - this.lastPublishError < PUBLISH_ERROR_LOG_MS) return;
      this.lastPublishError = Date.now();
      this.logger.error(`redis: could not publish on ${channel} (subscribers on other instances read the database meanwhile): ${error.message}`);
    });
  }

  /** Sends a stop or pause to whichever instance executes the run. */
  publishControl(runId: number, request: ControlRequest): void {
    const envelope: Envelope = { from: this.instanceId, payload: { runId, request } };
    this.publisher.publish(this.prefix + CONTROL, JSON.stringify(envelope)).catch((error: Error) => this.logger.error(`redis: could not send ${request} for run ${runId}: ${error.message}`));
  }

  watch(channel: string): void {
    const count = this.watched.get(channel) ?? 0;
    this.watched.set(channel, count + 1);
    if (count === 0) this.subscriber.subscribe(this.prefix + channel).catch((error: Error) => this.logger.error(`redis: could not follow ${channel}: ${error.message}`));
  }

  unwatch(channel: string): void {
    const count = this.watched.get(channel) ?? 0;
    if (count <= 1) {
      this.watched.delete(channel);
      this.subscriber.unsubscribe(this.prefix + channel).catch(() => undefined);
    } else {
      this.watched.set(channel, count - 1);
    }
  }

  /** Round trip to Redis (for /ready). */
  async ping(): Promise<void> {
    await this.publisher.ping();
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.publisher.quit(), this.subscriber.quit()]);
  }
}

/** REDIS_URL without its password, for logs and errors. */
export function describeRedisUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
