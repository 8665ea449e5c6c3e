/**
 * Attachment ciphertext moves into SQLite too: the tables PostgreSQL got in
 * migration 0006 (`blobs`, `blob_chunks`, `blob_staging`), now made on SQLite,
 * keyed by random ids in WITHOUT ROWID tables so that `tipline admin maintain`
 * can lay them out in an order unrelated to arrival.
 *
 * Why: one file per upload in `<data>/blobs/` gave each upload a birth time,
 * mtime and ctime to the second, and a birth time can't be changed from user
 * space. Rows carry no time (only the day a blob was last written, for the
 * sweep of unclaimed uploads).
 *
 * The files an older version wrote are moved into these rows by
 * importBlobFiles (server/uploads/import-blob-files.ts) when the store is
 * first opened, not here: a migration doesn't know the blob folder, and
 * copying gigabytes in one migration transaction would hold the write lock.
 */
import { type Kysely } from 'kysely';
import { columnTypes } from './column-types.ts';

export async function up(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  if (t.postgres) return;
  await db.schema
    .createTable('blobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('content', 'text', (c) => c.notNull().unique())
    .addColumn('written_day', 'text', (c) => c.notNull())
    .$call(t.withoutRowid)
    .execute();
  await db.schema
    .createTable('blob_chunks')
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('start', 'integer', (c) => c.notNull())
    .addColumn('bytes', 'blob', (c) => c.notNull())
    .addPrimaryKeyConstraint('blob_chunks_pk', ['content', 'start'])
    .$call(t.withoutRowid)
    .execute();
  await db.schema
    .createTable('blob_staging')
    .addColumn('content', 'text', (c) => c.primaryKey())
    .addColumn('started_day', 'text', (c) => c.notNull())
    .$call(t.withoutRowid)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (columnTypes(db).postgres) return;
  for (const table of ['blob_staging', 'blob_chunks', 'blobs']) await db.schema.dropTable(table).execute();
}
