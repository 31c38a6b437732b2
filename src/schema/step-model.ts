import { MODEL_SOURCES, type StepModel } from '../engine/types.js';
import { builder } from './builder.js';

export const ModelSourceEnum = builder.enumType('ModelSource', {
  description: 'Where the model of a step that calls a model (LLM_GENERATE or AGENT) came from, by priority.',
  values: {
    RUN_OPTIONS: { description: "The run's own options.models (highest priority)." },
    ENVIRONMENT: { description: "The server's OLLAMA_<STEP>_MODEL variable, such as OLLAMA_PLANNER_MODEL." },
    WORKFLOW_DEFAULT: { description: "The workflow definition's default (lowest priority)." },
  } satisfies Record<(typeof MODEL_SOURCES)[number], { description: string }>,
});

export const StepModelRef = builder.objectRef<StepModel>('StepModel');

StepModelRef.implement({
  description: 'The model one step that calls a model (LLM_GENERATE or AGENT, a loop’s included) uses, and where that choice came from.',
  fields: (t) => ({
    step: t.exposeString('step', { description: 'The step name, such as planner or coder.' }),
    model: t.exposeString('model', { description: 'The Ollama model, such as llama2:latest.' }),
    source: t.expose('source', { type: ModelSourceEnum, description: 'Where the choice came from.' }),
  }),
});
