/**
 * The submit baseline: a bare Hono route on the same server setup as
 * `tipline serve` (@hono/node-server, the same Node server options, the same
 * SQLite pragmas) that stores each request body as it came, with one prepared
 * INSERT into a table shaped like `tips` (random text id, WITHOUT ROWID). No
 * parsing, no checks, no proof of work: the floor the real route is compared to.
 *
 * @example
 * const server = await startBareInsertServer('/tmp/bare.db');
 * // POST ${server.url}/api/v1/tips → 201
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import BetterSqlite3 from 'better-sqlite3';
import { Hono } from 'hono';
import { randomId } from '../../../crypto/bytes.ts';
import { DEFAULT_TIMEOUTS, httpServerOptions } from '../../../server/cli/serve.ts';
import { SQLITE_PRAGMAS } from '../../../server/db/open-database.ts';

export async function startBareInsertServer(dbFile: string): Promise<{ url: string; close: () => Promise<void> }> {
  const sqlite = new BetterSqlite3(dbFile);
  for (const pragma of SQLITE_PRAGMAS) sqlite.pragma(pragma);
  sqlite.exec('CREATE TABLE IF NOT EXISTS bare_tips (id TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID');
  const insert = sqlite.prepare('INSERT INTO bare_tips (id, body) VALUES (?, ?)');
  const app = new Hono();
  app.post('/api/v1/tips', async (c) => {
    const receipt = randomId();
    insert.run(receipt, new Uint8Array(await c.req.arrayBuffer()));
    return c.json({ status: 'received', receipt }, 201);
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', serverOptions: httpServerOptions(DEFAULT_TIMEOUTS) }, () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      sqlite.close();
    },
  };
}
