import type { WorkflowDefinition } from '../types.js';
import { quarkusBootstrapV1 } from './quarkus-bootstrap-v1.js';

/** The workflow a run uses when it names none, as in the seed. */
export const DEFAULT_WORKFLOW_NAME = quarkusBootstrapV1.name;

/** Workflows by name. Built-ins are registered here; tests and embedders may register more. */
export class WorkflowRegistry {
  private readonly workflows = new Map<string, WorkflowDefinition>();

  constructor(workflows: readonly WorkflowDefinition[] = [quarkusBootstrapV1]) {
    for (const workflow of workflows) this.register(workflow);
  }

  register(workflow: WorkflowDefinition): void {
    const names = new Set<string>();
    for (const step of workflow.steps) {
      if (names.has(step.name)) throw new Error(`Workflow ${workflow.name} has two steps named "${step.name}".`);
      names.add(step.name);
    }
    this.workflows.set(workflow.name, workflow);
  }

  get(name: string): WorkflowDefinition | undefined {
    return this.workflows.get(name);
  }

  list(): WorkflowDefinition[] {
    return [...this.workflows.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  names(): string[] {
    return this.list().map((w) => w.name);
  }
}
