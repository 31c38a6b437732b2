import { UserError } from '../errors.js';
import { closable } from './closable.js';
import { LiveBuffer } from './live-buffer.js';
import type { PubSub } from './pubsub.js';
import type { RunStore } from './store.js';
import { FINAL_RUN_STATUSES, TERMINAL_EVENT_TYPES, type EventRecord, type RunRecord } from './types.js';

/** How long a stream of an ended run waits for a terminal event that is not stored yet. */
const TERMINAL_EVENT_GRACE_MS = 2000;

/** Events read from the database per query while replaying. */
const REPLAY_PAGE = 1000;

/**
 * Live events held for one subscriber that has not taken them yet. A subscriber this far behind
 * is cut off with `SubscriberTooSlowError` rather than holding memory without bound; it resumes
 * with `after` set to the last `seq` it received and misses nothing.
 */
export const MAX_BUFFERED_EVENTS = 10_000;

/** A user error (code SUBSCRIBER_TOO_SLOW): its message, which says where to resume, reaches the client. */
export class SubscriberTooSlowError extends UserError {
  constructor(readonly lastSeq: number) {
    super('SUBSCRIBER_TOO_SLOW', `This subscriber fell more than ${MAX_BUFFERED_EVENTS} events behind and was disconnected; subscribe again with after: ${lastSeq} to continue.`);
    this.name = 'SubscriberTooSlowError';
  }
}

/**
 * A run's events with `seq > after`: first those already stored, then live ones, with no gap and no
 * duplicate, ending after the terminal event (the latest one, for a run that was retried). It listens before it reads the backlog, so an event
 * stored during the replay arrives either in the backlog or live (or both, and is dropped once).
 * Closing it (`return()`, as a server does when the client unsubscribes or disconnects) ends it at
 * once, even while it waits for the next live event.
 */
export function streamRunEvents(
  deps: { store: Pick<RunStore, 'listEvents' | 'getRun' | 'lastEvent'>; pubsub: PubSub },
  runId: number,
  after: number,
): AsyncIterableIterator<EventRecord, void, undefined> {
  return closable((closed) => runEvents(deps, runId, after, closed));
}

/**
 * The events of one step of a run (a subscriber following each step apart), and the run's terminal
 * event, which ends the stream. `return()` reaches the underlying stream at once.
 */
export function stepEvents(events: AsyncIterableIterator<EventRecord, void, undefined>, stepName: string): AsyncIterableIterator<EventRecord, void, undefined> {
  const iterator: AsyncIterableIterator<EventRecord, void, undefined> = {
    async next() {
      for (;;) {
        const item = await events.next();
        if (item.done || item.value.stepName === stepName || TERMINAL_EVENT_TYPES.has(item.value.type)) return item;
      }
    },
    return: () => events.return?.() ?? Promise.resolve({ done: true, value: undefined }),
    throw: (error?: unknown) => events.throw?.(error) ?? Promise.reject(error),
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

async function* runEvents(
  deps: { store: Pick<RunStore, 'listEvents' | 'getRun' | 'lastEvent'>; pubsub: PubSub },
  runId: number,
  after: number,
  closed: AbortSignal,
): AsyncGenerator<EventRecord, void, undefined> {
  const live = new LiveBuffer<EventRecord>(MAX_BUFFERED_EVENTS, closed);
  const unsubscribe = deps.pubsub.subscribe('runEvent', runId, (event) => live.push(event));

  let lastSeq = after;
  try {
    // A terminal event in the stored log ends the stream only if it is the run's latest event: a
    // retried run has terminal events in the middle of its log (retryRun records RUN_QUEUED before
    // the run leaves its final status, so the latest event of a requeued run is never terminal).
    let page = await deps.store.listEvents(runId, lastSeq, REPLAY_PAGE);
    while (page.length > 0) {
      const next = page.length === REPLAY_PAGE ? await deps.store.listEvents(runId, page[page.length - 1].seq, REPLAY_PAGE) : [];
      for (const [i, event] of page.entries()) {
        lastSeq = event.seq;
        yield event;
        const latest = i === page.length - 1 && next.length === 0;
        if (latest && TERMINAL_EVENT_TYPES.has(event.type)) return;
      }
      page = next;
    }
    // Nothing left to replay. A run that has ended and whose terminal event is stored has nothing
    // more to say. One that has ended without it is either about to store it (status changes
    // before the terminal event is written) or was cut off by a crash: wait briefly, then end.
    let deadline: number | null = null;
    const run = await deps.store.getRun(runId);
    if (run && FINAL_RUN_STATUSES.has(run.status)) {
      const last = await deps.store.lastEvent(runId);
      if (last && TERMINAL_EVENT_TYPES.has(last.type) && last.seq <= lastSeq) return;
      deadline = Date.now() + TERMINAL_EVENT_GRACE_MS;
    }
    // Between instances (Redis) a live event can be lost: a gap in `seq` is filled from the database,
    // and a subscriber that hears nothing for a while looks there too (the lost one may be the last).
    const lossy = deps.pubsub.lossy;
    for (;;) {
      for (let event = live.shift(); event !== undefined; event = live.shift()) {
        if (event.seq <= lastSeq) continue;
        if (lossy && event.seq > lastSeq + 1) {
          const from = lastSeq + 1;
          for (const missed of await deps.store.listEvents(runId, lastSeq, event.seq - lastSeq - 1)) {
            lastSeq = missed.seq;
            yield missed;
            if (TERMINAL_EVENT_TYPES.has(missed.type)) return;
          }
          lossy.onGap(runId, from, event.seq - 1);
          if (event.seq <= lastSeq) continue;
        }
        lastSeq = event.seq;
        yield event;
        if (TERMINAL_EVENT_TYPES.has(event.type)) return;
      }
      if (live.overflowed) throw new SubscriberTooSlowError(lastSeq);
      if (deadline !== null && Date.now() >= deadline) return;
      if (live.isClosed) return;
      const waitMs = deadline === null ? lossy?.idleCheckMs : Math.min(deadline - Date.now(), lossy?.idleCheckMs ?? Infinity);
      const heard = live.size;
      await live.wait(waitMs);
      if (live.isClosed) return;
      if (lossy && live.size === heard && !live.overflowed) {
        const missed = await deps.store.listEvents(runId, lastSeq, REPLAY_PAGE);
        if (missed.length > 0) lossy.onGap(runId, lastSeq + 1, missed[missed.length - 1].seq);
        for (const event of missed) {
          lastSeq = event.seq;
          yield event;
          if (TERMINAL_EVENT_TYPES.has(event.type)) return;
        }
      }
    }
  } finally {
    unsubscribe();
  }
}

/** Run status changes beyond this many, not yet taken by a runUpdated subscriber, cut it off. */
export const MAX_BUFFERED_RUN_UPDATES = 10_000;

/**
 * Every run's new state after each status change (of one project's runs if `projectId` is given),
 * live, until the subscriber leaves. Closing it ends it at once, even while it waits.
 */
export function streamRunUpdates(pubsub: PubSub, projectId: number | null): AsyncIterableIterator<RunRecord, void, undefined> {
  return closable((closed) => runUpdates(pubsub, projectId, closed));
}

async function* runUpdates(pubsub: PubSub, projectId: number | null, closed: AbortSignal): AsyncGenerator<RunRecord, void, undefined> {
  const live = new LiveBuffer<RunRecord>(MAX_BUFFERED_RUN_UPDATES, closed);
  const unsubscribe = pubsub.subscribe('runUpdated', 'all', (run) => {
    if (projectId === null || run.projectId === projectId) live.push(run);
  });
  try {
    while (!live.isClosed) {
      for (let run = live.shift(); run !== undefined; run = live.shift()) yield run;
      if (live.overflowed) {
        throw new UserError('SUBSCRIBER_TOO_SLOW', `This subscriber fell more than ${MAX_BUFFERED_RUN_UPDATES} run updates behind and was disconnected; subscribe again and read the runs you follow with the "runs" query.`);
      }
      await live.wait();
    }
  } finally {
    unsubscribe();
  }
}
