/**
 * The no-JavaScript form tokens already spent (issue 17), so each pays for
 * one post only (server/abuse/form-tokens.ts). Like spent proof-of-work
 * challenges (migration 0011), a row is the token's random id and a UTC day,
 * never a time: here the day the token was spent, which the tip stored with
 * it shows anyway. The time the token was issued is inside the token, which
 * only the source holds; it is never stored.
 *
 * A token lives at most a day (config.ts), so a row spent on day D guards
 * against a replay until D + 1 is over; the sweep deletes rows older than
 * that. On SQLite the table is WITHOUT ROWID, keyed by the random id: a rowid
 * would count up in the order tokens were spent.
 *
 * @module
 * @example
 * await up(db); // spent_form_tokens(id, day)
 */
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.ts';

export async function up(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('spent_form_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('day', 'text', (c) => c.notNull())
    .$call(t.withoutRowid)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('spent_form_tokens').execute();
}
