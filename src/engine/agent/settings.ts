import type { AgentOptions, AgentSettings, AgentStep } from '../types.js';

/** The server's defaults for an agent's limits (from the configuration: AGENT_MAX_ITERATIONS, …). */
export interface AgentDefaults {
  /** Model calls at most (40). */
  maxIterations: number;
  /** Seconds the whole agent may take (1800). */
  timeoutSeconds: number;
  /** Prompt plus output tokens at most (400 000). */
  tokenBudget: number;
  /** Context window in tokens (32 768). */
  numCtx: number;
  /** Characters of a tool's result sent back to the model (12 000). */
  toolResultMaxChars: number;
}

type NumericOption = Exclude<keyof AgentOptions, 'think'>;

/** Largest directive (sendDirective) accepted, in bytes of UTF-8 once trimmed; the CLI refuses a larger one before sending it. */
export const MAX_DIRECTIVE_BYTES = 20 * 1024;

/** The values a run or a step definition may give each numeric agent option, inclusive. */
export const AGENT_OPTION_RANGES: Readonly<Record<NumericOption, readonly [number, number]>> = {
  maxIterations: [1, 1000],
  timeoutSeconds: [1, 7 * 24 * 3600],
  tokenBudget: [100, 1_000_000_000],
  numCtx: [256, 2_097_152],
  toolResultMaxChars: [100, 10_000_000],
};

/** Why an agent option is out of range, or null when it is fine (or absent). */
export function agentOptionProblem(name: NumericOption, value: number | undefined): string | null {
  if (value === undefined) return null;
  const [min, max] = AGENT_OPTION_RANGES[name];
  return Number.isInteger(value) && value >= min && value <= max ? null : `must be a whole number from ${min} to ${max}`;
}

/**
 * An agent step's settings in force: the run's `options.agent` > the step definition's own fields
 * > the server's defaults. `llmTimeoutSeconds` bounds each model call, `shellTimeoutSeconds` each command.
 */
export function resolveAgentSettings(
  step: AgentStep,
  options: AgentOptions | undefined,
  defaults: AgentDefaults,
  timeouts: { llmTimeoutSeconds: number; shellTimeoutSeconds: number },
): AgentSettings {
  const pick = <K extends NumericOption>(name: K, fromStep: number | undefined): number => options?.[name] ?? fromStep ?? defaults[name];
  return {
    maxIterations: pick('maxIterations', step.maxIterations),
    timeoutSeconds: pick('timeoutSeconds', step.timeoutSeconds),
    tokenBudget: pick('tokenBudget', step.tokenBudget),
    numCtx: pick('numCtx', step.numCtx),
    toolResultMaxChars: pick('toolResultMaxChars', step.toolResultMaxChars),
    think: options?.think ?? step.think,
    callTimeoutSeconds: timeouts.llmTimeoutSeconds,
    commandTimeoutSeconds: timeouts.shellTimeoutSeconds,
  };
}
