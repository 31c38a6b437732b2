import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { llmGenerate } from '../../src/engine/steps/llm-generate.js';
import { RunStoppedError, StepError, StepTimeoutError, type LlmGenerateStep, type ResolvedStep, type StepSettings } from '../../src/engine/types.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { createTestStepContext, makeTempFolder, type TestStepContext } from './step-context.js';

const MODEL = 'coder:latest';
/** A model with the thinking capability. */
const REASONER = 'qwen3:8b';
let fake: FakeOllama;
let folder: Awaited<ReturnType<typeof makeTempFolder>>;
let root: string;

beforeAll(async () => {
  fake = await startFakeOllama({ models: [MODEL, REASONER] });
});
afterAll(() => fake.close());
beforeEach(async () => {
  folder = await makeTempFolder('llm-');
  root = path.join(folder.path, 'project');
  fake.requests.length = 0;
});
afterEach(() => folder.remove());

function llmStep(step: Partial<ResolvedStep<LlmGenerateStep>> = {}, settings: Partial<StepSettings> = {}): TestStepContext<'LLM_GENERATE'> {
  return createTestStepContext({
    root,
    goal: 'a GraphQL service',
    outputs: { planner: 'PLAN TEXT' },
    step: { type: 'LLM_GENERATE', name: 'coder', model: MODEL, prompt: 'Goal: {goal}\nPlan: {output:planner}', ...step },
    settings: { ollamaBaseUrl: fake.url, heartbeatMs: 60_000, ...settings },
  });
}

async function failure(promise: Promise<unknown>): Promise<StepError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(StepError);
  return error as StepError;
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; waited < 5_000; waited += 10) {
    if (condition()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('LLM_GENERATE', () => {
  it('streams the answer as events in order, ending with metrics', async () => {
    fake.script(MODEL, { tokens: ['Hello', ', ', 'world', '!'], tokenDelayMs: 20 });
    const test = llmStep({ system: 'You write {goal}.', outputFile: 'PLAN.md', saveArtifact: true });
    const result = await llmGenerate(test.ctx);

    expect(fake.requests.at(-1)?.body).toMatchObject({ model: MODEL, prompt: 'Goal: a GraphQL service\nPlan: PLAN TEXT', system: 'You write a GraphQL service.', stream: true });
    const types = test.events.map((event) => event.type);
    expect(types[0]).toBe('LLM_LOADING_MODEL');
    expect(types[1]).toBe('LLM_GENERATING');
    expect(types.slice(2, types.indexOf('LLM_DONE')).every((type) => type === 'LLM_TOKEN')).toBe(true);
    expect(types.slice(types.indexOf('LLM_DONE'))).toEqual(['LLM_DONE', 'ARTIFACT_CREATED']);
    expect(test.events[0]).toEqual({ type: 'LLM_LOADING_MODEL', message: `Loading model: ${MODEL}`, data: { model: MODEL } });
    expect(test.events[1]?.message).toBe(`Generating with ${MODEL}`);
    expect(test.eventsOfType('LLM_TOKEN').map((event) => event.data?.text).join('')).toBe('Hello, world!');

    const done = test.eventsOfType('LLM_DONE')[0]!;
    expect(done.data).toMatchObject({ model: MODEL, characters: 13, tokens: 4, doneReason: 'stop' });
    expect(done.data?.tokensPerSecond).toBeGreaterThan(0);
    expect(typeof done.data?.loadSeconds).toBe('number');
    expect(typeof done.data?.totalSeconds).toBe('number');
    expect(done.message).toMatch(new RegExp(`^Generated 13 characters \\(4 tokens, [\\d.]+ tokens/s\\) with ${MODEL}$`));

    expect(result.output).toBe('Hello, world!');
    expect(result.data).toMatchObject({ model: MODEL, characters: 13, tokens: 4, files: [] });
    expect(await readFile(path.join(root, 'PLAN.md'), 'utf8')).toBe('Hello, world!');
    expect(test.artifacts).toEqual([{ path: 'PLAN.md', kind: 'GENERATED_FILE', sizeBytes: 13 }]);
    expect(test.eventsOfType('LLM_HEARTBEAT')).toEqual([]);
  });

  it('sends heartbeats while the model loads, up to the first token', async () => {
    fake.script(MODEL, { tokens: ['a', 'b', 'c'], firstByteDelayMs: 500 });
    const test = llmStep({}, { heartbeatMs: 100 });
    await llmGenerate(test.ctx);

    const types = test.events.map((event) => event.type);
    const beforeText = test.events.slice(0, types.indexOf('LLM_TOKEN')).filter((event) => event.type === 'LLM_HEARTBEAT');
    expect(beforeText.length).toBeGreaterThanOrEqual(3);
    expect(beforeText[0]?.message).toMatch(new RegExp(`^Still waiting on ${MODEL}… \\d+s elapsed$`));
    expect(beforeText[0]?.data).toEqual({ model: MODEL, elapsedSeconds: expect.any(Number) });
  });

  it('sends heartbeats while the model pauses mid-answer', async () => {
    fake.script(MODEL, { tokens: ['a', 'b'], pauseAfterTokens: { after: 1, ms: 600 } });
    const test = llmStep({}, { heartbeatMs: 100 });
    expect((await llmGenerate(test.ctx)).output).toBe('ab');

    const types = test.events.map((event) => event.type);
    const inPause = test.events.slice(types.indexOf('LLM_TOKEN')).filter((event) => event.type === 'LLM_HEARTBEAT');
    expect(inPause.length).toBeGreaterThanOrEqual(2);
    expect(inPause[0]?.message).toMatch(new RegExp(`^Still waiting on ${MODEL}: no new text for \\d+s \\(\\d+s elapsed\\)$`));
    expect(inPause[0]?.data).toEqual({ model: MODEL, elapsedSeconds: expect.any(Number), silentSeconds: expect.any(Number) });
  });

  it('closes the connection and rethrows the abort reason while the model is still loading', async () => {
    fake.script(MODEL, { stallBeforeHeaders: true });
    const test = llmStep();
    const disconnectsBefore = fake.disconnects;
    const running = llmGenerate(test.ctx);
    await waitFor(() => fake.activeStreams() === 1, 'the request to arrive');

    const reason = new StepTimeoutError(1_000);
    test.abort(reason);
    await expect(running).rejects.toBe(reason);
    await fake.waitForDisconnects(disconnectsBefore + 1);
    await waitFor(() => fake.activeStreams() === 0, 'the stream to close');
  });

  it('closes the connection and rethrows the abort reason in the middle of the answer', async () => {
    fake.script(MODEL, { tokens: Array.from({ length: 100 }, (_, index) => `t${index} `), tokenDelayMs: 30 });
    const test = llmStep();
    const disconnectsBefore = fake.disconnects;
    const running = llmGenerate(test.ctx);
    await waitFor(() => test.eventsOfType('LLM_TOKEN').length > 0, 'the first token');

    const reason = new RunStoppedError();
    test.abort(reason);
    await expect(running).rejects.toBe(reason);
    await fake.waitForDisconnects(disconnectsBefore + 1);
    expect(test.eventsOfType('LLM_DONE')).toEqual([]);
  });

  it('says how to install a model Ollama does not have', async () => {
    const error = await failure(llmGenerate(llmStep({ model: 'nope:7b' }).ctx));
    expect(error.message).toBe("Model 'nope:7b' is not installed in Ollama. Run: ollama pull nope:7b");
    expect(error.retryable).toBe(false);
  });

  it('says Ollama cannot be reached on a closed port', async () => {
    const port = await closedPort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const error = await failure(llmGenerate(llmStep({}, { ollamaBaseUrl: baseUrl }).ctx));
    expect(error.message).toBe(`Cannot reach Ollama at ${baseUrl}: is it running? Try: curl ${baseUrl}/api/tags`);
    expect(error.retryable).toBe(true);
  });

  it('describes errors before and during the answer', async () => {
    fake.script(MODEL, { errorBeforeHeaders: { status: 500, error: 'llama runner process has terminated: exit status 2' } });
    expect((await failure(llmGenerate(llmStep().ctx))).message).toBe('Ollama refused the request (HTTP 500): llama runner process has terminated: exit status 2');

    fake.script(MODEL, { tokens: ['a', 'b', 'c'], errorAfterTokens: { after: 2, error: 'out of memory' } });
    expect((await failure(llmGenerate(llmStep().ctx))).message).toBe(`Ollama reported an error while generating with ${MODEL}: out of memory`);

    fake.script(MODEL, { tokens: ['a', 'b', 'c'], dropAfterTokens: 2 });
    expect((await failure(llmGenerate(llmStep().ctx))).message).toMatch(new RegExp(`^Ollama closed the connection in the middle of the answer from ${MODEL}`));

    fake.script(MODEL, { tokens: ['a', 'b'], endWithoutDone: true });
    expect((await failure(llmGenerate(llmStep().ctx))).message).toMatch(/without its final "done" line/);
  });

  it('writes the files the answer holds into the workspace', async () => {
    const answer = [
      'Here is the project.',
      '=== FILE: pom.xml ===',
      '<project><artifactId>demo</artifactId></project>',
      '=== END FILE ===',
      '**src/main/java/com/example/App.java**',
      '```java',
      'package com.example;',
      'public class App {}',
      '```',
    ].join('\n');
    fake.script(MODEL, { response: answer });
    const test = llmStep({ outputFile: 'project_files.txt', extractFiles: true, saveArtifact: true });
    const result = await llmGenerate(test.ctx);

    expect(await readFile(path.join(root, 'project_files.txt'), 'utf8')).toBe(answer);
    expect(await readFile(path.join(root, 'pom.xml'), 'utf8')).toBe('<project><artifactId>demo</artifactId></project>\n');
    expect(await readFile(path.join(root, 'src/main/java/com/example/App.java'), 'utf8')).toBe('package com.example;\npublic class App {}\n');
    expect(test.artifacts.map((artifact) => [artifact.path, artifact.kind])).toEqual([
      ['project_files.txt', 'GENERATED_FILE'],
      ['pom.xml', 'GENERATED_FILE'],
      ['src/main/java/com/example/App.java', 'GENERATED_FILE'],
    ]);
    expect(result.data?.files).toEqual(['pom.xml', 'src/main/java/com/example/App.java']);
  });

  it('refuses an answer with a path outside the workspace and writes none of its files', async () => {
    const answer = ['=== FILE: pom.xml ===', '<project/>', '=== END FILE ===', '=== FILE: ../escape.txt ===', 'gotcha', '=== END FILE ==='].join('\n');
    fake.script(MODEL, { response: answer });
    const test = llmStep({ outputFile: 'project_files.txt', extractFiles: true });
    const error = await failure(llmGenerate(test.ctx));

    expect(error.message).toBe(`Refused path "../escape.txt": it leads outside the project folder ${root}`);
    expect(error.retryable).toBe(false);
    expect(await readdir(folder.path)).toEqual(['project']);
    expect(await readdir(root)).toEqual(['project_files.txt']);
  });

  it('fails when the answer holds no files, keeping the raw answer', async () => {
    fake.script(MODEL, { response: 'Sorry, I cannot write that project.' });
    const test = llmStep({ outputFile: 'project_files.txt', extractFiles: true });
    const error = await failure(llmGenerate(test.ctx));
    expect(error.message).toContain('=== FILE: path ===');
    expect(error.message).toContain('the raw answer was kept in project_files.txt');
    expect(await readFile(path.join(root, 'project_files.txt'), 'utf8')).toBe('Sorry, I cannot write that project.');
  });

  it('says the answer was cut by the length limit, names what to raise and writes nothing', async () => {
    fake.script(MODEL, { response: '=== FILE: pom.xml ===\n<project>\n  <dependencies>\n', doneReason: 'length' });
    const test = llmStep({ outputFile: 'project_files.txt', extractFiles: true, options: { num_ctx: 4096 } });
    const error = await failure(llmGenerate(test.ctx));
    expect(error.message).toMatch(/^The answer from coder:latest was cut off at the length limit \(Ollama's done_reason "length", after \d+ tokens\), so it was not used and nothing was written\./);
    expect(error.message).toContain('Raise num_predict in the options of step "coder" (the longest answer, in tokens) or num_ctx (the context window, prompt and answer together, now 4096)');
    expect(error.retryable).toBe(false);
    expect(fake.requests.at(-1)?.body.options).toEqual({ num_ctx: 4096 });
    expect(test.eventsOfType('LLM_DONE')[0]?.data).toMatchObject({ doneReason: 'length' });
    await expect(readdir(root)).rejects.toThrow(); // the workspace folder was never even created
  });

  it('fails on a stream line that is not JSON instead of losing its text', async () => {
    fake.script(MODEL, { tokens: ['one ', 'two ', 'three'], rawLineAfterTokens: { after: 1, line: '{"model":"coder:latest","response":"tw' } });
    const test = llmStep({ outputFile: 'PLAN.md' });
    const error = await failure(llmGenerate(test.ctx));
    expect(error.message).toBe(
      'Ollama sent a line that is not JSON in the answer from coder:latest (line 2: "{\\"model\\":\\"coder:latest\\",\\"response\\":\\"tw"); the text it carried would be lost, so the answer was not used. Is something between agent-runner and Ollama (a proxy) changing the stream?',
    );
    expect(error.retryable).toBe(true);
    await expect(readFile(path.join(root, 'PLAN.md'), 'utf8')).rejects.toThrow();
  });

  it('sends think and streams the reasoning apart from the answer', async () => {
    fake.script(REASONER, { thinking: ['The goal ', 'needs a plan.'], tokens: ['# Plan', '\n'], tokenDelayMs: 5 });
    const test = llmStep({ model: REASONER, think: 'high', outputFile: 'PLAN.md' });
    const result = await llmGenerate(test.ctx);

    expect(fake.requests.at(-1)?.body).toMatchObject({ model: REASONER, think: 'high' });
    expect(test.eventsOfType('LLM_THINKING').map((event) => event.data)).toEqual([{ text: 'The goal needs a plan.' }]);
    expect(test.eventsOfType('LLM_THINKING')[0]?.message).toBe('The goal needs a plan.');
    const types = test.events.map((event) => event.type);
    expect(types.indexOf('LLM_THINKING')).toBeLessThan(types.indexOf('LLM_TOKEN'));
    expect(result.output).toBe('# Plan\n');
    expect(await readFile(path.join(root, 'PLAN.md'), 'utf8')).toBe('# Plan\n');
    expect(test.eventsOfType('LLM_DONE')[0]).toMatchObject({ data: { characters: 7, thinkingCharacters: 22 } });
    expect(test.eventsOfType('LLM_DONE')[0]?.message).toMatch(/^Generated 7 characters after 22 characters of reasoning \(/);
  });

  it('does not send think unless the step sets it, and sends false', async () => {
    fake.script(MODEL, { response: 'ok' });
    await llmGenerate(llmStep().ctx);
    expect(fake.requests.at(-1)?.body).not.toHaveProperty('think');
    await llmGenerate(llmStep({ think: false }).ctx);
    expect(fake.requests.at(-1)?.body).toMatchObject({ think: false });
  });

  it('sets inline <think> reasoning apart: not in the output, the output file or the extracted files', async () => {
    const answer = [
      '<think>',
      'Draft: === FILE: rejected.txt ===',
      'no',
      '=== END FILE ===',
      '</think>',
      '',
      '=== FILE: pom.xml ===',
      '<project/>',
      '=== END FILE ===',
      '',
    ].join('\n');
    fake.script(MODEL, { tokens: answer.match(/[\s\S]{1,3}/g)! });
    const test = llmStep({ outputFile: 'project_files.txt', extractFiles: true });
    const result = await llmGenerate(test.ctx);

    const kept = '=== FILE: pom.xml ===\n<project/>\n=== END FILE ===\n';
    expect(result.output).toBe(kept);
    expect(await readFile(path.join(root, 'project_files.txt'), 'utf8')).toBe(kept);
    expect((await readdir(root)).sort()).toEqual(['pom.xml', 'project_files.txt']);
    expect(test.eventsOfType('LLM_THINKING').map((event) => event.data?.text).join('')).toBe('\nDraft: === FILE: rejected.txt ===\nno\n=== END FILE ===\n');
    expect(test.eventsOfType('LLM_TOKEN').map((event) => event.data?.text).join('')).toBe(kept);
  });

  it('fails, retryably, when nothing is left of the answer once the reasoning is set apart', async () => {
    fake.script(REASONER, { thinking: ['Thinking ', 'and thinking.'], tokens: [] });
    const error = await failure(llmGenerate(llmStep({ model: REASONER, think: true, outputFile: 'PLAN.md' }).ctx));
    expect(error.message).toBe(
      'The answer from qwen3:8b was empty once its reasoning was set apart (22 characters of reasoning, in the LLM_THINKING events): the model reasoned but gave no answer. Another attempt may answer; if not, turn thinking off for step "coder" (think: false) or choose another model.',
    );
    expect(error.retryable).toBe(true);

    fake.script(MODEL, { response: '<think>All of it is reasoning' });
    expect((await failure(llmGenerate(llmStep().ctx))).message).toMatch(/^The answer from coder:latest was empty once its reasoning was set apart \(22 characters/);
  });

  it('says to remove think from the step when the model cannot think', async () => {
    const error = await failure(llmGenerate(llmStep({ think: true }).ctx));
    expect(error.message).toBe(
      'Model \'coder:latest\' does not support thinking (Ollama: "coder:latest" does not support thinking): remove "think" from step "coder" in the workflow, or choose a reasoning model (qwen3, deepseek-r1, gpt-oss …) for it',
    );
    expect(error.retryable).toBe(false);
  });

  it('reports every block it does not write, and never overwrites its own output file', async () => {
    const answer = [
      '=== FILE: project_files.txt ===',
      'overwritten!',
      '=== END FILE ===',
      '=== FILE: ./sub/../pom.xml ===',
      '<project/>',
      '=== END FILE ===',
      'Set the port in `application.properties`',
      '```properties',
      'quarkus.http.port=1',
      '```',
      '### src/App.java',
      '```java',
      'class App {',
    ].join('\n');
    fake.script(MODEL, { response: answer });
    const test = llmStep({ outputFile: 'project_files.txt', extractFiles: true, saveArtifact: true });
    const result = await llmGenerate(test.ctx);

    expect(await readFile(path.join(root, 'project_files.txt'), 'utf8')).toBe(answer);
    expect(test.eventsOfType('FILE_BLOCK_SKIPPED').map((event) => [event.message, event.data])).toEqual([
      [
        "Did not write project_files.txt (the block at line 1 of the answer): it is the step's own output file, which holds the model's whole raw answer",
        { path: 'project_files.txt', line: 1, reason: "it is the step's own output file, which holds the model's whole raw answer" },
      ],
      [expect.stringMatching(/^Did not write application.properties \(the block at line 8 of the answer\): the line before it mentions this path/), expect.objectContaining({ path: 'application.properties', line: 8 })],
      [
        'Did not write src/App.java (the block at line 12 of the answer): the answer ended before its closing fence, so the file would be incomplete',
        expect.objectContaining({ path: 'src/App.java', line: 12 }),
      ],
    ]);
    expect(result.data).toMatchObject({ files: ['sub/../pom.xml'], filesFrom: 'text' });
    expect((result.data?.skippedBlocks as unknown[]).length).toBe(3);
    expect(result.summary).toBe(`Generated ${answer.length} characters with coder:latest, wrote 1 file, skipped 3 blocks (see FILE_BLOCK_SKIPPED)`);
  });

  it('asks for structured output and writes the files of a JSON answer', async () => {
    const json = JSON.stringify({ files: [{ path: 'pom.xml', content: '<project/>\n' }, { path: 'src/App.java', content: 'class App {}\n' }, { path: '', content: 'x' }] });
    fake.script(MODEL, { response: json });
    const test = llmStep({ extractFiles: true, structuredOutput: true, options: { temperature: 0 } });
    const result = await llmGenerate(test.ctx);

    const request = fake.requests.at(-1)!.body;
    expect(request.format).toEqual({
      type: 'object',
      properties: { files: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, content: { type: 'string' } }, required: ['path', 'content'] } } },
      required: ['files'],
    });
    expect(request.prompt).toContain('Answer with JSON only, in this shape: {"files": [{"path"');
    expect(request.options).toEqual({ temperature: 0 });
    expect(await readFile(path.join(root, 'src/App.java'), 'utf8')).toBe('class App {}\n');
    expect(result.data).toMatchObject({ files: ['pom.xml', 'src/App.java'], filesFrom: 'json' });
    expect(test.eventsOfType('FILE_BLOCK_SKIPPED').map((event) => event.message)).toEqual([
      'Did not write a file (entry 3 of the JSON answer\'s files): a "files" entry needs a non-empty string "path" and a string "content"',
    ]);
  });

  it('falls back to the text forms when a structured answer is not JSON', async () => {
    fake.script(MODEL, { response: '=== FILE: a.txt ===\nA\n=== END FILE ===\n' });
    const result = await llmGenerate(llmStep({ extractFiles: true, structuredOutput: true }).ctx);
    expect(result.data).toMatchObject({ files: ['a.txt'], filesFrom: 'text' });
  });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
