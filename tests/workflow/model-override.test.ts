/**
 * Model override priority, per LLM step: the run's options.models > OLLAMA_<STEP>_MODEL > the
 * workflow's default. Checked by which model the fake Ollama was asked for, and where the choice
 * shows: Run.models (with its source), the step description and the LLM_LOADING_MODEL message.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { CODER_MODEL, PLAN_TOKENS, PLANNER_MODEL, coderAnswer, createProject, installStubMvn, ofType, runToEnd, type RunOptionsInput } from './support.js';

const MODELS = [PLANNER_MODEL, CODER_MODEL, 'llama2:latest', 'mistral:7b', 'codellama:latest'];

describe('model override priority', () => {
  let fake: FakeOllama;
  let t: TestApp | undefined;

  beforeAll(async () => {
    fake = await startFakeOllama({ models: MODELS });
    // Every model answers with a plan-like text, except that whatever the coder asks gets files.
    fake.script('*', (request) =>
      typeof request.body?.prompt === 'string' && request.body.prompt.includes('=== FILE:')
        ? { response: coderAnswer() }
        : { tokens: PLAN_TOKENS },
    );
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    await t?.close();
    t = undefined;
  });

  async function runWith(env: Record<string, string>, options?: RunOptionsInput) {
    t = await startTestApp({ ollamaBaseUrl: fake.url, llmHeartbeatMs: 200, streamCoalesceMs: 20 }, { env });
    installStubMvn(t.dir);
    const project = await createProject(t);
    const result = await runToEnd(t, project.id, options);
    expect(result.run.error).toBeNull();
    expect(result.run.status).toBe('COMPLETED');
    const asked = fake.requests.filter((r) => r.path === '/api/generate').map((r) => r.model);
    return { ...result, asked };
  }

  it('the run options beat the environment', async () => {
    const { run, events, created, asked } = await runWith(
      { OLLAMA_PLANNER_MODEL: 'mistral:7b' },
      { models: [{ step: 'planner', model: 'llama2:latest' }] },
    );
    expect(asked).toEqual(['llama2:latest', CODER_MODEL]);
    const expectedModels = [
      { step: 'planner', model: 'llama2:latest', source: 'RUN_OPTIONS' },
      { step: 'coder', model: CODER_MODEL, source: 'WORKFLOW_DEFAULT' },
    ];
    expect(created.models).toEqual(expectedModels);
    expect(run.models).toEqual(expectedModels);
    expect(created.steps[0].description).toBe('Create project plan using llama2');
    expect(run.steps[0].description).toBe('Create project plan using llama2');
    const loading = ofType(events, 'LLM_LOADING_MODEL');
    expect(loading.map((e) => [e.stepName, e.message])).toEqual([
      ['planner', 'Loading model: llama2:latest'],
      ['coder', `Loading model: ${CODER_MODEL}`],
    ]);
    const started = ofType(events, 'STEP_STARTED');
    expect(started[0].message).toBe('Step 1/3: Create project plan using llama2');
    expect(started[0].data).toMatchObject({ model: 'llama2:latest' });
    expect(ofType(events, 'RUN_QUEUED')[0].data).toMatchObject({ models: expectedModels });
  });

  it('the environment beats the workflow default', async () => {
    const { run, events, asked } = await runWith({ OLLAMA_PLANNER_MODEL: 'mistral:7b' });
    expect(asked).toEqual(['mistral:7b', CODER_MODEL]);
    expect(run.models).toEqual([
      { step: 'planner', model: 'mistral:7b', source: 'ENVIRONMENT' },
      { step: 'coder', model: CODER_MODEL, source: 'WORKFLOW_DEFAULT' },
    ]);
    expect(run.steps[0].description).toBe('Create project plan using mistral:7b');
    expect(ofType(events, 'LLM_LOADING_MODEL')[0].message).toBe('Loading model: mistral:7b');
  });

  it('the workflow default applies when neither is given', async () => {
    const { run, events, asked } = await runWith({});
    expect(asked).toEqual([PLANNER_MODEL, CODER_MODEL]);
    expect(run.models).toEqual([
      { step: 'planner', model: PLANNER_MODEL, source: 'WORKFLOW_DEFAULT' },
      { step: 'coder', model: CODER_MODEL, source: 'WORKFLOW_DEFAULT' },
    ]);
    expect(run.steps[0].description).toBe('Create project plan using gemma3:27b');
    expect(ofType(events, 'LLM_LOADING_MODEL')[0].message).toBe(`Loading model: ${PLANNER_MODEL}`);
  });

  it('chooses per step: one step from the run options, the other from the environment', async () => {
    const { run, events, asked } = await runWith(
      { OLLAMA_PLANNER_MODEL: 'mistral:7b', OLLAMA_CODER_MODEL: 'codellama:latest' },
      { models: [{ step: 'planner', model: 'llama2:latest' }] },
    );
    expect(asked).toEqual(['llama2:latest', 'codellama:latest']);
    expect(run.models).toEqual([
      { step: 'planner', model: 'llama2:latest', source: 'RUN_OPTIONS' },
      { step: 'coder', model: 'codellama:latest', source: 'ENVIRONMENT' },
    ]);
    expect(run.steps.map((s) => s.description)).toEqual([
      'Create project plan using llama2',
      'Generate Maven project files using codellama',
      'Run the Maven tests',
    ]);
    expect(ofType(events, 'LLM_LOADING_MODEL').map((e) => e.message)).toEqual(['Loading model: llama2:latest', 'Loading model: codellama:latest']);
  });
});
