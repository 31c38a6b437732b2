/**
 * What `agent-runner watch` shows of an agent step (an AGENT run's only step, or a workflow's AGENT
 * steps), folded from its AGENT_* events: the turn and tokens against the limits, and its recent
 * activity — each tool call with a short summary of its arguments and, once answered, the state of
 * its result; directives as they are received and delivered; the limit that ended it. The shapes of
 * the events' `data` are described in schema.graphql (EventType). Prints nothing (tty.ts and plain.ts do).
 */
import type { CliEventFragment } from '../../client/generated/graphql.js';
import { printable } from '../format.js';

/** One line of an agent's activity. */
export interface AgentActivity {
  /** call: a tool call; directive: a user's directive; limit: the limit that ended the agent. */
  kind: 'call' | 'directive' | 'limit';
  /**
   * call: running (no result yet), ok or error; directive: received or delivered; limit: reached.
   */
  state: 'running' | 'ok' | 'error' | 'received' | 'delivered' | 'reached';
  /** The tool call's id (AGENT_TOOL_CALL's data.callId), or the directive's id; matches a result to its call. */
  id: string | null;
  turn: number | null;
  /** `run_command npm test`, `directive: Keep it short`, `maxIterations 3 of 3`. */
  text: string;
  /** A call's result in a few words (`exit 1`, `error: no such file`, `1.2 KB`); empty until it has one. */
  result: string;
}

/** An agent step's progress, against its limits (null when not known yet). */
export interface AgentStepView {
  model: string | null;
  turn: number;
  maxTurns: number | null;
  tokens: number;
  tokenBudget: number | null;
  /** Its latest activity, oldest first (at most MAX_ACTIVITY). */
  activity: AgentActivity[];
}

/** Activity lines kept per agent step. */
export const MAX_ACTIVITY = 20;

/** Characters of an argument kept in a call's summary. */
const ARGUMENT_CHARS = 60;

/** The event types folded here. */
export const AGENT_EVENT_TYPES: ReadonlySet<string> = new Set(['AGENT_STARTED', 'AGENT_TURN', 'AGENT_TOOL_CALL', 'AGENT_TOOL_RESULT', 'AGENT_DIRECTIVE', 'AGENT_LIMIT_REACHED']);

type Data = Record<string, unknown>;
const str = (value: unknown): string | null => (typeof value === 'string' ? printable(value) : null);
const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
const record = (value: unknown): Data => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Data) : {});

/** One line of text, cut to `max` characters with an ellipsis. */
function short(text: string, max = ARGUMENT_CHARS): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The argument that says most about each tool's call. */
const MAIN_ARGUMENT: Record<string, string> = {
  list_files: 'path',
  read_file: 'path',
  write_file: 'path',
  edit_file: 'path',
  search: 'pattern',
  run_command: 'command',
  finish: 'summary',
};

/**
 * A tool call in a few words: the tool and its main argument (`run_command npm test`, `read_file
 * src/App.java`, `search "TODO"`), or its arguments as `key=value` for other tools.
 */
export function callSummary(name: string | null, args: unknown): string {
  if (!name) return 'an unreadable tool call';
  const given = record(args);
  const main = MAIN_ARGUMENT[name];
  if (main !== undefined) {
    const value = str(given[main]);
    if (name === 'list_files') return `list_files ${value ? short(value) : '.'}`;
    if (value === null) return name;
    return `${name} ${name === 'search' || name === 'finish' ? JSON.stringify(short(value)) : short(value)}`;
  }
  // The model chooses the keys and values too: made printable (JSON.stringify leaves C1 controls such as U+009B as they are).
  const parts = Object.entries(given).map(([key, value]) => `${printable(key)}=${short(printable(typeof value === 'string' ? value : (JSON.stringify(value) ?? '')), 30)}`);
  return short(`${name} ${parts.join(' ')}`.trim(), ARGUMENT_CHARS + 20);
}

/** A tool result in a few words: `exit 0`, `error: …`, `ok` (with its duration when known). */
export function resultSummary(data: Data): string {
  const ok = data.ok === true;
  const exitCode = num(data.exitCode);
  const signal = str(data.signal);
  const duration = num(data.durationMs);
  const took = duration !== null && duration >= 100 ? ` in ${(duration / 1000).toFixed(1)}s` : '';
  if (signal) return `killed by ${signal}${took}`;
  if (exitCode !== null) return `exit ${exitCode}${took}`;
  if (ok) return `ok${took}`;
  const content = (str(data.content) ?? '').replace(/^Error:\s*/, '');
  return `error: ${short(content.split('\n')[0] ?? '', 80)}`;
}

export function newAgentStepView(): AgentStepView {
  return { model: null, turn: 0, maxTurns: null, tokens: 0, tokenBudget: null, activity: [] };
}

function add(view: AgentStepView, activity: AgentActivity): void {
  view.activity = [...view.activity, activity].slice(-MAX_ACTIVITY);
}

/** Folds one AGENT_* event of a step into its agent view. */
export function applyAgentEvent(view: AgentStepView, event: Pick<CliEventFragment, 'type' | 'data'>): void {
  const data = record(event.data);
  switch (event.type) {
    case 'AGENT_STARTED': {
      const limits = record(data.limits);
      view.model = str(data.model) ?? view.model;
      view.turn = num(data.turns) ?? view.turn;
      view.tokens = num(data.tokens) ?? view.tokens;
      view.maxTurns = num(limits.maxIterations) ?? view.maxTurns;
      view.tokenBudget = num(limits.tokenBudget) ?? view.tokenBudget;
      return;
    }
    case 'AGENT_TURN': {
      const totals = record(data.totals);
      view.turn = num(totals.turns) ?? num(data.turn) ?? view.turn;
      view.tokens = num(totals.tokens) ?? view.tokens;
      return;
    }
    case 'AGENT_TOOL_CALL':
      add(view, { kind: 'call', state: 'running', id: str(data.callId), turn: num(data.turn), text: callSummary(str(data.name), data.arguments), result: '' });
      return;
    case 'AGENT_TOOL_RESULT': {
      const id = str(data.callId);
      const call = [...view.activity].reverse().find((a) => a.kind === 'call' && a.state === 'running' && a.id === id);
      const state = data.ok === true ? 'ok' : 'error';
      if (call) Object.assign(call, { state, result: resultSummary(data) });
      else add(view, { kind: 'call', state, id, turn: num(data.turn), text: callSummary(str(data.name), null), result: resultSummary(data) });
      return;
    }
    case 'AGENT_DIRECTIVE': {
      const id = str(data.directiveId);
      const state = data.state === 'delivered' ? 'delivered' : 'received';
      const text = `directive: ${short(str(data.text) ?? '')}`;
      const known = view.activity.find((a) => a.kind === 'directive' && a.id === id && id !== null);
      if (known) Object.assign(known, { state, turn: num(data.turn) });
      else add(view, { kind: 'directive', state, id, turn: num(data.turn), text, result: '' });
      return;
    }
    case 'AGENT_LIMIT_REACHED':
      add(view, { kind: 'limit', state: 'reached', id: null, turn: null, text: `limit reached: ${str(data.limit) ?? 'a limit'} (${num(data.used) ?? '?'} of ${num(data.max) ?? '?'})`, result: '' });
      return;
  }
}

/** `turn 3 of 40 · 12,345 of 400,000 tokens · qwen3-coder:latest` */
export function agentProgress(view: AgentStepView): string {
  const n = (value: number) => value.toLocaleString('en-US');
  const turns = `turn ${view.turn}${view.maxTurns !== null ? ` of ${view.maxTurns}` : ''}`;
  const tokens = `${n(view.tokens)}${view.tokenBudget !== null ? ` of ${n(view.tokenBudget)}` : ''} tokens`;
  return [turns, tokens, ...(view.model ? [view.model] : [])].join(' · ');
}

/** How an activity line is marked on screen and in plain lines. */
export const ACTIVITY_MARKS: Record<AgentActivity['state'], string> = {
  running: '→',
  ok: '✔',
  error: '✖',
  received: '✉',
  delivered: '✉',
  reached: '⚠',
};

/** An activity as one line: `✔ run_command npm test — exit 0`, `✉ directive: … (delivered before turn 3)`. */
export function activityLine(activity: AgentActivity): string {
  const mark = ACTIVITY_MARKS[activity.state];
  if (activity.kind === 'directive') {
    return `${mark} ${activity.text} (${activity.state === 'delivered' ? `delivered${activity.turn !== null ? ` before turn ${activity.turn}` : ''}` : 'received; the agent reads it before its next model call'})`;
  }
  return `${mark} ${activity.text}${activity.result ? ` — ${activity.result}` : ''}`;
}

/**
 * The plain line of an agent event (CI logs, pipes), or null to print the server's message: a tool
 * call with its argument summary, a result with its state.
 */
export function agentEventLine(event: Pick<CliEventFragment, 'type' | 'data'>): string | null {
  const data = record(event.data);
  const turn = num(data.turn);
  const prefix = turn !== null ? `Turn ${turn}: ` : '';
  if (event.type === 'AGENT_TOOL_CALL') return `${prefix}${ACTIVITY_MARKS.running} ${callSummary(str(data.name), data.arguments)}`;
  if (event.type === 'AGENT_TOOL_RESULT') return `${prefix}${data.ok === true ? ACTIVITY_MARKS.ok : ACTIVITY_MARKS.error} ${str(data.name) ?? 'tool call'} — ${resultSummary(data)}`;
  return null;
}
