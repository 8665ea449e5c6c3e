/**
 * Attachments. Each is uploaded in chunks to a blob file under a random name;
 * this table tracks how many bytes arrived, whether the upload was checked as
 * complete OpenPGP ciphertext, and which tip claimed it. A blob becomes part of
 * a tip only when the tip naming it arrives; unclaimed ones are deleted after a
 * day (by the blob file's age, so no time is stored here).
 */
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.ts';

export async function up(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('uploads')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('desk', 'text')
    .addColumn('declared_bytes', t.bigInteger, (c) => c.notNull())
    .addColumn('received_bytes', t.bigInteger, (c) => c.notNull().defaultTo(0))
    .addColumn('complete', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('tip_id', 'text', (c) => c.references('tips.id').onDelete('cascade'))
    .$call(t.withoutRowid)
    .execute();
  await db.schema.createIndex('uploads_by_tip').on('uploads').column('tip_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('uploads').execute();
}
