/**
 * Inputs and templates through the real server: createRun checks the inputs against the workflow's
 * declarations (every problem at once, each beside its field), fills in defaults and stores them
 * with the run; `${{ … }}` and the seed's placeholders are rendered into prompts, file paths,
 * contents and commands; values reach a command only as environment variables, so an input made to
 * inject shell code does nothing.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateRunDocument, RegisterWorkflowDocument } from '../../src/client/generated/graphql.js';
import { expectRefused } from '../control/support.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { makeTempDir, startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, getRun, streamToEnd } from '../workflow/support.js';

const TEMPLATED = `name: templated
version: "1"
inputs:
  service: { type: string, required: true, description: The service to write }
  replicas: { type: number, default: 2 }
  tls: { type: boolean, default: false }
  flavour: { type: choice, options: [plain, fancy], default: plain }
steps:
  - name: plan
    type: LLM_GENERATE
    model: planner:latest
    prompt: "Plan \${{ inputs.service }} with \${{ inputs.replicas }} replicas (tls: \${{ inputs.tls }}) for {goal}"
  - name: save
    type: FILE_WRITE
    outputFile: "services/\${{ inputs.service }}.md"
    content: "# \${{ inputs.service }} (\${{ inputs.flavour }}, run \${{ run.id }})\\n\${{ steps.plan.output }}"
  - name: show
    type: SHELL_COMMAND
    command: printf '%s|' \${{ inputs.service }} "in \${{ project.name }}" {goal} > shown.txt
`;

describe('inputs and templates', () => {
  let fake: FakeOllama;
  let t: TestApp;
  const pwned = join(makeTempDir('pwned-'), 'pwned');

  beforeAll(async () => {
    fake = await startFakeOllama({ models: [{ name: 'planner:latest', response: 'PLAN' }] });
    t = await startTestApp({ ollamaBaseUrl: fake.url, llmHeartbeatMs: 200, streamCoalesceMs: 20 });
    await t.client.request(RegisterWorkflowDocument, { definition: TEMPLATED });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  const create = (projectId: string, inputs: unknown, goal = 'a goal') =>
    t.client.request(CreateRunDocument, { input: { projectId, goal, inputs, options: { workflowName: 'templated' } } });

  it('refuses a run whose inputs are missing, unknown or mistyped, naming each, and creates nothing', async () => {
    const project = await createProject(t);
    const error = await expectRefused(
      create(project.id, { replicas: 'three', tls: 'yes', flavour: 'odd', colour: 'red' }),
      'BAD_USER_INPUT',
      'Argument "input.inputs": 5 inputs are wrong',
    );
    expect(error.errors[0]?.extensions?.problems).toEqual([
      { field: 'replicas', message: '"replicas" must be a number (got string "three")' },
      { field: 'tls', message: '"tls" must be true or false (got string "yes")' },
      { field: 'flavour', message: '"flavour" must be one of "plain", "fancy" (got "odd")' },
      { field: 'colour', message: '"colour" is not an input of templated (its inputs: service, replicas, tls, flavour)' },
      { field: 'service', message: '"service" is required (The service to write)' },
    ]);
    await expectRefused(create(project.id, ['service']), 'BAD_USER_INPUT', 'inputs must be an object');
    const { run } = await t.client.request((await import('../../src/client/generated/graphql.js')).RunDocument, { id: '1' });
    expect(run).toBeNull();
  });

  it('renders inputs, defaults, the goal, earlier outputs, the run and the project into prompts, paths, contents and commands', async () => {
    const project = await createProject(t);
    const { createRun } = await create(project.id, { service: 'billing', replicas: 3 }, 'hedgehogs');
    expect(createRun.inputs).toEqual({ service: 'billing', replicas: 3, tls: false, flavour: 'plain' });
    const events = await streamToEnd(t, createRun.id);
    expect(events.at(-1)?.type).toBe('WORKFLOW_COMPLETED');
    expect(fake.requests.find((r) => r.path === '/api/generate')?.body.prompt).toBe('Plan billing with 3 replicas (tls: false) for hedgehogs');
    expect(readFileSync(join(project.path, 'services/billing.md'), 'utf8')).toBe(`# billing (plain, run ${createRun.id})\nPLAN`);
    const projectName = project.path.split('/').at(-1);
    expect(readFileSync(join(project.path, 'shown.txt'), 'utf8')).toBe(`billing|in ${projectName}|hedgehogs|`);
    const executing = events.find((e) => e.type === 'SHELL_EXECUTING');
    // People read the values where they go; what ran took them from environment variables.
    expect(executing?.message).toBe(`Running: printf '%s|' billing "in ${projectName}" hedgehogs > shown.txt`);
    expect(executing?.data).toMatchObject({ command: 'printf \'%s|\' "${AGENT_RUNNER_EXPR_1}" "in ${AGENT_RUNNER_EXPR_2}" "${AGENT_RUNNER_EXPR_3}" > shown.txt' });
    // How it ended names the command as people read it too.
    const completed = events.find((e) => e.type === 'STEP_COMPLETED' && e.stepName === executing?.stepName);
    expect(completed?.message).toContain(`Command "printf '%s|' billing "in ${projectName}" hedgehogs > shown.txt" exited with code 0`);
    expect((await getRun(t, createRun.id)).inputs).toEqual(createRun.inputs);
  });

  it('an input or a goal made to inject shell code is only ever text', async () => {
    const project = await createProject(t);
    for (const attack of [`$(touch ${pwned})`, `'; touch ${pwned} #`, `\`touch ${pwned}\``, `"; touch ${pwned}; echo "`]) {
      const { createRun } = await create(project.id, { service: attack }, attack);
      const events = await streamToEnd(t, createRun.id);
      expect(events.at(-1)?.type, events.at(-1)?.message).toBe('WORKFLOW_COMPLETED');
      expect(readFileSync(join(project.path, 'shown.txt'), 'utf8')).toBe(`${attack}|in ${project.path.split('/').at(-1)}|${attack}|`);
      expect(existsSync(pwned)).toBe(false);
    }
    // The path template confines the value too: the file is inside the workspace, under its literal name.
    expect(readdirSync(join(project.path, 'services')).length).toBeGreaterThan(0);
  });

  it('a path built from an input cannot leave the workspace', async () => {
    const project = await createProject(t);
    const { createRun } = await create(project.id, { service: '../../escaped' });
    const events = await streamToEnd(t, createRun.id);
    expect(events.at(-1)?.type).toBe('WORKFLOW_FAILED');
    const run = await getRun(t, createRun.id);
    expect(run.error).toContain('Refused path "services/../../escaped.md": it leads outside the project folder');
  });
});
