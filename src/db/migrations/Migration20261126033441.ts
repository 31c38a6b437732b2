import { Migration } from '@mikro-orm/migrations';

export class Migration20261126033441 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`step_runs\` add column \`output\` text null;`);
  }

}
