import { STEP_STATUSES, STEP_TYPES, type StepRunRecord } from '../engine/types.js';
import { builder } from './builder.js';

export const StepTypeEnum = builder.enumType('StepType', {
  description: 'What kind of work a step does.',
  values: {
    LLM_GENERATE: { description: 'Generates text with an Ollama model, streaming it, and writes it to a file (or extracts project files from it).' },
    FILE_WRITE: { description: 'Writes given content, or an earlier step’s output, to a workspace file.' },
    SHELL_COMMAND: { description: 'Runs a shell command in the workspace.' },
    MAVEN_COMMAND: { description: 'Runs a Maven command (mvn is prepended unless present) in the workspace.' },
    CUSTOM: { description: 'A step type loaded from STEP_TYPES_DIR; its name is in typeName (see the stepTypes query).' },
    AGENT: {
      description:
        'An agent: a model that works on a task (default: the run’s goal) with tools in the workspace (list, read, write, edit and search files, run commands) until it calls finish, answers without a tool call, or reaches a limit.',
    },
  } satisfies Record<(typeof STEP_TYPES)[number], { description: string }>,
});

export const StepStatusEnum = builder.enumType('StepStatus', {
  description: 'Where one step of a run stands.',
  values: {
    PENDING: { description: 'Not started yet.' },
    RUNNING: { description: 'In progress.' },
    COMPLETED: { description: 'Finished successfully.' },
    FAILED: { description: 'Failed; see error.' },
    SKIPPED: { description: 'Not run because an earlier step failed or the run was stopped.' },
    STOPPED: { description: 'Cut off because the run was stopped.' },
  } satisfies Record<(typeof STEP_STATUSES)[number], { description: string }>,
});

export const StepRunRef = builder.objectRef<StepRunRecord>('StepRun');

StepRunRef.implement({
  description: "One step of one run: so a client sees where a run is without reading its events.",
  fields: (t) => ({
    index: t.exposeInt('index', { description: 'Position of the step in the workflow, from 0.' }),
    name: t.exposeString('name', { description: 'The step name, such as planner.' }),
    type: t.expose('type', { type: StepTypeEnum, description: 'What kind of work the step does.' }),
    typeName: t.exposeString('typeName', { description: 'The step type as written in the workflow: a built-in type, or a custom type’s name such as HTTP_REQUEST.' }),
    status: t.expose('status', { type: StepStatusEnum, description: 'Where the step stands.' }),
    description: t.exposeString('description', { description: 'What the step does, with its model, such as "Create project plan using llama2".' }),
    attempt: t.exposeInt('attempt', { description: 'Attempts made so far (0 before the step starts).' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true, description: 'When the latest attempt started.' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true, description: 'When the step finished.' }),
    error: t.exposeString('error', { nullable: true, description: 'Why the step failed, in words a user can act on.' }),
    exitCode: t.exposeInt('exitCode', { nullable: true, description: 'Command steps: the exit code of the latest attempt (null for other steps, or a command killed by a signal).' }),
  }),
});
