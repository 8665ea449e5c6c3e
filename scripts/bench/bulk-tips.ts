/**
 * Fills a stopped server's database with tips quickly, for the sections that
 * need many stored tips (scale, journalist): few, large transactions, statements
 * prepared once, rows shaped exactly as TipStore.add writes them (a conversation
 * per tip, days spread over the last weeks, the current manifest's desk).
 * The SQL comes from Kysely's compiler over the schema types, not from strings.
 *
 * Loading is not what is measured, so it skips what makes the server's writes
 * durable (no journal, no fsync per commit), then flushes the file once at
 * the end so the load doesn't leak into what is timed afterwards.
 *
 * @example
 * const { cursors } = await bulkInsertTips(dbFile, { count: 100_000, ciphertext: () => bytes });
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type Insertable } from 'kysely';
import { randomBytes, randomId } from '../../crypto/bytes.ts';
import { threadIdOf } from '../../crypto/codename.ts';
import { addDays, utcDay } from '../../crypto/day.ts';
import { bucketFor } from '../../crypto/padding.ts';
import type { Database } from '../../server/db/schema.ts';
import { ManifestStore } from '../../server/store/manifest-store.ts';

/** Tips arrive over this many days; retention (90 days by default) keeps them all. */
const SPREAD_DAYS = 60;
/** Rows per transaction: their pages (about 6 KiB a tip) fit the page cache set below. */
const BATCH = 50_000;
/** How many `${day}.${id}` cursors to hand back, picked uniformly at random. */
const CURSOR_SAMPLE = 1000;

export type BulkResult = { cursors: string[]; seconds: number };

export async function bulkInsertTips(dbFile: string, o: { count: number; ciphertext: (i: number) => Uint8Array }): Promise<BulkResult> {
  const started = performance.now();
  const sqlite = new BetterSqlite3(dbFile);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const cursors: string[] = [];
  try {
    const latest = await new ManifestStore(db).latest();
    if (!latest) throw new Error('the newsroom has no manifest');
    const manifestVersion = latest.manifest.version;
    const desk = latest.manifest.desks.length === 1 ? latest.manifest.desks[0]!.id : null;
    sqlite.pragma('journal_mode = OFF');
    sqlite.pragma('synchronous = OFF');
    sqlite.pragma('cache_size = -1000000');
    const today = utcDay();
    const insertThread = prepareInsert(sqlite, db, 'threads', { id: '', created_day: '', next_seq: 2, desk });
    const insertTip = prepareInsert(sqlite, db, 'tips', {
      id: '',
      received_day: '',
      size_bucket: 0,
      manifest_version: manifestVersion,
      via: 'browser',
      ciphertext: new Uint8Array(0),
      ciphertext_bytes: 0,
      thread_id: '',
      kind: 'tip',
      seq: 1,
      desk,
    });
    // Transactions of BATCH rows: one giant transaction outgrows the page cache, and
    // SQLite then spills and re-reads pages one at a time (measured: 1M tips loaded at
    // less than half the rate of 100k).
    const insertBatch = sqlite.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const day = addDays(today, -(i % SPREAD_DAYS));
        const thread = threadIdOf(randomBytes(32));
        const ciphertext = o.ciphertext(i);
        const id = randomId();
        insertThread({ id: thread, created_day: day, next_seq: 2, desk });
        insertTip({ id, received_day: day, size_bucket: bucketFor(ciphertext.length), manifest_version: manifestVersion, via: 'browser', ciphertext, ciphertext_bytes: ciphertext.length, thread_id: thread, kind: 'tip', seq: 1, desk });
        // Reservoir sampling: every tip equally likely to be a cursor.
        if (cursors.length < CURSOR_SAMPLE) cursors.push(`${day}.${id}`);
        else {
          const j = Math.floor(Math.random() * (i + 1));
          if (j < CURSOR_SAMPLE) cursors[j] = `${day}.${id}`;
        }
      }
    });
    for (let from = 0; from < o.count; from += BATCH) insertBatch(from, Math.min(o.count, from + BATCH));
    sqlite.pragma('journal_mode = WAL');
  } finally {
    await db.destroy();
  }
  const fd = openSync(dbFile, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { cursors, seconds: (performance.now() - started) / 1000 };
}

/**
 * Kysely compiles an insert of `sample` once; the statement is prepared once and
 * each row's values are passed in the sample's key order, which is the order
 * the compiled SQL names its columns in.
 */
function prepareInsert<T extends 'threads' | 'tips'>(sqlite: BetterSqlite3.Database, db: Kysely<Database>, table: T, sample: Insertable<Database[T]>): (row: Insertable<Database[T]>) => void {
  const compiled = db.insertInto(table).values(sample as never).compile();
  const columns = Object.keys(sample) as (keyof Insertable<Database[T]>)[];
  if (compiled.parameters.length !== columns.length) throw new Error(`cannot prepare the insert into ${table}`);
  const statement = sqlite.prepare(compiled.sql);
  return (row) => void statement.run(...columns.map((c) => row[c]));
}
