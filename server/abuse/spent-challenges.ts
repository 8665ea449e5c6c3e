/**
 * The list of proof-of-work challenges already answered, so none pays for two
 * submissions. A row is a challenge's random id and the UTC day its expiry
 * falls on, never a time (DESIGN: the server keeps days, not times): a seized
 * database shows how many challenges were spent per day, not when.
 *
 * Why a day is enough: a challenge is refused as expired after its `expires`
 * second (crypto/proof-of-work.ts), which lies within its row's day, so the
 * row is needed exactly until that day is over. {@link sweepSpentChallenges}
 * deletes the rows of earlier days; it runs from the guard (at most once a
 * minute, when a submission comes in) and from `tipline admin maintain`.
 *
 * @module
 * @example
 * import { spendChallenge, sweepSpentChallenges } from './spent-challenges.ts';
 * if (!(await spendChallenge(trx, payload))) throw replayed;   // inside the tip's transaction
 * await sweepSpentChallenges(db, utcDay());                    // → rows deleted
 */
import { isDay, utcDay } from '../../crypto/day.ts';
import type { TiplineDb } from '../db/open-database.ts';

/** The UTC day a challenge expiring at `expires` (Unix seconds) is remembered under. */
export function spentChallengeDay(expires: number): string {
  if (!Number.isSafeInteger(expires) || expires < 0) throw new RangeError('expires must be Unix seconds');
  return utcDay(new Date(expires * 1000));
}

/**
 * Records a challenge as spent. Returns false when it already was (a replay),
 * on this instance or another on the same database: the primary key decides.
 */
export async function spendChallenge(db: TiplineDb, challenge: { id: string; expires: number }): Promise<boolean> {
  const inserted = await db
    .insertInto('spent_challenges')
    .values({ id: challenge.id, day: spentChallengeDay(challenge.expires) })
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0;
}

/**
 * Deletes the challenges that expired before `today` (YYYY-MM-DD, UTC): they
 * are refused as expired anyway, so their row no longer matters. Returns how
 * many were deleted.
 */
export async function sweepSpentChallenges(db: TiplineDb, today: string): Promise<number> {
  if (!isDay(today)) throw new RangeError(`not a YYYY-MM-DD day: ${String(today)}`);
  const r = await db.deleteFrom('spent_challenges').where('day', '<', today).executeTakeFirst();
  return Number(r.numDeletedRows);
}
