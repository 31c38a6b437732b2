/**
 * Shared pieces of the flow-control tests: registering a definition text, running a run to its end,
 * and reading when each step ran from its records.
 */
import { expect } from 'vitest';
import { CreateRunDocument, RegisterWorkflowDocument } from '../../src/client/generated/graphql.js';
import type { TestApp } from '../helpers/test-app.js';
import { getRun, streamToEnd, type FullRun } from '../workflow/support.js';

/** Registers a workflow definition (YAML) through the API; returns its name. */
export async function register(t: TestApp, definition: string): Promise<string> {
  const { registerWorkflow } = await t.client.request(RegisterWorkflowDocument, { definition });
  return registerWorkflow.workflow.name;
}

/** Creates a run of a workflow and follows it to its end; returns its events and final state. */
export async function runWorkflow(t: TestApp, projectId: string, workflowName: string, inputs: Record<string, unknown> = {}) {
  const { createRun } = await t.client.request(CreateRunDocument, { input: { projectId, goal: 'flow', inputs, options: { workflowName } } });
  const events = await streamToEnd(t, createRun.id, 40_000);
  return { runId: createRun.id, events, run: await getRun(t, createRun.id) };
}

/** A step record by name (and iteration, for a loop's step). */
export function stepOf(run: FullRun, name: string, iteration: number | null = null): FullRun['steps'][number] {
  const step = run.steps.find((s) => s.name === name && (s.iteration ?? null) === iteration);
  expect(step, `step ${name}${iteration ? ` iteration ${iteration}` : ''}`).toBeDefined();
  return step!;
}

/** [start, end] of a step record, in ms. */
export function spanOf(run: FullRun, name: string, iteration: number | null = null): [number, number] {
  const step = stepOf(run, name, iteration);
  return [Date.parse(step.startedAt!), Date.parse(step.finishedAt!)];
}
