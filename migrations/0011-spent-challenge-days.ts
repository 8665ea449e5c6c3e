/**
 * Spent proof-of-work challenges keep a UTC day, not a time: the column
 * `spent_challenges.expires` (Unix seconds, the challenge's expiry, i.e. the
 * second it was issued plus ten minutes) becomes `day`, the YYYY-MM-DD of that
 * expiry. A seized database then tells at most on which day tips were paid
 * for, like every other table (issue 14's rule).
 *
 * Replays stay refused: a challenge is valid until its expiry, which falls on
 * or before the end of its row's day, so a row is needed until that day is
 * over, and `sweepSpentChallenges` (server/abuse/spent-challenges.ts) deletes
 * only rows of earlier days. Existing rows are converted, not dropped, so a
 * challenge spent just before the upgrade can't be spent again after it.
 *
 * On SQLite the new table is WITHOUT ROWID, keyed by the random challenge id:
 * a rowid would count up in the order challenges were spent.
 */
import { type Kysely, sql } from 'kysely';
import { columnTypes } from './column-types.ts';

export async function up(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('spent_challenges_by_day')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('day', 'text', (c) => c.notNull())
    .$call(t.withoutRowid)
    .execute();
  const day = t.postgres ? sql`to_char(to_timestamp(expires) at time zone 'UTC', 'YYYY-MM-DD')` : sql`date(expires, 'unixepoch')`;
  await sql`INSERT INTO spent_challenges_by_day (id, day) SELECT id, ${day} FROM spent_challenges`.execute(db);
  await db.schema.dropTable('spent_challenges').execute();
  await db.schema.alterTable('spent_challenges_by_day').renameTo('spent_challenges').execute();
}

/** Going down gives each row the last second of its day as expiry: still refused as a replay until then. */
export async function down(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('spent_challenges_by_second')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('expires', t.bigInteger, (c) => c.notNull())
    .execute();
  const expires = t.postgres ? sql`extract(epoch from (day::date + 1))::bigint - 1` : sql`unixepoch(day, '+1 day') - 1`;
  await sql`INSERT INTO spent_challenges_by_second (id, expires) SELECT id, ${expires} FROM spent_challenges`.execute(db);
  await db.schema.dropTable('spent_challenges').execute();
  await db.schema.alterTable('spent_challenges_by_second').renameTo('spent_challenges').execute();
}
