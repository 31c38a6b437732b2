import type { WorkflowDefinition, WorkflowVersionRecord } from '../types.js';
import { definitionHash } from '../workflows/parse.js';

/** The name of an AGENT run's only step; `OLLAMA_AGENT_MODEL` and `options.models` name it to choose its model. */
export const AGENT_STEP_NAME = 'agent';

/** The model of an AGENT run unless the run or the environment chooses another: this server's default coder. */
export const DEFAULT_AGENT_MODEL = 'qwen3-coder:latest';

/**
 * What an AGENT run executes: a one-step workflow whose step is the agent. It is not registered
 * with the workflows (it is chosen by `runType: AGENT`, not by name); like any run's, it is pinned
 * with the run. So the same runner, worker, pause, stop, retry and recovery serve agent runs and
 * workflow runs alike.
 */
export const agentRunWorkflow: WorkflowDefinition = {
  name: 'agent',
  version: '1.0.0',
  description: "An agent that works on the run's goal with tools in the project's folder until it finishes or a limit is reached.",
  inputs: {},
  steps: [
    {
      name: AGENT_STEP_NAME,
      type: 'AGENT',
      description: 'Work on the goal with tools using {model}',
      model: DEFAULT_AGENT_MODEL,
      saveArtifact: false,
    },
  ],
};

/** The agent workflow as a version record, the shape a run's plan pins. */
export const agentRunRecord: WorkflowVersionRecord = {
  definition: agentRunWorkflow,
  source: '',
  contentHash: definitionHash(agentRunWorkflow),
  origin: 'BUILT_IN',
  originPath: null,
  registeredAt: new Date(0),
};
