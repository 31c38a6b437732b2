import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRunnerClient } from '../../src/client/client.js';
import { EventsDocument, RunDocument, RunEventsDocument, type EventType, type RunEventsSubscription } from '../../src/client/generated/graphql.js';
import { collect, startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import {
  allEvents,
  appendEvent,
  collectSse,
  consumeRunEvents,
  createRun,
  hasTerminalEvent,
  nextEvent,
  nextTurn,
  seqRange,
  subscribeSse,
  within,
} from './api-helpers.js';

const seqsOf = (events: Array<{ seq: number }>) => events.map((e) => e.seq);

describe('runEvents (worker disabled: the test writes the events)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ disableWorker: true });
  });
  afterAll(() => t.close());

  it('over WebSocket: replays stored events, then delivers live ones, and completes after the terminal event', async () => {
    const run = await createRun(t);
    const subscription = t.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 });
    try {
      // The replay: RUN_QUEUED was stored by createRun. Once it arrives the subscription is live.
      expect(await nextEvent(subscription)).toMatchObject({ seq: 1, type: 'RUN_QUEUED', runId: run.id });

      await appendEvent(t, run.id, 'WORKFLOW_STARTED', 'Workflow started');
      expect(await nextEvent(subscription)).toMatchObject({ seq: 2, type: 'WORKFLOW_STARTED', message: 'Workflow started' });

      await appendEvent(t, run.id, 'STEP_STARTED', 'Step planner started');
      expect(await nextEvent(subscription)).toMatchObject({ seq: 3, type: 'STEP_STARTED' });

      await appendEvent(t, run.id, 'WORKFLOW_COMPLETED', 'All steps completed');
      expect(await nextEvent(subscription)).toMatchObject({ seq: 4, type: 'WORKFLOW_COMPLETED' });
      expect(await within(subscription.next(), 10_000, 'completion after WORKFLOW_COMPLETED')).toEqual({ done: true, value: undefined });
    } finally {
      subscription.close();
    }
  });

  it('over WebSocket: resuming with after = the last seq seen delivers only what came later', async () => {
    const run = await createRun(t);
    await appendEvent(t, run.id, 'WORKFLOW_STARTED');
    await appendEvent(t, run.id, 'STEP_STARTED');
    const subscription = t.client.subscribe(RunEventsDocument, { runId: run.id, after: 2 });
    try {
      expect(await nextEvent(subscription)).toMatchObject({ seq: 3, type: 'STEP_STARTED' });
      await appendEvent(t, run.id, 'RUN_STOPPED');
      expect(await nextEvent(subscription)).toMatchObject({ seq: 4, type: 'RUN_STOPPED' });
      expect(await within(subscription.next(), 10_000, 'completion after RUN_STOPPED')).toEqual({ done: true, value: undefined });
    } finally {
      subscription.close();
    }
  });

  it.each<EventType>(['WORKFLOW_COMPLETED', 'WORKFLOW_FAILED', 'RUN_STOPPED'])('completes after a live %s', async (terminal) => {
    const run = await createRun(t);
    const subscription = t.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 });
    try {
      await nextEvent(subscription); // RUN_QUEUED: the subscription is live
      await appendEvent(t, run.id, terminal);
      expect(await nextEvent(subscription)).toMatchObject({ seq: 2, type: terminal });
      expect(await within(subscription.next(), 10_000, `completion after ${terminal}`)).toEqual({ done: true, value: undefined });
    } finally {
      subscription.close();
    }
  });

  it('completes with the replay when the terminal event is already stored', async () => {
    const run = await createRun(t);
    await appendEvent(t, run.id, 'WORKFLOW_STARTED');
    await appendEvent(t, run.id, 'WORKFLOW_COMPLETED');

    const events = await collect(t.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 }), { timeoutMs: 10_000 });
    expect(events.map((e) => [e.runEvents.seq, e.runEvents.type])).toEqual([
      [1, 'RUN_QUEUED'],
      [2, 'WORKFLOW_STARTED'],
      [3, 'WORKFLOW_COMPLETED'],
    ]);
  });

  it('over SSE: replays, delivers live events and sends "complete" after the terminal event', async () => {
    const run = await createRun(t);
    const sse = await subscribeSse(t.url, RunEventsDocument, { runId: run.id, after: 0 });
    expect(sse.status).toBe(200);
    expect(sse.contentType).toContain('text/event-stream');

    const next = async () => {
      const step = await within(sse.results.next(), 10_000, 'the next SSE frame');
      if (step.done) throw new Error('the SSE stream completed, but another event was expected');
      expect(step.value.errors).toBeUndefined();
      return step.value.data!.runEvents;
    };
    expect(await next()).toMatchObject({ seq: 1, type: 'RUN_QUEUED', runId: run.id });
    await appendEvent(t, run.id, 'WORKFLOW_STARTED', 'Workflow started');
    expect(await next()).toMatchObject({ seq: 2, type: 'WORKFLOW_STARTED', message: 'Workflow started' });
    await appendEvent(t, run.id, 'WORKFLOW_FAILED', 'Step coder failed');
    expect(await next()).toMatchObject({ seq: 3, type: 'WORKFLOW_FAILED' });
    expect(await within(sse.results.next(), 10_000, 'the SSE "complete" frame')).toEqual({ done: true, value: undefined });
  });

  it('over SSE: resuming with after delivers the rest and completes when the run has already ended', async () => {
    const run = await createRun(t);
    await appendEvent(t, run.id, 'WORKFLOW_STARTED');
    await appendEvent(t, run.id, 'WORKFLOW_COMPLETED');

    const results = await collectSse(await subscribeSse(t.url, RunEventsDocument, { runId: run.id, after: 1 }));
    expect(results.map((r) => r.errors)).toEqual([undefined, undefined]);
    expect(results.map((r) => r.data?.runEvents.seq)).toEqual([2, 3]);
  });

  it('replays then goes live with no gap or duplicate while 1,000 events are written, for a subscriber from the start and one joining midway', async () => {
    const WRITES = 1000;
    const run = await createRun(t); // seq 1: RUN_QUEUED
    const total = 1 + WRITES + 1; // … the writes, then WORKFLOW_COMPLETED
    const lateClient = new AgentRunnerClient({ url: t.url });
    try {
      const fromStart = consumeRunEvents(t.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 }));
      let midway: ReturnType<typeof consumeRunEvents> | undefined;
      let joinedAfter = 0;

      const writes: Array<Promise<unknown>> = [];
      for (let i = 1; i <= WRITES; i++) {
        writes.push(t.app.services.eventLog.append(Number(run.id), { type: 'SHELL_OUTPUT', message: `line ${i}`, data: { stream: 'stdout', text: `line ${i}\n` } }));
        // A few appends per event-loop turn: the writes spread over a couple of hundred group commits.
        if (i % 4 === 0) await nextTurn();
        if (i === WRITES / 2) {
          // Join with a seq the first subscriber already has, while writing goes on: the second
          // subscriber replays a backlog that grows during its replay, then switches to live.
          const seen = await waitFor(() => (fromStart.events.length >= 100 ? fromStart.events : null), { what: '100 events at the first subscriber' });
          joinedAfter = seen[Math.floor(seen.length / 2)].seq;
          midway = consumeRunEvents(lateClient.subscribe(RunEventsDocument, { runId: run.id, after: joinedAfter }));
        }
      }
      writes.push(appendEvent(t, run.id, 'WORKFLOW_COMPLETED', 'All steps completed'));
      await Promise.all(writes);

      const [first, second] = await Promise.all([fromStart.done, midway!.done]);

      expect(seqsOf(first)).toEqual(seqRange(1, total));
      expect(first.at(-1)?.type).toBe('WORKFLOW_COMPLETED');
      expect(first.slice(1, -1).map((e) => e.message)).toEqual(seqRange(1, WRITES).map((i) => `line ${i}`));

      expect(joinedAfter).toBeGreaterThan(1);
      expect(seqsOf(second)).toEqual(seqRange(joinedAfter + 1, total));
      expect(second).toEqual(first.slice(joinedAfter)); // the very same events (ids, messages, data)

      // The events query agrees, page by page.
      const stored = await allEvents(t, run.id, 300);
      expect(seqsOf(stored)).toEqual(seqRange(1, total));
      expect(stored).toEqual(first);
      const { events: onePage } = await t.client.request(EventsDocument, { runId: run.id, after: 0, first: 10_000 });
      expect(seqsOf(onePage)).toEqual(seqRange(1, total));
    } finally {
      await lateClient.close();
    }
  }, 90_000);
});

describe('runEvents of runs the worker executed', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(); // worker on; Ollama unreachable, so a run fails at its first LLM step
  });
  afterAll(() => t.close());

  async function endedRun() {
    const run = await createRun(t);
    await waitFor(() => hasTerminalEvent(t, run.id), { what: `run ${run.id} to end`, timeoutMs: 20_000 });
    const { run: ended } = await t.client.request(RunDocument, { id: run.id });
    expect(ended?.status).toBe('FAILED');
    return { run: ended!, events: await allEvents(t, run.id) };
  }

  it('a run that has ended: after: 0 replays everything and completes', async () => {
    const { run, events } = await endedRun();
    const streamed = await collect<RunEventsSubscription>(t.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 }), { timeoutMs: 10_000 });

    expect(streamed.map((e) => e.runEvents)).toEqual(events);
    expect(streamed.at(-1)?.runEvents.type).toBe('WORKFLOW_FAILED');
  });

  it('a run that has ended with nothing left to replay: completes at once with no event (WebSocket and SSE)', async () => {
    const { run, events } = await endedRun();
    const lastSeq = events.at(-1)!.seq;

    const overWs = await collect(t.client.subscribe(RunEventsDocument, { runId: run.id, after: lastSeq }), { timeoutMs: 10_000 });
    expect(overWs).toEqual([]);

    const overSse = await collectSse(await subscribeSse(t.url, RunEventsDocument, { runId: run.id, after: lastSeq }), 10_000);
    expect(overSse).toEqual([]);
  });
});
