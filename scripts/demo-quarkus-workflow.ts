/**
 * The demo: creates a project and a quarkus-bootstrap-v1 run on a running server, prints the run's
 * events live as they arrive (the models' text streams in), then its artifacts.
 * Run it through scripts/demo-quarkus-workflow.sh; settings come from the environment:
 *   AGENT_RUNNER_URL (http://127.0.0.1:8000), API_TOKEN, DEMO_PROJECT_PATH (/tmp/quarkus-demo-<time>),
 *   DEMO_GOAL, DEMO_PLANNER_MODEL, DEMO_CODER_MODEL, DEMO_TIMEOUT_SECONDS.
 */
import { AgentRunnerClient, GraphQLRequestError } from '../src/client/client.js';
import { ArtifactsDocument, CreateProjectDocument, CreateRunDocument, RunDocument, RunEventsDocument } from '../src/client/generated/graphql.js';

const url = process.env.AGENT_RUNNER_URL ?? 'http://127.0.0.1:8000';
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
const projectPath = process.env.DEMO_PROJECT_PATH ?? `/tmp/quarkus-demo-${stamp}`;
const goal = process.env.DEMO_GOAL ?? 'Generate Quarkus GraphQL + OpenTelemetry project';
const models = [
  ...(process.env.DEMO_PLANNER_MODEL ? [{ step: 'planner', model: process.env.DEMO_PLANNER_MODEL }] : []),
  ...(process.env.DEMO_CODER_MODEL ? [{ step: 'coder', model: process.env.DEMO_CODER_MODEL }] : []),
];
const timeoutSeconds = process.env.DEMO_TIMEOUT_SECONDS ? Number(process.env.DEMO_TIMEOUT_SECONDS) : undefined;

const client = new AgentRunnerClient({ url, token: process.env.API_TOKEN });

async function main(): Promise<number> {
  const health = await fetch(`${url}/health`).catch(() => null);
  if (!health?.ok) {
    console.error(`No agent-runner answers at ${url}. Start it with "npm start" (or set AGENT_RUNNER_URL).`);
    return 1;
  }
  const { createProject: project } = await client.request(CreateProjectDocument, { name: `quarkus-demo-${stamp}`, localPath: projectPath });
  console.log(`Project ${project.id} "${project.name}" in ${project.localPath}`);
  const { createRun: run } = await client.request(CreateRunDocument, {
    input: {
      projectId: project.id,
      goal,
      options: { workflowName: 'quarkus-bootstrap-v1', ...(models.length ? { models } : {}), ...(timeoutSeconds ? { timeoutSeconds } : {}) },
    },
  });
  console.log(`Run ${run.id}: ${run.workflowName}, models ${run.models.map((m) => `${m.step}=${m.model} (${m.source})`).join(', ')}\n`);

  const started = Date.now();
  let streaming = false;
  for await (const { runEvents: event } of client.subscribe(RunEventsDocument, { runId: run.id, after: 0 })) {
    const elapsed = `+${((Date.now() - started) / 1000).toFixed(1)}s`.padStart(8);
    if (event.type === 'LLM_TOKEN' || event.type === 'SHELL_OUTPUT') {
      process.stdout.write(String((event.data as { text?: string } | null)?.text ?? ''));
      streaming = true;
      continue;
    }
    if (streaming) process.stdout.write('\n');
    streaming = false;
    const step = event.stepName ? ` [${event.stepName}]` : '';
    console.log(`${String(event.seq).padStart(4)} ${elapsed} ${event.type}${step} ${event.message}`);
  }

  const { run: finished } = await client.request(RunDocument, { id: run.id });
  const { run: withArtifacts } = await client.request(ArtifactsDocument, { runId: run.id, maxBytes: 1 });
  console.log(`\nRun ${run.id} ended ${finished?.status}${finished?.error ? `: ${finished.error}` : ''}`);
  console.log('Artifacts:');
  for (const artifact of withArtifacts?.artifacts ?? []) {
    console.log(`  ${artifact.kind.padEnd(15)} ${String(artifact.sizeBytes).padStart(8)} B  ${projectPath}/${artifact.path}`);
  }
  return finished?.status === 'COMPLETED' ? 0 : 1;
}

main()
  .then(async (code) => {
    await client.close();
    process.exit(code);
  })
  .catch(async (error: unknown) => {
    console.error(error instanceof GraphQLRequestError ? `The server refused: ${error.message} (${error.code})` : error);
    await client.close();
    process.exit(1);
  });
