/**
 * The console's reading of a run's graph (console/src/flow.ts): columns by depth, a loop's
 * iterations and how it ended (until held, iterations ran out, cut off), and the graph fields kept
 * across a fresh state of the steps that does not carry them; the timeline's groups of a loop's
 * step by iteration (console/src/timeline.ts).
 */
import { describe, expect, it } from 'vitest';
import type { StepStatus } from '../../src/client/generated/graphql.js';
import { columnsByDepth, loopView, stepNames, withGraph, type GraphStepRecord } from '../../console/src/flow.js';
import { buildTimeline, type TimelineEvent } from '../../console/src/timeline.js';

let index = 0;
function record(name: string, depth: number, status: StepStatus = 'PENDING', loop: string | null = null, iteration: number | null = null, needs: string[] = []): GraphStepRecord {
  return { index: index++, name, status, loop, iteration, needs, depth };
}

let seq = 0;
function event(type: TimelineEvent['type'], stepName: string, data: Record<string, unknown>): TimelineEvent {
  return { seq: ++seq, type, message: '', stepName, data, createdAt: new Date(0).toISOString() };
}

describe('columnsByDepth', () => {
  it('puts the steps of one depth in one column, in workflow order, columns by depth', () => {
    const [a, b, c, d] = [record('a', 0), record('b', 1), record('c', 1), record('d', 2)];
    expect(columnsByDepth([d, c, b, a]).map((column) => column.map((s) => s.name))).toEqual([['a'], ['b', 'c'], ['d']]);
    expect(columnsByDepth([])).toEqual([]);
  });
});

describe('loopView', () => {
  const records = [
    record('repeat', 0, 'FAILED'),
    record('bump', 0, 'COMPLETED', 'repeat', 1),
    record('check', 1, 'FAILED', 'repeat', 1),
    record('bump', 0, 'COMPLETED', 'repeat', 2),
    record('check', 1, 'FAILED', 'repeat', 2),
  ];
  const started = (iteration: number) => event('LOOP_ITERATION_STARTED', 'repeat', { loop: 'repeat', iteration, maxIterations: 2 });
  const completed = (iteration: number, until: boolean) => event('LOOP_ITERATION_COMPLETED', 'repeat', { loop: 'repeat', iteration, maxIterations: 2, until });

  it('groups the records by iteration with what until gave, and says when the iterations ran out', () => {
    const view = loopView('repeat', 'FAILED', records, [started(1), completed(1, false), started(2), completed(2, false)]);
    expect(view.iterations.map((i) => [i.iteration, i.steps.map((s) => s.name), i.untilHeld])).toEqual([
      [1, ['bump', 'check'], false],
      [2, ['bump', 'check'], false],
    ]);
    expect(view.maxIterations).toBe(2);
    expect(view.ending).toEqual({ kind: 'ran-out', iterations: 2 });
  });

  it('a loop that completed: until held after its last iteration', () => {
    expect(loopView('repeat', 'COMPLETED', records, [started(1), completed(1, false), started(2), completed(2, true)]).ending).toEqual({ kind: 'until-held', iterations: 2 });
  });

  it('a loop cut off inside an iteration (a step failed before until was evaluated): not "ran out"', () => {
    const view = loopView('repeat', 'FAILED', records, [started(1), completed(1, false), started(2)]);
    expect(view.iterations[1]!.untilHeld).toBeNull();
    expect(view.ending).toEqual({ kind: 'cut-off', iteration: 2 });
  });

  it('a running loop is open; an iteration started again (a retry) forgets what until gave before', () => {
    const view = loopView('repeat', 'RUNNING', records, [started(1), completed(1, false), started(2), completed(2, false), started(2)]);
    expect(view.ending).toEqual({ kind: 'open' });
    expect(view.iterations[1]!.untilHeld).toBeNull();
  });
});

describe('withGraph', () => {
  it('keeps each record’s needs and depth across a state without them; a new iteration’s record takes its step’s', () => {
    const held = [record('d', 2, 'RUNNING', null, null, ['b', 'c']), record('check', 1, 'COMPLETED', 'repeat', 1, ['bump'])];
    const fresh = [
      { name: 'd', loop: null, iteration: null, status: 'COMPLETED' as const },
      { name: 'check', loop: 'repeat', iteration: 2, status: 'PENDING' as const },
      { name: 'new', loop: null, iteration: null, status: 'PENDING' as const },
    ];
    expect(withGraph(fresh, held).map((r) => [r.name, r.status, r.needs, r.depth])).toEqual([
      ['d', 'COMPLETED', ['b', 'c'], 2],
      ['check', 'PENDING', ['bump'], 1],
      ['new', 'PENDING', [], 0],
    ]);
  });
});

describe('stepNames', () => {
  it('each step once, in the order of its first record', () => {
    expect(stepNames([record('a', 0), record('repeat', 1), record('bump', 0, 'PENDING', 'repeat', 1), record('bump', 0, 'PENDING', 'repeat', 2)])).toEqual(['a', 'repeat', 'bump']);
  });
});

describe('buildTimeline', () => {
  it('groups a loop’s step by iteration; its streamed output belongs to the iteration last announced', () => {
    const events = [
      event('LOOP_ITERATION_STARTED', 'repeat', { loop: 'repeat', iteration: 1 }),
      event('STEP_STARTED', 'check', { loop: 'repeat', iteration: 1 }),
      event('SHELL_OUTPUT', 'check', { stream: 'stdout', text: 'one' }),
      event('STEP_COMPLETED', 'check', { loop: 'repeat', iteration: 1 }),
      event('LOOP_ITERATION_STARTED', 'repeat', { loop: 'repeat', iteration: 2 }),
      event('STEP_STARTED', 'check', { loop: 'repeat', iteration: 2 }),
      event('SHELL_OUTPUT', 'check', { stream: 'stdout', text: 'two' }),
    ];
    const groups = buildTimeline(events);
    expect(groups.map((g) => [g.stepName, g.iteration, g.items.length])).toEqual([
      ['repeat', null, 1],
      ['check', 1, 3],
      ['repeat', null, 1],
      ['check', 2, 2],
    ]);
    // One step's events alone (the page's ?step= filter): still split by iteration.
    expect(buildTimeline(events.filter((e) => e.stepName === 'check')).map((g) => g.iteration)).toEqual([1, 2]);
  });
});
