/**
 * Limits wrong secrets per journalist token, without looking at who is asking
 * and without ever refusing a right one.
 *
 * The journalist API authenticates first (server/journalist/api.ts); only a
 * failure reaches this counter, and only when the token's id (its public
 * part) belongs to an existing token: after `limit` wrong secrets for that id
 * within a minute, further wrong ones are answered 429 instead of 401 until
 * the minute is over. A valid token is served whatever the counter says, a
 * token id nobody has can't be counted (so a flood of random ids neither
 * fills this map nor pushes a real id's count out of it), and there is no
 * global counter: a flooder can't lock every journalist out, as the old
 * global backoff let anyone do with 200 bad tokens a minute.
 *
 * A 256-bit secret can't be guessed anyway; the 429 makes a targeted guesser
 * visible (to the journalist's tool and in the counts) rather than stopping
 * them, and it costs a flooder the same as a 401 costs the server: one
 * primary-key lookup and one SHA-256.
 *
 * @module
 * @example
 * const throttle = new AuthThrottle();
 * const signIn = await journalists.signIn(token);
 * if (!signIn.journalist) {
 *   if (signIn.knownTokenId && throttle.failed(signIn.knownTokenId)) throw 429;
 *   throw 401;
 * }
 */
import { ApiError } from '../http/api-error.ts';

const WINDOW_MS = 60_000;
/** Wrong secrets per existing token id per minute before the answer becomes 429. */
export const PER_TOKEN_FAILURES = 10;

export class AuthThrottle {
  /** Existing token ids with recent failures: bounded by the number of tokens the newsroom issued. */
  private readonly perId = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly now: () => number = () => Date.now(),
    private readonly limit: number = PER_TOKEN_FAILURES,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a whole number ≥ 1');
  }

  /**
   * Counts a wrong secret for `tokenId`, which must be an existing token's id.
   * Returns true when that id has now failed more than `limit` times this
   * minute (answer 429).
   */
  failed(tokenId: string): boolean {
    const now = this.now();
    this.forgetOld(now);
    const entry = this.perId.get(tokenId);
    if (!entry) {
      this.perId.set(tokenId, { count: 1, since: now });
      return false;
    }
    entry.count++;
    return entry.count > this.limit;
  }

  /** The 429 answer. */
  static tooMany(): ApiError {
    return new ApiError(429, 'too-many-attempts', 'Too many failed sign-ins with this token. Wait a minute and check the token.');
  }

  private forgetOld(now: number): void {
    for (const [id, entry] of this.perId) if (now - entry.since > WINDOW_MS) this.perId.delete(id);
  }
}
