import { readFileSync } from 'node:fs';
import type { GraphQLNamedType, GraphQLSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { printSchemaFile, printWorkflowSchemaFile } from '../../src/schema/print.js';

const BUILT_IN_SCALARS = new Set(['String', 'Int', 'Float', 'Boolean', 'ID']);

/**
 * The contract of /work/shared/API.md: names clients depend on (more may exist, none may go),
 * with retryRun, which run control adds.
 */
const CONTRACT: Record<string, string[]> = {
  Project: ['id', 'name', 'localPath', 'createdAt', 'runs'],
  Run: ['id', 'project', 'name', 'goal', 'runType', 'status', 'workflowName', 'models', 'timeoutSeconds', 'steps', 'events', 'artifacts', 'error', 'createdAt', 'startedAt', 'finishedAt'],
  StepModel: ['step', 'model', 'source'],
  StepRun: ['index', 'name', 'type', 'status', 'description', 'attempt', 'startedAt', 'finishedAt', 'error'],
  Event: ['id', 'runId', 'seq', 'type', 'message', 'stepName', 'data', 'createdAt'],
  Artifact: ['id', 'runId', 'stepName', 'kind', 'path', 'sizeBytes', 'createdAt', 'content'],
  Workflow: ['name', 'version', 'description', 'steps'],
  WorkflowStep: ['name', 'type', 'description', 'model', 'outputFile', 'command', 'saveArtifact'],
  WorkerStatus: ['enabled', 'concurrency', 'activeRunIds', 'queued', 'checkIntervalSeconds', 'lastCheckAt'],
  CreateRunInput: ['projectId', 'goal', 'name', 'runType', 'options'],
  RunOptionsInput: ['workflowName', 'models', 'timeoutSeconds'],
  ModelOverrideInput: ['step', 'model'],
  Query: ['projects', 'project', 'runs', 'run', 'events', 'workflows', 'workflow', 'worker'],
  Mutation: ['createProject', 'createRun', 'processQueue', 'pauseRun', 'resumeRun', 'stopRun', 'retryRun'],
  Subscription: ['runEvents', 'runUpdated'],
  RunStatus: ['QUEUED', 'RUNNING', 'PAUSED', 'STOPPED', 'COMPLETED', 'FAILED'],
  RunType: ['WORKFLOW', 'AGENT'],
  StepType: ['LLM_GENERATE', 'FILE_WRITE', 'SHELL_COMMAND', 'MAVEN_COMMAND'],
  StepStatus: ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'SKIPPED', 'STOPPED'],
  ArtifactKind: ['GENERATED_FILE', 'COMMAND_OUTPUT', 'FILE'],
  ModelSource: ['RUN_OPTIONS', 'ENVIRONMENT', 'WORKFLOW_DEFAULT'],
  EventType: [
    'RUN_QUEUED', 'WORKFLOW_LOOKUP', 'WORKFLOW_STARTED', 'STEP_STARTED', 'LLM_LOADING_MODEL', 'LLM_GENERATING', 'LLM_TOKEN', 'LLM_HEARTBEAT',
    'LLM_DONE', 'SHELL_EXECUTING', 'SHELL_OUTPUT', 'ARTIFACT_CREATED', 'STEP_COMPLETED', 'STEP_FAILED', 'STEP_RETRYING', 'RUN_PAUSED',
    'RUN_RESUMED', 'RUN_STOPPED', 'RUN_RECOVERED', 'WORKFLOW_COMPLETED', 'WORKFLOW_FAILED',
  ],
  DateTime: [],
  JSON: [],
};

/** Field names of an object or input type, value names of an enum, [] for a scalar. */
function memberNames(type: GraphQLNamedType): string[] {
  if ('getFields' in type) return Object.keys(type.getFields());
  if ('getValues' in type) return type.getValues().map((v) => v.name);
  return [];
}

/** "Type", "Type.field", "Type.field(arg)", "Enum.VALUE" for everything that has no description. */
function undescribed(s: GraphQLSchema): string[] {
  const missing: string[] = [];
  const blank = (description: string | null | undefined) => !description || description.trim() === '';
  for (const type of Object.values(s.getTypeMap())) {
    if (type.name.startsWith('__') || BUILT_IN_SCALARS.has(type.name)) continue;
    if (blank(type.description)) missing.push(type.name);
    if ('getFields' in type) {
      for (const field of Object.values(type.getFields())) {
        if (blank(field.description)) missing.push(`${type.name}.${field.name}`);
        for (const arg of 'args' in field ? field.args : []) {
          if (blank(arg.description)) missing.push(`${type.name}.${field.name}(${arg.name})`);
        }
      }
    }
    if ('getValues' in type) {
      for (const value of type.getValues()) if (blank(value.description)) missing.push(`${type.name}.${value.name}`);
    }
  }
  return missing;
}

describe('schema', () => {
  it('schema.graphql matches the code (else run npm run codegen)', () => {
    const committed = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');
    expect(printSchemaFile(), 'schema.graphql is out of date: run npm run codegen and commit the result').toBe(committed);
  });

  it('schemas/workflow.schema.json matches the code (else run npm run codegen)', () => {
    const committed = readFileSync(new URL('../../schemas/workflow.schema.json', import.meta.url), 'utf8');
    expect(printWorkflowSchemaFile(), 'schemas/workflow.schema.json is out of date: run npm run codegen and commit the result').toBe(committed);
  });

  it('every type, field, argument, input field and enum value has a description', () => {
    expect(undescribed(schema)).toEqual([]);
  });

  it('has every type, field and enum value of the API contract', () => {
    const absent: string[] = [];
    for (const [typeName, members] of Object.entries(CONTRACT)) {
      const type = schema.getType(typeName);
      if (!type) {
        absent.push(typeName);
        continue;
      }
      const present = new Set(memberNames(type));
      for (const member of members) if (!present.has(member)) absent.push(`${typeName}.${member}`);
    }
    expect(absent).toEqual([]);
  });
});
