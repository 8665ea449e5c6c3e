/**
 * The server's side of the proof of work: issue challenges, check answers once,
 * and raise the difficulty when submissions come faster than usual.
 *
 * Difficulty adapts to the global rate of accepted submissions (this instance's
 * count over the last 10 minutes): at or below `calmPerMinute` it is the base
 * (about a second in a laptop browser); each doubling above adds one bit, i.e.
 * doubles the work, up to `maxDifficulty`. No per-client state exists at all.
 *
 * The difficulty is signed into each challenge, and an answer is refused
 * (409 `pow-too-easy`) when the difficulty asked now is higher: answers solved
 * in a calm hour can't be stockpiled and spent in a flood. An upload's
 * challenge asks one more bit per doubling of its declared size above 16 MiB
 * ({@link uploadExtraBits}), so the work grows with the disk it reserves.
 * Secrets rotate (pow-keys.ts).
 *
 * @example
 * const pow = await PowGuard.open(db, { baseDifficulty: 16 });
 * const { challenge } = await pow.issue('tip');
 * await pow.redeem({ challenge, nonce }, 'tip'); // throws ApiError 4xx unless a fresh, valid answer
 * // or, to spend it in the transaction that stores the tip:
 * const spend = pow.check({ challenge, nonce }, 'tip');
 * await db.transaction().execute(async (trx) => { await spend(trx); … });
 */
import { utcDay } from '../../crypto/day.ts';
import { MAX_DIFFICULTY, PowError, checkSolution, issueChallenge, readChallenge, type ChallengePayload, type PowPurpose } from '../../crypto/proof-of-work.ts';
import type { TiplineDb } from '../db/open-database.ts';
import { ApiError } from '../http/api-error.ts';
import { PowKeys } from './pow-keys.ts';
import { spendChallenge, sweepSpentChallenges } from './spent-challenges.ts';

/** Uploads up to this size cost the base work; each doubling above it, one more bit (twice the work). */
export const UPLOAD_BYTES_PER_BASE_WORK = 16 * 1024 * 1024;

/** Extra difficulty bits for an upload of `bytes`: the work is then about proportional to the size (within 2×). */
export function uploadExtraBits(bytes: number): number {
  if (!Number.isFinite(bytes) || bytes <= UPLOAD_BYTES_PER_BASE_WORK) return 0;
  return Math.floor(Math.log2(bytes / UPLOAD_BYTES_PER_BASE_WORK));
}

export type PowOptions = {
  /** Leading zero bits asked of a calm-time client. 0 turns the work off (tests only). */
  baseDifficulty: number;
  maxDifficulty: number;
  /** Accepted submissions per minute, across all kinds, that count as normal. */
  calmPerMinute: number;
  /** A challenge's lifetime; also how long a secret signs before it rotates. */
  ttlSeconds: number;
  clock: () => Date;
};

/** What the work buys, when its price depends on it: an upload's declared size. */
export type PowFor = { bytes?: number };

export const DEFAULT_POW: Omit<PowOptions, 'clock'> = { baseDifficulty: 16, maxDifficulty: 24, calmPerMinute: 10, ttlSeconds: 600 };

export const WINDOW_MINUTES = 10;
const CLEANUP_EVERY_SECONDS = 60;

/** Spends a checked answer with `db` (the caller's transaction, or the database itself). Throws ApiError 409 for a replay. */
export type PowSpend = (db: TiplineDb) => Promise<void>;

export class PowGuard {
  /** Accepted submissions per minute over the last WINDOW_MINUTES: [minute, count]. */
  private readonly recent: [number, number][] = [];
  /** Unix seconds after which spent challenges of past days are deleted again. */
  private nextCleanup = 0;

  private constructor(
    private readonly db: TiplineDb,
    private readonly keys: PowKeys,
    private readonly options: PowOptions,
  ) {}

  /** Loads (or, the first time, creates) the rotating HMAC secrets shared by every instance on this database. */
  static async open(db: TiplineDb, options: Partial<PowOptions> = {}): Promise<PowGuard> {
    const o: PowOptions = { ...DEFAULT_POW, clock: () => new Date(), ...options };
    const keys = await PowKeys.open(db, { rotateSeconds: o.ttlSeconds, clock: o.clock });
    return new PowGuard(db, keys, o);
  }

  currentDifficulty(): number {
    const { baseDifficulty, maxDifficulty, calmPerMinute } = this.options;
    if (baseDifficulty === 0) return 0;
    const perMinute = this.recentCount() / WINDOW_MINUTES;
    const extra = perMinute > calmPerMinute ? Math.ceil(Math.log2(perMinute / calmPerMinute)) : 0;
    return Math.min(maxDifficulty, baseDifficulty + extra);
  }

  /** The difficulty an answer for `purpose` (and, for an upload, its size) must have been issued at now. */
  requiredDifficulty(purpose: PowPurpose, what: PowFor = {}): number {
    const base = this.currentDifficulty();
    if (base === 0) return 0;
    return Math.min(MAX_DIFFICULTY, base + (purpose === 'upload' ? uploadExtraBits(what.bytes ?? 0) : 0));
  }

  async issue(purpose: PowPurpose, what: PowFor = {}): Promise<{ challenge: string; difficulty: number; expiresIn: number }> {
    // An upload challenge asked without a size gets the base price, and then pays only for an upload of up to 16 MiB.
    const difficulty = this.requiredDifficulty(purpose, what);
    const key = await this.keys.signing();
    const challenge = issueChallenge(key.secret, { key: key.id, purpose, difficulty, ttlSeconds: this.options.ttlSeconds, now: this.options.clock() });
    return { challenge, difficulty, expiresIn: this.options.ttlSeconds };
  }

  /**
   * Accepts an answer once. Throws an ApiError (400/403/409/410) with a clear
   * message otherwise. Counts the submission towards the rate.
   */
  async redeem(pow: { challenge: string; nonce: string } | undefined, purpose: PowPurpose, what: PowFor = {}): Promise<void> {
    await this.check(pow, purpose, what)(this.db);
  }

  /**
   * {@link redeem} in two steps: checks the answer now (throwing the same
   * ApiErrors) and returns the spend, to run in the transaction that stores
   * what the work paid for. A tip then costs one commit (one fsync), not two,
   * and an answer is spent exactly when its tip is stored.
   */
  check(pow: { challenge: string; nonce: string } | undefined, purpose: PowPurpose, what: PowFor = {}): PowSpend {
    if (this.options.baseDifficulty === 0 && !pow) return async () => this.count();
    if (!pow) throw new ApiError(400, 'pow-required', 'A proof of work is required: get a challenge from POST /api/v1/challenge and solve it.');
    const now = this.options.clock();
    let payload: ChallengePayload;
    try {
      const secret = this.keys.find(readChallenge(pow.challenge).key);
      if (!secret) throw new PowError('forged', 'the challenge was not signed by a live secret');
      payload = checkSolution(secret, pow.challenge, pow.nonce, { purpose, now });
    } catch (e) {
      if (!(e instanceof PowError)) throw e;
      if (e.code === 'expired') throw new ApiError(410, 'pow-expired', 'The proof of work has expired. Please try again.');
      if (e.code === 'forged') throw new ApiError(403, 'pow-forged', 'The proof-of-work challenge was not issued by this server, or is too old. Please try again.');
      throw new ApiError(400, `pow-${e.code}`, 'The proof of work is not a valid answer to the challenge.');
    }
    // After the HMAC: the signed difficulty is the one the server asked when it issued the challenge.
    if (payload.difficulty < this.requiredDifficulty(purpose, what)) {
      throw new ApiError(409, 'pow-too-easy', 'The tip line asks for more work now than when this proof of work began. Please try again.');
    }
    return async (db) => {
      await this.forgetExpired(db, now);
      if (!(await spendChallenge(db, payload))) throw new ApiError(409, 'pow-replayed', 'This proof of work was already used. Please try again.');
      this.count();
    };
  }

  /**
   * Deletes spent challenges of past days, at most once a minute: the table
   * has no index on `day`, so this is a scan, and under a flood (when the
   * table is biggest) one per submission would cost more than the rest. Rows
   * are kept by day (spent-challenges.ts), so this frees them soon after UTC
   * midnight even on a line where `admin maintain` doesn't run.
   */
  private async forgetExpired(db: TiplineDb, now: Date): Promise<void> {
    const nowSeconds = Math.floor(now.getTime() / 1000);
    if (nowSeconds < this.nextCleanup) return;
    this.nextCleanup = nowSeconds + CLEANUP_EVERY_SECONDS;
    await sweepSpentChallenges(db, utcDay(now));
  }

  private minute(): number {
    return Math.floor(this.options.clock().getTime() / 60_000);
  }

  private count(): void {
    const m = this.minute();
    const last = this.recent.at(-1);
    if (last && last[0] === m) last[1]++;
    else this.recent.push([m, 1]);
    while (this.recent.length > 0 && this.recent[0]![0] <= m - WINDOW_MINUTES) this.recent.shift();
  }

  private recentCount(): number {
    const cutoff = this.minute() - WINDOW_MINUTES;
    return this.recent.filter(([m]) => m > cutoff).reduce((n, [, c]) => n + c, 0);
  }
}
