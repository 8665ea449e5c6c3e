/**
 * How many no-JavaScript posts each budget refused, per UTC day (issue 17):
 * the record `tipline admin doctor` reads to warn that real sources may have
 * been told "the tip line is busy" (server/abuse/no-js-refusals.ts).
 *
 * A row is a day, a budget (`tip` for first tips, `followup` for follow-ups)
 * and a count, never a time: the server adds to it at most once a minute, and
 * deletes rows older than 14 days. On SQLite the table is WITHOUT ROWID,
 * keyed by (day, kind), so nothing in the file counts up with the writes.
 *
 * @module
 * @example
 * await up(db); // no_js_refusals(day, kind, refused)
 */
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.ts';

export async function up(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('no_js_refusals')
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('refused', t.bigInteger, (c) => c.notNull())
    .addPrimaryKeyConstraint('no_js_refusals_pk', ['day', 'kind'])
    .$call(t.withoutRowid)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('no_js_refusals').execute();
}
