/**
 * The example workflows in examples/workflows (the README's "Writing workflows" example is one of
 * them, word for word): they load from a WORKFLOWS_DIR with no problem, and run to the end through
 * the real server with their inputs rendered into the prompt, the file paths, the content and the
 * command, so neither the file nor the README's copy can rot.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateRunDocument, LoadProblemsDocument, WorkflowDocument } from '../../src/client/generated/graphql.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, getRun, streamToEnd } from '../workflow/support.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/workflows/', import.meta.url));
const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const BRIEF = 'A brief of two words';

describe('example workflows', () => {
  let fake: FakeOllama;
  let t: TestApp;

  beforeAll(async () => {
    fake = await startFakeOllama({ models: [{ name: 'gemma3:27b', response: BRIEF }] });
    t = await startTestApp({ ollamaBaseUrl: fake.url, workflowsDir: EXAMPLES, streamCoalesceMs: 20 });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('every example loads without a problem', async () => {
    const files = readdirSync(EXAMPLES).filter((name) => /\.(ya?ml|json)$/.test(name));
    expect(files.length).toBeGreaterThan(0);
    const { loadProblems } = await t.client.request(LoadProblemsDocument);
    expect(loadProblems).toEqual([]);
    for (const file of files) {
      const name = /^name:\s*(\S+)/m.exec(readFileSync(join(EXAMPLES, file), 'utf8'))?.[1];
      const { workflow } = await t.client.request(WorkflowDocument, { name: name! });
      expect(workflow, `${file} registered as ${name}`).toMatchObject({ origin: 'FILE', originPath: join(EXAMPLES, file) });
    }
  });

  it('the README shows service-brief.yaml exactly as it is', () => {
    const example = readFileSync(join(EXAMPLES, 'service-brief.yaml'), 'utf8');
    expect(readFileSync(README, 'utf8')).toContain(`\`\`\`yaml\n${example}\`\`\``);
  });

  it('service-brief runs to the end with its inputs in the prompt, the paths, the content and the command', async () => {
    const project = await createProject(t);
    const { createRun } = await t.client.request(CreateRunDocument, {
      input: { projectId: project.id, goal: 'Bill customers monthly', inputs: { service: 'billing', includeRisks: false }, options: { workflowName: 'service-brief' } },
    });
    expect(createRun).toMatchObject({ workflowVersion: '1.0.0', inputs: { service: 'billing', audience: 'engineers', maxWords: 300, includeRisks: false } });
    const events = await streamToEnd(t, createRun.id);
    expect(events.at(-1)?.type).toBe('WORKFLOW_COMPLETED');

    const prompt = fake.requests.find((r) => r.model === 'gemma3:27b')?.body;
    expect(JSON.stringify(prompt)).toContain('for the service \\"billing\\", for engineers, in at most 300 words.\\nWhat the service is for: Bill customers monthly\\nDo not discuss risks.');
    expect(readFileSync(join(project.path, 'drafts/billing.md'), 'utf8')).toBe(BRIEF);
    expect(readFileSync(join(project.path, 'docs/billing-brief.md'), 'utf8')).toBe(`<!-- Written by run ${createRun.id} of service-brief 1.0.0 -->\n${BRIEF}\n`);
    const run = await getRun(t, createRun.id);
    expect(run.steps.map((s) => s.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    const counted = readFileSync(join(project.path, 'count_output.txt'), 'utf8');
    expect(counted).toMatch(/STDOUT:\n\s*14 docs\/billing-brief\.md/);
  });
});
