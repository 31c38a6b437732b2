import { renderTemplate } from '../template.js';
import { StepError, type StepExecutor } from '../types.js';

/** FILE_WRITE: writes `content` (placeholders filled in) or an earlier step's output to `outputFile`. */
export const fileWrite: StepExecutor = async (ctx) => {
  const { step } = ctx;
  if (!step.outputFile) throw new StepError(`Step "${step.name}" has no outputFile to write to`, { retryable: false });

  let content: string;
  if (step.contentFrom !== undefined) {
    const output = ctx.outputs.get(step.contentFrom);
    if (output === undefined) {
      throw new StepError(`Step "${step.name}" writes the output of step "${step.contentFrom}", but that step has no output (it has not run before this one, or produced no text)`, {
        retryable: false,
      });
    }
    content = output;
  } else if (step.content !== undefined) {
    content = renderTemplate(step.content, ctx);
  } else {
    throw new StepError(`Step "${step.name}" has neither content nor contentFrom: there is nothing to write`, { retryable: false });
  }

  const sizeBytes = await ctx.workspace.writeFile(step.outputFile, content);
  if (step.saveArtifact) await ctx.recordArtifact(step.outputFile, 'FILE');
  return { output: content, data: { path: step.outputFile, sizeBytes }, summary: `Wrote ${sizeBytes} bytes to ${step.outputFile}` };
};
