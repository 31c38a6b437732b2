import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261126031812 } from './Migration20261126031812.js';

/** Every committed migration, oldest first. Generated files are never edited after they land. */
export const migrationsList: MigrationObject[] = [{ name: 'Migration20261126031812', class: Migration20261126031812 }];
