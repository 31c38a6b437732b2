/**
 * FILE_WRITE through a small test workflow: `contentFrom` writes the text output of an earlier step
 * (an LLM answer, a command's stdout), `content` fills in `{goal}` and `{output:STEP}`; a
 * `contentFrom` naming a step that does not run before it is refused when the workflow is checked.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RegisterWorkflowDocument, ValidateWorkflowDocument } from '../../src/client/generated/graphql.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, expectGaplessSeqs, ofType, runToEnd, testWorkflow } from './support.js';

const WRITER = 'writer:latest';
const DRAFT = 'A short draft\nwritten by the model.\n';

const copyOutputs = testWorkflow('copy-outputs', [
  { name: 'draft', type: 'LLM_GENERATE', model: WRITER, description: 'Draft with {model}', prompt: 'Write about {goal}' },
  { name: 'list', type: 'SHELL_COMMAND', command: "printf 'line one\\nline two\\n'" },
  { name: 'save_draft', type: 'FILE_WRITE', contentFrom: 'draft', outputFile: 'docs/draft.md', saveArtifact: true },
  { name: 'save_list', type: 'FILE_WRITE', contentFrom: 'list', outputFile: 'list.txt', saveArtifact: true },
  { name: 'summary', type: 'FILE_WRITE', content: 'Goal: {goal}\n---\n{output:save_draft}---\n{output:list}', outputFile: 'summary.txt' },
]);

const FORWARD_REFERENCE = `name: forward-reference
version: "1"
steps:
  - name: copy
    type: FILE_WRITE
    contentFrom: later
    outputFile: copy.txt
  - name: later
    type: SHELL_COMMAND
    command: echo too late
`;

describe('FILE_WRITE', () => {
  let fake: FakeOllama;
  let t: TestApp;

  beforeAll(async () => {
    fake = await startFakeOllama({ models: [{ name: WRITER, response: DRAFT }] });
    t = await startTestApp(
      { ollamaBaseUrl: fake.url, llmHeartbeatMs: 200, streamCoalesceMs: 20 },
      { workflows: [copyOutputs] },
    );
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });
  afterEach(() => {
    fake.requests.length = 0;
  });

  it("writes an earlier step's output (contentFrom) and fills in templates (content)", async () => {
    const project = await createProject(t);
    const { run, events } = await runToEnd(t, project.id, { workflowName: 'copy-outputs' }, 'hedgehogs');
    expect(run.error).toBeNull();
    expect(run.status).toBe('COMPLETED');
    expectGaplessSeqs(events);

    expect(fake.requests.find((r) => r.path === '/api/generate')?.body.prompt).toBe('Write about hedgehogs');
    expect(readFileSync(join(project.path, 'docs/draft.md'), 'utf8')).toBe(DRAFT);
    expect(readFileSync(join(project.path, 'list.txt'), 'utf8')).toBe('line one\nline two\n');
    expect(readFileSync(join(project.path, 'summary.txt'), 'utf8')).toBe(`Goal: hedgehogs\n---\n${DRAFT}---\nline one\nline two\n`);

    // saveArtifact records the file (kind FILE); without it nothing is recorded.
    expect(run.artifacts.map((a) => [a.stepName, a.kind, a.path, a.sizeBytes])).toEqual([
      ['save_draft', 'FILE', 'docs/draft.md', Buffer.byteLength(DRAFT)],
      ['save_list', 'FILE', 'list.txt', Buffer.byteLength('line one\nline two\n')],
    ]);
    expect(ofType(events, 'ARTIFACT_CREATED').map((e) => [e.stepName, (e.data as { path: string }).path])).toEqual([
      ['save_draft', 'docs/draft.md'],
      ['save_list', 'list.txt'],
    ]);
    const completed = ofType(events, 'STEP_COMPLETED').find((e) => e.stepName === 'save_draft');
    expect(completed?.message).toContain(`Wrote ${Buffer.byteLength(DRAFT)} bytes to docs/draft.md`);
    expect(completed?.data).toMatchObject({ path: 'docs/draft.md', sizeBytes: Buffer.byteLength(DRAFT) });
    expect(run.steps.map((s) => s.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED']);
    expect(run.steps[0].description).toBe('Draft with writer');
  });

  it('refuses, when the workflow is checked, a contentFrom naming a step that does not run before it', async () => {
    const { validateWorkflow } = await t.client.request(ValidateWorkflowDocument, { definition: FORWARD_REFERENCE });
    expect(validateWorkflow.valid).toBe(false);
    expect(validateWorkflow.problems).toEqual([
      { message: 'step "copy" refers to step "later", which does not run before it; a step can only use the output of earlier steps', path: 'steps[0].contentFrom', line: 6, column: 18 },
    ]);
    await expect(t.client.request(RegisterWorkflowDocument, { definition: FORWARD_REFERENCE })).rejects.toThrow(/line 6, column 18: step "copy" refers to step "later"/);
  });
});
