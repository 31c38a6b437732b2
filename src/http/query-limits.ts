/**
 * Bounds on what one GraphQL operation may ask for, over HTTP, SSE and WebSocket alike:
 * - GraphQL Armor, before anything runs: tokens (while parsing, so a huge document is dropped early),
 *   then depth, aliases and directives (validation rules, cached with the document's validation);
 * - the schema's own cost estimate (@pothos/plugin-complexity: 1 per field, lists multiplied by their
 *   `first` argument, default included, or their size estimate; see src/schema/builder.ts), checked
 *   just before execution because it depends on the request's variables.
 * Each refusal is a GraphQL error whose code names the limit and whose message names the variable
 * that raises it.
 */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { createComplexityRule } from '@pothos/plugin-complexity';
import { GraphQLError, validate, type ExecutionArgs } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.js';

/** The `extensions.code` of each limit's refusal. */
export type QueryLimitCode = 'TOO_MANY_TOKENS' | 'QUERY_TOO_DEEP' | 'TOO_MANY_ALIASES' | 'TOO_MANY_DIRECTIVES' | 'QUERY_TOO_COSTLY';

type Limits = Pick<Config, 'maxQueryTokens' | 'maxQueryDepth' | 'maxQueryAliases' | 'maxQueryDirectives' | 'maxQueryCost'>;

/** A refusal: the limit's own words ("… limit of 8 exceeded, found 11."), what to do, and the code. */
function limitError(code: QueryLimitCode, what: string, advice: string, variable: string): GraphQLError {
  return new GraphQLError(`${what.replace(/^Syntax Error: /, '')} ${advice}, or raise ${variable} on the server.`, { extensions: { code } });
}

/**
 * Armor's callbacks for one limit: the refusal is reported as a validation error with its code, or,
 * while parsing (no validation context), thrown.
 */
function reject(code: QueryLimitCode, advice: string, variable: string) {
  return {
    propagateOnRejection: false,
    onReject: [
      (context: { reportError(error: GraphQLError): void } | null, error: GraphQLError) => {
        const refusal = limitError(code, error.message, advice, variable);
        if (!context) throw refusal;
        context.reportError(refusal);
      },
    ],
  };
}

type CostArgs = Pick<ExecutionArgs, 'schema' | 'document' | 'variableValues' | 'operationName' | 'contextValue'>;

/**
 * The estimated cost of the operation `args` select (with several operations and no name, the
 * costliest), or null when the variables do not fit it: execution reports those.
 */
export function operationCost(args: CostArgs): number | null {
  let complexity: number | null = null;
  const rule = createComplexityRule({
    context: (args.contextValue ?? {}) as object,
    variableValues: (args.variableValues ?? {}) as Record<string, unknown>,
    operationName: args.operationName,
    onResult: (result) => {
      complexity = Math.max(complexity ?? 0, result.complexity);
    },
  });
  validate(args.schema, args.document, [rule]);
  return complexity;
}

/** The refusal of an operation whose estimated cost exceeds `maxQueryCost`, as a one-element list, or an empty list. */
export function operationCostErrors(args: CostArgs, maxQueryCost: number): GraphQLError[] {
  const complexity = operationCost(args);
  if (complexity === null || complexity <= maxQueryCost) return [];
  return [
    limitError(
      'QUERY_TOO_COSTLY',
      `Query cost limit of ${maxQueryCost} exceeded, found ${complexity}.`,
      'Ask for fewer items (a smaller `first`), fewer nested lists or fewer fields, or split the query',
      'MAX_QUERY_COST',
    ),
  ];
}

/**
 * A document nested so deeply that reading it overflowed the stack (possible only when
 * MAX_QUERY_TOKENS is raised far: 1000 tokens nest 500 levels at most), as QUERY_TOO_DEEP instead of
 * an internal error; null for any other error.
 */
export function nestingOverflowError(error: unknown): GraphQLError | null {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = (current as GraphQLError).originalError, depth++) {
    if (current instanceof RangeError && /call stack/i.test(current.message)) {
      return new GraphQLError('The document is nested too deeply to be read. Select less deeply nested fields, or lower MAX_QUERY_TOKENS on the server so such documents are refused earlier.', {
        extensions: { code: 'QUERY_TOO_DEEP' },
      });
    }
  }
  return null;
}

/** The yoga plugins that enforce the limits (tokens, depth, aliases, directives, then cost). */
export function queryLimitPlugins(limits: Limits): Plugin[] {
  const armor = EnvelopArmorPlugin({
    maxTokens: { n: limits.maxQueryTokens, ...reject('TOO_MANY_TOKENS', 'Send a shorter document (fewer fields; long values in variables)', 'MAX_QUERY_TOKENS') },
    maxDepth: {
      n: limits.maxQueryDepth,
      flattenFragments: true,
      ...reject('QUERY_TOO_DEEP', 'Select less deeply nested fields (fetch the inner objects with a second query)', 'MAX_QUERY_DEPTH'),
    },
    maxAliases: { n: limits.maxQueryAliases, ...reject('TOO_MANY_ALIASES', 'Use fewer aliases (send several requests instead)', 'MAX_QUERY_ALIASES') },
    maxDirectives: { n: limits.maxQueryDirectives, ...reject('TOO_MANY_DIRECTIVES', 'Use fewer directives', 'MAX_QUERY_DIRECTIVES') },
    // The schema-aware estimate below replaces Armor's, which sees neither argument defaults nor variables.
    costLimit: { enabled: false },
    // Introspection is on (GraphiQL needs it): hiding "Did you mean …" would hide nothing.
    blockFieldSuggestion: { enabled: false },
  });
  const cost: Plugin = {
    onExecute({ args, setResultAndStopExecution }) {
      const errors = operationCostErrors(args, limits.maxQueryCost);
      if (errors.length > 0) setResultAndStopExecution({ errors });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const errors = operationCostErrors(args, limits.maxQueryCost);
      if (errors.length > 0) setResultAndStopExecution({ errors });
    },
  };
  return [armor as Plugin, cost];
}
