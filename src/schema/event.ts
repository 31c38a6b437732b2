import { stepEvents, streamRunEvents } from '../engine/event-stream.js';
import { describeEventType } from '../engine/events.js';
import { EVENT_TYPES, type EventRecord, type EventType } from '../engine/types.js';
import { notFound } from '../errors.js';
import { boundedInt, pageComplexity, parseId } from './args.js';
import { builder } from './builder.js';

export const EventTypeEnum = builder.enumType('EventType', {
  description: 'What happened to a run: the type of an Event. Each value says what the event means and what its data (Event.data, JSON) holds.',
  values: Object.fromEntries(EVENT_TYPES.map((type) => [type, { description: describeEventType(type) }])) as Record<EventType, { description: string }>,
});

export const EventRef = builder.objectRef<EventRecord>('Event');

EventRef.implement({
  description: 'Something that happened to a run. A run’s events are numbered by seq: 1, 2, 3 … with no gaps.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The event id.' }),
    runId: t.exposeID('runId', { description: 'The run the event belongs to.' }),
    seq: t.exposeInt('seq', { description: 'Position in the run’s event log, from 1, without gaps.' }),
    type: t.expose('type', { type: EventTypeEnum, description: 'What happened.' }),
    message: t.exposeString('message', { description: 'What happened, for people.' }),
    stepName: t.exposeString('stepName', { nullable: true, description: 'The step it belongs to, if any.' }),
    data: t.expose('data', {
      type: 'JSON',
      nullable: true,
      description: 'Structured details; the shape depends on the type: each EventType value’s description lists its fields (one map in the server, src/engine/events.ts, that the engine, this schema, the console and the CLI share).',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it happened, to the millisecond.' }),
  }),
});

async function requireRun(services: { store: { getRun(id: number): Promise<unknown> } }, runId: number): Promise<void> {
  if (!(await services.store.getRun(runId))) throw notFound(`No run has id ${runId}. List runs with the "runs" query.`);
}

builder.queryFields((t) => ({
  events: t.field({
    type: [EventRef],
    description: 'A run’s events with seq greater than `after`, ordered by seq. NOT_FOUND for an unknown run.',
    args: {
      runId: t.arg.id({ required: true, description: 'The run.' }),
      after: t.arg.int({ defaultValue: 0, description: 'Return events after this seq (0 for all).' }),
      first: t.arg.int({ defaultValue: 1000, description: 'How many events at most (1 to 10000).' }),
      stepName: t.arg.string({ description: 'Only the events of this step (its loop iterations included).' }),
    },
    complexity: (args) => pageComplexity(args.first, 1000),
    resolve: async (_root, args, { services }) => {
      const runId = parseId(args.runId, 'runId');
      const after = boundedInt(args.after, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
      const first = boundedInt(args.first, 'first', 1000, 1, 10_000);
      await requireRun(services, runId);
      return services.store.listEvents(runId, after, first, args.stepName ?? undefined);
    },
  }),
}));

builder.subscriptionFields((t) => ({
  runEvents: t.field({
    type: EventRef,
    description:
      'Every stored event of the run with seq greater than `after`, then live ones as they happen, with no gap and no duplicate; completes after the terminal event (WORKFLOW_COMPLETED, WORKFLOW_FAILED, RUN_STOPPED). After losing a connection, subscribe again with the last seq seen.',
    args: {
      runId: t.arg.id({ required: true, description: 'The run.' }),
      after: t.arg.int({ defaultValue: 0, description: 'Start after this seq (0 for everything).' }),
      stepName: t.arg.string({
        description: 'Only the events of this step (steps running at once each have their own), and the run’s terminal event, which ends the stream.',
      }),
    },
    subscribe: async (_root, args, { services }) => {
      const runId = parseId(args.runId, 'runId');
      const after = boundedInt(args.after, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
      await requireRun(services, runId);
      const events = streamRunEvents(services, runId, after);
      return args.stepName ? stepEvents(events, args.stepName) : events;
    },
    resolve: (event) => event,
  }),
}));
