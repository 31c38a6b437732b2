import { runAgent } from '../agent/loop.js';
import type { AgentStep, StepExecutor } from '../types.js';
import type { BuiltInStepKind } from './registry.js';

/**
 * AGENT: a model works on the step's task (default: the run's goal) with tools in the workspace
 * until it finishes or a limit is reached; see `agent/loop.ts`. Its conversation survives pauses,
 * restarts and crashes, and directives sent to the run reach it before its next model call.
 */
export const agentStep: StepExecutor<AgentStep> = (ctx) => runAgent(ctx);

const limit = (description: string, minimum: number) => ({ type: 'integer', minimum, description });

export const agentKind: BuiltInStepKind<'AGENT'> = {
  type: 'AGENT',
  description:
    'An agent: a model that works on a task with tools in the workspace (list, read, write, edit and search files, run commands) until it calls finish, answers without a tool call, or reaches a limit.',
  parameters: {
    type: 'object',
    required: ['model'],
    properties: {
      model: { type: 'string', minLength: 1, maxLength: 200, description: 'The default model (it must support tools); a run’s options.models and OLLAMA_<STEP>_MODEL beat it.' },
      task: { type: 'string', minLength: 1, description: 'What the agent is asked to do (a template: ${{ … }}, {goal}, {output:STEP}); default: the run’s goal.' },
      maxIterations: limit('Model calls at most (default AGENT_MAX_ITERATIONS); a run’s options.agent beats it.', 1),
      tokenBudget: limit('Prompt plus output tokens at most, over all model calls (default AGENT_TOKEN_BUDGET).', 100),
      numCtx: limit('The context window asked of Ollama (num_ctx), in tokens (default AGENT_NUM_CTX).', 256),
      think: { enum: [true, false, 'low', 'medium', 'high'], description: 'Reasoning, sent as Ollama’s think; default: on when the model reports the thinking capability.' },
      toolResultMaxChars: limit('A tool’s result sent back to the model is cut to this many characters, with a note (default AGENT_TOOL_RESULT_MAX_CHARS).', 100),
    },
  },
  templateFields: ['task'],
  commandFields: [],
  execute: agentStep,
  source: null,
};
