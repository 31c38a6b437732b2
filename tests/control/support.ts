/**
 * Shared pieces of the run-control tests (pause, resume, stop, per-step retries, retryRun): waiting
 * for a run's events or status, the run with its `pauseRequested` flag, the worker's slots, the
 * processes of a command, and the shape of a refused request.
 */
import { execFileSync } from 'node:child_process';
import { expect } from 'vitest';
import { GraphQLRequestError } from '../../src/client/client.js';
import { ControlRunDocument, WorkerDocument, type ControlRunQuery, type EventFieldsFragment } from '../../src/client/generated/graphql.js';
import { waitFor, type TestApp } from '../helpers/test-app.js';
import { queryEvents } from '../workflow/support.js';

export type ControlRun = NonNullable<ControlRunQuery['run']>;

/** The run as the server reports it, with `pauseRequested` and its artifacts. */
export async function controlRun(t: TestApp, runId: string): Promise<ControlRun> {
  const { run } = await t.client.request(ControlRunDocument, { id: runId });
  if (!run) throw new Error(`run ${runId} not found`);
  return run;
}

/** Polls the run until `check` holds; generous by default (the machine is slow and noisy). */
export function waitForRun(t: TestApp, runId: string, check: (run: ControlRun) => boolean, what: string, timeoutMs = 20_000): Promise<ControlRun> {
  return waitFor(
    async () => {
      const run = await controlRun(t, runId);
      return check(run) ? run : undefined;
    },
    { timeoutMs, intervalMs: 50, what },
  );
}

export function waitForStatus(t: TestApp, runId: string, status: string, timeoutMs = 20_000): Promise<ControlRun> {
  return waitForRun(t, runId, (run) => run.status === status, `run ${runId} to be ${status}`, timeoutMs);
}

/** Polls the stored events until one matches; returns it. */
export async function waitForEvent(
  t: TestApp,
  runId: string,
  match: (event: EventFieldsFragment) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<EventFieldsFragment> {
  return waitFor(
    async () => (await queryEvents(t, runId)).find(match),
    { timeoutMs, intervalMs: 50, what },
  );
}

export const isType =
  (type: string, stepName?: string) =>
  (event: { type: string; stepName?: string | null }): boolean =>
    event.type === type && (stepName === undefined || event.stepName === stepName);

export async function activeRunIds(t: TestApp): Promise<string[]> {
  const { worker } = await t.client.request(WorkerDocument);
  return worker.activeRunIds;
}

/**
 * Expects the request to be refused with `code`; every part must appear in the message. Returns
 * the error for further checks.
 */
export async function expectRefused(request: Promise<unknown>, code: string, ...parts: string[]): Promise<GraphQLRequestError> {
  let thrown: unknown;
  try {
    await request;
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected a ${code} error`).toBeInstanceOf(GraphQLRequestError);
  const error = thrown as GraphQLRequestError;
  expect(error.code, error.message).toBe(code);
  for (const part of parts) expect(error.message).toContain(part);
  return error;
}

export interface ProcessRow {
  pid: number;
  pgid: number;
  stat: string;
  args: string;
}

/** Every process on the machine (`ps -eo pid,pgid,stat,args`). */
export function processes(): ProcessRow[] {
  const out = execFileSync('ps', ['-eo', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ pid: Number(match[1]), pgid: Number(match[2]), stat: match[3], args: match[4] }))
    .filter((row) => row.pid !== process.pid);
}

/** Live processes (zombies run nothing and are ignored) in process group `pgid`, or whose command line holds `marker`. */
export function liveProcesses(filter: { pgid?: number; marker?: string }): ProcessRow[] {
  return processes().filter(
    (row) =>
      !row.stat.startsWith('Z') &&
      ((filter.pgid !== undefined && row.pgid === filter.pgid) || (filter.marker !== undefined && row.args.includes(filter.marker))),
  );
}

/** How many STEP_STARTED events each step has (attempts and re-executions included). */
export function startsPerStep(events: ReadonlyArray<{ type: string; stepName?: string | null }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of events) if (event.type === 'STEP_STARTED' && event.stepName) counts[event.stepName] = (counts[event.stepName] ?? 0) + 1;
  return counts;
}

/** A message a person can read: a capitalised sentence of some length, not a bare code. */
export function expectSentence(message: string, ...mentions: string[]): void {
  expect(message.length, message).toBeGreaterThan(15);
  expect(message, message).toMatch(/^[A-Z]/);
  expect(message.trim().split(/\s+/).length, message).toBeGreaterThanOrEqual(4);
  for (const part of mentions) expect(message).toContain(part);
}
