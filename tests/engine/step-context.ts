import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EventDataArgument } from '../../src/engine/events.js';
import { createCommandLauncher } from '../../src/engine/sandbox.js';
import { Workspace } from '../../src/engine/workspace.js';
import { expressionValues, renderStep } from '../../src/engine/run-plan.js';
import { BUILT_IN_STEP_KINDS } from '../../src/engine/steps/registry.js';
import type { AgentMessage, AgentSettings, ArtifactKind, ArtifactRecord, EventType, ResolvedStep, StepContext, StepOfType, StepSettings } from '../../src/engine/types.js';

export interface RecordedEvent {
  type: EventType;
  message: string;
  data?: Record<string, unknown>;
}

export type BuiltInType = keyof typeof BUILT_IN_STEP_KINDS;

export interface TestStepContext<T extends BuiltInType = BuiltInType> {
  ctx: StepContext<StepOfType<T>>;
  events: RecordedEvent[];
  artifacts: Array<{ path: string; kind: ArtifactKind; sizeBytes: number }>;
  /** Aborts the step's signal with `reason` (a StepTimeoutError or RunStoppedError, as the runner does). */
  abort(reason: unknown): void;
  eventsOfType(type: EventType): RecordedEvent[];
  /** What the step's memory holds (an agent's conversation). */
  conversation: AgentMessage[];
  /** Directives waiting for the step: push text to send one. */
  directives: string[];
}

export const testSettings: StepSettings = {
  ollamaBaseUrl: 'http://127.0.0.1:1',
  heartbeatMs: 50,
  coalesceMs: 10,
  coalesceBytes: 4096,
  outputCapBytes: 1024 * 1024,
  killGraceMs: 500,
  // Unsandboxed, in a process group: `$$` is the group's id, as these tests expect (tests/engine/command-processes.test.ts covers the other modes).
  commands: await createCommandLauncher({ setting: 'off', pidNamespace: false, databasePath: ':memory:', homeFolders: [], mavenDir: path.join(tmpdir(), 'unused-m2'), hiddenPaths: [] }),
};

export interface TestStepOptions<T extends BuiltInType = BuiltInType> {
  root: string;
  /** The step; its templates are rendered against `goal`, `outputs` and `inputs` as the runner does. */
  step: Partial<StepOfType<T>> & { type: T; timeoutMs?: number; agent?: AgentSettings };
  inputs?: Record<string, string | number | boolean>;
  goal?: string;
  outputs?: Record<string, string>;
  settings?: Partial<StepSettings>;
  /** The run id commands are marked with (1). */
  runId?: number;
  /** What `checkpoint()` answers (default: continue). */
  checkpoint?: () => 'continue' | 'pause' | 'shutdown';
  /** The conversation the step's memory starts with. */
  conversation?: AgentMessage[];
}

/** A StepContext over a real workspace folder that records events and artifacts in arrays. */
export function createTestStepContext<T extends BuiltInType>(options: TestStepOptions<T>): TestStepContext<T> {
  const events: RecordedEvent[] = [];
  const artifacts: TestStepContext['artifacts'] = [];
  const controller = new AbortController();
  const conversation: AgentMessage[] = [...(options.conversation ?? [])];
  const directives: string[] = [];
  const workspace = new Workspace(options.root);
  const written = { name: 'step', description: 'a test step', saveArtifact: false, timeoutMs: 60_000, ...options.step } as ResolvedStep;
  const steps = Object.fromEntries(Object.entries(options.outputs ?? {}).map(([name, output]) => [name, { output, outcome: 'success' as const, conclusion: 'success' as const, exitCode: null }]));
  const values = expressionValues({ id: 1, name: null, goal: options.goal ?? 'Build a thing', inputs: options.inputs ?? {} }, { name: 'test', version: '1' }, { name: 'test', localPath: options.root }, steps);
  const rendered = renderStep(written, BUILT_IN_STEP_KINDS[options.step.type] as never, values);
  const step = rendered.step as ResolvedStep<StepOfType<T>>;
  const emit = <E extends EventType>(type: E, message: string, data?: EventDataArgument<E>): void => {
    events.push({ type, message, data: data as Record<string, unknown> | undefined });
  };
  const ctx: StepContext<StepOfType<T>> = {
    runId: options.runId ?? 1,
    goal: options.goal ?? 'Build a thing',
    step,
    env: rendered.env,
    workspace,
    outputs: new Map(Object.entries(options.outputs ?? {})),
    settings: { ...testSettings, ...options.settings },
    emit,
    log: (message, data) => emit('STEP_LOG', message, data),
    async recordArtifact(relativePath: string, kind: ArtifactKind): Promise<ArtifactRecord> {
      const { size } = await stat(await workspace.resolve(relativePath));
      artifacts.push({ path: relativePath, kind, sizeBytes: size });
      emit('ARTIFACT_CREATED', `Created ${relativePath}`, { artifactId: String(artifacts.length), path: relativePath, kind, sizeBytes: size });
      return { id: artifacts.length, runId: 1, stepName: written.name, kind, path: relativePath, sizeBytes: size, createdAt: new Date() };
    },
    signal: controller.signal,
    checkpoint: () => options.checkpoint?.() ?? 'continue',
    memory: {
      load: async () => [...conversation],
      append: async (message) => void conversation.push(message),
      takeDirectives: async () => directives.splice(0).map((text, i) => ({ id: i + 1, runId: 1, text, createdAt: new Date(), deliveredAt: new Date(), stepName: written.name })),
    },
  };
  return {
    conversation,
    directives,
    ctx,
    events,
    artifacts,
    abort: (reason) => controller.abort(reason),
    eventsOfType: (type) => events.filter((event) => event.type === type),
  };
}

/** A fresh temporary folder; `remove()` deletes it. */
export async function makeTempFolder(prefix = 'engine-'): Promise<{ path: string; remove(): Promise<void> }> {
  const folder = await mkdtemp(path.join(tmpdir(), prefix));
  return { path: folder, remove: () => rm(folder, { recursive: true, force: true }) };
}
