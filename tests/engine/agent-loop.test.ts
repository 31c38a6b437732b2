/**
 * The agent loop against an in-memory step memory and the fake Ollama: how it continues a stored
 * conversation (calls a crash cut off: reads made again, others answered as interrupted; a finish
 * already asked for ends it at once), where it pauses, and how directives enter the conversation.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runAgent } from '../../src/engine/agent/loop.js';
import { StepPausedError, type AgentMessage, type AgentSettings } from '../../src/engine/types.js';
import { chatMessages, conversationScript, startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { AGENT_MODEL, AGENT_MODELS, call } from '../agent/support.js';
import { createTestStepContext, makeTempFolder } from './step-context.js';

const SETTINGS: AgentSettings = {
  maxIterations: 10,
  timeoutSeconds: 60,
  tokenBudget: 1_000_000,
  numCtx: 32_768,
  think: undefined,
  toolResultMaxChars: 10_000,
  callTimeoutSeconds: 30,
  commandTimeoutSeconds: 30,
};

let fake: FakeOllama;
let folder: { path: string; remove(): Promise<void> };

beforeAll(async () => {
  fake = await startFakeOllama({ models: AGENT_MODELS });
});
afterAll(() => fake.close());
beforeEach(async () => {
  folder = await makeTempFolder('agent-loop-');
  writeFileSync(join(folder.path, 'a.txt'), 'alpha\n');
});
afterEach(() => folder.remove());

function agentContext(conversation: AgentMessage[] = [], checkpoint?: () => 'continue' | 'pause' | 'shutdown') {
  return createTestStepContext({
    root: folder.path,
    step: { type: 'AGENT', name: 'agent', model: AGENT_MODEL, agent: SETTINGS },
    settings: { ollamaBaseUrl: fake.url },
    conversation,
    checkpoint,
  });
}

const chatsSince = (from: number) => fake.requests.slice(from).filter((r) => r.path === '/api/chat');

/** A conversation as a crash leaves it: the answer of turn 1 stored, its calls' results not. */
function cutOff(calls: AgentMessage['toolCalls']): AgentMessage[] {
  return [
    { role: 'system', content: 'system prompt' },
    { role: 'user', content: 'Task:\nDo it' },
    { role: 'assistant', content: '', toolCalls: calls, usage: { promptTokens: 100, outputTokens: 5 } },
  ];
}

describe('the agent loop', () => {
  it('after a crash, reads again the calls that only read, and tells the model the others were interrupted', async () => {
    fake.script(AGENT_MODEL, conversationScript([{}, call('finish', { summary: 'ok' })]));
    const test = agentContext(
      cutOff([
        { id: 'turn1-call1', name: 'read_file', arguments: { path: 'a.txt' } },
        { id: 'turn1-call2', name: 'write_file', arguments: { path: 'b.txt', content: 'beta' } },
      ]),
    );
    const from = fake.requests.length;
    const result = await runAgent(test.ctx);
    expect(result.summary).toBe('Finished after 2 turns: ok');
    const tools = test.conversation.filter((m) => m.role === 'tool').slice(0, 2);
    expect(tools.map((m) => [m.callId, m.content.split('\n')[0]])).toEqual([
      ['turn1-call1', 'a.txt (1 lines):'],
      ['turn1-call2', 'This call was interrupted: the server stopped while it ran, and it did not report a result. It may or may not have taken effect: check (read the files, look at the state) before calling it again.'],
    ]);
    // The write was not made again; the model was asked once more, with both answers.
    expect(test.artifacts).toEqual([]);
    expect(chatMessages(chatsSince(from)[0]!).map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'tool']);
    expect(test.eventsOfType('AGENT_STARTED')[0]!.data).toMatchObject({ continuing: true, turns: 1, tokens: 105 });
  });

  it('ends at once, without a model call, when the stored answer had already called finish', async () => {
    const test = agentContext(cutOff([{ id: 'turn1-call1', name: 'finish', arguments: { summary: 'All done before the crash.' } }]));
    const from = fake.requests.length;
    expect(await runAgent(test.ctx)).toMatchObject({ output: 'All done before the crash.', data: { finishedBy: 'finish', turns: 1 } });
    expect(chatsSince(from)).toEqual([]);
  });

  it('pauses at a turn boundary with the conversation stored, and takes directives in before the next call', async () => {
    let answer: 'continue' | 'pause' = 'pause';
    const test = agentContext([], () => answer);
    const from = fake.requests.length;
    await expect(runAgent(test.ctx)).rejects.toEqual(new StepPausedError('before turn 1'));
    expect(test.conversation.map((m) => m.role)).toEqual(['system', 'user']);
    expect(chatsSince(from)).toEqual([]);

    // Resumed (a new execution on the same memory), with a directive waiting.
    answer = 'continue';
    fake.script(AGENT_MODEL, conversationScript([call('finish', { summary: 'Followed the directive.' })]));
    const resumed = agentContext(test.conversation, () => answer);
    resumed.directives.push('Be brief.');
    expect((await runAgent(resumed.ctx)).output).toBe('Followed the directive.');
    expect(chatMessages(chatsSince(from)[0]!).at(-1)).toEqual({ role: 'user', content: 'Directive from the user: Be brief.' });
    expect(resumed.eventsOfType('AGENT_DIRECTIVE')[0]!.data).toMatchObject({ state: 'delivered', turn: 1, text: 'Be brief.' });
  });

  it('finishes with the answer when the model replies without a tool call, its inline reasoning set apart', async () => {
    fake.script(AGENT_MODEL, conversationScript([{ tokens: ['<think>hmm</think>', 'Nothing ', 'to change.'] }]));
    const test = agentContext();
    expect(await runAgent(test.ctx)).toMatchObject({ output: 'Nothing to change.', data: { finishedBy: 'answer', turns: 1 } });
    // Reasoning written inline is set apart, as for LLM steps.
    expect(test.eventsOfType('LLM_THINKING').map((e) => e.data)).toEqual([{ text: 'hmm' }]);
    expect(test.conversation.at(-1)).toMatchObject({ role: 'assistant', content: 'Nothing to change.', thinking: 'hmm' });
  });
});
