/**
 * The built-in generate-and-test workflow end to end: the model's first project fails its (stubbed)
 * Maven build; FAILURE_REPORT names the failing test and gives the model only the files involved; its
 * fix is written; the second test run passes: COMPLETED after two iterations, the fix on disk.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeOllama, type FakeOllama, type RecordedRequest } from '../helpers/fake-ollama.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, expectGaplessSeqs, ofType } from '../workflow/support.js';
import { runWorkflow, stepOf } from './support.js';

const PLANNER = 'gemma3:27b';
const CODER = 'qwen3-coder:latest';

const POM = '<project><modelVersion>4.0.0</modelVersion><groupId>org.acme</groupId><artifactId>greeting</artifactId><version>1</version></project>';
const GREETING = (word: string) => `package org.acme;\n\npublic class Greeting {\n    public String hello() {\n        return "${word}";\n    }\n}`;
const TEST = 'package org.acme;\n\nimport static org.junit.jupiter.api.Assertions.assertEquals;\n\nclass GreetingTest {\n    @org.junit.jupiter.api.Test\n    void hello() {\n        assertEquals("Hello", new Greeting().hello());\n    }\n}';
const README = '# Greeting\nSays hello.';

const files = (entries: Record<string, string>) =>
  Object.entries(entries)
    .map(([path, content]) => `=== FILE: ${path} ===\n${content}\n=== END FILE ===`)
    .join('\n\n');

/** A stand-in for Maven: GreetingTest passes only when Greeting says "Hello"; failures printed as Surefire does. */
const MVN = `#!/bin/sh
echo "[INFO] Scanning for projects..."
if grep -q 'return "Hello"' src/main/java/org/acme/Greeting.java 2>/dev/null; then
  echo "[INFO] Tests run: 1, Failures: 0, Errors: 0, Skipped: 0"
  echo "[INFO] BUILD SUCCESS"
  exit 0
fi
echo "[ERROR] Tests run: 1, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: 0.05 s <<< FAILURE! -- in org.acme.GreetingTest"
echo "[ERROR] org.acme.GreetingTest.hello -- Time elapsed: 0.01 s <<< FAILURE!"
echo "org.opentest4j.AssertionFailedError: expected: <Hello> but was: <Hi>"
echo "	at org.acme.GreetingTest.hello(GreetingTest.java:8)"
echo "[ERROR] Failures: "
echo "[ERROR]   GreetingTest.hello:8 expected: <Hello> but was: <Hi>"
echo "[INFO] BUILD FAILURE"
exit 1
`;

describe('generate-and-test: a workflow that repairs its failing tests', () => {
  let fake: FakeOllama;
  let t: TestApp;
  const coderPrompts: string[] = [];

  beforeAll(async () => {
    fake = await startFakeOllama({ models: [PLANNER, CODER] });
    fake.script(PLANNER, { response: '# Plan\nA Greeting class and its test.\n' });
    fake.script(CODER, (request: RecordedRequest) => {
      const prompt = String(request.body?.prompt ?? '');
      coderPrompts.push(prompt);
      // The fixer's prompt carries the report; the coder's first one does not.
      if (prompt.includes('## What failed')) return { response: `The greeting must say Hello.\n\n${files({ 'src/main/java/org/acme/Greeting.java': GREETING('Hello') })}\n` };
      return {
        response: files({ 'pom.xml': POM, 'README.md': README, 'src/main/java/org/acme/Greeting.java': GREETING('Hi'), 'src/test/java/org/acme/GreetingTest.java': TEST }),
      };
    });
    t = await startTestApp({ ollamaBaseUrl: fake.url, llmHeartbeatMs: 500, streamCoalesceMs: 20 });
    const bin = join(t.dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'mvn'), MVN);
    chmodSync(join(bin, 'mvn'), 0o755);
    vi.stubEnv('PATH', `${bin}:${process.env.PATH ?? ''}`);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await t?.close();
    await fake?.close();
  });

  it('fails its first test run, sends the model the failing test and only the files involved, and completes after its fix', async () => {
    const project = await createProject(t);
    const { events, run } = await runWorkflow(t, project.id, 'generate-and-test');
    expect(run.status, run.error ?? '').toBe('COMPLETED');
    expectGaplessSeqs(events);

    expect(run.steps.filter((s) => s.loop === 'repair').map((s) => [s.iteration, s.name, s.status])).toEqual([
      [1, 'test', 'FAILED'],
      [1, 'report', 'COMPLETED'],
      [1, 'fixer', 'COMPLETED'],
      [2, 'test', 'COMPLETED'],
      [2, 'report', 'SKIPPED'],
      [2, 'fixer', 'SKIPPED'],
    ]);
    expect(stepOf(run, 'repair').status).toBe('COMPLETED');
    expect(readFileSync(join(project.path, 'src/main/java/org/acme/Greeting.java'), 'utf8')).toBe(`${GREETING('Hello')}\n`);
    expect(readFileSync(join(project.path, 'fix_1.txt'), 'utf8')).toContain('=== FILE: src/main/java/org/acme/Greeting.java ===');

    // The fixer's prompt names the failing test and the error, and holds the files involved, not the others.
    const fixerPrompt = coderPrompts.find((p) => p.includes('## What failed'))!;
    expect(fixerPrompt).toContain('`mvn -B test` failed (test run 1 of at most 4)');
    expect(fixerPrompt).toContain('- Test GreetingTest.hello failed (line 8): expected: <Hello> but was: <Hi>');
    expect(fixerPrompt).toContain('=== FILE: src/test/java/org/acme/GreetingTest.java ===');
    expect(fixerPrompt).toContain('=== FILE: src/main/java/org/acme/Greeting.java ===');
    expect(fixerPrompt).not.toContain('=== FILE: pom.xml ===');
    expect(fixerPrompt).not.toContain('=== FILE: README.md ===');
    expect(ofType(events, 'LOOP_ITERATION_COMPLETED').map((e) => (e.data as { until: boolean }).until)).toEqual([false, true]);
  });
});
