/**
 * A covering index for the journalist's list of tips: every column the list
 * page shows, in the list's order (day, then random id), so a page is read
 * from consecutive index pages alone. Without it, each listed tip was a seek
 * into the tips table, whose rows are mostly ciphertext (the columns added
 * after `ciphertext` even sit in its overflow pages): a page of 200 took
 * about 10 ms at 10k tips and twice that at 1M.
 *
 * The list shows each tip's exact size. `length(ciphertext)` needs the row
 * itself (SQLite reports an index on that expression as covering, but still
 * seeks the row to evaluate it: measured, 2.2 ms of a 2.4 ms page), so the
 * length is stored as `ciphertext_bytes`, filled in here for existing tips
 * (this rewrites every tip row once) and by TipStore from now on.
 *
 * The index replaces `tips_by_day`, whose columns it starts with. Like that
 * index it orders tips by day and random id only, so it says nothing about
 * the order they arrived in; the length says nothing the ciphertext doesn't.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // All or nothing. Kysely runs SQLite migrations statement by statement (its SQLite
  // adapter reports no transactional DDL), yet SQLite's DDL is transactional: without
  // this, a crash or a full disk during the long update would leave the column added
  // and the migration unrecorded, and every later start would fail on "duplicate
  // column". On PostgreSQL the migrator has already opened a transaction.
  if (db.isTransaction) await addListIndex(db);
  else await db.transaction().execute(addListIndex);
}

async function addListIndex(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tips').addColumn('ciphertext_bytes', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await sql`update tips set ciphertext_bytes = length(ciphertext)`.execute(db);
  await db.schema
    .createIndex('tips_list')
    .on('tips')
    .columns(['received_day', 'id', 'desk', 'via', 'size_bucket', 'manifest_version', 'thread_id', 'kind', 'seq', 'ciphertext_bytes'])
    .execute();
  await db.schema.dropIndex('tips_by_day').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('tips_by_day').on('tips').columns(['received_day', 'id']).execute();
  await db.schema.dropIndex('tips_list').execute();
  await db.schema.alterTable('tips').dropColumn('ciphertext_bytes').execute();
}
