/**
 * The whole built-in `quarkus-bootstrap-v1` workflow through the real server and a real
 * subscription: the fake Ollama streams a plan and the project files, a stub `mvn` on PATH runs
 * the "tests", and the run ends COMPLETED with its files, artifacts and the seed's event sequence.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ArtifactsDocument, type EventFieldsFragment } from '../../src/client/generated/graphql.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import {
  CODER_MODEL,
  PLAN_TEXT,
  PLAN_TOKENS,
  PLANNER_MODEL,
  PROJECT_FILES,
  coderAnswer,
  collapsedTypes,
  createProject,
  expectGaplessSeqs,
  installStubMvn,
  ofType,
  queryEvents,
  runToEnd,
  tokensOf,
  type FullRun,
} from './support.js';

/** The seed's sequence, with consecutive LLM_TOKEN / SHELL_OUTPUT collapsed. */
const SEED_SEQUENCE = [
  'RUN_QUEUED',
  'WORKFLOW_LOOKUP',
  'WORKFLOW_STARTED',
  // planner
  'STEP_STARTED',
  'LLM_LOADING_MODEL',
  'LLM_GENERATING',
  'LLM_TOKEN',
  'LLM_DONE',
  'ARTIFACT_CREATED', // PLAN.md
  'STEP_COMPLETED',
  // coder
  'STEP_STARTED',
  'LLM_LOADING_MODEL',
  'LLM_GENERATING',
  'LLM_TOKEN',
  'LLM_DONE',
  'ARTIFACT_CREATED', // project_files.txt
  'ARTIFACT_CREATED', // pom.xml
  'ARTIFACT_CREATED', // GreetingResource.java
  'ARTIFACT_CREATED', // GreetingResourceTest.java
  'STEP_COMPLETED',
  // maven_test
  'STEP_STARTED',
  'SHELL_EXECUTING',
  'SHELL_OUTPUT',
  'ARTIFACT_CREATED', // maven_test_output.txt
  'STEP_COMPLETED',
  'WORKFLOW_COMPLETED',
];

describe('quarkus-bootstrap-v1 against the fake Ollama and a stub mvn', () => {
  let fake: FakeOllama;
  let t: TestApp;
  let workspace: string;
  let events: EventFieldsFragment[];
  let run: FullRun;

  beforeAll(async () => {
    fake = await startFakeOllama({ models: [PLANNER_MODEL, CODER_MODEL] });
    fake.script(PLANNER_MODEL, { tokens: PLAN_TOKENS, tokenDelayMs: 15 });
    fake.script(CODER_MODEL, { tokens: tokensOf(coderAnswer()), tokenDelayMs: 15 });
    t = await startTestApp({ ollamaBaseUrl: fake.url, llmHeartbeatMs: 200, streamCoalesceMs: 20 });

    installStubMvn(t.dir);

    const project = await createProject(t, 'quarkus');
    workspace = project.path;
    ({ events, run } = await runToEnd(t, project.id));
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await t?.close();
    await fake?.close();
  });

  it('completes every step', () => {
    expect(run.error).toBeNull();
    expect(run.status).toBe('COMPLETED');
    expect(run.startedAt).not.toBeNull();
    expect(run.finishedAt).not.toBeNull();
    expect(run.steps.map((s) => [s.name, s.type, s.status, s.attempt])).toEqual([
      ['planner', 'LLM_GENERATE', 'COMPLETED', 1],
      ['coder', 'LLM_GENERATE', 'COMPLETED', 1],
      ['maven_test', 'MAVEN_COMMAND', 'COMPLETED', 1],
    ]);
    expect(run.models).toEqual([
      { step: 'planner', model: PLANNER_MODEL, source: 'WORKFLOW_DEFAULT' },
      { step: 'coder', model: CODER_MODEL, source: 'WORKFLOW_DEFAULT' },
    ]);
    expect(run.steps[0].description).toBe('Create project plan using gemma3:27b');
    expect(run.steps[1].description).toBe('Generate Maven project files using qwen3-coder');
  });

  it('asks each model with its own prompt; the coder is given the plan', () => {
    const generations = fake.requests.filter((r) => r.path === '/api/generate');
    expect(generations.map((r) => r.model)).toEqual([PLANNER_MODEL, CODER_MODEL]);
    expect(generations[0].body.prompt).toContain('Generate Quarkus GraphQL + OpenTelemetry project');
    expect(generations[1].body.prompt).toContain(PLAN_TEXT);
    expect(generations.every((r) => r.stream)).toBe(true);
  });

  it('writes PLAN.md with the streamed plan', () => {
    expect(readFileSync(join(workspace, 'PLAN.md'), 'utf8')).toBe(PLAN_TEXT);
  });

  it('extracts the files into a Maven layout and keeps the raw answer in project_files.txt', () => {
    for (const [path, content] of Object.entries(PROJECT_FILES)) {
      // Extracted files end with a newline, as source files do.
      expect(readFileSync(join(workspace, path), 'utf8'), path).toBe(`${content}\n`);
    }
    expect(readFileSync(join(workspace, 'project_files.txt'), 'utf8')).toBe(coderAnswer());
  });

  it('runs mvn test in the workspace and saves its output as maven_test_output.txt', () => {
    const output = readFileSync(join(workspace, 'maven_test_output.txt'), 'utf8');
    expect(output).toMatch(/^Command: mvn test\nReturn code: 0\n\nSTDOUT:\n/);
    expect(output).toContain('[INFO] stub mvn called with: test');
    expect(output).toContain('[INFO] pom.xml exists');
    expect(output).toContain('[INFO] BUILD SUCCESS');
    expect(output).toMatch(/STDERR:\n\[WARNING\] this is a stub, not Maven/);
    const executing = ofType(events, 'SHELL_EXECUTING');
    expect(executing).toHaveLength(1);
    expect(executing[0].data).toMatchObject({ command: 'mvn test' });
    const completed = ofType(events, 'STEP_COMPLETED').find((e) => e.stepName === 'maven_test');
    expect(completed?.data).toMatchObject({ exitCode: 0, command: 'mvn test' });
    const shellText = ofType(events, 'SHELL_OUTPUT')
      .filter((e) => (e.data as { stream: string }).stream === 'stdout')
      .map((e) => (e.data as { text: string }).text)
      .join('');
    expect(shellText).toContain('[INFO] BUILD SUCCESS');
  });

  it('lists every artifact in the run query, with its size and content', async () => {
    const expected = [
      { stepName: 'planner', kind: 'GENERATED_FILE', path: 'PLAN.md' },
      { stepName: 'coder', kind: 'GENERATED_FILE', path: 'project_files.txt' },
      ...Object.keys(PROJECT_FILES).map((path) => ({ stepName: 'coder', kind: 'GENERATED_FILE', path })),
      { stepName: 'maven_test', kind: 'COMMAND_OUTPUT', path: 'maven_test_output.txt' },
    ];
    expect(run.artifacts.map(({ stepName, kind, path }) => ({ stepName, kind, path }))).toEqual(expected);
    for (const artifact of run.artifacts) {
      expect(artifact.runId).toBe(run.id);
      expect(artifact.sizeBytes, artifact.path).toBe(statSync(join(workspace, artifact.path)).size);
    }
    const { run: withContent } = await t.client.request(ArtifactsDocument, { runId: run.id });
    const plan = withContent?.artifacts.find((a) => a.path === 'PLAN.md');
    expect(plan?.content).toBe(PLAN_TEXT);
    const mavenOutput = withContent?.artifacts.find((a) => a.path === 'maven_test_output.txt');
    expect(mavenOutput?.content).toContain('Return code: 0');
    // Each ARTIFACT_CREATED event names an artifact the query lists.
    const created = ofType(events, 'ARTIFACT_CREATED').map((e) => (e.data as { artifactId: string; path: string }));
    expect(created.map((c) => [c.artifactId, c.path])).toEqual(run.artifacts.map((a) => [a.id, a.path]));
    // Nothing but the workflow's files (no temporary files left behind) in the workspace.
    const files = readdirSync(workspace, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => relative(workspace, join(entry.parentPath, entry.name)))
      .sort();
    expect(files).toEqual(expected.map((e) => e.path).sort());
  });

  it('emits the seed event sequence, in order, numbered without gaps', () => {
    expectGaplessSeqs(events);
    // A heartbeat may legitimately come while a model loads; it is not part of the seed sequence.
    expect(collapsedTypes(events.filter((e) => e.type !== 'LLM_HEARTBEAT'))).toEqual(SEED_SEQUENCE);
    expect(events.every((e) => e.runId === run.id)).toBe(true);
    // Step events carry their step's name; run-level events carry none.
    for (const event of events) {
      if (['RUN_QUEUED', 'WORKFLOW_LOOKUP', 'WORKFLOW_STARTED', 'WORKFLOW_COMPLETED'].includes(event.type)) expect(event.stepName, event.type).toBeNull();
      else expect(['planner', 'coder', 'maven_test'], `${event.type} #${event.seq}`).toContain(event.stepName);
    }
    const started = ofType(events, 'STEP_STARTED');
    expect(started.map((e) => e.message)).toEqual([
      'Step 1/3: Create project plan using gemma3:27b',
      'Step 2/3: Generate Maven project files using qwen3-coder',
      'Step 3/3: Run the Maven tests',
    ]);
    expect(ofType(events, 'LLM_LOADING_MODEL').map((e) => e.message)).toEqual([`Loading model: ${PLANNER_MODEL}`, `Loading model: ${CODER_MODEL}`]);
  });

  it('delivers the same events over the subscription as the events query', async () => {
    const queried = await queryEvents(t, run.id);
    expect(queried).toEqual(events);
    // The run's own events field agrees too.
    expect(queried.map((e) => e.id)).toEqual(events.map((e) => e.id));
  });

  it('streams the plan as LLM_TOKEN deltas that add up to PLAN.md', () => {
    const plannerTokens = ofType(events, 'LLM_TOKEN').filter((e) => e.stepName === 'planner');
    expect(plannerTokens.length).toBeGreaterThan(0);
    const text = plannerTokens.map((e) => (e.data as { text: string }).text).join('');
    expect(text).toBe(PLAN_TEXT);
    expect(text).toBe(readFileSync(join(workspace, 'PLAN.md'), 'utf8'));
    for (const token of plannerTokens) expect(token.message).toBe((token.data as { text: string }).text);
    const coderText = ofType(events, 'LLM_TOKEN')
      .filter((e) => e.stepName === 'coder')
      .map((e) => (e.data as { text: string }).text)
      .join('');
    expect(coderText).toBe(coderAnswer());
  });

  it('reports the generation metrics in LLM_DONE', () => {
    const done = ofType(events, 'LLM_DONE');
    expect(done.map((e) => e.stepName)).toEqual(['planner', 'coder']);
    const planner = done[0].data as Record<string, unknown>;
    expect(planner).toMatchObject({ model: PLANNER_MODEL, characters: PLAN_TEXT.length, tokens: PLAN_TOKENS.length, doneReason: 'stop' });
    for (const event of done) {
      const data = event.data as Record<string, unknown>;
      expect(typeof data.characters).toBe('number');
      expect(typeof data.tokens).toBe('number');
      expect(typeof data.tokensPerSecond).toBe('number');
      expect(typeof data.loadSeconds).toBe('number');
      expect(data.tokensPerSecond as number).toBeGreaterThan(0);
      expect(data.loadSeconds as number).toBeGreaterThanOrEqual(0);
    }
    expect((done[1].data as Record<string, unknown>).characters).toBe(coderAnswer().length);
  });
});
