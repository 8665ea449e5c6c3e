/**
 * The daily maintenance: what keeps a seized database from telling *when* or
 * *in what order* sources acted, beyond the day. `serve` runs it just after
 * each UTC midnight; `tipline admin maintain --data DIR` runs it by hand.
 *
 * 1. Retention (retention.ts), then the sweeps: uploads no tip claimed in
 *    time and blob rows no upload holds (upload-store.ts), and spent
 *    proof-of-work challenges of past days (abuse/spent-challenges.ts: the
 *    guard sweeps them only when a submission comes in), and spent
 *    no-JavaScript form tokens older than yesterday (abuse/form-tokens.ts).
 *    The no-JavaScript refusals (abuse/no-js-refusals.ts) sweep themselves.
 * 2. On SQLite, `VACUUM`: the file is rebuilt table by table in key order.
 *    Every table that holds source data is keyed by a random id (WITHOUT
 *    ROWID; attachment rows, `blob_chunks`, by a random rowid since migration
 *    0017, and VACUUM copies a rowid table in rowid order), so after it the
 *    physical place of a tip's pages (leaf and overflow pages, which were
 *    appended at the end of the file as tips arrived) follows its random id,
 *    not its arrival. Free pages are gone too.
 * 3. `PRAGMA wal_checkpoint(TRUNCATE)`: the WAL, which holds the commit order
 *    of everything since the last checkpoint (and the whole rebuilt file after
 *    VACUUM), is emptied.
 *
 * On PostgreSQL only step 1 runs (autovacuum does the rest): PostgreSQL keeps
 * `xmin` and `ctid` on every row and its own WAL, which the server can't
 * rewrite (README), and a rebuild there (`VACUUM FULL`, `CLUSTER`) would lock
 * the tables every instance uses.
 *
 * VACUUM holds the write lock for its whole run (measured by `npm run bench`,
 * section `maintain`); in `serve` it runs on the server's own connection, so
 * requests wait for it rather than fail.
 *
 * @module
 * @example
 * const r = await maintainDatabase(db, { blobs, retentionDays: 90, unclaimedUploadMs: 86_400_000 });
 * // → { retention: { tips: 0, … }, uploads: 2, challenges: 5, rebuilt: true }
 */
import { sql } from 'kysely';
import { utcDay } from '../../crypto/day.ts';
import { isPostgres } from '../db/dialect.ts';
import { checkpoint, type TiplineDb } from '../db/open-database.ts';
import { sweepSpentChallenges } from '../abuse/spent-challenges.ts';
import { sweepSpentFormTokens } from '../abuse/form-tokens.ts';
import { purgeExpired, type PurgeResult } from '../retention.ts';
import type { BlobStore } from '../uploads/blob-store.ts';
import { UploadStore } from '../uploads/upload-store.ts';

export type MaintainOptions = {
  blobs: BlobStore;
  /** Days a tip is kept (0 = forever), as `serve --retention-days`. */
  retentionDays: number;
  /** How long an upload may wait for a tip to claim it. */
  unclaimedUploadMs: number;
  /** For tests: the time the sweeps compare against. */
  now?: Date;
};

export type MaintainResult = {
  retention: PurgeResult;
  /** Uploads and blob rows swept. */
  uploads: number;
  /** Spent proof-of-work challenges of past UTC days, deleted. */
  challenges: number;
  /** Spent no-JavaScript form tokens of days before yesterday, deleted. */
  formTokens: number;
  /** True when the file was rebuilt (SQLite). */
  rebuilt: boolean;
};

export async function maintainDatabase(db: TiplineDb, o: MaintainOptions): Promise<MaintainResult> {
  if (!Number.isFinite(o.unclaimedUploadMs) || o.unclaimedUploadMs < 0) throw new RangeError('unclaimedUploadMs must be a number ≥ 0');
  const now = o.now ?? new Date();
  const retention = await purgeExpired(db, { retentionDays: o.retentionDays, today: utcDay(now) });
  const uploads = await new UploadStore(db, o.blobs).sweep(o.unclaimedUploadMs, now.getTime());
  const challenges = await sweepSpentChallenges(db, utcDay(now));
  const formTokens = await sweepSpentFormTokens(db, utcDay(now));
  if (isPostgres(db)) return { retention, uploads, challenges, formTokens, rebuilt: false };
  await sql`VACUUM`.execute(db);
  await checkpoint(db);
  return { retention, uploads, challenges, formTokens, rebuilt: true };
}

/**
 * Runs {@link maintainDatabase} at the first check after each UTC midnight
 * (checks every minute), not at start-up: a rebuild at a fixed hour times
 * nothing a source did, and a restart doesn't stall on it. Returns a function
 * that stops it.
 */
export function startDailyMaintenance(db: TiplineDb, o: Omit<MaintainOptions, 'now'> & { log: (line: string) => void; everyMs?: number; clock?: () => Date }): () => void {
  const clock = o.clock ?? (() => new Date());
  let lastDay = utcDay(clock());
  let running = false;
  const timer = setInterval(() => {
    const today = utcDay(clock());
    if (today === lastDay || running) return;
    lastDay = today;
    running = true;
    maintainDatabase(db, o)
      .then((r) => o.log(`maintenance: done (${describeMaintenance(r)})`))
      .catch((e: Error) => o.log(`maintenance: failed (${e.name})`))
      .finally(() => {
        running = false;
      });
  }, o.everyMs ?? 60_000);
  timer.unref();
  return () => clearInterval(timer);
}

/** One line for the operator: counts only. */
export function describeMaintenance(r: MaintainResult): string {
  const parts = [
    `${r.retention.tips} tip(s), ${r.retention.replies} reply(ies) and ${r.retention.threads} conversation(s) past retention deleted`,
    `${r.uploads} unclaimed upload(s) swept`,
    `${r.challenges} expired challenge(s) and ${r.formTokens} spent form token(s) deleted`,
    r.rebuilt ? 'database rebuilt and WAL emptied' : 'no rebuild on PostgreSQL',
  ];
  return parts.join(', ');
}
