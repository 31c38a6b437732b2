/**
 * Agent runs through the real server, with the fake Ollama speaking tool calls as the real API does
 * (structured `tool_calls` streamed on a line of their own): a scripted agent that lists, reads,
 * edits a file, runs a command and finishes; a model without tools refused before any chat call;
 * thinking streamed; calls written as text (qwen3-coder's form, JSON) parsed; malformed calls
 * answered; path escapes refused; an AGENT step inside a workflow; bad options refused.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AgentDefaultsDocument, CreateRunDocument } from '../../src/client/generated/graphql.js';
import { chatMessages, conversationScript, startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { expectRefused } from '../control/support.js';
import { createProject, expectGaplessSeqs, ofType, runToEnd, testWorkflow } from '../workflow/support.js';
import {
  AGENT_MODEL,
  AGENT_MODELS,
  NO_TOOLS_MODEL,
  OTHER_TOOLS_MODEL,
  THINKING_MODEL,
  agentRunToEnd,
  call,
  chatRequests,
  dataOf,
  qwenTextCall,
  toolMessages,
} from './support.js';

const fixWorkflow = testWorkflow('fix-with-agent', [
  { name: 'check', type: 'SHELL_COMMAND', command: 'echo "value is 1"', continueOnError: true },
  { name: 'fixer', type: 'AGENT', description: 'Fix it using {model}', model: AGENT_MODEL, task: 'Make the check pass. It printed: {output:check}', maxIterations: 5 },
]);

let fake: FakeOllama;
let t: TestApp;
let firstRequest = 0;

beforeAll(async () => {
  fake = await startFakeOllama({ models: AGENT_MODELS });
  t = await startTestApp({ ollamaBaseUrl: fake.url, streamCoalesceMs: 10 }, { workflows: [fixWorkflow] });
});

afterAll(async () => {
  await t?.close();
  await fake?.close();
});

beforeEach(() => {
  firstRequest = fake.requests.length;
});

/** A small project: a function with a bug and a test script that checks it. */
function smallProject(path: string): void {
  mkdirSync(join(path, 'src'), { recursive: true });
  writeFileSync(join(path, 'src', 'greet.js'), "export function greet(name) {\n  return 'Hello ' + name;\n}\n");
  writeFileSync(join(path, 'test.sh'), 'grep -q "Hello, " src/greet.js && echo PASS || { echo FAIL; exit 1; }\n');
}

describe('an agent run', () => {
  it('lists, reads, edits a file, runs a command and finishes: every step stored, streamed and sent back to the model', async () => {
    const project = await createProject(t);
    smallProject(project.path);
    fake.script(
      AGENT_MODEL,
      conversationScript([
        { ...call('list_files'), tokens: ['Let me look ', 'at the project.'] },
        call('read_file', { path: 'src/greet.js' }),
        call('edit_file', { path: 'src/greet.js', old_text: "'Hello ' + name", new_text: "'Hello, ' + name" }),
        call('run_command', { command: 'sh test.sh' }),
        call('finish', { summary: 'The greeting has its comma; test.sh passes.' }),
      ]),
    );

    const { created, events, run } = await agentRunToEnd(t, project.id, 'Fix the greeting so that test.sh passes');
    expect(created).toMatchObject({ runType: 'AGENT', workflowName: null, models: [{ step: 'agent', model: AGENT_MODEL, source: 'WORKFLOW_DEFAULT' }] });
    expect(created.steps).toMatchObject([{ name: 'agent', type: 'AGENT', description: 'Work on the goal with tools using qwen3-coder' }]);
    expect(run.status).toBe('COMPLETED');
    expect(run.steps).toMatchObject([{ name: 'agent', status: 'COMPLETED', attempt: 1 }]);
    expect(readFileSync(join(project.path, 'src', 'greet.js'), 'utf8')).toBe("export function greet(name) {\n  return 'Hello, ' + name;\n}\n");
    expect(run.artifacts.map((a) => [a.path, a.kind])).toEqual([['src/greet.js', 'GENERATED_FILE']]);

    expectGaplessSeqs(events);
    expect(events.at(-1)).toMatchObject({ type: 'WORKFLOW_COMPLETED', message: 'Agent run completed: Finished after 5 turns: The greeting has its comma; test.sh passes.' });
    const started = ofType(events, 'AGENT_STARTED')[0]!;
    expect(dataOf(started)).toMatchObject({
      model: AGENT_MODEL,
      think: null,
      continuing: false,
      limits: { maxIterations: 40, tokenBudget: 400_000, timeoutSeconds: 1800, numCtx: 32_768, toolResultMaxChars: 12_000 },
      tools: ['list_files', 'read_file', 'write_file', 'edit_file', 'search', 'run_command', 'finish'],
    });
    expect(ofType(events, 'AGENT_TOOL_CALL').map((e) => dataOf(e).name)).toEqual(['list_files', 'read_file', 'edit_file', 'run_command', 'finish']);
    const results = ofType(events, 'AGENT_TOOL_RESULT');
    expect(results.map((e) => [dataOf(e).name, dataOf(e).ok, dataOf(e).truncated])).toEqual([
      ['list_files', true, false],
      ['read_file', true, false],
      ['edit_file', true, false],
      ['run_command', true, false],
      ['finish', true, false],
    ]);
    expect(dataOf(results[0]!).content).toBe('src/\nsrc/greet.js\ntest.sh');
    expect(dataOf(results[3]!)).toMatchObject({ exitCode: 0, command: 'sh test.sh', content: 'Exit code: 0\nPASS\n' });
    expect(ofType(events, 'SHELL_OUTPUT').map((e) => dataOf(e).text).join('')).toBe('PASS\n');
    // The text of the first turn streamed; each turn's usage recorded.
    expect(ofType(events, 'LLM_TOKEN').map((e) => dataOf(e).text).join('')).toBe('Let me look at the project.');
    const turns = ofType(events, 'AGENT_TURN');
    expect(turns.map((e) => dataOf(e).turn)).toEqual([1, 2, 3, 4, 5]);
    for (const turn of turns) expect(dataOf<{ promptTokens: number; outputTokens: number }>(turn).promptTokens).toBeGreaterThan(100);
    expect(dataOf(turns.at(-1)!).totals).toMatchObject({ turns: 5 });

    // What the model was sent: tools and the context window each time, the results as tool messages.
    const show = fake.requests.slice(firstRequest).findIndex((r) => r.path === '/api/show');
    const firstChat = fake.requests.slice(firstRequest).findIndex((r) => r.path === '/api/chat');
    expect(show).toBeGreaterThanOrEqual(0);
    expect(show).toBeLessThan(firstChat);
    const chats = chatRequests(fake, firstRequest);
    expect(chats).toHaveLength(5);
    for (const chat of chats) {
      expect(chat.model).toBe(AGENT_MODEL);
      expect(chat.stream).toBe(true);
      expect(chat.body.options).toEqual({ num_ctx: 32_768 });
      expect(chat.body.think).toBeUndefined();
      expect(chat.body.tools.map((tool: { function: { name: string } }) => tool.function.name)).toEqual(['list_files', 'read_file', 'write_file', 'edit_file', 'search', 'run_command', 'finish']);
    }
    const firstMessages = chatMessages(chats[0]!);
    expect(firstMessages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(firstMessages[1]!.content).toBe('Task:\nFix the greeting so that test.sh passes');
    const last = chats[4]!;
    expect(toolMessages(last).map(([name]) => name)).toEqual(['list_files', 'read_file', 'edit_file', 'run_command']);
    expect(toolMessages(last)[1]![1]).toContain("return 'Hello ' + name;");
    const assistantCalls = chatMessages(last).filter((m) => m.role === 'assistant').map((m) => (m.tool_calls as Array<{ function: { name: string } }>)[0]!.function.name);
    expect(assistantCalls).toEqual(['list_files', 'read_file', 'edit_file', 'run_command']);
  });

  it('refuses a model without tools before any chat call, naming the installed models that have them', async () => {
    const project = await createProject(t);
    const { events, run } = await agentRunToEnd(t, project.id, 'Anything', { models: [{ step: 'agent', model: NO_TOOLS_MODEL }] });
    expect(run.status).toBe('FAILED');
    expect(run.error).toContain(`Model '${NO_TOOLS_MODEL}' does not support tool calling`);
    expect(run.error).toContain(`Installed models that support tools: ${AGENT_MODEL}, ${THINKING_MODEL}, ${OTHER_TOOLS_MODEL}`);
    expect(run.error).toContain('OLLAMA_AGENT_MODEL');
    expect(chatRequests(fake, firstRequest)).toHaveLength(0);
    expect(ofType(events, 'STEP_FAILED')[0]!.data).toMatchObject({ retryable: false, modelsWithTools: [AGENT_MODEL, THINKING_MODEL, OTHER_TOOLS_MODEL] });

    // The fake answers like Ollama if asked anyway.
    const response = await fetch(`${fake.url}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({ model: NO_TOOLS_MODEL, messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'x' } }] }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: `"${NO_TOOLS_MODEL}" does not support tools` });
  });

  it('refuses an unknown model with the pull command, and a model that cannot think when think is asked for', async () => {
    const project = await createProject(t);
    const missing = await agentRunToEnd(t, project.id, 'Anything', { models: [{ step: 'agent', model: 'nope:1b' }] });
    expect(missing.run.error).toBe("Step \"agent\" failed: Model 'nope:1b' is not installed in Ollama. Run: ollama pull nope:1b");
    const noThinking = await agentRunToEnd(t, project.id, 'Anything', { agent: { think: 'ON' } });
    expect(noThinking.run.error).toContain(`Model '${AGENT_MODEL}' does not support thinking`);
    expect(chatRequests(fake, firstRequest)).toHaveLength(0);
  });

  it('asks a thinking model to think and streams its reasoning as LLM_THINKING, apart from the text', async () => {
    const project = await createProject(t);
    fake.script(
      THINKING_MODEL,
      conversationScript([{ thinking: ['The user wants ', 'a summary.'], ...call('finish', { summary: 'Nothing to do.' }), tokens: ['Done.'] }]),
    );
    const { events, run } = await agentRunToEnd(t, project.id, 'Say you are done', { models: [{ step: 'agent', model: THINKING_MODEL }] });
    expect(run.status).toBe('COMPLETED');
    expect(chatRequests(fake, firstRequest)[0]!.body.think).toBe(true);
    expect(dataOf(ofType(events, 'AGENT_STARTED')[0]!).think).toBe(true);
    expect(ofType(events, 'LLM_THINKING').map((e) => dataOf(e).text).join('')).toBe('The user wants a summary.');
    expect(ofType(events, 'LLM_TOKEN').map((e) => dataOf(e).text).join('')).toBe('Done.');
    const thinkingSeqs = ofType(events, 'LLM_THINKING').map((e) => e.seq);
    expect(Math.max(...thinkingSeqs)).toBeLessThan(ofType(events, 'LLM_TOKEN')[0]!.seq);

    // think: OFF is sent as false.
    fake.script(THINKING_MODEL, conversationScript([call('finish', { summary: 'ok' })]));
    const before = fake.requests.length;
    await agentRunToEnd(t, project.id, 'Again', { models: [{ step: 'agent', model: THINKING_MODEL }], agent: { think: 'OFF' } });
    expect(chatRequests(fake, before)[0]!.body.think).toBe(false);
  });

  it('reads tool calls written as text in qwen3-coder’s form and as JSON, and says so in the events', async () => {
    const project = await createProject(t);
    fake.script(
      AGENT_MODEL,
      conversationScript([
        { response: `I will write the file.\n${qwenTextCall('write_file', { path: 'notes/hello.txt', content: 'line one\nline two' })}` },
        { response: '```json\n{"name": "read_file", "arguments": {"path": "notes/hello.txt", "start_line": 2}}\n```' },
        { response: qwenTextCall('finish', { summary: 'Wrote notes/hello.txt.' }) },
      ]),
    );
    const { events, run } = await agentRunToEnd(t, project.id, 'Write a note');
    expect(run.status).toBe('COMPLETED');
    expect(readFileSync(join(project.path, 'notes', 'hello.txt'), 'utf8')).toBe('line one\nline two');
    const calls = ofType(events, 'AGENT_TOOL_CALL');
    expect(calls.map((e) => [dataOf(e).name, dataOf(e).textForm])).toEqual([
      ['write_file', true],
      ['read_file', true],
      ['finish', true],
    ]);
    expect(calls[0]!.message).toContain('(read from the text)');
    expect(dataOf(calls[1]!).arguments).toEqual({ path: 'notes/hello.txt', start_line: 2 });
    expect(ofType(events, 'AGENT_TURN').map((e) => [dataOf(e).textForm, e.message.includes('XML-like'), e.message.includes('JSON form')])).toEqual([
      [true, true, false],
      [true, false, true],
      [true, true, false],
    ]);
    expect(dataOf(ofType(events, 'AGENT_TOOL_RESULT')[1]!).content).toBe('notes/hello.txt, lines 2-2 of 2:\nline two');
    // The model's own text is sent back as it wrote it (no structured calls added).
    const lastMessages = chatMessages(chatRequests(fake, firstRequest)[2]!);
    expect(lastMessages.filter((m) => m.role === 'assistant').every((m) => m.tool_calls === undefined)).toBe(true);
  });

  it('answers malformed and invalid calls with an error the model can act on, and ends the run after three unusable turns in a row', async () => {
    // Unreadable, invalid arguments, then a good call (the count of unusable turns starts again), an unknown tool.
    const project = await createProject(t);
    fake.script(
      AGENT_MODEL,
      conversationScript([
        { response: '<function=read_file>\n<parameter=path>\nREADME.md\n' },
        call('read_file', { file: 'README.md' }),
        call('list_files'),
        call('no_such_tool'),
        call('finish', { summary: 'Gave up politely.' }),
      ]),
    );
    const { events, run } = await agentRunToEnd(t, project.id, 'Read the README');
    expect(run.status).toBe('COMPLETED');
    const chats = chatRequests(fake, firstRequest);
    const second = chatMessages(chats[1]!).at(-1)!;
    expect(second.role).toBe('user');
    expect(second.content).toContain('the call could not be read');
    expect(second.content).toContain('without its </function>');
    expect(toolMessages(chats[2]!).at(-1)![1]).toContain('Invalid arguments for read_file');
    expect(toolMessages(chats[2]!).at(-1)![1]).toContain('unknown argument "file"');
    expect(toolMessages(chats[4]!).at(-1)![1]).toContain('There is no tool named "no_such_tool"');
    expect(ofType(events, 'AGENT_TOOL_RESULT').map((e) => dataOf(e).ok)).toEqual([false, false, true, false, true]);
    expect(dataOf(ofType(events, 'AGENT_TOOL_CALL')[0]!)).toMatchObject({ malformed: true, textForm: true });

    // Three unusable turns in a row end the run, saying why.
    fake.script(AGENT_MODEL, conversationScript([{ response: '<tool_call>oops</tool_call>' }, { response: '<tool_call>oops</tool_call>' }, { response: '<tool_call>oops</tool_call>' }]));
    const failed = await agentRunToEnd(t, project.id, 'Again');
    expect(failed.run.status).toBe('FAILED');
    expect(failed.run.error).toContain(`The model ${AGENT_MODEL} wrote tool calls that could not be used 3 turns in a row`);
    expect(dataOf(ofType(failed.events, 'AGENT_LIMIT_REACHED')[0]!)).toMatchObject({ limit: 'unusableToolCalls', used: 3, max: 3 });
  });

  it('refuses paths that lead outside the project folder and goes on; nothing outside is read or written', async () => {
    const project = await createProject(t);
    mkdirSync(project.path, { recursive: true });
    const outside = join(t.dir, 'outside-secret.txt');
    writeFileSync(outside, 'classified 42');
    const { symlinkSync } = await import('node:fs');
    symlinkSync(t.dir, join(project.path, 'escape'));
    fake.script(
      AGENT_MODEL,
      conversationScript([
        { toolCalls: [{ name: 'read_file', arguments: { path: '../outside-secret.txt' } }, { name: 'write_file', arguments: { path: outside, content: 'overwritten' } }] },
        { toolCalls: [{ name: 'edit_file', arguments: { path: 'escape/outside-secret.txt', old_text: 'classified', new_text: 'leaked' } }, { name: 'list_files', arguments: { path: '..' } }] },
        call('finish', { summary: 'Could not leave the folder.' }),
      ]),
    );
    const { events, run } = await agentRunToEnd(t, project.id, 'Read the secret next door');
    expect(run.status).toBe('COMPLETED');
    expect(readFileSync(outside, 'utf8')).toBe('classified 42');
    const results = ofType(events, 'AGENT_TOOL_RESULT').slice(0, 4);
    expect(results.map((e) => dataOf(e).ok)).toEqual([false, false, false, false]);
    for (const result of results) expect(dataOf<{ content: string }>(result).content).toMatch(/^Error: Refused (absolute )?path .*(leads outside the project folder|paths must be relative)/);
    expect(dataOf<{ content: string }>(results[2]!).content).toContain('through a symbolic link');
    expect(chatRequests(fake, firstRequest).flatMap(toolMessages).some(([, content]) => content.includes('classified 42'))).toBe(false);
  });

  it('runs an AGENT step inside a workflow, its task filled in from an earlier step', async () => {
    const project = await createProject(t);
    fake.script(AGENT_MODEL, conversationScript([call('write_file', { path: 'fixed.txt', content: 'value is 2' }), call('finish', { summary: 'Fixed.' })]));
    const { events, run } = await runToEnd(t, project.id, { workflowName: 'fix-with-agent', agent: { maxIterations: 4 } }, 'Fix the value');
    expect(run.status).toBe('COMPLETED');
    expect(run.steps.map((s) => [s.name, s.type, s.status])).toEqual([
      ['check', 'SHELL_COMMAND', 'COMPLETED'],
      ['fixer', 'AGENT', 'COMPLETED'],
    ]);
    expect(run.models).toEqual([{ step: 'fixer', model: AGENT_MODEL, source: 'WORKFLOW_DEFAULT' }]);
    expect(chatMessages(chatRequests(fake, firstRequest)[0]!)[1]!.content).toBe('Task:\nMake the check pass. It printed: value is 1\n');
    expect(dataOf(ofType(events, 'AGENT_STARTED')[0]!).limits).toMatchObject({ maxIterations: 4 });
    expect(ofType(events, 'AGENT_TOOL_CALL').every((e) => e.stepName === 'fixer')).toBe(true);
    expect(events.at(-1)!.message).toBe('Workflow fix-with-agent completed: 2 steps');
  });

  it('refuses bad agent options naming the argument, and tells the defaults', async () => {
    const project = await createProject(t);
    const create = (options: Record<string, unknown>, runType: 'AGENT' | 'WORKFLOW' = 'AGENT') =>
      t.client.request(CreateRunDocument, { input: { projectId: project.id, goal: 'x', runType, options } });
    await expectRefused(create({ agent: { maxIterations: 0 } }), 'BAD_USER_INPUT', 'options.agent.maxIterations must be a whole number from 1 to 1000');
    await expectRefused(create({ agent: { numCtx: 10 } }), 'BAD_USER_INPUT', 'options.agent.numCtx');
    await expectRefused(create({ workflowName: 'quarkus-bootstrap-v1' }), 'BAD_USER_INPUT', 'An AGENT run executes no workflow');
    await expectRefused(create({ agent: { maxIterations: 3 } }, 'WORKFLOW'), 'BAD_USER_INPUT', 'workflow quarkus-bootstrap-v1 has none');
    await expectRefused(create({ models: [{ step: 'planner', model: 'x' }] }), 'BAD_USER_INPUT', 'Its steps that call a model (LLM_GENERATE and AGENT, loops\' steps included): agent.');

    const { agentDefaults } = await t.client.request(AgentDefaultsDocument);
    expect(agentDefaults).toEqual({
      model: { step: 'agent', model: AGENT_MODEL, source: 'WORKFLOW_DEFAULT' },
      maxIterations: 40,
      timeoutSeconds: 1800,
      tokenBudget: 400_000,
      numCtx: 32_768,
      toolResultMaxChars: 12_000,
      callTimeoutSeconds: 300,
      commandTimeoutSeconds: 600,
      tools: ['list_files', 'read_file', 'write_file', 'edit_file', 'search', 'run_command', 'finish'],
    });
  });
});
