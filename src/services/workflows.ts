import type { Services } from '../context.js';
import type { DefinitionProblem, WorkflowDefinition, WorkflowVersionRecord } from '../engine/types.js';
import { describeProblem } from '../engine/workflows/registry.js';
import { badInput, conflict } from '../errors.js';

/** What validateWorkflow answers. */
export interface WorkflowValidation {
  valid: boolean;
  problems: DefinitionProblem[];
  name: string | null;
  version: string | null;
  /** The version already registered under that (name, version), if any. */
  registered: WorkflowVersionRecord | null;
  definition: WorkflowDefinition | null;
}

/** Checks a definition text without registering it. */
export function validateWorkflow(services: Pick<Services, 'workflows'>, source: string): WorkflowValidation {
  const parsed = services.workflows.validate(source);
  const definition = parsed.definition;
  const registered = definition ? (services.workflows.get(definition.name, definition.version) ?? null) : null;
  return {
    valid: definition !== null,
    problems: parsed.problems,
    name: definition?.name ?? null,
    version: definition?.version ?? null,
    registered,
    definition,
  };
}

/**
 * Registers a definition text through the API. BAD_USER_INPUT lists every problem (each in
 * `extensions.problems` too); CONFLICT when other content holds that (name, version).
 */
export async function registerWorkflow(services: Pick<Services, 'workflows' | 'logger'>, source: string): Promise<{ workflow: WorkflowVersionRecord; created: boolean }> {
  const result = await services.workflows.register(source, 'API');
  switch (result.status) {
    case 'invalid': {
      const count = result.problems.length;
      throw badInput(`Argument "definition": the workflow definition has ${count === 1 ? 'a problem' : `${count} problems`}: ${result.problems.map(describeProblem).join('; ')}`, {
        problems: result.problems,
      });
    }
    case 'conflict':
      throw conflict(result.message);
    default:
      if (result.status === 'registered') services.logger.info(`workflow ${result.workflow.definition.name} ${result.workflow.definition.version} registered`);
      return { workflow: result.workflow, created: result.status === 'registered' };
  }
}
