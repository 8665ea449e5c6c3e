/**
 * The no-JavaScript budgets' refusals, written down per UTC day and budget so
 * that `tipline admin doctor` can tell the operator, days later, that real
 * sources may have read "the tip line is busy" (server/admin/doctor.ts). The
 * daily line (daily-counts.ts) says the same, but only in the log.
 *
 * Refusals are counted in memory and added to the table in one statement per
 * day and budget at most once a minute (and at shutdown), never one write per
 * refused post: a flood of refused posts must not become a flood of writes.
 * A row is a day, a budget and a count, never a time. Rows older than
 * {@link KEEP_DAYS} days are deleted on the first flush of each day.
 *
 * Counts not yet flushed are lost if the process is killed (SIGKILL, a power
 * cut): at most a minute's worth, and the daily line is not affected.
 *
 * @module
 * @example
 * const refusals = new NoJsRefusals(db);
 * const stop = refusals.start();   // flushes every minute
 * refusals.add('tip');             // memory only
 * await stop();                    // at shutdown: one last flush
 */
import { sql } from 'kysely';
import { addDays, utcDay } from '../../crypto/day.ts';
import type { TiplineDb } from '../db/open-database.ts';

/** The two no-JavaScript budgets: first tips, and follow-ups from a logged-in source. */
export type NoJsKind = 'tip' | 'followup';

/** Days of refusals kept (today included); doctor looks at the last 7. */
export const KEEP_DAYS = 14;

export class NoJsRefusals {
  /** `day kind` → refusals not yet written. */
  private pending = new Map<string, number>();
  /** The day old rows were last deleted on. */
  private sweptOn: string | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly db: TiplineDb,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Counts one refusal on today's row, in memory. */
  add(kind: NoJsKind): void {
    const key = `${utcDay(this.clock())} ${kind}`;
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
  }

  /**
   * Adds what was counted to the table (one upsert per day and budget) and,
   * once a day, deletes rows older than {@link KEEP_DAYS} days. Does nothing
   * at all on a quiet minute. On failure the counts are kept for the next try.
   */
  flush(): Promise<void> {
    // One after the other, so a flush at shutdown also writes what came in while the minute's flush ran.
    const next = (this.flushing ?? Promise.resolve()).catch(() => {}).then(() => this.write());
    this.flushing = next;
    return next;
  }

  /** Flushes every `everyMs`; the returned function stops that and flushes one last time. */
  start(everyMs = 60_000): () => Promise<void> {
    const timer = setInterval(() => void this.flush().catch(() => {}), everyMs);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await this.flush();
    };
  }

  private async write(): Promise<void> {
    const today = utcDay(this.clock());
    const batch = [...this.pending].map(([key, refused]) => {
      const [day, kind] = key.split(' ') as [string, string];
      return { day, kind, refused };
    });
    if (batch.length === 0 && this.sweptOn === today) return;
    this.pending = new Map();
    try {
      if (batch.length) {
        await this.db
          .insertInto('no_js_refusals')
          .values(batch)
          .onConflict((oc) => oc.columns(['day', 'kind']).doUpdateSet({ refused: sql<number>`no_js_refusals.refused + excluded.refused` }))
          .execute();
      }
      if (this.sweptOn !== today) {
        await this.db.deleteFrom('no_js_refusals').where('day', '<', addDays(today, 1 - KEEP_DAYS)).execute();
        this.sweptOn = today;
      }
    } catch (e) {
      // Put the counts back (with any counted meanwhile): the next flush writes them.
      for (const { day, kind, refused } of batch) this.pending.set(`${day} ${kind}`, (this.pending.get(`${day} ${kind}`) ?? 0) + refused);
      throw e;
    }
  }
}

/** The days (YYYY-MM-DD, oldest first) and posts refused per budget, over the `days` UTC days up to `today`. */
export async function recentRefusals(db: TiplineDb, today: string, days: number): Promise<Record<NoJsKind, { day: string; refused: number }[]>> {
  const rows = await db
    .selectFrom('no_js_refusals')
    .select(['day', 'kind', 'refused'])
    .where('day', '>=', addDays(today, 1 - days))
    .where('day', '<=', today)
    .where('refused', '>', 0)
    .orderBy('day')
    .execute();
  const out: Record<NoJsKind, { day: string; refused: number }[]> = { tip: [], followup: [] };
  for (const r of rows) if (r.kind === 'tip' || r.kind === 'followup') out[r.kind].push({ day: r.day, refused: Number(r.refused) });
  return out;
}
