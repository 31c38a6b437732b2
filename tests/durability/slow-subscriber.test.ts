/**
 * A subscriber that does not keep up is cut off once MAX_BUFFERED_EVENTS live events wait for it,
 * with an error that says where to resume; the run (the publisher) and the other subscribers of the
 * run never wait for it, and resuming with `after` misses nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RunEventsDocument, type EventFieldsFragment } from '../../src/client/generated/graphql.js';
import { GraphQLRequestError } from '../../src/client/client.js';
import { MAX_BUFFERED_EVENTS, SubscriberTooSlowError, streamRunEvents } from '../../src/engine/event-stream.js';
import { PubSub } from '../../src/engine/pubsub.js';
import type { EventRecord, EventType, RunRecord } from '../../src/engine/types.js';
import { collect, startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { createRun, nextEvent, seqRange } from '../api/api-helpers.js';
import { within } from './support.js';

const RUN_ID = 7;

/** A run's event log in memory: what `streamRunEvents` reads (the store) and hears (the pubsub). */
function memoryLog() {
  const pubsub = new PubSub((error) => {
    throw error;
  });
  const stored: EventRecord[] = [];
  const store = {
    async listEvents(runId: number, after: number, first: number) {
      return stored.filter((e) => e.runId === runId && e.seq > after).slice(0, first);
    },
    async getRun(id: number) {
      const ended = stored.at(-1)?.type === 'WORKFLOW_COMPLETED';
      return { id, status: ended ? 'COMPLETED' : 'RUNNING' } as RunRecord;
    },
    async lastEvent(runId: number) {
      return stored.filter((e) => e.runId === runId).at(-1) ?? null;
    },
  };
  /** Stores the next event of the run and publishes it, as the event log does. */
  const append = (type: EventType = 'LLM_TOKEN'): EventRecord => {
    const seq = stored.length + 1;
    const event: EventRecord = { id: seq, runId: RUN_ID, seq, type, message: `event ${seq}`, stepName: 'coder', data: { text: `t${seq}` }, createdAt: new Date() };
    stored.push(event);
    pubsub.publish('runEvent', RUN_ID, event);
    return event;
  };
  return { deps: { store, pubsub }, stored, append };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('a slow subscriber (event stream)', () => {
  it('is cut off after MAX_BUFFERED_EVENTS waiting events with an error naming where to resume; the run and another subscriber never wait', async () => {
    const { deps, stored, append } = memoryLog();
    for (let i = 0; i < 3; i++) append(i === 0 ? 'WORKFLOW_STARTED' : 'LLM_TOKEN');

    // A subscriber that keeps up, reading in the background.
    const fast = streamRunEvents(deps, RUN_ID, 0);
    const fastSeqs: number[] = [];
    const fastDone = (async () => {
      for await (const event of fast) fastSeqs.push(event.seq);
    })();

    // A subscriber that reads the backlog, then stops reading.
    const slow = streamRunEvents(deps, RUN_ID, 0);
    const slowSeqs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const step = await slow.next();
      expect(step.done).toBe(false);
      slowSeqs.push((step.value as EventRecord).seq);
    }
    expect(deps.pubsub.listenerCount('runEvent', RUN_ID)).toBe(2);

    // The run goes on: publishing never waits for a subscriber (append is synchronous). Bursts of
    // 500, with a turn of the event loop between them, in which the fast subscriber catches up.
    const total = MAX_BUFFERED_EVENTS + 600;
    while (stored.length < total - 1) {
      for (let i = 0; i < 500 && stored.length < total - 1; i++) append();
      await turn();
      expect(fastSeqs.at(-1)).toBe(stored.length);
    }
    append('WORKFLOW_COMPLETED');
    await within(fastDone, 10_000, 'the end of the fast stream');
    expect(fastSeqs).toEqual(seqRange(1, total));

    // The slow one gets what was held for it, then the error, and no more.
    let caught: unknown;
    try {
      for (;;) {
        const step = await slow.next();
        if (step.done) break;
        slowSeqs.push(step.value.seq);
      }
    } catch (error) {
      caught = error;
    }
    const lastSeq = 3 + MAX_BUFFERED_EVENTS;
    expect(slowSeqs).toEqual(seqRange(1, lastSeq));
    expect(caught).toBeInstanceOf(SubscriberTooSlowError);
    expect((caught as SubscriberTooSlowError).lastSeq).toBe(lastSeq);
    expect((caught as Error).message).toContain(`subscribe again with after: ${lastSeq}`);
    // Both streams let go of the run's channel.
    expect(deps.pubsub.listenerCount('runEvent', RUN_ID)).toBe(0);

    // Resuming where the error said misses nothing and duplicates nothing.
    const rest = await collect(streamRunEvents(deps, RUN_ID, lastSeq), { timeoutMs: 10_000 });
    expect([...slowSeqs, ...rest.map((e) => e.seq)]).toEqual(seqRange(1, total));
    expect(rest.at(-1)?.type).toBe('WORKFLOW_COMPLETED');
  });
});

/**
 * What the subscription ended with, as one message. The typed client throws a graphql-ws `error`
 * message as the bare array of errors (not a GraphQLRequestError), so both are accepted here.
 */
function errorText(caught: unknown): string {
  if (caught instanceof GraphQLRequestError) return caught.message;
  if (Array.isArray(caught)) return caught.map((e: { message?: string }) => e.message ?? String(e)).join('; ');
  return caught instanceof Error ? caught.message : String(caught);
}

describe('a slow subscriber over GraphQL', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  /**
   * Subscribes to a run with no events but RUN_QUEUED, then stores more events in one event-loop
   * turn than a subscriber may hold: one group commit, published at once, faster than any
   * subscriber can take them. Returns what the subscriber got before its error, and the error.
   */
  async function overflowASubscriber() {
    t = await startTestApp({ disableWorker: true });
    const app = t;
    const run = await createRun(app); // RUN_QUEUED is seq 1
    const runId = Number(run.id);
    const subscription = app.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 });
    expect((await nextEvent(subscription)).seq).toBe(1);
    await waitFor(() => app.app.services.pubsub.listenerCount('runEvent', runId) === 1, { what: 'the subscription to listen' });

    const burst = MAX_BUFFERED_EVENTS + 10;
    const appended = Array.from({ length: burst }, (_, i) => app.app.services.eventLog.append(runId, { type: 'LLM_TOKEN', message: `token ${i}`, stepName: 'coder', data: { text: `${i}` } }));
    await within(Promise.all(appended), 20_000, 'storing the burst');

    const received: EventFieldsFragment[] = [];
    let caught: unknown;
    try {
      for (;;) received.push(await within(nextEvent(subscription), 10_000, 'the next event'));
    } catch (error) {
      caught = error;
    }
    return { app, run, burst, received, caught };
  }

  it('is ended with an error, and resubscribing with after: <last seq it saw> misses nothing', async () => {
    const { app, run, burst, received, caught } = await overflowASubscriber();
    const lastSeq = received.at(-1)?.seq ?? 1;
    expect(received.map((e) => e.seq)).toEqual(seqRange(2, lastSeq));
    expect(lastSeq).toBeLessThan(burst + 1);
    expect(caught).toBeDefined();
    expect(errorText(caught)).not.toMatch(/did not happen within/); // an error, not a hang
    expect(app.app.services.pubsub.listenerCount('runEvent', Number(run.id))).toBe(0);

    await app.app.services.eventLog.append(Number(run.id), { type: 'WORKFLOW_FAILED', message: 'the end' });
    const rest = await collect(app.client.subscribe(RunEventsDocument, { runId: run.id, after: lastSeq }), { timeoutMs: 20_000 });
    expect([1, ...received.map((e) => e.seq), ...rest.map((r) => r.runEvents.seq)]).toEqual(seqRange(1, burst + 2));
  });

  it('the error tells the client to resubscribe with after: <last seq>, with code SUBSCRIBER_TOO_SLOW', async () => {
    const { received, caught } = await overflowASubscriber();
    const lastSeq = received.at(-1)?.seq ?? 1;
    expect(errorText(caught)).toContain(`subscribe again with after: ${lastSeq}`);
    expect(caught).toBeInstanceOf(GraphQLRequestError);
    expect((caught as GraphQLRequestError).code).toBe('SUBSCRIBER_TOO_SLOW');
  });
});
