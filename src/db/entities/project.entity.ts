import { EntitySchema } from '@mikro-orm/core';

/** A named workspace folder. Times are milliseconds since the epoch (UTC), stored as INTEGER. */
export interface ProjectEntity {
  id: number;
  name: string;
  localPath: string;
  createdAt: number;
  /** JSON array of labels (placement). */
  requiredLabels: string[];
}

export const ProjectSchema = new EntitySchema<ProjectEntity>({
  name: 'ProjectEntity',
  tableName: 'projects',
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    name: { type: 'string', length: 200, unique: true },
    localPath: { type: 'text' },
    createdAt: { type: 'integer' },
    requiredLabels: { type: 'json', default: '[]' },
  },
});
