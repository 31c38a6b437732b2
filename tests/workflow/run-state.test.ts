/**
 * The run state machine (src/engine/run-state.ts), every pair of statuses; and `runUpdated`
 * firing on every status change of a run, over a real subscription.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidTransitionError, RUN_TRANSITIONS, assertTransition, canTransition } from '../../src/engine/run-state.js';
import { FINAL_RUN_STATUSES, RUN_STATUSES, type RunStatus } from '../../src/engine/types.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { createProject, createRun, getRun, testWorkflow, watchRunUpdates } from './support.js';

/**
 * The edges: forward only, plus run control — pause and stop; resume (PAUSED → QUEUED: it waits for
 * a worker slot); retryRun (FAILED | STOPPED → QUEUED); crash recovery (RUNNING → QUEUED).
 */
const ALLOWED: ReadonlyArray<[RunStatus, RunStatus]> = [
  ['QUEUED', 'RUNNING'],
  ['QUEUED', 'STOPPED'],
  ['RUNNING', 'COMPLETED'],
  ['RUNNING', 'FAILED'],
  ['RUNNING', 'PAUSED'],
  ['RUNNING', 'STOPPED'],
  ['RUNNING', 'QUEUED'],
  ['PAUSED', 'QUEUED'],
  ['PAUSED', 'STOPPED'],
  ['FAILED', 'QUEUED'],
  ['STOPPED', 'QUEUED'],
];
const isAllowed = (from: RunStatus, to: RunStatus) => ALLOWED.some(([f, t]) => f === from && t === to);
const ALL_PAIRS = RUN_STATUSES.flatMap((from) => RUN_STATUSES.map((to) => [from, to] as [RunStatus, RunStatus]));

describe('run state machine', () => {
  it('lists every status, and nothing else', () => {
    expect(Object.keys(RUN_TRANSITIONS).sort()).toEqual([...RUN_STATUSES].sort());
    for (const targets of Object.values(RUN_TRANSITIONS)) for (const to of targets) expect(RUN_STATUSES).toContain(to);
  });

  it.each(ALL_PAIRS.filter(([from, to]) => isAllowed(from, to)))('allows %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    expect(() => assertTransition(from, to)).not.toThrow();
  });

  it.each(ALL_PAIRS.filter(([from, to]) => !isAllowed(from, to)))('refuses %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    let thrown: unknown;
    try {
      assertTransition(from, to);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidTransitionError);
    const error = thrown as InvalidTransitionError;
    expect(error.from).toBe(from);
    expect(error.to).toBe(to);
    // The message names the current status, as a CONFLICT error must.
    expect(error.message).toBe(`A ${from} run cannot become ${to}.`);
  });

  it('covers all 36 pairs; an ended run only goes back to the queue (retryRun), a completed one nowhere', () => {
    expect(ALL_PAIRS).toHaveLength(36);
    expect(ALL_PAIRS.filter(([from, to]) => canTransition(from, to)).sort(byPair)).toEqual([...ALLOWED].sort(byPair));
    for (const status of FINAL_RUN_STATUSES) expect(RUN_TRANSITIONS[status].filter((to) => to !== 'QUEUED')).toEqual([]);
    expect(RUN_TRANSITIONS.COMPLETED).toEqual([]);
    for (const status of RUN_STATUSES) expect(canTransition(status, status), status).toBe(false);
  });
});

function byPair(a: [RunStatus, RunStatus], b: [RunStatus, RunStatus]): number {
  return `${a[0]}>${a[1]}`.localeCompare(`${b[0]}>${b[1]}`);
}

describe('runUpdated', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const workflows = () =>
    ([
      testWorkflow('succeeds', [{ name: 'write', type: 'FILE_WRITE', content: 'ok', outputFile: 'ok.txt' }]),
      testWorkflow('fails', [{ name: 'exit', type: 'SHELL_COMMAND', command: 'exit 7' }]),
    ]);

  it('fires on every status change: QUEUED on create, RUNNING, COMPLETED', async () => {
    t = await startTestApp({}, { workflows: workflows() });
    const app = t;
    const project = await createProject(app);
    const other = await createProject(app);
    const all = await watchRunUpdates(app, null);
    const mine = await watchRunUpdates(app, project.id);

    const run = await createRun(app, project.id, { workflowName: 'succeeds' });
    await waitFor(() => mine.received.some((u) => u.status === 'COMPLETED'), { what: 'COMPLETED' });
    expect(mine.received.map((u) => [u.id, u.status, u.error])).toEqual([
      [run.id, 'QUEUED', null],
      [run.id, 'RUNNING', null],
      [run.id, 'COMPLETED', null],
    ]);
    expect(mine.received.every((u) => u.project.id === project.id)).toBe(true);

    // The project filter: a run of another project reaches the unfiltered subscriber only.
    const failing = await createRun(app, other.id, { workflowName: 'fails' });
    await waitFor(() => all.received.some((u) => u.id === failing.id && u.status === 'FAILED'), { what: 'FAILED' });
    expect(all.statusesOf(failing.id)).toEqual(['QUEUED', 'RUNNING', 'FAILED']);
    expect(all.received.find((u) => u.id === failing.id && u.status === 'FAILED')?.error).toContain('exited with code 7');
    expect(all.statusesOf(run.id)).toEqual(['QUEUED', 'RUNNING', 'COMPLETED']);
    expect((await getRun(app, failing.id)).status).toBe('FAILED');
    expect(mine.received.some((u) => u.id === failing.id)).toBe(false);

    await Promise.all([all.close(), mine.close()]);
    await waitFor(() => app.app.services.pubsub.listenerCount('runUpdated', 'all') === 0, { what: 'the subscriptions to end' });
  });
});
