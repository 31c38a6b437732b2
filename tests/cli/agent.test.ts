/**
 * `agent-runner agent` and `agent-runner directive` as a user runs them (a child process) against
 * the real server and the fake Ollama: an agent run with its model and limits, watched in a pipe and
 * in a terminal (its turns, tool calls and their results, command output, directives, reasoning only
 * when asked, the limit that ended it), directives from the arguments and from stdin, refusals in
 * words a user can act on; and `--model` naming the steps inside a loop and agent steps.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chatMessages, conversationScript, startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { AGENT_MODEL, AGENT_MODELS, DRAFT_MODEL, LOOP_MODELS_WORKFLOW, OTHER_TOOLS_MODEL, THINKING_MODEL, call, chatRequests } from '../agent/support.js';
import { register } from '../flow/support.js';
import { createProject, queryEvents } from '../workflow/support.js';
import { RunDirectivesDocument, SendDirectiveDocument } from '../../src/client/generated/graphql.js';
import { cli, ESCAPE, liveLines, screenOf, startCli, startCliInTerminal, waitForOutput } from './support.js';

/** A workflow without an agent that waits for its gate file. */
const NO_AGENT = `name: no-agent
version: "1"
steps:
  - { name: wait, type: SHELL_COMMAND, command: "while [ ! -e .gate ]; do sleep 0.05; done" }
`;

let fake: FakeOllama;
let t: TestApp;
let firstRequest = 0;
const ar = (args: string[], input?: string | Uint8Array) => cli(args, { url: t.url, ...(input !== undefined ? { input } : {}) });

beforeAll(async () => {
  fake = await startFakeOllama({ models: AGENT_MODELS });
  t = await startTestApp({ ollamaBaseUrl: fake.url, streamCoalesceMs: 10 });
  await register(t, LOOP_MODELS_WORKFLOW);
  await register(t, NO_AGENT);
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});
beforeEach(() => {
  firstRequest = fake.requests.length;
});

/** A command that waits for a gate file in the project's folder (a sandboxed command sees that folder). */
function gated(projectPath: string, command: string): { command: string; open(): void } {
  const gate = `.gate-${Math.random().toString(36).slice(2)}`;
  return { command: `while [ ! -e ${gate} ]; do sleep 0.05; done; ${command}`, open: () => writeFileSync(join(projectPath, gate), '') };
}

const withoutTime = (stdout: string) => stdout.split('\n').map((line) => line.replace(/^\d\d:\d\d:\d\d {2}/, ''));

describe('agent-runner agent', { timeout: 90_000 }, () => {
  it('--help of both commands has examples', async () => {
    const agent = await ar(['agent', '--help']);
    expect(agent.exitCode).toBe(0);
    expect(agent.stdout).toContain('Examples:\n  $ agent-runner agent --project demo --goal');
    expect(agent.stdout).toMatch(/--max-iterations <n>[\s\S]*--timeout <seconds>[\s\S]*--think <level>[\s\S]*--reasoning/);
    const directive = await ar(['directive', '--help']);
    expect(directive.exitCode).toBe(0);
    expect(directive.stdout).toContain('Examples:\n  $ agent-runner directive 12 "Also cover the empty name"');
    expect(directive.stdout).toContain('git diff | agent-runner directive 12 -');
  });

  it('starts an AGENT run with its model and limits (--json), and refuses bad options saying which', async () => {
    const project = await createProject(t);
    fake.script(OTHER_TOOLS_MODEL, conversationScript([call('finish', { summary: 'done' })]));
    const started = await ar(['agent', '--project', project.id, '--goal', 'Say hello', '--model', OTHER_TOOLS_MODEL, '--max-iterations', '5', '--timeout', '600', '--think', 'off', '--json']);
    expect(started.exitCode, started.stderr).toBe(0);
    const run = JSON.parse(started.stdout);
    expect(run).toMatchObject({ runType: 'AGENT', goal: 'Say hello', models: [{ step: 'agent', model: OTHER_TOOLS_MODEL, source: 'RUN_OPTIONS' }] });
    const watched = await ar(['watch', run.id]);
    expect(watched.exitCode, watched.stdout + watched.stderr).toBe(0);
    const agentStarted = (await queryEvents(t, run.id)).find((e) => e.type === 'AGENT_STARTED')!;
    expect(agentStarted.data).toMatchObject({ model: OTHER_TOOLS_MODEL, think: false, limits: { maxIterations: 5, timeoutSeconds: 600 } });
    expect(chatRequests(fake, firstRequest)[0]!.body.think).toBe(false);

    const bad = await ar(['agent', '--project', 'nowhere', '--goal', ' ']);
    expect(bad.exitCode).toBe(3);
    expect(bad.stderr).toContain('Cannot start the agent:\n  - --goal is required');
    expect(bad.stderr).toContain('Unknown project "nowhere"');
    const range = await ar(['agent', '-p', project.id, '-g', 'x', '--max-iterations', '0']);
    expect(range.exitCode).toBe(3);
    expect(range.stderr).toContain('--max-iterations must be a whole number from 1 to 1000 (got "0")');
    const think = await ar(['agent', '-p', project.id, '-g', 'x', '--think', 'maybe']);
    expect(think.exitCode).toBe(3);
    expect(think.stderr).toMatch(/--think <level>' argument 'maybe' is invalid\. Allowed choices are on, off, low, medium, high/);
  });

  it('--watch in a pipe: turns, each tool call with its arguments and result, command output with --stream, reasoning only with --reasoning', async () => {
    const project = await createProject(t);
    const turns = () =>
      conversationScript([
        { ...call('run_command', { command: 'echo hello-from-agent; echo careful >&2' }), thinking: ['Let me ', 'run it.\n'] },
        { ...call('read_file', { path: 'missing.txt' }), thinking: ['Now read.\n'] },
        call('finish', { summary: 'Said hello' }),
      ]);
    fake.script(THINKING_MODEL, turns());
    const watched = await ar(['agent', '-p', project.id, '-g', 'Say hello', '--model', THINKING_MODEL, '--watch', '--stream']);
    expect(watched.exitCode, watched.stdout + watched.stderr).toBe(0);
    expect(watched.stdout).not.toMatch(ESCAPE);
    const lines = withoutTime(watched.stdout);
    expect(lines[0]).toMatch(new RegExp(`^Run \\d+ queued: an agent using ${THINKING_MODEL} \\(from --model\\) in project project-\\d+\\.$`));
    const agentLines = lines.filter((line) => line.startsWith('agent'));
    expect(agentLines).toEqual(
      expect.arrayContaining([
        'agent  Turn 1: → run_command echo hello-from-agent; echo careful >&2',
        'agent | hello-from-agent',
        'agent ! careful',
        'agent  Turn 2: → read_file missing.txt',
        'agent  Turn 3: → finish "Said hello"',
      ]),
    );
    const result = agentLines.findIndex((line) => /^agent {2}Turn 1: ✔ run_command — exit 0( in [\d.]+s)?$/.test(line));
    expect(result, agentLines.join('\n')).toBeGreaterThan(-1);
    expect(agentLines.find((line) => line.startsWith('agent  Turn 2: ✖ read_file — error: Could not read "missing.txt"'))).toBeDefined();
    // Each call's line comes before its output and its result.
    expect(agentLines.indexOf('agent  Turn 1: → run_command echo hello-from-agent; echo careful >&2')).toBeLessThan(agentLines.indexOf('agent | hello-from-agent'));
    expect(agentLines.indexOf('agent | hello-from-agent')).toBeLessThan(result);
    expect(lines.some((line) => line.includes(' ~ '))).toBe(false);
    expect(watched.stdout).toMatch(/Run \d+ completed in [\d.]+s: 1 of 1 steps completed/);

    fake.script(THINKING_MODEL, turns());
    const reasoning = await ar(['agent', '-p', project.id, '-g', 'Say hello', '--model', THINKING_MODEL, '--watch', '--stream', '--reasoning']);
    expect(reasoning.exitCode, reasoning.stderr).toBe(0);
    expect(withoutTime(reasoning.stdout)).toEqual(expect.arrayContaining(['agent ~ Let me run it.', 'agent ~ Now read.']));
  });

  it('without --stream, a pipe still gets the commands’ output of an agent (not its model’s text)', async () => {
    const project = await createProject(t);
    fake.script(AGENT_MODEL, conversationScript([{ ...call('run_command', { command: 'echo plain-output' }), tokens: ['I will ', 'run it.'] }, call('finish', { summary: 'ok' })]));
    const watched = await ar(['agent', '-p', project.id, '-g', 'Echo', '--watch']);
    expect(watched.exitCode, watched.stderr).toBe(0);
    const lines = withoutTime(watched.stdout);
    expect(lines).toContain('agent | plain-output');
    expect(lines.some((line) => line.includes('I will run it.'))).toBe(false);
  });

  it('a limit reached: said as it happens and in the summary, exit 1', async () => {
    const project = await createProject(t);
    fake.script(AGENT_MODEL, conversationScript(Array.from({ length: 5 }, () => call('list_files'))));
    const watched = await ar(['agent', '-p', project.id, '-g', 'Loop', '--max-iterations', '2', '--watch']);
    expect(watched.exitCode, watched.stderr).toBe(1);
    const lines = withoutTime(watched.stdout);
    expect(lines).toContain('agent  Limit reached: The agent made its 2 model calls (options.agent.maxIterations) without finishing. Raise the limit or give it a smaller task, then retry the run.');
    expect(lines.filter((line) => /^agent {2}Turn \d: → list_files \.$/.test(line))).toHaveLength(2);
    expect(watched.stdout).toMatch(/Run \d+ failed in [\d.]+s: 0 of 1 steps completed[\s\S]*Why: Step "agent" failed: The agent made its 2 model calls/);
  });
});

describe('agent-runner directive', { timeout: 90_000 }, () => {
  it('reaches the running agent (from the arguments and from stdin); watch shows it received and delivered; refused once the run has ended', async () => {
    const project = await createProject(t);
    const gate = gated(project.path, 'echo gate-open');
    fake.script(AGENT_MODEL, conversationScript([call('run_command', { command: gate.command }), call('finish', { summary: 'Obeyed' })]));
    const watcher = startCli(['agent', '-p', project.id, '-g', 'Wait for the gate', '--watch'], { url: t.url });
    const output = liveLines(watcher);
    await waitForOutput(output, (text) => text.includes('→ run_command while'), 'the gated command running');
    const runId = /^Run (\d+) queued/.exec(output.lines[0]!)![1]!;

    const sent = await ar(['directive', runId, 'Use', 'tabs,', 'not', 'spaces']);
    expect(sent.exitCode, sent.stderr).toBe(0);
    expect(sent.stdout).toMatch(new RegExp(`^Directive \\d+ sent to run ${runId}: the agent reads it before its next model call\\.`));
    const piped = await ar(['directive', runId, '-', '--json'], 'Keep it short\n');
    expect(piped.exitCode, piped.stderr).toBe(0);
    expect(JSON.parse(piped.stdout)).toMatchObject({ runId, text: 'Keep it short', deliveredAt: null });

    gate.open();
    const result = await watcher;
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const lines = withoutTime(String(result.stdout));
    expect(lines).toEqual(
      expect.arrayContaining([
        '       Directive received: Use tabs, not spaces',
        '       Directive received: Keep it short',
        'agent  Directive delivered to the agent before turn 2: Use tabs, not spaces',
        'agent  Directive delivered to the agent before turn 2: Keep it short',
      ]),
    );
    // The second model call carried both directives.
    const second = chatRequests(fake, firstRequest)[1]!;
    expect(chatMessages(second).filter((m) => m.role === 'user').map((m) => m.content).join('\n')).toMatch(/Use tabs, not spaces[\s\S]*Keep it short/);

    const late = await ar(['directive', runId, 'Too late']);
    expect(late.exitCode).toBe(3);
    expect(late.stderr).toContain(`Run ${runId} is COMPLETED: it has ended`);
    expect(late.stderr).toMatch(/Start a new agent in its project with: agent-runner agent --project project-\d+ --goal/);
    const lateJson = await ar(['directive', runId, 'Too late', '--json']);
    expect(JSON.parse(lateJson.stderr).error.code).toBe('CONFLICT');
  });

  it('refuses a run without an agent, an unknown run, an empty text and a word that is not a run id', async () => {
    const project = await createProject(t);
    const started = await ar(['run', 'no-agent', '-p', project.id, '-g', 'wait', '--json']);
    expect(started.exitCode, started.stderr).toBe(0);
    const runId = JSON.parse(started.stdout).id as string;
    const refused = await ar(['directive', runId, 'Hello?']);
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toContain(`Run ${runId} is a WORKFLOW run without an agent step to come`);
    expect(refused.stderr).toMatch(/start an agent run in its project: agent-runner agent --project project-\d+ --goal/);
    writeFileSync(join(project.path, '.gate'), '');
    expect((await ar(['watch', runId])).exitCode).toBe(0);

    const unknown = await ar(['directive', '999999', 'Hello?']);
    expect(unknown.exitCode).toBe(3);
    expect(unknown.stderr).toContain('Run 999999 does not exist');
    const empty = await ar(['directive', runId, '-'], '  \n');
    expect(empty.exitCode).toBe(3);
    expect(empty.stderr).toContain('The directive read from stdin is empty');
    const notId = await ar(['directive', 'latest', 'Hello?']);
    expect(notId.exitCode).toBe(3);
    expect(notId.stderr).toContain('"latest" is not a run id');
  });
});

describe('agent-runner directive with hostile input', { timeout: 90_000 }, () => {
  it('refuses a huge stdin, binary and non-UTF-8 bytes, and an oversized argument in words a user can act on; the server refuses NUL and oversized texts; nothing is stored', async () => {
    const project = await createProject(t);
    const gate = gated(project.path, 'echo gate-open');
    fake.script(AGENT_MODEL, conversationScript([call('run_command', { command: gate.command }), call('finish', { summary: 'Done' })]));
    const started = await ar(['agent', '-p', project.id, '-g', 'Wait for the gate', '--json']);
    expect(started.exitCode, started.stderr).toBe(0);
    const runId = JSON.parse(started.stdout).id as string;

    const huge = await ar(['directive', runId, '-'], 'x'.repeat(2 * 1024 * 1024));
    expect(huge.exitCode).toBe(3);
    expect(huge.stderr).toContain('The directive read from stdin is larger than 20 KB');
    expect(huge.stderr).toContain("Put long material in a file in the project's folder");
    // Just over the limit once trimmed (blank space around it does not count).
    const justOver = await ar(['directive', runId, '-'], `  ${'y'.repeat(20 * 1024 + 1)}\n`);
    expect(justOver.exitCode).toBe(3);
    expect(justOver.stderr).toContain('larger than 20 KB');
    const atLimitArgs = await ar(['directive', runId, 'z'.repeat(20 * 1024 + 10)]);
    expect(atLimitArgs.exitCode).toBe(3);
    expect(atLimitArgs.stderr).toContain('The directive given is larger than 20 KB');
    const binary = await ar(['directive', runId, '-'], Uint8Array.from([0x55, 0x73, 0x65, 0x00, 0x01, 0x02, 0x1b, 0x5b]));
    expect(binary.exitCode).toBe(3);
    expect(binary.stderr).toContain('The directive read from stdin is not text');
    const latin1 = await ar(['directive', runId, '-'], Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x0a]));
    expect(latin1.exitCode).toBe(3);
    expect(latin1.stderr).toContain('is not text (it has NUL bytes or is not UTF-8)');

    // A client other than the CLI: the server's own refusals.
    await expect(t.client.request(SendDirectiveDocument, { runId, text: 'Use\u0000tabs' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining('must not contain NUL') });
    await expect(t.client.request(SendDirectiveDocument, { runId, text: 'w'.repeat(20 * 1024 + 1) })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringContaining('is too large (20481 bytes; at most 20480)'),
    });
    expect((await t.client.request(RunDirectivesDocument, { runId })).run?.directives).toEqual([]);

    gate.open();
    expect((await ar(['watch', runId])).exitCode).toBe(0);
  });
});

describe('agent-runner watch of an agent in a terminal', { timeout: 90_000 }, () => {
  it('draws the turn and tokens, each tool call with its result, and the command output in place', async () => {
    const project = await createProject(t);
    const gate = gated(project.path, 'echo second-done');
    fake.script(AGENT_MODEL, conversationScript([call('run_command', { command: 'echo tty-line' }), call('run_command', { command: gate.command }), call('finish', { summary: 'Done' })]));
    const started = await ar(['agent', '-p', project.id, '-g', 'Two commands', '--json']);
    const runId = JSON.parse(started.stdout).id as string;
    const child = startCliInTerminal(['watch', runId], { url: t.url, cols: 120, rows: 30 });
    let transcript = '';
    child.stdout?.on('data', (chunk: Buffer) => (transcript += chunk.toString('utf8')));
    let screen: string[] = [];
    await waitFor(
      async () => {
        screen = await screenOf(transcript, 120, 30);
        return screen.some((line) => line.includes('→ run_command while'));
      },
      { timeoutMs: 30_000, what: 'the second command drawn as running', intervalMs: 50 },
    );
    const drawn = screen.join('\n');
    expect(drawn).toMatch(/turn 2 of 40 · [\d,]+ of 400,000 tokens · qwen3-coder:latest/);
    expect(drawn).toMatch(/✔ run_command echo tty-line — exit 0/);
    expect(drawn).toContain('│ tty-line');
    gate.open();
    const result = await child;
    expect(result.exitCode).toBe(0);
    const final = (await screenOf(transcript, 120, 30)).join('\n');
    expect(final).toMatch(/✔ agent +[\d.]+s/);
    expect(final).toMatch(new RegExp(`Run ${runId} completed in [\\d.]+s: 1 of 1 steps completed`));
  });
});

describe('--model for steps inside a loop and agent steps', { timeout: 90_000 }, () => {
  it('run accepts them, refuses a step that calls no model naming those that do; workflows show lists them', async () => {
    const project = await createProject(t);
    fake.script(DRAFT_MODEL, { tokens: ['# draft\n'] });
    fake.script(OTHER_TOOLS_MODEL, conversationScript([call('finish', { summary: 'fixed' })]));
    const started = await ar(['run', 'loop-models', '-p', project.id, '-g', 'A service', '--model', 'fixer=' + OTHER_TOOLS_MODEL, '--json']);
    expect(started.exitCode, started.stderr).toBe(0);
    const run = JSON.parse(started.stdout);
    expect(run.models).toEqual([
      { step: 'draft', model: DRAFT_MODEL, source: 'WORKFLOW_DEFAULT' },
      { step: 'fixer', model: OTHER_TOOLS_MODEL, source: 'RUN_OPTIONS' },
    ]);
    const watched = await ar(['watch', run.id]);
    expect(watched.exitCode, watched.stdout).toBe(0);
    expect(chatRequests(fake, firstRequest).map((r) => r.model)).toEqual([OTHER_TOOLS_MODEL]);

    const refused = await ar(['run', 'loop-models', '-p', project.id, '-g', 'A service', '--model', 'rounds=x', '--model', 'draft=']);
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toContain(`--model rounds=…: loop-models has no step "rounds" that calls a model (its steps that do, loops' included: draft, fixer).`);
    expect(refused.stderr).toContain('--model draft=: give the model, such as --model draft=llama2:latest.');

    const shown = await ar(['workflows', 'show', 'loop-models']);
    expect(shown.exitCode).toBe(0);
    // No description: the header is the name and version alone; the loop's steps are rows under it.
    expect(shown.stdout.split('\n')[0]).toBe('loop-models v1');
    expect(shown.stdout).toMatch(/\n1 +rounds +LOOP +Repeat 2 steps until .*\n1\.1 +draft +LLM_GENERATE +.*model gemma3:27b \(workflow default\), writes draft\.md\n1\.2 +fixer +AGENT +/);
    // A command step with the default description ("Run: <command>") does not repeat the command.
    const noAgent = await ar(['workflows', 'show', 'no-agent']);
    expect(noAgent.stdout).toMatch(/\n1 +wait +SHELL_COMMAND +Run: while \[ ! -e \.gate \]; do sleep 0\.05; done$/m);
    expect(shown.stdout).toContain(`Models a new run gets (every step that calls a model, loops' steps included):\n  draft: ${DRAFT_MODEL} (workflow default)\n  fixer: ${AGENT_MODEL} (workflow default)`);
  });
});
