/**
 * An agent's conversation as the console shows it, built from the run's events: per turn the
 * reasoning and the text streamed so far with its usage, each tool call with its arguments, the
 * output of its command and its result, the directives (waiting, then delivered), the limits reached
 * and the run-control moments; and the limits in force with how much of each is used.
 */
import { eventData } from '../../src/engine/events.js';
import type { TimelineEvent } from './timeline';

export interface AgentLimits {
  maxIterations: number;
  tokenBudget: number;
  timeoutSeconds: number;
  numCtx: number;
  toolResultMaxChars: number;
}

export interface ToolResult {
  ok: boolean;
  content: string;
  sizeChars: number;
  truncated: boolean;
  exitCode?: number | null;
  durationMs?: number;
  interrupted?: boolean;
}

export type AgentItem =
  | { kind: 'turn'; key: string; turn: number; thinking: string; text: string; usage: { promptTokens: number; outputTokens: number; totalMs: number; textForm: boolean } | null }
  | {
      kind: 'call';
      key: string;
      callId: string | null;
      turn: number;
      name: string | null;
      arguments: unknown;
      textForm: boolean;
      problems: string[] | null;
      output: Array<{ stream: 'stdout' | 'stderr'; text: string; seq: number }>;
      result: ToolResult | null;
    }
  | { kind: 'directive'; key: string; directiveId: string; text: string; deliveredBeforeTurn: number | null }
  | { kind: 'limit'; key: string; message: string }
  | { kind: 'note'; key: string; message: string; tone: 'neutral' | 'error' | 'ok' };

export interface AgentView {
  items: AgentItem[];
  model: string | null;
  limits: AgentLimits | null;
  turns: number;
  tokens: number;
  contextTokens: number;
}

/** Events of the run's control that belong in the conversation, as a note. */
const NOTES: Partial<Record<TimelineEvent['type'], 'neutral' | 'error' | 'ok'>> = {
  RUN_PAUSED: 'neutral',
  RUN_RESUMED: 'neutral',
  RUN_RECOVERED: 'neutral',
  RUN_STOPPED: 'error',
  STEP_FAILED: 'error',
  STEP_COMPLETED: 'ok',
};

const num = (value: unknown): number => (typeof value === 'number' ? value : 0);

/** The conversation of the run's agent steps (`agentSteps`, by name), from its events in seq order. */
export function buildAgentView(events: readonly TimelineEvent[], agentSteps: ReadonlySet<string>): AgentView {
  const view: AgentView = { items: [], model: null, limits: null, turns: 0, tokens: 0, contextTokens: 0 };
  const turns = new Map<number, Extract<AgentItem, { kind: 'turn' }>>();
  const calls = new Map<string, Extract<AgentItem, { kind: 'call' }>>();
  const directives = new Map<string, Extract<AgentItem, { kind: 'directive' }>>();
  let openCall: Extract<AgentItem, { kind: 'call' }> | null = null;

  const turnItem = (turn: number) => {
    let item = turns.get(turn);
    if (!item) {
      item = { kind: 'turn', key: `turn-${turn}-${view.items.length}`, turn, thinking: '', text: '', usage: null };
      turns.set(turn, item);
      view.items.push(item);
    }
    return item;
  };

  for (const event of events) {
    const directive = eventData(event, 'AGENT_DIRECTIVE');
    if (event.type === 'AGENT_DIRECTIVE') {
      const data = directive ?? { directiveId: String(event.seq), text: '', state: 'received' as const };
      const id = data.directiveId;
      const existing = directives.get(id);
      if (data.state === 'delivered') {
        if (existing) existing.deliveredBeforeTurn = num(data.turn);
        else view.items.push({ kind: 'directive', key: `d${event.seq}`, directiveId: id, text: data.text, deliveredBeforeTurn: num(data.turn) });
      } else if (!existing) {
        const item: AgentItem = { kind: 'directive', key: `d${event.seq}`, directiveId: id, text: data.text, deliveredBeforeTurn: null };
        directives.set(id, item);
        view.items.push(item);
      }
      continue;
    }
    if (event.stepName === null || !agentSteps.has(event.stepName)) {
      const tone = NOTES[event.type];
      if (tone && (event.type === 'RUN_STOPPED' || event.type === 'RUN_RECOVERED' || event.type === 'RUN_RESUMED')) view.items.push({ kind: 'note', key: `n${event.seq}`, message: event.message, tone });
      continue;
    }
    switch (event.type) {
      case 'AGENT_STARTED': {
        const data = eventData(event, 'AGENT_STARTED');
        if (!data) break;
        view.model = data.model;
        view.limits = data.limits ?? view.limits;
        // A new conversation (a retry) starts the view again.
        if (data.continuing === false) {
          view.items = view.items.filter((item) => item.kind === 'directive' && item.deliveredBeforeTurn === null);
          turns.clear();
          calls.clear();
          view.turns = 0;
          view.tokens = 0;
          view.contextTokens = 0;
        } else {
          view.turns = num(data.turns);
          view.tokens = num(data.tokens);
          view.items.push({ kind: 'note', key: `n${event.seq}`, message: event.message, tone: 'neutral' });
        }
        break;
      }
      // Streamed before the turn's AGENT_TURN: they belong to the turn after the last one counted.
      case 'LLM_THINKING':
        turnItem(view.turns + 1).thinking += eventData(event, 'LLM_THINKING')?.text ?? '';
        break;
      case 'LLM_TOKEN':
        turnItem(view.turns + 1).text += eventData(event, 'LLM_TOKEN')?.text ?? '';
        break;
      case 'AGENT_TURN': {
        const data = eventData(event, 'AGENT_TURN');
        if (!data) break;
        const turn = data.turn;
        turnItem(turn).usage = { promptTokens: data.promptTokens, outputTokens: data.outputTokens, totalMs: data.totalMs, textForm: data.textForm };
        view.turns = num(data.totals?.turns) || turn;
        view.tokens = num(data.totals?.tokens);
        view.contextTokens = num(data.contextTokens);
        break;
      }
      case 'AGENT_TOOL_CALL': {
        const data = eventData(event, 'AGENT_TOOL_CALL');
        if (!data) break;
        const item: Extract<AgentItem, { kind: 'call' }> = {
          kind: 'call',
          key: `c${event.seq}`,
          callId: data.callId,
          turn: data.turn,
          name: data.name,
          arguments: data.arguments ?? null,
          textForm: data.textForm,
          problems: data.problems ?? null,
          output: [],
          result: null,
        };
        if (item.callId) calls.set(item.callId, item);
        view.items.push(item);
        openCall = item;
        break;
      }
      case 'SHELL_OUTPUT': {
        const data = eventData(event, 'SHELL_OUTPUT');
        if (openCall && data) openCall.output.push({ stream: data.stream === 'stderr' ? 'stderr' : 'stdout', text: data.text, seq: event.seq });
        break;
      }
      case 'AGENT_TOOL_RESULT': {
        const data = eventData(event, 'AGENT_TOOL_RESULT');
        if (!data) break;
        const target = (data.callId !== null ? calls.get(data.callId) : undefined) ?? openCall;
        const result: ToolResult = {
          ok: data.ok,
          content: data.content,
          sizeChars: data.sizeChars,
          truncated: data.truncated,
          exitCode: typeof data.exitCode === 'number' ? data.exitCode : undefined,
          durationMs: data.durationMs,
          interrupted: data.interrupted === true,
        };
        if (target && !target.result) target.result = result;
        else
          view.items.push({
            kind: 'call',
            key: `r${event.seq}`,
            callId: data.callId,
            turn: data.turn,
            name: data.name,
            arguments: null,
            textForm: false,
            problems: null,
            output: [],
            result,
          });
        openCall = null;
        break;
      }
      case 'AGENT_LIMIT_REACHED':
        view.items.push({ kind: 'limit', key: `l${event.seq}`, message: event.message });
        break;
      default: {
        const tone = NOTES[event.type];
        if (tone) view.items.push({ kind: 'note', key: `n${event.seq}`, message: event.message, tone });
      }
    }
  }
  return view;
}

/** The names of a run's agent steps. */
export function agentStepNames(steps: ReadonlyArray<{ name: string; type: string }>): Set<string> {
  return new Set(steps.filter((s) => s.type === 'AGENT').map((s) => s.name));
}
