import { Migration } from '@mikro-orm/migrations';

export class Migration20261201021938 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`agent_messages\` (\`id\` integer not null primary key autoincrement, \`run_id\` integer not null, \`step_name\` text not null, \`position\` integer not null, \`role\` text not null, \`content\` text not null, \`data\` text null, \`created_at\` integer not null);`);
    this.addSql(`create unique index \`agent_messages_run_id_step_name_position_unique\` on \`agent_messages\` (\`run_id\`, \`step_name\`, \`position\`);`);

    this.addSql(`create table \`agent_directives\` (\`id\` integer not null primary key autoincrement, \`run_id\` integer not null, \`text\` text not null, \`created_at\` integer not null, \`delivered_at\` integer null, \`step_name\` text null);`);
    this.addSql(`create index \`agent_directives_run_id_id_index\` on \`agent_directives\` (\`run_id\`, \`id\`);`);
  }

}
