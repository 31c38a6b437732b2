/**
 * Every command of `agent-runner`, in the order --help lists them. A new command is one module
 * here (the server features still to come — `approve` / `reject` — each become one).
 */
import type { CommandModule } from '../command.js';
import { registerAgent } from './agent.js';
import { registerArtifacts } from './artifacts.js';
import { registerControl } from './control.js';
import { registerLogs } from './logs.js';
import { registerProjects } from './projects.js';
import { registerRun } from './run.js';
import { registerRuns } from './runs.js';
import { registerServe } from './serve.js';
import { registerWatch } from './watch.js';
import { registerWorkflowFiles } from './workflow-files.js';
import { registerWorkflows } from './workflows.js';

export const COMMANDS: readonly CommandModule[] = [
  registerServe,
  registerProjects,
  registerWorkflows,
  registerWorkflowFiles,
  registerRun,
  registerAgent,
  registerRuns,
  registerWatch,
  registerLogs,
  registerControl,
  registerArtifacts,
];
