/**
 * The fold behind `agent-runner watch` (events → where each step stands) and the frame drawn from
 * it, for the turns a run can take that the end-to-end tests do not all reach: retries, a pause
 * waiting for a person, a stop, recovery, a retried run, event types this client does not know,
 * and escape codes in what the server relays.
 */
import picocolors from 'picocolors';
import { describe, expect, it } from 'vitest';
import type { CliEventFragment, CliRunFragment } from '../../src/client/generated/graphql.js';
import { eventLine, outputLine, summaryLines } from '../../src/cli/watch/plain.js';
import { currentStep } from '../../src/cli/commands/runs.js';
import { formatTime } from '../../src/cli/format.js';
import { applyEvent, createRunView, settleRunView, type RunView } from '../../src/cli/watch/run-view.js';
import { renderFrame } from '../../src/cli/watch/tty.js';

const T0 = Date.parse('2026-05-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

const step = (index: number, name: string, description: string, place: { loop: string | null; iteration: number | null } = { loop: null, iteration: null }) => ({
  index,
  name,
  ...place,
  type: 'LLM_GENERATE' as const,
  status: 'PENDING' as const,
  description,
  attempt: 0,
  startedAt: null,
  finishedAt: null,
  error: null,
});

const RUN: CliRunFragment = {
  id: '7',
  name: null,
  goal: 'Hello service',
  runType: 'WORKFLOW',
  status: 'QUEUED',
  workflowName: 'three-steps',
  workflowVersion: '1.0.0',
  inputs: {},
  error: null,
  createdAt: at(0),
  startedAt: null,
  finishedAt: null,
  pauseRequested: false,
  lastSeq: 0,
  project: { id: '1', name: 'demo' },
  models: [],
  steps: [step(0, 'planner', 'Plan with m1'), step(1, 'coder', 'Code with m2'), step(2, 'tests', 'Run the tests')],
};

/** A run view fed `events` (seq numbered from 1, 100 ms apart). */
function fold(events: Array<[type: string, stepName: string | null, data?: Record<string, unknown>, message?: string]>, tailLines = 3): RunView {
  const view = createRunView(RUN, tailLines);
  events.forEach(([type, stepName, data, message], i) => {
    const event = { seq: i + 1, type, stepName, data: data ?? null, message: message ?? `${type} message`, createdAt: at((i + 1) * 100) } as CliEventFragment;
    applyEvent(view, event);
  });
  return view;
}

const frame = (view: RunView, now = T0 + 10_000) =>
  renderFrame(view, { now, tick: 0, width: 100, colors: picocolors.createColors(false), showTail: true, footer: 'Ctrl-C detaches' }).split('\n');

describe('the watch fold', () => {
  it('a running step: elapsed time, what it is doing, its last output lines and the line being written', () => {
    const view = fold([
      ['RUN_QUEUED', null],
      ['WORKFLOW_STARTED', null],
      ['STEP_STARTED', 'planner', { attempt: 1, maxAttempts: 1 }],
      ['LLM_GENERATING', 'planner', {}, 'Generating with m1'],
      ['LLM_TOKEN', 'planner', { text: 'line one\nline two\nline three\nline four\npart' }],
    ]);
    expect(frame(view, T0 + 2_300)).toEqual([
      'Run 7 · three-steps · project demo · RUNNING 2.1s',
      '  ⠋ planner  2.0s    Plan with m1',
      '                     Generating with m1',
      '                     │ line three',
      '                     │ line four',
      '                     │ part',
      '  ◻ coder            Code with m2',
      '  ◻ tests            Run the tests',
      'Ctrl-C detaches',
    ]);
  });

  it('a retried attempt, then a failure: attempts counted, the reason kept, later steps skipped', () => {
    const view = fold([
      ['STEP_STARTED', 'planner', { attempt: 1, maxAttempts: 3 }],
      ['STEP_COMPLETED', 'planner', { durationMs: 100 }],
      ['STEP_STARTED', 'coder', { attempt: 1, maxAttempts: 2 }],
      ['STEP_RETRYING', 'coder', { attempt: 1, maxAttempts: 2, error: 'Ollama dropped the connection', waitSeconds: 2 }],
    ]);
    expect(frame(view).slice(1, 4)).toEqual([
      '  ✔ planner  0.1s    Plan with m1 (attempt 1 of 3)',
      '  ↻ coder    0.1s    Code with m2 (attempt 1 of 2)',
      '                     attempt 1 of 2 failed, next in 2s: Ollama dropped the connection',
    ]);
    applyEvent(view, { seq: 5, type: 'STEP_STARTED', stepName: 'coder', data: { attempt: 2, maxAttempts: 2 }, message: '', createdAt: at(2500) } as CliEventFragment);
    expect(frame(view, T0 + 3_500)[2]).toBe('  ⠋ coder    1.0s    Code with m2 (attempt 2 of 2)');
    applyEvent(view, { seq: 6, type: 'STEP_FAILED', stepName: 'coder', data: { error: 'Model "m2" is not installed.\nRun: ollama pull m2' }, message: '', createdAt: at(4000) } as CliEventFragment);
    applyEvent(view, { seq: 7, type: 'WORKFLOW_FAILED', stepName: null, data: { error: 'Step "coder" failed' }, message: '', createdAt: at(4100) } as CliEventFragment);
    expect(frame(view).slice(0, 6)).toEqual([
      'Run 7 · three-steps · project demo · FAILED 4.1s',
      '  ✔ planner  0.1s    Plan with m1 (attempt 1 of 3)',
      '  ✖ coder    1.5s    Code with m2 (attempt 2 of 2)',
      '                     Model "m2" is not installed.',
      '  ↓ tests            skipped',
      'Ctrl-C detaches',
    ]);
  });

  it('a pause waits for a person on the next step until resumed', () => {
    const view = fold([
      ['STEP_STARTED', 'planner'],
      ['STEP_COMPLETED', 'planner'],
      ['RUN_PAUSED', null, { nextStep: 'coder' }, 'Paused after step 1/3 (planner). Resume to continue with step 2/3 (coder).'],
    ]);
    expect(view.status).toBe('PAUSED');
    expect(frame(view).slice(0, 5)).toEqual([
      'Run 7 · three-steps · project demo · PAUSED 10.0s',
      'Paused after step 1/3 (planner). Resume to continue with step 2/3 (coder).',
      '  ✔ planner  0.1s    Plan with m1',
      '  ‖ coder            Code with m2',
      '                     waiting for the run to be resumed: agent-runner resume 7',
    ]);
    applyEvent(view, { seq: 4, type: 'RUN_RESUMED', stepName: null, data: null, message: 'Resumed', createdAt: at(5000) } as CliEventFragment);
    expect(view.status).toBe('QUEUED');
    expect(view.steps[1]).toMatchObject({ state: 'PENDING', note: null });
  });

  it('a stop: the running step stopped, the rest skipped; the summary says how to go on', () => {
    const view = fold([
      ['WORKFLOW_STARTED', null],
      ['STEP_STARTED', 'planner'],
      ['LLM_TOKEN', 'planner', { text: 'half a line' }],
      ['RUN_STOPPED', null, {}, 'Run stopped by request during step 1/3 (planner).'],
    ]);
    expect(view.steps.map((s) => s.state)).toEqual(['STOPPED', 'SKIPPED', 'SKIPPED']);
    expect(frame(view)[1]).toBe('  ■ planner  0.2s    stopped  Plan with m1');
    expect(summaryLines(view)).toEqual(['Run 7 was stopped in 0.3s: 0 of 3 steps completed, 0 files written.', 'Go on with: agent-runner retry 7 --watch']);
  });

  it('a recovered run and a retried one start their steps again; files of steps done again are dropped', () => {
    const view = fold([
      ['STEP_STARTED', 'planner'],
      ['ARTIFACT_CREATED', 'planner', { path: 'PLAN.md', sizeBytes: 10 }],
      ['STEP_COMPLETED', 'planner'],
      ['STEP_STARTED', 'coder'],
      ['RUN_RECOVERED', null, { interruptedStep: 'coder', nextStep: 'coder' }, 'The server stopped while this run was running'],
    ]);
    expect(view.steps.map((s) => s.state)).toEqual(['COMPLETED', 'PENDING', 'PENDING']);
    expect(view.note).toBe('The server stopped while this run was running');
    const failed = fold([
      ['STEP_STARTED', 'planner'],
      ['ARTIFACT_CREATED', 'planner', { path: 'PLAN.md', sizeBytes: 10 }],
      ['STEP_COMPLETED', 'planner'],
      ['STEP_STARTED', 'coder'],
      ['ARTIFACT_CREATED', 'coder', { path: 'pom.xml', sizeBytes: 20 }],
      ['STEP_FAILED', 'coder', { error: 'bad answer' }],
      ['WORKFLOW_FAILED', null, { error: 'Step "coder" failed: bad answer' }],
      ['RUN_QUEUED', null, { retry: true, fromStep: 'coder' }, 'Retry queued: the run goes again from step 2/3 (coder); earlier steps are kept.'],
    ]);
    expect(failed.status).toBe('QUEUED');
    expect(failed.steps.map((s) => s.state)).toEqual(['COMPLETED', 'PENDING', 'PENDING']);
    expect(failed.files.map((f) => f.path)).toEqual(['PLAN.md']);
    expect(failed.error).toBeNull();
  });

  it('events it does not know show as notes; steps it was not told of are added', () => {
    const view = fold([
      ['STEP_STARTED', 'planner'],
      ['STEP_AWAITING_APPROVAL', 'planner', {}, 'Waiting for approval of the plan'],
      ['TOOL_CALLED', 'explore', {}, 'Agent ran: ls src'],
      ['RUN_SOMETHING_NEW', null, {}, 'Something new happened'],
    ]);
    expect(view.steps.find((s) => s.name === 'planner')!.note).toBe('Waiting for approval of the plan');
    expect(view.steps.map((s) => s.name)).toEqual(['planner', 'coder', 'tests', 'explore']);
    expect(view.note).toBe('Something new happened');
  });

  it("a model's reasoning is only noted unless asked for (--reasoning): then output of its own stream, marked apart in plain lines", () => {
    const hidden = createRunView(RUN, 3);
    applyEvent(hidden, { seq: 1, type: 'STEP_STARTED', stepName: 'planner', data: {}, message: '', createdAt: at(100) } as CliEventFragment);
    expect(applyEvent(hidden, { seq: 2, type: 'LLM_THINKING', stepName: 'planner', data: { text: 'Let me think.\nHm' }, message: '', createdAt: at(200) } as CliEventFragment)).toEqual([]);
    expect(hidden.steps[0]).toMatchObject({ tail: [], partial: '', note: 'the model is reasoning (--reasoning shows it)' });

    const view = createRunView(RUN, 3, { reasoning: true });
    applyEvent(view, { seq: 1, type: 'STEP_STARTED', stepName: 'planner', data: {}, message: '', createdAt: at(100) } as CliEventFragment);
    const lines = applyEvent(view, { seq: 2, type: 'LLM_THINKING', stepName: 'planner', data: { text: 'Let me think.\nHm' }, message: '', createdAt: at(200) } as CliEventFragment);
    expect(lines.map((line) => outputLine(line, 7))).toEqual(['planner ~ Let me think.']);
    expect(eventLine({ seq: 2, type: 'LLM_THINKING', stepName: 'planner', data: {}, message: 'x', createdAt: at(200) } as CliEventFragment, 7)).toBeNull();
    expect(view.steps[0]).toMatchObject({ tail: ['Let me think.'], partial: 'Hm', partialStream: 'thinking' });
  });

  it("a loop's step is one row, whether its iterations' records are in the run already (a replay, a watch begun mid-loop) or come by events", () => {
    const looped: CliRunFragment = {
      ...RUN,
      steps: [step(0, 'repair', 'Repeat 1 step'), step(1, 'check', 'Run: check', { loop: 'repair', iteration: 1 }), step(2, 'check', 'Run: check', { loop: 'repair', iteration: 2 })],
    };
    const view = createRunView(looped, 3);
    expect(view.steps.map((s) => s.name)).toEqual(['repair', 'check']);
    for (const [seq, type, stepName] of [[1, 'STEP_STARTED', 'check'], [2, 'STEP_FAILED', 'check'], [3, 'STEP_STARTED', 'check'], [4, 'STEP_COMPLETED', 'check'], [5, 'STEP_COMPLETED', 'repair'], [6, 'WORKFLOW_COMPLETED', null]] as const) {
      applyEvent(view, { seq, type, stepName, data: { durationMs: 1 }, message: `${type}`, createdAt: at(seq * 100) } as CliEventFragment);
    }
    expect(summaryLines(view)[0]).toMatch(/: 2 of 2 steps completed/);
    // Each iteration wrote check_output.txt: one file, as last written.
    settleRunView(view, {
      ...looped,
      status: 'COMPLETED',
      steps: [{ ...looped.steps[0]!, status: 'COMPLETED' }, { ...looped.steps[1]!, status: 'FAILED' }, { ...looped.steps[2]!, status: 'COMPLETED' }],
      artifacts: [{ path: 'check_output.txt', stepName: 'check', sizeBytes: 10 }, { path: 'check_output.txt', stepName: 'check', sizeBytes: 2048 }],
    });
    expect(summaryLines(view).slice(0, 2)).toEqual([expect.stringMatching(/: 2 of 2 steps completed, 1 file written\.$/), '  check_output.txt (2.0 KB)']);
  });

  it("runs list's step: counted among the workflow's own steps, a loop's step inside its loop; a completed run is done", () => {
    const records = (statuses: string[]) =>
      [step(0, 'test', ''), step(1, 'repair', ''), step(2, 'fixer', '', { loop: 'repair', iteration: 1 }), step(3, 'fixer', '', { loop: 'repair', iteration: 2 })].map((s, i) => ({ ...s, status: statuses[i] as 'PENDING' }));
    expect(currentStep({ status: 'RUNNING', steps: records(['COMPLETED', 'RUNNING', 'COMPLETED', 'RUNNING']) })).toBe('2/2 repair › fixer #2');
    expect(currentStep({ status: 'FAILED', steps: records(['FAILED', 'FAILED', 'FAILED', 'FAILED']) })).toBe('2/2 repair');
    // A step that failed with continueOnError does not make a completed run look stuck at it.
    expect(currentStep({ status: 'COMPLETED', steps: records(['FAILED', 'COMPLETED', 'COMPLETED', 'COMPLETED']) })).toBe('2/2');
    expect(currentStep({ status: 'STOPPED', steps: records(['COMPLETED', 'SKIPPED', 'PENDING', 'PENDING']) })).toBe('2/2 repair');
    expect(currentStep({ status: 'QUEUED', steps: records(['PENDING', 'PENDING']).slice(0, 2) })).toBe('1/2 test');
  });

  it('the retry it suggests is one the server takes: --from the failed step only when every step before it completed', () => {
    const failedAfter = (earlier: string) => {
      const view = fold([['STEP_STARTED', 'planner'], [earlier, 'planner'], ['STEP_STARTED', 'coder'], ['STEP_FAILED', 'coder'], ['WORKFLOW_FAILED', null]]);
      view.status = 'FAILED';
      return summaryLines(view).at(-1);
    };
    expect(failedAfter('STEP_COMPLETED')).toBe('Retry with: agent-runner retry 7 --from coder --watch');
    // A step skipped by its condition before it: --from coder would be refused; without --from, every step that did not complete goes again.
    expect(failedAfter('STEP_SKIPPED')).toBe('Retry with: agent-runner retry 7 --watch');
  });

  it('a failure the run goes on after keeps its last lines of output under it when the output is not shown; others only their first line', () => {
    const failed = { seq: 9, type: 'STEP_FAILED', stepName: 'test', data: { continueOnError: true }, message: 'Step 1/3 failed (continueOnError: the run goes on): Command "mvn test" exited with code 1. Last lines of output:\n[ERROR] boom\n\u001b[31mred\u001b[0m', createdAt: at(100) } as CliEventFragment;
    const head = `${formatTime(at(100))}  test  `;
    expect(eventLine(failed, 4, { outputNotShown: true })).toBe(`${head}Step 1/3 failed (continueOnError: the run goes on): Command "mvn test" exited with code 1. Last lines of output:\n${' '.repeat(head.length)}[ERROR] boom\n${' '.repeat(head.length)}red`);
    // With the output shown (--stream, logs), the lines are already there above it.
    expect(eventLine(failed, 4)).toBe(`${head}Step 1/3 failed (continueOnError: the run goes on): Command "mvn test" exited with code 1. Last lines of output:`);
    // A failure that fails the run: its whole reason is in the summary.
    expect(eventLine({ ...failed, data: {} }, 4, { outputNotShown: true })?.split('\n')).toHaveLength(1);
  });

  it('a line one stream left unfinished ends when another stream writes (model text, then a command’s output)', () => {
    const view = createRunView(RUN, 3);
    applyEvent(view, { seq: 1, type: 'STEP_STARTED', stepName: 'planner', data: {}, message: '', createdAt: at(100) } as CliEventFragment);
    applyEvent(view, { seq: 2, type: 'LLM_TOKEN', stepName: 'planner', data: { text: 'I will run it.' }, message: '', createdAt: at(200) } as CliEventFragment);
    const lines = applyEvent(view, { seq: 3, type: 'SHELL_OUTPUT', stepName: 'planner', data: { stream: 'stdout', text: 'hello\n' }, message: '', createdAt: at(300) } as CliEventFragment);
    expect(lines).toEqual([
      { step: 'planner', stream: 'model', text: 'I will run it.' },
      { step: 'planner', stream: 'stdout', text: 'hello' },
    ]);
    expect(view.steps[0]!.tail).toEqual(['I will run it.', 'hello']);
  });

  it('escape codes and control characters from model or command output never reach the terminal', () => {
    const view = fold([
      ['STEP_STARTED', 'planner'],
      ['SHELL_OUTPUT', 'planner', { stream: 'stdout', text: '\u001b[1;31mERROR\u001b[m done\r\n\u001b]0;pwned\u0007title\u001b[2J\n' }],
      ['STEP_FAILED', 'planner', { error: '\u001b[31mred\u001b[0m reason' }],
    ]);
    expect(view.steps[0].tail).toEqual(['ERROR done', 'title']);
    expect(view.steps[0].note).toBe('red reason');
    expect(frame(view).join('\n')).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
    // A failed step keeps its last output lines on screen: they explain the failure.
    expect(frame(view).slice(1, 5)).toEqual([
      '  ✖ planner  0.2s    Plan with m1',
      '                     red reason',
      '                     │ ERROR done',
      '                     │ title',
    ]);
  });

  it('the final word is the server’s: statuses the events do not carry, and the files that remain', () => {
    const view = fold([['STEP_STARTED', 'planner'], ['STEP_COMPLETED', 'planner'], ['WORKFLOW_COMPLETED', null]]);
    settleRunView(view, {
      ...RUN,
      status: 'COMPLETED',
      startedAt: at(50),
      finishedAt: at(900),
      steps: [{ ...RUN.steps[0], status: 'COMPLETED' }, { ...RUN.steps[1], status: 'SKIPPED' }, { ...RUN.steps[2], status: 'SKIPPED' }],
      artifacts: [{ path: 'PLAN.md', stepName: 'planner', sizeBytes: 2048 }],
    });
    expect(summaryLines(view)).toEqual(['Run 7 completed in 0.8s: 1 of 3 steps completed, 1 file written.', '  PLAN.md (2.0 KB)']);
  });
});

describe('an agent step in the watch fold', () => {
  const AGENT_RUN: CliRunFragment = { ...RUN, runType: 'AGENT', workflowName: null, steps: [{ ...step(0, 'agent', 'Agent using qwen3-coder'), type: 'AGENT' as const }] };

  function foldAgent(events: Array<[type: string, stepName: string | null, data?: Record<string, unknown>, message?: string]>): { view: RunView; lines: Array<string | null> } {
    const view = createRunView(AGENT_RUN, 3);
    const lines: Array<string | null> = [];
    events.forEach(([type, stepName, data, message], i) => {
      const event = { seq: i + 1, type, stepName, data: data ?? null, message: message ?? `${type} message`, createdAt: at((i + 1) * 100) } as CliEventFragment;
      applyEvent(view, event);
      lines.push(eventLine(event, 5));
    });
    return { view, lines };
  }

  it("a hostile model's escape sequences (clipboard, clear screen, links, carriage returns, C1 controls) never reach the terminal frame", () => {
    const hostile = '\u001b]52;c;cm0gLXJmIH4=\u0007\u001b[2J\u001b]8;;https://evil.example\u001b\\click\u001b]8;;\u001b\\\roverwritten\u009b2J';
    const { view, lines } = foldAgent([
      ['STEP_STARTED', 'agent', { attempt: 1, maxAttempts: 1 }],
      ['AGENT_STARTED', 'agent', { model: `qwen${hostile}`, turns: 0, tokens: 0, limits: { maxIterations: 3 } }],
      // A tool the agent does not have, named and argued by the model: its keys and values are printed as key=value.
      ['AGENT_TOOL_CALL', 'agent', { turn: 1, callId: 'c1', name: `web${hostile}`, arguments: { [`k${hostile}`]: hostile, nested: { deep: hostile } } }],
      ['AGENT_TOOL_RESULT', 'agent', { turn: 1, callId: 'c1', name: 'web', ok: false, content: hostile }],
      ['AGENT_TOOL_CALL', 'agent', { turn: 1, callId: 'c2', name: 'run_command', arguments: { command: hostile } }],
      ['AGENT_DIRECTIVE', 'agent', { directiveId: '9', text: hostile, state: 'received' }],
      ['AGENT_LIMIT_REACHED', 'agent', { limit: hostile, used: 3, max: 3 }],
    ]);
    const shown = [...frame(view, T0 + 2_000), ...lines.filter((line): line is string => line !== null)].join('\n');
    // eslint-disable-next-line no-control-regex
    expect(shown).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(shown).toContain('web');
    expect(shown).toContain('run_command');
  });

  it('turns and tokens against the limits, tool calls with their arguments and results, directives, the limit reached', () => {
    const { view, lines } = foldAgent([
      ['WORKFLOW_STARTED', null],
      ['STEP_STARTED', 'agent', { attempt: 1, maxAttempts: 1 }],
      ['AGENT_DIRECTIVE', null, { directiveId: '4', text: 'Use tabs', state: 'received' }, 'Directive received: Use tabs'],
      ['AGENT_STARTED', 'agent', { model: 'qwen3-coder:latest', turns: 0, tokens: 0, limits: { maxIterations: 3, tokenBudget: 400000 } }, 'Agent started'],
      ['AGENT_DIRECTIVE', 'agent', { directiveId: '4', text: 'Use tabs', state: 'delivered', turn: 1 }, 'Directive delivered to the agent before turn 1: Use tabs'],
      ['AGENT_TURN', 'agent', { turn: 1, totals: { turns: 1, tokens: 1234 } }, 'Turn 1: 1000 prompt + 234 output tokens'],
      ['AGENT_TOOL_CALL', 'agent', { turn: 1, callId: 'turn1-call1', name: 'run_command', arguments: { command: 'npm test' } }],
      ['AGENT_TOOL_RESULT', 'agent', { turn: 1, callId: 'turn1-call1', name: 'run_command', ok: false, exitCode: 1, durationMs: 1500, content: 'Exit code: 1' }],
      ['AGENT_TOOL_CALL', 'agent', { turn: 1, callId: 'turn1-call2', name: 'read_file', arguments: { path: 'src/missing.ts' } }],
      ['AGENT_TOOL_RESULT', 'agent', { turn: 1, callId: 'turn1-call2', name: 'read_file', ok: false, content: 'Error: src/missing.ts does not exist\nmore' }],
      ['AGENT_TOOL_CALL', 'agent', { turn: 2, callId: 'turn2-call1', name: 'search', arguments: { pattern: 'TODO' } }],
    ]);
    expect(view.steps[0]!.agent).toMatchObject({ model: 'qwen3-coder:latest', turn: 1, maxTurns: 3, tokens: 1234, tokenBudget: 400000 });
    expect(frame(view, T0 + 2_000).slice(1, 8)).toEqual([
      '  ⠋ agent  1.8s    Agent using qwen3-coder',
      '                   turn 1 of 3 · 1,234 of 400,000 tokens · qwen3-coder:latest',
      '                   ✉ directive: Use tabs (delivered before turn 1)',
      '                   ✖ run_command npm test — exit 1 in 1.5s',
      '                   ✖ read_file src/missing.ts — error: src/missing.ts does not exist',
      '                   → search "TODO"',
      'Ctrl-C detaches',
    ]);
    // Plain lines (CI logs): a tool call with its argument summary, then its result's state.
    expect(lines.slice(2).map((line) => line!.replace(/^\d\d:\d\d:\d\d {2}/, ''))).toEqual([
      '       Directive received: Use tabs',
      'agent  Agent started',
      'agent  Directive delivered to the agent before turn 1: Use tabs',
      'agent  Turn 1: 1000 prompt + 234 output tokens',
      'agent  Turn 1: → run_command npm test',
      'agent  Turn 1: ✖ run_command — exit 1 in 1.5s',
      'agent  Turn 1: → read_file src/missing.ts',
      'agent  Turn 1: ✖ read_file — error: src/missing.ts does not exist',
      'agent  Turn 2: → search "TODO"',
    ]);

    const ended = foldAgent([
      ['STEP_STARTED', 'agent', {}],
      ['AGENT_LIMIT_REACHED', 'agent', { limit: 'maxIterations', used: 3, max: 3 }, 'Limit reached: The agent made its 3 model calls'],
      ['STEP_FAILED', 'agent', { error: 'The agent made its 3 model calls (options.agent.maxIterations) without finishing.' }],
    ]).view;
    expect(frame(ended).slice(1, 5)).toEqual([
      '  ✖ agent  0.2s    Agent using qwen3-coder',
      '                   The agent made its 3 model calls (options.agent.maxIterations) without finishing.',
      '                   turn 0 · 0 tokens',
      '                   ⚠ limit reached: maxIterations (3 of 3)',
    ]);
  });
});
