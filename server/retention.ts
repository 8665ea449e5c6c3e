/**
 * Retention: tips don't live forever. Every tip, follow-up and reply older
 * than the retention period is deleted (secure delete, then a WAL checkpoint),
 * and conversations left empty go with them. A conversation an admin put on
 * hold (`admin hold`, server/admin/conversation-hold.ts) is skipped whole, its
 * old messages included, until the hold is released. README notes that SSDs
 * may keep old blocks whatever the software does.
 *
 * @example
 * await purgeExpired(db, { retentionDays: 90, today: '2026-11-28' });
 * const stop = startRetentionJob(db, { retentionDays: 90, log });
 */
import { addDays, utcDay } from '../crypto/day.ts';
import { checkpoint, type TiplineDb } from './db/open-database.ts';

export const DEFAULT_RETENTION_DAYS = 90;

export type PurgeResult = { tips: number; replies: number; threads: number };

export async function purgeExpired(db: TiplineDb, o: { retentionDays: number; today?: string }): Promise<PurgeResult> {
  if (!Number.isInteger(o.retentionDays) || o.retentionDays < 0) throw new RangeError('retentionDays must be a whole number ≥ 0');
  if (o.retentionDays === 0) return { tips: 0, replies: 0, threads: 0 }; // 0 = keep forever
  const cutoff = addDays(o.today ?? utcDay(), -o.retentionDays);
  const result = await db.transaction().execute(async (trx) => {
    const tips = await trx
      .deleteFrom('tips')
      .where('received_day', '<', cutoff)
      .where((eb) => eb.or([eb('tips.thread_id', 'is', null), eb.not(eb.exists(eb.selectFrom('threads').select('threads.id').whereRef('threads.id', '=', 'tips.thread_id').where('threads.held_day', 'is not', null)))]))
      .executeTakeFirst();
    const replies = await trx
      .deleteFrom('replies')
      .where('created_day', '<', cutoff)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('threads').select('threads.id').whereRef('threads.id', '=', 'replies.thread_id').where('threads.held_day', 'is not', null))))
      .executeTakeFirst();
    const threads = await trx
      .deleteFrom('threads')
      .where('created_day', '<', cutoff)
      .where('held_day', 'is', null)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('tips').select('tips.id').whereRef('tips.thread_id', '=', 'threads.id'))))
      .where((eb) => eb.not(eb.exists(eb.selectFrom('replies').select('replies.id').whereRef('replies.thread_id', '=', 'threads.id'))))
      .executeTakeFirst();
    return { tips: Number(tips.numDeletedRows), replies: Number(replies.numDeletedRows), threads: Number(threads.numDeletedRows) };
  });
  await checkpoint(db);
  return result;
}

/**
 * Runs {@link purgeExpired} now and then every hour, followed by `sweepBlobs`
 * (attachment files whose tip is gone, and uploads no tip claimed in time).
 * Returns a function that stops it.
 */
export function startRetentionJob(db: TiplineDb, o: { retentionDays: number; log: (line: string) => void; sweepBlobs?: () => Promise<number> }): () => void {
  const run = () =>
    purgeExpired(db, { retentionDays: o.retentionDays })
      .then(async (r) => {
        if (r.tips + r.replies + r.threads > 0) o.log(`retention: deleted ${r.tips} tip(s), ${r.replies} reply(ies), ${r.threads} conversation(s) older than ${o.retentionDays} days`);
        const blobs = (await o.sweepBlobs?.()) ?? 0;
        if (blobs > 0) o.log(`retention: deleted ${blobs} attachment file(s) no tip holds`);
      })
      .catch((e: Error) => o.log(`retention: failed (${e.name})`));
  void run();
  const timer = setInterval(run, 60 * 60 * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
