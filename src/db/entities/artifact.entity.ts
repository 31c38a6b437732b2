import { EntitySchema } from '@mikro-orm/core';
import type { ArtifactKind } from '../../engine/types.js';

/** A file a step produced, by its path relative to the project's workspace. */
export interface ArtifactEntity {
  id: number;
  runId: number;
  stepName: string | null;
  kind: ArtifactKind;
  path: string;
  sizeBytes: number;
  createdAt: number;
}

export const ArtifactSchema = new EntitySchema<ArtifactEntity>({
  name: 'ArtifactEntity',
  tableName: 'artifacts',
  indexes: [{ properties: ['runId'] }],
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    runId: { type: 'integer' },
    stepName: { type: 'string', length: 200, nullable: true },
    kind: { type: 'string', length: 32 },
    path: { type: 'text' },
    sizeBytes: { type: 'integer' },
    createdAt: { type: 'integer' },
  },
});
