/**
 * Two-way conversations. A thread's id is SHA-256 of the source's lookup
 * secret (see crypto/codename.ts): the server can find a thread when a source
 * logs in, but can't log in as one. `seq` numbers messages within a thread,
 * which journalists need to read a conversation in order; across threads
 * nothing reveals arrival order.
 */
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.ts';

export async function up(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('threads')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('created_day', 'text', (c) => c.notNull())
    .addColumn('next_seq', 'integer', (c) => c.notNull().defaultTo(1))
    .$call(t.withoutRowid)
    .execute();

  await db.schema.alterTable('tips').addColumn('thread_id', 'text', (c) => c.references('threads.id').onDelete('cascade')).execute();
  await db.schema.alterTable('tips').addColumn('kind', 'text', (c) => c.notNull().defaultTo('tip')).execute();
  await db.schema.alterTable('tips').addColumn('seq', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  await db.schema.createIndex('tips_by_thread').on('tips').columns(['thread_id', 'seq']).execute();

  await db.schema
    .createTable('replies')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('thread_id', 'text', (c) => c.notNull().references('threads.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('created_day', 'text', (c) => c.notNull())
    // For the source: a reply box to their X25519 key (crypto/reply-box.ts).
    .addColumn('box', t.binary, (c) => c.notNull())
    // For the newsroom: the same reply as OpenPGP to the journalist keys.
    .addColumn('copy', t.binary, (c) => c.notNull())
    .$call(t.withoutRowid)
    .execute();
  await db.schema.createIndex('replies_by_thread').on('replies').columns(['thread_id', 'seq']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('replies').execute();
  await db.schema.dropIndex('tips_by_thread').execute();
  await db.schema.alterTable('tips').dropColumn('seq').execute();
  await db.schema.alterTable('tips').dropColumn('kind').execute();
  await db.schema.alterTable('tips').dropColumn('thread_id').execute();
  await db.schema.dropTable('threads').execute();
}
