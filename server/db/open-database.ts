/**
 * Opens the database with the settings a tip line needs, and runs migrations.
 * A `postgres://` URL opens PostgreSQL (postgres.ts); anything else is a SQLite
 * file, which is the rest of this note:
 *
 * - WAL, with `synchronous=FULL`: a tip that got a receipt survives power loss.
 * - `secure_delete=ON`: deleted rows are overwritten, not just unlinked. It is a
 *   per-connection setting, so it is set here, on every open.
 * - After deletes, callers run {@link checkpoint} so old pages leave the `-wal` file too.
 * - Statements are prepared once and reused (statement-cache.ts).
 *
 * @example
 * const db = await openDatabase('/srv/tipline/tipline.db');
 * const shared = await openDatabase(process.env.DATABASE_URL!); // postgres://…
 * await db.selectFrom('tips').select('id').execute();
 */
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { migrationProvider } from '../../migrations/index.ts';
import { isPostgres } from './dialect.ts';
import { DatabaseConnectionError, describeDatabaseUrl, isPostgresUrl, openPostgresDatabase, withoutPassword } from './postgres.ts';
import type { Database } from './schema.ts';
import { withStatementCache } from './statement-cache.ts';

export type TiplineDb = Kysely<Database>;

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** The two settings the blob store lifts for one row's statement and puts back (row-blob-store.ts, insertRow). */
export const SQLITE_SYNCHRONOUS = 'synchronous = FULL';
/** SQLite's default, said here so that what the blob store puts back is written once. */
export const SQLITE_WAL_AUTOCHECKPOINT = 'wal_autocheckpoint = 1000';
/**
 * SQLite's own default page cache, 2 MB (better-sqlite3 sets 16 MB). An
 * attachment's rows pass through the cache, 256 overflow pages per 1 MiB row,
 * and are never read from it again: at 16 MB they grew the server's memory
 * by the whole cache (20 MiB in a plain loop of 1,024 rows of 1 MiB, 6 MiB at
 * 2 MB, in the same time).
 */
const SQLITE_CACHE_SIZE = 'cache_size = -2000';
/** Set on every connection (see the list above); exported so the benchmark's bare baseline runs with the same ones. */
export const SQLITE_PRAGMAS = ['journal_mode = WAL', SQLITE_SYNCHRONOUS, SQLITE_WAL_AUTOCHECKPOINT, SQLITE_CACHE_SIZE, 'secure_delete = ON', 'foreign_keys = ON', 'busy_timeout = 5000'] as const;

/** `location`: a SQLite file, or a `postgres://` URL. */
export async function openDatabase(location: string, options: { migrate?: boolean } = {}): Promise<TiplineDb> {
  if (isPostgresUrl(location)) return openPostgres(location, options);
  const file = location;
  const sqlite = new BetterSqlite3(file);
  for (const pragma of SQLITE_PRAGMAS) sqlite.pragma(pragma);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  if (options.migrate !== false) await migrateToLatest(db);
  return db;
}

async function openPostgres(url: string, options: { migrate?: boolean }): Promise<TiplineDb> {
  const db = await openPostgresDatabase(url);
  try {
    if (options.migrate !== false) await migrateToLatest(db);
    else await sql`SELECT 1`.execute(db);
    return db;
  } catch (e) {
    await db.destroy().catch(() => {});
    throw new DatabaseConnectionError(`cannot use the PostgreSQL database ${describeDatabaseUrl(url)}: ${withoutPassword((e as Error).message ?? String(e), url)}`);
  }
}

export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  const { error, results } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new MigrationError(`database migration ${failed} failed: ${(error as Error).message}`);
  }
}

/**
 * Moves the WAL into the main file and truncates it, so deleted pages don't linger in `-wal`.
 * PostgreSQL has nothing like it: deleted rows stay in its files until VACUUM
 * reuses the space (README's threat model says so), so there it does nothing.
 */
export async function checkpoint(db: TiplineDb): Promise<void> {
  if (isPostgres(db)) return;
  await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
}
