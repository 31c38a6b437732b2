/**
 * Custom step types loaded from STEP_TYPES_DIR, through the real server: the shipped HTTP_REQUEST
 * example (examples/step-types/http-request.mjs) and one written in TypeScript load and are listed
 * by `stepTypes` with their parameter schemas; a broken module is listed with its problems while the
 * others load; workflows using them are checked against their schemas at registration; a run
 * executes them with the same context built-in steps get (templates rendered, the workspace, events,
 * retries that respect `retryable`).
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateRunDocument, LoadProblemsDocument, RegisterWorkflowDocument, StepTypesDocument, ValidateWorkflowDocument } from '../../src/client/generated/graphql.js';
import { expectRefused } from '../control/support.js';
import { makeTempDir, startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, getRun, ofType, streamToEnd } from '../workflow/support.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/step-types/http-request.mjs', import.meta.url));

const SHOUT_TS = `interface Params { text: string; times?: number }
export const type = 'SHOUT';
export const description = 'Writes its text in capitals to shout.txt.';
export const parameters = { type: 'object', required: ['text'], properties: { text: { type: 'string' }, times: { type: 'integer', minimum: 1 } } };
export async function execute(ctx: { step: { params: Params }; workspace: { writeFile(p: string, c: string): Promise<number> }; log(m: string): void }) {
  const loud = ctx.step.params.text.toUpperCase().repeat(ctx.step.params.times ?? 1);
  ctx.log('shouting');
  await ctx.workspace.writeFile('shout.txt', loud);
  return { output: loud, data: { length: loud.length }, summary: 'Shouted' };
}
`;

describe('custom step types', () => {
  let t: TestApp;
  let http: Server;
  let base = '';
  const hits: string[] = [];
  let flaky = 0;

  beforeAll(async () => {
    http = createServer((req, res) => {
      hits.push(`${req.method} ${req.url} ${req.headers['x-run'] ?? ''}`);
      if (req.url === '/missing') return void res.writeHead(404).end('no such thing');
      if (req.url === '/flaky' && flaky++ < 1) return void res.writeHead(503).end('try later');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, path: req.url }));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

    const dir = makeTempDir();
    const types = join(dir, 'step-types');
    mkdirSync(types);
    copyFileSync(EXAMPLE, join(types, 'http-request.mjs'));
    writeFileSync(join(types, 'shout.ts'), SHOUT_TS);
    writeFileSync(join(types, 'broken.mjs'), "export const type = 'lower case';\nexport const parameters = { type: 'array' };\n");
    writeFileSync(join(types, 'clash.mjs'), "export const type = 'SHELL_COMMAND';\nexport const description = 'x';\nexport async function execute() { return {}; }\n");
    t = await startTestApp({ killGraceMs: 200 }, { dir });
  });
  afterAll(async () => {
    await t?.close();
    await new Promise((resolve) => http.close(resolve));
  });

  it('are listed with their parameter schemas; broken modules are listed with their problems', async () => {
    const { stepTypes } = await t.client.request(StepTypesDocument);
    expect(stepTypes.map((s) => [s.type, s.builtIn])).toEqual([
      ['LLM_GENERATE', true],
      ['FILE_WRITE', true],
      ['SHELL_COMMAND', true],
      ['MAVEN_COMMAND', true],
      ['AGENT', true],
      ['HTTP_REQUEST', false],
      ['SHOUT', false],
    ]);
    const httpType = stepTypes.find((s) => s.type === 'HTTP_REQUEST')!;
    expect(httpType.source).toBe(join(t.dir, 'step-types', 'http-request.mjs'));
    expect(httpType.parameters).toMatchObject({ type: 'object', required: ['url'], properties: { url: { type: 'string' } } });

    const { loadProblems } = await t.client.request(LoadProblemsDocument);
    expect(loadProblems.map((p) => [p.file.split('/').at(-1), p.kind, p.problems.map((q) => q.message)])).toEqual([
      [
        'broken.mjs',
        'STEP_TYPE_MODULE',
        [
          'export "type" must be a name in upper case, digits and _ (such as HTTP_REQUEST)',
          'export "description" must be a sentence saying what the step does',
          'export "execute" must be a function (async (ctx) => ({ output, data, summary }))',
          'export "parameters" must be a JSON Schema of type "object" describing the step’s fields',
        ],
      ],
      ['clash.mjs', 'STEP_TYPE_MODULE', ['type "SHELL_COMMAND" is a built-in step type: choose another name']],
    ]);
  });

  it('steps of a custom type are checked against its schema when a workflow is registered', async () => {
    const definition = `name: bad-http
version: "1"
steps:
  - name: call
    type: HTTP_REQUEST
    method: FETCH
    urll: http://example.invalid
`;
    const { validateWorkflow } = await t.client.request(ValidateWorkflowDocument, { definition });
    expect(validateWorkflow.problems.map((p) => `${p.line}:${p.column} ${p.message}`)).toEqual([
      '4:5 steps[0]: missing required field "url"',
      '6:13 steps[0].method must be one of: GET, HEAD, POST, PUT, PATCH, DELETE',
      expect.stringMatching(/^7:5 steps\[0\]: unknown field "urll" \(did you mean "url"\?\)/),
    ]);
  });

  it('run with the context built-in steps get: templates rendered, files in the workspace, events, retries', async () => {
    const definition = `name: calls
version: "1"
inputs:
  path: { type: string, default: /status }
steps:
  - name: status
    type: HTTP_REQUEST
    url: "${base}\${{ inputs.path }}"
    headers: { x-run: "run \${{ run.id }}" }
    outputFile: status.json
  - name: flaky
    type: HTTP_REQUEST
    url: "${base}/flaky"
    retry: { maxAttempts: 2, backoffSeconds: 0.05 }
  - name: shout
    type: SHOUT
    text: "\${{ steps.status.outcome }}!"
    times: 2
`;
    await t.client.request(RegisterWorkflowDocument, { definition });
    const project = await createProject(t);
    const { createRun } = await t.client.request(CreateRunDocument, { input: { projectId: project.id, goal: 'call', options: { workflowName: 'calls' } } });
    const events = await streamToEnd(t, createRun.id);
    expect(events.at(-1)?.type, events.at(-1)?.message).toBe('WORKFLOW_COMPLETED');

    expect(hits).toContain(`GET /status run ${createRun.id}`);
    expect(JSON.parse(readFileSync(join(project.path, 'status.json'), 'utf8'))).toEqual({ ok: true, path: '/status' });
    expect(readFileSync(join(project.path, 'shout.txt'), 'utf8')).toBe('SUCCESS!SUCCESS!');
    expect(ofType(events, 'STEP_LOG').map((e) => [e.stepName, e.message])).toEqual([
      ['status', `GET ${base}/status`],
      ['status', expect.stringMatching(/^200 OK in \d+ ms \(28 bytes\)$/)],
      ['flaky', `GET ${base}/flaky`],
      ['flaky', expect.stringMatching(/^503 Service Unavailable/)],
      ['flaky', `GET ${base}/flaky`],
      ['flaky', expect.stringMatching(/^200 OK/)],
      ['shout', 'shouting'],
    ]);
    expect(ofType(events, 'STEP_RETRYING').map((e) => e.stepName)).toEqual(['flaky']);
    const run = await getRun(t, createRun.id);
    expect(run.steps.map((s) => [s.name, s.type, s.typeName, s.status])).toEqual([
      ['status', 'CUSTOM', 'HTTP_REQUEST', 'COMPLETED'],
      ['flaky', 'CUSTOM', 'HTTP_REQUEST', 'COMPLETED'],
      ['shout', 'CUSTOM', 'SHOUT', 'COMPLETED'],
    ]);
    expect(run.artifacts.map((a) => a.path)).toEqual(['status.json']);
  });

  it('an error a custom step marks as not retryable is not retried', async () => {
    await t.client.request(RegisterWorkflowDocument, {
      definition: `name: missing\nversion: "1"\nsteps:\n  - { name: get, type: HTTP_REQUEST, url: "${base}/missing", retry: { maxAttempts: 3 } }\n`,
    });
    const project = await createProject(t);
    const { createRun } = await t.client.request(CreateRunDocument, { input: { projectId: project.id, goal: 'x', options: { workflowName: 'missing' } } });
    const events = await streamToEnd(t, createRun.id);
    expect(ofType(events, 'STEP_RETRYING')).toEqual([]);
    expect(ofType(events, 'STEP_FAILED')[0]?.data).toMatchObject({ retryable: false, attempts: 1 });
    expect((await getRun(t, createRun.id)).error).toBe(`Step "get" failed: GET ${base}/missing answered 404 Not Found; expected a 2xx status. Body: no such thing`);
    await expectRefused(
      t.client.request(RegisterWorkflowDocument, { definition: 'name: x\nversion: "1"\nsteps:\n  - { name: a, type: HTTP_REQUEST }\n' }),
      'BAD_USER_INPUT',
      'missing required field "url"',
    );
  });
});
