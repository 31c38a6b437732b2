/**
 * Every step that calls a model has its model chosen per run — LLM steps inside a loop and AGENT
 * steps included: Workflow.models lists them with their sources, options.models and
 * OLLAMA_<STEP>_MODEL reach the fake Ollama for a loop's inner steps, a directive reaches an agent
 * whose loop has not started yet, and options.models naming a step that calls no model is refused.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CreateRunDocument, SendDirectiveDocument, WorkflowModelsDocument } from '../../src/client/generated/graphql.js';
import { conversationScript, startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { expectRefused } from '../control/support.js';
import { AGENT_MODEL, AGENT_MODELS, OTHER_TOOLS_MODEL, call } from '../agent/support.js';
import { register } from '../flow/support.js';
import { createProject, getRun, ofType, queryEvents, streamToEnd } from './support.js';

const DRAFT_MODEL = 'gemma3:27b';
const OTHER_MODEL = 'mistral:7b';

/**
 * A gate (a file in the project), then a loop of an LLM step and an agent, then a summary LLM step.
 * The gate lets a test act before the loop starts, whatever the machine's load.
 */
const DEFINITION = `name: models-in-loops
version: "1"
steps:
  - { name: gate, type: SHELL_COMMAND, command: "while [ ! -e .gate ]; do sleep 0.05; done" }
  - name: rounds
    type: LOOP
    maxIterations: 1
    until: \${{ true }}
    steps:
      - { name: draft, type: LLM_GENERATE, model: "${DRAFT_MODEL}", prompt: "Draft {goal}", outputFile: draft.md }
      - { name: fixer, type: AGENT, model: "${AGENT_MODEL}", task: "Fix the draft" }
  - { name: summary, type: LLM_GENERATE, model: "${DRAFT_MODEL}", prompt: "Summarise {goal}", outputFile: summary.md }
`;

let fake: FakeOllama;
let t: TestApp | undefined;

beforeAll(async () => {
  fake = await startFakeOllama({ models: [...AGENT_MODELS, { name: OTHER_MODEL, capabilities: ['completion'] }] });
});
afterAll(() => fake.close());
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function start(env: Record<string, string> = {}): Promise<TestApp> {
  t = await startTestApp({ ollamaBaseUrl: fake.url, streamCoalesceMs: 10 }, { env });
  await register(t, DEFINITION);
  fake.requests.length = 0;
  for (const model of [DRAFT_MODEL, OTHER_MODEL]) fake.script(model, { tokens: ['# ', 'text\n'] });
  for (const model of [AGENT_MODEL, OTHER_TOOLS_MODEL]) fake.script(model, conversationScript([call('finish', { summary: 'fixed' })]));
  return t;
}

/** Creates a run of the workflow, opens its gate, follows it to its end. */
async function runToEnd(app: TestApp, options: Record<string, unknown> = {}, beforeGate?: (runId: string) => Promise<void>) {
  const project = await createProject(app);
  const { createRun } = await app.client.request(CreateRunDocument, { input: { projectId: project.id, goal: 'a service', options: { workflowName: 'models-in-loops', ...options } } });
  await beforeGate?.(createRun.id);
  writeFileSync(join(project.path, '.gate'), '');
  const events = await streamToEnd(app, createRun.id, 40_000);
  return { created: createRun, events, run: await getRun(app, createRun.id) };
}

const asked = (path: string) => fake.requests.filter((r) => r.path === path).map((r) => r.model);

describe('model choice for every step that calls a model', { timeout: 90_000 }, () => {
  it('Workflow.models lists the loop’s LLM step and the agent with the environment’s choices and the defaults', async () => {
    const app = await start({ OLLAMA_DRAFT_MODEL: OTHER_MODEL });
    const { workflow } = await app.client.request(WorkflowModelsDocument, { name: 'models-in-loops' });
    expect(workflow!.models).toEqual([
      { step: 'draft', model: OTHER_MODEL, source: 'ENVIRONMENT' },
      { step: 'fixer', model: AGENT_MODEL, source: 'WORKFLOW_DEFAULT' },
      { step: 'summary', model: DRAFT_MODEL, source: 'WORKFLOW_DEFAULT' },
    ]);
  });

  it('options.models for the loop’s steps reach Ollama, and show in Run.models and the events', async () => {
    const app = await start();
    const { run, events } = await runToEnd(app, {
      models: [
        { step: 'draft', model: OTHER_MODEL },
        { step: 'fixer', model: OTHER_TOOLS_MODEL },
      ],
    });
    expect(run.status, run.error ?? '').toBe('COMPLETED');
    expect(asked('/api/generate')).toEqual([OTHER_MODEL, DRAFT_MODEL]);
    expect(asked('/api/chat')).toEqual([OTHER_TOOLS_MODEL]);
    expect(run.models).toEqual([
      { step: 'draft', model: OTHER_MODEL, source: 'RUN_OPTIONS' },
      { step: 'fixer', model: OTHER_TOOLS_MODEL, source: 'RUN_OPTIONS' },
      { step: 'summary', model: DRAFT_MODEL, source: 'WORKFLOW_DEFAULT' },
    ]);
    expect(ofType(events, 'LLM_LOADING_MODEL').map((e) => [e.stepName, e.message])).toEqual([
      ['draft', `Loading model: ${OTHER_MODEL}`],
      ['fixer', `Loading model: ${OTHER_TOOLS_MODEL}`],
      ['summary', `Loading model: ${DRAFT_MODEL}`],
    ]);
  });

  it('OLLAMA_<STEP>_MODEL applies to the loop’s LLM step and to the agent', async () => {
    const app = await start({ OLLAMA_DRAFT_MODEL: OTHER_MODEL, OLLAMA_FIXER_MODEL: OTHER_TOOLS_MODEL });
    const { run } = await runToEnd(app);
    expect(run.status, run.error ?? '').toBe('COMPLETED');
    expect(asked('/api/generate')).toEqual([OTHER_MODEL, DRAFT_MODEL]);
    expect(asked('/api/chat')).toEqual([OTHER_TOOLS_MODEL]);
    expect(run.models).toEqual([
      { step: 'draft', model: OTHER_MODEL, source: 'ENVIRONMENT' },
      { step: 'fixer', model: OTHER_TOOLS_MODEL, source: 'ENVIRONMENT' },
      { step: 'summary', model: DRAFT_MODEL, source: 'WORKFLOW_DEFAULT' },
    ]);
  });

  it('a directive reaches the agent inside a loop that has not started yet; options.models naming another step is refused', async () => {
    const app = await start();
    const project = await createProject(app);
    await expectRefused(
      app.client.request(CreateRunDocument, { input: { projectId: project.id, goal: 'x', options: { workflowName: 'models-in-loops', models: [{ step: 'gate', model: OTHER_MODEL }] } } }),
      'BAD_USER_INPUT',
      'options.models names step "gate", which is not a step of models-in-loops that calls a model. Its steps that call a model (LLM_GENERATE and AGENT, loops\' steps included): draft, fixer, summary.',
    );
    const { events, run } = await runToEnd(app, {}, async (runId) => {
      await waitFor(async () => (await queryEvents(app, runId)).some((e) => e.type === 'STEP_STARTED' && e.stepName === 'gate'), { what: 'the gate step running' });
      await app.client.request(SendDirectiveDocument, { runId, text: 'Keep it short' });
    });
    expect(run.status, run.error ?? '').toBe('COMPLETED');
    expect(ofType(events, 'AGENT_DIRECTIVE').map((e) => [e.stepName, (e.data as { state: string }).state])).toEqual([
      [null, 'received'],
      ['fixer', 'delivered'],
    ]);
  });
});
