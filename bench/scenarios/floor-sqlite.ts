/**
 * Floor: raw SQLite through node-sqlite3 (the driver MikroORM's knex uses here), on a file in a
 * temporary folder, with the `events` table and unique index (run_id, seq) exactly as the
 * migration creates them and the product's pragmas (WAL, synchronous=NORMAL).
 *
 * - one transaction per event: INSERT after INSERT, each awaited (autocommit = one transaction each);
 * - group commit: a producer appends up to `perTurn` events per event-loop turn while fewer than
 *   `window` are uncommitted (the same producer the product's throughput point uses); a writer takes
 *   everything pending and writes it in ONE transaction, one batch at a time, as the event log does.
 *   Two ways to write a batch are measured, a prepared statement run per row and multi-row INSERTs
 *   of 500 rows with RETURNING id (what the product's SqlStore.insertEvents sends); the faster one
 *   is the floor.
 *
 *   node --import tsx bench/scenarios/floor-sqlite.ts '{"groupEvents":30000}'
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import sqlite3 from 'sqlite3';
import { cpuMsSince, emitResult, nowMs, parseArgs, round } from '../lib/stats.js';

const args = parseArgs({ singleEvents: 3000, groupEvents: 30000, window: 2000, perTurn: 500 });

const DDL = [
  'PRAGMA journal_mode = WAL',
  'PRAGMA synchronous = NORMAL',
  'PRAGMA busy_timeout = 5000',
  'PRAGMA foreign_keys = ON',
  'create table `events` (`id` integer not null primary key autoincrement, `run_id` integer not null, `seq` integer not null, `type` text not null, `message` text not null, `step_name` text null, `data` text null, `created_at` integer not null)',
  'create unique index `events_run_id_seq_unique` on `events` (`run_id`, `seq`)',
];

type Row = [number, number, string, string, string | null, string | null, number];
const PAD = 'x'.repeat(96);
const rowFor = (runId: number, seq: number): Row => [runId, seq, 'LLM_TOKEN', 'token', 'coder', JSON.stringify({ t: nowMs(), text: PAD }), Date.now()];

function open(dir: string, name: string): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(join(dir, name), (error) => (error ? reject(error) : resolve(db)));
  });
}
const run = (db: sqlite3.Database | sqlite3.Statement, sql: string | null, params: unknown[] = []) =>
  new Promise<void>((resolve, reject) => {
    const cb = (error: Error | null) => (error ? reject(error) : resolve());
    if (sql === null) (db as sqlite3.Statement).run(params, cb);
    else (db as sqlite3.Database).run(sql, params, cb);
  });
const all = (db: sqlite3.Database, sql: string, params: unknown[]) =>
  new Promise<unknown[]>((resolve, reject) => db.all(sql, params, (error, rows) => (error ? reject(error) : resolve(rows))));
const INSERT = 'insert into `events` (`run_id`, `seq`, `type`, `message`, `step_name`, `data`, `created_at`) values ';
const ONE = '(?, ?, ?, ?, ?, ?, ?)';

async function setup(dir: string, name: string) {
  const db = await open(dir, name);
  for (const sql of DDL) await run(db, sql);
  return db;
}

async function count(db: sqlite3.Database): Promise<{ rows: number; gaps: number }> {
  const [total] = (await all(db, 'select count(*) as rows from events', [])) as Array<{ rows: number }>;
  const perRun = (await all(db, 'select max(seq) - min(seq) + 1 - count(*) as gaps from events group by run_id', [])) as Array<{ gaps: number }>;
  return { rows: total.rows, gaps: perRun.reduce((sum, r) => sum + r.gaps, 0) };
}

async function single(dir: string) {
  const db = await setup(dir, 'single.db');
  const stmt = db.prepare(INSERT + ONE);
  const cpu0 = process.cpuUsage();
  const t0 = nowMs();
  const latencies: number[] = [];
  for (let seq = 1; seq <= args.singleEvents; seq++) {
    const s = nowMs();
    await run(stmt, null, rowFor(1, seq));
    latencies.push(nowMs() - s);
  }
  const ms = nowMs() - t0;
  const cpuMs = cpuMsSince(cpu0);
  stmt.finalize();
  const check = await count(db);
  db.close();
  latencies.sort((a, b) => a - b);
  return {
    events: args.singleEvents,
    ms: round(ms),
    eventsPerSec: round((args.singleEvents / ms) * 1000),
    cpuUsPerEvent: round((cpuMs * 1000) / args.singleEvents),
    commitP50Ms: round(latencies[Math.floor(latencies.length / 2)]),
    commitP99Ms: round(latencies[Math.floor(latencies.length * 0.99)]),
    commitMaxMs: round(latencies[latencies.length - 1]),
    /** Commits over 5 ms: with WAL, every ~1000 pages a commit runs the automatic checkpoint (and its fsyncs). */
    commitsOver5Ms: latencies.filter((l) => l > 5).length,
    stored: check.rows,
  };
}

async function grouped(dir: string, mode: 'prepared' | 'multirow') {
  const db = await setup(dir, `group-${mode}.db`);
  const stmt = db.prepare(INSERT + ONE);
  let pending: Row[] = [];
  let uncommitted = 0;
  let produced = 0;
  const batchSizes: number[] = [];
  let writing = false;
  let wake: (() => void) | null = null;

  const writeBatch = async () => {
    writing = true;
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      batchSizes.push(batch.length);
      await run(db, 'begin');
      if (mode === 'prepared') {
        for (const row of batch) await run(stmt, null, row);
      } else {
        for (let i = 0; i < batch.length; i += 500) {
          const chunk = batch.slice(i, i + 500);
          await all(db, INSERT + chunk.map(() => ONE).join(', ') + ' returning `id`', chunk.flat());
        }
      }
      await run(db, 'commit');
      uncommitted -= batch.length;
      wake?.();
    }
    writing = false;
  };

  const cpu0 = process.cpuUsage();
  const t0 = nowMs();
  while (produced < args.groupEvents) {
    let thisTurn = 0;
    while (uncommitted < args.window && thisTurn < args.perTurn && produced < args.groupEvents) {
      produced++;
      pending.push(rowFor(1 + (produced % 10), Math.ceil(produced / 10)));
      uncommitted++;
      thisTurn++;
    }
    // As the event log: the batch is written from a setImmediate after the appends of this turn.
    if (!writing && pending.length > 0) setImmediate(() => void writeBatch());
    if (thisTurn === 0) await new Promise<void>((resolve) => (wake = resolve));
    else await turn();
    wake = null;
  }
  while (uncommitted > 0) await new Promise<void>((resolve) => (wake = resolve));
  const ms = nowMs() - t0;
  const cpuMs = cpuMsSince(cpu0);
  stmt.finalize();
  const check = await count(db);
  db.close();
  batchSizes.sort((a, b) => a - b);
  return {
    mode,
    events: args.groupEvents,
    ms: round(ms),
    eventsPerSec: round((args.groupEvents / ms) * 1000),
    cpuUsPerEvent: round((cpuMs * 1000) / args.groupEvents),
    transactions: batchSizes.length,
    batchP50: batchSizes[Math.floor(batchSizes.length / 2)],
    stored: check.rows,
    gaps: check.gaps,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'agent-runner-bench-sqlite-'));
try {
  const perEvent = await single(dir);
  const prepared = await grouped(dir, 'prepared');
  const multirow = await grouped(dir, 'multirow');
  const best = prepared.eventsPerSec >= multirow.eventsPerSec ? prepared : multirow;
  emitResult({
    scenario: 'floor-sqlite',
    perEvent,
    group: { best: best.mode, eventsPerSec: best.eventsPerSec, cpuUsPerEvent: best.cpuUsPerEvent, prepared, multirow },
    correctness: { ok: perEvent.stored === args.singleEvents && prepared.stored === args.groupEvents && multirow.stored === args.groupEvents && !prepared.gaps && !multirow.gaps },
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
