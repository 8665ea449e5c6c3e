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
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from '../../crypto/bytes.ts';
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
 * The difficulty to pre-solve the answer for the `requests`-th submission at
 * (counting from 1, with room for the ones in flight), so that it still counts
 * when it arrives: the server raises its difficulty with the rate of
 * accepted submissions (PowGuard.currentDifficulty) and refuses an answer to a
 * challenge issued at a lower one (409 pow-too-easy), which is what a bench's
 * flood is. A harder answer than needed is accepted, and the server's cost to
 * check one is the same at any difficulty.
 *
 * Callers give the first answers more room (`Math.max(i + 1, 40 * connections)`):
 * autocannon builds each connection's first request before that connection is
 * up, and a few connections start only after hundreds of tips were accepted
 * (seen: answers 37 to 49 of 50 sent after 400 to 690), so those answers
 * arrive much later than their place in line.
 */
export function floodDifficulty(requests: number): number {
  const perMinute = requests / WINDOW_MINUTES;
  const extra = perMinute > DEFAULT_POW.calmPerMinute ? Math.ceil(Math.log2(perMinute / DEFAULT_POW.calmPerMinute)) : 0;
  return Math.min(DEFAULT_POW.maxDifficulty, BENCH_POW_DIFFICULTY + extra);
}

/** `bytes`: an upload's declared size, which raises its price (uploadExtraBits in server/abuse/pow-guard.ts). */
/**
 * `difficulty`: one for all, or the difficulty of the i-th answer (from 0), for
 * a flood whose later answers must be harder (floodDifficulty).
 */
export async function presolvePow(o: { dbFile: string; purpose: PowPurpose; count: number; difficulty: number | ((i: number) => number); bytes?: number }): Promise<PowAnswer[]> {
  const db = await openDatabase(o.dbFile);
  try {
    const guards = new Map<number, PowGuard>();
    const answers: PowAnswer[] = [];
    for (let i = 0; i < o.count; i++) {
      const base = typeof o.difficulty === 'number' ? o.difficulty : o.difficulty(i);
      let guard = guards.get(base);
      if (!guard) guards.set(base, (guard = await PowGuard.open(db, { baseDifficulty: base })));
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
  // The hash state after "challenge:" is made once and cloned per try (the same bytes as attempt()):
  // noble's clone is about twice as fast here as a new node:crypto hash per try.
  const prefix = sha256.create().update(attempt(challenge, ''));
  for (let n = 0; n < 2 ** 32; n++) {
    const nonce = String(n);
    if (leadingZeroBits(prefix.clone().update(utf8.encode(nonce)).digest()) >= difficulty) return nonce;
  }
  throw new Error('no answer found');
}
