/**
 * A subscriber whose socket is cut in the middle of a run resubscribes with `after` = the last seq
 * it saw and misses nothing; the cut neither disturbs the run nor another subscriber.
 */
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { RunEventsDocument, type EventFieldsFragment, type RunEventsSubscription } from '../../src/client/generated/graphql.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { collect, startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { consumeRunEvents, seqRange } from '../api/api-helpers.js';
import { CODER_MODEL, PLANNER_MODEL, createProject, createRun, expectGaplessSeqs, getRun, ofType, queryEvents, testWorkflow } from '../workflow/support.js';

const WORKFLOW = testWorkflow('two-answers', [
  { name: 'draft', type: 'LLM_GENERATE', model: PLANNER_MODEL, prompt: 'Draft: {goal}', outputFile: 'draft.md' },
  { name: 'review', type: 'LLM_GENERATE', model: CODER_MODEL, prompt: 'Review this draft:\n{output:draft}', outputFile: 'review.md' },
]);

const TOKENS = Array.from({ length: 30 }, (_, i) => `token-${i} `);

describe('a subscriber cut off mid-run', { timeout: 90_000 }, () => {
  let fake: FakeOllama | undefined;
  let t: TestApp | undefined;
  const wsClients: Client[] = [];

  afterEach(async () => {
    for (const client of wsClients.splice(0)) await client.dispose();
    await t?.close();
    await fake?.close();
    t = undefined;
    fake = undefined;
  });

  it('resubscribes with after: <last seq> and misses nothing; the run and another subscriber are not affected', async () => {
    fake = await startFakeOllama({ models: [PLANNER_MODEL, CODER_MODEL] });
    fake.script('*', { tokens: TOKENS, tokenDelayMs: 40 });
    t = await startTestApp({ ollamaBaseUrl: fake.url, streamCoalesceMs: 10, llmHeartbeatMs: 200 }, { workflows: [WORKFLOW] });
    const app = t;
    const project = await createProject(app);
    const run = await createRun(app, project.id, { workflowName: WORKFLOW.name });
    const runId = Number(run.id);
    const pubsub = app.app.services.pubsub;

    // A subscriber that stays connected all along (the typed client's own socket).
    const steady = consumeRunEvents(app.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 }), 60_000);

    // The subscriber to be cut: its own graphql-ws client, whose WebSocket the test can reach.
    const sockets: WebSocket[] = [];
    class TrackedWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        sockets.push(this);
      }
    }
    const cutClient = createClient({ url: `${app.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: TrackedWebSocket, lazy: true, retryAttempts: 0 });
    wsClients.push(cutClient);
    const firstPart: EventFieldsFragment[] = [];
    const iterator = cutClient.iterate<RunEventsSubscription>({ query: print(RunEventsDocument), variables: { runId: run.id, after: 0 } });
    const firstDone = (async () => {
      try {
        for await (const result of iterator) firstPart.push(result.data!.runEvents);
        return 'completed';
      } catch {
        return 'cut';
      }
    })();

    // Cut the socket (no close handshake) once the first answer is streaming.
    await waitFor(() => firstPart.filter((e) => e.type === 'LLM_TOKEN').length >= 3, { timeoutMs: 30_000, what: 'tokens of the first answer' });
    expect(sockets).toHaveLength(1);
    sockets[0]!.terminate();
    expect(await firstDone).toBe('cut');
    const cutAt = firstPart.at(-1)!.seq;
    expectGaplessSeqs(firstPart);

    // The server lets go of the cut subscription (only the steady one listens now).
    await waitFor(() => pubsub.listenerCount('runEvent', runId) === 1, { what: 'the cut subscription to be released' });
    expect((await getRun(app, run.id)).status).toBe('RUNNING');

    // A new connection, from where the old one stopped.
    const resumed = await collect(app.client.subscribe(RunEventsDocument, { runId: run.id, after: cutAt }), { timeoutMs: 60_000 });
    const secondPart = resumed.map((item) => item.runEvents);
    expect(secondPart[0]?.seq).toBe(cutAt + 1);

    const all = await queryEvents(app, run.id);
    expectGaplessSeqs(all);
    expect([...firstPart, ...secondPart].map((e) => e.seq)).toEqual(seqRange(1, all.length));
    expect([...firstPart, ...secondPart]).toEqual(all);
    expect(all.at(-1)?.type).toBe('WORKFLOW_COMPLETED');

    // The other subscriber saw it all; the run completed normally, each answer generated once.
    expect(await steady.done).toEqual(all);
    const finished = await getRun(app, run.id);
    expect(finished.status).toBe('COMPLETED');
    expect(finished.steps.map((s) => [s.name, s.status, s.attempt])).toEqual([
      ['draft', 'COMPLETED', 1],
      ['review', 'COMPLETED', 1],
    ]);
    expect(ofType(all, 'STEP_FAILED')).toHaveLength(0);
    expect(ofType(all, 'STEP_STARTED')).toHaveLength(2);
    expect(fake.requests.filter((r) => r.path === '/api/generate')).toHaveLength(2);
    expect(ofType(all, 'LLM_TOKEN').map((e) => (e.data as { text: string }).text).join('')).toBe(TOKENS.join('').repeat(2));
    await waitFor(() => pubsub.listenerCount('runEvent', runId) === 0, { what: 'every subscription to end' });
  });
});
