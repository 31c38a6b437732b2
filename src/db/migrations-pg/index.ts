import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261201050000 } from './Migration20261201050000.js';

/** Every committed PostgreSQL migration, oldest first (the SQLite ones are in ../migrations). Never edited after they land. */
export const postgresMigrationsList: MigrationObject[] = [
  // The schema of SQLite's migrations up to flow control, plus leases, last_seq and placement labels (issue 15).
  { name: 'Migration20261201050000', class: Migration20261201050000 },
];
