import type { BuiltInStepKind } from './registry.js';
import { StepError, type FileWriteStep, type StepExecutor } from '../types.js';

/** FILE_WRITE: writes `content` (placeholders filled in) or an earlier step's output to `outputFile`. */
export const fileWrite: StepExecutor<FileWriteStep> = async (ctx) => {
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
    content = step.content;
  } else {
    throw new StepError(`Step "${step.name}" has neither content nor contentFrom: there is nothing to write`, { retryable: false });
  }

  const sizeBytes = await ctx.workspace.writeFile(step.outputFile, content);
  if (step.saveArtifact) await ctx.recordArtifact(step.outputFile, 'FILE');
  return { output: content, data: { path: step.outputFile, sizeBytes }, summary: `Wrote ${sizeBytes} bytes to ${step.outputFile}` };
};

/** FILE_WRITE as a step kind. */
export const fileWriteKind: BuiltInStepKind<'FILE_WRITE'> = {
  type: 'FILE_WRITE',
  description: 'Writes given content, or an earlier step’s output, to a workspace file.',
  parameters: {
    type: 'object',
    required: ['outputFile'],
    properties: {
      outputFile: { type: 'string', minLength: 1, maxLength: 1024, description: 'Workspace-relative file to write (a template).' },
      content: { type: 'string', description: 'The content (a template). Give this or contentFrom.' },
      contentFrom: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_-]*$', description: 'Write the text output of this earlier step instead.' },
    },
  },
  templateFields: ['outputFile', 'content'],
  commandFields: [],
  execute: fileWrite,
  source: null,
};
