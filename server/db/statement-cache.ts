/**
 * Kysely's SQLite driver prepares every query anew; preparing (parsing and
 * planning the SQL) costs more than running the small queries a tip line
 * makes. This hands Kysely a better-sqlite3 database whose `prepare` returns
 * the statement it prepared before for the same SQL text. Kysely passes
 * values as parameters, never inside the SQL, so one text covers every call
 * of a query; only `in (…)` lists of different lengths give new texts, which
 * is why the cache is bounded (oldest first out).
 *
 * Safe because Kysely runs one query at a time on its single SQLite
 * connection, so a statement is never in use twice at once.
 *
 * @example
 * const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

export function withStatementCache(sqlite: BetterSqlite3.Database, maxStatements = 200): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    prepare: (sql) => {
      let statement = cache.get(sql);
      if (!statement) {
        statement = sqlite.prepare(sql);
        if (cache.size >= maxStatements) cache.delete(cache.keys().next().value!);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}
