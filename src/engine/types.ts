/**
 * The engine's vocabulary. This file imports only the shapes of event data (`events.ts`): the engine,
 * the database layer and the schema all speak these types, and the engine never sees GraphQL or the ORM.
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

import type { EventDataArgument } from './events.js';

export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'PAUSED', 'STOPPED', 'COMPLETED', 'FAILED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const RUN_TYPES = ['WORKFLOW', 'AGENT'] as const;
export type RunType = (typeof RUN_TYPES)[number];

/** Built-in step kinds, plus CUSTOM for every kind loaded from STEP_TYPES_DIR (its name is the step's `customType`). */
export const STEP_TYPES = ['LLM_GENERATE', 'FILE_WRITE', 'SHELL_COMMAND', 'MAVEN_COMMAND', 'LOOP', 'FAILURE_REPORT', 'AGENT', 'CUSTOM'] as const;
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
  'STEP_LOG',
  'AGENT_STARTED',
  'AGENT_TURN',
  'AGENT_TOOL_CALL',
  'AGENT_TOOL_RESULT',
  'AGENT_DIRECTIVE',
  'AGENT_LIMIT_REACHED',
  'STEP_SKIPPED',
  'LOOP_ITERATION_STARTED',
  'LOOP_ITERATION_COMPLETED',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Events after which a run produces nothing more; `runEvents` completes after one of them. */
export const TERMINAL_EVENT_TYPES: ReadonlySet<EventType> = new Set(['WORKFLOW_COMPLETED', 'WORKFLOW_FAILED', 'RUN_STOPPED']);

/**
 * Streamed deltas: their `data.text` is their `message`. Stored once (the store keeps the message
 * and gives `data.text` back on reading); clients get both fields.
 */
export const TEXT_DELTA_EVENT_TYPES: ReadonlySet<EventType> = new Set(['LLM_TOKEN', 'LLM_THINKING', 'SHELL_OUTPUT']);

/** Statuses in which a run has ended; only retryRun takes a FAILED or STOPPED run back to the queue. */
export const FINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['COMPLETED', 'FAILED', 'STOPPED']);

// ---------------------------------------------------------------------------------------------
// Workflows: data, not code. A definition file (YAML or JSON, see `workflows/parse.ts`) is checked
// and normalised into these shapes; what the engine executes is always a normalised definition.

/** Fields every step has, whatever its type. */
export interface StepCommon {
  /** Stable id of the step within its workflow (`planner`, `coder`, `maven_test`); keys model overrides and `steps.<name>` in expressions. */
  name: string;
  /** What the step does, for people. `{model}` is replaced by the model in force ("… using llama2"). */
  description: string;
  /** Record the step's output file (or, for commands, `<step>_output.txt`) as an artifact (true). */
  saveArtifact: boolean;
  /** Per-step timeout; otherwise the run's `timeoutSeconds` (LLM), then the configured default. */
  timeoutSeconds?: number;
  /** A failure of this step does not fail the run (for commands: a non-zero exit is recorded and the run goes on). */
  continueOnError?: boolean;
  /** Attempts after a retryable failure (a timeout, a dropped connection, a non-zero exit). None by default. */
  retry?: RetryPolicy;
  /**
   * The steps (of the same list: the workflow's, or the loop's) this one waits for. Absent: the step
   * before it in the list (none for the first), so a workflow without `needs` runs in file order;
   * `[]`: none, it may start at once.
   */
  needs?: string[];
  /**
   * A condition (an expression; `${{ }}` may be left out) deciding whether the step runs, with the
   * status functions success(), failure(), always(), cancelled(). Absent: success(), i.e. the step
   * runs unless a step it depends on failed. A step whose condition is false is SKIPPED.
   */
  if?: string;
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

/**
 * LLM_GENERATE: streams an answer from an Ollama model. Templated fields (`prompt`, `system`,
 * `outputFile`) take `${{ … }}` expressions and the seed's `{goal}` / `{output:STEP}`.
 */
export interface LlmGenerateStep extends StepCommon {
  type: 'LLM_GENERATE';
  /** The workflow's default model; a run's `options.models` and `OLLAMA_<STEP>_MODEL` beat it. */
  model: string;
  prompt: string;
  /** An optional system prompt. */
  system?: string;
  /** Workspace-relative file the answer is written to. */
  outputFile?: string;
  /**
   * The answer holds project files (`=== FILE: path ===` blocks or a path line followed by a fenced
   * code block); each is written into the workspace and recorded as an artifact.
   */
  extractFiles?: boolean;
  /**
   * Reasoning, sent as Ollama's `think`: `true`/`false`, or a level for models that take levels
   * (gpt-oss). Not sent when absent (the model's own default). A model without the thinking
   * capability refuses `true` or a level, and the step fails saying to remove it.
   */
  think?: LlmThink;
  /**
   * Ollama's model `options`, sent as they are: `num_ctx` (context window, in tokens: prompt and
   * answer together), `num_predict` (longest answer, in tokens), `temperature`, `seed`, `stop` …
   * Raise `num_ctx`/`num_predict` when a step fails at the length limit.
   */
  options?: Record<string, LlmOptionValue>;
  /**
   * With `extractFiles`: ask for structured output, sending Ollama's `format` with the JSON Schema of
   * `{files: [{path, content}]}`; an answer that is not such JSON is read in the text forms.
   */
  structuredOutput?: boolean;
}

/** FILE_WRITE: writes `content` (templated) or an earlier step's output to `outputFile`. */
export interface FileWriteStep extends StepCommon {
  type: 'FILE_WRITE';
  outputFile: string;
  content?: string;
  /** Write the text output of this earlier step instead of `content`. */
  contentFrom?: string;
}

/**
 * SHELL_COMMAND: runs `command` with `sh -c` in the workspace. Values of `${{ … }}` expressions in
 * the command are passed as environment variables, never spliced into the command line.
 */
export interface ShellCommandStep extends StepCommon {
  type: 'SHELL_COMMAND';
  command: string;
  /**
   * Whether the command may use the network (true). `false` gives it a network namespace of its own
   * with only a loopback: it needs the sandbox or a PID namespace (see `sandbox.ts`); where neither
   * is available the step fails rather than run with network.
   */
  network?: boolean;
}

/** MAVEN_COMMAND: `mvn <command>` (or the command as written if it already calls mvn or the wrapper). */
export interface MavenCommandStep extends StepCommon {
  type: 'MAVEN_COMMAND';
  command: string;
  /** As SHELL_COMMAND's `network`. */
  network?: boolean;
}

/**
 * A step of a type loaded from `STEP_TYPES_DIR` (see `steps/custom.ts`). In a definition file it is
 * written with its own type name and its parameters beside the common fields; normalised, the
 * parameters (checked against the type's JSON Schema) are gathered in `params`.
 */
export interface CustomStep extends StepCommon {
  type: 'CUSTOM';
  /** The type name as written in the definition, such as `HTTP_REQUEST`. */
  customType: string;
  /** The step's parameters; string values are templates, rendered before the step runs. */
  params: Record<string, unknown>;
}

/**
 * LOOP: runs its `steps` (a list of its own, with their own `needs`) again and again, each run an
 * iteration, until the `until` condition holds after an iteration (COMPLETED), or `maxIterations`
 * have run without it (FAILED). Each iteration's step runs are recorded with its number.
 */
export interface LoopStep extends StepCommon {
  type: 'LOOP';
  steps: readonly WorkflowStepDefinition[];
  /** A condition evaluated after each iteration over its steps' results (`${{ steps.test.outcome == 'success' }}`). */
  until: string;
  /** At most this many iterations: a number, or an expression evaluated when the loop starts (`${{ inputs.maxTries }}`). */
  maxIterations: number | string;
  /** How many of its steps may run at once (default: the workflow's maxParallel). */
  maxParallel?: number;
}

/**
 * FAILURE_REPORT: reads a build's or test run's output and writes, for a model, what failed and the
 * workspace files involved: the failing tests and the errors with their lines, then those files'
 * contents (see steps/failure-report.ts).
 */
export interface FailureReportStep extends StepCommon {
  type: 'FAILURE_REPORT';
  /** The build output to read (a template, such as `${{ steps.test.output }}`). */
  output?: string;
  /** …or a workspace file holding it (such as `test_output.txt`, a command step's output artifact). */
  outputFile?: string;
  /** Files whose contents go into the report, at most (default 8). */
  maxFiles?: number;
  /** Bytes of the report at most, file contents included (default 60 000). */
  maxBytes?: number;
}

/**
 * AGENT: a model works on `task` with tools in the workspace until it finishes or a limit is reached
 * (see `agent/loop.ts`). `timeoutSeconds` bounds the whole agent; the limits below beat the server's
 * defaults and lose to a run's `options.agent`.
 */
export interface AgentStep extends StepCommon {
  type: 'AGENT';
  /** The workflow's default model; a run's `options.models` and `OLLAMA_<STEP>_MODEL` beat it. It must support tools. */
  model: string;
  /** What the agent is asked to do (a template, like an LLM step's prompt). Default: the run's goal. */
  task?: string;
  /** Model calls at most (default AGENT_MAX_ITERATIONS). */
  maxIterations?: number;
  /** Prompt plus output tokens at most, summed over the turns as Ollama counts them (default AGENT_TOKEN_BUDGET). */
  tokenBudget?: number;
  /** Ollama's context window `num_ctx`, in tokens (default AGENT_NUM_CTX). */
  numCtx?: number;
  /** Ollama's `think`; absent: on when the model reports the `thinking` capability. */
  think?: LlmThink;
  /** A tool's result sent back to the model is cut to this many characters, with a note (default AGENT_TOOL_RESULT_MAX_CHARS). */
  toolResultMaxChars?: number;
}

/** One step of a workflow: a discriminated union by `type`. */
export type WorkflowStepDefinition = LlmGenerateStep | FileWriteStep | ShellCommandStep | MavenCommandStep | LoopStep | FailureReportStep | AgentStep | CustomStep;

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

export const INPUT_TYPES = ['string', 'number', 'boolean', 'choice'] as const;
/** The type of a workflow input; `choice` is an enum of strings (GitHub Actions' name for it). */
export type InputType = (typeof INPUT_TYPES)[number];

/** One input a workflow declares; a run gives its value in `createRun(input: {inputs})`. */
export interface WorkflowInputDefinition {
  type: InputType;
  description?: string;
  /** Used when the run gives no value; its type matches `type`. */
  default?: string | number | boolean;
  /** A run must give a value unless there is a default (false). */
  required: boolean;
  /** `choice`: the allowed values. */
  options?: string[];
}

export interface WorkflowDefinition {
  name: string;
  version: string;
  description: string;
  /** Declared inputs by name, in the order written. */
  inputs: Readonly<Record<string, WorkflowInputDefinition>>;
  steps: readonly WorkflowStepDefinition[];
  /** How many steps may run at once (default: as many as are ready, up to the server's MAX_PARALLEL_STEPS). */
  maxParallel?: number;
  /** A failed step stops the steps running beside it at once (default false: they finish first). */
  failFast?: boolean;
}

/** Where a registered workflow version came from. */
export const WORKFLOW_ORIGINS = ['BUILT_IN', 'FILE', 'API'] as const;
export type WorkflowOrigin = (typeof WORKFLOW_ORIGINS)[number];

/** A registered (name, version): immutable once stored. */
export interface WorkflowVersionRecord {
  definition: WorkflowDefinition;
  /** The definition text as registered (YAML or JSON). */
  source: string;
  /** sha256 (hex) of the normalised definition: equal content, equal hash, whatever the formatting. */
  contentHash: string;
  origin: WorkflowOrigin;
  /** FILE: the file it was read from. */
  originPath: string | null;
  registeredAt: Date;
}

/** Something wrong in a workflow definition, located in its text where it has one. */
export interface DefinitionProblem {
  message: string;
  /** Where in the definition, as `steps[1].command` ('' for the whole document). */
  path: string;
  /** 1-based line and column in the definition text; null when the definition has no text (built in code). */
  line: number | null;
  column: number | null;
}

// ---------------------------------------------------------------------------------------------
// Records: what the store holds, as plain objects.

export interface ModelOverride {
  step: string;
  model: string;
}

export interface RunOptions {
  workflowName?: string;
  /** A registered version of the workflow (default: its latest). */
  workflowVersion?: string;
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
  /** Placement: an instance claims this project's runs only if its WORKER_LABELS include all of these (sorted; none: any). */
  requiredLabels: string[];
}

export interface RunRecord {
  id: number;
  projectId: number;
  name: string | null;
  goal: string;
  runType: RunType;
  status: RunStatus;
  workflowName: string | null;
  /** The version of the workflow the run executes, pinned when it was created (or moved by retryRun). */
  workflowVersion: string | null;
  /** The exact definition the run executes, stored with it; null only for runs older than pinning. */
  definition: WorkflowDefinition | null;
  /** The definition's content hash (see WorkflowVersionRecord.contentHash). */
  definitionHash: string | null;
  /** The workflow inputs, checked and with defaults filled in, fixed when the run was created. */
  inputs: Record<string, string | number | boolean>;
  options: RunOptions;
  /** The model each LLM step uses and where the choice came from, fixed when the run is created. */
  models: StepModel[];
  /** The LLM timeout in force for this run, in seconds. */
  timeoutSeconds: number | null;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** Placement: labels the executing instance must have besides the project's (sorted; none: any). */
  requiredLabels: string[];
  /** Why no live instance can take this queued run (set with several instances; null otherwise). */
  placement: string | null;
}

export interface StepRunRecord {
  runId: number;
  /** The step's text output once it completed (capped), for later steps' `{output:NAME}` after a restart. */
  output: string | null;
  /** Command steps: the exit code of the last attempt (null for other steps, or a command killed by a signal). */
  exitCode: number | null;
  /** Steps inside a loop: the loop's name and the iteration (from 1) this record belongs to; null for the others. */
  loop: string | null;
  iteration: number | null;
  /** SKIPPED steps: why (the condition that was false, the step that failed). */
  skippedReason: string | null;
  index: number;
  name: string;
  type: StepType;
  /** The step's type as written: the built-in type's name, or a custom type's (CUSTOM steps). */
  typeName: string;
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

/** What a run fixes for a step before it executes: model, description and timeout in force. */
interface StepChoices {
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

/**
 * A step definition with the run's choices applied and its templates rendered (`${{ … }}`, `{goal}`,
 * `{output:STEP}`): executors read final values. LLM steps carry the model in force
 * (run options > environment > workflow default).
 */
export type ResolvedStep<S extends WorkflowStepDefinition = WorkflowStepDefinition> = S & StepChoices;

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
  /**
   * Command output stored per stream (1 MiB): its first half and its last half are kept, what lies
   * between is dropped and counted (in the events, the step's output and `<step>_output.txt`).
   */
  outputCapBytes: number;
  /** After SIGTERM to a command's processes, SIGKILL follows after this long (5 000 ms). */
  killGraceMs: number;
  /** Where and how commands are started (sandboxed or not): see `sandbox.ts`. */
  commands: CommandLauncher;
}

/** What a step asks of the command it runs. */
export interface CommandSpec {
  /** The command line, run by `sh -c`. */
  command: string;
  /** The working directory: the workspace. */
  cwd: string;
  /** The environment to start from (the server's); the launcher removes secrets and adds its markers. */
  env: Record<string, string | undefined>;
  runId: number;
  /** False: no network (a loopback of its own). */
  network: boolean;
}

/**
 * How every process of a command is ended: `pid-namespace` — the command runs as the child of the
 * init of a PID namespace of its own, and when that init dies the kernel kills every process in it,
 * however detached; `process-group` — its process group, and every process found carrying its
 * marker (`AGENT_RUNNER_COMMAND_ID` in the environment, inherited by children), are signalled.
 */
export type CommandContainment = 'pid-namespace' | 'process-group';

/** A command ready to spawn. */
export interface CommandLaunch {
  /** The program and its arguments: `/bin/sh -c …`, or the same inside `bwrap …` or `unshare …`. */
  argv: [string, ...string[]];
  env: Record<string, string | undefined>;
  /** The value of `AGENT_RUNNER_COMMAND_ID` this command's processes carry. */
  commandId: string;
  containment: CommandContainment;
  /** Whether it runs in the sandbox. */
  sandboxed: boolean;
}

/** `SANDBOX`: `auto` (use it when available, else warn and run unsandboxed), `on` (refuse to start without it), `off`. */
export const SANDBOX_SETTINGS = ['auto', 'on', 'off'] as const;
export type SandboxSetting = (typeof SANDBOX_SETTINGS)[number];

/** Whether commands run sandboxed on this server, as found at start-up. */
export interface SandboxStatus {
  setting: SandboxSetting;
  /** Commands run in the sandbox. */
  active: boolean;
  /** The sandbox program and its version ("bubblewrap 0.8.0") when active. */
  tool: string | null;
  containment: CommandContainment;
  /** One or two sentences for people: how commands run, and why not sandboxed when they are not. */
  summary: string;
}

/** Starts the commands of steps (one implementation: `sandbox.ts`). */
export interface CommandLauncher {
  readonly status: SandboxStatus;
  /** The launch of one command; throws a non-retryable StepError when the spec cannot be honoured (no network without a namespace). */
  prepare(spec: CommandSpec): Promise<CommandLaunch>;
}

export interface StepContext<S extends WorkflowStepDefinition = WorkflowStepDefinition> {
  runId: number;
  goal: string;
  step: ResolvedStep<S>;
  /**
   * Environment variables for the commands this step runs: the values of the `${{ … }}` expressions
   * in its command (`AGENT_RUNNER_EXPR_<n>`), which the rendered command refers to as `"$AGENT_RUNNER_EXPR_<n>"`.
   */
  env: Readonly<Record<string, string>>;
  workspace: WorkspaceFiles;
  /** Text outputs of the steps completed earlier in this run, by step name. */
  outputs: ReadonlyMap<string, string>;
  settings: StepSettings;
  /**
   * Records an event for this step (the step name is filled in). Fire and forget: events keep the
   * order of the calls, and a failure to record is logged, never thrown into the step.
   */
  emit<T extends EventType>(type: T, message: string, data?: EventDataArgument<T>): void;
  /** Records a line of the step's own log (STEP_LOG; `data` merged into the event's data). Custom step types use it. */
  log(message: string, data?: Record<string, unknown>): void;
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

export type StepExecutor<S extends WorkflowStepDefinition = WorkflowStepDefinition> = (ctx: StepContext<S>) => Promise<StepResult>;

/** The step definition of one built-in type. */
export type StepOfType<T extends StepType> = Extract<WorkflowStepDefinition, { type: T }>;

/**
 * A step failure with a message a user can act on. `retryable: false` marks errors that cannot
 * succeed on another attempt (a missing model, a path escape, a missing tool).
 */
export class StepError extends Error {
  readonly retryable: boolean;
  readonly data: Record<string, unknown> | undefined;
  /** What the failed step produced anyway (a failed command's output), for `steps.NAME.output`. */
  readonly output: string | undefined;
  constructor(message: string, options: { retryable?: boolean; data?: Record<string, unknown>; cause?: unknown; output?: string } = {}) {
    super(message, { cause: options.cause });
    this.name = 'StepError';
    this.retryable = options.retryable ?? true;
    this.data = options.data;
    this.output = options.output;
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

/**
 * This instance no longer holds the run's lease (it expired while the instance was stalled, and
 * another instance took the run over): its execution is cut off like a shutdown cuts it off, and
 * every write it still tries for the run is refused (the fencing token no longer matches).
 */
export class LeaseLostError extends ServerShutdownError {
  constructor(readonly runId: number) {
    super();
    this.message = `this server instance lost run ${runId}'s lease (another instance took the run over); it wrote nothing more for it`;
    this.name = 'LeaseLostError';
  }
}

/** Any thrown value as an Error. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}
