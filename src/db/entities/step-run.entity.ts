import { EntitySchema } from '@mikro-orm/core';
import type { StepStatus, StepType } from '../../engine/types.js';

/** Where one step of one run stands: status, attempt, times, error. */
export interface StepRunEntity {
  id: number;
  runId: number;
  index: number;
  name: string;
  type: StepType;
  /** The type as written: a built-in type's name, or a custom type's. */
  typeName: string;
  status: StepStatus;
  description: string;
  attempt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: string | null;
  output: string | null;
  /** Command steps: the exit code of the last attempt. */
  exitCode: number | null;
}

export const StepRunSchema = new EntitySchema<StepRunEntity>({
  name: 'StepRunEntity',
  tableName: 'step_runs',
  uniques: [{ properties: ['runId', 'index'] }],
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    runId: { type: 'integer' },
    index: { type: 'integer', fieldName: 'step_index' },
    name: { type: 'string', length: 200 },
    type: { type: 'string', length: 32 },
    typeName: { type: 'string', length: 64, default: '' },
    status: { type: 'string', length: 16 },
    description: { type: 'text' },
    attempt: { type: 'integer' },
    startedAt: { type: 'integer', nullable: true },
    finishedAt: { type: 'integer', nullable: true },
    error: { type: 'text', nullable: true },
    output: { type: 'text', nullable: true },
    exitCode: { type: 'integer', nullable: true },
  },
});
