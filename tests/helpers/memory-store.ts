/**
 * A RunStore in memory, for testing the engine (run control, the runner) without a database: the
 * same contract as SqlStore (src/db/store.ts) on plain arrays. Records handed out are copies, so a
 * test sees only what was written through the store.
 */
import type { DefinitionPin, NewStepRun, RunPatch, RunStore, StepRunPatch } from '../../src/engine/store.js';
import type {
  AgentMessage,
  ArtifactKind,
  ArtifactRecord,
  DirectiveRecord,
  EventRecord,
  ProjectRecord,
  RunRecord,
  RunStatus,
  StepRunRecord,
  WorkflowDefinition,
} from '../../src/engine/types.js';

const copy = <T>(value: T): T => structuredClone(value);

export class MemoryStore implements RunStore {
  readonly projects: ProjectRecord[] = [];
  readonly runs: RunRecord[] = [];
  readonly steps: StepRunRecord[] = [];
  readonly events: EventRecord[] = [];
  readonly artifacts: ArtifactRecord[] = [];
  private readonly conversations = new Map<string, AgentMessage[]>();
  private readonly directives: DirectiveRecord[] = [];

  addProject(name: string, localPath: string): ProjectRecord {
    const project = { id: this.projects.length + 1, name, localPath, createdAt: new Date(), requiredLabels: [] };
    this.projects.push(project);
    return project;
  }

  /** A QUEUED run of `definition` with its PENDING step records, as createRun stores it. */
  addRun(projectId: number, definition: WorkflowDefinition, inputs: RunRecord['inputs'] = {}): RunRecord {
    const run: RunRecord = {
      id: this.runs.length + 1,
      projectId,
      name: null,
      goal: 'test',
      runType: 'WORKFLOW',
      status: 'QUEUED',
      workflowName: definition.name,
      workflowVersion: definition.version,
      definition,
      definitionHash: 'hash',
      inputs,
      options: {},
      models: [],
      timeoutSeconds: 60,
      error: null,
      createdAt: new Date(),
      startedAt: null,
      finishedAt: null,
      requiredLabels: [],
      placement: null,
    };
    this.runs.push(run);
    definition.steps.forEach((step, index) => this.steps.push(this.newStep(run.id, index, { name: step.name, type: step.type, typeName: step.type, description: step.description })));
    return copy(run);
  }

  private newStep(runId: number, index: number, step: NewStepRun): StepRunRecord {
    return {
      runId,
      index,
      name: step.name,
      type: step.type,
      typeName: step.typeName,
      description: step.description,
      loop: step.loop ?? null,
      iteration: step.iteration ?? null,
      status: 'PENDING',
      attempt: 0,
      startedAt: null,
      finishedAt: null,
      error: null,
      output: null,
      exitCode: null,
      skippedReason: null,
    };
  }

  async getProject(id: number) {
    return copy(this.projects.find((p) => p.id === id) ?? null);
  }

  async getRun(id: number) {
    return copy(this.runs.find((r) => r.id === id) ?? null);
  }

  async transitionRun(id: number, from: RunStatus, patch: RunPatch & { status: RunStatus }) {
    const run = this.runs.find((r) => r.id === id && r.status === from);
    if (!run) return null;
    Object.assign(run, Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)));
    return copy(run);
  }

  async claimQueuedRuns(limit: number, startedAt: Date) {
    const claimed = this.runs.filter((r) => r.status === 'QUEUED').slice(0, limit);
    for (const run of claimed) Object.assign(run, { status: 'RUNNING', startedAt });
    return copy(claimed);
  }

  async runIdsWithStatus(status: RunStatus, limit: number) {
    return this.runs.filter((r) => r.status === status).slice(0, limit).map((r) => r.id);
  }

  async countRuns(status: RunStatus) {
    return this.runs.filter((r) => r.status === status).length;
  }

  async listStepRuns(runId: number) {
    return copy(this.steps.filter((s) => s.runId === runId).sort((a, b) => a.index - b.index));
  }

  async updateStepRun(runId: number, index: number, patch: StepRunPatch) {
    const step = this.steps.find((s) => s.runId === runId && s.index === index);
    if (step) Object.assign(step, Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)));
  }

  async appendStepRuns(runId: number, steps: NewStepRun[]) {
    const first = Math.max(-1, ...this.steps.filter((s) => s.runId === runId).map((s) => s.index)) + 1;
    const added = steps.map((step, offset) => this.newStep(runId, first + offset, step));
    this.steps.push(...added);
    return copy(added);
  }

  async replaceStepRuns(runId: number, records: Array<Omit<StepRunRecord, 'runId' | 'index'>>, pin?: DefinitionPin) {
    if (pin) {
      const run = this.runs.find((r) => r.id === runId)!;
      Object.assign(run, { workflowVersion: pin.workflowVersion, definition: pin.definition, definitionHash: pin.definitionHash, models: pin.models });
    }
    for (let i = this.steps.length - 1; i >= 0; i--) if (this.steps[i]!.runId === runId) this.steps.splice(i, 1);
    records.forEach((record, index) => this.steps.push({ ...copy(record), runId, index }));
  }

  async deleteArtifacts(runId: number, stepNames: string[]) {
    for (let i = this.artifacts.length - 1; i >= 0; i--) {
      const artifact = this.artifacts[i]!;
      if (artifact.runId === runId && artifact.stepName !== null && stepNames.includes(artifact.stepName)) this.artifacts.splice(i, 1);
    }
  }

  async createArtifact(artifact: { runId: number; stepName: string | null; kind: ArtifactKind; path: string; sizeBytes: number }) {
    const record = { ...artifact, id: this.artifacts.length + 1, createdAt: new Date() };
    this.artifacts.push(record);
    return copy(record);
  }

  async listEvents(runId: number, after: number, first: number, stepName?: string) {
    return copy(this.events.filter((e) => e.runId === runId && e.seq > after && (stepName === undefined || e.stepName === stepName)).slice(0, first));
  }

  async lastEvent(runId: number) {
    return copy(this.events.filter((e) => e.runId === runId).at(-1) ?? null);
  }

  async maxSeqs(runIds: number[]) {
    const seqs = new Map<number, number>();
    for (const event of this.events) if (runIds.includes(event.runId)) seqs.set(event.runId, Math.max(seqs.get(event.runId) ?? 0, event.seq));
    return seqs;
  }

  async insertEvents(rows: Array<Omit<EventRecord, 'id'>>) {
    const records = rows as EventRecord[];
    for (const record of records) {
      if (this.events.some((e) => e.runId === record.runId && e.seq === record.seq)) throw new Error(`UNIQUE(run_id, seq): ${record.runId}/${record.seq}`);
      record.id = this.events.length + 1;
      this.events.push(record);
    }
    return records;
  }

  async loadConversation(runId: number, stepName: string) {
    return copy(this.conversations.get(`${runId}/${stepName}`) ?? []);
  }

  async appendConversation(runId: number, stepName: string, message: AgentMessage) {
    const key = `${runId}/${stepName}`;
    this.conversations.set(key, [...(this.conversations.get(key) ?? []), copy(message)]);
  }

  async clearConversations(runId: number, stepNames: string[]) {
    for (const name of stepNames) this.conversations.delete(`${runId}/${name}`);
  }

  async addDirective(runId: number, text: string) {
    const record = { id: this.directives.length + 1, runId, text, createdAt: new Date(), deliveredAt: null, stepName: null };
    this.directives.push(record);
    return copy(record);
  }

  async takeDirectives(runId: number, stepName: string, deliveredAt: Date) {
    const waiting = this.directives.filter((d) => d.runId === runId && d.deliveredAt === null);
    for (const directive of waiting) Object.assign(directive, { deliveredAt, stepName });
    return copy(waiting);
  }

  async listDirectives(runId: number) {
    return copy(this.directives.filter((d) => d.runId === runId));
  }
}
