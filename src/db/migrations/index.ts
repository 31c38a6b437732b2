import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261126031812 } from './Migration20261126031812.js';
import { Migration20261126033441 } from './Migration20261126033441.js';
import { Migration20261201013201 } from './Migration20261201013201.js';
import { Migration20261201021938 } from './Migration20261201021938.js';
import { Migration20261201022234 } from './Migration20261201022234.js';
import { Migration20261201060000 } from './Migration20261201060000.js';

/** Every committed migration, oldest first. Generated files are never edited after they land. */
export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261126031812', class: Migration20261126031812 },
  // step_runs.output: a completed step's output survives a restart (resume, retry, crash recovery).
  { name: 'Migration20261126033441', class: Migration20261126033441 },
  // Workflows as data: registered versions (workflow_versions); runs pin their definition, version
  // and inputs; step records keep their type name and (commands) exit code.
  { name: 'Migration20261201013201', class: Migration20261201013201 },
  // agent_messages and agent_directives: an agent's conversation and the directives sent to it (issue 14).
  { name: 'Migration20261201021938', class: Migration20261201021938 },
  // Flow control: step records of loop iterations (their loop and iteration) and why a step was skipped.
  { name: 'Migration20261201022234', class: Migration20261201022234 },
  // Placement (issue 15): labels a project and a run require of the instance that executes it, and why none can.
  { name: 'Migration20261201060000', class: Migration20261201060000 },
];
