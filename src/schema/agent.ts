import { agentRunWorkflow } from '../engine/agent/workflow.js';
import { AGENT_TOOLS } from '../engine/agent/tools.js';
import { defaultModel } from '../engine/run-plan.js';
import type { AgentOptions, AgentStep, LlmThink, StepModel } from '../engine/types.js';
import { agentDefaults } from '../config.js';
import { builder } from './builder.js';
import { StepModelRef } from './step-model.js';

/** `think` as the API names it. */
const THINK_VALUES = { ON: true, OFF: false, LOW: 'low', MEDIUM: 'medium', HIGH: 'high' } as const satisfies Record<string, LlmThink>;

export const AgentThinkEnum = builder.enumType('AgentThink', {
  description: 'Whether an agent’s model reasons before it answers (Ollama’s `think`). Left out: on when the model reports the `thinking` capability.',
  values: {
    ON: { description: 'Reason first (the model must report the thinking capability).' },
    OFF: { description: 'Answer without reasoning.' },
    LOW: { description: 'A little reasoning, for models that take levels (gpt-oss).' },
    MEDIUM: { description: 'Some reasoning, for models that take levels.' },
    HIGH: { description: 'Much reasoning, for models that take levels.' },
  } satisfies Record<keyof typeof THINK_VALUES, { description: string }>,
});

/** The agent options a client gave (AgentOptionsInput), without those it left out or set to null. */
export function agentOptionsFromInput(input: { think?: keyof typeof THINK_VALUES | null } & Record<string, unknown>): AgentOptions {
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) if (value !== null && value !== undefined) options[key] = value;
  if (input.think != null) options.think = THINK_VALUES[input.think];
  return options as AgentOptions;
}

export const AgentOptionsInput = builder.inputType('AgentOptionsInput', {
  description:
    'The limits and settings of a run’s agent (an AGENT run’s only step, or a workflow’s AGENT steps). Each beats the step definition’s own value and the server’s default (see agentDefaults). The model is chosen like any step’s: options.models [{step: "agent", model}] > OLLAMA_AGENT_MODEL > the default.',
  fields: (t) => ({
    maxIterations: t.int({ description: 'Model calls at most (1 to 1000; default AGENT_MAX_ITERATIONS, 40).' }),
    timeoutSeconds: t.int({ description: 'Seconds the whole agent may take (default AGENT_TIMEOUT_SECONDS, 1800). Each model call is also bounded by options.timeoutSeconds.' }),
    tokenBudget: t.int({ description: 'Prompt plus output tokens at most, summed over the turns as Ollama counts them (default AGENT_TOKEN_BUDGET, 400000).' }),
    numCtx: t.int({ description: 'The context window asked of Ollama (num_ctx), in tokens (default AGENT_NUM_CTX, 32768).' }),
    think: t.field({ type: AgentThinkEnum, description: 'Whether the model reasons first; default: on when the model reports the thinking capability.' }),
    toolResultMaxChars: t.int({ description: 'A tool’s result sent back to the model is cut to this many characters, with a note (default AGENT_TOOL_RESULT_MAX_CHARS, 12000).' }),
  }),
});

interface AgentDefaultsShape {
  model: StepModel;
  maxIterations: number;
  timeoutSeconds: number;
  tokenBudget: number;
  numCtx: number;
  toolResultMaxChars: number;
  callTimeoutSeconds: number;
  commandTimeoutSeconds: number;
  tools: string[];
}

const AgentDefaultsRef = builder.objectRef<AgentDefaultsShape>('AgentDefaults').implement({
  description: 'What a new AGENT run gets unless its options say otherwise.',
  fields: (t) => ({
    model: t.field({ type: StepModelRef, description: 'The model (step "agent"): OLLAMA_AGENT_MODEL when set (ENVIRONMENT), else the default (WORKFLOW_DEFAULT).', resolve: (d) => d.model }),
    maxIterations: t.exposeInt('maxIterations', { description: 'Model calls at most.' }),
    timeoutSeconds: t.exposeInt('timeoutSeconds', { description: 'Seconds the whole agent may take.' }),
    tokenBudget: t.exposeInt('tokenBudget', { description: 'Prompt plus output tokens at most.' }),
    numCtx: t.exposeInt('numCtx', { description: 'Context window in tokens.' }),
    toolResultMaxChars: t.exposeInt('toolResultMaxChars', { description: 'Characters of a tool’s result sent back to the model.' }),
    callTimeoutSeconds: t.exposeInt('callTimeoutSeconds', { description: 'Longest one model call may take (OLLAMA_TIMEOUT_SECONDS unless the run sets options.timeoutSeconds).' }),
    commandTimeoutSeconds: t.exposeInt('commandTimeoutSeconds', { description: 'Longest one run_command may take (SHELL_TIMEOUT_SECONDS).' }),
    tools: t.exposeStringList('tools', { description: 'The tools the agent has.' }),
  }),
});

builder.queryFields((t) => ({
  agentDefaults: t.field({
    type: AgentDefaultsRef,
    description: 'The model and limits a new AGENT run gets unless its options say otherwise.',
    resolve: (_root, _args, { services }) => ({
      ...agentDefaults(services.config),
      model: defaultModel(agentRunWorkflow.steps[0] as AgentStep, services.config.stepModels),
      callTimeoutSeconds: Math.ceil(services.config.ollamaTimeoutSeconds),
      commandTimeoutSeconds: Math.ceil(services.config.shellTimeoutSeconds),
      tools: AGENT_TOOLS.map((tool) => tool.name),
    }),
  }),
}));
