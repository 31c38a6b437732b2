/**
 * A model that takes longer than five minutes to load (Ollama sends no headers until then) or
 * pauses that long mid-answer: Node's HTTP client (undici) gives up after 300 s without headers
 * and after 300 s between two chunks of a body. The step's own timeout must be
 * the only limit. Five real minutes cannot be spent in a test, so the whole file runs on a fake
 * clock (vitest's fake timers for setTimeout, setInterval and Date): the server, the fake Ollama's
 * model-load delay and undici's own timers all read it. undici's timeouts of a second or more are
 * driven by one global setTimeout tick (lib/util/timers.js), looked up when first needed, so the
 * clock is installed once, before anything in this process makes an HTTP request, and kept for the
 * whole file. A control test shows the clock really drives undici: a plain fetch fails at 300 fake
 * seconds on withheld headers (UND_ERR_HEADERS_TIMEOUT) and on a silent body (UND_ERR_BODY_TIMEOUT).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, createRun, getRun, ofType, queryEvents, testWorkflow } from './support.js';

const MODEL = 'gemma3:27b';
const LOAD_MS = 400_000;
const PAUSE_MS = 310_000;
/** How far the fake clock moves at once. */
const STEP_MS = 2000;
const realSetTimeout = globalThis.setTimeout;
const realSleep = (ms: number) => new Promise((resolve) => realSetTimeout(resolve, ms));

/**
 * Moves the fake clock forward two seconds at a time until `done()` or `limitMs`, letting real I/O
 * (sockets, SQLite) run between steps, so nothing that waits on I/O sees a minute pass at once.
 * Returns the fake time moved.
 */
async function advanceUntil(done: () => boolean, limitMs: number): Promise<number> {
  let moved = 0;
  while (!done() && moved < limitMs) {
    await vi.advanceTimersByTimeAsync(STEP_MS);
    moved += STEP_MS;
    await realSleep(3);
  }
  return moved;
}

describe('a model load longer than the HTTP client’s 300 s', () => {
  let fake: FakeOllama;
  let t: TestApp;

  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], shouldAdvanceTime: true });
    fake = await startFakeOllama({ models: [MODEL] });
    t = await startTestApp(
      { ollamaBaseUrl: fake.url, llmHeartbeatMs: 60_000, streamCoalesceMs: 20 },
      { workflows: [testWorkflow('plan', [{ name: 'planner', type: 'LLM_GENERATE', model: MODEL, prompt: 'Plan {goal}', outputFile: 'PLAN.md' }])] },
    );
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
    vi.useRealTimers();
  });

  it('control: on this clock, Node’s fetch gives up at 300 s on withheld headers and on a silent body', async () => {
    fake.script(MODEL, (request) => (request.body.prompt === 'stall' ? { stallBeforeHeaders: true } : { tokens: ['a', 'b'], pauseAfterTokens: { after: 1, ms: PAUSE_MS } }));
    const startedAt = Date.now();
    const outcomes: Record<string, { code?: string; at: number }> = {};
    const settle = (name: string, work: Promise<unknown>) =>
      work.then(
        () => (outcomes[name] = { at: Date.now() }),
        (error: { cause?: { code?: string } }) => (outcomes[name] = { code: error.cause?.code, at: Date.now() }),
      );
    const post = (prompt: string) => fetch(`${fake.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: MODEL, prompt }) });
    void settle('headers', post('stall'));
    void settle('body', post('pause').then((response) => response.text()));
    await advanceUntil(() => Object.keys(outcomes).length === 2, 330_000);
    expect(outcomes.headers?.code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(outcomes.body?.code).toBe('UND_ERR_BODY_TIMEOUT');
    expect(outcomes.headers!.at - startedAt).toBeGreaterThanOrEqual(300_000);
    expect(outcomes.body!.at - startedAt).toBeGreaterThanOrEqual(300_000);
  });

  it('the step waits past 300 s for the headers and through a 310 s pause mid-answer, with heartbeats, and completes', async () => {
    fake.script(MODEL, { firstByteDelayMs: LOAD_MS, tokens: ['# Plan\n', 'Load slowly.\n'], pauseAfterTokens: { after: 1, ms: PAUSE_MS } });
    const project = await createProject(t);
    const startedAt = Date.now();
    const created = await createRun(t, project.id, { workflowName: 'plan', timeoutSeconds: 1800 });

    let status = created.status;
    const poll = setInterval(() => void getRun(t, created.id).then((run) => (status = run.status)), 2000);
    try {
      await advanceUntil(() => status === 'COMPLETED' || status === 'FAILED', LOAD_MS + PAUSE_MS + 60_000);
    } finally {
      clearInterval(poll);
    }

    const run = await getRun(t, created.id);
    expect(run.error).toBeNull();
    expect(run.status).toBe('COMPLETED');
    const events = await queryEvents(t, created.id);
    const generating = ofType(events, 'LLM_GENERATING')[0]!;
    expect(Date.parse(generating.createdAt) - startedAt).toBeGreaterThanOrEqual(LOAD_MS);
    const tokens = ofType(events, 'LLM_TOKEN');
    expect(tokens.map((e) => (e.data as { text: string }).text)).toEqual(['# Plan\n', 'Load slowly.\n']);
    expect(Date.parse(tokens[1]!.createdAt) - Date.parse(tokens[0]!.createdAt)).toBeGreaterThanOrEqual(PAUSE_MS - 1000);
    // The heartbeat kept saying the step was alive, past the old 300 s caps: while loading, and in the pause.
    const heartbeats = ofType(events, 'LLM_HEARTBEAT').map((e) => e.data as { elapsedSeconds: number; silentSeconds?: number });
    const loading = heartbeats.filter((h) => h.silentSeconds === undefined);
    const silent = heartbeats.filter((h) => h.silentSeconds !== undefined);
    expect(loading.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...loading.map((h) => h.elapsedSeconds))).toBeGreaterThan(300);
    expect(silent.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...silent.map((h) => h.silentSeconds!))).toBeGreaterThan(240);
  });
});
