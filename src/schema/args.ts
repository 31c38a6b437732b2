import { badInput } from '../errors.js';

/** A database id from a GraphQL `ID` argument; anything but a positive whole number is refused. */
export function parseId(value: string | number, argument: string): number {
  const text = String(value);
  const id = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(id) || id < 1) {
    throw badInput(`Argument "${argument}" must be a numeric id such as "1"; got ${JSON.stringify(text)}.`);
  }
  return id;
}

/**
 * The cost estimate of a paged list field (see builder.ts): 1 for the field, and what it selects
 * counted `first` times, the most it can return.
 */
export function pageComplexity(first: number | null | undefined, fallback: number): { field: number; multiplier: number } {
  return { field: 1, multiplier: Math.max(0, first ?? fallback) };
}

/** A count or offset argument within bounds, or BAD_USER_INPUT naming it. */
export function boundedInt(value: number | null | undefined, argument: string, fallback: number, min: number, max: number): number {
  const n = value ?? fallback;
  if (n < min || n > max) throw badInput(`Argument "${argument}" must be between ${min} and ${max}; got ${n}.`);
  return n;
}
