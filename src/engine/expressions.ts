/**
 * Templates and expressions in workflow definitions.
 *
 * A template is a string (a prompt, a command, a file path, a file's content, a custom step's
 * parameter) holding any of:
 * - `${{ <expression> }}`: a GitHub Actions expression, parsed and evaluated by GitHub's own evaluator
 *   (`@actions/expressions`; never `eval`). Contexts: `inputs.<name>`, `goal`, `steps.<name>.output`
 *   (`.outcome`, `.exitCode`), `run.id` (`.name`, `.workflow`, `.version`), `project.path` (`.name`).
 *   Operators, literals and functions (`contains`, `startsWith`, `format`, `join`, `toJSON`, …) are
 *   GitHub's: https://docs.github.com/actions/learn-github-actions/expressions
 * - the seed's placeholders `{goal}` and `{output:STEP}`, which keep working.
 *
 * Substitution is one pass: text a value brings in is never searched for placeholders again. In a
 * command, values are never spliced into the command line: each becomes an environment variable
 * (`AGENT_RUNNER_EXPR_<n>`) and the command refers to it (`"$AGENT_RUNNER_EXPR_1"`), so an input of
 * `$(touch /tmp/pwned)` is only ever text.
 */
import { Evaluator, ExpressionError, Lexer, Parser, data } from '@actions/expressions';
import { ContextAccess, Expr, FunctionCall, IndexAccess, Literal } from '@actions/expressions/ast';
import { ErrorType } from '@actions/expressions/errors';
import type { FunctionDefinition, FunctionInfo } from '@actions/expressions/funcs/info';

/** The context names an expression may use. */
export const EXPRESSION_CONTEXTS = ['inputs', 'goal', 'steps', 'run', 'project'] as const;
export type ExpressionContextName = (typeof EXPRESSION_CONTEXTS)[number];

/** What `steps.<name>` holds for a step that ran earlier. */
export const STEP_CONTEXT_FIELDS = ['output', 'outcome', 'exitCode'] as const;

/** The status functions of GitHub Actions, for step conditions (`if:`) only. */
export const STATUS_FUNCTIONS = ['success', 'failure', 'always', 'cancelled'] as const;

/** The outcome of a step as `steps.<name>.outcome` reports it (GitHub Actions' names). */
export type StepOutcome = 'success' | 'failure' | 'skipped' | 'cancelled';

/** The values templates and conditions are evaluated against. */
export interface ExpressionValues {
  goal: string;
  inputs: Readonly<Record<string, string | number | boolean>>;
  /** Steps that have run (or were skipped) earlier, by name. */
  steps: Readonly<Record<string, { output: string | null; outcome: StepOutcome | null; exitCode: number | null }>>;
  run: { id: number; name: string | null; workflow: string; version: string };
  project: { name: string; path: string };
}

/** For step conditions: what the status functions answer. */
export interface RunStatusForConditions {
  /** A step of the run has failed (and was not allowed to: continueOnError). */
  failed: boolean;
  /** The run was stopped. */
  cancelled: boolean;
}

/** A problem in a template, at a character offset of the template text. */
export interface TemplateProblem {
  message: string;
  /** Offset of the problem in the template string (0-based). */
  index: number;
}

export type TemplatePart =
  | { kind: 'text'; text: string }
  | { kind: 'expression'; source: string; expr: Expr; index: number }
  | { kind: 'goal'; index: number }
  | { kind: 'output'; step: string; index: number };

/** A parsed template: its parts, or the problems that kept it from parsing. */
export interface ParsedTemplate {
  parts: TemplatePart[];
  problems: TemplateProblem[];
}

/** A reference an expression makes: `inputs.name` is `{ context: 'inputs', path: ['name'] }`. */
export interface ExpressionReference {
  context: string;
  /** Literal property names after the context, as far as they are literal (`steps[x]` stops the path). */
  path: string[];
  /** Offset of the reference within the expression source. */
  index: number;
}

const OPEN = '${{';
const CLOSE = '}}';
const SEED_PLACEHOLDER = /\{goal\}|\{output:([^{}\s]+)\}/y;
const STATUS_FUNCTION_INFO: FunctionInfo[] = STATUS_FUNCTIONS.map((name) => ({ name, minArgs: 0, maxArgs: 0 }));

/**
 * Splits a template into text, expressions and the seed's placeholders. An expression ends at the
 * first `}}` outside a quoted string ('…', with '' for a quote inside). Every expression is parsed
 * (`allowStatusFunctions` for `if:` conditions), so a syntax error is found here, not when a step runs.
 */
export function parseTemplate(template: string, options: { allowStatusFunctions?: boolean } = {}): ParsedTemplate {
  const parts: TemplatePart[] = [];
  const problems: TemplateProblem[] = [];
  let text = '';
  const flushText = () => {
    if (text !== '') parts.push({ kind: 'text', text });
    text = '';
  };
  let index = 0;
  while (index < template.length) {
    if (template.startsWith(OPEN, index)) {
      const end = findClose(template, index + OPEN.length);
      if (end === -1) {
        problems.push({ message: `an expression opened with "\${{" is never closed with "}}"`, index });
        return { parts, problems };
      }
      const source = template.slice(index + OPEN.length, end);
      flushText();
      const compiled = compileExpression(source, options);
      if ('error' in compiled) {
        problems.push({ message: compiled.error, index: index + OPEN.length + leadingSpace(source) + compiled.column });
      } else {
        parts.push({ kind: 'expression', source: source.trim(), expr: compiled.expr, index });
      }
      index = end + CLOSE.length;
      continue;
    }
    if (template[index] === '{') {
      SEED_PLACEHOLDER.lastIndex = index;
      const match = SEED_PLACEHOLDER.exec(template);
      if (match) {
        flushText();
        parts.push(match[1] === undefined ? { kind: 'goal', index } : { kind: 'output', step: match[1], index });
        index += match[0].length;
        continue;
      }
    }
    text += template[index];
    index += 1;
  }
  flushText();
  return { parts, problems };
}

function leadingSpace(source: string): number {
  return source.length - source.trimStart().length;
}

/** Offset of the `}}` that closes an expression starting at `from`, skipping quoted strings; -1 if none. */
function findClose(template: string, from: number): number {
  let inString = false;
  for (let i = from; i < template.length; i++) {
    const char = template[i];
    if (char === "'") {
      if (inString && template[i + 1] === "'") {
        i += 1; // '' is a quote inside a string
        continue;
      }
      inString = !inString;
    } else if (!inString && template.startsWith(CLOSE, i)) {
      return i;
    }
  }
  return -1;
}

/** Parses one expression (without its `${{ }}`); the error says what is wrong, at a column of `source`. */
export function compileExpression(source: string, options: { allowStatusFunctions?: boolean } = {}): { expr: Expr } | { error: string; column: number } {
  if (source.trim() === '') return { error: 'an expression "${{ }}" is empty', column: 0 };
  try {
    const { tokens } = new Lexer(source.trim()).lex();
    const functions = options.allowStatusFunctions ? STATUS_FUNCTION_INFO : [];
    return { expr: new Parser(tokens, [...EXPRESSION_CONTEXTS], functions).parse() };
  } catch (error) {
    if (error instanceof ExpressionError) return { error: describeParseError(error, source.trim(), options), column: error.pos.column };
    return { error: `the expression "${source.trim()}" cannot be read: ${(error as Error).message}`, column: 0 };
  }
}

function describeParseError(error: ExpressionError, source: string, options: { allowStatusFunctions?: boolean }): string {
  const type = (error as unknown as { typ: ErrorType }).typ;
  const lexeme = (error as unknown as { tok: { lexeme: string } }).tok?.lexeme ?? '';
  const where = `in "\${{ ${source} }}"`;
  switch (type) {
    case ErrorType.ErrorUnrecognizedNamedValue:
    case ErrorType.ErrorUnrecognizedContext:
      return `${where}: "${lexeme}" is not something an expression can use; use one of ${EXPRESSION_CONTEXTS.join(', ')} (such as inputs.NAME or steps.NAME.output)`;
    case ErrorType.ErrorUnrecognizedFunction: {
      const isStatus = (STATUS_FUNCTIONS as readonly string[]).includes(lexeme.toLowerCase());
      if (isStatus && !options.allowStatusFunctions) return `${where}: ${lexeme}() can only be used in a step's "if" condition`;
      return `${where}: there is no function "${lexeme}" (see the expression functions in the README)`;
    }
    default:
      return `${where}: ${error.message}`;
  }
}

/** The sub-expressions of a node (operands, arguments, indexes). */
function children(node: Expr): Expr[] {
  const found: Expr[] = [];
  for (const value of Object.values(node as object)) {
    if (value instanceof Expr) found.push(value);
    else if (Array.isArray(value)) for (const item of value) if (item instanceof Expr) found.push(item);
  }
  return found;
}

/** Every context reference an expression makes, with its literal path. */
export function referencesOf(expr: Expr): ExpressionReference[] {
  const found: ExpressionReference[] = [];
  const visit = (node: Expr): void => {
    const chain = referenceChain(node);
    if (!chain) return children(node).forEach(visit);
    found.push(chain);
    // Non-literal indexes inside the chain (steps[inputs.x]) make references of their own.
    for (let current: Expr = node; current instanceof IndexAccess; current = current.expr) {
      if (!(current.index instanceof Literal)) visit(current.index);
    }
  };
  visit(expr);
  return found;
}

/** `a.b['c']` as a reference, or null when the node is not a context access chain. */
function referenceChain(node: Expr): ExpressionReference | null {
  const path: Array<string | null> = [];
  let current: Expr = node;
  while (current instanceof IndexAccess) {
    path.unshift(current.index instanceof Literal && current.index.literal.kind === data.Kind.String ? current.index.literal.coerceString() : null);
    current = current.expr;
  }
  if (!(current instanceof ContextAccess)) return null;
  const literal: string[] = [];
  for (const part of path) {
    if (part === null) break;
    literal.push(part);
  }
  const start = current.name.range?.start.column ?? 0;
  return { context: current.name.lexeme.toLowerCase(), path: literal, index: start };
}

/** The function names an expression calls (lower-cased). */
export function functionsCalled(expr: Expr): string[] {
  const names: string[] = [];
  const visit = (node: Expr): void => {
    if (node instanceof FunctionCall) names.push(node.functionName.lexeme.toLowerCase());
    children(node).forEach(visit);
  };
  visit(expr);
  return names;
}

/** The values as the evaluator's data (a case-insensitive dictionary per context, as in GitHub Actions). */
function toExpressionData(values: ExpressionValues): data.Dictionary {
  return JSON.parse(JSON.stringify(values), data.reviver) as data.Dictionary;
}

function statusFunctions(status: RunStatusForConditions): Map<string, FunctionDefinition> {
  const fn = (name: string, value: () => boolean): [string, FunctionDefinition] => [name, { name, minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(value()) }];
  return new Map([
    fn('success', () => !status.failed && !status.cancelled),
    fn('failure', () => status.failed && !status.cancelled),
    fn('always', () => true),
    fn('cancelled', () => status.cancelled),
  ]);
}

/** An expression that could not be evaluated at run time (a step fails with this message). */
export class ExpressionRuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpressionRuntimeError';
  }
}

function evaluate(expr: Expr, source: string, context: data.Dictionary, functions?: Map<string, FunctionDefinition>): data.ExpressionData {
  try {
    return new Evaluator(expr, context, functions).evaluate();
  } catch (error) {
    throw new ExpressionRuntimeError(`The expression "\${{ ${source} }}" could not be evaluated: ${(error as Error).message}`);
  }
}

/** How a value reads in text: strings as they are, null as '', objects and arrays as JSON (GitHub's rules otherwise). */
function asText(value: data.ExpressionData): string {
  if (value.kind === data.Kind.Null) return '';
  if (!value.primitive) {
    return JSON.stringify(value, data.replacer);
  }
  return value.coerceString();
}

/** Renders a parsed template's parts, each value through `place` (for commands) or as text. */
function renderParts(parts: readonly TemplatePart[], values: ExpressionValues, place: (value: string) => string = (value) => value): string {
  let context: data.Dictionary | undefined;
  let out = '';
  for (const part of parts) {
    switch (part.kind) {
      case 'text':
        out += part.text;
        break;
      case 'goal':
        out += place(values.goal);
        break;
      case 'output':
        out += place(values.steps[part.step]?.output ?? '');
        break;
      case 'expression':
        context ??= toExpressionData(values);
        out += place(asText(evaluate(part.expr, part.source, context)));
        break;
    }
  }
  return out;
}

function parseOrThrow(template: string): TemplatePart[] {
  const parsed = parseTemplate(template);
  if (parsed.problems.length > 0) throw new ExpressionRuntimeError(parsed.problems.map((p) => p.message).join('; '));
  return parsed.parts;
}

/** Renders a template (prompt, path, content, parameter) to its text. Throws ExpressionRuntimeError. */
export function renderTemplate(template: string, values: ExpressionValues): string {
  if (!template.includes('{')) return template;
  return renderParts(parseOrThrow(template), values);
}

/** The name of the environment variable that carries the n-th value substituted into a command. */
export const expressionVariable = (n: number): string => `AGENT_RUNNER_EXPR_${n}`;

/**
 * Renders a command: each substituted value goes into an environment variable and the command
 * refers to it, quoted (`"$AGENT_RUNNER_EXPR_1"`; inside a double-quoted string, `${AGENT_RUNNER_EXPR_1}`).
 * A value is never part of the command line itself.
 */
export function renderCommand(template: string, values: ExpressionValues): { command: string; env: Record<string, string> } {
  const env: Record<string, string> = {};
  if (!template.includes('{')) return { command: template, env };
  const parts = parseOrThrow(template);
  const quoting = shellQuotingAt(template);
  let n = 0;
  let command = '';
  for (const part of parts) {
    if (part.kind === 'text') {
      command += part.text;
      continue;
    }
    n += 1;
    const name = expressionVariable(n);
    env[name] = renderParts([part], values);
    command += quoting(part.index) === 'double' ? `\${${name}}` : `"\${${name}}"`;
  }
  return { command, env };
}

/** Where in a command each character stands: outside quotes, in '…', or in "…" (sh rules, simplified). */
export function shellQuotingAt(command: string): (index: number) => 'none' | 'single' | 'double' {
  const states: Array<'none' | 'single' | 'double'> = new Array(command.length);
  let state: 'none' | 'single' | 'double' = 'none';
  for (let i = 0; i < command.length; i++) {
    states[i] = state;
    const char = command[i];
    if (state === 'single') {
      if (char === "'") state = 'none';
    } else if (char === '\\') {
      states[i + 1] = state;
      i += 1;
    } else if (char === "'" && state === 'none') {
      state = 'single';
    } else if (char === '"') {
      state = state === 'double' ? 'none' : 'double';
    }
  }
  return (index) => states[index] ?? state;
}

/**
 * Evaluates a step condition (`if:`): a template or a bare expression (`${{ }}` may be left out, as in
 * GitHub Actions), with the status functions. Truthiness is GitHub's: false, 0, '', null are false.
 */
export function evaluateCondition(condition: string, values: ExpressionValues, status: RunStatusForConditions): boolean {
  const source = conditionSource(condition);
  const compiled = compileExpression(source, { allowStatusFunctions: true });
  if ('error' in compiled) throw new ExpressionRuntimeError(compiled.error);
  const result = evaluate(compiled.expr, source.trim(), toExpressionData(values), statusFunctions(status));
  return truthy(result);
}

/** The expression of a condition: `${{ x }}` and `x` mean the same. */
export function conditionSource(condition: string): string {
  const trimmed = condition.trim();
  if (trimmed.startsWith(OPEN) && trimmed.endsWith(CLOSE) && findClose(trimmed, OPEN.length) === trimmed.length - CLOSE.length) {
    return trimmed.slice(OPEN.length, -CLOSE.length);
  }
  return trimmed;
}

function truthy(value: data.ExpressionData): boolean {
  switch (value.kind) {
    case data.Kind.Null:
      return false;
    case data.Kind.Boolean:
      return (value as data.BooleanData).value;
    case data.Kind.Number:
      return value.number() !== 0 && !Number.isNaN(value.number());
    case data.Kind.String:
      return value.coerceString() !== '';
    default:
      return true;
  }
}

/** Whether a condition calls a status function (success(), failure(), always(), cancelled()). */
export function callsStatusFunction(condition: string): boolean {
  const compiled = compileExpression(conditionSource(condition), { allowStatusFunctions: true });
  if ('error' in compiled) return false;
  return functionsCalled(compiled.expr).some((name) => (STATUS_FUNCTIONS as readonly string[]).includes(name));
}
