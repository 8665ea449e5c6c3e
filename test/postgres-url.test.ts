/**
 * The database URL carries the password: server/db/postgres.ts names a
 * database without it, and cuts it out of any driver text before it is shown.
 */
import { describe, expect, it } from 'vitest';
import { databaseLocation } from '../server/data-dir.ts';
import { DatabaseUrlError, describeDatabaseUrl, isPostgresUrl, openPostgresDatabase, withoutPassword } from '../server/db/postgres.ts';

describe('database URLs', () => {
  it('tells a PostgreSQL URL from a SQLite file', () => {
    expect(isPostgresUrl('postgres://u@h/db')).toBe(true);
    expect(isPostgresUrl('POSTGRESQL://u@h/db')).toBe(true);
    expect(isPostgresUrl('/srv/tipline/tipline.db')).toBe(false);
    expect(isPostgresUrl('./postgres://x')).toBe(false);
  });

  it('takes the URL over the data directory\'s SQLite file, and only a postgres:// one', () => {
    expect(databaseLocation('/srv/tipline')).toBe('/srv/tipline/tipline.db');
    expect(databaseLocation('/srv/tipline', 'postgres://u@h/db')).toBe('postgres://u@h/db');
    const error = (() => {
      try {
        return databaseLocation('/srv/tipline', 'mysql://u:hunter2-secret@h/db');
      } catch (e) {
        return e as Error;
      }
    })() as Error;
    expect(error.message).toMatch(/must start with postgres:\/\//);
    expect(error.message).not.toContain('hunter2');
  });

  it('names a database without its password or parameters', () => {
    expect(describeDatabaseUrl('postgres://tipline:s3cr%40t@db.internal:5432/tipline?sslmode=verify-full&password=other')).toBe('postgres://tipline@db.internal:5432/tipline');
    expect(describeDatabaseUrl('postgresql://db/tipline')).toBe('postgres://db/tipline');
  });

  it('cuts the password out of a message in every form it may take', () => {
    const url = 'postgres://tipline:s3cr%40t!x@db:5432/tipline?password=p4ram';
    const text = `failed for ${url}; raw s3cr@t!x, encoded s3cr%40t!x, param p4ram`;
    const cleaned = withoutPassword(text, url);
    for (const secret of ['s3cr@t', 's3cr%40t', 'p4ram']) expect(cleaned).not.toContain(secret);
    expect(cleaned).toContain('postgres://tipline@db:5432/tipline');
  });

  it('cuts out the client key\'s passphrase (sslpassword=) too, but leaves file paths alone', () => {
    const url = 'postgres://tipline@db/tipline?sslmode=verify-full&sslkey=/etc/tipline/client.key&sslpassword=k3y%2Fphrase&PASSWORD=upper';
    const text = `could not read the key: bad passphrase k3y/phrase (k3y%2Fphrase) for /etc/tipline/client.key; upper`;
    const cleaned = withoutPassword(text, url);
    for (const secret of ['k3y/phrase', 'k3y%2Fphrase', 'upper']) expect(cleaned).not.toContain(secret);
    expect(cleaned).toContain('/etc/tipline/client.key');
    expect(withoutPassword(`at ${url}`, url)).toBe('at postgres://tipline@db/tipline');
  });

  it('refuses a malformed URL without quoting it', async () => {
    for (const bad of ['postgres://u:hunter2-secret@[bad/db', 'postgres://u:hunter2-secret@/', 'postgres://u:hunter2-secret@host']) {
      const error = await openPostgresDatabase(bad).catch((e: Error) => e);
      expect(error).toBeInstanceOf(DatabaseUrlError);
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});
