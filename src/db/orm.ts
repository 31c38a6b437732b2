import { MikroORM } from '@mikro-orm/sqlite';
import { ormOptions, type DatabaseOptions } from './mikro-orm.config.js';

/**
 * The only caller of `MikroORM.init`. Opens (creating its folder if needed) the SQLite file and
 * applies the committed migrations, so a fresh file and an old one end on the same schema.
 */
export async function initORM(databasePath: string, log?: (message: string) => void, options: DatabaseOptions = {}): Promise<MikroORM> {
  const orm = await MikroORM.init(ormOptions(databasePath, options));
  const applied = await orm.getMigrator().up();
  if (applied.length > 0 && log) log(`database ${databasePath}: applied ${applied.map((m) => m.name).join(', ')}`);
  return orm;
}
