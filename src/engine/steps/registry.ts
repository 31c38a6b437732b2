import type { StepExecutor, StepType } from '../types.js';
import { agentStep } from './agent.js';
import { fileWrite } from './file-write.js';
import { llmGenerate } from './llm-generate.js';
import { mavenCommand } from './maven-command.js';
import { shellCommand } from './shell-command.js';

/** The executor of each kind of step. */
export const stepExecutors: Record<StepType, StepExecutor> = {
  LLM_GENERATE: llmGenerate,
  FILE_WRITE: fileWrite,
  SHELL_COMMAND: shellCommand,
  MAVEN_COMMAND: mavenCommand,
  AGENT: agentStep,
};
