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
  StepModel,
  StepRunRecord,
  WorkflowDefinition,
} from './types.js';

export type RunPatch = Partial<Pick<RunRecord, 'status' | 'error' | 'startedAt' | 'finishedAt'>>;
export type StepRunPatch = Partial<Pick<StepRunRecord, 'status' | 'attempt' | 'startedAt' | 'finishedAt' | 'error' | 'description' | 'output' | 'exitCode' | 'skippedReason'>>;

/** A step record as a run is created or a loop iteration starts (PENDING). */
export type NewStepRun = Pick<StepRunRecord, 'name' | 'type' | 'typeName' | 'description'> & Partial<Pick<StepRunRecord, 'loop' | 'iteration'>>;

/** A run moved onto another version of its workflow. */
export interface DefinitionPin {
  workflowVersion: string;
  definition: WorkflowDefinition;
  definitionHash: string;
  models: StepModel[];
}

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

/** A request to the instance executing a run, kept on the run until that instance acts on it (the backstop of Redis). */
export type ControlRequest = 'STOP' | 'PAUSE' | 'RESUME';

/** What a lease renewal found: runs this instance lost, and control requests waiting on the ones it keeps. */
export interface LeaseRenewal {
  lost: number[];
  requests: Array<{ runId: number; request: ControlRequest }>;
}

/**
 * Leases, for several instances on one database (PostgreSQL). Glossary: a *lease* is a claimed
 * run's owner (instance id) and expiry; its *fencing token* grows at every claim, and every write
 * the owner makes for the run (events, step records, status) is refused once the token in the
 * database is no longer the one it claimed with. The store keeps the tokens of the runs it claimed.
 */
export interface LeaseStore {
  /** Seconds a lease lasts without renewal. */
  readonly leaseSeconds: number;
  /** Extends the leases of every run this instance executes; says which it lost and what is asked of the rest. */
  renewLeases(): Promise<LeaseRenewal>;
  /** Takes the runs whose lease expired (their instance died or hung) for crash recovery; returns their ids. */
  takeExpiredLeases(): Promise<number[]>;
  /** The execution of a run ended here: forget its token; a run still RUNNING (cut off) is left with an expired lease, so another instance takes it at once. */
  releaseLease(runId: number): Promise<void>;
  /** Leaves a request for the instance executing the run (read at its next renewal); cleared when a run is claimed. */
  requestControl(runId: number, request: ControlRequest | null): Promise<void>;
  /** The request left on the run, if any. */
  controlRequestOf(runId: number): Promise<ControlRequest | null>;
  /** Clears the run's request if it is still `request` (the executing instance acted on it). */
  acknowledgeControl(runId: number, request: ControlRequest): Promise<void>;
  /** Marks QUEUED runs that no live instance's labels can take, and unmarks the rest (placement). */
  notePlacement(): Promise<void>;
  /** Records that this instance is alive with these labels (for placement notes). */
  heartbeatInstance(): Promise<void>;
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
  /** Appends PENDING records (a loop iteration's steps) after the run's last one; returns them. */
  appendStepRuns(runId: number, steps: NewStepRun[]): Promise<StepRunRecord[]>;
  /** Replaces the run's step records (numbered from 0 in this order), optionally pinning another definition. */
  replaceStepRuns(runId: number, records: Array<Omit<StepRunRecord, 'runId' | 'index'>>, pin?: DefinitionPin): Promise<void>;
  /** Forgets the artifact records of these steps of a run (their files stay). */
  deleteArtifacts(runId: number, stepNames: string[]): Promise<void>;
  createArtifact(artifact: { runId: number; stepName: string | null; kind: ArtifactKind; path: string; sizeBytes: number }): Promise<ArtifactRecord>;
  /** Events with `seq > after`, in order, at most `first`; only those of one step when `stepName` is given. */
  listEvents(runId: number, after: number, first: number, stepName?: string): Promise<EventRecord[]>;
  /** The run's event with the highest `seq`, or null. */
  lastEvent(runId: number): Promise<EventRecord | null>;
  /** Present with several instances on one database (PostgreSQL); absent on SQLite, where one server owns every run. */
  readonly leases?: LeaseStore;
}
