/**
 * The event data map (src/engine/events.ts): every type is described with each field of its data, the
 * schema's EventType descriptions come from it, and undocumentedData finds a field the map lacks.
 */
import { buildSchema, type GraphQLEnumType } from 'graphql';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EVENT_DOCS, describeEventType, eventData, undocumentedData } from '../../src/engine/events.js';
import { EVENT_TYPES } from '../../src/engine/types.js';

describe('the event data map', () => {
  it('describes every event type, and the committed schema carries those descriptions', () => {
    const schema = buildSchema(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));
    const enumType = schema.getType('EventType') as GraphQLEnumType;
    for (const type of EVENT_TYPES) {
      expect(EVENT_DOCS[type].summary.length, type).toBeGreaterThan(10);
      expect(enumType.getValue(type)?.description, type).toBe(describeEventType(type));
    }
    expect(describeEventType('LLM_HEARTBEAT')).toContain('`silentSeconds` — in a pause: seconds since its last text');
    expect(describeEventType('STEP_COMPLETED')).toContain('`exitCode` — commands: the exit code');
  });

  it('finds data fields the map does not describe, except in the open types', () => {
    expect(undocumentedData({ type: 'LLM_HEARTBEAT', data: { model: 'm', elapsedSeconds: 3 } })).toEqual([]);
    expect(undocumentedData({ type: 'LLM_HEARTBEAT', data: { model: 'm', elapsedSeconds: 3, temperature: 1 } })).toEqual(['temperature']);
    expect(undocumentedData({ type: 'STEP_COMPLETED', data: { index: 0, durationMs: 5, exitCode: 0, rowsImported: 12 } })).toEqual([]);
    expect(undocumentedData({ type: 'AGENT_TOOL_RESULT', data: { turn: 1, matches: 2 } })).toEqual([]);
    expect(undocumentedData({ type: 'RUN_STOPPED', data: null })).toEqual([]);
  });

  it('reads an event’s data as its type’s shape, and only for that type', () => {
    const event = { type: 'SHELL_OUTPUT', data: { stream: 'stderr', text: 'boom\n' } };
    expect(eventData(event, 'SHELL_OUTPUT')?.stream).toBe('stderr');
    expect(eventData(event, 'LLM_TOKEN')).toBeNull();
    expect(eventData({ type: 'LLM_TOKEN', data: null }, 'LLM_TOKEN')).toBeNull();
  });
});
