import { EntitySchema } from '@mikro-orm/core';

/**
 * One message of an agent step's conversation. `position` orders a step's messages 0, 1, 2 …;
 * `data` is JSON text holding what only some messages have (thinking, tool calls, the tool answered).
 */
export interface AgentMessageEntity {
  id: number;
  runId: number;
  stepName: string;
  position: number;
  role: string;
  content: string;
  data: string | null;
  createdAt: number;
}

export const AgentMessageSchema = new EntitySchema<AgentMessageEntity>({
  name: 'AgentMessageEntity',
  tableName: 'agent_messages',
  uniques: [{ properties: ['runId', 'stepName', 'position'] }],
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    runId: { type: 'integer' },
    stepName: { type: 'string', length: 200 },
    position: { type: 'integer' },
    role: { type: 'string', length: 16 },
    content: { type: 'text' },
    data: { type: 'text', nullable: true },
    createdAt: { type: 'integer' },
  },
});
