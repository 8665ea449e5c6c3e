/**
 * Abuse resistance. `server_secrets` holds the proof-of-work HMAC key in the
 * database, so every instance on a shared database signs and checks the same
 * challenges. `spent_challenges` remembers answered challenges until they
 * expire (minutes), so none can be replayed; rows are deleted once expired.
 */
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.ts';

export async function up(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('server_secrets')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', t.binary, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('spent_challenges')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('expires', t.bigInteger, (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('spent_challenges').execute();
  await db.schema.dropTable('server_secrets').execute();
}
