import { findExecutable } from '../executables.js';
import { StepError, type StepExecutor } from '../types.js';
import { runCommand } from './shell-command.js';

/** MAVEN_COMMAND: `mvn <command>` (or the command as written if it already calls mvn or the wrapper). */
export const mavenCommand: StepExecutor = async (ctx) => {
  const written = ctx.step.command?.trim();
  if (!written) throw new StepError(`Step "${ctx.step.name}" has no Maven command to run (for example "test")`, { retryable: false });
  const usesWrapper = /^(?:\.\/)?mvnw(?:\s|$)/.test(written);
  const command = usesWrapper || /^mvn(?:\s|$)/.test(written) ? written : `mvn ${written}`;
  if (!usesWrapper && (await findExecutable('mvn')) === undefined) {
    throw new StepError('Maven (mvn) is not installed or not on PATH', { retryable: false, data: { command } });
  }
  return runCommand(ctx, command);
};
