/**
 * A run's steps arranged as its graph for the run page: the workflow's steps in columns by depth
 * (the steps of one column can run at the same time), each loop with its iterations, and what each
 * iteration's `until` gave. Pure functions over the step records (`Run.steps` with `needs` and
 * `depth`) and the run's events (LOOP_ITERATION_* carry `data.iteration` and `data.until`).
 */
// `.js` in the paths: tests/console imports this file under the server's NodeNext resolution too.
import type { StepStatus } from '../../src/client/generated/graphql.js';
import type { TimelineEvent } from './timeline.js';

/** What the graph needs of a step record (a `StepRun` of the one-run query). */
export interface GraphStepRecord {
  index: number;
  name: string;
  status: StepStatus;
  /** The loop this record is one iteration's step of; null at the top of the workflow. */
  loop: string | null;
  /** Its iteration, from 1, inside a loop; null at the top. */
  iteration: number | null;
  /** The steps of its own list it waits for. */
  needs: string[];
  /** 0 for a step that needs nothing, else one more than its deepest need. */
  depth: number;
}

/**
 * Records in columns by depth (column i holds the steps of depth i, in workflow order). A depth
 * nobody has (impossible from the server, kept safe) leaves no empty column.
 */
export function columnsByDepth<T extends Pick<GraphStepRecord, 'index' | 'depth'>>(records: readonly T[]): T[][] {
  const byDepth = new Map<number, T[]>();
  for (const record of records) byDepth.set(record.depth, [...(byDepth.get(record.depth) ?? []), record]);
  return [...byDepth.entries()].sort(([a], [b]) => a - b).map(([, column]) => column.sort((x, y) => x.index - y.index));
}

/** One iteration of a loop: its step records and what its `until` gave. */
export interface LoopIteration<T> {
  /** From 1. */
  iteration: number;
  steps: T[];
  /** What `until` gave after the iteration; null while it runs, or when it ended without (a failed step). */
  untilHeld: boolean | null;
}

/** How a loop ended, or that it has not. */
export type LoopEnding =
  /** Still going (or not started). */
  | { kind: 'open' }
  /** `until` held after `iterations`. */
  | { kind: 'until-held'; iterations: number }
  /** Every iteration ran and `until` never held. */
  | { kind: 'ran-out'; iterations: number }
  /** It failed or stopped inside an iteration (a step failed, the run was stopped). */
  | { kind: 'cut-off'; iteration: number };

export interface LoopView<T> {
  iterations: LoopIteration<T>[];
  /** The iterations at most, as the loop evaluated it when it started (null before). */
  maxIterations: number | null;
  ending: LoopEnding;
}

function numberOf(data: unknown, key: string): number | null {
  const value = (data as Record<string, unknown> | null)?.[key];
  return typeof value === 'number' ? value : null;
}

/**
 * A loop's iterations from its records (`loop` = its name) and its events; `status` is the loop
 * record's own. A later event about an iteration (after a retry) replaces an earlier one.
 */
export function loopView<T extends Pick<GraphStepRecord, 'index' | 'loop' | 'iteration'>>(
  loopName: string,
  status: StepStatus,
  records: readonly T[],
  events: readonly TimelineEvent[],
): LoopView<T> {
  const byIteration = new Map<number, T[]>();
  for (const record of records) {
    if (record.loop !== loopName || record.iteration === null) continue;
    byIteration.set(record.iteration, [...(byIteration.get(record.iteration) ?? []), record]);
  }
  const until = new Map<number, boolean>();
  let maxIterations: number | null = null;
  for (const event of events) {
    if (event.stepName !== loopName) continue;
    maxIterations = numberOf(event.data, 'maxIterations') ?? maxIterations;
    const iteration = numberOf(event.data, 'iteration');
    if (iteration === null) continue;
    if (event.type === 'LOOP_ITERATION_STARTED') until.delete(iteration);
    if (event.type === 'LOOP_ITERATION_COMPLETED') {
      const held = (event.data as { until?: unknown } | null)?.until;
      if (typeof held === 'boolean') until.set(iteration, held);
    }
  }
  const iterations = [...byIteration.entries()]
    .sort(([a], [b]) => a - b)
    .map(([iteration, steps]) => ({ iteration, steps: steps.sort((x, y) => x.index - y.index), untilHeld: until.get(iteration) ?? null }));
  const last = iterations.at(-1);
  let ending: LoopEnding = { kind: 'open' };
  if (status === 'COMPLETED' && last) ending = { kind: 'until-held', iterations: last.iteration };
  else if ((status === 'FAILED' || status === 'STOPPED') && last) {
    ending = last.untilHeld === false && maxIterations !== null && last.iteration >= maxIterations ? { kind: 'ran-out', iterations: last.iteration } : { kind: 'cut-off', iteration: last.iteration };
  }
  return { iterations, maxIterations, ending };
}

/** The distinct step names of a run, in the order of their first record (for the timeline's filter). */
export function stepNames(records: readonly Pick<GraphStepRecord, 'index' | 'name'>[]): string[] {
  return [...new Set([...records].sort((a, b) => a.index - b.index).map((r) => r.name))];
}

/**
 * A fresh state of the steps (a mutation's answer, runUpdated: without `needs` and `depth`, which
 * only the one-run query carries) with the graph fields of the records already held. A record not
 * held yet (a new iteration's) takes them from a record of the same step; none: no needs, depth 0.
 */
export function withGraph<T extends Pick<GraphStepRecord, 'name' | 'loop' | 'iteration'>>(
  fresh: readonly T[],
  held: readonly Pick<GraphStepRecord, 'name' | 'loop' | 'iteration' | 'needs' | 'depth'>[],
): Array<T & Pick<GraphStepRecord, 'needs' | 'depth'>> {
  const key = (r: Pick<GraphStepRecord, 'name' | 'loop' | 'iteration'>) => `${r.loop ?? ''}\u0000${r.name}\u0000${r.iteration ?? ''}`;
  const exact = new Map(held.map((r) => [key(r), r]));
  const byName = new Map(held.map((r) => [r.name, r]));
  return fresh.map((record) => {
    const known = exact.get(key(record)) ?? byName.get(record.name);
    return { ...record, needs: [...(known?.needs ?? [])], depth: known?.depth ?? 0 };
  });
}
