import { lexicographicSortSchema, printSchema } from 'graphql';
import { StepKinds } from '../engine/steps/registry.js';
import { workflowFileSchema } from '../engine/workflows/schema.js';
import { schema } from './index.js';

/** The schema as committed in schema.graphql: sorted, so the file changes only when the schema does. */
export function printSchemaFile(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

/** The JSON Schema of workflow files with the built-in step types, as committed in schemas/workflow.schema.json. */
export function printWorkflowSchemaFile(): string {
  return `${JSON.stringify(workflowFileSchema(new StepKinds().list()), null, 2)}\n`;
}
