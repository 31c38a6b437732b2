import { Migration } from '@mikro-orm/migrations';

/**
 * The whole schema on PostgreSQL, as the SQLite migrations leave it, plus what several instances
 * need: a run's lease (owner, expiry, fencing token), its event counter (`last_seq`), a control
 * request left for its executing instance, placement labels, and the live instances. Times are milliseconds since the epoch (bigint), JSON columns are jsonb.
 */
export class Migration20261201050000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "projects" ("id" serial primary key, "name" text not null, "local_path" text not null, "created_at" bigint not null, "required_labels" jsonb not null default '[]');`);
    this.addSql(`create unique index "projects_name_unique" on "projects" ("name");`);
    this.addSql(
      `create table "runs" ("id" serial primary key, "project_id" integer not null, "name" text null, "goal" text not null, "run_type" text not null, "status" text not null, ` +
        `"workflow_name" text null, "workflow_version" text null, "definition" jsonb null, "definition_hash" text null, "inputs" jsonb not null default '{}', "options" jsonb not null, "models" jsonb not null, ` +
        `"timeout_seconds" integer null, "error" text null, "created_at" bigint not null, "started_at" bigint null, "finished_at" bigint null, ` +
        `"required_labels" jsonb not null default '[]', "last_seq" integer not null default 0, "lease_owner" text null, "lease_expires_at" bigint null, "lease_token" bigint not null default 0, "control_request" text null, "placement_note" text null);`,
    );
    this.addSql(`create index "runs_project_id_id_index" on "runs" ("project_id", "id");`);
    this.addSql(`create index "runs_status_id_index" on "runs" ("status", "id");`);
    this.addSql(`create index "runs_running_lease_index" on "runs" ("lease_expires_at") where "status" = 'RUNNING';`);
    this.addSql(
      `create table "events" ("id" bigserial primary key, "run_id" integer not null, "seq" integer not null, "type" text not null, "message" text not null, "step_name" text null, "data" text null, "created_at" bigint not null);`,
    );
    this.addSql(`create unique index "events_run_id_seq_unique" on "events" ("run_id", "seq");`);
    this.addSql(
      `create table "step_runs" ("id" serial primary key, "run_id" integer not null, "step_index" integer not null, "name" text not null, "type" text not null, "type_name" text not null default '', ` +
        `"status" text not null, "description" text not null, "attempt" integer not null, "started_at" bigint null, "finished_at" bigint null, "error" text null, "output" text null, ` +
        `"exit_code" integer null, "loop_name" text null, "iteration" integer null, "skipped_reason" text null);`,
    );
    this.addSql(`create unique index "step_runs_run_id_step_index_unique" on "step_runs" ("run_id", "step_index");`);
    this.addSql(
      `create table "artifacts" ("id" serial primary key, "run_id" integer not null, "step_name" text null, "kind" text not null, "path" text not null, "size_bytes" bigint not null, "created_at" bigint not null);`,
    );
    this.addSql(`create index "artifacts_run_id_index" on "artifacts" ("run_id");`);
    this.addSql(
      `create table "workflow_versions" ("id" serial primary key, "name" text not null, "version" text not null, "source" text not null, "definition" jsonb not null, "content_hash" text not null, "origin" text not null, "origin_path" text null, "registered_at" bigint not null);`,
    );
    this.addSql(`create unique index "workflow_versions_name_version_unique" on "workflow_versions" ("name", "version");`);
    this.addSql(
      `create table "agent_messages" ("id" serial primary key, "run_id" integer not null, "step_name" text not null, "position" integer not null, "role" text not null, "content" text not null, "data" text null, "created_at" bigint not null);`,
    );
    this.addSql(`create unique index "agent_messages_run_id_step_name_position_unique" on "agent_messages" ("run_id", "step_name", "position");`);
    this.addSql(`create table "agent_directives" ("id" serial primary key, "run_id" integer not null, "text" text not null, "created_at" bigint not null, "delivered_at" bigint null, "step_name" text null);`);
    this.addSql(`create index "agent_directives_run_id_id_index" on "agent_directives" ("run_id", "id");`);
    // The instances alive on this database and their labels: a queued run none of them can take says so.
    this.addSql(`create table "instances" ("id" text primary key, "labels" jsonb not null default '[]', "seen_at" bigint not null);`);
  }
}
