/**
 * A run drawn in place in a terminal: a header, one line per step (a spinner and the elapsed time
 * while it runs, its duration when done, why it failed, retried or waits), the last output lines of
 * the running step (and of a failed one), and a footer. `renderFrame` makes the text (pure); `TtyWatchRenderer` redraws it
 * with log-update (which owns every escape code) on the spinner's beat.
 */
import cliSpinners from 'cli-spinners';
import cliTruncate from 'cli-truncate';
import { createLogUpdate } from 'log-update';
import picocolors from 'picocolors';
import type { OutputStream } from '../context.js';
import { formatDuration } from '../format.js';
import { activityLine, agentProgress } from './agent-view.js';
import type { RunView, StepState, StepView } from './run-view.js';

const SPINNER = cliSpinners.dots;

/** An agent step's latest activity lines shown under it (tool calls, directives, the limit). */
const AGENT_ACTIVITY_LINES = 4;

type Colors = ReturnType<typeof picocolors.createColors>;
type Paint = (text: string) => string;

/** The mark and colour of each step state (RUNNING's mark is the spinner). */
const MARKS: Record<StepState, { mark: string; color: keyof Colors }> = {
  PENDING: { mark: '◻', color: 'gray' },
  RUNNING: { mark: '', color: 'cyan' },
  COMPLETED: { mark: '✔', color: 'green' },
  FAILED: { mark: '✖', color: 'red' },
  SKIPPED: { mark: '↓', color: 'gray' },
  STOPPED: { mark: '■', color: 'yellow' },
  RETRYING: { mark: '↻', color: 'yellow' },
  WAITING: { mark: '‖', color: 'yellow' },
};

const RUN_STATUS_COLORS: Record<string, keyof Colors> = {
  QUEUED: 'gray',
  RUNNING: 'cyan',
  PAUSED: 'yellow',
  COMPLETED: 'green',
  FAILED: 'red',
  STOPPED: 'yellow',
};

export interface FrameOptions {
  /** Now, in ms since the epoch (elapsed times are measured to it). */
  now: number;
  /** Spinner frame counter. */
  tick: number;
  /** Terminal width in columns: longer lines are cut with an ellipsis. */
  width: number;
  colors: Colors;
  /** Show the running step's last output lines under it (false with --stream, which prints them in full above). */
  showTail: boolean;
  /** A notice above the steps, such as a lost connection. */
  notice?: string | null;
  /** The last line (what Ctrl-C does). */
  footer?: string | null;
}

function paint(colors: Colors, name: keyof Colors): Paint {
  const formatter = colors[name];
  return typeof formatter === 'function' ? (text) => formatter(text) : (text) => text;
}

/** The time column of a step: elapsed while it runs, its duration once done. */
function stepTime(step: StepView, now: number): string {
  if (step.startedAt === null) return '';
  if (step.state === 'RUNNING') return formatDuration(now - step.startedAt);
  if (step.finishedAt !== null) return formatDuration(step.finishedAt - step.startedAt);
  return '';
}

/** The frame for one moment of the run, as text (lines separated by \n). */
export function renderFrame(view: RunView, options: FrameOptions): string {
  const { colors, now } = options;
  const dim = paint(colors, 'dim');
  const cut = (line: string) => cliTruncate(line, Math.max(20, options.width), { position: 'end' });
  const lines: string[] = [];

  const runEnd = view.finishedAt ?? now;
  const runTime = formatDuration(runEnd - (view.startedAt ?? view.createdAt));
  const status = paint(colors, RUN_STATUS_COLORS[view.status] ?? 'white')(view.status);
  lines.push(`${colors.bold(`Run ${view.id}`)} ${dim('·')} ${view.workflowName ?? 'run'} ${dim('·')} project ${view.projectName} ${dim('·')} ${status} ${runTime}`);
  if (options.notice) lines.push(paint(colors, 'yellow')(options.notice));
  if (view.note) lines.push(dim(view.note));

  const nameWidth = Math.max(4, ...view.steps.map((s) => s.name.length));
  const timeWidth = 8;
  const indent = ' '.repeat(4 + nameWidth + 2 + timeWidth);
  for (const step of view.steps) {
    const { mark, color } = MARKS[step.state] ?? MARKS.PENDING;
    const tint = paint(colors, color);
    const symbol = step.state === 'RUNNING' ? SPINNER.frames[options.tick % SPINNER.frames.length] : mark;
    const attempt = step.maxAttempts > 1 && step.attempt > 0 ? ` (attempt ${step.attempt} of ${step.maxAttempts})` : '';
    const label = step.state === 'SKIPPED' ? 'skipped' : step.state === 'STOPPED' ? `stopped  ${step.description}` : `${step.description}${attempt}`;
    const name = step.state === 'PENDING' || step.state === 'SKIPPED' ? dim(step.name.padEnd(nameWidth)) : step.name.padEnd(nameWidth);
    lines.push(cut(`  ${tint(symbol)} ${name}  ${stepTime(step, now).padEnd(timeWidth)}${step.state === 'PENDING' ? dim(label) : label}`));

    if (step.note && step.state !== 'COMPLETED') {
      const noteTint = step.state === 'FAILED' ? paint(colors, 'red') : step.state === 'RUNNING' ? dim : paint(colors, 'yellow');
      const note = step.state === 'WAITING' ? `${step.note}: agent-runner resume ${view.id}` : step.note;
      lines.push(cut(`${indent}${noteTint(note.split('\n')[0] ?? '')}`));
    }
    // An agent's turn and tokens against its limits, and its latest tool calls and directives.
    if (step.agent && (step.agent.turn > 0 || step.agent.activity.length > 0) && step.state !== 'COMPLETED' && step.state !== 'SKIPPED') {
      lines.push(cut(`${indent}${dim(agentProgress(step.agent))}`));
      for (const activity of step.agent.activity.slice(-AGENT_ACTIVITY_LINES)) {
        const tint = activity.state === 'error' || activity.state === 'reached' ? paint(colors, 'red') : activity.state === 'running' ? paint(colors, 'cyan') : activity.kind === 'directive' ? paint(colors, 'yellow') : dim;
        lines.push(cut(`${indent}${tint(activityLine(activity))}`));
      }
    }
    // The running step's last output lines, and a failed step's: what it printed last explains the failure.
    if (step.state === 'RUNNING' || (step.state === 'FAILED' && options.showTail)) {
      const output = [...(options.showTail ? step.tail : []), ...(step.partial ? [step.partial] : [])].slice(-Math.max(1, view.tailLines));
      if (view.tailLines > 0) for (const line of output) lines.push(cut(`${indent}${dim(`│ ${line.replace(/\t/g, '  ')}`)}`));
    }
  }
  if (options.footer) lines.push(dim(options.footer));
  return lines.join('\n');
}

export interface TtyRendererOptions {
  colors: boolean;
  /** --stream: every output line is printed above the frame instead of the last few inside it. */
  streamText: boolean;
  footer: string;
}

/** Redraws a run view in place until `finish`; `print` adds lines above it that stay. */
export class TtyWatchRenderer {
  private readonly log;
  private readonly colors: Colors;
  private timer: NodeJS.Timeout | null = null;
  private tick = 0;
  private notice: string | null = null;
  private footer: string | null;

  constructor(
    private readonly stream: OutputStream,
    private readonly view: RunView,
    private readonly options: TtyRendererOptions,
  ) {
    this.log = createLogUpdate(stream);
    this.colors = picocolors.createColors(options.colors);
    this.footer = options.footer;
  }

  start(): void {
    this.render();
    this.timer = setInterval(() => {
      this.tick++;
      this.render();
    }, SPINNER.interval);
  }

  /** A notice above the steps until cleared (null), such as a lost connection. */
  setNotice(notice: string | null): void {
    this.notice = notice;
    this.render();
  }

  /** Lines that stay above the frame (the streamed text with --stream). */
  print(lines: string[]): void {
    if (lines.length > 0) this.log.persist(lines.join('\n'));
  }

  render(): void {
    this.log(
      renderFrame(this.view, {
        now: Date.now(),
        tick: this.tick,
        width: this.stream.columns ?? 80,
        colors: this.colors,
        showTail: !this.options.streamText,
        notice: this.notice,
        footer: this.footer,
      }),
    );
  }

  /** The last frame (without the footer) stays on screen, followed by `after`. */
  finish(after: string[]): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.footer = null;
    this.notice = null;
    this.render();
    this.log.done();
    if (after.length > 0) this.stream.write(`${after.join('\n')}\n`);
  }
}
