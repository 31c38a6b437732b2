import type { BuiltInStepKind } from './registry.js';
import { findExecutable } from '../executables.js';
import { StepError, type MavenCommandStep, type StepExecutor } from '../types.js';
import { NETWORK_PARAMETER, asStep, runCommand } from './shell-command.js';

/** MAVEN_COMMAND: `mvn <command>` (or the command as written if it already calls mvn or the wrapper). */
export const mavenCommand: StepExecutor<MavenCommandStep> = async (ctx) => {
  const written = ctx.step.command?.trim();
  if (!written) throw new StepError(`Step "${ctx.step.name}" has no Maven command to run (for example "test")`, { retryable: false });
  const usesWrapper = /^(?:\.\/)?mvnw(?:\s|$)/.test(written);
  const command = usesWrapper || /^mvn(?:\s|$)/.test(written) ? written : `mvn ${written}`;
  if (!usesWrapper && (await findExecutable('mvn')) === undefined) {
    throw new StepError('Maven (mvn) is not installed or not on PATH', { retryable: false, data: { command } });
  }
  return runCommand(asStep(ctx), command, { network: ctx.step.network });
};

/** MAVEN_COMMAND as a step kind. */
export const mavenCommandKind: BuiltInStepKind<'MAVEN_COMMAND'> = {
  type: 'MAVEN_COMMAND',
  description: 'Runs a Maven command (mvn is prepended unless present) in the workspace.',
  parameters: {
    type: 'object',
    required: ['command'],
    properties: {
      command: { type: 'string', minLength: 1, description: 'Such as "test" or "mvn -q verify" (values of ${{ … }} as for SHELL_COMMAND).' },
      network: NETWORK_PARAMETER,
    },
  },
  templateFields: [],
  commandFields: ['command'],
  execute: mavenCommand,
  source: null,
};
