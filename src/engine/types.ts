/**
 * The engine's vocabulary. This file imports nothing: the engine, the database layer and the schema
 * all speak these types, and the engine never sees GraphQL or the ORM.
 *
 * Glossary
 * - project:   a named workspace folder on this machine; runs write files and run commands there.
 * - workflow:  a named, versioned, ordered list of step definitions (plain data).
 * - step:      one definition inside a workflow: a kind (`type`), a stable `name`, its inputs.
 * - executor:  the small module that performs one kind of step (see `steps/registry.ts`).
 * - run:       one execution of a workflow for a goal, in a project's workspace.
 * - step run:  the record of one step of one run: status, attempt, times, error.
 * - event:     something that happened to a run; numbered by `seq` (1, 2, 3 … per run), persisted,
 *              then published to live subscribers.
 * - artifact:  a file in the workspace that a step produced, recorded by its workspace-relative path.
 * - worker:    the in-process loop that claims queued runs and hands them to the runner.
 * - agent:     a step (type AGENT) where a model chooses its own actions: it calls tools (read, write,
 *              edit, search files, run commands) in a loop until it finishes or a limit is reached.
 *              An AGENT run is a run of a one-step workflow whose single step is named `agent`.
 * - turn:      one model call of an agent and the tool calls it asked for.
 * - directive: a message a user sends to a running agent; it reads it before its next model call.
 */

export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'PAUSED', 'STOPPED', 'COMPLETED', 'FAILED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const RUN_TYPES = ['WORKFLOW', 'AGENT'] as const;
export type RunType = (typeof RUN_TYPES)[number];

export const STEP_TYPES = ['LLM_GENERATE', 'FILE_WRITE', 'SHELL_COMMAND', 'MAVEN_COMMAND', 'AGENT'] as const;
export type StepType = (typeof STEP_TYPES)[number];

export const STEP_STATUSES = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'SKIPPED', 'STOPPED'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const ARTIFACT_KINDS = ['GENERATED_FILE', 'COMMAND_OUTPUT', 'FILE'] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

export const MODEL_SOURCES = ['RUN_OPTIONS', 'ENVIRONMENT', 'WORKFLOW_DEFAULT'] as const;
export type ModelSource = (typeof MODEL_SOURCES)[number];

/** The seed's event names plus the ones this project adds; the order is the order of the GraphQL enum. */
export const EVENT_TYPES = [
  'RUN_QUEUED',
  'WORKFLOW_LOOKUP',
  'WORKFLOW_STARTED',
  'STEP_STARTED',
  'LLM_LOADING_MODEL',
  'LLM_GENERATING',
  'LLM_TOKEN',
  'LLM_HEARTBEAT',
  'LLM_DONE',
  'SHELL_EXECUTING',
  'SHELL_OUTPUT',
  'ARTIFACT_CREATED',
  'STEP_COMPLETED',
  'STEP_FAILED',
  'STEP_RETRYING',
  'RUN_PAUSED',
  'RUN_RESUMED',
  'RUN_STOPPED',
  'RUN_RECOVERED',
  'WORKFLOW_COMPLETED',
  'WORKFLOW_FAILED',
  'LLM_THINKING',
  'FILE_BLOCK_SKIPPED',
  'AGENT_STARTED',
  'AGENT_TURN',
  'AGENT_TOOL_CALL',
  'AGENT_TOOL_RESULT',
  'AGENT_DIRECTIVE',
  'AGENT_LIMIT_REACHED',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Events after which a run produces nothing more; `runEvents` completes after one of them. */
export const TERMINAL_EVENT_TYPES: ReadonlySet<EventType> = new Set(['WORKFLOW_COMPLETED', 'WORKFLOW_FAILED', 'RUN_STOPPED']);

/** Statuses in which a run has ended; only retryRun takes a FAILED or STOPPED run back to the queue. */
export const FINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['COMPLETED', 'FAILED', 'STOPPED']);

// ---------------------------------------------------------------------------------------------
// Workflows: data, not code.

export interface WorkflowStepDefinition {
  /** Stable id of the step within its workflow (`planner`, `coder`, `maven_test`); keys model overrides. */
  name: string;
  type: StepType;
  /** What the step does, for people. `{model}` is replaced by the model in force ("… using llama2"). */
  description: string;
  /** LLM_GENERATE: the workflow's default model. */
  model?: string;
  /**
   * LLM_GENERATE: the prompt. `{goal}` is replaced by the run's goal and `{output:STEP}` by the text
   * output of an earlier step.
   */
  prompt?: string;
  /** LLM_GENERATE: an optional system prompt. */
  system?: string;
  /** LLM_GENERATE / FILE_WRITE: workspace-relative file the step's text output is written to. */
  outputFile?: string;
  /**
   * LLM_GENERATE: the answer holds project files (`=== FILE: path ===` blocks or a path line followed by
   * a fenced code block); each is written into the workspace and recorded as an artifact.
   */
  extractFiles?: boolean;
  /**
   * LLM_GENERATE: reasoning, sent as Ollama's `think`: `true`/`false`, or a level for models that take
   * levels (gpt-oss). Not sent when absent (the model's own default). A model without the thinking
   * capability refuses `true` or a level, and the step fails saying to remove it.
   * AGENT: the same, except that absent means on when the model reports the `thinking` capability.
   */
  think?: LlmThink;
  /**
   * LLM_GENERATE: Ollama's model `options`, sent as they are: `num_ctx` (context window, in tokens:
   * prompt and answer together), `num_predict` (longest answer, in tokens), `temperature`, `seed`,
   * `stop` … Raise `num_ctx`/`num_predict` when a step fails at the length limit.
   */
  options?: Record<string, LlmOptionValue>;
  /**
   * LLM_GENERATE with `extractFiles`: ask for structured output, sending Ollama's `format` with the JSON
   * Schema of `{files: [{path, content}]}`; an answer that is not such JSON is read in the text forms.
   */
  structuredOutput?: boolean;
  /** SHELL_COMMAND / MAVEN_COMMAND: the command line, run by `sh -c` in the workspace. */
  command?: string;
  /** FILE_WRITE: the content to write (`{goal}` and `{output:STEP}` are replaced). */
  content?: string;
  /** FILE_WRITE: write the text output of this earlier step instead of `content`. */
  contentFrom?: string;
  /** Record the step's output file (or, for commands, `<step>_output.txt`) as an artifact. */
  saveArtifact: boolean;
  /** Per-step timeout; otherwise the run's `timeoutSeconds` (LLM), then the configured default. */
  timeoutSeconds?: number;
  /** SHELL_COMMAND / MAVEN_COMMAND: a non-zero exit does not fail the step (or the run). */
  continueOnError?: boolean;
  /** Attempts after a retryable failure (a timeout, a dropped connection, a non-zero exit). None by default. */
  retry?: RetryPolicy;
  /**
   * AGENT: what the agent is asked to do; `{goal}` and `{output:STEP}` are replaced. Default: the run's goal.
   * The step's `model` is its default model; `timeoutSeconds` bounds the whole agent (all its turns).
   */
  task?: string;
  /** AGENT: model calls at most (the run's options.agent beat it; default AGENT_MAX_ITERATIONS). */
  maxIterations?: number;
  /** AGENT: prompt plus output tokens at most, summed over the turns as Ollama counts them (default AGENT_TOKEN_BUDGET). */
  tokenBudget?: number;
  /** AGENT: Ollama's context window `num_ctx`, in tokens (default AGENT_NUM_CTX). */
  numCtx?: number;
  /** AGENT: a tool's result sent back to the model is cut to this many characters, with a note (default AGENT_TOOL_RESULT_MAX_CHARS). */
  toolResultMaxChars?: number;
}

/** An agent's limits and model settings, as a run or a step definition may set them (every field optional). */
export interface AgentOptions {
  /** Model calls at most. */
  maxIterations?: number;
  /** Seconds the whole agent may take. */
  timeoutSeconds?: number;
  /** Prompt plus output tokens at most, over all turns. */
  tokenBudget?: number;
  /** Context window in tokens. */
  numCtx?: number;
  /** Ollama's `think`; default: on when the model reports the `thinking` capability. */
  think?: LlmThink;
  /** Characters of a tool's result sent back to the model. */
  toolResultMaxChars?: number;
}

/** Ollama's `think`: on or off, or a reasoning level for models that take one. */
export type LlmThink = boolean | 'low' | 'medium' | 'high';

/** A value of Ollama's model `options` map (numbers, flags, strings, and lists of strings such as `stop`). */
export type LlmOptionValue = number | boolean | string | string[];

/** How a step is tried again after a retryable failure. The engine owns retries: no library retries underneath. */
export interface RetryPolicy {
  /** Attempts in all, the first included (1 = no retry). */
  maxAttempts: number;
  /** Wait before the second attempt, in seconds. */
  backoffSeconds: number;
  /** Each later wait is the previous one times this (1 = constant; 2 = doubling). */
  backoffFactor: number;
}

export interface WorkflowDefinition {
  name: string;
  version: string;
  description: string;
  steps: readonly WorkflowStepDefinition[];
}

// ---------------------------------------------------------------------------------------------
// Records: what the store holds, as plain objects.

export interface ModelOverride {
  step: string;
  model: string;
}

export interface RunOptions {
  workflowName?: string;
  models?: ModelOverride[];
  timeoutSeconds?: number;
  /** The limits and settings of the run's AGENT steps (an AGENT run's only step), over the step's own and the defaults. */
  agent?: AgentOptions;
}

export interface StepModel {
  step: string;
  model: string;
  source: ModelSource;
}

export interface ProjectRecord {
  id: number;
  name: string;
  localPath: string;
  createdAt: Date;
}

export interface RunRecord {
  id: number;
  projectId: number;
  name: string | null;
  goal: string;
  runType: RunType;
  status: RunStatus;
  workflowName: string | null;
  options: RunOptions;
  /** The model each LLM step uses and where the choice came from, fixed when the run is created. */
  models: StepModel[];
  /** The LLM timeout in force for this run, in seconds. */
  timeoutSeconds: number | null;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface StepRunRecord {
  runId: number;
  /** The step's text output once it completed (capped), for later steps' `{output:NAME}` after a restart. */
  output: string | null;
  index: number;
  name: string;
  type: StepType;
  status: StepStatus;
  description: string;
  attempt: number;
  startedAt: Date | null;
  finishedAt: Date | null;
  error: string | null;
}

export interface EventRecord {
  id: number;
  runId: number;
  seq: number;
  type: EventType;
  message: string;
  stepName: string | null;
  data: Record<string, unknown> | null;
  createdAt: Date;
}

export interface NewEvent {
  type: EventType;
  message: string;
  stepName?: string | null;
  data?: Record<string, unknown> | null;
}

export interface ArtifactRecord {
  id: number;
  runId: number;
  stepName: string | null;
  kind: ArtifactKind;
  /** Relative to the project's workspace. */
  path: string;
  sizeBytes: number;
  createdAt: Date;
}

// ---------------------------------------------------------------------------------------------
// Step executors: what each one is given and returns. None of them touches the store directly.

/** A step definition with the run's choices applied. */
export interface ResolvedStep extends WorkflowStepDefinition {
  /** LLM_GENERATE: the model in force (run options > environment > workflow default). */
  model?: string;
  /** The description with `{model}` filled in. */
  description: string;
  /** The timeout in force for this step, in milliseconds. */
  timeoutMs: number;
  /** AGENT: the settings in force (run options > step definition > server defaults). */
  agent?: AgentSettings;
}

/** An AGENT step's settings in force. */
export interface AgentSettings {
  /** Model calls at most. */
  maxIterations: number;
  /** Seconds the whole agent may take (also the step's `timeoutMs`). */
  timeoutSeconds: number;
  /** Prompt plus output tokens at most, summed over the turns as Ollama reports them. */
  tokenBudget: number;
  /** Context window sent as `options.num_ctx`, in tokens. */
  numCtx: number;
  /** undefined: decided from the model's capabilities (on when it reports `thinking`, else not sent). */
  think: LlmThink | undefined;
  /** Characters of a tool's result sent back to the model; the rest is cut with a note. */
  toolResultMaxChars: number;
  /** Longest a single model call may take, in seconds (the run's LLM timeout). */
  callTimeoutSeconds: number;
  /** Default and longest timeout of one `run_command`, in seconds (SHELL_TIMEOUT_SECONDS). */
  commandTimeoutSeconds: number;
}

// ---------------------------------------------------------------------------------------------
// Agents: the conversation and the directives, as the store keeps them.

/** A tool call the model asked for. `id` is Ollama's when it gave one, else made up by the agent. */
export interface AgentToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

/** One message of an agent's conversation, in the order sent to the model. */
export interface AgentMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  /** assistant: its reasoning (kept for people; not sent back to the model). */
  thinking?: string;
  /** assistant: the calls it asked for (structured, or parsed from its text). */
  toolCalls?: AgentToolCall[];
  /** assistant: the calls were read from its text (Ollama's parser missed them), not sent structured. */
  toolCallsAsText?: boolean;
  /** assistant: the tokens of the call that produced it, as Ollama counted them (for the token budget after a restart). */
  usage?: { promptTokens: number; outputTokens: number };
  /** tool: the tool that answered, and the call it answered. */
  toolName?: string;
  callId?: string;
  /** user: the directive this message carries. */
  directiveId?: number;
}

/** A message a user sent to an agent run (`sendDirective`); delivered before the agent's next model call. */
export interface DirectiveRecord {
  id: number;
  runId: number;
  text: string;
  createdAt: Date;
  /** When an agent step took it into its conversation; null while it waits. */
  deliveredAt: Date | null;
  /** The step that received it. */
  stepName: string | null;
}

/** What a step keeps across pauses, restarts and crashes: its conversation, and the directives sent to its run. */
export interface StepMemory {
  /** The conversation so far, oldest first ([] for a new step). */
  load(): Promise<AgentMessage[]>;
  /** Stores one more message; resolves once it is stored (a crash after that keeps it). */
  append(message: AgentMessage): Promise<void>;
  /** The directives not yet delivered, oldest first, marked delivered to this step. */
  takeDirectives(): Promise<DirectiveRecord[]>;
}

/** File access confined to one project folder (see `workspace.ts`). */
export interface WorkspaceFiles {
  /** Absolute path of the workspace folder. */
  readonly root: string;
  /** Absolute path for a workspace-relative one; throws a non-retryable StepError on any escape. */
  resolve(relativePath: string): Promise<string>;
  /** Writes atomically (temporary file, then rename) after confining the path; returns the byte size. */
  writeFile(relativePath: string, content: string | Uint8Array): Promise<number>;
  readFile(relativePath: string): Promise<string>;
}

/** Settings executors need, taken from the configuration by the runner. */
export interface StepSettings {
  ollamaBaseUrl: string;
  /** LLM_HEARTBEAT interval while the model sends no text: before its first token, and in a pause mid-answer (15 000 ms; tests shorten it). */
  heartbeatMs: number;
  /** How often streamed deltas (LLM_TOKEN, SHELL_OUTPUT) are flushed as one event (100 ms). */
  coalesceMs: number;
  /** …or sooner once this many bytes are waiting (4 096). */
  coalesceBytes: number;
  /** Captured command output kept per stream, the last bytes (1 MiB). */
  outputCapBytes: number;
  /** After SIGTERM to a process group, SIGKILL follows after this long (5 000 ms). */
  killGraceMs: number;
}

export interface StepContext {
  runId: number;
  goal: string;
  step: ResolvedStep;
  workspace: WorkspaceFiles;
  /** Text outputs of the steps completed earlier in this run, by step name. */
  outputs: ReadonlyMap<string, string>;
  settings: StepSettings;
  /**
   * Records an event for this step (the step name is filled in). Fire and forget: events keep the
   * order of the calls, and a failure to record is logged, never thrown into the step.
   */
  emit(type: EventType, message: string, data?: Record<string, unknown>): void;
  /** Records a workspace file as an artifact of this step and emits ARTIFACT_CREATED. */
  recordArtifact(relativePath: string, kind: ArtifactKind): Promise<ArtifactRecord>;
  /** Aborted when the step times out or the run is stopped; `signal.reason` says which. */
  signal: AbortSignal;
  /**
   * Asked by a long step at its own safe points (an agent, between two model calls): carry on, pause
   * (throw StepPausedError once the progress is stored), or give way to a shutdown (throw ServerShutdownError).
   */
  checkpoint(): 'continue' | 'pause' | 'shutdown';
  /** This step's durable memory (an agent's conversation) and its run's directives. */
  memory: StepMemory;
}

export interface StepResult {
  /** The step's text output, available to later steps as `{output:NAME}`. */
  output?: string;
  /** Merged into STEP_COMPLETED's `data` (e.g. `exitCode`, `characters`). */
  data?: Record<string, unknown>;
  /** One line for STEP_COMPLETED's message. */
  summary?: string;
}

export type StepExecutor = (ctx: StepContext) => Promise<StepResult>;

/**
 * A step failure with a message a user can act on. `retryable: false` marks errors that cannot
 * succeed on another attempt (a missing model, a path escape, a missing tool).
 */
export class StepError extends Error {
  readonly retryable: boolean;
  readonly data: Record<string, unknown> | undefined;
  constructor(message: string, options: { retryable?: boolean; data?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'StepError';
    this.retryable = options.retryable ?? true;
    this.data = options.data;
  }
}

/** Why a step's signal was aborted. */
export class StepTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${Math.round(timeoutMs / 1000)}s`);
    this.name = 'StepTimeoutError';
  }
}

export class RunStoppedError extends Error {
  constructor() {
    super('the run was stopped');
    this.name = 'RunStoppedError';
  }
}

/**
 * Thrown by a step that stopped at a safe point because a pause was asked for, its progress stored:
 * the run waits PAUSED, and the next execution of the step continues from there.
 */
export class StepPausedError extends Error {
  /** `where`: the safe point, for people ("before turn 4"). */
  constructor(readonly where: string) {
    super(`paused ${where}`);
    this.name = 'StepPausedError';
  }
}

/** Why a shutdown cut a step off; the run is left for crash recovery at the next start. */
export class ServerShutdownError extends Error {
  constructor() {
    super('the server shut down while the step was running');
    this.name = 'ServerShutdownError';
  }
}

/** Any thrown value as an Error. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}
