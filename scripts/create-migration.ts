/**
 * Generates a migration from the difference between the entities and the migrated schema:
 * `npm run migration:create`. Add the new class to src/db/migrations/index.ts, then commit both.
 */
import { MikroORM } from '@mikro-orm/sqlite';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ormOptions } from '../src/db/mikro-orm.config.js';

const orm = await MikroORM.init(ormOptions(join(mkdtempSync(join(tmpdir(), 'agent-runner-migration-')), 'db.sqlite')));
const migrator = orm.getMigrator();
await migrator.up();
const result = await migrator.createMigration('src/db/migrations', false, false);
console.log(result.fileName ? `Created ${result.fileName}` : 'No changes: the migrations already match the entities.');
await orm.close();
