import { streamRunEvents } from '../engine/event-stream.js';
import { EVENT_TYPES, type EventRecord } from '../engine/types.js';
import { notFound } from '../errors.js';
import { boundedInt, pageComplexity, parseId } from './args.js';
import { builder } from './builder.js';

export const EventTypeEnum = builder.enumType('EventType', {
  description: 'What happened to a run. The seed’s event names, plus RUN_QUEUED, LLM_TOKEN, LLM_HEARTBEAT, SHELL_OUTPUT, STEP_FAILED, STEP_RETRYING and the run-control events.',
  values: {
    RUN_QUEUED: { description: 'The run was created (or retried with retryRun) and waits for the worker.' },
    WORKFLOW_LOOKUP: { description: 'Looking up the workflow definition.' },
    WORKFLOW_STARTED: { description: 'The workflow began executing.' },
    STEP_STARTED: { description: 'A step began.' },
    LLM_LOADING_MODEL: { description: 'Ollama is loading the step’s model.' },
    LLM_GENERATING: { description: 'The model started answering.' },
    LLM_TOKEN: { description: 'Generated text, coalesced; data.text holds the delta.' },
    LLM_HEARTBEAT: { description: 'Still waiting on the model (loading, or a pause mid-answer); data.elapsedSeconds says how long, and data.silentSeconds, in a pause, how long since its last text.' },
    LLM_DONE: { description: 'Generation finished; data holds characters, tokens, tokens/s and load time.' },
    SHELL_EXECUTING: { description: 'A command started.' },
    SHELL_OUTPUT: { description: 'Command output, coalesced; data.stream is stdout or stderr, data.text the delta.' },
    ARTIFACT_CREATED: { description: 'A file was written and recorded as an artifact.' },
    STEP_COMPLETED: { description: 'A step completed; data holds its results (such as exitCode).' },
    STEP_FAILED: { description: 'A step failed; data.error says why.' },
    STEP_RETRYING: { description: 'An attempt of a step failed and it will be tried again; data has attempt, maxAttempts, error and waitSeconds.' },
    RUN_PAUSED: { description: 'The run paused between two steps (pauseRun).' },
    RUN_RESUMED: { description: 'The run was resumed (resumeRun), or its pending pause cancelled.' },
    RUN_STOPPED: { description: 'The run was stopped (stopRun). Terminal.' },
    RUN_RECOVERED: { description: 'A run a previous server process left running was put back in the queue at start-up; it continues from the first step that did not complete.' },
    WORKFLOW_COMPLETED: { description: 'Every step completed. Terminal.' },
    WORKFLOW_FAILED: { description: 'The workflow failed; data.error says why. Terminal.' },
    LLM_THINKING: {
      description:
        'The model’s reasoning (Ollama’s `thinking` field, or a `<think>…</think>` block at the start of its answer), coalesced like LLM_TOKEN; data.text holds the delta. Never part of the step’s output or files.',
    },
    FILE_BLOCK_SKIPPED: {
      description:
        'A block of an LLM answer that names a file was not written; data has path, line (in the answer) or entry (in a JSON answer), and reason (the answer ended inside it, a later block names the same file, it is the step’s own output file, …).',
    },
    STEP_LOG: { description: 'A line a step logged about its work (custom step types use it: ctx.log).' },
    AGENT_STARTED: {
      description:
        'An agent step began or continued: data has model, think, continuing, turns and tokens so far, the limits in force (maxIterations, tokenBudget, timeoutSeconds, numCtx, toolResultMaxChars, callTimeoutSeconds, commandTimeoutSeconds) and the tool names.',
    },
    AGENT_TURN: {
      description:
        'One model call of an agent ended: data has turn, promptTokens, outputTokens, loadMs, promptMs, outputMs, totalMs, doneReason, toolCalls (how many), textForm (the calls were read from the text), contextTokens (an estimate) and totals {turns, tokens}.',
    },
    AGENT_TOOL_CALL: {
      description:
        'The agent called a tool: data has turn, callId, name, arguments (long strings shortened) and textForm (true when the call was read from the model’s text, not sent structured); malformed: true with problems for a call that could not be read.',
    },
    AGENT_TOOL_RESULT: {
      description:
        'A tool call’s result: data has turn, callId, name, ok, sizeChars, truncated (cut to toolResultMaxChars for the model), content (what the model was sent), durationMs, and per tool details such as exitCode or path.',
    },
    AGENT_DIRECTIVE: { description: 'A directive (sendDirective): data.state is received when it was sent, delivered when the agent took it, before data.turn; data.text, data.directiveId.' },
    AGENT_LIMIT_REACHED: {
      description: 'An agent reached a limit and ends: data.limit is maxIterations, tokenBudget, timeout, context or unusableToolCalls, with used and max.',
    },
  } satisfies Record<(typeof EVENT_TYPES)[number], { description: string }>,
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
    data: t.expose('data', { type: 'JSON', nullable: true, description: 'Structured details; the shape depends on the type.' }),
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
    },
    complexity: (args) => pageComplexity(args.first, 1000),
    resolve: async (_root, args, { services }) => {
      const runId = parseId(args.runId, 'runId');
      const after = boundedInt(args.after, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
      const first = boundedInt(args.first, 'first', 1000, 1, 10_000);
      await requireRun(services, runId);
      return services.store.listEvents(runId, after, first);
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
    },
    subscribe: async (_root, args, { services }) => {
      const runId = parseId(args.runId, 'runId');
      const after = boundedInt(args.after, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
      await requireRun(services, runId);
      return streamRunEvents(services, runId, after);
    },
    resolve: (event) => event,
  }),
}));
