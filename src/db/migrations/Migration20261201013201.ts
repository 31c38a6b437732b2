import { Migration } from '@mikro-orm/migrations';

export class Migration20261201013201 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`workflow_versions\` (\`id\` integer not null primary key autoincrement, \`name\` text not null, \`version\` text not null, \`source\` text not null, \`definition\` json not null, \`content_hash\` text not null, \`origin\` text not null, \`origin_path\` text null, \`registered_at\` integer not null);`);
    this.addSql(`create unique index \`workflow_versions_name_version_unique\` on \`workflow_versions\` (\`name\`, \`version\`);`);

    this.addSql(`alter table \`runs\` add column \`workflow_version\` text null;`);
    this.addSql(`alter table \`runs\` add column \`definition\` json null;`);
    this.addSql(`alter table \`runs\` add column \`definition_hash\` text null;`);
    this.addSql(`alter table \`runs\` add column \`inputs\` json not null default '{}';`);

    this.addSql(`alter table \`step_runs\` add column \`type_name\` text not null default '';`);
    // Steps recorded before custom types existed: their type name is their (built-in) type.
    this.addSql(`update \`step_runs\` set \`type_name\` = \`type\` where \`type_name\` = '';`);
    this.addSql(`alter table \`step_runs\` add column \`exit_code\` integer null;`);
  }

}
