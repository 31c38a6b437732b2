import { EntitySchema } from '@mikro-orm/core';
import type { RunOptions, RunStatus, RunType, StepModel, WorkflowDefinition } from '../../engine/types.js';

/** One execution of a workflow. Times are milliseconds since the epoch (UTC). */
export interface RunEntity {
  id: number;
  projectId: number;
  name: string | null;
  goal: string;
  runType: RunType;
  status: RunStatus;
  workflowName: string | null;
  workflowVersion: string | null;
  /** The definition the run executes, pinned when it was created (null for runs older than pinning). */
  definition: WorkflowDefinition | null;
  definitionHash: string | null;
  inputs: Record<string, string | number | boolean>;
  options: RunOptions;
  models: StepModel[];
  timeoutSeconds: number | null;
  error: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** JSON array of labels (placement). */
  requiredLabels: string[];
  /** Why no live instance can take the queued run (several instances only). */
  placementNote: string | null;
}

export const RunSchema = new EntitySchema<RunEntity>({
  name: 'RunEntity',
  tableName: 'runs',
  indexes: [{ properties: ['projectId', 'id'] }, { properties: ['status', 'id'] }],
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    // A plain column rather than a relation: the store joins explicitly and the engine sees ids only.
    projectId: { type: 'integer' },
    name: { type: 'string', length: 200, nullable: true },
    goal: { type: 'text' },
    runType: { type: 'string', length: 16 },
    status: { type: 'string', length: 16 },
    workflowName: { type: 'string', length: 200, nullable: true },
    workflowVersion: { type: 'string', length: 64, nullable: true },
    definition: { type: 'json', nullable: true },
    definitionHash: { type: 'string', length: 64, nullable: true },
    inputs: { type: 'json', default: '{}' },
    options: { type: 'json' },
    models: { type: 'json' },
    timeoutSeconds: { type: 'integer', nullable: true },
    error: { type: 'text', nullable: true },
    createdAt: { type: 'integer' },
    startedAt: { type: 'integer', nullable: true },
    finishedAt: { type: 'integer', nullable: true },
    requiredLabels: { type: 'json', default: '[]' },
    placementNote: { type: 'text', nullable: true },
  },
});
