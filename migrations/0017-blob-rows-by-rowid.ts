/**
 * SQLite's attachment rows (`blob_chunks`, migration 0008) move from a
 * WITHOUT ROWID table keyed by (content, start) to a rowid table keyed by a
 * random `id` (INTEGER PRIMARY KEY), with a unique index on (content, start)
 * for the store's lookups.
 *
 * Why: in a WITHOUT ROWID table each 1 MiB row is an index B-tree entry, and
 * writing one cost about 1.6 times the CPU of the same row in a rowid table
 * (docs/performance.md, upload). The id is random, not the rowid SQLite
 * would pick (the largest plus one), because `VACUUM` in `tipline admin
 * maintain` rebuilds a rowid table in rowid order: with random ids the rows'
 * places after it follow no arrival order, as the keyed table's did.
 * Every insert supplies `random()` (row-blob-store.ts); SQLite ignores a
 * DEFAULT on an INTEGER PRIMARY KEY.
 *
 * Rows move in batches of {@link MOVE_ROWS}, each batch one transaction
 * (copied, then deleted from the old table, whose pages `secure_delete`
 * zeroes), so the WAL holds one batch at a time, not every attachment, and
 * the freed pages are reused by the next batch instead of the file growing
 * by the attachments' size. SQLite runs migrations without a transaction
 * around them, so a crash halfway leaves both tables; the next start runs
 * this again and carries on where it stopped. The last step, dropping the
 * old table and renaming the new one, is one transaction.
 *
 * PostgreSQL keeps its table (migration 0006): it has no rowid order to
 * hide, and its rows are TOASTed apart from the key anyway.
 *
 * @module
 * @example
 * await up(db); // blob_chunks (id INTEGER PRIMARY KEY, content, start, bytes) + index blob_chunks_by_content
 */
import { type Kysely, sql } from 'kysely';
import { columnTypes } from './column-types.ts';

/** Rows (at most 1 MiB each) moved per transaction. */
export const MOVE_ROWS = 32;

const NEW = 'blob_chunks_0017';

export async function up(db: Kysely<unknown>): Promise<void> {
  if (columnTypes(db).postgres) return;
  // Run again after a crash in the last step's commit: the table has its new shape already.
  if (await hasRowidLayout(db, 'blob_chunks')) return;
  await sql`CREATE TABLE IF NOT EXISTS ${sql.table(NEW)} (
    "id" integer PRIMARY KEY,
    "content" text NOT NULL,
    "start" integer NOT NULL,
    "bytes" blob NOT NULL
  )`.execute(db);
  await sql`CREATE UNIQUE INDEX IF NOT EXISTS "blob_chunks_by_content" ON ${sql.table(NEW)} ("content", "start")`.execute(db);
  for (;;) {
    const moved = await db.transaction().execute(async (trx) => {
      // The same ORDER BY and LIMIT pick the same rows twice: nothing else writes during migrations.
      const r = await sql`INSERT INTO ${sql.table(NEW)} ("id", "content", "start", "bytes")
        SELECT random(), "content", "start", "bytes" FROM "blob_chunks" ORDER BY "content", "start" LIMIT ${MOVE_ROWS}`.execute(trx);
      await sql`DELETE FROM "blob_chunks" WHERE ("content", "start") IN (
        SELECT "content", "start" FROM "blob_chunks" ORDER BY "content", "start" LIMIT ${MOVE_ROWS})`.execute(trx);
      return Number(r.numAffectedRows ?? 0);
    });
    if (moved < MOVE_ROWS) break;
  }
  await db.transaction().execute(async (trx) => {
    await sql`DROP TABLE "blob_chunks"`.execute(trx);
    await sql`ALTER TABLE ${sql.table(NEW)} RENAME TO "blob_chunks"`.execute(trx);
  });
}

/** Back to the keyed table of migration 0008, rows moved the same way. */
export async function down(db: Kysely<unknown>): Promise<void> {
  if (columnTypes(db).postgres) return;
  if (!(await hasRowidLayout(db, 'blob_chunks'))) return;
  // Exactly 0008's table, so the file is what that version made.
  await db.schema
    .createTable(NEW)
    .ifNotExists()
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('start', 'integer', (c) => c.notNull())
    .addColumn('bytes', 'blob', (c) => c.notNull())
    .addPrimaryKeyConstraint('blob_chunks_pk', ['content', 'start'])
    .$call(columnTypes(db).withoutRowid)
    .execute();
  for (;;) {
    const moved = await db.transaction().execute(async (trx) => {
      const r = await sql`INSERT INTO ${sql.table(NEW)} ("content", "start", "bytes")
        SELECT "content", "start", "bytes" FROM "blob_chunks" ORDER BY "id" LIMIT ${MOVE_ROWS}`.execute(trx);
      await sql`DELETE FROM "blob_chunks" WHERE "id" IN (SELECT "id" FROM "blob_chunks" ORDER BY "id" LIMIT ${MOVE_ROWS})`.execute(trx);
      return Number(r.numAffectedRows ?? 0);
    });
    if (moved < MOVE_ROWS) break;
  }
  await db.transaction().execute(async (trx) => {
    await sql`DROP TABLE "blob_chunks"`.execute(trx);
    await sql`ALTER TABLE ${sql.table(NEW)} RENAME TO "blob_chunks"`.execute(trx);
  });
}

async function hasRowidLayout(db: Kysely<unknown>, table: string): Promise<boolean> {
  const columns = await sql<{ name: string }>`SELECT name FROM pragma_table_info(${table})`.execute(db);
  return columns.rows.some((c) => c.name === 'id');
}
