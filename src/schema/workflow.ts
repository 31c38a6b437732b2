import type { WorkflowDefinition, WorkflowStepDefinition } from '../engine/types.js';
import { builder } from './builder.js';
import { RetryPolicyRef } from './retry-policy.js';
import { StepModelRef } from './step-model.js';
import { StepTypeEnum } from './step-run.js';

export const WorkflowStepRef = builder.objectRef<WorkflowStepDefinition>('WorkflowStep');

WorkflowStepRef.implement({
  description: 'One step of a workflow definition.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Stable name of the step; model overrides use it (planner, coder).' }),
    type: t.expose('type', { type: StepTypeEnum, description: 'What kind of work the step does.' }),
    description: t.string({
      description: 'What the step does; "{model}" stands for the model in force.',
      resolve: (step) => step.description,
    }),
    model: t.exposeString('model', { nullable: true, description: 'LLM steps: the default model.' }),
    modelInForce: t.field({
      type: StepModelRef,
      nullable: true,
      description:
        'LLM steps: the model a new run gets unless it chooses its own (options.models), and where it comes from: the server’s OLLAMA_<STEP>_MODEL when set (ENVIRONMENT), else `model` (WORKFLOW_DEFAULT). Null for other steps.',
      resolve: (step, _args, { services }) => {
        if (step.type !== 'LLM_GENERATE') return null;
        const fromEnvironment = services.config.stepModels[step.name.toLowerCase()];
        if (fromEnvironment) return { step: step.name, model: fromEnvironment, source: 'ENVIRONMENT' as const };
        return step.model ? { step: step.name, model: step.model, source: 'WORKFLOW_DEFAULT' as const } : null;
      },
    }),
    outputFile: t.exposeString('outputFile', { nullable: true, description: 'The workspace file the step writes its output to.' }),
    command: t.exposeString('command', { nullable: true, description: 'Command steps: the command line.' }),
    network: t.boolean({
      nullable: true,
      description:
        'Command steps: whether the command may use the network (true unless the workflow says false; false needs the sandbox or a PID namespace, else the step fails). Null for other steps.',
      resolve: (step) => (step.type === 'SHELL_COMMAND' || step.type === 'MAVEN_COMMAND' ? step.network ?? true : null),
    }),
    saveArtifact: t.exposeBoolean('saveArtifact', { description: 'Whether the output is recorded as an artifact.' }),
    timeoutSeconds: t.exposeInt('timeoutSeconds', { nullable: true, description: 'The step’s own timeout, if it sets one.' }),
    retry: t.field({ type: RetryPolicyRef, nullable: true, description: 'How the step is retried after a failure; null: it is not.', resolve: (step) => step.retry ?? null }),
  }),
});

export const WorkflowRef = builder.objectRef<WorkflowDefinition>('Workflow');

WorkflowRef.implement({
  description: 'A named, versioned sequence of steps a run can execute.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Unique name, such as quarkus-bootstrap-v1.' }),
    version: t.exposeString('version', { description: 'Version of the definition.' }),
    description: t.exposeString('description', { description: 'What the workflow does.' }),
    steps: t.field({ type: [WorkflowStepRef], description: 'The steps, in order.', resolve: (w) => [...w.steps] }),
    defaultTimeoutSeconds: t.int({
      description: 'The LLM step timeout a new run gets unless it sets options.timeoutSeconds: the server’s OLLAMA_TIMEOUT_SECONDS (300 unless set).',
      resolve: (_workflow, _args, { services }) => Math.ceil(services.config.ollamaTimeoutSeconds),
    }),
  }),
});

builder.queryFields((t) => ({
  workflows: t.field({
    type: [WorkflowRef],
    description: 'Every workflow this server can run, by name.',
    resolve: (_root, _args, { services }) => services.workflows.list(),
  }),
  workflow: t.field({
    type: WorkflowRef,
    nullable: true,
    description: 'One workflow by name, or null if there is none.',
    args: { name: t.arg.string({ required: true, description: 'The workflow name.' }) },
    resolve: (_root, args, { services }) => services.workflows.get(args.name) ?? null,
  }),
}));
