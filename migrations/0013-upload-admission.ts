/**
 * Upload admission (issue 17): what an upload row needs so that unclaimed
 * uploads expire in hours and `/complete` checks each upload a bounded number
 * of times, without storing a time.
 *
 * - `uploads.sweeps`: how many hourly sweeps an unclaimed upload has lived
 *   through; the sweep deletes it at `unclaimedUploadHours` (config.ts), and a
 *   tip that claims it sets it back to 0. A count of hours, for at most that
 *   many hours, instead of a time.
 * - `uploads.checks`: how many times `/complete` checked it (each upload's
 *   proof of work buys a few, see server/uploads/upload-api.ts).
 * - `uploads.check_failed`: non-zero once a check refused it (1: not
 *   encrypted, 2: to the wrong keys); it is never checked again.
 * - `sweep_ticks`: one random token per shared periodic job, changed by
 *   compare-and-set when the job runs, so that several instances on one
 *   PostgreSQL database run the hourly sweep once an hour between them, not
 *   once each (server/uploads/sweep-tick.ts). A token, not a time.
 *
 * @module
 * @example
 * await migrateToLatest(db); // runs up() once
 */
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.ts';

export async function up(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  await db.schema.alterTable('uploads').addColumn('sweeps', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('uploads').addColumn('checks', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('uploads').addColumn('check_failed', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema
    .createTable('sweep_ticks')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('token', 'text', (c) => c.notNull())
    .$call(t.withoutRowid)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('sweep_ticks').execute();
  for (const column of ['check_failed', 'checks', 'sweeps']) await db.schema.alterTable('uploads').dropColumn(column).execute();
}
