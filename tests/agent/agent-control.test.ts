/**
 * An agent run's limits and control through the real server: each limit ends the run saying which;
 * a directive reaches the agent before its next model call and changes what it does; directives to
 * runs without an agent or that have ended are refused; stop during a long run_command leaves no
 * process; pause waits for the turn boundary and resume continues the same conversation; retry
 * starts the conversation afresh.
 */
import { randomInt } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PauseRunDocument, ResumeRunDocument, RetryRunDocument, RunDirectivesDocument, SendDirectiveDocument, StopRunDocument } from '../../src/client/generated/graphql.js';
import { chatMessages, conversationScript, startFakeOllama, type FakeOllama, type RecordedRequest } from '../helpers/fake-ollama.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { controlRun, expectRefused, isType, liveProcesses, waitForEvent, waitForStatus } from '../control/support.js';
import { createProject, createRun, expectGaplessSeqs, ofType, queryEvents, streamToEnd } from '../workflow/support.js';
import { AGENT_MODEL, AGENT_MODELS, agentRunToEnd, call, chatRequests, createAgentRun, dataOf } from './support.js';

let fake: FakeOllama;
let t: TestApp;
let firstRequest = 0;

beforeAll(async () => {
  fake = await startFakeOllama({ models: AGENT_MODELS });
  t = await startTestApp({ ollamaBaseUrl: fake.url, streamCoalesceMs: 10 });
});

afterAll(async () => {
  await t?.close();
  await fake?.close();
});

beforeEach(() => {
  firstRequest = fake.requests.length;
});

const forever = () => call('list_files');

let gates = 0;
/**
 * A command that waits until the test opens its gate, so the test acts while it runs whatever the
 * machine's load. The gate is a file in the workspace: a sandboxed command sees no other folder the
 * test can write to (its /tmp is its own).
 */
function gated(command: string, workspace: string): { command: string; open(): void } {
  const gate = join(workspace, `.gate-${++gates}`);
  return { command: `while [ ! -e '${gate}' ]; do sleep 0.05; done; ${command}`, open: () => writeFileSync(gate, '') };
}

describe('agent limits', () => {
  it('ends the run at maxIterations, after exactly that many model calls', async () => {
    const project = await createProject(t);
    fake.script(AGENT_MODEL, conversationScript(Array.from({ length: 10 }, forever)));
    const { events, run } = await agentRunToEnd(t, project.id, 'Loop', { agent: { maxIterations: 3 } });
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('Step "agent" failed: The agent made its 3 model calls (options.agent.maxIterations) without finishing. Raise the limit or give it a smaller task, then retry the run.');
    expect(chatRequests(fake, firstRequest)).toHaveLength(3);
    expect(dataOf(ofType(events, 'AGENT_LIMIT_REACHED')[0]!)).toEqual({ limit: 'maxIterations', used: 3, max: 3 });
    expect(ofType(events, 'STEP_FAILED')[0]!.data).toMatchObject({ limit: 'maxIterations', retryable: false });
    expectGaplessSeqs(events);
  });

  it('ends the run when the token budget is spent', async () => {
    const project = await createProject(t);
    fake.script(AGENT_MODEL, conversationScript(Array.from({ length: 10 }, forever)));
    const { events, run } = await agentRunToEnd(t, project.id, 'Loop', { agent: { tokenBudget: 1000 } });
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatch(/The agent used \d+ tokens, its budget is 1000 \(options\.agent\.tokenBudget\), without finishing/);
    const turns = ofType(events, 'AGENT_TURN').map((e) => dataOf<{ promptTokens: number; outputTokens: number }>(e));
    const used = turns.reduce((sum, turn) => sum + turn.promptTokens + turn.outputTokens, 0);
    expect(used).toBeGreaterThanOrEqual(1000);
    expect(used - turns.at(-1)!.promptTokens - turns.at(-1)!.outputTokens).toBeLessThan(1000);
    expect(dataOf(ofType(events, 'AGENT_LIMIT_REACHED')[0]!)).toEqual({ limit: 'tokenBudget', used, max: 1000 });
  });

  it('ends the run before the conversation overflows the context window, instead of letting Ollama drop its start', async () => {
    const project = await createProject(t);
    fake.script(AGENT_MODEL, conversationScript([call('run_command', { command: 'seq 1 3000' }), forever()]));
    const { events, run } = await agentRunToEnd(t, project.id, 'Print numbers', { agent: { numCtx: 4096, toolResultMaxChars: 100_000 } });
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatch(/The conversation has grown to about \d+ tokens, too close to the context window of 4096 \(options\.agent\.numCtx\)/);
    expect(chatRequests(fake, firstRequest)).toHaveLength(1);
    expect(dataOf(ofType(events, 'AGENT_LIMIT_REACHED')[0]!)).toMatchObject({ limit: 'context', max: 4096 });
  });

  it('cuts a long tool result to toolResultMaxChars with a note, keeping its start and end', async () => {
    const project = await createProject(t);
    fake.script(AGENT_MODEL, conversationScript([call('run_command', { command: 'seq 1 3000' }), call('finish', { summary: 'ok' })]));
    const { events, run } = await agentRunToEnd(t, project.id, 'Print numbers', { agent: { toolResultMaxChars: 500 } });
    expect(run.status).toBe('COMPLETED');
    const result = dataOf<{ content: string; truncated: boolean; sizeChars: number }>(ofType(events, 'AGENT_TOOL_RESULT')[0]!);
    expect(result.truncated).toBe(true);
    expect(result.sizeChars).toBeGreaterThan(500);
    expect(result.content.startsWith('Exit code: 0\n1\n2\n3\n')).toBe(true);
    expect(result.content.endsWith('2999\n3000\n')).toBe(true);
    expect(result.content).toMatch(/characters cut here: the result had \d+ characters and at most 500 are sent/);
    const sent = chatMessages(chatRequests(fake, firstRequest)[1]!).filter((m) => m.role === 'tool')[0]!.content;
    expect(sent).toBe(result.content);
    expect(ofType(events, 'AGENT_TOOL_RESULT')[0]!.message).toContain('cut to 500');
  });

  it('ends the run at its total timeout, killing the command it was running', async () => {
    const project = await createProject(t);
    const marker = `agent-timeout-${randomInt(1e9)}`;
    fake.script(AGENT_MODEL, conversationScript([call('run_command', { command: `sleep 30 # ${marker}` })]));
    const { events, run } = await agentRunToEnd(t, project.id, 'Wait', { agent: { timeoutSeconds: 2 } });
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe(
      'Step "agent" failed: Step "agent" timed out after 2s. Raise the run\'s options.agent.timeoutSeconds (or AGENT_TIMEOUT_SECONDS), or give the agent a smaller task.',
    );
    expect(dataOf(ofType(events, 'AGENT_LIMIT_REACHED')[0]!)).toEqual({ limit: 'timeout', used: 2, max: 2 });
    expect(liveProcesses({ marker })).toEqual([]);
  });
});

describe('directives', () => {
  it('reach the agent before its next model call and change what it does next', async () => {
    const project = await createProject(t);
    const hasDirective = (req: RecordedRequest) => chatMessages(req).some((m) => m.role === 'user' && m.content.startsWith('Directive from the user:'));
    const command = gated('echo slept', project.path);
    fake.script(
      AGENT_MODEL,
      conversationScript([
        call('run_command', { command: command.command }),
        (req) => (hasDirective(req) ? call('write_file', { path: 'DIRECTED.md', content: 'as you asked' }) : call('finish', { summary: 'no directive seen' })),
        call('finish', { summary: 'Wrote DIRECTED.md as directed.' }),
      ]),
    );
    const run = await createAgentRun(t, project.id, 'Wait a moment');
    await waitForEvent(t, run.id, isType('SHELL_EXECUTING'), 'the command to start');
    const { sendDirective } = await t.client.request(SendDirectiveDocument, { runId: run.id, text: '  Write DIRECTED.md before you finish.  ' });
    expect(sendDirective).toMatchObject({ runId: run.id, text: 'Write DIRECTED.md before you finish.', deliveredAt: null, stepName: null });
    command.open();

    const events = await streamToEnd(t, run.id);
    expect(events.at(-1)).toMatchObject({ type: 'WORKFLOW_COMPLETED', message: 'Agent run completed: Finished after 3 turns: Wrote DIRECTED.md as directed.' });
    expect(readFileSync(join(project.path, 'DIRECTED.md'), 'utf8')).toBe('as you asked');
    const directives = ofType(events, 'AGENT_DIRECTIVE');
    expect(directives.map((e) => [dataOf(e).state, e.stepName])).toEqual([
      ['received', null],
      ['delivered', 'agent'],
    ]);
    expect(dataOf(directives[1]!)).toMatchObject({ text: 'Write DIRECTED.md before you finish.', turn: 2, directiveId: sendDirective.id });
    // Received while the command ran, delivered after its result, before the second model call.
    const seqOf = (match: (e: (typeof events)[number]) => boolean) => events.find(match)!.seq;
    expect(directives[0]!.seq).toBeLessThan(seqOf((e) => e.type === 'AGENT_TOOL_RESULT'));
    expect(directives[1]!.seq).toBeGreaterThan(seqOf((e) => e.type === 'AGENT_TOOL_RESULT'));
    expect(directives[1]!.seq).toBeLessThan(seqOf((e) => e.type === 'AGENT_TURN' && dataOf(e).turn === 2));
    const second = chatMessages(chatRequests(fake, firstRequest)[1]!);
    expect(second.at(-1)).toEqual({ role: 'user', content: 'Directive from the user: Write DIRECTED.md before you finish.' });
    expect(second.at(-2)).toMatchObject({ role: 'tool', tool_name: 'run_command' });

    const { run: listed } = await t.client.request(RunDirectivesDocument, { runId: run.id });
    expect(listed?.directives).toMatchObject([{ id: sendDirective.id, stepName: 'agent' }]);
    expect(listed?.directives[0]!.deliveredAt).not.toBeNull();
  });

  it('are refused for a run that has ended, a workflow run without an agent, an unknown run, and an empty text', async () => {
    const project = await createProject(t);
    fake.script(AGENT_MODEL, conversationScript([call('finish', { summary: 'done' })]));
    const { created } = await agentRunToEnd(t, project.id, 'Be quick');
    const send = (runId: string, text = 'go on') => t.client.request(SendDirectiveDocument, { runId, text });
    await expectRefused(send(created.id), 'CONFLICT', `Run ${created.id} is COMPLETED: it has ended`);
    const workflowRun = await createRun(t, project.id);
    await expectRefused(send(workflowRun.id), 'CONFLICT', `Run ${workflowRun.id} is a WORKFLOW run without an agent step to come`);
    await t.client.request(StopRunDocument, { id: workflowRun.id });
    await expectRefused(send('999999'), 'NOT_FOUND', 'No run has id 999999');
    await expectRefused(send(created.id, '   '), 'BAD_USER_INPUT', 'Argument "text" must not be empty');
    await expectRefused(send(created.id, 'x'.repeat(21 * 1024)), 'BAD_USER_INPUT', 'Argument "text" is too large');
  });
});

describe('run control of an agent', () => {
  it('stops during a long run_command: the run ends STOPPED at once and no process is left', async () => {
    const project = await createProject(t);
    const marker = `agent-stop-${randomInt(1e9)}`;
    fake.script(AGENT_MODEL, conversationScript([call('run_command', { command: `sleep 300 & sleep 301; # ${marker}` })]));
    const run = await createAgentRun(t, project.id, 'Sleep');
    await waitFor(() => liveProcesses({ marker }).length > 0, { what: 'the command to start' });
    const { stopRun } = await t.client.request(StopRunDocument, { id: run.id });
    expect(stopRun.status).toBe('STOPPED');
    expect(stopRun.steps).toMatchObject([{ name: 'agent', status: 'STOPPED' }]);
    expect(liveProcesses({ marker })).toEqual([]);
    const events = await queryEvents(t, run.id);
    expect(events.at(-1)!.type).toBe('RUN_STOPPED');
    expect(ofType(events, 'AGENT_TOOL_RESULT')).toHaveLength(0);
  });

  it('pauses at the next turn boundary and continues the same conversation when resumed; retry starts afresh', async () => {
    const project = await createProject(t);
    const command = gated('echo first > first.txt', project.path);
    fake.script(
      AGENT_MODEL,
      conversationScript([call('run_command', { command: command.command }), call('read_file', { path: 'first.txt' }), call('finish', { summary: 'Read it back.' })]),
    );
    const run = await createAgentRun(t, project.id, 'Write and read');
    await waitForEvent(t, run.id, isType('SHELL_EXECUTING'), 'the command to start');
    const { pauseRun } = await t.client.request(PauseRunDocument, { id: run.id });
    expect(pauseRun).toMatchObject({ status: 'RUNNING', pauseRequested: true });
    command.open();
    const paused = await waitForStatus(t, run.id, 'PAUSED');
    expect(paused.steps).toMatchObject([{ name: 'agent', status: 'PENDING', attempt: 1 }]);
    const atPause = await queryEvents(t, run.id);
    expect(atPause.at(-1)).toMatchObject({ type: 'RUN_PAUSED', message: 'Paused before turn 2 in step 1/1 (agent); its progress is kept. Resume to continue from there.' });
    // The command finished and its result was stored before the pause; the model was asked once.
    expect(ofType(atPause, 'AGENT_TOOL_RESULT').map((e) => dataOf(e).ok)).toEqual([true]);
    expect(chatRequests(fake, firstRequest)).toHaveLength(1);

    await t.client.request(ResumeRunDocument, { id: run.id });
    const events = await streamToEnd(t, run.id);
    expect(events.at(-1)).toMatchObject({ type: 'WORKFLOW_COMPLETED' });
    expectGaplessSeqs(events);
    const chats = chatRequests(fake, firstRequest);
    expect(chats).toHaveLength(3);
    // The conversation went on: the second call carries the first call and its result, the command ran once.
    expect(chatMessages(chats[1]!).map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool']);
    expect(ofType(events, 'SHELL_EXECUTING')).toHaveLength(1);
    expect(dataOf(ofType(events, 'AGENT_STARTED')[1]!)).toMatchObject({ continuing: true, turns: 1 });
    // The paused attempt went on: still attempt 1.
    expect((await controlRun(t, run.id)).steps).toMatchObject([{ status: 'COMPLETED', attempt: 1 }]);
    expect(readFileSync(join(project.path, 'first.txt'), 'utf8')).toBe('first\n');

    // A retry of the agent step starts a new conversation.
    fake.script(AGENT_MODEL, conversationScript(Array.from({ length: 3 }, forever)));
    const failing = await agentRunToEnd(t, project.id, 'Loop', { agent: { maxIterations: 2 } });
    expect(failing.run.status).toBe('FAILED');
    fake.script(AGENT_MODEL, conversationScript([call('finish', { summary: 'Fresh start.' })]));
    const retryFrom = fake.requests.length;
    await t.client.request(RetryRunDocument, { id: failing.created.id, fromStep: null });
    await waitForStatus(t, failing.created.id, 'COMPLETED');
    expect(chatMessages(chatRequests(fake, retryFrom)[0]!).map((m) => m.role)).toEqual(['system', 'user']);
  });
});
