import { Migration } from '@mikro-orm/migrations';

export class Migration20261201022234 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`step_runs\` add column \`loop_name\` text null;`);
    this.addSql(`alter table \`step_runs\` add column \`iteration\` integer null;`);
    this.addSql(`alter table \`step_runs\` add column \`skipped_reason\` text null;`);
  }

}
