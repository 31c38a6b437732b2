/**
 * A model that takes longer than five minutes to load: Ollama sends no headers until then, and
 * Node's HTTP client (undici) gives up after 300 s without headers. The step's own timeout must be
 * the only limit. Five real minutes cannot be spent in a test, so the whole file runs on a fake
 * clock (vitest's fake timers for setTimeout, setInterval and Date): the server, the fake Ollama's
 * model-load delay and undici's own timers all read it. undici's timeouts of a second or more are
 * driven by one global setTimeout tick (lib/util/timers.js), looked up when first needed, so the
 * clock is installed once, before anything in this process makes an HTTP request, and kept for the
 * whole file. A control test shows the clock really drives undici: a plain fetch of the same
 * withheld headers fails at 300 fake seconds with UND_ERR_HEADERS_TIMEOUT.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WorkflowRegistry } from '../../src/engine/workflows/registry.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, createRun, getRun, ofType, queryEvents, testWorkflow } from './support.js';

const MODEL = 'gemma3:27b';
const LOAD_MS = 400_000;
const realSetTimeout = globalThis.setTimeout;
const realSleep = (ms: number) => new Promise((resolve) => realSetTimeout(resolve, ms));

/**
 * Moves the fake clock forward one second at a time until `done()` or `limitMs`, letting real I/O
 * (sockets, SQLite) run between steps, so nothing that waits on I/O sees a minute pass at once.
 * Returns the fake time moved.
 */
async function advanceUntil(done: () => boolean, limitMs: number): Promise<number> {
  let moved = 0;
  while (!done() && moved < limitMs) {
    await vi.advanceTimersByTimeAsync(1000);
    moved += 1000;
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
      { workflows: new WorkflowRegistry([testWorkflow('plan', [{ name: 'planner', type: 'LLM_GENERATE', model: MODEL, prompt: 'Plan {goal}', outputFile: 'PLAN.md' }])]) },
    );
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
    vi.useRealTimers();
  });

  it('control: on this clock, Node’s fetch gives up on withheld headers at 300 s', async () => {
    fake.script(MODEL, { stallBeforeHeaders: true });
    const startedAt = Date.now();
    let outcome: { code?: string; at: number } | undefined;
    fetch(`${fake.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: MODEL, prompt: 'x' }) }).then(
      () => (outcome = { at: Date.now() }),
      (error: { cause?: { code?: string } }) => (outcome = { code: error.cause?.code, at: Date.now() }),
    );
    await advanceUntil(() => outcome !== undefined, 330_000);
    expect(outcome?.code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(outcome!.at - startedAt).toBeGreaterThanOrEqual(300_000);
  });

  it('the step waits past 300 s for the headers, with heartbeats, and completes', async () => {
    fake.script(MODEL, { firstByteDelayMs: LOAD_MS, tokens: ['# Plan\n', 'Load slowly.\n'] });
    const project = await createProject(t);
    const startedAt = Date.now();
    const created = await createRun(t, project.id, { workflowName: 'plan', timeoutSeconds: 900 });

    let status = created.status;
    const poll = setInterval(() => void getRun(t, created.id).then((run) => (status = run.status)), 2000);
    try {
      await advanceUntil(() => status === 'COMPLETED' || status === 'FAILED', LOAD_MS + 60_000);
    } finally {
      clearInterval(poll);
    }

    const run = await getRun(t, created.id);
    expect(run.error).toBeNull();
    expect(run.status).toBe('COMPLETED');
    const events = await queryEvents(t, created.id);
    const generating = ofType(events, 'LLM_GENERATING')[0]!;
    expect(Date.parse(generating.createdAt) - startedAt).toBeGreaterThanOrEqual(LOAD_MS);
    // The heartbeat kept saying the step was alive, past the old 300 s cap.
    const heartbeats = ofType(events, 'LLM_HEARTBEAT').map((e) => (e.data as { elapsedSeconds: number }).elapsedSeconds);
    expect(heartbeats.length).toBeGreaterThanOrEqual(6);
    expect(Math.max(...heartbeats)).toBeGreaterThan(300);
    expect(ofType(events, 'LLM_TOKEN').map((e) => (e.data as { text: string }).text).join('')).toBe('# Plan\nLoad slowly.\n');
  });
});
