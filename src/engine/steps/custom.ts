/**
 * Custom step types: a kind of step added without editing the server. Each module in STEP_TYPES_DIR
 * (`*.mjs`, `*.js`, or `*.ts`, compiled with esbuild at load) exports, as its default export or as
 * named exports:
 *
 *   type         'HTTP_REQUEST'   upper case, digits and _; not a built-in type
 *   description  one line for people (the stepTypes query, the console)
 *   parameters   a JSON Schema (draft-07) object schema of the step's own fields, written beside
 *                the common ones (name, description, timeoutSeconds, retry, …)
 *   execute      async (ctx) => ({ output?, data?, summary? }), given the same context as the
 *                built-in executors: ctx.step.params (its fields, templates rendered), ctx.workspace
 *                (files confined to the project folder), ctx.signal (aborted on timeout or stop),
 *                ctx.emit / ctx.log (events), ctx.step.timeoutMs, ctx.runId, ctx.goal
 *
 * A thrown Error fails the step; set `error.retryable = false` when another attempt cannot help.
 * See examples/step-types/http-request.mjs.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv } from 'ajv';
import type { CustomStep, DefinitionProblem, StepExecutor } from '../types.js';
import type { LoadProblem } from '../workflows/registry.js';
import { COMMON_STEP_PROPERTIES, type JsonSchema } from '../workflows/schema.js';
import type { CustomStepKind } from './registry.js';

const MODULE_FILE = /\.(mjs|js|ts)$/;
const TYPE_NAME = /^[A-Z][A-Z0-9_]*$/;

/** Loads every step type module of `folder` (none if it does not exist). A module that fails is a load problem; the others load. */
export async function loadStepTypes(folder: string, reserved: ReadonlySet<string>): Promise<{ kinds: CustomStepKind[]; problems: LoadProblem[] }> {
  let names: string[];
  try {
    names = (await readdir(folder)).filter((name) => MODULE_FILE.test(name) && !name.endsWith('.d.ts')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kinds: [], problems: [] };
    return { kinds: [], problems: [{ file: folder, problems: [problem(`Cannot read the folder: ${(error as Error).message}`)] }] };
  }
  const kinds: CustomStepKind[] = [];
  const problems: LoadProblem[] = [];
  const taken = new Map<string, string>();
  for (const name of names) {
    const file = path.resolve(folder, name);
    const loaded = await loadModule(file);
    if ('problems' in loaded) {
      problems.push({ file, problems: loaded.problems });
      continue;
    }
    const kind = loaded.kind;
    if (reserved.has(kind.type)) {
      problems.push({ file, problems: [problem(`type "${kind.type}" is a built-in step type: choose another name`, 'type')] });
    } else if (taken.has(kind.type)) {
      problems.push({ file, problems: [problem(`type "${kind.type}" is already defined by ${taken.get(kind.type)}`, 'type')] });
    } else {
      taken.set(kind.type, file);
      kinds.push(kind);
    }
  }
  return { kinds, problems };
}

function problem(message: string, where = ''): DefinitionProblem {
  return { message, path: where, line: null, column: null };
}

async function loadModule(file: string): Promise<{ kind: CustomStepKind } | { problems: DefinitionProblem[] }> {
  let exported: Record<string, unknown>;
  try {
    const module = (await importModule(file)) as Record<string, unknown>;
    exported = (module.default && typeof module.default === 'object' ? module.default : module) as Record<string, unknown>;
  } catch (error) {
    return { problems: [problem(`The module cannot be loaded: ${(error as Error).message.split('\n')[0]}`)] };
  }
  const problems: DefinitionProblem[] = [];
  const { type, description, parameters, execute } = exported;
  if (typeof type !== 'string' || !TYPE_NAME.test(type)) problems.push(problem('export "type" must be a name in upper case, digits and _ (such as HTTP_REQUEST)', 'type'));
  if (typeof description !== 'string' || description.trim() === '') problems.push(problem('export "description" must be a sentence saying what the step does', 'description'));
  if (typeof execute !== 'function') problems.push(problem('export "execute" must be a function (async (ctx) => ({ output, data, summary }))', 'execute'));
  const schema = (parameters ?? { type: 'object', properties: {} }) as JsonSchema;
  if (typeof schema !== 'object' || schema === null || schema.type !== 'object') {
    problems.push(problem('export "parameters" must be a JSON Schema of type "object" describing the step’s fields', 'parameters'));
  } else {
    for (const field of Object.keys((schema.properties ?? {}) as object)) {
      if (Object.hasOwn(COMMON_STEP_PROPERTIES, field)) problems.push(problem(`parameter "${field}" has the name of a field every step has: rename it`, `parameters.properties.${field}`));
    }
    try {
      new Ajv({ strict: false }).compile(schema);
    } catch (error) {
      problems.push(problem(`"parameters" is not a valid JSON Schema: ${(error as Error).message}`, 'parameters'));
    }
  }
  if (problems.length > 0) return { problems };
  return {
    kind: {
      type: type as string,
      description: (description as string).trim(),
      parameters: schema,
      templateFields: [],
      commandFields: [],
      execute: execute as StepExecutor<CustomStep>,
      source: file,
    },
  };
}

/** Imports a module; TypeScript is compiled first (esbuild, bundling its relative imports) into a temporary folder. */
async function importModule(file: string): Promise<unknown> {
  if (!file.endsWith('.ts')) return import(pathToFileURL(file).href);
  const { build } = await import('esbuild');
  const folder = await mkdtemp(path.join(tmpdir(), 'agent-runner-step-type-'));
  try {
    const outfile = path.join(folder, `${path.basename(file, '.ts')}.mjs`);
    await build({ entryPoints: [file], outfile, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'silent' });
    return await import(pathToFileURL(outfile).href);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
