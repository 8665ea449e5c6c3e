/**
 * Attachment ciphertext inside PostgreSQL, so that every instance on the
 * database reaches every blob (on SQLite, blobs stay files in `<data>/blobs/`
 * and this migration creates nothing).
 *
 * - `blobs`: one row per blob id, naming its current `content` (a random key)
 *   and the day it was last written (unclaimed uploads are swept by day; no
 *   time of day is stored).
 * - `blob_chunks`: the content's bytes, in rows of about 1 MiB keyed by the
 *   byte they start at, so reads and writes stream a row at a time and a read
 *   can start anywhere. Ciphertext doesn't compress: EXTERNAL storage skips
 *   the attempt, and lets `substring` fetch only the part a read needs.
 * - `blob_staging`: content being written aside (a re-keyed copy) before it is
 *   swapped in; what a crash leaves there is swept after a day.
 *
 * See server/uploads/postgres-blob-store.ts.
 */
import { type Kysely, sql } from 'kysely';
import { columnTypes } from './column-types.ts';

export async function up(db: Kysely<unknown>): Promise<void> {
  if (!columnTypes(db).postgres) return;
  await db.schema
    .createTable('blobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('content', 'text', (c) => c.notNull().unique())
    .addColumn('written_day', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('blob_chunks')
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('start', 'bigint', (c) => c.notNull())
    .addColumn('bytes', 'bytea', (c) => c.notNull())
    .addPrimaryKeyConstraint('blob_chunks_pk', ['content', 'start'])
    .execute();
  await sql`ALTER TABLE blob_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL`.execute(db);
  await db.schema
    .createTable('blob_staging')
    .addColumn('content', 'text', (c) => c.primaryKey())
    .addColumn('started_day', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!columnTypes(db).postgres) return;
  for (const table of ['blob_staging', 'blob_chunks', 'blobs']) await db.schema.dropTable(table).execute();
}
