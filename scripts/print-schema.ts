/**
 * Writes schema.graphql from the code-first schema, and schemas/workflow.schema.json (the JSON Schema
 * of workflow definition files, built-in step types): `npm run schema` (and `npm run codegen`, which
 * also regenerates the typed client). Tests fail when a committed file differs from the code.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { printSchemaFile, printWorkflowSchemaFile } from '../src/schema/print.js';

writeFileSync(new URL('../schema.graphql', import.meta.url), printSchemaFile());
mkdirSync(new URL('../schemas/', import.meta.url), { recursive: true });
writeFileSync(new URL('../schemas/workflow.schema.json', import.meta.url), printWorkflowSchemaFile());
console.log('Wrote schema.graphql and schemas/workflow.schema.json');
