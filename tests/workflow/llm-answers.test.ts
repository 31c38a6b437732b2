/**
 * What a model's answer can be, through the real server and the fake Ollama: reasoning models
 * (the `thinking` field, inline `<think>`), streams that cannot be trusted (a line that is not JSON,
 * an answer cut at the length limit), the shapes real coder answers take, structured output, and
 * who ended an answer that ended early. Each run is followed to its end over the subscription.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EventFieldsFragment } from '../../src/client/generated/graphql.js';
import type { LlmGenerateStep } from '../../src/engine/types.js';
import type { WorkflowSpec } from '../../src/engine/workflows/registry.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, expectGaplessSeqs, ofType, runToEnd, testWorkflow, tokensOf, type FullRun } from './support.js';

const REASONER = 'qwen3:8b';
const PLAIN = 'gemma3:27b';
const CODER = 'qwen3-coder:latest';

const PLAN = '# Plan\n\nA GraphQL service.\n';
const REASONING = ['The user wants a service. ', 'Maybe a pom.xml first:\n=== FILE: draft.xml ===\n<no/>\n=== END FILE ===\n', 'No, plan first.'];

type StepInput = WorkflowSpec['steps'][number];

const planner = (step: Partial<LlmGenerateStep> = {}): StepInput => ({
  name: 'planner',
  type: 'LLM_GENERATE',
  model: REASONER,
  prompt: 'Plan: {goal}',
  outputFile: 'PLAN.md',
  saveArtifact: true,
  ...step,
});
const coder = (step: Partial<LlmGenerateStep> = {}): StepInput => ({
  name: 'coder',
  type: 'LLM_GENERATE',
  model: CODER,
  prompt: 'Code this: {goal}',
  outputFile: 'project_files.txt',
  extractFiles: true,
  saveArtifact: true,
  ...step,
});

const WORKFLOWS = [
  testWorkflow('think-plan-code', [planner({ think: true }), coder({ prompt: 'Code this plan:\n{output:planner}' })]),
  testWorkflow('think-plan', [planner({ think: true, retry: { maxAttempts: 2, backoffSeconds: 0, backoffFactor: 1 } })]),
  testWorkflow('plan', [planner({ model: PLAIN })]),
  testWorkflow('think-plain', [planner({ model: PLAIN, think: 'high' })]),
  testWorkflow('code', [coder()]),
  testWorkflow('code-limited', [coder({ options: { num_predict: 8, num_ctx: 8192 } })]),
  testWorkflow('code-structured', [coder({ structuredOutput: true, options: { temperature: 0 } })]),
];

function stepFailedOf(events: EventFieldsFragment[]): EventFieldsFragment {
  const failed = ofType(events, 'STEP_FAILED');
  expect(failed).toHaveLength(1);
  return failed[0]!;
}

function expectFailed(run: FullRun, events: EventFieldsFragment[], step: string, message: string): void {
  expectGaplessSeqs(events);
  expect(run.status).toBe('FAILED');
  expect(run.error).toBe(`Step "${step}" failed: ${message}`);
  expect(stepFailedOf(events).data).toMatchObject({ error: message });
}

describe('model answers through the server', () => {
  let fake: FakeOllama;
  let t: TestApp;

  beforeAll(async () => {
    fake = await startFakeOllama({ models: [REASONER, PLAIN, CODER] });
    t = await startTestApp({ ollamaBaseUrl: fake.url, llmHeartbeatMs: 200, streamCoalesceMs: 20 }, { workflows: WORKFLOWS });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
  });
  afterEach(() => {
    for (const model of [REASONER, PLAIN, CODER]) fake.script(model, {});
  });

  describe('reasoning models', () => {
    it('streams the reasoning as LLM_THINKING, apart from the answer: PLAN.md, the step output and the next prompt stay clean', async () => {
      fake.script(REASONER, { thinking: REASONING, tokens: tokensOf(PLAN, 1), tokenDelayMs: 5 });
      fake.script(CODER, { response: '=== FILE: pom.xml ===\n<project/>\n=== END FILE ===\n' });
      const project = await createProject(t);
      const { run, events } = await runToEnd(t, project.id, { workflowName: 'think-plan-code' });

      expect(run.status).toBe('COMPLETED');
      expect(fake.requests.find((r) => r.model === REASONER)?.body).toMatchObject({ think: true });
      const thinking = ofType(events, 'LLM_THINKING');
      expect(thinking.length).toBeGreaterThan(0);
      expect(thinking.every((e) => e.stepName === 'planner' && e.message === (e.data as { text: string }).text)).toBe(true);
      expect(thinking.map((e) => (e.data as { text: string }).text).join('')).toBe(REASONING.join(''));
      const plannerTypes = events.filter((e) => e.stepName === 'planner').map((e) => e.type);
      expect(plannerTypes.lastIndexOf('LLM_THINKING')).toBeLessThan(plannerTypes.indexOf('LLM_TOKEN'));
      expect(ofType(events, 'LLM_TOKEN').filter((e) => e.stepName === 'planner').map((e) => (e.data as { text: string }).text).join('')).toBe(PLAN);

      expect(readFileSync(join(project.path, 'PLAN.md'), 'utf8')).toBe(PLAN);
      expect(fake.requests.find((r) => r.model === CODER)?.body.prompt).toBe(`Code this plan:\n${PLAN}`);
      expect(existsSync(join(project.path, 'draft.xml'))).toBe(false);
      expect(ofType(events, 'LLM_DONE')[0]?.data).toMatchObject({ characters: PLAN.length, thinkingCharacters: REASONING.join('').length });
    });

    it('sets an inline <think> block apart: a file drafted inside it is never extracted', async () => {
      const answer = '<think>\nFirst attempt:\n=== FILE: src/Rejected.java ===\nclass Rejected {}\n=== END FILE ===\nNo.\n</think>\n\n=== FILE: pom.xml ===\n<project/>\n=== END FILE ===\n';
      fake.script(CODER, { tokens: tokensOf(answer, 1) });
      const project = await createProject(t);
      const { run, events } = await runToEnd(t, project.id, { workflowName: 'code' });

      expect(run.status).toBe('COMPLETED');
      expect(readdirSync(project.path).sort()).toEqual(['pom.xml', 'project_files.txt']);
      expect(readFileSync(join(project.path, 'project_files.txt'), 'utf8')).toBe('=== FILE: pom.xml ===\n<project/>\n=== END FILE ===\n');
      expect(ofType(events, 'LLM_THINKING').map((e) => (e.data as { text: string }).text).join('')).toContain('class Rejected {}');
      expect(ofType(events, 'STEP_COMPLETED')[0]?.data).toMatchObject({ files: ['pom.xml'], skippedBlocks: [] });
    });

    it('fails, retryably, an answer that is all reasoning, instead of an empty PLAN.md', async () => {
      fake.script(REASONER, { thinking: REASONING, tokens: [] });
      const project = await createProject(t);
      const { run, events } = await runToEnd(t, project.id, { workflowName: 'think-plan' });

      const message = `The answer from ${REASONER} was empty once its reasoning was set apart (${REASONING.join('').length} characters of reasoning, in the LLM_THINKING events): the model reasoned but gave no answer. Another attempt may answer; if not, turn thinking off for step "planner" (think: false) or choose another model.`;
      expect(run.error).toBe(`Step "planner" failed: ${message}`);
      expect(ofType(events, 'STEP_RETRYING')).toHaveLength(1);
      expect(ofType(events, 'STEP_FAILED')[0]?.data).toMatchObject({ retryable: true, attempts: 2 });
      expect(existsSync(join(project.path, 'PLAN.md'))).toBe(false);
    });

    it('says to remove think from the step when the model does not support thinking', async () => {
      const project = await createProject(t);
      const { run, events } = await runToEnd(t, project.id, { workflowName: 'think-plain' });
      expectFailed(
        run,
        events,
        'planner',
        `Model '${PLAIN}' does not support thinking (Ollama: "${PLAIN}" does not support thinking): remove "think" from step "planner" in the workflow, or choose a reasoning model (qwen3, deepseek-r1, gpt-oss …) for it`,
      );
      expect(stepFailedOf(events).data).toMatchObject({ retryable: false });
      expect(fake.requests.at(-1)?.body).toMatchObject({ think: 'high' });
    });
  });

  describe('streams that cannot be trusted', () => {
    it('fails on a stream line that is not JSON instead of completing with its text missing', async () => {
      fake.script(PLAIN, { tokens: tokensOf(PLAN, 1), rawLineAfterTokens: { after: 2, line: '{"response":"lost text' } });
      const project = await createProject(t);
      const { run, events } = await runToEnd(t, project.id, { workflowName: 'plan' });
      expectFailed(
        run,
        events,
        'planner',
        `Ollama sent a line that is not JSON in the answer from ${PLAIN} (line 3: "{\\"response\\":\\"lost text"); the text it carried would be lost, so the answer was not used. Is something between agent-runner and Ollama (a proxy) changing the stream?`,
      );
      expect(existsSync(join(project.path, 'PLAN.md'))).toBe(false);
    });

    it('fails an answer cut at the length limit, naming num_predict and num_ctx, and writes no half file', async () => {
      // The fake stops at num_predict tokens with done_reason "length", as Ollama does.
      fake.script(CODER, { tokens: tokensOf('=== FILE: a.txt ===\nA\n=== END FILE ===\n=== FILE: pom.xml ===\n<project>\n  <dependencies>\n    <dependency>\n    </dependency>\n  </dependencies>\n</project>\n=== END FILE ===\n', 1) });
      const project = await createProject(t);
      const { run, events } = await runToEnd(t, project.id, { workflowName: 'code-limited' });

      expect(fake.requests.at(-1)?.body.options).toEqual({ num_predict: 8, num_ctx: 8192 });
      expectFailed(
        run,
        events,
        'coder',
        `The answer from ${CODER} was cut off at the length limit (Ollama's done_reason "length", after 8 tokens), so it was not used and nothing was written. Raise num_predict in the options of step "coder" (the longest answer, in tokens, now 8) or num_ctx (the context window, prompt and answer together, now 8192), or ask for a shorter answer.`,
      );
      expect(stepFailedOf(events).data).toMatchObject({ retryable: false, doneReason: 'length' });
      expect(existsSync(project.path) ? readdirSync(project.path) : []).toEqual([]);
    });
  });

  describe('real coder answers', () => {
    it('writes every file of a mixed answer and reports each block it did not write', async () => {
      const answer = [
        "Here's the project.",
        '',
        '### `pom.xml` (Maven build)',
        '```xml',
        '<project/>',
        '```',
        '',
        '```java',
        '// File: src/main/java/org/acme/App.java',
        'package org.acme;',
        'class App {}',
        '```',
        '',
        '```java:src/test/java/org/acme/AppTest.java',
        'class AppTest {}',
        '```',
        '',
        '### src/main/resources/application.properties',
        'The configuration.',
        '```properties',
        'quarkus.http.port=8080',
        '```',
        '',
        '```xml title="project_files.txt"',
        'not the raw answer',
        '```',
        '',
        '### Dockerfile',
        '```dockerfile',
        'FROM registry.access.redhat.com/ubi8',
      ].join('\n');
      fake.script(CODER, { tokens: tokensOf(answer, 2) });
      const project = await createProject(t);
      const { run, events } = await runToEnd(t, project.id, { workflowName: 'code' });

      expect(run.status).toBe('COMPLETED');
      const files = ['pom.xml', 'src/main/java/org/acme/App.java', 'src/test/java/org/acme/AppTest.java', 'src/main/resources/application.properties'];
      expect(readFileSync(join(project.path, 'src/main/java/org/acme/App.java'), 'utf8')).toBe('package org.acme;\nclass App {}\n');
      expect(readFileSync(join(project.path, 'project_files.txt'), 'utf8')).toBe(answer);
      expect(existsSync(join(project.path, 'Dockerfile'))).toBe(false);
      expect(run.artifacts.map((a) => a.path)).toEqual(['project_files.txt', ...files]);

      const skipped = [
        { path: 'project_files.txt', line: 24, reason: "it is the step's own output file, which holds the model's whole raw answer" },
        { path: 'Dockerfile', line: 29, reason: 'the answer ended before its closing fence, so the file would be incomplete' },
      ];
      expect(ofType(events, 'FILE_BLOCK_SKIPPED').map((e) => [e.stepName, e.data])).toEqual(skipped.map((block) => ['coder', block]));
      expect(ofType(events, 'FILE_BLOCK_SKIPPED').map((e) => e.message)).toEqual([
        "Did not write project_files.txt (the block at line 24 of the answer): it is the step's own output file, which holds the model's whole raw answer",
        'Did not write Dockerfile (the block at line 29 of the answer): the answer ended before its closing fence, so the file would be incomplete',
      ]);
      const completed = ofType(events, 'STEP_COMPLETED')[0]!;
      expect(completed.data).toMatchObject({ files, skippedBlocks: skipped, filesFrom: 'text' });
      expect(completed.message).toMatch(/wrote 4 files, skipped 2 blocks \(see FILE_BLOCK_SKIPPED\)$/);
    });

    it('fails an answer whose only file block is unterminated, saying which block and why', async () => {
      fake.script(CODER, { response: '=== FILE: pom.xml ===\n<project>\n  <dependencies>\n' });
      const project = await createProject(t);
      const { run, events } = await runToEnd(t, project.id, { workflowName: 'code' });
      expect(run.status).toBe('FAILED');
      expect(run.error).toContain('1 block that names a file was set aside (see FILE_BLOCK_SKIPPED); the raw answer was kept in project_files.txt');
      expect(ofType(events, 'FILE_BLOCK_SKIPPED').map((e) => e.message)).toEqual([
        'Did not write pom.xml (the block at line 1 of the answer): the answer ended inside it, before its "=== END FILE ===" line, so the file would be incomplete',
      ]);
      expect(readdirSync(project.path)).toEqual(['project_files.txt']);
    });

    it('asks for structured output (format: the files schema) and writes the files of the JSON answer', async () => {
      const json = JSON.stringify({ files: [{ path: 'pom.xml', content: '<project/>\n' }, { path: 'src/main/java/App.java', content: 'class App {}\n' }] });
      fake.script(CODER, { tokens: tokensOf(json.replace(/,/g, ',\n'), 1) });
      const project = await createProject(t);
      const { run, events } = await runToEnd(t, project.id, { workflowName: 'code-structured' });

      expect(run.status).toBe('COMPLETED');
      const request = fake.requests.at(-1)!.body;
      expect(request.format).toMatchObject({ type: 'object', required: ['files'] });
      expect(request.options).toEqual({ temperature: 0 });
      expect(readFileSync(join(project.path, 'src/main/java/App.java'), 'utf8')).toBe('class App {}\n');
      expect(ofType(events, 'STEP_COMPLETED')[0]?.data).toMatchObject({ files: ['pom.xml', 'src/main/java/App.java'], filesFrom: 'json' });
    });
  });

  describe('who ended an answer that ended early', () => {
    it('Ollama closing the connection says Ollama closed it', async () => {
      fake.script(PLAIN, { tokens: tokensOf(PLAN, 1), dropAfterTokens: 2 });
      const project = await createProject(t);
      const { run, events } = await runToEnd(t, project.id, { workflowName: 'plan' });
      expectFailed(run, events, 'planner', `Ollama closed the connection in the middle of the answer from ${PLAIN}; the answer is incomplete (did the Ollama server stop or restart?)`);
    });

    it("the step's timeout says agent-runner closed it", async () => {
      fake.script(PLAIN, { tokens: tokensOf(PLAN, 1), tokenDelayMs: 400 });
      const project = await createProject(t);
      const { run, events } = await runToEnd(t, project.id, { workflowName: 'plan', timeoutSeconds: 1 });
      expectFailed(
        run,
        events,
        'planner',
        `Step "planner" timed out after 1s: agent-runner closed the connection to Ollama at the step's timeout (Ollama did not end it). Raise the run's options.timeoutSeconds or OLLAMA_TIMEOUT_SECONDS, or use a smaller model.`,
      );
      expect(ofType(events, 'LLM_TOKEN').length).toBeGreaterThan(0);
      await fake.waitForDisconnects(1);
    });
  });
});
