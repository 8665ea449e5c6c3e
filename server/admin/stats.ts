/**
 * `tipline admin stats`: counts per UTC day, read from the database, for an
 * operator who wants to know the line works without a log line per request.
 * It shows only what a seized database already holds (each tip's day and
 * kind, each reply's day, which tips carry attachments); no time, no id.
 *
 * @module
 * @example
 * const days = await dailyStats(db, { days: 7, today: '2026-12-06' });
 * // → [{ day: '2026-12-06', tips: 41, followUps: 7, replies: 3, attachments: 5 }, …] (newest first)
 */
import { addDays, isDay, utcDay } from '../../crypto/day.ts';
import type { TiplineDb } from '../db/open-database.ts';

export type DayStats = { day: string; tips: number; followUps: number; replies: number; attachments: number };

/** The last `days` UTC days up to `today`, newest first; days with nothing are listed too (as zeros). */
export async function dailyStats(db: TiplineDb, o: { days: number; today?: string }): Promise<DayStats[]> {
  if (!Number.isInteger(o.days) || o.days < 1 || o.days > 3660) throw new RangeError('days must be a whole number from 1 to 3660');
  const today = o.today ?? utcDay();
  if (!isDay(today)) throw new RangeError('today must be a YYYY-MM-DD day');
  const first = addDays(today, -(o.days - 1));
  const out = new Map<string, DayStats>();
  for (let i = 0; i < o.days; i++) {
    const day = addDays(today, -i);
    out.set(day, { day, tips: 0, followUps: 0, replies: 0, attachments: 0 });
  }
  const tips = await db
    .selectFrom('tips')
    .select((eb) => ['received_day', 'kind', eb.fn.countAll<number>().as('n')])
    .where('received_day', '>=', first)
    .where('received_day', '<=', today)
    .groupBy(['received_day', 'kind'])
    .execute();
  for (const r of tips) {
    const d = out.get(r.received_day);
    if (d && r.kind === 'tip') d.tips = Number(r.n);
    else if (d) d.followUps = Number(r.n);
  }
  const replies = await db
    .selectFrom('replies')
    .select((eb) => ['created_day', eb.fn.countAll<number>().as('n')])
    .where('created_day', '>=', first)
    .where('created_day', '<=', today)
    .groupBy('created_day')
    .execute();
  for (const r of replies) {
    const d = out.get(r.created_day);
    if (d) d.replies = Number(r.n);
  }
  const attachments = await db
    .selectFrom('uploads')
    .innerJoin('tips', 'tips.id', 'uploads.tip_id')
    .select((eb) => ['tips.received_day', eb.fn.countAll<number>().as('n')])
    .where('tips.received_day', '>=', first)
    .where('tips.received_day', '<=', today)
    .groupBy('tips.received_day')
    .execute();
  for (const r of attachments) {
    const d = out.get(r.received_day);
    if (d) d.attachments = Number(r.n);
  }
  return [...out.values()];
}

/** `2026-12-06: 41 tips, 7 follow-ups, 3 replies, 5 attachments` */
export function describeDay(s: DayStats): string {
  return `${s.day}: ${s.tips} tips, ${s.followUps} follow-ups, ${s.replies} replies, ${s.attachments} attachments`;
}
