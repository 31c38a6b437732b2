import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/sqlite';
import { initORM } from '../../src/db/orm.js';
import { SqlStore } from '../../src/db/store.js';
import type { EventRecord } from '../../src/engine/types.js';
import { makeTempDir } from '../helpers/test-app.js';

const row = (runId: number, seq: number): Omit<EventRecord, 'id'> => ({
  runId,
  seq,
  type: 'SHELL_OUTPUT',
  message: `line ${seq}`,
  stepName: 'build',
  data: { stream: 'stdout', text: `line ${seq}\n` },
  createdAt: new Date(1_700_000_000_000 + seq),
});

describe('SqlStore.insertEvents (the event log group commit)', () => {
  let orm: MikroORM | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await orm?.close(true);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function openStore(): Promise<SqlStore> {
    dir = makeTempDir();
    orm = await initORM(join(dir, 'db.sqlite'));
    return new SqlStore(orm);
  }

  it('stores a batch larger than one INSERT statement, in order, with each row given its own id', async () => {
    const store = await openStore();
    const rows = Array.from({ length: 4321 }, (_, i) => row(i % 2 === 0 ? 1 : 2, Math.floor(i / 2) + 1));
    const stored = await store.insertEvents(rows);
    expect(stored.map((e) => [e.runId, e.seq])).toEqual(rows.map((r) => [r.runId, r.seq]));
    expect(new Set(stored.map((e) => e.id)).size).toBe(rows.length);
    const back = await store.listEvents(1, 0, 10_000);
    expect(back).toHaveLength(2161);
    expect(back[10]).toMatchObject({ seq: 11, message: 'line 11', data: { stream: 'stdout', text: 'line 11\n' }, id: stored[20].id });
  });

  it('stores every kind of value exactly: quotes, newlines, unicode, nested data, nulls, large numbers', async () => {
    const store = await openStore();
    const awkward = {
      runId: 7,
      seq: 1,
      type: 'LLM_TOKEN' as const,
      message: 'say "hi"\n\t\\ — ünïcödé 🦔 \u0000 end',
      stepName: null,
      data: { nested: { list: [1, 2.5, -3, null, true, 'x"y'], empty: {} }, big: 9_007_199_254_740_991, text: '{"not":"parsed"}' },
      createdAt: new Date(1_795_000_000_123),
    };
    const plain = { ...awkward, seq: 2, message: 'say "hi"\n\t\\ — ünïcödé 🦔 end', stepName: 'step "one"', data: null };
    const expected = [structuredClone(awkward), structuredClone(plain)];
    // With a NUL in the batch, and without.
    await store.insertEvents([awkward]);
    await store.insertEvents([plain]);
    const back = await store.listEvents(7, 0, 10);
    expect(back.map(({ id: _, ...rest }) => rest)).toEqual(expected);
  });

  it('stores the text of a streamed delta once (as its message) and gives back both message and data.text', async () => {
    const store = await openStore();
    const delta = (seq: number, type: 'LLM_TOKEN' | 'SHELL_OUTPUT', data: Record<string, unknown>, message = 'the same text 🦔\n') => ({
      runId: 3,
      seq,
      type,
      message,
      stepName: 's',
      data,
      createdAt: new Date(1_795_000_000_000 + seq),
    });
    const rows = [
      delta(1, 'LLM_TOKEN', { text: 'the same text 🦔\n' }),
      delta(2, 'SHELL_OUTPUT', { stream: 'stderr', text: 'the same text 🦔\n' }),
      // A text that differs from the message is kept as it is.
      delta(3, 'SHELL_OUTPUT', { stream: 'stdout', text: 'other' }),
      delta(4, 'SHELL_OUTPUT', { stream: 'stdout', text: 'held back note', heldBack: true }, 'held back note'),
    ];
    await store.insertEvents(rows.map((r) => structuredClone(r)));
    const back = await store.listEvents(3, 0, 10);
    expect(back.map(({ id: _, ...rest }) => rest)).toEqual(rows);
    const stored = (await orm!.em.getConnection().execute('select seq, message, data from events where run_id = 3 order by seq')) as Array<{ seq: number; message: string; data: string | null }>;
    expect(stored.map((r) => [r.seq, r.data])).toEqual([
      [1, '{}'],
      [2, '{"stream":"stderr"}'],
      [3, '{"stream":"stdout","text":"other"}'],
      [4, '{"stream":"stdout","heldBack":true}'],
    ]);
  });

  it('stores nothing of a batch when one of its rows is refused (a half-written batch never remains)', async () => {
    const store = await openStore();
    await store.insertEvents([row(1, 1)]);
    // One INSERT statement (700 rows), then several in one transaction (2500 rows: the duplicate
    // seq 1 sits in the second statement, after 2000 good rows).
    for (const good of [600, 2400]) {
      const rows = [...Array.from({ length: good }, (_, i) => row(1, i + 2)), row(1, 1), ...Array.from({ length: 99 }, (_, i) => row(1, i + good + 2))];
      await expect(store.insertEvents(rows)).rejects.toThrow(/UNIQUE/);
      expect((await store.listEvents(1, 0, 10_000)).map((e) => e.seq)).toEqual([1]);
    }
    // The connection is usable afterwards: the next batch goes through.
    await store.insertEvents([row(1, 2)]);
    expect((await store.listEvents(1, 0, 10_000)).map((e) => e.seq)).toEqual([1, 2]);
  });
});
