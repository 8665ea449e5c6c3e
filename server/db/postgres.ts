/**
 * PostgreSQL through `pg`, for running more than one `tipline serve` on one
 * database (README: "PostgreSQL (more than one instance)").
 *
 * - int8 (`count(*)`, the bigint byte counts) comes back from `pg` as a string;
 *   this pool parses it to a Number, and refuses one past 2^53 rather than
 *   round it.
 * - The URL carries the password (and maybe `sslpassword=`). It never appears in an error or a log line:
 *   messages name the database by {@link describeDatabaseUrl}, and any text from
 *   the driver has the password cut out before it is shown.
 *
 * @example
 * const db = await openPostgresDatabase('postgres://tipline:secret@127.0.0.1/tipline');
 * describeDatabaseUrl('postgres://tipline:secret@db:5432/tipline'); // 'postgres://tipline@db:5432/tipline'
 */
import { Kysely, PostgresDialect } from 'kysely';
import type { Database } from './schema.ts';

export class DatabaseUrlError extends Error {
  override name = 'DatabaseUrlError';
}

/** The database could not be reached or used; the message names it without its password. */
export class DatabaseConnectionError extends Error {
  override name = 'DatabaseConnectionError';
}

const INT8_OID = 20;

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** The URL with no password and no query string: safe to print. */
export function describeDatabaseUrl(location: string): string {
  const url = parseUrl(location);
  const user = url.username ? `${decodeURIComponent(url.username)}@` : '';
  return `postgres://${user}${url.host}${url.pathname}`;
}

function parseUrl(location: string): URL {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    // Never quote the text: it is probably a URL with a password in it.
    throw new DatabaseUrlError('the database URL is not a valid postgres://USER:PASSWORD@HOST:PORT/DATABASE URL');
  }
  if (!isPostgresUrl(location) || !url.hostname || url.pathname.length < 2) {
    throw new DatabaseUrlError('the database URL must look like postgres://USER:PASSWORD@HOST:PORT/DATABASE');
  }
  return url;
}

/**
 * `text` with every form of the URL's secrets removed (plain and percent-encoded):
 * the userinfo password and every query parameter with "password" in its name
 * (`password=`, `sslpassword=` for the client key). The other parameters pg reads
 * (`sslkey=`, `sslcert=`: file paths, `sslmode=`, `options=`) hold no secret.
 */
export function withoutPassword(text: string, location: string): string {
  let passwords: string[];
  try {
    const url = new URL(location);
    passwords = [url.password, ...[...url.searchParams].filter(([name]) => /password/i.test(name)).map(([, value]) => value)];
  } catch {
    return text.split(location).join('[database URL]');
  }
  let out = text.split(location).join(describeDatabaseUrl(location));
  for (const form of new Set(passwords.flatMap((p) => [p, decodeURIComponentSafe(p), encodeURIComponent(p)]))) if (form) out = out.split(form).join('***');
  return out;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export async function openPostgresDatabase(location: string): Promise<Kysely<Database>> {
  parseUrl(location);
  const { default: pg } = await import('pg');
  const parseInt8 = (text: string) => {
    const n = Number(text);
    if (!Number.isSafeInteger(n)) throw new RangeError('an int8 value from PostgreSQL is past 2^53');
    return n;
  };
  const pool = new pg.Pool({
    connectionString: location,
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser },
  });
  // An idle connection that breaks (the server restarts) must not crash the process:
  // the next query gets a fresh connection or fails with its own error.
  pool.on('error', () => {});
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
