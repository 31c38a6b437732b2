/**
 * Run control on its own: RunController and the runner over an in-memory store, with a step type
 * whose steps wait at gates the test opens. No database, no server, no processes: the rules of
 * parallel steps, pause, stop, retry and recovery, tested directly.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventLog } from '../../src/engine/event-log.js';
import { PubSub } from '../../src/engine/pubsub.js';
import { RunController, RunControlError, type RunControllerDeps } from '../../src/engine/run-control.js';
import { StepKinds, type CustomStepKind } from '../../src/engine/steps/registry.js';
import { StepError, type RunRecord, type WorkflowDefinition } from '../../src/engine/types.js';
import { checkWorkflowObject } from '../../src/engine/workflows/parse.js';
import { WorkflowRegistry, type WorkflowSpec } from '../../src/engine/workflows/registry.js';
import { makeTempDir, waitFor } from '../helpers/test-app.js';
import { testSettings } from './step-context.js';
import { MemoryStore } from '../helpers/memory-store.js';

/** A step waits at its gate until the test opens it (or fails it), or its signal aborts. */
class Gates {
  readonly started: string[] = [];
  readonly ended: string[] = [];
  private readonly waiting = new Map<string, { open: () => void; fail: (message: string) => void }>();

  kind(): CustomStepKind {
    return {
      type: 'GATE',
      description: 'Waits at a gate the test opens.',
      parameters: { type: 'object', properties: {} },
      templateFields: [],
      commandFields: [],
      source: 'test',
      execute: (ctx) =>
        new Promise((resolve, reject) => {
          const name = ctx.step.name;
          this.started.push(name);
          const done = (settle: () => void) => {
            this.waiting.delete(name);
            this.ended.push(name);
            settle();
          };
          ctx.signal.addEventListener('abort', () => done(() => reject(ctx.signal.reason)), { once: true });
          this.waiting.set(name, {
            open: () => done(() => resolve({ output: `${name} done`, summary: `${name} passed its gate` })),
            fail: (message) => done(() => reject(new StepError(message, { retryable: false }))),
          });
        }),
    };
  }

  isWaiting(name: string): boolean {
    return this.waiting.has(name);
  }

  async open(name: string): Promise<void> {
    await waitFor(() => this.waiting.has(name), { what: `${name} at its gate` });
    this.waiting.get(name)!.open();
  }

  async fail(name: string, message: string): Promise<void> {
    await waitFor(() => this.waiting.has(name), { what: `${name} at its gate` });
    this.waiting.get(name)!.fail(message);
  }
}

const DIAMOND: WorkflowSpec = {
  name: 'diamond',
  version: '1',
  steps: [
    { name: 'a', type: 'GATE' },
    { name: 'b', type: 'GATE', needs: ['a'] },
    { name: 'c', type: 'GATE', needs: ['a'] },
    { name: 'd', type: 'GATE', needs: ['b', 'c'] },
  ],
};

describe('run control (engine, in memory)', () => {
  let store: MemoryStore;
  let gates: Gates;
  let control: RunController;
  let workspace: string;

  beforeEach(() => {
    store = new MemoryStore();
    gates = new Gates();
    workspace = makeTempDir('run-control-');
    const kinds = new StepKinds([gates.kind()]);
    const pubsub = new PubSub();
    const deps: RunControllerDeps = {
      store,
      eventLog: new EventLog(store, pubsub),
      pubsub,
      workflows: new WorkflowRegistry([]),
      kinds,
      settings: testSettings,
      shellTimeoutSeconds: 60,
      maxParallelSteps: 8,
      agentDefaults: { maxIterations: 1, timeoutSeconds: 60, tokenBudget: 1, numCtx: 1024, toolResultMaxChars: 100 },
      stepModels: {},
      logger: { info: () => {}, error: () => {} },
    };
    control = new RunController(deps);
  });
  afterEach(async () => {
    await control.shutdown(0);
  });

  function definitionOf(spec: WorkflowSpec): WorkflowDefinition {
    const parsed = checkWorkflowObject(spec, new StepKinds([gates.kind()]));
    if (!parsed.definition) throw new Error(JSON.stringify(parsed.problems));
    return parsed.definition;
  }

  /** Creates and starts a run as the worker would (claimed, then executed). */
  async function start(spec: WorkflowSpec): Promise<RunRecord> {
    const project = store.addProject('p', workspace);
    const run = store.addRun(project.id, definitionOf(spec));
    const [claimed] = await store.claimQueuedRuns(1, new Date());
    control.execute(claimed!);
    return run;
  }

  const status = (runId: number) => store.runs.find((r) => r.id === runId)!.status;
  const steps = (runId: number) => store.steps.filter((s) => s.runId === runId).map((s) => [s.name, s.status]);
  const untilStatus = (runId: number, wanted: string) => waitFor(() => status(runId) === wanted, { what: `run ${runId} ${wanted}` });
  const seqsGapless = (runId: number) => {
    const seqs = store.events.filter((e) => e.runId === runId).map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  };

  it('runs independent steps at once: b and c wait at their gates together, d only after both', async () => {
    const run = await start(DIAMOND);
    await gates.open('a');
    await waitFor(() => gates.isWaiting('b') && gates.isWaiting('c'), { what: 'b and c at once' });
    expect(gates.started).toEqual(['a', 'b', 'c']);
    await gates.open('c');
    await gates.open('b');
    await gates.open('d');
    await untilStatus(run.id, 'COMPLETED');
    expect(gates.started.indexOf('d')).toBe(3);
    seqsGapless(run.id);
  });

  it('pause: lets the running steps finish, holds the rest, and resume carries on', async () => {
    const run = await start(DIAMOND);
    await gates.open('a');
    await waitFor(() => gates.isWaiting('b') && gates.isWaiting('c'), { what: 'b and c at once' });
    await control.pause(run.id);
    expect(control.isPauseRequested(run.id)).toBe(true);
    await gates.open('b');
    await gates.open('c');
    await untilStatus(run.id, 'PAUSED');
    expect(steps(run.id)).toEqual([
      ['a', 'COMPLETED'],
      ['b', 'COMPLETED'],
      ['c', 'COMPLETED'],
      ['d', 'PENDING'],
    ]);
    expect(gates.started).not.toContain('d');
    await control.resume(run.id);
    const [claimed] = await store.claimQueuedRuns(1, new Date());
    control.execute(claimed!);
    await gates.open('d');
    await untilStatus(run.id, 'COMPLETED');
    seqsGapless(run.id);
  });

  it('a pause cancelled before the running steps finish is no pause', async () => {
    const run = await start(DIAMOND);
    await gates.open('a');
    await control.pause(run.id);
    await control.resume(run.id);
    await gates.open('b');
    await gates.open('c');
    await gates.open('d');
    await untilStatus(run.id, 'COMPLETED');
    expect(store.events.filter((e) => e.runId === run.id).map((e) => e.type)).toContain('RUN_RESUMED');
  });

  it('stop: every running step is cut off at once and the run ends STOPPED', async () => {
    const run = await start(DIAMOND);
    await gates.open('a');
    await waitFor(() => gates.isWaiting('b') && gates.isWaiting('c'), { what: 'b and c at once' });
    const stopped = await control.stop(run.id);
    expect(stopped.status).toBe('STOPPED');
    expect(gates.ended).toEqual(expect.arrayContaining(['b', 'c']));
    expect(steps(run.id)).toEqual([
      ['a', 'COMPLETED'],
      ['b', 'STOPPED'],
      ['c', 'STOPPED'],
      ['d', 'SKIPPED'],
    ]);
    await expect(control.pause(run.id)).rejects.toThrow(RunControlError);
    seqsGapless(run.id);
  });

  it('a failure fails the run once the steps beside it finish; retry from it re-runs it and what depends on it only', async () => {
    const run = await start(DIAMOND);
    await gates.open('a');
    await gates.fail('c', 'c broke');
    expect(status(run.id)).toBe('RUNNING'); // b still runs
    await gates.open('b');
    await untilStatus(run.id, 'FAILED');
    expect(steps(run.id)).toEqual([
      ['a', 'COMPLETED'],
      ['b', 'COMPLETED'],
      ['c', 'FAILED'],
      ['d', 'SKIPPED'],
    ]);
    expect(store.runs[0]!.error).toBe('Step "c" failed: c broke');

    await expect(control.retry(run.id, 'nope')).rejects.toThrow('has no step "nope"');
    await control.retry(run.id, 'c');
    const [claimed] = await store.claimQueuedRuns(1, new Date());
    control.execute(claimed!);
    await gates.open('c');
    await gates.open('d');
    await untilStatus(run.id, 'COMPLETED');
    // a and b did not run again.
    expect(gates.started.filter((name) => name === 'a' || name === 'b')).toEqual(['a', 'b']);
    seqsGapless(run.id);
  });

  it('recovery: a run left RUNNING with two steps in flight goes back to the queue, both steps PENDING', async () => {
    const project = store.addProject('p', workspace);
    const run = store.addRun(project.id, definitionOf(DIAMOND));
    Object.assign(store.runs[0]!, { status: 'RUNNING' });
    store.steps[0]!.status = 'COMPLETED';
    store.steps[1]!.status = 'RUNNING';
    store.steps[2]!.status = 'RUNNING';
    expect(await control.recover()).toEqual([run.id]);
    expect(status(run.id)).toBe('QUEUED');
    expect(steps(run.id)).toEqual([
      ['a', 'COMPLETED'],
      ['b', 'PENDING'],
      ['c', 'PENDING'],
      ['d', 'PENDING'],
    ]);
    const recovered = store.events.find((e) => e.type === 'RUN_RECOVERED');
    expect(recovered?.message).toContain('during step 2/4 (b) and step 3/4 (c)');
    // It continues where it was: a is not redone.
    const [claimed] = await store.claimQueuedRuns(1, new Date());
    control.execute(claimed!);
    await gates.open('b');
    await gates.open('c');
    await gates.open('d');
    await untilStatus(run.id, 'COMPLETED');
    expect(gates.started).not.toContain('a');
  });
});
