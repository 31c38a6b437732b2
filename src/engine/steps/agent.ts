import { runAgent } from '../agent/loop.js';
import type { StepExecutor } from '../types.js';

/**
 * AGENT: a model works on the step's task (default: the run's goal) with tools in the workspace
 * until it finishes or a limit is reached; see `agent/loop.ts`. Its conversation survives pauses,
 * restarts and crashes, and directives sent to the run reach it before its next model call.
 */
export const agentStep: StepExecutor = (ctx) => runAgent(ctx);
