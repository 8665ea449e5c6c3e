/**
 * `GET /healthz`, for Docker's HEALTHCHECK and load balancers: `{"status":"ok"}`
 * when the server answers and its database does, 503 otherwise. It says nothing
 * about tips (no counts, no versions, no times): anyone who can reach the tip
 * line can call it.
 *
 * @example
 * app.get('/healthz', healthCheck(db));
 */
import type { Handler } from 'hono';
import { sql } from 'kysely';
import type { TiplineDb } from '../db/open-database.ts';

export function healthCheck(db: TiplineDb): Handler {
  return async function healthCheckHandler(c) {
    try {
      await sql`SELECT 1`.execute(db);
      return c.json({ status: 'ok' });
    } catch {
      return c.json({ status: 'unavailable' }, 503);
    }
  };
}
