/**
 * Which database a Kysely instance talks to, for the few places where SQLite
 * and PostgreSQL must differ (types in migrations, WAL checkpoints, the blob
 * store), and the one error both report differently that callers must
 * recognise: a unique or primary-key violation.
 *
 * @example
 * if (isPostgres(db)) await new RowBlobStore(db);
 * try { await insert(); } catch (e) { if (isUniqueViolation(e)) throw new ExistsError(); throw e; }
 */
import { type Kysely, PostgresAdapter } from 'kysely';

// A transaction's Kysely shares its parent's adapter, so this also works inside one.
export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** PostgreSQL's SQLSTATE 23505, or better-sqlite3's SQLITE_CONSTRAINT_PRIMARYKEY / _UNIQUE. */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
