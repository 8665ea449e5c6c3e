/**
 * Desks: journalists belong to named desks (none = every desk), and each tip
 * and conversation records the desk its source chose, so the server can check
 * the tip is encrypted to exactly that desk and show it only to its journalists.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('journalists').addColumn('desks', 'text', (c) => c.notNull().defaultTo('[]')).execute();
  await db.schema.alterTable('tips').addColumn('desk', 'text').execute();
  await db.schema.alterTable('threads').addColumn('desk', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('threads').dropColumn('desk').execute();
  await db.schema.alterTable('tips').dropColumn('desk').execute();
  await db.schema.alterTable('journalists').dropColumn('desks').execute();
}
