/**
 * The JSON Schema (draft-07) of a workflow definition file, built from the step kinds this server
 * knows: the built-in ones and those loaded from STEP_TYPES_DIR. The server serves it at
 * `/schemas/workflow.json`; `schemas/workflow.schema.json` in the repository is the built-in kinds'
 * version, committed so that an editor can validate a file (`# yaml-language-server: $schema=…`).
 */
import { INPUT_TYPES } from '../types.js';

/** A JSON Schema object, as plain data. */
export type JsonSchema = { [key: string]: unknown };

/** The part of a step kind the definition format needs. */
export interface StepKindSchema {
  type: string;
  description: string;
  /** An object schema of the kind's own fields (`properties`, `required`), beside the common fields. */
  parameters: JsonSchema;
}

/** Names of steps and inputs: usable in expressions as `steps.NAME` and `inputs.NAME`. */
export const IDENTIFIER_PATTERN = '^[A-Za-z_][A-Za-z0-9_-]*$';
export const WORKFLOW_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]*$';
export const VERSION_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._+-]*$';

/** One week, the longest timeout a definition may set. */
export const MAX_TIMEOUT_SECONDS = 7 * 24 * 3600;

/** Fields every step may have, whatever its type. */
export const COMMON_STEP_PROPERTIES: Record<string, JsonSchema> = {
  name: {
    type: 'string',
    pattern: IDENTIFIER_PATTERN,
    maxLength: 64,
    description: 'Stable name of the step, unique in the workflow: run options (models), retryRun(fromStep) and `steps.<name>` in expressions use it.',
  },
  type: { type: 'string', description: 'The step type: a built-in one or one loaded from STEP_TYPES_DIR.' },
  description: { type: 'string', maxLength: 500, description: 'What the step does, for people; `{model}` stands for the model in force. Default: the step type and name.' },
  saveArtifact: { type: 'boolean', description: 'Record the step’s output file (commands: `<step>_output.txt`) as an artifact (default true).' },
  timeoutSeconds: {
    type: 'number',
    exclusiveMinimum: 0,
    maximum: MAX_TIMEOUT_SECONDS,
    description: 'The step’s own timeout in seconds; otherwise the run’s timeoutSeconds (LLM steps) or SHELL_TIMEOUT_SECONDS (commands).',
  },
  continueOnError: { type: 'boolean', description: 'A failure of this step does not fail the run (default false).' },
  retry: {
    type: 'object',
    description: 'Tries the step again after a retryable failure (a timeout, a dropped connection, a non-zero exit).',
    additionalProperties: false,
    required: ['maxAttempts'],
    properties: {
      maxAttempts: { type: 'integer', minimum: 1, maximum: 100, description: 'Attempts in all, the first included.' },
      backoffSeconds: { type: 'number', minimum: 0, maximum: 86_400, description: 'Wait before the second attempt, in seconds (default 0).' },
      backoffFactor: { type: 'number', minimum: 1, maximum: 10, description: 'Each later wait is the previous one times this (default 1).' },
    },
  },
};

export const INPUT_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { enum: [...INPUT_TYPES], description: 'string, number, boolean, or choice (one of `options`).' },
    description: { type: 'string', maxLength: 500, description: 'What the input is for, shown in the console’s form.' },
    default: { type: ['string', 'number', 'boolean'], description: 'The value when a run gives none; of the input’s type.' },
    required: { type: 'boolean', description: 'A run must give a value unless there is a default (default false).' },
    options: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string' }, description: '`choice`: the allowed values.' },
  },
};

/** The top level of a definition; steps are only required to be objects with a name and a type here. */
export function documentSchema(kinds: readonly StepKindSchema[], stepItems: JsonSchema = GENERIC_STEP): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'version', 'steps'],
    properties: {
      $schema: { type: 'string', description: 'The JSON Schema of this file, for editors.' },
      name: { type: 'string', pattern: WORKFLOW_NAME_PATTERN, maxLength: 100, description: 'The workflow’s name, unique on the server (runs choose it with options.workflowName).' },
      version: {
        type: 'string',
        pattern: VERSION_PATTERN,
        maxLength: 64,
        description: 'The version of this definition, such as "1.2.0" (quoted: YAML reads 1.0 as a number). A registered (name, version) never changes.',
      },
      description: { type: 'string', maxLength: 2000, description: 'What the workflow does.' },
      inputs: {
        type: 'object',
        description: 'Inputs a run gives (createRun input.inputs), by name; used as `${{ inputs.NAME }}`.',
        propertyNames: { pattern: IDENTIFIER_PATTERN, maxLength: 64 },
        additionalProperties: INPUT_SCHEMA,
      },
      steps: {
        type: 'array',
        minItems: 1,
        maxItems: 500,
        description: `The steps, in order. Types: ${kinds.map((k) => k.type).join(', ')}.`,
        items: stepItems,
      },
    },
  };
}

const GENERIC_STEP: JsonSchema = {
  type: 'object',
  required: ['name', 'type'],
  properties: { name: COMMON_STEP_PROPERTIES.name, type: COMMON_STEP_PROPERTIES.type },
};

/** The whole schema of one step of a kind: the common fields and the kind's own, nothing else. */
export function stepSchema(kind: StepKindSchema): JsonSchema {
  const own = (kind.parameters.properties ?? {}) as Record<string, JsonSchema>;
  const required = (kind.parameters.required ?? []) as string[];
  return {
    type: 'object',
    description: kind.description,
    additionalProperties: false,
    required: ['name', 'type', ...required],
    properties: { ...COMMON_STEP_PROPERTIES, ...own, type: { const: kind.type, description: kind.description } },
  };
}

/** The schema an editor uses: each step checked against its type's schema (if/then by `type`). */
export function workflowFileSchema(kinds: readonly StepKindSchema[]): JsonSchema {
  const definitions: Record<string, JsonSchema> = {};
  for (const kind of kinds) definitions[`step_${kind.type}`] = stepSchema(kind);
  const step: JsonSchema = {
    type: 'object',
    required: ['name', 'type'],
    properties: { type: { enum: kinds.map((k) => k.type), description: COMMON_STEP_PROPERTIES.type.description } },
    allOf: kinds.map((kind) => ({ if: { properties: { type: { const: kind.type } } }, then: { $ref: `#/definitions/step_${kind.type}` } })),
  };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'agent-runner:workflow',
    title: 'agent-runner workflow definition',
    ...documentSchema(kinds, { $ref: '#/definitions/step' }),
    definitions: { step, ...definitions },
  };
}
