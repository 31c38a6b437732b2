import { EntitySchema } from '@mikro-orm/core';
import type { EventType } from '../../engine/types.js';

/** One entry of a run's event log; `seq` numbers a run's events 1, 2, 3 … with no gap. */
export interface EventEntity {
  id: number;
  runId: number;
  seq: number;
  type: EventType;
  message: string;
  stepName: string | null;
  /** JSON text; the event log writes rows in batches with its own SQL, so it is kept as text here. */
  data: string | null;
  createdAt: number;
}

export const EventSchema = new EntitySchema<EventEntity>({
  name: 'EventEntity',
  tableName: 'events',
  uniques: [{ properties: ['runId', 'seq'] }],
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    runId: { type: 'integer' },
    seq: { type: 'integer' },
    type: { type: 'string', length: 32 },
    message: { type: 'text' },
    stepName: { type: 'string', length: 200, nullable: true },
    data: { type: 'text', nullable: true },
    createdAt: { type: 'integer' },
  },
});
