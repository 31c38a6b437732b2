/**
 * What each event's `data` holds: one map from event type to the shape of its data, shared by the
 * engine (which emits through it, so the compiler checks every field), the GraphQL schema (whose
 * EventType value descriptions are written from EVENT_DOCS) and the clients (console and CLI read
 * data through `eventData`).
 *
 * Four types are open: STEP_COMPLETED and STEP_FAILED also carry what the step's kind reports (a
 * custom step type's `data`), STEP_LOG what the step logged with its line, AGENT_TOOL_RESULT the
 * tool's own details. Every other type's data holds exactly the documented fields.
 */
import type { ArtifactKind, EventRecord, EventType, ModelSource, RunType, StepType } from './types.js';

/** Where a step of a loop ran: added to the lifecycle events (STEP_STARTED …) of steps inside a loop. */
export interface LoopPlace {
  /** The loop step's name. */
  loop?: string;
  /** The iteration, from 1. */
  iteration?: number;
}

/** A model chosen for a step when the run was created. */
export interface EventStepModel {
  step: string;
  model: string;
  source: ModelSource;
}

/** Results that built-in step kinds report; a custom step type may add its own fields. */
export interface StepResultData {
  /** LLM_GENERATE, AGENT: the model. */
  model?: string;
  /** LLM_GENERATE: characters of the answer (reasoning not counted). */
  characters?: number;
  /** LLM_GENERATE: characters of the model's reasoning, when it reasoned. */
  thinkingCharacters?: number;
  /** LLM_GENERATE: tokens generated (Ollama's eval_count); AGENT: prompt plus output tokens over all turns. */
  tokens?: number;
  /** LLM_GENERATE: generation speed (eval_count / eval_duration). */
  tokensPerSecond?: number;
  /** LLM_GENERATE: seconds Ollama spent loading the model. */
  loadSeconds?: number;
  /** LLM_GENERATE: seconds of the whole call. */
  totalSeconds?: number;
  /** LLM_GENERATE: why Ollama ended the answer (stop, length). */
  doneReason?: string;
  /** LLM_GENERATE with extractFiles: workspace paths written from the answer ([] otherwise). */
  files?: unknown;
  /** LLM_GENERATE: blocks that name a file but were not written (see FILE_BLOCK_SKIPPED). */
  skippedBlocks?: unknown;
  /** LLM_GENERATE: the form the files were read from (file blocks, fenced code, JSON). */
  filesFrom?: string;
  /** SHELL_COMMAND, MAVEN_COMMAND: the exit code (null when ended by a signal). */
  exitCode?: number | null;
  /** SHELL_COMMAND, MAVEN_COMMAND: the signal that ended the command. */
  signal?: string;
  /** Commands: the command line as written (expressions not filled in). */
  command?: string;
  /** Commands: whether it ran in the sandbox. */
  sandboxed?: boolean;
  /** Commands: true when output beyond COMMAND_OUTPUT_LIMIT_BYTES was dropped. */
  truncated?: boolean;
  /** Commands: bytes dropped, {stdout, stderr}. */
  droppedBytes?: unknown;
  /** FILE_WRITE: the file written, workspace-relative. */
  path?: string;
  /** FILE_WRITE: its size in bytes. */
  sizeBytes?: number;
  /** FAILURE_REPORT: failures read from the output. */
  failures?: number;
  /** FAILURE_REPORT: of which failed tests. */
  tests?: number;
  /** FAILURE_REPORT: of which compiler or build errors. */
  errors?: number;
  /** AGENT: model calls made. */
  turns?: number;
  /** AGENT: how it ended: finish (the finish tool) or answer (a reply without tool calls). */
  finishedBy?: string;
  /** AGENT: its closing summary. */
  summary?: string;
  /** LOOP: iterations run. */
  iterations?: number;
  /** AGENT_LIMIT_REACHED's limit, when a limit ended an agent. */
  limit?: string;
  /** The use of that limit. */
  used?: number;
  /** The limit's value. */
  max?: number;
  /** Ollama failures: the HTTP status. */
  status?: number;
  /** Ollama failures: the network error code. */
  code?: string;
  /** Model failures: the model's capabilities as Ollama reports them. */
  capabilities?: unknown;
  /** Agent failures: installed models that support tool calling. */
  modelsWithTools?: unknown;
  /** Agent failures: the turn whose model call failed. */
  turn?: number;
  /** Ollama failures: the step. */
  stepName?: string;
  /** Ollama failures: the line of the stream that could not be read. */
  lineNumber?: number;
  /** Commands: true when the command's own timeout ended it. */
  timedOut?: boolean;
  /** Commands: that timeout. */
  timeoutSeconds?: number;
  /** Any further field a custom step type reports. */
  [field: string]: unknown;
}

/** The limits an agent step works within (AGENT_STARTED); see AgentOptionsInput for each. */
export interface AgentLimitsData {
  maxIterations: number;
  tokenBudget: number;
  timeoutSeconds: number;
  numCtx: number;
  toolResultMaxChars: number;
  callTimeoutSeconds: number;
  commandTimeoutSeconds: number;
}

/** The shape of `data` for each event type. */
export interface EventDataMap {
  RUN_QUEUED: {
    workflow?: string | null;
    version?: string | null;
    runType?: RunType;
    definitionHash?: string;
    projectId?: string;
    models?: EventStepModel[];
    timeoutSeconds?: number;
    inputs?: Record<string, unknown>;
    agent?: Record<string, unknown>;
    retry?: true;
    fromStep?: string | null;
    again?: string[];
    fromVersion?: string;
  };
  WORKFLOW_LOOKUP: { workflow: string };
  WORKFLOW_STARTED: { workflow: string; version: string; steps: string[]; workspace: string; fromStep: string | null };
  STEP_STARTED: LoopPlace & {
    index: number;
    type: StepType;
    attempt?: number;
    maxAttempts?: number;
    model?: string;
    customType?: string;
    timeoutSeconds?: number;
    maxIterations?: number;
    continuing?: true;
  };
  LLM_LOADING_MODEL: { model: string };
  LLM_GENERATING: { model: string; turn?: number };
  LLM_TOKEN: { text: string };
  LLM_HEARTBEAT: { model: string; elapsedSeconds: number; silentSeconds?: number };
  LLM_DONE: {
    model: string;
    characters: number;
    thinkingCharacters?: number;
    tokens: number;
    tokensPerSecond: number;
    loadSeconds: number;
    totalSeconds: number;
    doneReason?: string;
  };
  SHELL_EXECUTING: { command: string; sandboxed: boolean; network: boolean };
  SHELL_OUTPUT: { stream: 'stdout' | 'stderr'; text: string; heldBack?: true; droppedBytes?: number };
  ARTIFACT_CREATED: { artifactId: string; path: string; kind: ArtifactKind; sizeBytes: number };
  STEP_COMPLETED: LoopPlace & StepResultData & { index: number; durationMs: number; attempt?: number };
  STEP_FAILED: LoopPlace &
    StepResultData & { index?: number; durationMs?: number; error: string; attempts?: number; retryable?: boolean; continueOnError?: true };
  STEP_RETRYING: LoopPlace & { index: number; attempt: number; maxAttempts: number; error: string; waitSeconds: number };
  RUN_PAUSED: { nextStep: string | null; where?: string };
  RUN_RESUMED: { nextStep?: string | null };
  RUN_STOPPED: Record<string, never>;
  RUN_RECOVERED: {
    interruptedStep: string | null;
    interruptedSteps: Array<{ name: string; loop: string | null; iteration: number | null }>;
    nextStep: string | null;
    killedProcessGroups: number[];
  };
  WORKFLOW_COMPLETED: { workflow: string; durationMs: number };
  WORKFLOW_FAILED: { error: string };
  LLM_THINKING: { text: string };
  FILE_BLOCK_SKIPPED: { path: string; reason: string; line?: number; entry?: number };
  STEP_LOG: { [field: string]: unknown };
  AGENT_STARTED: {
    model: string;
    think: boolean | string | null;
    continuing: boolean;
    turns: number;
    tokens: number;
    limits: AgentLimitsData;
    tools: string[];
  };
  AGENT_TURN: {
    turn: number;
    model: string;
    promptTokens: number;
    outputTokens: number;
    loadMs: number;
    promptMs: number;
    outputMs: number;
    totalMs: number;
    doneReason?: string;
    toolCalls: number;
    textForm: boolean;
    contextTokens: number;
    totals: { turns: number; tokens: number };
    limits: { maxIterations: number; tokenBudget: number; numCtx: number };
  };
  AGENT_TOOL_CALL: {
    turn: number;
    callId: string | null;
    name: string | null;
    arguments: Record<string, unknown> | null;
    textForm: boolean;
    malformed?: true;
    problems?: string[];
  };
  AGENT_TOOL_RESULT: {
    turn: number;
    callId: string | null;
    name: string | null;
    ok: boolean;
    sizeChars: number;
    truncated: boolean;
    content: string;
    durationMs?: number;
    malformed?: true;
    interrupted?: true;
    [detail: string]: unknown;
  };
  AGENT_DIRECTIVE: { directiveId: string; text: string; state: 'received' | 'delivered'; turn?: number };
  AGENT_LIMIT_REACHED: { limit: string; used: number; max: number };
  STEP_SKIPPED: LoopPlace & { reason: string; condition?: string };
  LOOP_ITERATION_STARTED: { loop: string; iteration: number; maxIterations: number };
  LOOP_ITERATION_COMPLETED: { loop: string; iteration: number; maxIterations: number; until: boolean };
}

/** The data of an event of type T. */
export type EventData<T extends EventType> = EventDataMap[T];

/** The data argument of an emit of type T (RUN_STOPPED, which has none, takes none). */
export type EventDataArgument<T extends EventType> = EventDataMap[T] | undefined;

/** The named (not index-signature) keys of a shape. */
type KnownKeys<T> = keyof { [K in keyof T as string extends K ? never : K]: true };

/** One description per named field: the compiler refuses a field added to the map without one. */
type FieldDocs<T> = { [K in KnownKeys<T>]-?: string };

/** What an event type means, and each field of its data. */
interface EventDoc<T extends EventType> {
  summary: string;
  /** The fields of StepResultData are documented once, in STEP_RESULT_DOCS. */
  data: FieldDocs<Omit<EventDataMap[T], keyof StepResultData>>;
}

const LOOP_PLACE_DOCS: FieldDocs<LoopPlace> = {
  loop: 'for a step inside a loop: the loop step',
  iteration: 'for a step inside a loop: the iteration, from 1',
};

const STEP_RESULT_DOCS = {
  model: 'LLM_GENERATE and AGENT: the model',
  characters: 'LLM_GENERATE: characters of the answer, reasoning not counted',
  thinkingCharacters: 'LLM_GENERATE: characters of reasoning, when the model reasoned',
  tokens: 'LLM_GENERATE: tokens generated; AGENT: prompt plus output tokens over its turns',
  tokensPerSecond: 'LLM_GENERATE: generation speed',
  loadSeconds: 'LLM_GENERATE: seconds Ollama took to load the model',
  totalSeconds: 'LLM_GENERATE: seconds of the whole model call',
  doneReason: 'LLM_GENERATE: why Ollama ended the answer (stop, length)',
  files: 'LLM_GENERATE: the files written from the answer',
  skippedBlocks: 'LLM_GENERATE: blocks naming files that were not written',
  filesFrom: 'LLM_GENERATE: the form the files were read from',
  exitCode: 'commands: the exit code (null when a signal ended it)',
  signal: 'commands: the signal that ended it',
  command: 'commands: the command as written',
  sandboxed: 'commands: whether it ran in the sandbox',
  truncated: 'commands: output past COMMAND_OUTPUT_LIMIT_BYTES was dropped',
  droppedBytes: 'commands: bytes dropped, {stdout, stderr}',
  timedOut: 'commands: the command’s own timeout ended it',
  timeoutSeconds: 'commands: that timeout',
  path: 'FILE_WRITE: the file written',
  sizeBytes: 'FILE_WRITE: its size in bytes',
  failures: 'FAILURE_REPORT: failures read',
  tests: 'FAILURE_REPORT: of which failed tests',
  errors: 'FAILURE_REPORT: of which build errors',
  turns: 'AGENT: model calls made',
  finishedBy: 'AGENT: finish (the finish tool) or answer (a reply without tool calls)',
  summary: 'AGENT: its closing summary',
  iterations: 'LOOP: iterations run',
  limit: 'AGENT: the limit that ended it',
  used: 'AGENT: that limit’s use',
  max: 'AGENT: that limit’s value',
  status: 'Ollama failures: the HTTP status',
  code: 'Ollama failures: the network error code',
  capabilities: 'model failures: the model’s capabilities',
  modelsWithTools: 'agent failures: installed models that support tools',
  turn: 'agent failures: the turn whose model call failed',
  stepName: 'Ollama failures: the step',
  lineNumber: 'Ollama failures: the stream line that could not be read',
} satisfies FieldDocs<StepResultData>;

/**
 * Every event type: what it means and what each field of its data is. The GraphQL enum EventType
 * takes its value descriptions from here (describeEventType).
 */
export const EVENT_DOCS: { [T in EventType]: EventDoc<T> } = {
  RUN_QUEUED: {
    summary: 'The run was created (or retried with retryRun) and waits for a worker.',
    data: {
      workflow: 'the workflow (null for an AGENT run)',
      version: 'its version',
      runType: 'WORKFLOW or AGENT',
      definitionHash: 'the content hash of the definition the run pins',
      projectId: 'the project',
      models: 'the model chosen for each step that calls one: {step, model, source}',
      timeoutSeconds: 'the run’s timeout per model call',
      inputs: 'the workflow inputs, defaults filled in',
      agent: 'the run’s agent options, when given',
      retry: 'true for a retry',
      fromStep: 'a retry: the first step run again',
      again: 'a retry: the steps run again',
      fromVersion: 'a retry on another version: the version the run had',
    },
  },
  WORKFLOW_LOOKUP: { summary: 'Looking up the workflow definition.', data: { workflow: 'its name' } },
  WORKFLOW_STARTED: {
    summary: 'The workflow began executing (or continued, after a pause, retry or recovery).',
    data: {
      workflow: 'its name',
      version: 'its version',
      steps: 'the top-level step names',
      workspace: 'the project folder',
      fromStep: 'the first step that had not completed',
    },
  },
  STEP_STARTED: {
    summary: 'A step (one attempt of it) began.',
    data: {
      ...LOOP_PLACE_DOCS,
      index: 'the step’s record index',
      type: 'its kind',
      attempt: 'the attempt, from 1',
      maxAttempts: 'attempts its retry policy allows',
      model: 'LLM_GENERATE: the model in force',
      customType: 'CUSTOM: the custom type',
      timeoutSeconds: 'the step’s timeout',
      maxIterations: 'LOOP: iterations at most',
      continuing: 'LOOP: true when it continues an earlier execution',
    },
  },
  LLM_LOADING_MODEL: { summary: 'Ollama is loading the step’s model.', data: { model: 'the model' } },
  LLM_GENERATING: { summary: 'The model started answering.', data: { model: 'the model', turn: 'an agent’s turn' } },
  LLM_TOKEN: { summary: 'Generated text, coalesced.', data: { text: 'the delta (also the message)' } },
  LLM_HEARTBEAT: {
    summary: 'Still waiting on the model (loading, or a pause mid-answer).',
    data: { model: 'the model', elapsedSeconds: 'seconds since the call began', silentSeconds: 'in a pause: seconds since its last text' },
  },
  LLM_DONE: {
    summary: 'Generation finished.',
    data: {
      model: 'the model',
      characters: 'characters of the answer (reasoning not counted)',
      thinkingCharacters: 'characters of reasoning, when the model reasoned',
      tokens: 'tokens generated (Ollama’s eval_count)',
      tokensPerSecond: 'generation speed',
      loadSeconds: 'seconds Ollama took to load the model',
      totalSeconds: 'seconds of the whole call',
      doneReason: 'why Ollama ended the answer (stop, length)',
    },
  },
  SHELL_EXECUTING: {
    summary: 'A command started.',
    data: { command: 'the command as written', sandboxed: 'whether it runs in the sandbox', network: 'whether it may reach the network' },
  },
  SHELL_OUTPUT: {
    summary: 'Command output, coalesced.',
    data: {
      stream: 'stdout or stderr',
      text: 'the delta (also the message)',
      heldBack: 'a note: output past half of COMMAND_OUTPUT_LIMIT_BYTES is held back; its tail follows at the end',
      droppedBytes: 'a note: bytes dropped before the tail that follows',
    },
  },
  ARTIFACT_CREATED: {
    summary: 'A file was written and recorded as an artifact.',
    data: { artifactId: 'the artifact', path: 'workspace-relative path', kind: 'GENERATED_FILE, COMMAND_OUTPUT or FILE', sizeBytes: 'its size' },
  },
  STEP_COMPLETED: {
    summary: 'A step completed; data also holds what its kind reports (see the fields marked by kind).',
    data: { ...LOOP_PLACE_DOCS, index: 'the step’s record index', durationMs: 'how long it took', attempt: 'the attempt that completed' },
  },
  STEP_FAILED: {
    summary: 'A step failed; data also holds what its kind reports about the failure (the fields listed by kind under STEP_COMPLETED).',
    data: {
      ...LOOP_PLACE_DOCS,
      index: 'the step’s record index',
      durationMs: 'how long its last attempt took',
      error: 'why',
      attempts: 'attempts made',
      retryable: 'whether retryRun may help',
      continueOnError: 'true when the run goes on (the step has continueOnError)',
    },
  },
  STEP_RETRYING: {
    summary: 'An attempt of a step failed and it will be tried again.',
    data: {
      ...LOOP_PLACE_DOCS,
      index: 'the step’s record index',
      attempt: 'the attempt that failed',
      maxAttempts: 'attempts allowed',
      error: 'why it failed',
      waitSeconds: 'the wait before the next attempt',
    },
  },
  RUN_PAUSED: {
    summary: 'The run paused at a step boundary (pauseRun).',
    data: { nextStep: 'the first top-level step still to run', where: 'for a pause inside a step (an agent): where it stopped' },
  },
  RUN_RESUMED: { summary: 'The run was resumed (resumeRun), or its pending pause cancelled.', data: { nextStep: 'the step it continues with' } },
  RUN_STOPPED: { summary: 'The run was stopped (stopRun). Terminal.', data: {} },
  RUN_RECOVERED: {
    summary:
      'A run a previous server process left running was put back in the queue at start-up; it continues from the first step that did not complete.',
    data: {
      interruptedStep: 'the first step that was running',
      interruptedSteps: 'every step that was running: {name, loop, iteration}',
      nextStep: 'the top-level step it continues from',
      killedProcessGroups: 'process groups of the old process’s commands that were killed',
    },
  },
  WORKFLOW_COMPLETED: { summary: 'Every step completed. Terminal.', data: { workflow: 'its name', durationMs: 'the run’s duration since the worker last started it (after a pause, retry or recovery: since it went on)' } },
  WORKFLOW_FAILED: { summary: 'The workflow failed. Terminal.', data: { error: 'why' } },
  LLM_THINKING: {
    summary:
      'The model’s reasoning (Ollama’s `thinking` field, or a `<think>…</think>` block at the start of its answer), coalesced like LLM_TOKEN. Never part of the step’s output or files.',
    data: { text: 'the delta (also the message)' },
  },
  FILE_BLOCK_SKIPPED: {
    summary: 'A block of an LLM answer that names a file was not written.',
    data: {
      path: 'the file it names',
      reason: 'why (the answer ended inside it, a later block names the same file, it is the step’s own output file, …)',
      line: 'its line in the answer',
      entry: 'its entry in a JSON answer',
    },
  },
  STEP_LOG: { summary: 'A line a step logged about its work (custom step types use ctx.log); data is what it logged with the line.', data: {} },
  AGENT_STARTED: {
    summary: 'An agent step began or continued.',
    data: {
      model: 'the model',
      think: 'Ollama’s think setting sent (null: not sent)',
      continuing: 'true when it continues a kept conversation',
      turns: 'turns so far',
      tokens: 'tokens so far',
      limits: 'the limits in force (maxIterations, tokenBudget, timeoutSeconds, numCtx, toolResultMaxChars, callTimeoutSeconds, commandTimeoutSeconds)',
      tools: 'the tool names',
    },
  },
  AGENT_TURN: {
    summary: 'One model call of an agent ended.',
    data: {
      turn: 'the turn, from 1',
      model: 'the model',
      promptTokens: 'prompt tokens (Ollama’s prompt_eval_count)',
      outputTokens: 'output tokens (eval_count)',
      loadMs: 'model load time',
      promptMs: 'prompt evaluation time',
      outputMs: 'generation time',
      totalMs: 'the whole call',
      doneReason: 'why Ollama ended the answer',
      toolCalls: 'how many tool calls it asked for',
      textForm: 'true when the calls were read from the text',
      contextTokens: 'an estimate of the conversation’s size',
      totals: '{turns, tokens} so far',
      limits: '{maxIterations, tokenBudget, numCtx}',
    },
  },
  AGENT_TOOL_CALL: {
    summary: 'The agent called a tool.',
    data: {
      turn: 'the turn',
      callId: 'the call',
      name: 'the tool',
      arguments: 'its arguments (long strings shortened)',
      textForm: 'true when read from the model’s text, not sent structured',
      malformed: 'true for a call that could not be read',
      problems: 'what was wrong with it',
    },
  },
  AGENT_TOOL_RESULT: {
    summary: 'A tool call’s result; data also holds the tool’s own details (exitCode, path, matches, …).',
    data: {
      turn: 'the turn',
      callId: 'the call',
      name: 'the tool',
      ok: 'whether it succeeded',
      sizeChars: 'the result’s size',
      truncated: 'cut to toolResultMaxChars for the model',
      content: 'what the model was sent',
      durationMs: 'how long the tool took',
      malformed: 'the answer to an unreadable call',
      interrupted: 'the server stopped while the call ran; it may or may not have taken effect',
    },
  },
  AGENT_DIRECTIVE: {
    summary: 'A directive (sendDirective) was received, or delivered to the agent.',
    data: { directiveId: 'the directive', text: 'its text', state: 'received or delivered', turn: 'delivered: the turn it came before' },
  },
  AGENT_LIMIT_REACHED: {
    summary: 'An agent reached a limit and ends.',
    data: { limit: 'maxIterations, tokenBudget, timeout, context or unusableToolCalls', used: 'its use', max: 'its value' },
  },
  STEP_SKIPPED: {
    summary: 'A step did not run because its condition was false.',
    data: { ...LOOP_PLACE_DOCS, reason: 'why', condition: 'the step’s if' },
  },
  LOOP_ITERATION_STARTED: {
    summary: 'A loop began an iteration.',
    data: { loop: 'the loop step', iteration: 'the iteration, from 1', maxIterations: 'iterations at most' },
  },
  LOOP_ITERATION_COMPLETED: {
    summary: 'A loop finished an iteration.',
    data: { loop: 'the loop step', iteration: 'the iteration', maxIterations: 'iterations at most', until: 'whether its until condition held' },
  },
};

/** Types whose data may hold fields beyond the documented ones (a step kind's or a tool's own). */
const OPEN_TYPES: ReadonlySet<EventType> = new Set(['STEP_COMPLETED', 'STEP_FAILED', 'STEP_LOG', 'AGENT_TOOL_RESULT']);

/** STEP_COMPLETED and STEP_FAILED also document the step kinds' result fields. */
function documentedFields(type: EventType): string[] {
  const own = Object.keys(EVENT_DOCS[type].data);
  return type === 'STEP_COMPLETED' || type === 'STEP_FAILED' ? [...own, ...Object.keys(STEP_RESULT_DOCS)] : own;
}

/** `` `name` — what ``: a field of an event's data in its type's description (Markdown, as GraphiQL shows it). */
function fieldLine(name: string, what: string): string {
  return `\`${name}\` — ${what}`;
}

/**
 * The description of an event type for the GraphQL enum: its summary, then "data: `field` — what it
 * is; …". The step kinds' fields of STEP_COMPLETED and STEP_FAILED are listed once, under STEP_COMPLETED.
 */
export function describeEventType(type: EventType): string {
  const doc = EVENT_DOCS[type];
  const fields = Object.entries(doc.data as Record<string, string>).map(([name, what]) => fieldLine(name, what));
  const kinds = type === 'STEP_COMPLETED' ? ` By kind: ${Object.entries(STEP_RESULT_DOCS).map(([name, what]) => fieldLine(name, what)).join('; ')}.` : '';
  return fields.length === 0 ? `${doc.summary}${kinds}` : `${doc.summary} data: ${fields.join('; ')}.${kinds}`;
}

/**
 * The fields of an event's data that EVENT_DOCS does not document (always [] for the open types).
 * Tests call it on every event they read, so a field added to an emit without a description fails.
 */
export function undocumentedData(event: { type: EventType; data?: unknown }): string[] {
  if (OPEN_TYPES.has(event.type) || event.data === null || typeof event.data !== 'object') return [];
  const known = new Set(documentedFields(event.type));
  return Object.keys(event.data).filter((field) => !known.has(field));
}

/**
 * An event's data as its type's shape, or null when the event is of another type or has no data.
 * For clients that hold events as read from the API (`type` a string, `data` JSON).
 */
export function eventData<T extends EventType>(event: { type: string; data?: unknown } | Pick<EventRecord, 'type' | 'data'>, type: T): EventData<T> | null {
  if (event.type !== type || event.data === null || typeof event.data !== 'object') return null;
  return event.data as EventData<T>;
}
