/**
 * Writes schema.graphql from the code-first schema: `npm run schema` (and `npm run codegen`, which
 * also regenerates the typed client). A test fails when the committed file differs from the code.
 */
import { writeFileSync } from 'node:fs';
import { printSchemaFile } from '../src/schema/print.js';

writeFileSync(new URL('../schema.graphql', import.meta.url), printSchemaFile());
console.log('Wrote schema.graphql');
