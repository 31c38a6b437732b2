/**
 * Reading a workflow definition: YAML (or JSON, which YAML reads too) → structure checked against
 * the JSON Schema of the format (ajv) → every step against its kind's schema → meaning checked
 * (unique names, templates that parse, references to inputs and earlier steps) → the normalised
 * definition the engine runs. Every problem is reported, each with its line and column, and a
 * definition with any problem is not returned.
 */
import { createHash } from 'node:crypto';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { LineCounter, isMap, isScalar, parseDocument, type Document, type Node as YamlNode, type Scalar } from 'yaml';
import {
  EXPRESSION_CONTEXTS,
  STEP_CONTEXT_FIELDS,
  compileExpression,
  conditionSource,
  parseTemplate,
  referencesOf,
  shellQuotingAt,
  type TemplatePart,
} from '../expressions.js';
import { allSteps, ancestorsByName, graphProblems } from '../graph.js';
import type { AnyStepKind, StepKinds } from '../steps/registry.js';
import type {
  DefinitionProblem,
  InputType,
  LoopStep,
  RetryPolicy,
  WorkflowDefinition,
  WorkflowInputDefinition,
  WorkflowStepDefinition,
} from '../types.js';
import { COMMON_STEP_PROPERTIES, documentSchema, stepSchema } from './schema.js';

/** Largest definition text accepted, in bytes. */
export const MAX_DEFINITION_BYTES = 1024 * 1024;

/** The result of reading a definition: the definition, or every problem found in it. */
export type ParsedWorkflow = { definition: WorkflowDefinition; problems: [] } | { definition: null; problems: DefinitionProblem[] };

type PathPart = string | number;

/** Finds where a path of the document is written, for problem locations. */
interface Locator {
  /** The node's (or with `key`, that key's) position; `offset` is a character offset in a string scalar's value. */
  at(path: readonly PathPart[], options?: { key?: string; offset?: number }): { line: number; column: number } | null;
  /** A scalar's text as written (`1.0` where the value read is the number 1), or null. */
  written(path: readonly PathPart[]): string | null;
}

const NO_LOCATION: Locator = { at: () => null, written: () => null };

/** `steps[1].command` */
export function formatPath(path: readonly PathPart[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out;
}

/**
 * What to do about the YAML mistakes people make most in a definition, by the error code of the
 * `yaml` package (its `YAMLError.code`); the parser's own message says only what it found.
 */
const YAML_ERROR_HINTS: Partial<Record<string, string>> = {
  BLOCK_AS_IMPLICIT_KEY: 'a value holding ": " must be quoted, such as prompt: "Plan: {goal}", or written as a block: prompt: |, then the text indented on the lines below',
  MISSING_CHAR: 'check the indentation here and the quotes and brackets before it: the fields of one step start at the same column',
  BAD_INDENT: 'check the indentation: the fields of one mapping start at the same column, and a nested one further right',
  TAB_AS_INDENT: 'indent with spaces, not tabs',
  BAD_SCALAR_START: 'quote the value',
};

/** Reads a definition text (YAML or JSON). */
export function parseWorkflowDefinition(text: string, kinds: StepKinds): ParsedWorkflow {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_DEFINITION_BYTES) {
    return { definition: null, problems: [{ message: `The definition is too large (${bytes} bytes; at most ${MAX_DEFINITION_BYTES})`, path: '', line: null, column: null }] };
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  if (doc.errors.length > 0) {
    return {
      definition: null,
      problems: doc.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        const hint = YAML_ERROR_HINTS[error.code];
        return { message: `Not valid YAML or JSON: ${error.message.split('\n')[0]}${hint ? ` (${hint})` : ''}`, path: '', line, column: col };
      }),
    };
  }
  let raw: unknown;
  try {
    // maxAliasCount keeps a document of nested aliases ("billion laughs") from expanding without bound.
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return { definition: null, problems: [{ message: `The definition cannot be read: ${(error as Error).message}`, path: '', line: 1, column: 1 }] };
  }
  return checkWorkflowObject(raw, kinds, documentLocator(doc, lineCounter, text));
}

/** Checks a definition given as data (a parsed file, or one written in code) and normalises it. */
export function checkWorkflowObject(raw: unknown, kinds: StepKinds, locate: Locator = NO_LOCATION): ParsedWorkflow {
  const problems: DefinitionProblem[] = [];
  const report = (path: readonly PathPart[], message: string, options?: { key?: string; offset?: number }) => {
    const at = locate.at(path, options);
    problems.push({ message, path: formatPath(options?.key ? [...path, options.key] : path), line: at?.line ?? null, column: at?.column ?? null });
  };

  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    report([], 'A workflow definition is a mapping with name, version, description, inputs and steps');
    return { definition: null, problems };
  }
  const document = raw as Record<string, unknown>;
  if (typeof document.version === 'number') {
    const written = locate.written(['version']) ?? String(document.version);
    report(['version'], `version must be a string: write version: "${written}" (quoted), since YAML reads ${written} as a number`);
  }
  reportSchemaErrors(validatorsFor(kinds).document, document, [], report);

  checkStepStructure(document.steps, ['steps'], kinds, report);
  if (problems.length > 0) return { definition: null, problems: inTextOrder(problems) };

  const definition = normalise(document, kinds);
  checkMeaning(definition, kinds, report);
  return problems.length > 0 ? { definition: null, problems: inTextOrder(problems) } : { definition, problems: [] };
}

/** Problems in the order of the text (unlocated ones last), each once. */
function inTextOrder(problems: DefinitionProblem[]): DefinitionProblem[] {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${p.line}:${p.column}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const position = (p: DefinitionProblem) => (p.line === null ? Number.MAX_SAFE_INTEGER : p.line * 100_000 + (p.column ?? 0));
  return unique.map((p, i) => ({ p, i })).sort((a, b) => position(a.p) - position(b.p) || a.i - b.i).map(({ p }) => p);
}

/** Each step of a list (and of loops inside it) against its kind's schema. */
function checkStepStructure(steps: unknown, base: PathPart[], kinds: StepKinds, report: Report): void {
  if (!Array.isArray(steps)) return; // reported by the document's schema
  steps.forEach((step, index) => {
    if (typeof step !== 'object' || step === null || typeof (step as { type?: unknown }).type !== 'string') {
      if (base.length > 1 && (typeof step !== 'object' || step === null)) report([...base, index], `${formatPath([...base, index])} must be a mapping (a step)`);
      else if (base.length > 1) report([...base, index], `${formatPath([...base, index])}: missing required field "type"`);
      return;
    }
    const type = (step as { type: string }).type;
    const kind = kinds.get(type);
    if (!kind) {
      report([...base, index, 'type'], `Unknown step type "${type}". Types on this server: ${kinds.list().map((k) => k.type).join(', ')}`);
      return;
    }
    reportSchemaErrors(validatorsFor(kinds).step(kind), step, [...base, index], report);
    if (type === 'LOOP') checkStepStructure((step as { steps?: unknown }).steps, [...base, index, 'steps'], kinds, report);
  });
}

// ---------------------------------------------------------------------------------------------
// Structure: JSON Schema

interface Validators {
  document: ValidateFunction;
  step(kind: AnyStepKind): ValidateFunction;
}

// verbose: errors carry their schema (the allowed fields, for "unknown field" messages).
const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const validatorCache = new WeakMap<StepKinds, Validators>();

function validatorsFor(kinds: StepKinds): Validators {
  let cached = validatorCache.get(kinds);
  if (!cached) {
    const stepValidators = new Map<AnyStepKind, ValidateFunction>();
    cached = {
      document: ajv.compile(documentSchema(kinds.list())),
      step(kind) {
        let validate = stepValidators.get(kind);
        if (!validate) stepValidators.set(kind, (validate = ajv.compile(stepSchema(kind))));
        return validate;
      },
    };
    validatorCache.set(kinds, cached);
  }
  return cached;
}

function reportSchemaErrors(
  validate: ValidateFunction,
  value: unknown,
  base: readonly PathPart[],
  report: (path: readonly PathPart[], message: string, options?: { key?: string }) => void,
): void {
  if (validate(value)) return;
  const seen = new Set<string>();
  for (const error of validate.errors ?? []) {
    const path = [...base, ...pointerToPath(error.instancePath)];
    // Step items are only checked for name and type at the top; their kinds' schemas say the rest.
    const described = describeSchemaError(error, path, value);
    if (!described) continue;
    const key = `${formatPath(path)}|${described.key ?? ''}|${described.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    report(path, described.message, described.key ? { key: described.key } : undefined);
  }
}

function pointerToPath(pointer: string): PathPart[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

/** An ajv error in words, or null for errors that repeat another's (if/then wrappers). */
function describeSchemaError(error: ErrorObject, path: PathPart[], root: unknown): { message: string; key?: string } | null {
  const where = formatPath(path) || 'The definition';
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { message: `${where}: missing required field "${String(params.missingProperty)}"` };
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      const allowed = Object.keys((error.parentSchema?.properties ?? {}) as object);
      const near = closest(field, allowed);
      return { message: `${where}: unknown field "${field}"${near ? ` (did you mean "${near}"?)` : ''}. Allowed here: ${allowed.join(', ')}`, key: field };
    }
    case 'type':
      if (path.length === 1 && path[0] === 'version' && typeof (root as Record<string, unknown>).version === 'number') return null;
      return { message: `${where} must be ${article(String(params.type))}` };
    case 'enum':
      return { message: `${where} must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}` };
    case 'pattern':
      return { message: `${where} ${patternAdvice(String(params.pattern))}` };
    case 'propertyNames':
      return { message: `${where}: "${String(params.propertyName)}" is not a valid name: names start with a letter or _ and hold only letters, digits, _ and -` };
    case 'if':
    case 'const':
      return null;
    default:
      return { message: `${where} ${error.message ?? 'is not valid'}` };
  }
}

function article(type: string): string {
  const names = type.split(',');
  const words: Record<string, string> = { string: 'a string', number: 'a number', integer: 'a whole number', boolean: 'true or false', object: 'a mapping', array: 'a list', null: 'null' };
  return names.map((name) => words[name] ?? name).join(' or ');
}

function patternAdvice(pattern: string): string {
  if (pattern.startsWith('^[A-Za-z_]')) return 'must start with a letter or _ and hold only letters, digits, _ and -';
  if (pattern.startsWith('^[A-Za-z0-9][A-Za-z0-9._-]')) return 'must start with a letter or digit and hold only letters, digits, ".", "_" and "-"';
  if (pattern.startsWith('^[A-Za-z0-9][A-Za-z0-9._+-]')) return 'must start with a letter or digit and hold only letters, digits, ".", "_", "+" and "-"';
  return `must match ${pattern}`;
}

/** The allowed word nearest to `word` (edit distance ≤ 2), for "did you mean". */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

// ---------------------------------------------------------------------------------------------
// Normalising: defaults filled in, custom steps' parameters gathered

function normalise(document: Record<string, unknown>, kinds: StepKinds): WorkflowDefinition {
  const inputs: Record<string, WorkflowInputDefinition> = {};
  for (const [name, raw] of Object.entries((document.inputs ?? {}) as Record<string, Record<string, unknown>>)) {
    inputs[name] = {
      type: raw.type as InputType,
      ...(raw.description !== undefined ? { description: String(raw.description) } : {}),
      ...(raw.default !== undefined ? { default: raw.default as string | number | boolean } : {}),
      required: raw.required === true,
      ...(raw.options !== undefined ? { options: [...(raw.options as string[])] } : {}),
    };
  }
  const steps = (document.steps as Array<Record<string, unknown>>).map((raw) => normaliseStep(raw, kinds));
  return {
    name: String(document.name),
    version: String(document.version),
    description: typeof document.description === 'string' ? document.description : '',
    inputs,
    steps,
    ...(document.maxParallel !== undefined ? { maxParallel: Number(document.maxParallel) } : {}),
    ...(document.failFast !== undefined ? { failFast: document.failFast === true } : {}),
  };
}

const COMMON_FIELDS = new Set(Object.keys(COMMON_STEP_PROPERTIES));

function normaliseStep(raw: Record<string, unknown>, kinds: StepKinds): WorkflowStepDefinition {
  const type = String(raw.type);
  const common = {
    name: String(raw.name),
    description: typeof raw.description === 'string' ? raw.description : defaultDescription(raw),
    saveArtifact: raw.saveArtifact !== false,
    ...(raw.timeoutSeconds !== undefined ? { timeoutSeconds: Number(raw.timeoutSeconds) } : {}),
    ...(raw.continueOnError !== undefined ? { continueOnError: raw.continueOnError === true } : {}),
    ...(raw.retry !== undefined ? { retry: normaliseRetry(raw.retry as Record<string, unknown>) } : {}),
    ...(raw.needs !== undefined ? { needs: [...(raw.needs as string[])] } : {}),
    ...(raw.if !== undefined ? { if: String(raw.if) } : {}),
  };
  if (kinds.isCustom(type)) {
    const params: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw)) if (!COMMON_FIELDS.has(key)) params[key] = value;
    return { ...common, type: 'CUSTOM', customType: type, params };
  }
  const own: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) if (!COMMON_FIELDS.has(key)) own[key] = value;
  if (type === 'LOOP') own.steps = (raw.steps as Array<Record<string, unknown>>).map((inner) => normaliseStep(inner, kinds));
  return { ...own, ...common, type } as WorkflowStepDefinition;
}

function normaliseRetry(raw: Record<string, unknown>): RetryPolicy {
  return { maxAttempts: Number(raw.maxAttempts), backoffSeconds: Number(raw.backoffSeconds ?? 0), backoffFactor: Number(raw.backoffFactor ?? 1) };
}

function defaultDescription(raw: Record<string, unknown>): string {
  const firstLine = (value: unknown) => {
    const line = String(value).split('\n')[0]!.trim();
    return line.length > 80 ? `${line.slice(0, 77)}…` : line;
  };
  switch (raw.type) {
    case 'LLM_GENERATE':
      return raw.outputFile ? `Generate ${firstLine(raw.outputFile)} using {model}` : 'Generate text using {model}';
    case 'FILE_WRITE':
      return `Write ${firstLine(raw.outputFile)}`;
    case 'SHELL_COMMAND':
      return `Run: ${firstLine(raw.command)}`;
    case 'MAVEN_COMMAND':
      return `Run Maven: ${firstLine(raw.command)}`;
    case 'LOOP':
      return `Repeat ${(raw.steps as unknown[]).length} step${(raw.steps as unknown[]).length === 1 ? '' : 's'} until ${firstLine(raw.until)}`;
    case 'FAILURE_REPORT':
      return 'Report what failed and the files involved';
    default:
      return `${String(raw.type)} step ${String(raw.name)}`;
  }
}

/** The content hash of a normalised definition: sha256 of its canonical JSON (keys sorted). */
export function definitionHash(definition: WorkflowDefinition): string {
  return createHash('sha256').update(canonicalJson(definition)).digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------
// Meaning: names, inputs, templates and what they refer to

type Report = (path: readonly PathPart[], message: string, options?: { key?: string; offset?: number }) => void;

function checkMeaning(definition: WorkflowDefinition, kinds: StepKinds, report: Report): void {
  const inputNames = new Map(Object.keys(definition.inputs).map((name) => [name.toLowerCase(), name]));
  for (const [name, input] of Object.entries(definition.inputs)) checkInput(name, input, report);

  // Names are unique in the whole workflow, loops' steps included: `steps.<name>` must be unambiguous.
  const seen = new Map<string, string>();
  const walk = (steps: readonly WorkflowStepDefinition[], base: PathPart[]): void =>
    steps.forEach((step, index) => {
      const path = [...base, index];
      const earlier = seen.get(step.name.toLowerCase());
      if (earlier !== undefined) report([...path, 'name'], `Two steps are named "${step.name}" (${earlier} and ${formatPath(path)}): step names must be unique in the workflow, loops included`);
      else seen.set(step.name.toLowerCase(), formatPath(path));
      if (step.type === 'LOOP') walk(step.steps, [...path, 'steps']);
    });
  walk(definition.steps, ['steps']);
  const all = new Set(seen.keys());
  checkScope(definition.steps, ['steps'], { inputNames, allSteps: all, outerVisible: new Set(), loop: null, scopeName: 'the workflow' }, kinds, report);
}

interface ScopeContext {
  inputNames: Map<string, string>;
  allSteps: Set<string>;
  /** Steps outside this list whose results its steps may use (lower-cased). */
  outerVisible: Set<string>;
  /** The loop this list belongs to, if any. */
  loop: LoopStep | null;
  scopeName: string;
}

/** A step list: its graph, then each step's templates, condition and (loops) its own list. */
function checkScope(steps: readonly WorkflowStepDefinition[], base: PathPart[], context: ScopeContext, kinds: StepKinds, report: Report): void {
  const graph = graphProblems(steps, context.scopeName);
  for (const problem of graph) report(problem.need === undefined ? [...base, problem.index] : [...base, problem.index, 'needs', problem.need], problem.message);
  if (graph.length > 0) return;
  const ancestors = ancestorsByName(steps);
  const byName = new Map(steps.map((step) => [step.name, step]));

  steps.forEach((step, index) => {
    const visible = new Set(context.outerVisible);
    for (const ancestor of ancestors.get(step.name) ?? []) {
      visible.add(ancestor.toLowerCase());
      const loop = byName.get(ancestor);
      if (loop?.type === 'LOOP') for (const inner of allSteps(loop.steps)) visible.add(inner.step.name.toLowerCase());
    }
    const scope: TemplateScope = { inputNames: context.inputNames, visible, allSteps: context.allSteps, stepName: step.name, loop: context.loop };
    const kind = kinds.kindOf(step);
    const at = (field: string | PathPart[]) => [...base, index, ...(Array.isArray(field) ? field : [field])];
    const values = step as unknown as Record<string, unknown>;
    if (step.type === 'CUSTOM') {
      forEachString(step.params, [], (value, path) => checkTemplate(value, at(path), scope, report, false));
    } else {
      for (const field of kind.templateFields) if (typeof values[field] === 'string') checkTemplate(values[field] as string, at(field), scope, report, false);
      for (const field of kind.commandFields) if (typeof values[field] === 'string') checkTemplate(values[field] as string, at(field), scope, report, true);
    }
    if (step.if !== undefined) checkCondition(step.if, at('if'), scope, report, true);
    if (step.type === 'FILE_WRITE') {
      if ((step.content === undefined) === (step.contentFrom === undefined)) {
        report([...base, index], `${formatPath([...base, index])} (FILE_WRITE) needs exactly one of content or contentFrom`);
      }
      if (step.contentFrom !== undefined && !visible.has(step.contentFrom.toLowerCase())) {
        report(at('contentFrom'), describeStepReference(step.contentFrom, step.name, scope));
      }
    }
    if (step.type === 'FAILURE_REPORT' && (step.output === undefined) === (step.outputFile === undefined)) {
      report([...base, index], `${formatPath([...base, index])} (FAILURE_REPORT) needs exactly one of output or outputFile`);
    }
    if (step.type === 'LOOP' && context.loop) report(at('type'), `step "${step.name}" is a LOOP inside loop "${context.loop.name}": loops cannot be nested`);
    if (step.type === 'LOOP' && step.retry) report(at('retry'), `step "${step.name}" is a LOOP: its iterations are its retries (maxIterations); retry is not taken here`);
    if (step.type === 'LOOP') {
      checkScope(step.steps, at('steps'), { ...context, outerVisible: visible, loop: step, scopeName: `loop "${step.name}"` }, kinds, report);
      // `until` is read after an iteration: every step of the loop has a result by then.
      const afterIteration = new Set(visible);
      for (const inner of allSteps(step.steps)) afterIteration.add(inner.step.name.toLowerCase());
      checkCondition(step.until, at('until'), { ...scope, visible: afterIteration, loop: step }, report, false);
      if (typeof step.maxIterations === 'string') checkCondition(step.maxIterations, at('maxIterations'), { ...scope, loop: null }, report, false);
    }
  });
}

/** A condition (`if`, `until`) or an expression field: one expression, `${{ }}` optional. */
function checkCondition(condition: string, path: PathPart[], scope: TemplateScope, report: Report, allowStatusFunctions: boolean): void {
  const source = conditionSource(condition);
  const compiled = compileExpression(source, { allowStatusFunctions });
  if ('error' in compiled) {
    report(path, `${formatPath(path)}: ${compiled.error}`);
    return;
  }
  for (const reference of referencesOf(compiled.expr)) {
    const problem = referenceProblem(reference.context, reference.path, scope);
    if (problem) report(path, `${formatPath(path)}: in "\${{ ${source.trim()} }}": ${problem}`);
  }
}

function checkInput(name: string, input: WorkflowInputDefinition, report: Report): void {
  const path = ['inputs', name];
  if (input.type === 'choice' && input.options === undefined) report(path, `inputs.${name}: a choice input needs its options (the allowed values)`);
  if (input.type !== 'choice' && input.options !== undefined) report(path, `inputs.${name}: only a choice input has options (this one is a ${input.type})`, { key: 'options' });
  if (input.default !== undefined) {
    const problem = inputValueProblem(input, input.default);
    if (problem) report([...path, 'default'], `inputs.${name}.default ${problem}`);
  }
}

/** Why a value does not fit an input, or null. Shared by definitions (defaults) and runs (given values). */
export function inputValueProblem(input: WorkflowInputDefinition, value: unknown): string | null {
  switch (input.type) {
    case 'string':
      return typeof value === 'string' ? null : `must be a string (got ${describeValue(value)})`;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? null : `must be a number (got ${describeValue(value)})`;
    case 'boolean':
      return typeof value === 'boolean' ? null : `must be true or false (got ${describeValue(value)})`;
    case 'choice':
      if (typeof value !== 'string') return `must be one of ${input.options?.map((o) => JSON.stringify(o)).join(', ')} (got ${describeValue(value)})`;
      return input.options?.includes(value) ? null : `must be one of ${input.options?.map((o) => JSON.stringify(o)).join(', ')} (got ${JSON.stringify(value)})`;
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

interface TemplateScope {
  /** Declared inputs, lower-cased → as declared. */
  inputNames: Map<string, string>;
  /** Steps whose results this one may use (lower-cased): those it needs, directly or not. */
  visible: Set<string>;
  /** Every step of the workflow (lower-cased names). */
  allSteps: Set<string>;
  stepName: string;
  /** The loop the step is in, for `loop.…`. */
  loop: LoopStep | null;
}

function describeStepReference(name: string, from: string, scope: TemplateScope): string {
  if (name.toLowerCase() === from.toLowerCase()) return `step "${from}" refers to its own output ("${name}"); a step can only use the output of a step that runs before it`;
  if (scope.allSteps.has(name.toLowerCase())) {
    return `step "${from}" refers to step "${name}", which does not run before it; a step can only use the results of steps it needs (directly, through needs or the order of the file, or through the steps those need)`;
  }
  return `step "${from}" refers to step "${name}", which this workflow does not have`;
}

const RUN_FIELDS = ['id', 'name', 'workflow', 'version'];
const PROJECT_FIELDS = ['name', 'path'];
const LOOP_FIELDS = ['iteration', 'maxiterations'];

function checkTemplate(template: string, path: PathPart[], scope: TemplateScope, report: Report, isCommand: boolean): void {
  const parsed = parseTemplate(template);
  for (const problem of parsed.problems) report(path, `${formatPath(path)}: ${problem.message}`, { offset: problem.index });
  const quoting = isCommand ? shellQuotingAt(template) : null;
  for (const part of parsed.parts) {
    if (part.kind === 'text') continue;
    if (quoting && quoting(part.index) === 'single') {
      report(path, `${formatPath(path)}: ${partText(part)} is inside single quotes. Its value reaches the command as an environment variable, which single quotes would not expand: move it outside the quotes (it is quoted for you)`, { offset: part.index });
    }
    if (part.kind === 'output' && !scope.visible.has(part.step.toLowerCase())) {
      report(path, `${formatPath(path)}: {output:${part.step}}: ${describeStepReference(part.step, scope.stepName, scope)}`, { offset: part.index });
    }
    if (part.kind !== 'expression') continue;
    for (const reference of referencesOf(part.expr)) {
      const problem = referenceProblem(reference.context, reference.path, scope);
      if (problem) report(path, `${formatPath(path)}: in "\${{ ${part.source} }}": ${problem}`, { offset: part.index });
    }
  }
}

function partText(part: Exclude<TemplatePart, { kind: 'text' }>): string {
  if (part.kind === 'expression') return `"\${{ ${part.source} }}"`;
  return part.kind === 'goal' ? '{goal}' : `{output:${part.step}}`;
}

function referenceProblem(context: string, path: string[], scope: TemplateScope): string | null {
  const [first, second] = path;
  switch (context as (typeof EXPRESSION_CONTEXTS)[number]) {
    case 'inputs':
      if (first === undefined || scope.inputNames.has(first.toLowerCase())) return null;
      return `inputs.${first} is not an input of this workflow; ${scope.inputNames.size > 0 ? `its inputs: ${[...scope.inputNames.values()].join(', ')}` : 'it declares no inputs'}`;
    case 'steps':
      if (first === undefined) return null;
      if (!scope.visible.has(first.toLowerCase())) return describeStepReference(first, scope.stepName, scope);
      if (second !== undefined && !(STEP_CONTEXT_FIELDS as readonly string[]).some((field) => field.toLowerCase() === second.toLowerCase())) {
        return `steps.${first}.${second} does not exist; a step has ${STEP_CONTEXT_FIELDS.join(', ')}`;
      }
      return null;
    case 'run':
      return first === undefined || RUN_FIELDS.includes(first.toLowerCase()) ? null : `run.${first} does not exist; run has ${RUN_FIELDS.join(', ')}`;
    case 'project':
      return first === undefined || PROJECT_FIELDS.includes(first.toLowerCase()) ? null : `project.${first} does not exist; project has ${PROJECT_FIELDS.join(', ')}`;
    case 'goal':
      return first === undefined ? null : 'goal is text: it has no fields';
    case 'loop':
      if (!scope.loop) return 'loop.… can only be used inside a loop (a LOOP step\'s steps, or its until)';
      return first === undefined || LOOP_FIELDS.includes(first.toLowerCase()) ? null : `loop.${first} does not exist; loop has iteration, maxIterations`;
    default:
      return null;
  }
}

/** Calls `visit` with every string inside a value (objects and lists walked), with its path. */
export function forEachString(value: unknown, path: PathPart[], visit: (value: string, path: PathPart[]) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, index) => forEachString(item, [...path, index], visit));
  else if (value !== null && typeof value === 'object') for (const [key, item] of Object.entries(value)) forEachString(item, [...path, key], visit);
}

// ---------------------------------------------------------------------------------------------
// Locations in the text

function documentLocator(doc: Document, lineCounter: LineCounter, text: string): Locator {
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  return {
    at(path, options) {
      // The deepest node of the path that exists (a missing field is reported at its parent).
      let node: YamlNode | null = null;
      for (let depth = path.length; depth >= 0 && node === null; depth--) {
        const found = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
        if (found && typeof found === 'object' && 'range' in found) node = found as YamlNode;
      }
      if (!node?.range) return null;
      if (options?.key !== undefined && isMap(node)) {
        const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === options.key);
        if (pair && isScalar(pair.key) && pair.key.range) return position(pair.key.range[0]);
      }
      if (options?.offset !== undefined && isScalar(node)) {
        const inside = offsetInScalar(node, options.offset, text);
        if (inside !== null) return position(inside);
      }
      return position(node.range[0]);
    },
    written(path) {
      const node = doc.getIn(path, true);
      return isScalar(node) && node.range ? text.slice(node.range[0], node.range[1]) : null;
    },
  };
}

/** The text offset of a character of a string scalar's value, where it can be known exactly. */
function offsetInScalar(node: Scalar, offset: number, text: string): number | null {
  const [start, end] = node.range!;
  const value = String(node.value);
  if (node.type === 'PLAIN' || node.type === 'QUOTE_SINGLE' || node.type === 'QUOTE_DOUBLE') {
    const quote = node.type === 'PLAIN' ? 0 : 1;
    // Exact only when the value is written as it is (one line, no escapes).
    return text.slice(start + quote, end - quote) === value ? start + quote + offset : null;
  }
  if (node.type === 'BLOCK_LITERAL') {
    const before = value.slice(0, offset);
    const lineIndex = before.split('\n').length - 1;
    const column = offset - (before.lastIndexOf('\n') + 1);
    const lines = text.slice(start, end).split('\n');
    const contentLines = lines.slice(1); // the first line is the | header
    if (contentLines[lineIndex] === undefined) return null;
    // The block's indentation is that of its first line with text; deeper indentation is part of the value.
    const firstFull = contentLines.find((line) => line.trim() !== '') ?? '';
    const indent = firstFull.length - firstFull.trimStart().length;
    let lineStart = start + lines[0]!.length + 1;
    for (let i = 0; i < lineIndex; i++) lineStart += contentLines[i]!.length + 1;
    return lineStart + indent + column;
  }
  return null;
}
