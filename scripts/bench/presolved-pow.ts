/**
 * Proof-of-work answers solved before a load run, so the run measures the
 * server's checking (one hash, one HMAC, one row), not the client's solving.
 *
 * The challenges come from a PowGuard on the server's own database: every
 * instance on a database shares its HMAC secret, so the server accepts them as
 * its own. They are issued at the low difficulty the bench server runs with and
 * solved here with Node's native SHA-256 (the browser's solver, with WebCrypto,
 * would take minutes for tens of thousands).
 *
 * @example
 * const answers = await presolvePow({ dbFile, purpose: 'tip', count: 1000, difficulty: BENCH_POW_DIFFICULTY });
 */
import { createHash } from 'node:crypto';
import { attempt, leadingZeroBits, type PowPurpose } from '../../crypto/proof-of-work.ts';
import { DEFAULT_POW, PowGuard, WINDOW_MINUTES } from '../../server/abuse/pow-guard.ts';
import { openDatabase } from '../../server/db/open-database.ts';

export type PowAnswer = { challenge: string; nonce: string };

/**
 * The difficulty bench servers run with. Checking an answer costs the server the
 * same at any difficulty (one hash); a low one keeps solving tens of thousands quick.
 */
export const BENCH_POW_DIFFICULTY = 2;

/**
 * The difficulty to pre-solve at so that every answer still counts after
 * `requests` submissions: the server raises its difficulty with the rate of
 * accepted submissions (PowGuard.currentDifficulty) and refuses an answer to a
 * challenge issued at a lower one (409 pow-too-easy), which is what a bench's
 * flood is. A harder answer than needed is accepted, and the server's cost to
 * check one is the same at any difficulty.
 */
export function floodDifficulty(requests: number): number {
  const perMinute = requests / WINDOW_MINUTES;
  const extra = perMinute > DEFAULT_POW.calmPerMinute ? Math.ceil(Math.log2(perMinute / DEFAULT_POW.calmPerMinute)) : 0;
  return Math.min(DEFAULT_POW.maxDifficulty, BENCH_POW_DIFFICULTY + extra);
}

/** `bytes`: an upload's declared size, which raises its price (uploadExtraBits in server/abuse/pow-guard.ts). */
export async function presolvePow(o: { dbFile: string; purpose: PowPurpose; count: number; difficulty: number; bytes?: number }): Promise<PowAnswer[]> {
  const db = await openDatabase(o.dbFile);
  try {
    const guard = await PowGuard.open(db, { baseDifficulty: o.difficulty });
    const answers: PowAnswer[] = [];
    for (let i = 0; i < o.count; i++) {
      const { challenge, difficulty } = await guard.issue(o.purpose, { bytes: o.bytes });
      answers.push({ challenge, nonce: solve(challenge, difficulty) });
    }
    return answers;
  } finally {
    await db.destroy();
  }
}

/** The first nonce from 0 up that meets `difficulty`; bounded, since 2^32 tries would mean a bug. */
function solve(challenge: string, difficulty: number): string {
  for (let n = 0; n < 2 ** 32; n++) {
    const nonce = String(n);
    if (leadingZeroBits(createHash('sha256').update(attempt(challenge, nonce)).digest()) >= difficulty) return nonce;
  }
  throw new Error('no answer found');
}
