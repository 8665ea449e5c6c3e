/**
 * Admin rows keep days, not times: `manifests.created_at`, `audit_log.at`,
 * `journalists.added_at` and `journalist_tokens.created_at` are cut to
 * YYYY-MM-DD. A manifest's creation time brackets the arrival of every tip
 * encrypted to it (`tips.manifest_version`), so a full time there timed tips;
 * the others are written in the same admin step as a manifest.
 */
import { type Kysely, sql } from 'kysely';

const COLUMNS = [
  ['manifests', 'created_at'],
  ['audit_log', 'at'],
  ['journalists', 'added_at'],
  ['journalist_tokens', 'created_at'],
] as const;

export async function up(db: Kysely<unknown>): Promise<void> {
  // substr(text, 1, 10) reads the same on SQLite and PostgreSQL.
  for (const [table, column] of COLUMNS) await sql`UPDATE ${sql.table(table)} SET ${sql.ref(column)} = substr(${sql.ref(column)}, 1, 10)`.execute(db);
}

/** The times are gone; going down leaves the days, which older code reads as dates. */
export async function down(): Promise<void> {}
