/**
 * Proof-of-work secrets rotate (server/abuse/pow-keys.ts): the one secret
 * `pow-hmac` that signed every challenge since the line was set up is
 * replaced by `pow-key-previous`/`-current`/`-next` in the same table, which
 * the server creates on start. The old row is deleted here so a seized
 * database doesn't hold a secret nothing uses; challenges it signed (ten
 * minutes' worth at most) are refused, and the page simply asks for a new one.
 *
 * @module
 * @example
 * await migrateToLatest(db); // runs up() once
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`DELETE FROM server_secrets WHERE name = 'pow-hmac'`.execute(db);
}

/** Going down drops the rotating secrets; the older server makes a fresh `pow-hmac` when it starts. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DELETE FROM server_secrets WHERE name IN ('pow-key-previous', 'pow-key-current', 'pow-key-next')`.execute(db);
}
