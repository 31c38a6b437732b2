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
 */

export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'PAUSED', 'STOPPED', 'COMPLETED', 'FAILED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const RUN_TYPES = ['WORKFLOW', 'AGENT'] as const;
export type RunType = (typeof RUN_TYPES)[number];

export const STEP_TYPES = ['LLM_GENERATE', 'FILE_WRITE', 'SHELL_COMMAND', 'MAVEN_COMMAND'] as const;
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
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Events after which a run produces nothing more; `runEvents` completes after one of them. */
export const TERMINAL_EVENT_TYPES: ReadonlySet<EventType> = new Set(['WORKFLOW_COMPLETED', 'WORKFLOW_FAILED', 'RUN_STOPPED']);

/**
 * Streamed deltas: their `data.text` is their `message`. Stored once (the store keeps the message
 * and gives `data.text` back on reading); clients get both fields.
 */
export const TEXT_DELTA_EVENT_TYPES: ReadonlySet<EventType> = new Set(['LLM_TOKEN', 'SHELL_OUTPUT']);

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
  /**
   * SHELL_COMMAND / MAVEN_COMMAND: whether the command may use the network (true). `false` gives it a
   * network namespace of its own with only a loopback: it needs the sandbox or a PID namespace
   * (see `sandbox.ts`); where neither is available the step fails rather than run with network.
   */
  network?: boolean;
  /** Attempts after a retryable failure (a timeout, a dropped connection, a non-zero exit). None by default. */
  retry?: RetryPolicy;
}

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
  /** LLM_HEARTBEAT interval while no token has arrived (15 000 ms; tests shorten it). */
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
