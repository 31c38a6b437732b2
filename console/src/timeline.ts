/**
 * A run's events arranged for the timeline: consecutive events of one step form a group (events of
 * no step, such as RUN_QUEUED, form "run" groups), and inside a group consecutive streamed text
 * (LLM_TOKEN, LLM_THINKING, SHELL_OUTPUT) forms one block that grows as the deltas arrive.
 */
import { eventData } from '../../src/engine/events.js';
import type { ConsoleEventFragment } from '../../src/client/generated/graphql.js';

export type TimelineEvent = ConsoleEventFragment;

/** Kinds of streamed text: the model's answer, its reasoning, a command's output. */
export type StreamKind = 'llm' | 'thinking' | 'shell';

export type TimelineItem = { kind: 'event'; key: string; event: TimelineEvent } | { kind: StreamKind; key: string; events: TimelineEvent[] };

export interface TimelineGroup {
  key: string;
  stepName: string | null;
  /** A loop's step: the iteration its events belong to (from the lifecycle events' `data.iteration`); else null. */
  iteration: number | null;
  items: TimelineItem[];
}

const STREAMED: Partial<Record<TimelineEvent['type'], StreamKind>> = { LLM_TOKEN: 'llm', LLM_THINKING: 'thinking', SHELL_OUTPUT: 'shell' };

export function buildTimeline(events: readonly TimelineEvent[]): TimelineGroup[] {
  const groups: TimelineGroup[] = [];
  // The iteration each step inside a loop is at: its lifecycle events say (data.loop, data.iteration);
  // its streamed text does not, and belongs to the iteration last announced.
  const iterationOf = new Map<string, number>();
  for (const event of events) {
    const stepName = event.stepName ?? null;
    const data = event.data as { loop?: unknown; iteration?: unknown } | null;
    if (stepName !== null && typeof data?.loop === 'string' && data.loop !== stepName && typeof data.iteration === 'number') iterationOf.set(stepName, data.iteration);
    const iteration = stepName !== null ? (iterationOf.get(stepName) ?? null) : null;
    let group = groups.at(-1);
    if (!group || group.stepName !== stepName || group.iteration !== iteration) {
      group = { key: `g${event.seq}`, stepName, iteration, items: [] };
      groups.push(group);
    }
    const streamKind = STREAMED[event.type];
    const last = group.items.at(-1);
    if (streamKind) {
      if (last && last.kind === streamKind) last.events.push(event);
      else group.items.push({ kind: streamKind, key: `s${event.seq}`, events: [event] });
    } else {
      group.items.push({ kind: 'event', key: `e${event.seq}`, event });
    }
  }
  return groups;
}

/** The text delta of a streamed event (`data.text`). */
export function deltaText(event: TimelineEvent): string {
  return (eventData(event, 'LLM_TOKEN') ?? eventData(event, 'LLM_THINKING') ?? eventData(event, 'SHELL_OUTPUT'))?.text ?? '';
}

/** `data.stream` of a SHELL_OUTPUT event: stdout or stderr. */
export function outputStream(event: TimelineEvent): 'stdout' | 'stderr' {
  return eventData(event, 'SHELL_OUTPUT')?.stream === 'stderr' ? 'stderr' : 'stdout';
}

/** Adds events in seq order, dropping any already held (a replay after a reconnect). */
export function appendEvents(current: readonly TimelineEvent[], incoming: readonly TimelineEvent[]): TimelineEvent[] {
  let last = current.at(-1)?.seq ?? 0;
  const added: TimelineEvent[] = [];
  for (const event of incoming) {
    if (event.seq <= last) continue;
    added.push(event);
    last = event.seq;
  }
  return added.length ? [...current, ...added] : (current as TimelineEvent[]);
}

export const TERMINAL_EVENTS = new Set<TimelineEvent['type']>(['WORKFLOW_COMPLETED', 'WORKFLOW_FAILED', 'RUN_STOPPED']);
