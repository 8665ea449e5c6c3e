/**
 * PostgreSQL in test files: whether the global setup's server is there
 * (postgres-server.ts), and a fresh database per test file, dropped after it.
 *
 * @example
 * const pg = await createTestDatabase();
 * const db = await openDatabase(pg.url);
 * await pg.drop();
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { PostgresStatus } from './postgres-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: PostgresStatus;
  }
}

/** In a test file: the server the global setup started, or why there is none. */
export function postgresStatus(): PostgresStatus {
  return inject('postgres');
}

export type TestDatabase = { url: string; drop: () => Promise<void> };

/** A fresh, empty database with a random name (C collation, like SQLite's byte order). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const status = postgresStatus();
  if (!status.url) throw new Error(status.reason);
  const { default: pg } = await import('pg');
  const name = `tipline_test_${randomBytes(8).toString('hex')}`;
  const admin = new pg.Client({ connectionString: status.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
  } finally {
    await admin.end();
  }
  const url = new URL(status.url);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: status.url });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
