import { EntitySchema } from '@mikro-orm/core';
import type { WorkflowDefinition, WorkflowOrigin } from '../../engine/types.js';

/** A registered workflow version: immutable once stored. Times are milliseconds since the epoch (UTC). */
export interface WorkflowVersionEntity {
  id: number;
  name: string;
  version: string;
  /** The definition text as registered. */
  source: string;
  /** The normalised definition the engine runs. */
  definition: WorkflowDefinition;
  contentHash: string;
  origin: WorkflowOrigin;
  originPath: string | null;
  registeredAt: number;
}

export const WorkflowVersionSchema = new EntitySchema<WorkflowVersionEntity>({
  name: 'WorkflowVersionEntity',
  tableName: 'workflow_versions',
  uniques: [{ properties: ['name', 'version'] }],
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    name: { type: 'string', length: 100 },
    version: { type: 'string', length: 64 },
    source: { type: 'text' },
    definition: { type: 'json' },
    contentHash: { type: 'string', length: 64 },
    origin: { type: 'string', length: 16 },
    originPath: { type: 'text', nullable: true },
    registeredAt: { type: 'integer' },
  },
});
