/**
 * WalCheckpointer copies the write-ahead log into the database file from its own connection, so the
 * connection that writes events does not stall on checkpoints. Here the writing connection's own
 * checkpoints are turned off: whatever reaches the database file got there through the checkpointer.
 */
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/sqlite';
import { WalCheckpointer } from '../../src/db/checkpointer.js';
import { initORM } from '../../src/db/orm.js';
import { SqlStore } from '../../src/db/store.js';
import { makeTempDir, waitFor } from '../helpers/test-app.js';

describe('WalCheckpointer', () => {
  let orm: MikroORM | undefined;
  let checkpointer: WalCheckpointer | null = null;
  let dir: string | undefined;
  afterEach(async () => {
    await checkpointer?.stop();
    await orm?.close(true);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("moves the log's pages into the database file while the writer never checkpoints", async () => {
    dir = makeTempDir();
    const path = join(dir, 'db.sqlite');
    orm = await initORM(path);
    await orm.em.getKnex().raw('PRAGMA wal_autocheckpoint = 0');
    const store = new SqlStore(orm);
    const before = statSync(path).size;

    checkpointer = await WalCheckpointer.start(path, (error) => {
      throw error;
    });
    const text = 'x'.repeat(400);
    for (let batch = 0; batch < 100; batch++) {
      const rows = Array.from({ length: 50 }, (_, i) => ({
        runId: 1,
        seq: batch * 50 + i + 1,
        type: 'SHELL_OUTPUT' as const,
        message: text,
        stepName: 'build',
        data: { text },
        createdAt: new Date(),
      }));
      await store.insertEvents(rows);
    }
    // 5000 events of ~1 KB: megabytes in the log, copied to the file within a few intervals.
    await waitFor(() => statSync(path).size > before + 2_000_000, { timeoutMs: 5000, what: 'the checkpointer to copy the log' });
    expect((await store.listEvents(1, 4990, 100)).map((e) => e.seq)).toEqual([4991, 4992, 4993, 4994, 4995, 4996, 4997, 4998, 4999, 5000]);
  });

  it('is not started for an in-memory database', async () => {
    expect(await WalCheckpointer.start(':memory:', () => undefined)).toBeNull();
  });
});
