/**
 * The dependency graph of a list of steps (a workflow's, or a loop's): who needs whom. A step without
 * `needs` needs the step before it in the list, so a list without `needs` is a chain in file order;
 * `needs` replaces that with the named steps of the same list (`[]`: none).
 */
import type { WorkflowStepDefinition } from './types.js';

/** The names a step waits for, `needs` or the implicit previous step. */
export function needsOf(steps: readonly WorkflowStepDefinition[], index: number): string[] {
  const step = steps[index]!;
  if (step.needs !== undefined) return [...step.needs];
  return index === 0 ? [] : [steps[index - 1]!.name];
}

/** Every step's needs, by name. */
export function needsByName(steps: readonly WorkflowStepDefinition[]): Map<string, string[]> {
  return new Map(steps.map((step, index) => [step.name, needsOf(steps, index)]));
}

/** A problem of the graph, at the step (and its `needs` entry) where it shows. */
export interface GraphProblem {
  index: number;
  /** Position in the step's `needs`, when the problem is one of its entries. */
  need?: number;
  message: string;
}

/** Needs that name no step of the list, or the step itself, and cycles. */
export function graphProblems(steps: readonly WorkflowStepDefinition[], scope: string): GraphProblem[] {
  const problems: GraphProblem[] = [];
  const names = new Set(steps.map((s) => s.name));
  steps.forEach((step, index) => {
    (step.needs ?? []).forEach((need, position) => {
      if (need === step.name) problems.push({ index, need: position, message: `step "${step.name}" needs itself` });
      else if (!names.has(need)) {
        problems.push({ index, need: position, message: `step "${step.name}" needs "${need}", which is not a step of ${scope} (its steps: ${[...names].join(', ')})` });
      }
    });
  });
  if (problems.length > 0) return problems;
  const cycle = findCycle(steps);
  if (cycle) {
    const index = steps.findIndex((s) => s.name === cycle[0]);
    problems.push({ index, message: `the needs of ${scope} go round in a circle: ${[...cycle, cycle[0]].join(' → ')}; no step of it could ever start` });
  }
  return problems;
}

/** A cycle of needs (its names in order), or null. */
function findCycle(steps: readonly WorkflowStepDefinition[]): string[] | null {
  const needs = needsByName(steps);
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): string[] | null => {
    if (state.get(name) === 'done') return null;
    if (state.get(name) === 'visiting') return path.slice(path.indexOf(name));
    state.set(name, 'visiting');
    path.push(name);
    for (const need of needs.get(name) ?? []) {
      const cycle = visit(need);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(name, 'done');
    return null;
  };
  for (const step of steps) {
    const cycle = visit(step.name);
    if (cycle) return cycle;
  }
  return null;
}

/** Every step's ancestors (what it needs, and what those need …), by name. The graph must be acyclic. */
export function ancestorsByName(steps: readonly WorkflowStepDefinition[]): Map<string, Set<string>> {
  const needs = needsByName(steps);
  const ancestors = new Map<string, Set<string>>();
  const of = (name: string): Set<string> => {
    const known = ancestors.get(name);
    if (known) return known;
    const found = new Set<string>();
    ancestors.set(name, found);
    for (const need of needs.get(name) ?? []) {
      found.add(need);
      for (const further of of(need)) found.add(further);
    }
    return found;
  };
  for (const step of steps) of(step.name);
  return ancestors;
}

/** The steps that depend on `name`, directly or not (itself excluded). */
export function descendantsOf(steps: readonly WorkflowStepDefinition[], name: string): Set<string> {
  const ancestors = ancestorsByName(steps);
  return new Set(steps.filter((s) => ancestors.get(s.name)?.has(name)).map((s) => s.name));
}

/** Each step's depth: 0 for a step that needs nothing, else one more than its deepest need (for drawing columns). */
export function depthsByName(steps: readonly WorkflowStepDefinition[]): Map<string, number> {
  const needs = needsByName(steps);
  const depths = new Map<string, number>();
  const of = (name: string): number => {
    const known = depths.get(name);
    if (known !== undefined) return known;
    depths.set(name, 0);
    const depth = Math.max(-1, ...(needs.get(name) ?? []).map(of)) + 1;
    depths.set(name, depth);
    return depth;
  };
  for (const step of steps) of(step.name);
  return depths;
}

/** Every step of a definition, loops' steps included, with the loop each is inside (null at the top). */
export function allSteps(steps: readonly WorkflowStepDefinition[], loop: string | null = null): Array<{ step: WorkflowStepDefinition; loop: string | null }> {
  return steps.flatMap((step) => [{ step, loop }, ...(step.type === 'LOOP' ? allSteps(step.steps, step.name) : [])]);
}

/** Each step of a definition (loops' steps included, within their loop) with its needs and depth. */
export function stepGraph(steps: readonly WorkflowStepDefinition[]): Map<WorkflowStepDefinition, { needs: string[]; depth: number }> {
  const graph = new Map<WorkflowStepDefinition, { needs: string[]; depth: number }>();
  const depths = depthsByName(steps);
  steps.forEach((step, index) => {
    graph.set(step, { needs: needsOf(steps, index), depth: depths.get(step.name) ?? 0 });
    if (step.type === 'LOOP') for (const [inner, info] of stepGraph(step.steps)) graph.set(inner, info);
  });
  return graph;
}
