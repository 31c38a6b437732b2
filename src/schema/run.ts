import { streamRunUpdates } from '../engine/event-stream.js';
import { RUN_STATUSES, RUN_TYPES, type RunRecord, type RunStatus } from '../engine/types.js';
import { notFound } from '../errors.js';
import { createRun } from '../services/runs.js';
import { pauseRun, resumeRun, retryRun, stopRun } from '../services/run-control.js';
import { boundedInt, pageComplexity, parseId } from './args.js';
import { ArtifactRef } from './artifact.js';
import { agentDefaults } from '../config.js';
import { AgentOptionsInput, agentOptionsFromInput } from './agent.js';
import { builder } from './builder.js';
import { EventRef } from './event.js';
import { ProjectRef } from './project.js';
import { StepModelRef } from './step-model.js';
import { StepRunRef, stepRunsWithGraph } from './step-run.js';
import { WorkflowRef } from './workflow.js';

export const RunStatusEnum = builder.enumType('RunStatus', {
  description:
    'Where a run stands: QUEUED → RUNNING → COMPLETED | FAILED; RUNNING → PAUSED → (QUEUED →) RUNNING with pauseRun/resumeRun; QUEUED | RUNNING | PAUSED → STOPPED with stopRun; FAILED | STOPPED → QUEUED with retryRun.',
  values: {
    QUEUED: { description: 'Waiting for a worker slot.' },
    RUNNING: { description: 'Its steps are executing.' },
    PAUSED: { description: 'Waiting between two steps until resumed; holds no worker slot.' },
    STOPPED: { description: 'Stopped by request; nothing of it runs any more.' },
    COMPLETED: { description: 'Every step completed.' },
    FAILED: { description: 'A step failed; see error.' },
  } satisfies Record<(typeof RUN_STATUSES)[number], { description: string }>,
});

export const RunTypeEnum = builder.enumType('RunType', {
  description: 'How a run decides its steps.',
  values: {
    WORKFLOW: { description: 'Executes a predefined workflow (the default).' },
    AGENT: { description: 'An agent choosing its own actions: a model that works on the goal with tools in the project’s folder (its one step is named agent; see options.agent and sendDirective).' },
  } satisfies Record<(typeof RUN_TYPES)[number], { description: string }>,
});

export const RunRef = builder.objectRef<RunRecord>('Run');

RunRef.implement({
  description: "One execution of a workflow for a goal, in a project's workspace.",
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The run id.' }),
    project: t.field({
      type: ProjectRef,
      description: 'The project whose workspace the run uses.',
      resolve: async (run, _args, { services }) => {
        const project = await services.store.getProject(run.projectId);
        if (!project) throw new Error(`Run ${run.id} refers to missing project ${run.projectId}`);
        return project;
      },
    }),
    name: t.exposeString('name', { nullable: true, description: 'An optional label given when the run was created.' }),
    goal: t.exposeString('goal', { description: 'What the run should achieve; given to the workflow’s prompts.' }),
    runType: t.expose('runType', { type: RunTypeEnum, description: 'How the run decides its steps.' }),
    status: t.expose('status', { type: RunStatusEnum, description: 'Where the run stands.' }),
    workflowName: t.exposeString('workflowName', { nullable: true, description: 'The workflow the run executes.' }),
    workflowVersion: t.exposeString('workflowVersion', {
      nullable: true,
      description: 'The version of the workflow the run executes, pinned when it was created (retryRun may move it); null only for runs created before versions were pinned.',
    }),
    definitionHash: t.exposeString('definitionHash', { nullable: true, description: 'The content hash of the exact definition the run executes (Workflow.contentHash of its version).' }),
    workflow: t.field({
      type: WorkflowRef,
      nullable: true,
      description: 'The workflow version the run executes (the definition is stored with the run, so a newer version never changes it).',
      resolve: (run, _args, { services }) => (run.workflowName ? (services.workflows.get(run.workflowName, run.workflowVersion) ?? null) : null),
    }),
    inputs: t.field({ type: 'JSON', description: 'The workflow inputs of the run, checked and with defaults filled in, as an object by input name.', resolve: (run) => run.inputs }),
    models: t.field({
      type: [StepModelRef],
      description: 'The model each step that calls a model (LLM_GENERATE and AGENT, a loop’s steps included) uses, and where that choice came from (run options > environment > workflow default).',
      resolve: (run) => run.models,
    }),
    timeoutSeconds: t.exposeInt('timeoutSeconds', { nullable: true, description: 'The LLM timeout in force for this run, in seconds.' }),
    steps: t.field({
      type: [StepRunRef],
      description: 'The step records of the run with their status: the workflow’s steps in order, then one record per step of a loop per iteration, as they start.',
      resolve: async (run, _args, { services }) => stepRunsWithGraph(await services.store.listStepRuns(run.id), run.definition),
    }),
    events: t.field({
      type: [EventRef],
      description: 'The run’s events with seq greater than `after`, ordered by seq.',
      args: {
        after: t.arg.int({ defaultValue: 0, description: 'Return events after this seq (0 for all).' }),
        first: t.arg.int({ defaultValue: 1000, description: 'How many events at most (1 to 10000).' }),
      },
      complexity: (args) => pageComplexity(args.first, 1000),
      resolve: (run, args, { services }) =>
        services.store.listEvents(run.id, boundedInt(args.after, 'after', 0, 0, Number.MAX_SAFE_INTEGER), boundedInt(args.first, 'first', 1000, 1, 10_000)),
    }),
    lastSeq: t.int({
      description: 'The seq of the run’s latest event (0 before the first): runEvents(after: lastSeq) delivers only what comes next.',
      resolve: async (run, _args, { services }) => (await services.store.lastEvent(run.id))?.seq ?? 0,
    }),
    artifacts: t.field({
      type: [ArtifactRef],
      description: 'Files the run’s steps produced, oldest first.',
      resolve: (run, _args, { services }) => services.store.listArtifacts(run.id),
    }),
    error: t.exposeString('error', { nullable: true, description: 'Why the run failed, in words a user can act on.' }),
    requiredLabels: t.exposeStringList('requiredLabels', {
      description: 'Placement labels the executing instance must have besides its project’s (Project.requiredLabels). Empty: none beyond the project’s.',
    }),
    placement: t.exposeString('placement', {
      nullable: true,
      description:
        'With several instances: why this QUEUED run waits, when no live instance has every label it requires (its own and its project’s), naming the labels and the live instances’ labels. Null when some instance can take it, and always with one server.',
    }),
    pauseRequested: t.boolean({
      description: 'A pause was asked for and takes effect once the running steps have finished (an agent step: before its next model call).',
      resolve: (run, _args, { services }) => run.status === 'RUNNING' && services.control.isPauseRequested(run.id),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the run was created.' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true, description: 'When the worker last started it: for a run that was resumed, retried or recovered, when it went on (so finishedAt − startedAt is its last stretch).' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true, description: 'When it ended.' }),
  }),
});

const ModelOverrideInput = builder.inputType('ModelOverrideInput', {
  description: 'The model to use for one step of this run that calls a model: one of its workflow’s `models` (LLM_GENERATE and AGENT steps, a loop’s included; an AGENT run’s step is agent).',
  fields: (t) => ({
    step: t.string({ required: true, description: 'The step name, such as planner or coder.' }),
    model: t.string({ required: true, description: 'The Ollama model, such as llama2:latest.' }),
  }),
});

const RunOptionsInput = builder.inputType('RunOptionsInput', {
  description: 'Choices for one run.',
  fields: (t) => ({
    workflowName: t.string({ description: 'The workflow to execute (default quarkus-bootstrap-v1).' }),
    workflowVersion: t.string({ description: 'A registered version of that workflow (default: its latest). The run keeps this version whatever is registered later.' }),
    models: t.field({ type: [ModelOverrideInput], description: 'Per-step models; they beat OLLAMA_<STEP>_MODEL and the workflow defaults.' }),
    timeoutSeconds: t.int({ description: 'LLM step timeout for this run, in seconds (beats OLLAMA_TIMEOUT_SECONDS); for an agent, the longest one model call may take.' }),
    agent: t.field({ type: AgentOptionsInput, description: 'Limits and settings of the run’s agent (AGENT runs, and workflows with AGENT steps).' }),
  }),
});

const CreateRunInput = builder.inputType('CreateRunInput', {
  description: 'A new run.',
  fields: (t) => ({
    projectId: t.id({ required: true, description: 'The project whose workspace the run uses.' }),
    goal: t.string({ required: true, description: 'What the run should achieve (at most 100 KB).' }),
    name: t.string({ description: 'An optional label.' }),
    runType: t.field({ type: RunTypeEnum, defaultValue: 'WORKFLOW', description: 'WORKFLOW (the default) executes a workflow; AGENT has a model work on the goal with tools.' }),
    options: t.field({ type: RunOptionsInput, description: 'Workflow, models, timeout and agent limits for this run.' }),
    inputs: t.field({
      type: 'JSON',
      description:
        'The workflow’s inputs, as an object by input name, such as {"service": "billing", "retries": 3}. Checked against the workflow’s declared inputs: BAD_USER_INPUT lists every missing, unknown or mistyped input (each also in extensions.problems, with its field).',
    }),
    requiredLabels: t.stringList({
      description: 'Labels the instance executing this run must have (WORKER_LABELS), besides the project’s: at most 64, each 1 to 63 lower-case letters, digits, ".", "_" or "-". Only with several instances.',
    }),
  }),
});

builder.queryFields((t) => ({
  runs: t.field({
    type: [RunRef],
    description: 'Runs, newest first, optionally of one project and in one status. Page with `before` (the last id seen).',
    args: {
      projectId: t.arg.id({ description: 'Only runs of this project.' }),
      status: t.arg({ type: RunStatusEnum, description: 'Only runs in this status.' }),
      first: t.arg.int({ defaultValue: 50, description: 'How many runs (1 to 500).' }),
      before: t.arg.id({ description: 'Only runs older than this run id.' }),
    },
    complexity: (args) => pageComplexity(args.first, 50),
    resolve: (_root, args, { services }) =>
      services.store.listRuns({
        projectId: args.projectId == null ? undefined : parseId(args.projectId, 'projectId'),
        status: (args.status ?? undefined) as RunStatus | undefined,
        first: boundedInt(args.first, 'first', 50, 1, 500),
        before: args.before == null ? undefined : parseId(args.before, 'before'),
      }),
  }),
  run: t.field({
    type: RunRef,
    nullable: true,
    description: 'One run by id, or null if there is none with that id.',
    args: { id: t.arg.id({ required: true, description: 'The run id.' }) },
    resolve: (_root, args, { services }) => services.store.getRun(parseId(args.id, 'id')),
  }),
}));

builder.mutationFields((t) => ({
  createRun: t.field({
    type: RunRef,
    description:
      'Queues a run; the worker starts it at once if a slot is free. Fails with NOT_FOUND for an unknown project and BAD_USER_INPUT for an empty goal, an unknown workflow (listing those that exist) or bad options.',
    args: { input: t.arg({ type: CreateRunInput, required: true, description: 'The run to create.' }) },
    resolve: async (_root, { input }, { services }) => {
      const run = await createRun(
        {
          store: services.store,
          eventLog: services.eventLog,
          pubsub: services.pubsub,
          workflows: services.workflows,
          onQueued: () => services.worker.notify(),
          settings: {
            stepModels: services.config.stepModels,
            ollamaTimeoutSeconds: services.config.ollamaTimeoutSeconds,
            shellTimeoutSeconds: services.config.shellTimeoutSeconds,
            agentDefaults: agentDefaults(services.config),
          },
        },
        {
          projectId: parseId(input.projectId, 'input.projectId'),
          goal: input.goal,
          name: input.name ?? null,
          runType: input.runType ?? 'WORKFLOW',
          inputs: input.inputs ?? {},
          requiredLabels: input.requiredLabels ?? [],
          options: {
            ...(input.options?.workflowName != null ? { workflowName: input.options.workflowName } : {}),
            ...(input.options?.workflowVersion != null ? { workflowVersion: input.options.workflowVersion } : {}),
            ...(input.options?.models != null ? { models: input.options.models.map((m) => ({ step: m.step, model: m.model })) } : {}),
            ...(input.options?.timeoutSeconds != null ? { timeoutSeconds: input.options.timeoutSeconds } : {}),
            ...(input.options?.agent != null ? { agent: agentOptionsFromInput(input.options.agent) } : {}),
          },
        },
      );
      return run;
    },
  }),
}));

builder.mutationFields((t) => ({
  pauseRun: t.field({
    type: RunRef,
    description:
      'Pauses a RUNNING run at the next step boundary (an agent step: between two model calls, its conversation kept): the running step finishes, then the run waits in PAUSED (RUN_PAUSED) holding no worker slot; until then `pauseRequested` is true. CONFLICT for a run in another status.',
    args: { id: t.arg.id({ required: true, description: 'The run.' }) },
    resolve: (_root, args, { services }) => pauseRun(services, parseId(args.id, 'id')),
  }),
  resumeRun: t.field({
    type: RunRef,
    description:
      'Resumes a PAUSED run (RUN_RESUMED): it continues with its next step as soon as a worker slot is free. On a RUNNING run with a pending pause, cancels the pause. CONFLICT for a run in another status.',
    args: { id: t.arg.id({ required: true, description: 'The run.' }) },
    resolve: (_root, args, { services }) => resumeRun(services, parseId(args.id, 'id')),
  }),
  stopRun: t.field({
    type: RunRef,
    description:
      'Stops a QUEUED, RUNNING or PAUSED run at once: the running step’s model stream is closed and its commands killed (SIGTERM, then SIGKILL after KILL_GRACE_MS); later steps never start; the run ends STOPPED (RUN_STOPPED) before this returns. Stopping a STOPPED run is harmless; CONFLICT for a COMPLETED or FAILED one.',
    args: { id: t.arg.id({ required: true, description: 'The run.' }) },
    resolve: (_root, args, { services }) => stopRun(services, parseId(args.id, 'id')),
  }),
  retryRun: t.field({
    type: RunRef,
    description:
      'Requeues a FAILED or STOPPED run from a step (default: the first step that did not complete). Earlier steps keep their events and files; the events continue the same seq numbering. With workflowVersion, the run continues on that version of its workflow, provided every step before the retried one is a completed step of the run in both versions, under the same name (otherwise CONFLICT naming the steps that do not match). CONFLICT for a run in another status; BAD_USER_INPUT for an unknown step or version, or a step after an unfinished step.',
    args: {
      id: t.arg.id({ required: true, description: 'The run.' }),
      fromStep: t.arg.string({ description: 'The step name to go again from, such as coder.' }),
      workflowVersion: t.arg.string({ description: 'Continue on this registered version of the run’s workflow (default: the version the run has).' }),
    },
    resolve: (_root, args, { services }) => retryRun(services, parseId(args.id, 'id'), args.fromStep ?? null, args.workflowVersion ?? null),
  }),
}));

builder.subscriptionFields((t) => ({
  runUpdated: t.field({
    type: RunRef,
    description: 'Every status change of any run (of one project, if given), including a new run being queued.',
    args: { projectId: t.arg.id({ description: 'Only runs of this project.' }) },
    subscribe: async (_root, args, { services }) => {
      // Validated before the stream exists, so a bad argument is an error result, not a broken stream.
      const projectId = args.projectId == null ? null : parseId(args.projectId, 'projectId');
      if (projectId !== null && !(await services.store.getProject(projectId))) {
        throw notFound(`No project has id ${projectId}. List projects with the "projects" query.`);
      }
      return streamRunUpdates(services.pubsub, projectId);
    },
    resolve: (run) => run,
  }),
}));
