import { Migration } from '@mikro-orm/migrations';

export class Migration20261126031812 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`artifacts\` (\`id\` integer not null primary key autoincrement, \`run_id\` integer not null, \`step_name\` text null, \`kind\` text not null, \`path\` text not null, \`size_bytes\` integer not null, \`created_at\` integer not null);`);
    this.addSql(`create index \`artifacts_run_id_index\` on \`artifacts\` (\`run_id\`);`);

    this.addSql(`create table \`events\` (\`id\` integer not null primary key autoincrement, \`run_id\` integer not null, \`seq\` integer not null, \`type\` text not null, \`message\` text not null, \`step_name\` text null, \`data\` text null, \`created_at\` integer not null);`);
    this.addSql(`create unique index \`events_run_id_seq_unique\` on \`events\` (\`run_id\`, \`seq\`);`);

    this.addSql(`create table \`projects\` (\`id\` integer not null primary key autoincrement, \`name\` text not null, \`local_path\` text not null, \`created_at\` integer not null);`);
    this.addSql(`create unique index \`projects_name_unique\` on \`projects\` (\`name\`);`);

    this.addSql(`create table \`runs\` (\`id\` integer not null primary key autoincrement, \`project_id\` integer not null, \`name\` text null, \`goal\` text not null, \`run_type\` text not null, \`status\` text not null, \`workflow_name\` text null, \`options\` json not null, \`models\` json not null, \`timeout_seconds\` integer null, \`error\` text null, \`created_at\` integer not null, \`started_at\` integer null, \`finished_at\` integer null);`);
    this.addSql(`create index \`runs_project_id_id_index\` on \`runs\` (\`project_id\`, \`id\`);`);
    this.addSql(`create index \`runs_status_id_index\` on \`runs\` (\`status\`, \`id\`);`);

    this.addSql(`create table \`step_runs\` (\`id\` integer not null primary key autoincrement, \`run_id\` integer not null, \`step_index\` integer not null, \`name\` text not null, \`type\` text not null, \`status\` text not null, \`description\` text not null, \`attempt\` integer not null, \`started_at\` integer null, \`finished_at\` integer null, \`error\` text null);`);
    this.addSql(`create unique index \`step_runs_run_id_step_index_unique\` on \`step_runs\` (\`run_id\`, \`step_index\`);`);
  }

}
