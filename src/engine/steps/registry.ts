import { StepError, type CustomStep, type StepExecutor, type StepOfType, type StepType, type WorkflowStepDefinition } from '../types.js';
import type { StepKindSchema } from '../workflows/schema.js';
import { agentKind } from './agent.js';
import { fileWriteKind } from './file-write.js';
import { llmGenerateKind } from './llm-generate.js';
import { mavenCommandKind } from './maven-command.js';
import { shellCommandKind } from './shell-command.js';

/**
 * A kind of step: how it is written in a definition (its own fields as a JSON Schema), which of
 * those fields are templates, and the executor that performs it.
 */
export interface StepKind<S extends WorkflowStepDefinition = WorkflowStepDefinition> extends StepKindSchema {
  /** Fields rendered as templates before the step runs (built-ins: the step's fields; custom kinds: every string in `params`). */
  templateFields: readonly string[];
  /** Fields rendered as commands: their `${{ … }}` values become environment variables. */
  commandFields: readonly string[];
  execute: StepExecutor<S>;
  /** Custom kinds: the module it was loaded from; null for built-ins. */
  source: string | null;
}

/** A built-in kind, checked by the compiler against its own step definition type. */
export type BuiltInStepKind<T extends Exclude<StepType, 'CUSTOM'>> = StepKind<StepOfType<T>> & { type: T };

/** A kind loaded from STEP_TYPES_DIR (see custom.ts). */
export interface CustomStepKind extends StepKind<CustomStep> {
  source: string;
}

/** Any kind, its executor's step type erased (the registry pairs each step with its own kind). */
export type AnyStepKind = StepKind<WorkflowStepDefinition>;

/** The built-in kinds, by type. Adding a kind: a module with its executor and kind, listed here. */
export const BUILT_IN_STEP_KINDS: { readonly [T in Exclude<StepType, 'CUSTOM'>]: BuiltInStepKind<T> } = {
  LLM_GENERATE: llmGenerateKind,
  FILE_WRITE: fileWriteKind,
  SHELL_COMMAND: shellCommandKind,
  MAVEN_COMMAND: mavenCommandKind,
  AGENT: agentKind,
};

const isBuiltInType = (type: string): type is Exclude<StepType, 'CUSTOM'> => Object.hasOwn(BUILT_IN_STEP_KINDS, type);

/**
 * Every kind of step this server can run: the built-in ones and the custom ones loaded at start.
 * Definitions are checked against it when registered; the runner asks it for executors.
 */
export class StepKinds {
  private readonly custom = new Map<string, CustomStepKind>();

  constructor(custom: readonly CustomStepKind[] = []) {
    for (const kind of custom) this.addCustom(kind);
  }

  /** Adds a custom kind; throws if its type is taken. */
  addCustom(kind: CustomStepKind): void {
    if (isBuiltInType(kind.type) || kind.type === 'CUSTOM') throw new Error(`"${kind.type}" is a built-in step type`);
    if (this.custom.has(kind.type)) throw new Error(`step type "${kind.type}" is defined twice (${this.custom.get(kind.type)!.source} and ${kind.source})`);
    this.custom.set(kind.type, kind);
  }

  /** The kind of a type as written in a definition (`LLM_GENERATE`, `HTTP_REQUEST`). */
  get(type: string): AnyStepKind | undefined {
    return (isBuiltInType(type) ? BUILT_IN_STEP_KINDS[type] : this.custom.get(type)) as AnyStepKind | undefined;
  }

  isCustom(type: string): boolean {
    return this.custom.has(type);
  }

  /** Built-in kinds first, then custom ones by name. */
  list(): AnyStepKind[] {
    const custom = [...this.custom.values()].sort((a, b) => a.type.localeCompare(b.type));
    return [...Object.values(BUILT_IN_STEP_KINDS), ...custom] as AnyStepKind[];
  }

  /** The kind that performs a normalised step. */
  kindOf(step: WorkflowStepDefinition): AnyStepKind {
    const written = step.type === 'CUSTOM' ? step.customType : step.type;
    const kind = this.get(written);
    if (!kind) {
      throw new StepError(`Step "${step.name}" has type ${written}, which this server does not have (is its module missing from STEP_TYPES_DIR?)`, { retryable: false });
    }
    return kind;
  }

}
