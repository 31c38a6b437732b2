/**
 * One step of a run, from STEP_STARTED to STEP_COMPLETED or STEP_FAILED: its templates rendered, its
 * executor called with its timeout and the run's signal, tried again by its retry policy, its record
 * kept up to date, and every event it records followed (a step whose log lost an event does not
 * complete). The runner (runner.ts) decides which steps run and when.
 */
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventDataArgument, LoopPlace } from './events.js';
import { EventTally, type EventTallyResult } from './event-tally.js';
import type { EventLog } from './event-log.js';
import { ExpressionRuntimeError, type ExpressionValues } from './expressions.js';
import { renderStep } from './run-plan.js';
import type { AnyStepKind, StepKinds } from './steps/registry.js';
import type { RunStore } from './store.js';
import {
  StepError,
  StepTimeoutError,
  coerceError,
  type EventRecord,
  type EventType,
  type ResolvedStep,
  type StepContext,
  type StepResult,
  type StepSettings,
} from './types.js';
import type { Workspace } from './workspace.js';

export interface Logger {
  info(message: string): void;
  error(message: string, error?: unknown): void;
}

/** A completed step's output kept in its record, for `{output:NAME}` after a pause or restart. */
export const MAX_STORED_OUTPUT_CHARS = 1024 * 1024;

/** What running a step needs from the server. */
export interface StepExecutionDeps {
  store: RunStore;
  eventLog: EventLog;
  kinds: StepKinds;
  settings: StepSettings;
  logger: Logger;
}

/**
 * Records an event; resolves with the stored record, or null if it could not be stored (logged, never
 * thrown into the run). `tally`, when given, learns which: the runner judges a step or a run by it.
 */
export function recordEvent<T extends EventType>(
  deps: Pick<StepExecutionDeps, 'eventLog' | 'logger'>,
  runId: number,
  type: T,
  message: string,
  stepName?: string | null,
  data?: EventDataArgument<T>,
  tally?: EventTally,
): Promise<EventRecord | null> {
  const appended = deps.eventLog.append(runId, { type, message, stepName: stepName ?? null, data: (data as Record<string, unknown> | undefined) ?? null });
  tally?.track(appended);
  return appended.catch((error: unknown) => {
    deps.logger.error(`run ${runId}: could not record ${type}`, error);
    return null;
  });
}

/** Why a step was cut off by the workflow itself: another step failed and the workflow has failFast. */
export class FailFastError extends Error {
  constructor(readonly failedStep: string) {
    super(`stopped because step "${failedStep}" failed and the workflow has failFast`);
    this.name = 'FailFastError';
  }
}

export interface StepExecutionInput {
  runId: number;
  goal: string;
  /** The step with the run's choices applied (templates rendered at each attempt). */
  step: ResolvedStep;
  /** Its record's index (the row its status is kept in). */
  index: number;
  /** "Step 2/5", or "Step 1/3 of loop repair, iteration 2": how its events name it. */
  position: string;
  /** Added to the data of its lifecycle events (a loop step's iteration). */
  lifecycleData: LoopPlace;
  workspace: Workspace;
  /** Templates are rendered against these (taken when each attempt starts). */
  values: () => ExpressionValues;
  /** Attempts recorded before this execution (a recovered step keeps counting). */
  previousAttempts: number;
  /** The run's own events (STEP_COMPLETED, STEP_RETRYING, STEP_FAILED). */
  events: EventTally;
  /** Aborted by a stop or shutdown of the run, or by failFast; the reason says which. */
  signal: AbortSignal;
  /** For long steps' safe points: whether to carry on, pause there, or leave for a shutdown (commits a pause). */
  checkpoint(): 'continue' | 'pause' | 'shutdown';
}

export type StepOutcome = { ok: true; result: StepResult } | { ok: false; reason: Error; message: string };

/** Reasons that end a step without it having failed: nothing is recorded for them here. */
export type InterruptionCheck = (reason: Error) => boolean;

/**
 * One step, tried up to its retry policy's attempts: records STEP_STARTED per attempt,
 * STEP_RETRYING between attempts, and STEP_COMPLETED or STEP_FAILED at the end. An interruption
 * (stop, shutdown, failFast, a pause inside the step) is returned as it is, with nothing recorded,
 * for the runner to handle.
 */
export async function executeStep(deps: StepExecutionDeps, input: StepExecutionInput, isInterruption: InterruptionCheck): Promise<StepOutcome> {
  const { store } = deps;
  const { runId, index, step, position } = input;
  const emit = <T extends EventType>(type: T, message: string, data?: EventDataArgument<T>) => recordEvent(deps, runId, type, message, step.name, data, input.events);
  const policy = step.retry ?? { maxAttempts: 1, backoffSeconds: 0, backoffFactor: 1 };
  const maxAttempts = Math.max(1, Math.floor(policy.maxAttempts));

  for (let attempt = 1; ; attempt++) {
    const ofMax = maxAttempts > 1 ? ` (attempt ${attempt} of ${maxAttempts})` : '';
    // Neither the record nor STEP_STARTED is waited for: the database has one connection, so they are
    // stored in the order they were issued, before anything the step writes (a reader who sees
    // STEP_STARTED finds the record RUNNING), and the step need not wait for their commits. A failure
    // to store the record is raised once the step has run.
    const markedRunning = store.updateStepRun(runId, index, {
      status: 'RUNNING',
      attempt: input.previousAttempts + attempt,
      startedAt: new Date(),
      finishedAt: null,
      error: null,
      skippedReason: null,
      description: step.description,
    });
    markedRunning.catch(() => undefined);
    // Everything this attempt records, STEP_STARTED first: it completes only if all of it was stored.
    const attemptEvents = new EventTally();
    void recordEvent(
      deps,
      runId,
      'STEP_STARTED',
      `${position}: ${step.description}${ofMax}`,
      step.name,
      {
        index,
        type: step.type,
        attempt: input.previousAttempts + attempt,
        maxAttempts,
        ...(step.type === 'LLM_GENERATE' ? { model: step.model } : {}),
        ...(step.type === 'CUSTOM' ? { customType: step.customType } : {}),
        timeoutSeconds: step.timeoutMs / 1000,
        ...input.lifecycleData,
      },
      attemptEvents,
    );

    const started = Date.now();
    let outcome = await runAttempt(deps, input, attemptEvents);
    const elapsed = Date.now() - started;
    await markedRunning;
    if (outcome.ok) {
      const stored = await attemptEvents.settled();
      if (stored.lost > 0) outcome = lostEvents(stored);
    }

    if (outcome.ok) {
      const output = outcome.result.output;
      // The record is waited for (the next step reads completed outputs from memory, but a restart
      // reads them from the records); STEP_COMPLETED is stored after it, in order, like STEP_STARTED.
      const recorded = store.updateStepRun(runId, index, {
        status: 'COMPLETED',
        finishedAt: new Date(),
        output: output === undefined ? null : output.slice(-MAX_STORED_OUTPUT_CHARS),
        exitCode: exitCodeOf(outcome.result.data),
      });
      void emit('STEP_COMPLETED', `${position} completed in ${seconds(elapsed)}: ${outcome.result.summary ?? step.description}`, {
        index,
        durationMs: elapsed,
        attempt: input.previousAttempts + attempt,
        ...outcome.result.data,
        ...input.lifecycleData,
      });
      await recorded;
      return outcome;
    }
    if (isInterruption(outcome.reason)) return outcome;

    const retryable = isRetryable(outcome.reason);
    if (retryable && attempt < maxAttempts) {
      const waitSeconds = policy.backoffSeconds * policy.backoffFactor ** (attempt - 1);
      await store.updateStepRun(runId, index, { error: outcome.message });
      // The wait comes first: the reason may end with quoted command output.
      await emit('STEP_RETRYING', `${position}: attempt ${attempt} of ${maxAttempts} failed; retrying in ${waitSeconds}s. ${outcome.message}`, {
        index,
        attempt,
        maxAttempts,
        error: outcome.message,
        waitSeconds,
        ...input.lifecycleData,
      });
      try {
        await sleep(waitSeconds * 1000, undefined, { signal: input.signal });
      } catch {
        const reason = coerceError(input.signal.reason);
        return { ok: false, reason, message: reason.message };
      }
      continue;
    }

    const attempts = attempt > 1 ? ` after ${attempt} attempts` : '';
    const failureData = outcome.reason instanceof StepError ? outcome.reason.data : undefined;
    const goesOn = step.continueOnError ? ' (continueOnError: the run goes on)' : '';
    await store.updateStepRun(runId, index, { status: 'FAILED', finishedAt: new Date(), error: outcome.message, exitCode: exitCodeOf(failureData) });
    await emit('STEP_FAILED', `${position} failed${attempts}${goesOn}: ${outcome.message}`, {
      index,
      durationMs: elapsed,
      error: outcome.message,
      attempts: attempt,
      retryable,
      ...(step.continueOnError ? { continueOnError: true } : {}),
      ...failureData,
      ...input.lifecycleData,
    });
    return outcome;
  }
}

/**
 * A step attempt that lost an event fails: its streamed text or output in the log
 * would have a hole no client can see (seq stays gapless). Retryable: the database may be free again.
 */
function lostEvents({ lost, reason }: EventTallyResult): StepOutcome {
  const message = `${lost} of the step's events could not be stored (${reason}), so what the step recorded is not whole; it is not marked completed.`;
  return { ok: false, reason: new StepError(message, { retryable: true }), message };
}

/** Runs one attempt of a step with its timeout and the run's signal; returns its result or why it failed. */
async function runAttempt(deps: StepExecutionDeps, input: StepExecutionInput, events: EventTally): Promise<StepOutcome> {
  const { step } = input;
  const runSignal = input.signal;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new StepTimeoutError(step.timeoutMs)), step.timeoutMs);
  const onRunAbort = () => controller.abort(runSignal.reason);
  if (runSignal.aborted) onRunAbort();
  else runSignal.addEventListener('abort', onRunAbort, { once: true });
  const emit = <T extends EventType>(type: T, message: string, data?: EventDataArgument<T>) => recordEvent(deps, input.runId, type, message, step.name, data, events);
  const done = () => {
    clearTimeout(timer);
    runSignal.removeEventListener('abort', onRunAbort);
  };

  const failed = (reason: Error): StepOutcome => ({ ok: false, reason, message: describeFailure(step, reason) });
  let rendered: ReturnType<typeof renderStep>;
  let kind: AnyStepKind;
  const values = input.values();
  try {
    kind = deps.kinds.kindOf(step);
    rendered = renderStep(step, kind, values);
  } catch (error) {
    done();
    return failed(error instanceof ExpressionRuntimeError ? new StepError(error.message, { retryable: false }) : coerceError(error));
  }
  const context: StepContext = {
    runId: input.runId,
    goal: input.goal,
    step: rendered.step,
    env: rendered.env,
    workspace: input.workspace,
    outputs: new Map(Object.entries(values.steps).flatMap(([name, s]) => (s.output === null ? [] : [[name, s.output]]))),
    settings: deps.settings,
    signal: controller.signal,
    checkpoint: () => input.checkpoint(),
    memory: {
      load: () => deps.store.loadConversation(input.runId, step.name),
      append: (message) => deps.store.appendConversation(input.runId, step.name, message),
      takeDirectives: () => deps.store.takeDirectives(input.runId, step.name, new Date()),
    },
    emit: (type, message, data) => void emit(type, message, data),
    log: (message, data) => void emit('STEP_LOG', message, data),
    recordArtifact: async (relativePath, kind) => {
      const absolute = await input.workspace.resolve(relativePath);
      const { size } = await stat(absolute);
      const artifact = await deps.store.createArtifact({ runId: input.runId, stepName: step.name, kind, path: relativePath, sizeBytes: size });
      await emit('ARTIFACT_CREATED', `Created ${kind === 'COMMAND_OUTPUT' ? 'command output' : 'file'} ${relativePath} (${size} bytes)`, {
        artifactId: String(artifact.id),
        path: relativePath,
        kind,
        sizeBytes: size,
      });
      return artifact;
    },
  };

  try {
    const result = await kind.execute(context);
    // A step that ignored its signal still fails if it was cut off.
    if (controller.signal.aborted) return failed(coerceError(controller.signal.reason));
    return { ok: true, result };
  } catch (error) {
    return failed(controller.signal.aborted ? coerceError(controller.signal.reason) : coerceError(error));
  } finally {
    done();
  }
}

/** Whether another attempt may succeed: StepErrors say so; any other error may, unless it carries `retryable: false` (custom step types). */
function isRetryable(reason: Error): boolean {
  if (reason instanceof StepError) return reason.retryable;
  return (reason as { retryable?: unknown }).retryable !== false;
}

/** The exit code a command step reported in its result or failure data, if any. */
export function exitCodeOf(data: Record<string, unknown> | undefined): number | null {
  return typeof data?.exitCode === 'number' ? data.exitCode : null;
}

export function seconds(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Math.round(ms / 100) / 10}s`;
}

/** The setting a user raises when a step of this kind times out. */
function timeoutAdvice(step: ResolvedStep): string {
  if (step.type === 'AGENT') return "Raise the run's options.agent.timeoutSeconds (or AGENT_TIMEOUT_SECONDS), or give the agent a smaller task.";
  if (step.timeoutSeconds !== undefined) return "Raise the step's timeoutSeconds in the workflow definition.";
  return step.type === 'LLM_GENERATE'
    ? "Raise the run's options.timeoutSeconds or OLLAMA_TIMEOUT_SECONDS, or use a smaller model."
    : "Raise SHELL_TIMEOUT_SECONDS or the step's timeoutSeconds.";
}

/** Who cut a model's answer short when a step timed out: this server, not Ollama. */
const LLM_TIMEOUT_CUT = ": agent-runner closed the connection to Ollama at the step's timeout (Ollama did not end it)";

function describeFailure(step: ResolvedStep, reason: Error): string {
  if (!(reason instanceof StepTimeoutError)) return reason.message;
  const cut = step.type === 'LLM_GENERATE' ? LLM_TIMEOUT_CUT : '';
  return `Step "${step.name}" timed out after ${seconds(reason.timeoutMs)}${cut}. ${timeoutAdvice(step)}`;
}
