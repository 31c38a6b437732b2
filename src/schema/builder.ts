import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import type { Context } from '../context.js';

/**
 * The one SchemaBuilder: scalars, context, and each field's cost estimate (the complexity plugin: 1
 * per field, a list multiplies what it selects by 10 unless the field says otherwise, such as by its
 * `first` argument). The limit is applied per request in src/http/query-limits.ts, not here. Types
 * are defined in one file each, next to this one.
 */
export const builder = new SchemaBuilder<{
  Context: Context;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    ID: { Input: string; Output: string | number };
  };
}>({
  defaultFieldNullability: false,
  plugins: [ComplexityPlugin],
  complexity: { defaultComplexity: 1, defaultListMultiplier: 10 },
});

builder.scalarType('DateTime', {
  description: 'A point in time: an ISO-8601 string in UTC with milliseconds, such as 2026-11-26T03:15:45.123Z.',
  serialize: (value) => value.toISOString(),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
    if (Number.isNaN(date.getTime())) throw new TypeError('DateTime must be an ISO-8601 string such as 2026-11-26T03:15:45.123Z.');
    return date;
  },
});

builder.scalarType('JSON', {
  description: 'Any JSON value: structured details whose shape depends on where it appears.',
  serialize: (value) => value,
  parseValue: (value) => value,
});

builder.queryType({ description: 'Reading projects, runs, their events and artifacts, workflows and the worker.' });
builder.mutationType({ description: 'Creating projects and runs, controlling runs (pause, resume, stop, retry), and asking the worker to look at the queue.' });
builder.subscriptionType({ description: 'Live updates over WebSocket (graphql-ws) or Server-Sent Events, on /graphql.' });
