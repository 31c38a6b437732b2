import { defaultModel, usesModel, workflowModels } from '../engine/run-plan.js';
import { stepGraph } from '../engine/graph.js';
import type { AnyStepKind } from '../engine/steps/registry.js';
import {
  INPUT_TYPES,
  WORKFLOW_ORIGINS,
  type DefinitionProblem,
  type InputType,
  type WorkflowInputDefinition,
  type WorkflowStepDefinition,
  type WorkflowVersionRecord,
} from '../engine/types.js';
import type { LoadProblem } from '../engine/workflows/registry.js';
import { registerWorkflow, validateWorkflow, type WorkflowValidation } from '../services/workflows.js';
import { builder } from './builder.js';
import { RetryPolicyRef } from './retry-policy.js';
import { StepModelRef } from './step-model.js';
import { StepTypeEnum } from './step-run.js';

export const WorkflowStepRef = builder.objectRef<WorkflowStepDefinition>('WorkflowStep');

/** Each step's needs and depth, learnt when a workflow's steps are listed (a step is only reached through them). */
const graphInfo = new WeakMap<WorkflowStepDefinition, { needs: string[]; depth: number }>();

/** The steps of a list, with their graph remembered for their `needs` and `depth` fields. */
export function stepsWithGraph(steps: readonly WorkflowStepDefinition[]): WorkflowStepDefinition[] {
  for (const [step, info] of stepGraph(steps)) graphInfo.set(step, info);
  return [...steps];
}

/** A field of one step kind, or null for steps of other kinds. */
const field = <K extends string>(step: WorkflowStepDefinition, key: K): unknown => (key in step ? (step as unknown as Record<K, unknown>)[key] : null);
const stringField = (step: WorkflowStepDefinition, key: string): string | null => {
  const value = field(step, key);
  return typeof value === 'string' ? value : null;
};

WorkflowStepRef.implement({
  description: 'One step of a workflow definition.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Stable name of the step; model overrides, retryRun(fromStep) and `steps.<name>` in expressions use it.' }),
    type: t.expose('type', { type: StepTypeEnum, description: 'What kind of work the step does (CUSTOM: a type loaded from STEP_TYPES_DIR, named by typeName).' }),
    typeName: t.string({
      description: 'The step type as written in the definition: a built-in type, or a custom type’s name such as HTTP_REQUEST.',
      resolve: (step) => (step.type === 'CUSTOM' ? step.customType : step.type),
    }),
    description: t.string({ description: 'What the step does; "{model}" stands for the model in force.', resolve: (step) => step.description }),
    model: t.string({ nullable: true, description: 'LLM steps: the default model.', resolve: (step) => stringField(step, 'model') }),
    modelInForce: t.field({
      type: StepModelRef,
      nullable: true,
      description:
        'LLM and agent steps: the model a new run gets unless it chooses its own (options.models), and where it comes from: the server’s OLLAMA_<STEP>_MODEL when set (ENVIRONMENT), else `model` (WORKFLOW_DEFAULT). Null for other steps.',
      resolve: (step, _args, { services }) => {
        return usesModel(step) ? defaultModel(step, services.config.stepModels) : null;
      },
    }),
    prompt: t.string({ nullable: true, description: 'LLM steps: the prompt template.', resolve: (step) => stringField(step, 'prompt') }),
    system: t.string({ nullable: true, description: 'LLM steps: the system prompt template, if any.', resolve: (step) => stringField(step, 'system') }),
    outputFile: t.string({ nullable: true, description: 'The workspace file the step writes its output to (a template).', resolve: (step) => stringField(step, 'outputFile') }),
    extractFiles: t.boolean({ description: 'LLM steps: whether the files in the answer are written into the workspace.', resolve: (step) => field(step, 'extractFiles') === true }),
    command: t.string({ nullable: true, description: 'Command steps: the command line (a template).', resolve: (step) => stringField(step, 'command') }),
    content: t.string({ nullable: true, description: 'FILE_WRITE: the content template.', resolve: (step) => stringField(step, 'content') }),
    contentFrom: t.string({ nullable: true, description: 'FILE_WRITE: the earlier step whose output is written.', resolve: (step) => stringField(step, 'contentFrom') }),
    params: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Custom step types: the step’s parameters (templates rendered when it runs). Null for built-in types.',
      resolve: (step) => (step.type === 'CUSTOM' ? step.params : null),
    }),
    network: t.boolean({
      nullable: true,
      description:
        'Command steps: whether the command may use the network (true unless the workflow says false; false needs the sandbox or a PID namespace, else the step fails). Null for other steps.',
      resolve: (step) => (step.type === 'SHELL_COMMAND' || step.type === 'MAVEN_COMMAND' ? (step.network ?? true) : null),
    }),
    saveArtifact: t.exposeBoolean('saveArtifact', { description: 'Whether the output is recorded as an artifact.' }),
    continueOnError: t.boolean({ description: 'Whether a failure of this step lets the run go on.', resolve: (step) => step.continueOnError === true }),
    timeoutSeconds: t.int({ nullable: true, description: 'The step’s own timeout in seconds, if it sets one.', resolve: (step) => (step.timeoutSeconds === undefined ? null : Math.ceil(step.timeoutSeconds)) }),
    task: t.string({ nullable: true, description: 'Agent steps: what the agent is asked to do (a template); null: the run’s goal.', resolve: (step) => (step.type === 'AGENT' ? (step.task ?? null) : null) }),
    retry: t.field({ type: RetryPolicyRef, nullable: true, description: 'How the step is retried after a failure; null: it is not.', resolve: (step) => step.retry ?? null }),
    definition: t.field({ type: 'JSON', description: 'The whole normalised step definition, as the engine runs it.', resolve: (step) => step }),
    needs: t.stringList({
      description: 'The steps of the same list this one waits for: its `needs`, or else the step before it in the list (none for the first).',
      resolve: (step) => graphInfo.get(step)?.needs ?? step.needs ?? [],
    }),
    depth: t.int({ description: 'Its column in a drawing of the list: 0 for a step that needs nothing, else one more than its deepest need.', resolve: (step) => graphInfo.get(step)?.depth ?? 0 }),
    if: t.string({ nullable: true, description: 'Its condition, when it has one (absent: success()).', resolve: (step) => step.if ?? null }),
    steps: t.field({
      type: [WorkflowStepRef],
      nullable: true,
      description: 'LOOP: the steps of one iteration (a list of its own). Null for other steps.',
      resolve: (step) => (step.type === 'LOOP' ? stepsWithGraph(step.steps) : null),
    }),
    until: t.string({ nullable: true, description: 'LOOP: the condition that ends it after an iteration.', resolve: (step) => (step.type === 'LOOP' ? step.until : null) }),
    maxIterations: t.field({
      type: 'JSON',
      nullable: true,
      description: 'LOOP: iterations at most, a number or an expression evaluated when it starts.',
      resolve: (step) => (step.type === 'LOOP' ? step.maxIterations : null),
    }),
  }),
});

export const WorkflowInputTypeEnum = builder.enumType('WorkflowInputType', {
  description: 'The type of a workflow input (written in lower case in definition files).',
  values: {
    STRING: { description: 'Text.' },
    NUMBER: { description: 'A number.' },
    BOOLEAN: { description: 'true or false.' },
    CHOICE: { description: 'One of the input’s `options` (an enum of strings).' },
  } satisfies Record<Uppercase<InputType>, { description: string }>,
});

export const WorkflowInputRef = builder.objectRef<WorkflowInputDefinition & { name: string }>('WorkflowInput');

WorkflowInputRef.implement({
  description: 'An input a workflow declares; a run gives its value in createRun(input: {inputs: {NAME: value}}), and templates use it as ${{ inputs.NAME }}.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The input name.' }),
    type: t.field({ type: WorkflowInputTypeEnum, description: 'Its type.', resolve: (input) => input.type.toUpperCase() as Uppercase<InputType> }),
    description: t.string({ nullable: true, description: 'What it is for.', resolve: (input) => input.description ?? null }),
    default: t.field({ type: 'JSON', nullable: true, description: 'The value a run gets when it gives none (null: no default).', resolve: (input) => input.default ?? null }),
    required: t.exposeBoolean('required', { description: 'Whether a run must give a value (inputs with a default never need one).' }),
    options: t.field({ type: ['String'], nullable: true, description: 'CHOICE: the allowed values.', resolve: (input) => input.options ?? null }),
  }),
});

export const WorkflowOriginEnum = builder.enumType('WorkflowOrigin', {
  description: 'Where a registered workflow version came from.',
  values: {
    BUILT_IN: { description: 'Shipped with the server.' },
    FILE: { description: 'A definition file in WORKFLOWS_DIR, read at start.' },
    API: { description: 'Registered with the registerWorkflow mutation.' },
  } satisfies Record<(typeof WORKFLOW_ORIGINS)[number], { description: string }>,
});

export const WorkflowRef = builder.objectRef<WorkflowVersionRecord>('Workflow');

WorkflowRef.implement({
  description:
    'A registered version of a workflow: a named, versioned sequence of steps a run can execute. A (name, version) never changes once registered; runs pin the version they were created with.',
  fields: (t) => ({
    name: t.string({ description: 'Unique name, such as quarkus-bootstrap-v1.', resolve: (w) => w.definition.name }),
    version: t.string({ description: 'The version of this definition, such as 1.0.0.', resolve: (w) => w.definition.version }),
    description: t.string({ description: 'What the workflow does.', resolve: (w) => w.definition.description }),
    steps: t.field({ type: [WorkflowStepRef], description: 'The steps, in order (a LOOP’s own steps are in its `steps`).', resolve: (w) => stepsWithGraph(w.definition.steps) }),
    models: t.field({
      type: [StepModelRef],
      description:
        'Every step that calls a model (LLM_GENERATE and AGENT, a LOOP’s steps included), in definition order, with the model a new run gets unless its options.models chooses another, and where that comes from: the server’s OLLAMA_<STEP>_MODEL (ENVIRONMENT), else the definition’s default (WORKFLOW_DEFAULT). options.models may name exactly these steps.',
      resolve: (w, _args, { services }) => workflowModels(w.definition, services.config.stepModels),
    }),
    maxParallel: t.int({ nullable: true, description: 'How many steps may run at once, when the workflow limits it (the server’s MAX_PARALLEL_STEPS applies anyway).', resolve: (w) => w.definition.maxParallel ?? null }),
    failFast: t.boolean({ description: 'Whether a failed step stops the steps running beside it at once.', resolve: (w) => w.definition.failFast === true }),
    inputs: t.field({
      type: [WorkflowInputRef],
      description: 'The inputs a run gives, in the order declared.',
      resolve: (w) => Object.entries(w.definition.inputs).map(([name, input]) => ({ name, ...input })),
    }),
    defaultTimeoutSeconds: t.int({
      description: 'The LLM step timeout a new run gets unless it sets options.timeoutSeconds: the server’s OLLAMA_TIMEOUT_SECONDS (300 unless set).',
      resolve: (_workflow, _args, { services }) => Math.ceil(services.config.ollamaTimeoutSeconds),
    }),
    source: t.exposeString('source', { description: 'The definition text as registered (YAML or JSON).' }),
    contentHash: t.exposeString('contentHash', { description: 'sha256 of the normalised definition: the same content has the same hash, whatever its formatting.' }),
    origin: t.expose('origin', { type: WorkflowOriginEnum, description: 'Where this version came from.' }),
    originPath: t.exposeString('originPath', { nullable: true, description: 'The file it was read from (built-in and WORKFLOWS_DIR versions).' }),
    registeredAt: t.expose('registeredAt', { type: 'DateTime', description: 'When this version was first registered on this server.' }),
    latest: t.boolean({
      description: 'Whether this is the workflow’s latest version (the one a new run gets unless it sets options.workflowVersion).',
      resolve: (w, _args, { services }) => services.workflows.get(w.definition.name) === w,
    }),
    versions: t.field({
      type: [WorkflowRef],
      description: 'Every registered version of this workflow, latest first (by semantic version, then registration time).',
      resolve: (w, _args, { services }) => services.workflows.versions(w.definition.name),
    }),
  }),
});

export const DefinitionProblemRef = builder.objectRef<DefinitionProblem>('DefinitionProblem');

DefinitionProblemRef.implement({
  description: 'Something wrong in a workflow definition (or a step type module), located where it can be.',
  fields: (t) => ({
    message: t.exposeString('message', { description: 'What is wrong and what to do.' }),
    path: t.exposeString('path', { description: 'Where in the definition, such as steps[1].command (empty for the whole document).' }),
    line: t.exposeInt('line', { nullable: true, description: 'Line in the definition text, from 1 (null when unknown).' }),
    column: t.exposeInt('column', { nullable: true, description: 'Column in that line, from 1 (null when unknown).' }),
  }),
});

export const WorkflowValidationRef = builder.objectRef<WorkflowValidation>('WorkflowValidation');

WorkflowValidationRef.implement({
  description: 'The result of checking a workflow definition without registering it.',
  fields: (t) => ({
    valid: t.exposeBoolean('valid', { description: 'True when the definition has no problem and could be registered.' }),
    problems: t.field({ type: [DefinitionProblemRef], description: 'Every problem found, in the order of the text.', resolve: (v) => v.problems }),
    name: t.exposeString('name', { nullable: true, description: 'The workflow name it declares, when it could be read.' }),
    version: t.exposeString('version', { nullable: true, description: 'The version it declares, when it could be read.' }),
    registered: t.field({
      type: WorkflowRef,
      nullable: true,
      description: 'The version already registered under that name and version, if any (registering identical content again changes nothing; other content is refused).',
      resolve: (v) => v.registered,
    }),
    definition: t.field({ type: 'JSON', nullable: true, description: 'The normalised definition, as the engine would run it (null when invalid).', resolve: (v) => v.definition }),
  }),
});

const WorkflowRegistrationRef = builder.objectRef<{ workflow: WorkflowVersionRecord; created: boolean }>('WorkflowRegistration');

WorkflowRegistrationRef.implement({
  description: 'What registerWorkflow did.',
  fields: (t) => ({
    workflow: t.field({ type: WorkflowRef, description: 'The registered version.', resolve: (r) => r.workflow }),
    created: t.exposeBoolean('created', { description: 'True when this version was stored now; false when identical content was already registered under it (nothing changed).' }),
  }),
});

export const LoadProblemKindEnum = builder.enumType('LoadProblemKind', {
  description: 'What kind of file failed to load at start.',
  values: {
    WORKFLOW_FILE: { description: 'A workflow definition in WORKFLOWS_DIR (or a built-in one that conflicts with a stored version).' },
    STEP_TYPE_MODULE: { description: 'A custom step type module in STEP_TYPES_DIR.' },
  },
});

const LoadProblemRef = builder.objectRef<LoadProblem & { kind: 'WORKFLOW_FILE' | 'STEP_TYPE_MODULE' }>('LoadProblem');

LoadProblemRef.implement({
  description: 'A file that failed to load at start, and why; the server runs without it.',
  fields: (t) => ({
    file: t.exposeString('file', { description: 'The file’s path on the server.' }),
    kind: t.expose('kind', { type: LoadProblemKindEnum, description: 'A workflow definition or a step type module.' }),
    problems: t.field({ type: [DefinitionProblemRef], description: 'What is wrong with it.', resolve: (p) => p.problems }),
  }),
});

const StepTypeInfoRef = builder.objectRef<AnyStepKind>('StepTypeInfo');

StepTypeInfoRef.implement({
  description: 'A kind of step this server can run: built in, or loaded from STEP_TYPES_DIR.',
  fields: (t) => ({
    type: t.exposeString('type', { description: 'The name a definition uses in a step’s `type`, such as SHELL_COMMAND or HTTP_REQUEST.' }),
    description: t.exposeString('description', { description: 'What a step of this type does.' }),
    parameters: t.field({
      type: 'JSON',
      description: 'JSON Schema (draft-07) of the step’s own fields, written beside the fields every step has (name, description, timeoutSeconds, retry, …).',
      resolve: (kind) => kind.parameters,
    }),
    builtIn: t.boolean({ description: 'Shipped with the server (false: loaded from STEP_TYPES_DIR).', resolve: (kind) => kind.source === null }),
    source: t.exposeString('source', { nullable: true, description: 'Custom types: the module it was loaded from.' }),
  }),
});

builder.queryFields((t) => ({
  workflows: t.field({
    type: [WorkflowRef],
    description: 'The latest version of every workflow this server can run, by name (older versions: Workflow.versions).',
    resolve: (_root, _args, { services }) => services.workflows.list(),
  }),
  workflow: t.field({
    type: WorkflowRef,
    nullable: true,
    description: 'One workflow by name: its latest version, or the version asked for; null if there is none.',
    args: {
      name: t.arg.string({ required: true, description: 'The workflow name.' }),
      version: t.arg.string({ description: 'A registered version (default: the latest).' }),
    },
    resolve: (_root, args, { services }) => services.workflows.get(args.name, args.version ?? null) ?? null,
  }),
  validateWorkflow: t.field({
    type: WorkflowValidationRef,
    description:
      'Checks a workflow definition (YAML or JSON text) without registering anything: every problem with its line and column. The format is documented in the README and its JSON Schema is served at /schemas/workflow.json.',
    args: { definition: t.arg.string({ required: true, description: 'The definition text.' }) },
    resolve: (_root, args, { services }) => validateWorkflow(services, args.definition),
  }),
  loadProblems: t.field({
    type: [LoadProblemRef],
    description: 'Files that failed to load at start (workflow definitions in WORKFLOWS_DIR, step type modules in STEP_TYPES_DIR), with their problems.',
    resolve: (_root, _args, { services }) => [
      ...services.workflows.loadProblems().map((p) => ({ ...p, kind: 'WORKFLOW_FILE' as const })),
      ...services.stepTypeProblems.map((p) => ({ ...p, kind: 'STEP_TYPE_MODULE' as const })),
    ],
  }),
  stepTypes: t.field({
    type: [StepTypeInfoRef],
    description: 'Every step type a workflow may use: the built-in ones, then those loaded from STEP_TYPES_DIR.',
    resolve: (_root, _args, { services }) => services.kinds.list(),
  }),
}));

builder.mutationFields((t) => ({
  registerWorkflow: t.field({
    type: WorkflowRegistrationRef,
    description:
      'Registers a workflow definition (YAML or JSON text) as a new version; runs can use it at once. Registering identical content under an existing version changes nothing (created: false); other content under an existing version is a CONFLICT (a version never changes). BAD_USER_INPUT lists every problem (extensions.problems, each with line and column).',
    args: { definition: t.arg.string({ required: true, description: 'The definition text.' }) },
    resolve: (_root, args, { services }) => registerWorkflow(services, args.definition),
  }),
}));
