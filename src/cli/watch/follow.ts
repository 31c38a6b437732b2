/**
 * A run's events across dropped connections: the `runEvents` subscription, opened again with
 * `after:` = the last seq delivered whenever the WebSocket goes away, so the caller sees every
 * event once, in order — nothing missed, nothing doubled.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectionError, GraphQLRequestError, type AgentRunnerClient } from '../../client/client.js';
import { CliRunEventsDocument, type CliEventFragment } from '../../client/generated/graphql.js';
import { CliError } from '../errors.js';

/** How long reconnecting is tried before giving up, in ms. */
export const RECONNECT_GIVE_UP_MS = 120_000;

/** Waits between reconnection attempts, in ms: 0.25, 0.5, 1, 2, then 4 s each. */
function backoffMs(attempt: number): number {
  return Math.min(4000, 250 * 2 ** (attempt - 1));
}

export interface FollowOptions {
  /** Ends the stream early (Ctrl-C). */
  signal?: AbortSignal;
  /** The connection dropped; attempt `attempt` to reconnect follows, resuming after `lastSeq`. */
  onDrop?: (error: ConnectionError, attempt: number, lastSeq: number) => void;
  /** For tests: how long to keep trying (RECONNECT_GIVE_UP_MS). */
  giveUpAfterMs?: number;
}

/**
 * Every event of the run with seq > `after`, then live ones, until the run's terminal event (the
 * server completes the subscription) or `signal` aborts. Server errors (unknown run, refused token)
 * are thrown; a lost connection is retried with backoff for up to `giveUpAfterMs`.
 */
export async function* followRunEvents(client: AgentRunnerClient, runId: string, after: number, options: FollowOptions = {}): AsyncGenerator<CliEventFragment, void, undefined> {
  const { signal } = options;
  let lastSeq = after;
  let attempt = 0;
  let failingSince: number | null = null;
  while (!signal?.aborted) {
    const subscription = client.subscribe(CliRunEventsDocument, { runId, after: lastSeq });
    const onAbort = () => subscription.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const { runEvents } of subscription) {
        attempt = 0;
        failingSince = null;
        if (runEvents.seq <= lastSeq) continue;
        lastSeq = runEvents.seq;
        yield runEvents;
      }
      return;
    } catch (error) {
      if (signal?.aborted) return;
      // The server cut a subscriber that fell behind: its message says to resume, which is what this does.
      if (error instanceof GraphQLRequestError && error.code === 'SUBSCRIBER_TOO_SLOW') continue;
      if (!(error instanceof ConnectionError) || error.code === 4403) throw error;
      failingSince ??= Date.now();
      attempt++;
      if (Date.now() - failingSince > (options.giveUpAfterMs ?? RECONNECT_GIVE_UP_MS)) {
        throw new CliError(
          `${error.message}; gave up reconnecting after ${Math.round((Date.now() - failingSince) / 1000)}s. The run goes on on the server: reattach with agent-runner watch ${runId}`,
          'UNREACHABLE',
        );
      }
      options.onDrop?.(error, attempt, lastSeq);
      try {
        await sleep(backoffMs(attempt), undefined, { signal });
      } catch {
        return;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
