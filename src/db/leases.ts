import type { Knex } from '@mikro-orm/knex';
import type { ControlRequest, LeaseRenewal, LeaseStore } from '../engine/store.js';
import { LeaseLostError, type RunRecord } from '../engine/types.js';
// A cycle (the store builds this class), safe: runFromRow is only called once both modules have loaded.
import { runFromRow } from './store.js';

/** The database's clock in milliseconds since the epoch: every lease is measured on this one clock, whatever the instances' clocks say. */
const NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/** An instance not seen for this many lease lengths is not counted as live (placement notes). */
const INSTANCE_LIVE_LEASES = 2;

/**
 * Leases on PostgreSQL (see LeaseStore): claims with `FOR UPDATE SKIP LOCKED`, renewals by the
 * executing instance's heartbeat, takeovers of expired leases for crash recovery, and placement.
 * `fences` holds the fencing token of every run this instance claimed and still executes; the
 * store's writes for those runs check it.
 */
export class PostgresLeases implements LeaseStore {
  /** Run id → the fencing token this instance claimed it with. */
  readonly fences = new Map<number, number>();
  private readonly leaseMs: number;

  constructor(
    private readonly knex: () => Knex,
    readonly instanceId: string,
    readonly labels: readonly string[],
    readonly leaseSeconds: number,
  ) {
    this.leaseMs = leaseSeconds * 1000;
  }

  /**
   * Claims up to `limit` queued runs, oldest first, whose required labels (the run's and its
   * project's) this instance has: one statement, `FOR UPDATE SKIP LOCKED`, so instances racing for
   * the queue each get different runs and never wait for each other. Each claim gives the run a new
   * fencing token and a lease of LEASE_SECONDS. A run is claimable once its first event (RUN_QUEUED)
   * is stored, so that event is always its first, whichever instance executes it.
   */
  async claim(limit: number, startedAt: Date): Promise<RunRecord[]> {
    const { rows } = (await this.knex().raw(
      `with picked as (
         select r.id from runs r join projects p on p.id = r.project_id
         where r.status = 'QUEUED' and r.last_seq > 0 and (r.required_labels || p.required_labels) <@ ?::jsonb
         order by r.id limit ? for update of r skip locked)
       update runs set status = 'RUNNING', started_at = ?, lease_owner = ?, lease_token = runs.lease_token + 1,
         lease_expires_at = ${NOW_MS} + ?, control_request = null, placement_note = null
       from picked where runs.id = picked.id
       returning runs.*`,
      [JSON.stringify(this.labels), limit, startedAt.getTime(), this.instanceId, this.leaseMs],
    )) as { rows: Array<Record<string, unknown> & { id: number; lease_token: number }> };
    rows.sort((a, b) => a.id - b.id);
    for (const row of rows) this.fences.set(row.id, row.lease_token);
    return rows.map((row) => runFromRow(row as unknown as Parameters<typeof runFromRow>[0]));
  }

  async renewLeases(): Promise<LeaseRenewal> {
    if (this.fences.size === 0) return { lost: [], requests: [] };
    const ids = [...this.fences.keys()];
    const tokens = ids.map((id) => this.fences.get(id)!);
    const { rows } = (await this.knex().raw(
      `update runs set lease_expires_at = ${NOW_MS} + ?
       from (select unnest(?::int[]) as id, unnest(?::bigint[]) as token) held
       where runs.id = held.id and runs.lease_token = held.token
       returning runs.id, runs.control_request`,
      [this.leaseMs, ids, tokens],
    )) as { rows: Array<{ id: number; control_request: ControlRequest | null }> };
    const kept = new Set(rows.map((r) => r.id));
    return {
      // A run released meanwhile is not lost: it simply is not ours any more.
      lost: ids.filter((id) => !kept.has(id) && this.fences.has(id)),
      requests: rows.filter((r) => r.control_request !== null).map((r) => ({ runId: r.id, request: r.control_request! })),
    };
  }

  async takeExpiredLeases(): Promise<number[]> {
    const { rows } = (await this.knex().raw(
      `update runs set lease_owner = ?, lease_token = lease_token + 1, lease_expires_at = ${NOW_MS} + ?
       where id in (select id from runs where status = 'RUNNING' and coalesce(lease_expires_at, 0) < ${NOW_MS}
                    order by id limit 100 for update skip locked)
       returning id`,
      [this.instanceId, this.leaseMs],
    )) as { rows: Array<{ id: number }> };
    return rows.map((r) => r.id).sort((a, b) => a - b);
  }

  /** Forgets the token before its first await (the caller may claim the run again at once); then tells the database. */
  async releaseLease(runId: number): Promise<void> {
    const token = this.fences.get(runId);
    if (token === undefined) return;
    this.fences.delete(runId);
    // Cut off while RUNNING (a shutdown): expired at once, so another instance continues it now.
    await this.knex().raw(
      `update runs set lease_owner = null, lease_expires_at = case when status = 'RUNNING' then 0 else null end where id = ? and lease_token = ?`,
      [runId, token],
    );
  }

  /** Throws LeaseLostError when the run's token is no longer the one this instance claimed it with. */
  async assertHeld(runId: number): Promise<void> {
    const token = this.fences.get(runId);
    if (token === undefined) return;
    const row = (await this.knex()('runs').where('id', runId).first('lease_token')) as { lease_token: number } | undefined;
    if (!row || row.lease_token !== token) throw new LeaseLostError(runId);
  }

  async requestControl(runId: number, request: ControlRequest | null): Promise<void> {
    await this.knex()('runs').where('id', runId).update({ control_request: request });
  }

  async controlRequestOf(runId: number): Promise<ControlRequest | null> {
    const row = (await this.knex()('runs').where('id', runId).first('control_request')) as { control_request: ControlRequest | null } | undefined;
    return row?.control_request ?? null;
  }

  async acknowledgeControl(runId: number, request: ControlRequest): Promise<void> {
    await this.knex()('runs').where({ id: runId, control_request: request }).update({ control_request: null });
  }

  async heartbeatInstance(): Promise<void> {
    await this.knex().raw(
      `insert into instances (id, labels, seen_at) values (?, ?::jsonb, ${NOW_MS})
       on conflict (id) do update set labels = excluded.labels, seen_at = excluded.seen_at`,
      [this.instanceId, JSON.stringify(this.labels)],
    );
  }

  async notePlacement(): Promise<void> {
    // A queued run no live instance can take: name what it requires and what the live instances offer,
    // in a fixed order, so every instance writes the same note (and rewrites it only when it changes).
    await this.knex().raw(
      `with live as (select id, labels from instances where seen_at > ${NOW_MS} - ?),
       offered as (select coalesce(string_agg(id || ' [' || (select coalesce(string_agg(l, ', ' order by l), '') from jsonb_array_elements_text(labels) l) || ']', '; ' order by id), 'none') as text from live),
       waiting as (select r.id, r.required_labels || p.required_labels as required from runs r join projects p on p.id = r.project_id where r.status = 'QUEUED'),
       notes as (
         select waiting.id, case when exists (select 1 from live where waiting.required <@ live.labels) then null
           else 'No live instance has every label this run requires (' ||
             (select string_agg(distinct l, ', ') from jsonb_array_elements_text(waiting.required) l) ||
             '); live instances: ' || (select text from offered) ||
             '. Start an instance whose WORKER_LABELS include them, or change the labels the project and the run require.'
           end as note
         from waiting)
       update runs set placement_note = notes.note from notes where runs.id = notes.id and runs.placement_note is distinct from notes.note`,
      [this.leaseMs * INSTANCE_LIVE_LEASES],
    );
  }

  /** Forgets this instance in the live list (a clean shutdown). */
  async leave(): Promise<void> {
    await this.knex()('instances').where('id', this.instanceId).delete();
  }
}
