/**
 * Migration 0007: the journalist's list of tips is answered from the covering index
 * (migrations/0007-tip-list-index.ts) alone, seeking to the cursor: no lookup
 * in the tips table per row and no scan from the start. A page of 200 then
 * costs about the same at a million tips as at ten thousand (see README,
 * Performance). This checks SQLite's plan for the exact SQL TipStore.list
 * sends, so a change to the query or the index that loses it fails here, and
 * that tips stored before the migration get their `ciphertext_bytes`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationProvider } from '../migrations/index.ts';
import { openDatabase } from '../server/db/open-database.ts';
import type { Database as Schema } from '../server/db/schema.ts';
import { TipStore } from '../server/store/tip-store.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tipline-plans-'));
  await (await openDatabase(join(dir, 'tipline.db'))).destroy();
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** The plan of each query `run` makes through a TipStore. */
async function plansOf(run: (tips: TipStore) => Promise<unknown>): Promise<string[][]> {
  const sqlite = new Database(join(dir, 'tipline.db'));
  const queries: { sql: string; parameters: readonly unknown[] }[] = [];
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }), log: (e) => void queries.push(e.query) });
  try {
    await run(new TipStore(db));
    return queries.map((q) => (sqlite.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...(q.parameters as unknown[])) as { detail: string }[]).map((r) => r.detail));
  } finally {
    await db.destroy();
  }
}

describe('the list of tips', () => {
  it('is read from the covering index alone, first page and after a cursor, with and without desks', async () => {
    const desks = { mine: ['news'], all: ['news', 'sport'] };
    const plans = await plansOf(async (tips) => {
      await tips.list({ limit: 200 });
      await tips.list({ limit: 200, cursor: `2026-01-01.${'A'.repeat(22)}`, desks });
    });
    expect(plans).toEqual([['SCAN tips USING COVERING INDEX tips_list'], ['SEARCH tips USING COVERING INDEX tips_list ((received_day,id)>(?,?))']]);
  });
});

describe('migration 0007', () => {
  it('is all or nothing: cut off in the middle, it leaves the old schema, and the next start finishes it', async () => {
    const file = join(dir, 'cut.db');
    const sqlite = new Database(file);
    const old = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
    expect((await new Migrator({ db: old, provider: migrationProvider }).migrateTo('0005-uploads')).error).toBeUndefined();
    sqlite
      .prepare("INSERT INTO tips (id, received_day, size_bucket, manifest_version, via, ciphertext) VALUES (?, '2026-01-02', 4096, 1, 'browser', ?)")
      .run('C'.repeat(22), new Uint8Array(777));
    // Stands in for a full disk or a crash during the rewrite of every tip row.
    sqlite.exec("CREATE TRIGGER cut_off BEFORE UPDATE ON tips BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    await old.destroy();

    await expect(openDatabase(file)).rejects.toThrow(/0007-tip-list-index/);
    const after = new Database(file);
    expect(after.prepare('SELECT name FROM pragma_table_info(?)').all('tips').map((r: any) => r.name)).not.toContain('ciphertext_bytes');
    after.exec('DROP TRIGGER cut_off');
    after.close();

    const db = await openDatabase(file);
    try {
      expect((await new TipStore(db).list({ limit: 10 })).tips.map((t) => [t.id, t.size])).toEqual([['C'.repeat(22), 777]]);
    } finally {
      await db.destroy();
    }
  });

  it('fills in the ciphertext length of tips stored before it, which the list then shows', async () => {
    const file = join(dir, 'old.db');
    const sqlite = new Database(file);
    const old = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
    const { error } = await new Migrator({ db: old, provider: migrationProvider }).migrateTo('0005-uploads');
    expect(error).toBeUndefined();
    sqlite
      .prepare("INSERT INTO tips (id, received_day, size_bucket, manifest_version, via, ciphertext) VALUES (?, '2026-01-02', 4096, 1, 'browser', ?)")
      .run('B'.repeat(22), new Uint8Array(1234));
    await old.destroy();

    const db = await openDatabase(file);
    try {
      const page = await new TipStore(db).list({ limit: 10 });
      expect(page.tips.map((t) => [t.id, t.size])).toEqual([['B'.repeat(22), 1234]]);
    } finally {
      await db.destroy();
    }
  });
});
