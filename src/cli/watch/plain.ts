/**
 * A run as plain lines, for CI logs and pipes (no escape codes): one line per event worth a line,
 * the streamed text as `step | line` when asked for, and the summary at the end. `logs` prints the
 * same lines.
 */
import type { CliEventFragment } from '../../client/generated/graphql.js';
import { formatBytes, formatDuration, formatTime, printable } from '../format.js';
import { agentEventLine } from './agent-view.js';
import type { OutputLine, RunView } from './run-view.js';

/** Events that carry streamed text (printed as output lines, not as event lines). */
export const TEXT_EVENTS: ReadonlySet<string> = new Set(['LLM_TOKEN', 'LLM_THINKING', 'SHELL_OUTPUT']);

/** Events not worth a line of their own. */
const QUIET_EVENTS: ReadonlySet<string> = new Set(['WORKFLOW_LOOKUP']);

/**
 * Whether an event's whole message is printed, not only its first line: a failure the run goes on
 * after (continueOnError) or retries, whose reason (a command's last lines) the summary will not show.
 */
function keepsWholeMessage(event: CliEventFragment): boolean {
  if (event.type === 'STEP_RETRYING') return true;
  return event.type === 'STEP_FAILED' && (event.data as { continueOnError?: unknown } | null)?.continueOnError === true;
}

/**
 * `12:00:03  planner     Step 1/3: Create project plan using gemma3:27b`, or null for a text or quiet
 * event. With `outputNotShown` (the commands' output is not printed: `watch` without --stream), a
 * failure the summary will not tell keeps its further lines, indented under the message.
 */
export function eventLine(event: CliEventFragment, stepWidth: number, options: { outputNotShown?: boolean } = {}): string | null {
  if (TEXT_EVENTS.has(event.type) || QUIET_EVENTS.has(event.type)) return null;
  const head = `${formatTime(event.createdAt)}  ${(event.stepName ?? '').padEnd(stepWidth)}  `;
  const agentLine = agentEventLine(event);
  // Otherwise the first line: a failure's whole reason (a command's last lines) is in the summary.
  const [first = '', ...rest] = agentLine !== null ? [agentLine] : printable(event.message).split('\n');
  const more = options.outputNotShown === true && keepsWholeMessage(event) ? rest.map((line) => `${' '.repeat(head.length)}${line}`.trimEnd()) : [];
  return [`${head}${first}`.trimEnd(), ...more].join('\n');
}

/** How an output line is marked after the step's name: `!` a command's stderr, `~` a model's reasoning. */
const STREAM_MARKS: Record<string, string> = { stderr: '!', thinking: '~' };

/** `planner | a line of its output`. */
export function outputLine(line: OutputLine, stepWidth: number): string {
  return `${line.step.padEnd(stepWidth)} ${STREAM_MARKS[line.stream] ?? '|'} ${line.text}`.trimEnd();
}

/** The width of the step column: the longest step name. */
export function stepColumnWidth(view: RunView): number {
  return Math.max(0, ...view.steps.map((s) => s.name.length));
}

/** How a run ended in words, with the exit code the command returns. */
export function outcome(view: RunView): { word: string; exitCode: number } {
  switch (view.status) {
    case 'COMPLETED':
      return { word: 'completed', exitCode: 0 };
    case 'FAILED':
      return { word: 'failed', exitCode: 1 };
    case 'STOPPED':
      return { word: 'was stopped', exitCode: 2 };
    default:
      return { word: `is ${view.status} (the stream ended before the run did)`, exitCode: 3 };
  }
}

const MAX_FILES_LISTED = 20;

/**
 * The summary after a watched run: status and duration, the steps done, the files written, and
 * what to do next (why it failed and how to retry).
 */
export function summaryLines(view: RunView): string[] {
  const { word } = outcome(view);
  const start = view.startedAt ?? view.createdAt;
  const duration = view.finishedAt !== null ? ` in ${formatDuration(view.finishedAt - start)}` : '';
  const done = view.steps.filter((s) => s.state === 'COMPLETED').length;
  const lines = [`Run ${view.id} ${word}${duration}: ${done} of ${view.steps.length} steps completed, ${view.files.length} file${view.files.length === 1 ? '' : 's'} written.`];
  for (const file of view.files.slice(0, MAX_FILES_LISTED)) lines.push(`  ${file.path}${file.sizeBytes !== null ? ` (${formatBytes(file.sizeBytes)})` : ''}`);
  if (view.files.length > MAX_FILES_LISTED) lines.push(`  … and ${view.files.length - MAX_FILES_LISTED} more (agent-runner artifacts ${view.id})`);
  if (view.status === 'FAILED') {
    if (view.error) lines.push(...`Why: ${view.error}`.split('\n').map((line, i) => (i === 0 ? line : `  ${line}`)));
    // --from the failed step only when every step before it completed (the server refuses it after a
    // step that did not, such as one skipped by its condition); else the server's default: every step
    // that did not complete goes again.
    const failedAt = view.steps.findIndex((s) => s.state === 'FAILED');
    const from = failedAt >= 0 && view.steps.slice(0, failedAt).every((s) => s.state === 'COMPLETED') ? ` --from ${view.steps[failedAt]!.name}` : '';
    lines.push(`Retry with: agent-runner retry ${view.id}${from} --watch`);
  }
  if (view.status === 'STOPPED') lines.push(`Go on with: agent-runner retry ${view.id} --watch`);
  return lines;
}
