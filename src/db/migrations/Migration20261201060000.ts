import { Migration } from '@mikro-orm/migrations';

export class Migration20261201060000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`projects\` add column \`required_labels\` json not null default '[]';`);
    this.addSql(`alter table \`runs\` add column \`required_labels\` json not null default '[]';`);
    this.addSql(`alter table \`runs\` add column \`placement_note\` text null;`);
  }

}
