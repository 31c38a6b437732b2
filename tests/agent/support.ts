/**
 * Shared pieces of the agent tests: the models the fake Ollama offers, an agent run created and
 * followed through the real server, the requests the agent sent, and tool calls written as text.
 */
import { CreateRunDocument, type CreateRunMutationVariables, type EventFieldsFragment } from '../../src/client/generated/graphql.js';
import { chatMessages, type FakeOllama, type FakeModel, type RecordedRequest } from '../helpers/fake-ollama.js';
import type { TestApp } from '../helpers/test-app.js';
import { getRun, streamToEnd } from '../workflow/support.js';

/** The default agent model (DEFAULT_AGENT_MODEL): it has tools, not thinking. */
export const AGENT_MODEL = 'qwen3-coder:latest';
/** A model without tools. */
export const NO_TOOLS_MODEL = 'gemma3:27b';
/** A model that has tools and thinks. */
export const THINKING_MODEL = 'qwen3:8b';
/** Another model with tools, to be named when a model without them is refused. */
export const OTHER_TOOLS_MODEL = 'llama3.1:8b';

export const AGENT_MODELS: FakeModel[] = [
  { name: AGENT_MODEL, capabilities: ['completion', 'tools'] },
  { name: NO_TOOLS_MODEL, capabilities: ['completion', 'vision'] },
  { name: THINKING_MODEL, capabilities: ['completion', 'tools', 'thinking'] },
  { name: OTHER_TOOLS_MODEL, capabilities: ['completion', 'tools'] },
];

/** The model of the LLM step in LOOP_MODELS_WORKFLOW (a model without tools suffices there). */
export const DRAFT_MODEL = NO_TOOLS_MODEL;

/** A loop holding an LLM step and an agent step: both take a model, though neither is at the top level. */
export const LOOP_MODELS_WORKFLOW = `name: loop-models
version: "1"
steps:
  - name: rounds
    type: LOOP
    maxIterations: 1
    until: \${{ true }}
    steps:
      - { name: draft, type: LLM_GENERATE, model: "${DRAFT_MODEL}", prompt: "Draft {goal}", outputFile: draft.md }
      - { name: fixer, type: AGENT, model: "${AGENT_MODEL}", task: "Fix the draft" }
`;

export type AgentOptions = NonNullable<NonNullable<CreateRunMutationVariables['input']['options']>['agent']>;
export type RunOptions = NonNullable<CreateRunMutationVariables['input']['options']>;

export async function createAgentRun(t: TestApp, projectId: string, goal: string, options: RunOptions = {}) {
  const { createRun } = await t.client.request(CreateRunDocument, { input: { projectId, goal, runType: 'AGENT', options } });
  return createRun;
}

/** Creates an agent run and follows it to its end; returns its events and final state. */
export async function agentRunToEnd(t: TestApp, projectId: string, goal: string, options: RunOptions = {}) {
  const created = await createAgentRun(t, projectId, goal, options);
  const events = await streamToEnd(t, created.id, 40_000);
  return { created, events, run: await getRun(t, created.id) };
}

/** The /api/chat requests since `from` (an index into fake.requests). */
export function chatRequests(fake: FakeOllama, from = 0): RecordedRequest[] {
  return fake.requests.slice(from).filter((r) => r.path === '/api/chat');
}

/** The tool messages the agent sent in a request, as [tool_name, content]. */
export function toolMessages(req: RecordedRequest): Array<[string | undefined, string]> {
  return chatMessages(req)
    .filter((m) => m.role === 'tool')
    .map((m) => [m.tool_name, m.content]);
}

/** A call as a turn of `conversationScript`: structured, streamed on its own line. */
export function call(name: string, args: Record<string, unknown> = {}) {
  return { toolCalls: [{ name, arguments: args }] };
}

/** A call in qwen3-coder's XML-like text form, as it writes it when Ollama's parser misses it. */
export function qwenTextCall(name: string, args: Record<string, string | number | boolean>): string {
  const parameters = Object.entries(args).map(([key, value]) => `<parameter=${key}>\n${value}\n</parameter>`);
  return `<tool_call>\n<function=${name}>\n${parameters.join('\n')}\n</function>\n</tool_call>`;
}

export function dataOf<T = Record<string, unknown>>(event: EventFieldsFragment): T {
  return event.data as T;
}
