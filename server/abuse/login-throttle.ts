/**
 * Codename logins, limited per conversation: each conversation may log in
 * `perHour` times in a burst, then one more every `60 / perHour` minutes.
 * Keyed on the conversation (the thread id the codename derives), never on
 * a client: one flooding their own codename slows only themselves, and a
 * source who logs in a few times a day never meets it. Unknown codenames
 * reach no conversation and are not counted here (guessing a codename is
 * hopeless anyway: 12 words from 2048, about 2¹²⁸).
 *
 * Memory: one small entry per conversation that logged in within the last
 * hour; entries whose budget is whole again are dropped.
 *
 * @module
 * @example
 * const logins = new LoginThrottle({ perHour: 10 });
 * if (!logins.take(threadId)) throw new ApiError(429, 'too-many-logins', '…');
 */

type Budget = { tokens: number; last: number };

export class LoginThrottle {
  /** Least recently used first, so the sweep stops at the first entry still short of a full budget. */
  private readonly budgets = new Map<string, Budget>();
  private readonly refillMs: number;

  constructor(
    private readonly o: { perHour: number },
    private readonly now: () => number = () => Date.now(),
  ) {
    if (!Number.isFinite(o.perHour) || o.perHour < 1) throw new RangeError('perHour must be at least 1');
    this.refillMs = 3_600_000 / o.perHour;
  }

  /** Counts one login on `threadId`; false when its budget is spent (refuse the login). */
  take(threadId: string): boolean {
    const now = this.now();
    this.sweep(now);
    const b = this.budgets.get(threadId) ?? { tokens: this.o.perHour, last: now };
    b.tokens = Math.min(this.o.perHour, b.tokens + (now - b.last) / this.refillMs);
    b.last = now;
    this.budgets.delete(threadId);
    this.budgets.set(threadId, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Minutes until `threadId` may log in again (0 if it may now), for the message. */
  minutesUntilNext(threadId: string): number {
    const b = this.budgets.get(threadId);
    if (!b) return 0;
    const tokens = Math.min(this.o.perHour, b.tokens + (this.now() - b.last) / this.refillMs);
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * this.refillMs) / 60_000);
  }

  private sweep(now: number): void {
    for (const [id, b] of this.budgets) {
      if (now - b.last < (this.o.perHour - b.tokens) * this.refillMs) break;
      this.budgets.delete(id);
    }
  }
}
