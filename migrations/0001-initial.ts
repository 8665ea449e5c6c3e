/**
 * The first schema. Source-related rows hold a day, never a time, and use
 * random text ids in WITHOUT ROWID tables, so the file's layout doesn't reveal
 * the order tips arrived in.
 */
import { type Kysely, sql } from 'kysely';
import { columnTypes } from './column-types.ts';

export async function up(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('tips')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('received_day', 'text', (c) => c.notNull())
    .addColumn('size_bucket', 'integer', (c) => c.notNull())
    .addColumn('manifest_version', 'integer', (c) => c.notNull())
    .addColumn('via', 'text', (c) => c.notNull().check(sql`via in ('browser', 'server')`))
    .addColumn('ciphertext', t.binary, (c) => c.notNull())
    .$call(t.withoutRowid)
    .execute();
  await db.schema.createIndex('tips_by_day').on('tips').columns(['received_day', 'id']).execute();

  await db.schema
    .createTable('journalists')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('added_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('journalist_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('journalist_id', 'text', (c) => c.notNull().references('journalists.id').onDelete('cascade'))
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('manifests')
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  // Admin actions only. Never anything about sources or tips beyond counts.
  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['audit_log', 'manifests', 'journalist_tokens', 'journalists', 'tips']) {
    await db.schema.dropTable(table).execute();
  }
}
