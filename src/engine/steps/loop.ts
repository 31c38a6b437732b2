import { StepError, type LoopStep, type StepExecutor } from '../types.js';
import type { BuiltInStepKind } from './registry.js';

/** The runner runs loops itself (their steps are steps of the run); a LOOP never reaches an executor. */
const loopExecutor: StepExecutor<LoopStep> = async (ctx) => {
  throw new StepError(`Step "${ctx.step.name}" is a LOOP, which the runner runs itself`, { retryable: false });
};

/** LOOP as a step kind: its own steps, the condition that ends it, and its bound. */
export const loopKind: BuiltInStepKind<'LOOP'> = {
  type: 'LOOP',
  description: 'Runs its steps again and again (an iteration each time) until its until condition holds after an iteration, at most maxIterations times.',
  parameters: {
    type: 'object',
    required: ['steps', 'until', 'maxIterations'],
    properties: {
      steps: {
        type: 'array',
        minItems: 1,
        maxItems: 100,
        items: { $ref: '#/definitions/step' },
        description: 'The steps of one iteration: a list of its own (needs name steps of this list; without needs, file order).',
      },
      until: {
        type: 'string',
        minLength: 1,
        description: "Evaluated after each iteration; the loop completes when it holds, such as ${{ steps.test.outcome == 'success' }}.",
      },
      maxIterations: {
        // minimum and maximum bind a number, pattern a string: one clear problem whichever is written.
        type: ['integer', 'string'],
        minimum: 1,
        maximum: 1000,
        pattern: '\\$\\{\\{',
        description: 'Iterations at most (1 to 1000), or an expression evaluated when the loop starts, such as ${{ inputs.maxTries }}; after the last one without until holding, the loop fails.',
      },
      maxParallel: { type: 'integer', minimum: 1, maximum: 100, description: 'How many of its steps may run at once (default: the workflow’s).' },
    },
  },
  templateFields: [],
  commandFields: [],
  execute: loopExecutor,
  source: null,
};
