import { EntitySchema } from '@mikro-orm/core';

/** A message a user sent to an agent run; `deliveredAt` is set when an agent step took it into its conversation. */
export interface DirectiveEntity {
  id: number;
  runId: number;
  text: string;
  createdAt: number;
  deliveredAt: number | null;
  stepName: string | null;
}

export const DirectiveSchema = new EntitySchema<DirectiveEntity>({
  name: 'DirectiveEntity',
  tableName: 'agent_directives',
  indexes: [{ properties: ['runId', 'id'] }],
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    runId: { type: 'integer' },
    text: { type: 'text' },
    createdAt: { type: 'integer' },
    deliveredAt: { type: 'integer', nullable: true },
    stepName: { type: 'string', length: 200, nullable: true },
  },
});
