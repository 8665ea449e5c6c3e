/**
 * The few column types that differ between SQLite and PostgreSQL, for the
 * migrations. SQLite's own DDL stays exactly what it always was, so a database
 * file made by an earlier version and one made now have the same schema.
 *
 * - binary: `blob` on SQLite, `bytea` on PostgreSQL;
 * - byte counts that pass 2^31 (a 2 GiB attachment): SQLite's `integer` is
 *   already 64-bit; PostgreSQL needs `bigint` (read back as a Number, see
 *   server/db/postgres.ts);
 * - `without rowid` (random ids don't reveal insertion order in the file
 *   layout) exists only on SQLite. PostgreSQL has no equivalent: every heap
 *   row carries `xmin` (its inserting transaction) and `ctid` (its place),
 *   which give arrival order, and its WAL the commit times (README:
 *   "PostgreSQL (more than one instance)").
 *
 * @example
 * const t = columnTypes(db);
 * await db.schema.createTable('x').addColumn('b', t.binary).$call(t.withoutRowid).execute();
 */
import { type CreateTableBuilder, type Kysely, sql } from 'kysely';
import { isPostgres } from '../server/db/dialect.ts';

export function columnTypes(db: Kysely<unknown>) {
  const postgres = isPostgres(db);
  return {
    postgres,
    binary: postgres ? ('bytea' as const) : ('blob' as const),
    bigInteger: postgres ? ('bigint' as const) : ('integer' as const),
    withoutRowid: <T extends string, C extends string>(table: CreateTableBuilder<T, C>): CreateTableBuilder<T, C> =>
      postgres ? table : table.modifyEnd(sql`without rowid`),
  };
}
