/** Words, numbers and times as the console shows them. */
import type { ArtifactKind, EventType, LoadProblemKind, ModelSource, RunStatus, StepStatus, StepType, WorkflowInputType, WorkflowOrigin } from '../../src/client/generated/graphql';

export const RUN_STATUSES: RunStatus[] = ['QUEUED', 'RUNNING', 'PAUSED', 'STOPPED', 'COMPLETED', 'FAILED'];

/** Status as words and a symbol (never colour alone). */
export const RUN_STATUS_LABEL: Record<RunStatus, { text: string; icon: string; hint: string }> = {
  QUEUED: { text: 'Queued', icon: '◷', hint: 'Waiting for a worker slot' },
  RUNNING: { text: 'Running', icon: '▶', hint: 'Its steps are executing' },
  PAUSED: { text: 'Paused', icon: '❚❚', hint: 'Waiting between two steps until resumed' },
  STOPPED: { text: 'Stopped', icon: '■', hint: 'Stopped by request' },
  COMPLETED: { text: 'Completed', icon: '✓', hint: 'Every step completed' },
  FAILED: { text: 'Failed', icon: '✕', hint: 'A step failed' },
};

export const STEP_STATUS_LABEL: Record<StepStatus, { text: string; icon: string }> = {
  PENDING: { text: 'Pending', icon: '○' },
  RUNNING: { text: 'Running', icon: '▶' },
  COMPLETED: { text: 'Done', icon: '✓' },
  FAILED: { text: 'Failed', icon: '✕' },
  SKIPPED: { text: 'Skipped', icon: '–' },
  STOPPED: { text: 'Stopped', icon: '■' },
};

export const STEP_TYPE_LABEL: Record<StepType, string> = {
  LLM_GENERATE: 'LLM',
  FILE_WRITE: 'File',
  SHELL_COMMAND: 'Shell',
  MAVEN_COMMAND: 'Maven',
  CUSTOM: 'Custom',
  AGENT: 'Agent',
};

export const ARTIFACT_KIND_LABEL: Record<ArtifactKind, string> = {
  GENERATED_FILE: 'generated file',
  COMMAND_OUTPUT: 'command output',
  FILE: 'file',
};

export const MODEL_SOURCE_LABEL: Record<ModelSource, string> = {
  RUN_OPTIONS: 'chosen for this run',
  ENVIRONMENT: 'from the server’s environment',
  WORKFLOW_DEFAULT: 'workflow default',
};

export const WORKFLOW_ORIGIN_LABEL: Record<WorkflowOrigin, string> = {
  BUILT_IN: 'built in',
  FILE: 'file',
  API: 'registered through the API',
};

export const LOAD_PROBLEM_KIND_LABEL: Record<LoadProblemKind, string> = {
  WORKFLOW_FILE: 'workflow definition',
  STEP_TYPE_MODULE: 'step type module',
};

/** Input types as written in a definition file. */
export const INPUT_TYPE_LABEL: Record<WorkflowInputType, string> = {
  STRING: 'string',
  NUMBER: 'number',
  BOOLEAN: 'boolean',
  CHOICE: 'choice',
};

/** Where a definition problem is: "line 4:5", "line 4", or '' when unknown. */
export function problemLocation(problem: { line?: number | null; column?: number | null }): string {
  if (problem.line == null) return '';
  return problem.column == null ? `line ${problem.line}` : `line ${problem.line}:${problem.column}`;
}

/** The first 12 hex digits of a content hash (as git shortens commits). */
export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}

/** An input value as it reads in a sentence: strings quoted, the rest as JSON. */
export function formatValue(value: unknown): string {
  return JSON.stringify(value) ?? '—';
}

export const EVENT_LABEL: Record<EventType, string> = {
  RUN_QUEUED: 'Queued',
  WORKFLOW_LOOKUP: 'Workflow lookup',
  WORKFLOW_STARTED: 'Workflow started',
  STEP_STARTED: 'Step started',
  LLM_LOADING_MODEL: 'Loading model',
  LLM_GENERATING: 'Generating',
  LLM_TOKEN: 'Text',
  LLM_HEARTBEAT: 'Waiting on model',
  LLM_DONE: 'Generation done',
  SHELL_EXECUTING: 'Command',
  SHELL_OUTPUT: 'Output',
  ARTIFACT_CREATED: 'File written',
  STEP_COMPLETED: 'Step done',
  STEP_FAILED: 'Step failed',
  STEP_RETRYING: 'Retrying',
  RUN_PAUSED: 'Paused',
  RUN_RESUMED: 'Resumed',
  RUN_STOPPED: 'Stopped',
  RUN_RECOVERED: 'Recovered',
  WORKFLOW_COMPLETED: 'Completed',
  WORKFLOW_FAILED: 'Failed',
  LLM_THINKING: 'Reasoning',
  FILE_BLOCK_SKIPPED: 'File not written',
  STEP_LOG: 'Step log',
  AGENT_STARTED: 'Agent started',
  AGENT_TURN: 'Turn',
  AGENT_TOOL_CALL: 'Tool call',
  AGENT_TOOL_RESULT: 'Tool result',
  AGENT_DIRECTIVE: 'Directive',
  AGENT_LIMIT_REACHED: 'Limit reached',
};

/** 3 s, 2 min 05 s, 1 h 02 min. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, '0')} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** +0:03.214 (minutes:seconds.milliseconds since `origin`), or +1:02:03.214 past an hour. */
export function formatOffset(at: string, origin: string): string {
  const ms = Math.max(0, Date.parse(at) - Date.parse(origin));
  const totalSeconds = Math.floor(ms / 1000);
  const millis = String(ms % 1000).padStart(3, '0');
  const seconds = String(totalSeconds % 60).padStart(2, '0');
  const minutes = Math.floor(totalSeconds / 60);
  if (minutes < 60) return `+${minutes}:${seconds}.${millis}`;
  return `+${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, '0')}:${seconds}.${millis}`;
}

/** "just now", "3 min ago", "yesterday 14:02", or a date. */
export function formatWhen(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const at = Date.parse(iso);
  const seconds = Math.round((now - at) / 1000);
  if (seconds < 10) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  const date = new Date(at);
  const time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  if (seconds < 12 * 3600) return `${Math.floor(seconds / 3600)} h ago`;
  return `${date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}`;
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** The first line of a goal, shortened. */
export function shorten(text: string, max = 80): string {
  const line = text.split('\n')[0]!.trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
