import type { Config } from './config.js';
import type { SqlStore } from './db/store.js';
import type { EventLog } from './engine/event-log.js';
import type { PubSub } from './engine/pubsub.js';
import type { Logger } from './engine/runner.js';
import type { Worker } from './engine/worker.js';
import type { StepKinds } from './engine/steps/registry.js';
import type { LoadProblem, WorkflowRegistry } from './engine/workflows/registry.js';
import type { ArtifactLinks } from './http/download-links.js';

/** Everything a GraphQL resolver may use: built once by the app, shared by every request. */
export interface Services {
  config: Config;
  store: SqlStore;
  eventLog: EventLog;
  pubsub: PubSub;
  worker: Worker;
  workflows: WorkflowRegistry;
  /** Built-in and custom step types. */
  kinds: StepKinds;
  /** Custom step type modules that failed to load at start. */
  stepTypeProblems: readonly LoadProblem[];
  logger: Logger;
  /** Signs and checks artifact download links. */
  artifactLinks: ArtifactLinks;
}

export interface Context {
  services: Services;
}
