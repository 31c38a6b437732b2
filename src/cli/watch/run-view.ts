/**
 * What `agent-runner watch` shows, as data: a run's steps and where each stands, folded from the
 * run's events in seq order (the same fold for a run watched from its start, one joined midway,
 * which replays its log first, and one resumed after a dropped connection). Rendering it is the
 * renderers' job (tty.ts, plain.ts); this file prints nothing.
 */
import type { CliEventFragment, CliRunFragment } from '../../client/generated/graphql.js';
import { printable } from '../format.js';
import { applyAgentEvent, newAgentStepView, type AgentStepView } from './agent-view.js';

/**
 * Where a step stands on the screen: the server's step statuses, plus RETRYING (an attempt failed,
 * the next one is due) and WAITING (the run paused before it, until a person resumes it).
 */
export type StepState = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'SKIPPED' | 'STOPPED' | 'RETRYING' | 'WAITING';

export interface StepView {
  name: string;
  /** What it does, with its model ("Create project plan using gemma3:27b"). */
  description: string;
  state: StepState;
  /** Start of the latest attempt and its end, in ms since the epoch (the server's clock). */
  startedAt: number | null;
  finishedAt: number | null;
  attempt: number;
  maxAttempts: number;
  /** What it is doing now ("Loading model: …", "Running: mvn test"), or why it failed, is retried or waits. */
  note: string | null;
  /** Its last complete output lines (the model's text, the command's output), oldest first. */
  tail: string[];
  /** The output line being written (no newline yet), and the stream it comes from. */
  partial: string;
  partialStream: string;
  /** An agent step's turns, tokens and activity (agent-view.ts); null until its first AGENT_* event. */
  agent: AgentStepView | null;
}

/** A file the run wrote (ARTIFACT_CREATED). */
export interface FileView {
  step: string | null;
  path: string;
  sizeBytes: number | null;
}

export interface RunView {
  id: string;
  workflowName: string | null;
  projectName: string;
  /** QUEUED, RUNNING, PAUSED, COMPLETED, FAILED or STOPPED, as the events so far say. */
  status: string;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  steps: StepView[];
  /** The seq of the last event folded in (0 before the first). */
  lastSeq: number;
  files: FileView[];
  /** What the run as a whole is waiting on or went through (paused, recovered, queued again). */
  note: string | null;
  error: string | null;
  /** Output lines kept per step. */
  tailLines: number;
  /** Whether a model's reasoning (LLM_THINKING) is shown as output (--reasoning); otherwise only noted. */
  reasoning: boolean;
}

/** A complete output line of a step, for renderers that print the whole output (--stream). */
export interface OutputLine {
  step: string;
  /** stdout or stderr for commands, model for generated text, thinking for a model's reasoning. */
  stream: string;
  text: string;
}

const time = (iso: string | null | undefined): number | null => (iso ? Date.parse(iso) : null);

/** The view of a run before any event: its steps (from the run record) pending. */
export function createRunView(run: CliRunFragment, tailLines: number, options: { reasoning?: boolean } = {}): RunView {
  return {
    id: run.id,
    workflowName: run.workflowName !== null && run.workflowName !== undefined ? printable(run.workflowName) : (run.runType === 'AGENT' ? 'agent run' : null),
    projectName: printable(run.project.name),
    status: 'QUEUED',
    createdAt: Date.parse(run.createdAt),
    startedAt: null,
    finishedAt: null,
    // One row per step: a loop's step has a record per iteration, and its events (by name) go to one row, live or replayed.
    steps: run.steps
      .filter((step, i) => run.steps.findIndex((other) => other.name === step.name) === i)
      .map((step) => ({ ...newStep(printable(step.name), printable(step.description)), agent: step.type === 'AGENT' ? newAgentStepView() : null })),
    lastSeq: 0,
    files: [],
    note: null,
    error: null,
    tailLines,
    reasoning: options.reasoning === true,
  };
}

function newStep(name: string, description: string): StepView {
  return { name, description, state: 'PENDING', startedAt: null, finishedAt: null, attempt: 0, maxAttempts: 1, note: null, tail: [], partial: '', partialStream: 'model', agent: null };
}

/** The step an event is about; a step the run record did not list (an agent's own steps) is added. */
function stepOf(view: RunView, name: string | null | undefined): StepView | null {
  if (!name) return null;
  let step = view.steps.find((s) => s.name === name);
  if (!step) {
    step = newStep(printable(name), '');
    view.steps.push(step);
  }
  return step;
}

type EventData = Record<string, unknown>;

/** A string field of an event's data, made safe to print (the server relays model and command output). */
const text = (value: unknown): string | null => (typeof value === 'string' ? printable(value) : null);
const count = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

/** Adds streamed text to a step's output; returns the lines it completed. */
function appendOutput(view: RunView, step: StepView, stream: string, delta: string): OutputLine[] {
  // A line another stream left unfinished (the model's text before a command's output) ends here.
  const ended = step.partialStream !== stream ? flushOutput(view, step) : [];
  step.partialStream = stream;
  const parts = (step.partial + delta).split(/\r?\n/);
  step.partial = parts.pop() ?? '';
  if (parts.length > 0) step.tail = [...step.tail, ...parts].slice(-Math.max(1, view.tailLines));
  return [...ended, ...parts.map((line) => ({ step: step.name, stream, text: line }))];
}

/** Ends a step's unfinished output line; returns it as a line, if there was one. */
function flushOutput(view: RunView, step: StepView): OutputLine[] {
  if (step.partial === '') return [];
  const line = step.partial;
  step.partial = '';
  step.tail = [...step.tail, line].slice(-Math.max(1, view.tailLines));
  return [{ step: step.name, stream: step.partialStream, text: line }];
}

function finishStep(step: StepView, state: StepState, at: number | null, note: string | null): void {
  step.state = state;
  step.finishedAt = at;
  step.note = note;
}

/**
 * Folds one event into the view (events must come in seq order; one already folded is ignored).
 * Returns the output lines it completed, for --stream. Event types this client does not know are
 * kept as the step's or the run's note, so a newer server's events still show.
 */
export function applyEvent(view: RunView, event: CliEventFragment): OutputLine[] {
  if (event.seq <= view.lastSeq) return [];
  view.lastSeq = event.seq;
  const at = Date.parse(event.createdAt);
  const message = printable(event.message);
  const data = (event.data && typeof event.data === 'object' ? event.data : {}) as EventData;
  const step = stepOf(view, event.stepName);
  const running = () => view.steps.filter((s) => s.state === 'RUNNING' || s.state === 'RETRYING');

  switch (event.type) {
    case 'RUN_QUEUED': {
      view.status = 'QUEUED';
      view.finishedAt = null;
      view.error = null;
      view.note = data.retry === true ? message : null;
      const from = view.steps.findIndex((s) => s.name === text(data.fromStep));
      if (data.retry === true && from >= 0) {
        const again = view.steps.slice(from);
        for (const s of again) Object.assign(s, newStep(s.name, s.description), { agent: s.agent ? newAgentStepView() : null });
        view.files = view.files.filter((f) => !again.some((s) => s.name === f.step));
      }
      return [];
    }
    case 'WORKFLOW_STARTED':
      view.status = 'RUNNING';
      view.startedAt ??= at;
      view.note = null;
      return [];
    case 'STEP_STARTED':
      if (!step) return [];
      Object.assign(step, {
        state: 'RUNNING',
        startedAt: at,
        finishedAt: null,
        attempt: count(data.attempt) ?? step.attempt + 1,
        maxAttempts: count(data.maxAttempts) ?? step.maxAttempts,
        note: null,
        tail: [],
        partial: '',
      } satisfies Partial<StepView>);
      return [];
    case 'LLM_TOKEN':
      return step ? appendOutput(view, step, 'model', text(data.text) ?? message) : [];
    case 'LLM_THINKING':
      if (!step) return [];
      if (view.reasoning) return appendOutput(view, step, 'thinking', text(data.text) ?? message);
      step.note = 'the model is reasoning (--reasoning shows it)';
      return [];
    case 'SHELL_OUTPUT':
      return step ? appendOutput(view, step, text(data.stream) ?? 'stdout', text(data.text) ?? message) : [];
    case 'ARTIFACT_CREATED': {
      const path = text(data.path);
      if (path && !view.files.some((f) => f.path === path)) view.files.push({ step: event.stepName ?? null, path, sizeBytes: count(data.sizeBytes) });
      return [];
    }
    case 'STEP_COMPLETED':
      if (!step) return [];
      finishStep(step, 'COMPLETED', at, null);
      return flushOutput(view, step);
    case 'STEP_FAILED':
      if (!step) return [];
      finishStep(step, 'FAILED', at, text(data.error) ?? message);
      return flushOutput(view, step);
    case 'STEP_RETRYING': {
      if (!step) return [];
      const wait = count(data.waitSeconds);
      const reason = text(data.error) ?? message;
      finishStep(step, 'RETRYING', at, `attempt ${count(data.attempt) ?? step.attempt} of ${count(data.maxAttempts) ?? step.maxAttempts} failed${wait !== null ? `, next in ${wait}s` : ''}: ${reason}`);
      return flushOutput(view, step);
    }
    case 'RUN_PAUSED': {
      view.status = 'PAUSED';
      view.note = message;
      const next = view.steps.find((s) => s.name === text(data.nextStep));
      if (next) Object.assign(next, { state: 'WAITING', note: 'waiting for the run to be resumed' } satisfies Partial<StepView>);
      return [];
    }
    case 'RUN_RESUMED':
      if (view.status === 'PAUSED') view.status = 'QUEUED';
      view.note = null;
      for (const s of view.steps) if (s.state === 'WAITING') Object.assign(s, { state: 'PENDING', note: null } satisfies Partial<StepView>);
      return [];
    case 'RUN_RECOVERED': {
      view.status = 'QUEUED';
      view.note = message;
      const lines = running().flatMap((s) => flushOutput(view, s));
      for (const s of running()) Object.assign(s, { state: 'PENDING', finishedAt: null, note: 'interrupted by a server restart; goes again' } satisfies Partial<StepView>);
      return lines;
    }
    case 'RUN_STOPPED': {
      view.status = 'STOPPED';
      view.finishedAt = at;
      view.note = null;
      const lines = running().flatMap((s) => flushOutput(view, s));
      for (const s of view.steps) {
        if (s.state === 'RUNNING' || s.state === 'RETRYING') finishStep(s, 'STOPPED', at, 'stopped by request');
        else if (s.state === 'PENDING' || s.state === 'WAITING') finishStep(s, 'SKIPPED', null, null);
      }
      return lines;
    }
    case 'WORKFLOW_COMPLETED':
      view.status = 'COMPLETED';
      view.finishedAt = at;
      view.note = null;
      return [];
    case 'WORKFLOW_FAILED':
      view.status = 'FAILED';
      view.finishedAt = at;
      view.error = text(data.error) ?? message;
      view.note = null;
      for (const s of view.steps) if (s.state === 'PENDING' || s.state === 'WAITING') finishStep(s, 'SKIPPED', null, null);
      return [];
    case 'WORKFLOW_LOOKUP':
      return [];
    case 'AGENT_DIRECTIVE':
    case 'AGENT_STARTED':
    case 'AGENT_TURN':
    case 'AGENT_TOOL_CALL':
    case 'AGENT_TOOL_RESULT':
    case 'AGENT_LIMIT_REACHED': {
      // A directive is received by the run (no step): it goes to the agent step running, or the first still to run.
      const agentStep = step ?? view.steps.find((s) => s.agent && s.state === 'RUNNING') ?? view.steps.find((s) => s.agent && s.state === 'PENDING');
      if (!agentStep) {
        view.note = message;
        return [];
      }
      agentStep.agent ??= newAgentStepView();
      applyAgentEvent(agentStep.agent, event);
      if (event.type === 'AGENT_TOOL_CALL') agentStep.note = null;
      if (event.type === 'AGENT_LIMIT_REACHED') agentStep.note = message;
      if (event.type === 'AGENT_DIRECTIVE' && view.note?.startsWith('Directive received')) view.note = null;
      return [];
    }
    default:
      // LLM_LOADING_MODEL, LLM_HEARTBEAT, LLM_GENERATING, LLM_DONE, SHELL_EXECUTING, and types this
      // client does not know yet: what the step (or the run) is doing now.
      if (step) step.note = message;
      else view.note = message;
      return [];
  }
}

/**
 * Takes the server's final word on a run that ended (statuses the events do not carry, such as the
 * steps skipped after a failure, and the artifacts that remain after a retry).
 */
export function settleRunView(view: RunView, run: CliRunFragment & { artifacts?: Array<{ path: string; stepName?: string | null; sizeBytes: number }> }): void {
  view.status = run.status;
  view.error = run.error ? printable(run.error) : null;
  view.startedAt = time(run.startedAt) ?? view.startedAt;
  view.finishedAt = time(run.finishedAt) ?? view.finishedAt;
  for (const record of run.steps) {
    const step = stepOf(view, record.name);
    if (!step) continue;
    const state = record.status as StepState;
    if (state !== step.state && !(state === 'PENDING' && step.state === 'WAITING')) {
      step.state = state;
      if (state === 'FAILED' || state === 'STOPPED') step.note = record.error ? printable(record.error) : step.note;
    }
    step.description = printable(record.description) || step.description;
    step.startedAt = time(record.startedAt) ?? step.startedAt;
    step.finishedAt = time(record.finishedAt) ?? step.finishedAt;
  }
  if (run.artifacts) {
    // A file written again (each iteration of a loop, two steps at once) is listed once, as last written.
    const byPath = new Map<string, FileView>();
    for (const a of run.artifacts) {
      const path = printable(a.path);
      byPath.delete(path);
      byPath.set(path, { step: a.stepName ?? null, path, sizeBytes: a.sizeBytes });
    }
    view.files = [...byPath.values()];
  }
}
