import type { EventStore } from './event-log.js';
import type {
  AgentMessage,
  ArtifactKind,
  DirectiveRecord,
  ArtifactRecord,
  EventRecord,
  ProjectRecord,
  RunRecord,
  RunStatus,
  StepRunRecord,
} from './types.js';

export type RunPatch = Partial<Pick<RunRecord, 'status' | 'error' | 'startedAt' | 'finishedAt'>>;
export type StepRunPatch = Partial<Pick<StepRunRecord, 'status' | 'attempt' | 'startedAt' | 'finishedAt' | 'error' | 'description' | 'output' | 'exitCode'>>;

/** An agent's conversation, by run and step, and the directives users send to runs. */
export interface AgentMemoryStore {
  /** The step's conversation, oldest first. */
  loadConversation(runId: number, stepName: string): Promise<AgentMessage[]>;
  /** Appends one message at the end of the step's conversation. */
  appendConversation(runId: number, stepName: string, message: AgentMessage): Promise<void>;
  /** Forgets these steps' conversations (a retry starts them afresh). */
  clearConversations(runId: number, stepNames: string[]): Promise<void>;
  addDirective(runId: number, text: string): Promise<DirectiveRecord>;
  /** The run's undelivered directives, oldest first, marked delivered to `stepName` at `deliveredAt`. */
  takeDirectives(runId: number, stepName: string, deliveredAt: Date): Promise<DirectiveRecord[]>;
  /** Every directive of the run, oldest first. */
  listDirectives(runId: number): Promise<DirectiveRecord[]>;
}

/** What the engine (runner and worker) needs from storage; the database layer implements it. */
export interface RunStore extends EventStore, AgentMemoryStore {
  getProject(id: number): Promise<ProjectRecord | null>;
  getRun(id: number): Promise<RunRecord | null>;
  /** Moves the run from `from` to `patch.status` only if it is still in `from`; null if it was not. */
  transitionRun(id: number, from: RunStatus, patch: RunPatch & { status: RunStatus }): Promise<RunRecord | null>;
  /** Moves the oldest `limit` QUEUED runs to RUNNING (with `startedAt`) and returns them, oldest first. */
  claimQueuedRuns(limit: number, startedAt: Date): Promise<RunRecord[]>;
  /** Ids of the runs in a status, oldest first. */
  runIdsWithStatus(status: RunStatus, limit: number): Promise<number[]>;
  countRuns(status: RunStatus): Promise<number>;
  listStepRuns(runId: number): Promise<StepRunRecord[]>;
  updateStepRun(runId: number, index: number, patch: StepRunPatch): Promise<void>;
  createArtifact(artifact: { runId: number; stepName: string | null; kind: ArtifactKind; path: string; sizeBytes: number }): Promise<ArtifactRecord>;
  listEvents(runId: number, after: number, first: number): Promise<EventRecord[]>;
  /** The run's event with the highest `seq`, or null. */
  lastEvent(runId: number): Promise<EventRecord | null>;
}
